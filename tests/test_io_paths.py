"""README's ``toolkit.load("data/seed_thread.txt")`` works from any directory (the bundled-data fallback of
the command line applies in Python too), and a missing file's error says where it was looked for."""

from __future__ import annotations

from pathlib import Path

import pytest

import toolkit
from toolkit.io import LoadError, load_source
from toolkit.io.paths import PROJECT_ROOT, resolve_data_path


def test_readme_load_works_outside_the_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    frame = toolkit.load("data/seed_thread.txt")
    assert frame.height == 13 and frame["reply_depth"].max() >= 1
    assert load_source("data/reddit_sample_*.json").frame.height > 0  # a glob falls back too


def test_a_file_of_ones_own_wins_over_the_bundled_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "seed_thread.txt").write_text("My post\nfirst comment\nsecond comment\n")
    assert resolve_data_path("data/seed_thread.txt") == Path("data/seed_thread.txt")
    assert toolkit.load("data/seed_thread.txt", post_lines=1).height == 3


def test_no_such_file_says_where_it_looked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LoadError, match="no such file") as info:
        toolkit.load("data/my_thread.txt")
    message = str(info.value)
    assert str(tmp_path) in message and str(PROJECT_ROOT / "data" / "my_thread.txt") in message
    with pytest.raises(LoadError, match="no file matches") as info:
        load_source("data/nothing_*.json")
    assert str(tmp_path) in str(info.value) and str(PROJECT_ROOT) in str(info.value)
