"""The plain-text thread loader, on the bundled seed thread and on hand-written threads."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from toolkit.io import LoadError, load_source
from toolkit.threads import add_tree_columns


def test_seed_thread(repo_root: Path) -> None:
    result = load_source(repo_root / "data" / "seed_thread.txt")
    frame = add_tree_columns(result.frame)
    assert result.rows_in == 13 and result.rejects.height == 0
    post = frame.row(0, named=True)
    assert post["is_post"] and post["reply_depth"] == 0 and post["parent_id"] is None
    assert post["text"].startswith("Russia’s president and Kim Jong Un")
    comments = frame.filter(~pl.col("is_post"))
    assert comments.height == 12
    assert comments["removed"].to_list() == [True, False, True, False, False, True] + [False] * 6
    assert comments.filter(pl.col("removed"))["text"].null_count() == 3
    assert comments["text"][1].startswith("The US is an unreliable security partner")
    assert set(comments["structure"].to_list()) == {"flat"}
    assert set(comments["reply_depth"].to_list()) == {1}
    assert comments["source_position"].to_list() == list(range(1, 13))


def test_seed_matches_shared_copy(repo_root: Path, shared_data: Path) -> None:
    assert (repo_root / "data" / "seed_thread.txt").read_bytes() == (shared_data / "seed_thread.txt").read_bytes()


def write(tmp_path: Path, text: str | bytes, name: str = "t.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_indentation_and_markers_give_depth(tmp_path: Path) -> None:
    text = "Title\nBody\nfirst\n  reply to first\n    reply to reply\nsecond\n> marker reply to second\n"
    frame = add_tree_columns(load_source(write(tmp_path, text), post_lines=2).frame)
    assert frame["reply_depth"].to_list() == [0, 1, 2, 3, 1, 2]
    assert frame["parent_id"].to_list() == [None, "t", "t-1", "t-2", "t", "t-4"]
    assert frame["text"][3] == "reply to reply"
    assert set(frame["structure"].to_list()) == {"tree"}


def test_placeholders_become_flags(tmp_path: Path) -> None:
    text = "Title\nDeleted by creator\n[removed]\n[deleted]\nok\n"
    frame = load_source(write(tmp_path, text), post_lines=1).frame
    assert frame["deleted"].to_list() == [False, True, False, True, False]
    assert frame["removed"].to_list() == [False, False, True, False, False]
    assert frame["text"].to_list()[1:] == [None, None, None, "ok"]


def test_bad_lines_are_rejected_and_counted(tmp_path: Path) -> None:
    path = write(tmp_path, b"Title\nfine\n\xff\xfe broken\n      jumps three levels\n")
    result = load_source(path, post_lines=1)
    assert result.rows_in == result.frame.height + result.rejects.height == 4
    assert result.rejects.select("line", "field").rows() == [(3, "text"), (4, "depth")]
    assert str(path) in result.rejects["file"][0]
    with pytest.raises(LoadError, match=r"t\.txt, line 3, field 'text'"):
        load_source(path, post_lines=1, strict=True)


def test_whole_file_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no such file"):
        load_source(tmp_path / "missing.txt")
    with pytest.raises(LoadError, match="empty.txt: the file holds no post"):
        load_source(write(tmp_path, "\n\n", "empty.txt"))
    with pytest.raises(LoadError, match="unknown format 'nope'"):
        load_source(write(tmp_path, "x"), format="nope")
    with pytest.raises(LoadError, match="cannot tell the format"):
        load_source(write(tmp_path, "x", "thread.weird"))
