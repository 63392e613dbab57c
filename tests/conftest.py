"""Shared fixtures: paths to bundled and shared data, and an isolated environment (no real caches)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from fake_lemmy import lemmy  # noqa: F401 (the fake Lemmy server fixture, for the Lemmy tests)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def pytest_configure(config: pytest.Config) -> None:
    """Refuse ``--dist loadgroup`` where it would not group (pytest 9.2 with pytest-xdist 3.8, pytest-xdist#1386):
    each worker would start its own SLURM cluster and wait for the other's whole session to end."""
    if config.getoption("dist", "no") != "loadgroup" or pytest.version_tuple[:2] < (9, 2):
        return
    from importlib.metadata import version

    if tuple(int(part) for part in version("pytest-xdist").split(".")[:2]) <= (3, 8):
        raise pytest.UsageError(f"pytest {pytest.__version__} with pytest-xdist {version('pytest-xdist')}: --dist "
                                "loadgroup does not group tests (pytest-xdist#1386); install the versions "
                                "pyproject.toml names (pip install -e '.[dev]')")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} not present (CI lays ../shared beside the clone)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Score cache and torch hub dir in a per-session temp dir: tests never see a user's real weights."""
    base = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(base / "score-cache"))
    monkeypatch.setenv("TORCH_HOME", str(base / "torch-home"))
