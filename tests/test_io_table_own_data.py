"""A researcher's own table, first try (issue 18): a table without text stops with the mapping to write."""

from __future__ import annotations

from pathlib import Path

import pytest

from toolkit.io import load_source
from toolkit.io.base import LoadError
from toolkit.io.table import read_table

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
