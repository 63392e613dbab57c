"""Loaders: one module per source format, each returning a :class:`LoadResult` of canonical source columns."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

from toolkit.io.base import DETECTORS, LOADERS, LoadError, LoadResult, Rejects, register

__all__ = ["LoadError", "LoadResult", "Rejects", "detect_format", "load_source", "register", "formats"]


def _import_loaders() -> None:
    """Import every module of this package so that its ``@register`` calls run."""
    for info in pkgutil.iter_modules(__path__):
        if info.name != "base":
            importlib.import_module(f"{__name__}.{info.name}")


def formats() -> list[str]:
    """The names accepted as ``format=``."""
    _import_loaders()
    return sorted(LOADERS)


def detect_format(path: str | Path) -> str:
    """The single format whose detector accepts ``path``; an error naming the candidates otherwise."""
    _import_loaders()
    path = Path(path)
    if not path.exists():
        raise LoadError(path, "no such file or directory")
    matches = []
    for name, detect in DETECTORS:
        try:
            if detect(path):
                matches.append(name)
        except (OSError, ValueError):
            continue
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise LoadError(path, f"cannot tell the format; pass format=... (one of: {', '.join(formats())})")
    raise LoadError(path, f"ambiguous format ({', '.join(matches)}); pass format=...")


def load_source(path: str | Path, format: str | None = None, **options: Any) -> LoadResult:
    """Run the loader for ``format`` (auto-detected when None) on ``path``."""
    _import_loaders()
    name = format or detect_format(path)
    if name not in LOADERS:
        raise LoadError(path, f"unknown format {name!r}; known formats: {', '.join(sorted(LOADERS))}", field="format")
    if not Path(path).exists():
        raise LoadError(path, "no such file or directory")
    try:
        return LOADERS[name](path, **options)
    except TypeError as err:
        if "keyword argument" in str(err):
            raise LoadError(path, f"loader {name!r} does not take that option: {err}", field="options") from err
        raise
