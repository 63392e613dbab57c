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


HEAVY_FIRST = ("slurm", "browser", "wheel", "notebooks", "slow")  # the tiers, longest tests first


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The heavy tiers first, each in file order: pytest-xdist hands tests out in collection order, so the long
    ones start at once and the many short ones fill the end, and the workers finish together."""
    def tier(item: pytest.Item) -> int:
        return next((i for i, mark in enumerate(HEAVY_FIRST) if item.get_closest_marker(mark)), len(HEAVY_FIRST))

    items.sort(key=tier)


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
