"""A project's own experiment files: ``./experiments/NAME.yaml`` runs as ``toolkit +experiment=NAME``.

Hydra looks for the ``experiment`` group in folders named ``experiment/`` on its search path; a project keeps
its files in ``experiments/`` (as this repository does). This config source serves the working directory's
``experiments/`` as the ``experiment`` group (and nothing else), and the search-path plugin puts it first, so
a project's own file wins over a shipped experiment of the same name. Registered by :mod:`toolkit.cli.app`.
"""

from __future__ import annotations

import os

from hydra.core.config_search_path import ConfigSearchPath
from hydra.core.object_type import ObjectType
from hydra.core.plugins import Plugins
from hydra.plugins.config_source import ConfigResult
from hydra.plugins.search_path_plugin import SearchPathPlugin

from hydra._internal.core_plugins.file_config_source import FileConfigSource  # isort: skip

GROUP, FOLDER = "experiment", "experiments"
SCHEME = "toolkit-experiments"


def folder_path(config_path: str) -> str | None:
    """The path under the project folder for a path in Hydra's ``experiment`` group (None: another group).

    >>> folder_path("experiment/mystudy.yaml"), folder_path("experiment"), folder_path("dataset/file.yaml")
    ('experiments/mystudy.yaml', 'experiments', None)
    """
    if config_path == GROUP or config_path.startswith(GROUP + "/"):
        return FOLDER + config_path[len(GROUP):]
    return None


class ProjectExperiments(FileConfigSource):
    """A folder's ``experiments/`` as Hydra's ``experiment`` group (search path ``toolkit-experiments://DIR``)."""

    @staticmethod
    def scheme() -> str:
        return SCHEME

    def available(self) -> bool:
        return True  # a project without experiments/ simply adds nothing (no warning)

    def load_config(self, config_path: str) -> ConfigResult:
        return super().load_config(folder_path(self._normalize_file_name(config_path)) or config_path)

    def is_group(self, config_path: str) -> bool:
        mapped = folder_path(config_path)
        return mapped is not None and super().is_group(mapped)

    def is_config(self, config_path: str) -> bool:
        mapped = folder_path(self._normalize_file_name(config_path))
        return mapped is not None and super().is_config(mapped)

    def list(self, config_path: str, results_filter: ObjectType | None) -> list[str]:
        mapped = folder_path(config_path)
        if mapped is None or not super().is_group(mapped):
            return []
        return [GROUP + item[len(FOLDER):] for item in super().list(mapped, results_filter)]


class ProjectExperimentsPath(SearchPathPlugin):
    """Puts the working directory's ``experiments/`` first on Hydra's search path (for the experiment group)."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.prepend("toolkit project experiments/", f"{SCHEME}://{os.getcwd()}")


def register() -> None:
    """Register the config source and the search-path plugin with Hydra (idempotent)."""
    Plugins.instance().register(ProjectExperiments)
    Plugins.instance().register(ProjectExperimentsPath)
