"""A researcher's own table, first try (issue 18): a table without text stops with the mapping to write,
and a blank parent in a file with a parent column is a top-level comment, not a flat one."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from toolkit.io import load_source
from toolkit.io.base import LoadError
from toolkit.io.table import read_table
from toolkit.threads import add_tree_columns

# Three threads in the user's own column names; a comment-only export (no post rows).
OWN = (
    "post_id,comment_id,parent,body,was_removed,created_utc\n"
    "p1,c1,,first top-level,0,1700000000\n"
    "p1,c2,c1,a reply,1,1700000060\n"
    "p1,c3,p1,top-level by the post id,0,1700000120\n"
    "p2,c4,,another top,0,1700000180\n"
    "p2,c5,c4,reply,0,1700000240\n"
    "p3,c6,,alone,1,1700000300\n"
)
MAPPING = {"thread_id": "post_id", "parent_id": "parent", "text": "body", "removed": "was_removed",
           "created_at": "created_utc"}


@pytest.fixture
def own(tmp_path: Path) -> Path:
    path = tmp_path / "mine.csv"
    path.write_text(OWN)
    return path


def test_no_mapping_stops_with_the_columns_and_the_mapping_to_write(own: Path) -> None:
    with pytest.raises(LoadError) as info:
        load_source(own)
    message = str(info.value)
    assert str(own) in message and "no text" in message
    assert "['post_id', 'comment_id', 'parent', 'body', 'was_removed', 'created_utc']" in message
    for line in ("columns:", "text: body", "thread_id: post_id", "parent_id: parent", "removed: was_removed",
                 "created_at: created_utc"):
        assert line in message, line


def test_partial_mapping_leaving_text_null_is_an_error(own: Path) -> None:
    partial = {"thread_id": "post_id", "parent_id": "parent"}
    with pytest.raises(LoadError, match="no text") as info:
        read_table(own, columns=partial)
    assert "text: body" in str(info.value)


def test_text_switched_off_on_purpose_still_loads(own: Path) -> None:
    frame = read_table(own, columns={**MAPPING, "text": None}).frame
    assert frame.height == 6 and frame["text"].null_count() == 6


def test_a_blank_parent_is_top_level_not_flat(own: Path) -> None:
    frame = add_tree_columns(read_table(own, columns=MAPPING).frame)
    rows = {r["comment_id"]: r for r in frame.iter_rows(named=True)}
    assert [rows[c]["parent_id"] for c in ("c1", "c4", "c6")] == ["p1", "p2", "p3"]
    assert {(c, rows[c]["structure"], rows[c]["reply_depth"]) for c in rows} == {
        ("c1", "tree", 1), ("c2", "tree", 2), ("c3", "tree", 1), ("c4", "tree", 1), ("c5", "tree", 2),
        ("c6", "tree", 1)}
    assert rows["c2"]["root_id"] == "c1" and rows["c1"]["n_replies"] == 1


def test_flat_only_without_a_parent_column(own: Path) -> None:
    mapping = {**MAPPING, "parent_id": None}
    frame = add_tree_columns(read_table(own, columns=mapping).frame)
    assert frame["structure"].unique().to_list() == ["flat"] and frame["parent_id"].null_count() == 6


def test_a_post_row_keeps_no_parent(tmp_path: Path) -> None:
    path = tmp_path / "with_post.csv"
    path.write_text("tid,id,parent,body\nt,t,,the post\nt,a,,top\nt,b,a,reply\n")
    frame = add_tree_columns(read_table(path, columns={"thread_id": "tid", "comment_id": "id",
                                                       "parent_id": "parent", "text": "body"}).frame)
    rows = {r["comment_id"]: r for r in frame.iter_rows(named=True)}
    assert rows["t"]["is_post"] and rows["t"]["parent_id"] is None and rows["t"]["structure"] == "tree"
    assert (rows["a"]["parent_id"], rows["a"]["reply_depth"], rows["a"]["structure"]) == ("t", 1, "tree")
    assert rows["t"]["n_replies"] == 1 and rows["t"]["subtree_size"] == 3
    assert pl.Series(frame["structure"]).to_list() == ["tree"] * 3


def test_a_run_on_the_table_without_a_mapping_stops(own: Path, tmp_path: Path) -> None:
    """The run itself (not only the loader): no "6 rows kept, 0 rejected" with every text null."""
    from helpers import compose_settings

    from toolkit.pipeline import run_experiment

    settings = compose_settings(["dataset=file", f"dataset.path={own}", "scorer=profanity"])
    with pytest.raises(LoadError, match="no text column") as info:
        run_experiment(settings, tmp_path / "run")
    assert "thread_id: post_id" in str(info.value)
