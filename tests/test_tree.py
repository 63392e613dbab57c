"""Tree columns on hand-built threads, values worked out by hand."""

from __future__ import annotations

import polars as pl
import pytest

from toolkit.schema import COMMENT_SCHEMA, conform
from toolkit.threads import DuplicateIdError, add_tree_columns, build_tree, dedupe_comments


def thread(rows: list[tuple], thread_id: str = "p") -> pl.DataFrame:
    """rows: (comment_id, parent_id, removed); the post is the row whose id equals thread_id."""
    return conform(
        pl.DataFrame(
            [
                {"thread_id": thread_id, "comment_id": c, "parent_id": p, "is_post": c == thread_id, "removed": r,
                 "deleted": False, "source_position": i}
                for i, (c, p, r) in enumerate(rows)
            ]
        )
    )


#   p (post)
#   ├── a (removed)
#   │   └── b
#   │       └── c
#   └── d
#       ├── e
#       └── f
TREE = [("p", None, False), ("a", "p", True), ("b", "a", False), ("c", "b", False), ("d", "p", False),
        ("e", "d", False), ("f", "d", False)]


def column(frame: pl.DataFrame, name: str) -> dict[str, object]:
    return dict(zip(frame["comment_id"], frame[name], strict=True))


def test_schema_and_order() -> None:
    frame = add_tree_columns(thread(TREE))
    assert list(frame.schema.items())[: len(COMMENT_SCHEMA)] == list(COMMENT_SCHEMA.items())
    assert frame["comment_id"].to_list() == [c for c, _, _ in TREE]


def test_hand_built_tree() -> None:
    frame = add_tree_columns(thread(TREE))
    assert column(frame, "reply_depth") == {"p": 0, "a": 1, "b": 2, "c": 3, "d": 1, "e": 2, "f": 2}
    assert column(frame, "root_id") == {"p": None, "a": "a", "b": "a", "c": "a", "d": "d", "e": "d", "f": "d"}
    assert column(frame, "n_replies") == {"p": 2, "a": 1, "b": 1, "c": 0, "d": 2, "e": 0, "f": 0}
    assert column(frame, "subtree_size") == {"p": 7, "a": 3, "b": 2, "c": 1, "d": 3, "e": 1, "f": 1}
    assert column(frame, "parent_removed") == {"p": None, "a": False, "b": True, "c": False, "d": False,
                                               "e": False, "f": False}
    assert set(frame["structure"].to_list()) == {"tree"}


def test_post_missing_parent_is_thread_gives_depth_one() -> None:
    """A dump without submissions: comments whose parent is the thread's post are top-level trees."""
    frame = add_tree_columns(thread(TREE[1:]))
    assert column(frame, "reply_depth") == {"a": 1, "b": 2, "c": 3, "d": 1, "e": 2, "f": 2}
    assert set(frame["structure"].to_list()) == {"tree"}
    assert column(frame, "parent_removed")["a"] is None


def test_orphans_and_cycles() -> None:
    rows = [("p", None, False), ("x", "missing", False), ("y", "x", True), ("z", "y", False),
            ("u", "v", False), ("v", "u", False)]
    result = build_tree(thread(rows))
    frame = result.frame
    assert column(frame, "structure") == {"p": "tree", "x": "orphan", "y": "orphan", "z": "orphan",
                                          "u": "orphan", "v": "orphan"}
    assert column(frame, "reply_depth") == {"p": 0, "x": None, "y": None, "z": None, "u": None, "v": None}
    assert column(frame, "root_id")["z"] == "x"
    assert column(frame, "parent_removed")["z"] is True
    assert column(frame, "subtree_size")["x"] == 3
    assert (result.n_orphans, result.n_in_cycles) == (1, 2)


def test_orphan_depth_from_source_hint() -> None:
    frame = thread([("p", None, False), ("x", "gone", False), ("y", "x", False)]).with_columns(
        pl.Series("source_reply_depth", [None, 4, None])
    )
    assert column(add_tree_columns(frame), "reply_depth") == {"p": 0, "x": 4, "y": 5}


def test_flat_thread() -> None:
    frame = add_tree_columns(thread([("p", None, False), ("a", None, True), ("b", None, False)]))
    assert column(frame, "structure") == {"p": "flat", "a": "flat", "b": "flat"}
    assert column(frame, "reply_depth") == {"p": 0, "a": 1, "b": 1}
    assert column(frame, "parent_removed") == {"p": None, "a": None, "b": None}
    assert column(frame, "n_replies")["p"] == 0


def test_same_ids_in_two_threads_do_not_mix() -> None:
    one = thread([("p", None, False), ("a", "p", False)], "p")
    two = thread([("q", None, False), ("a", "q", False), ("b", "a", True)], "q")
    frame = add_tree_columns(pl.concat([one, two]))
    assert frame["reply_depth"].to_list() == [0, 1, 0, 1, 2]
    assert frame["n_replies"].to_list() == [1, 0, 1, 1, 0]


def test_duplicates_are_an_error_and_dedupe_keeps_last() -> None:
    frame = thread([("p", None, False), ("a", "p", False), ("a", "p", True)])
    with pytest.raises(DuplicateIdError, match="p/a"):
        add_tree_columns(frame)
    kept, superseded = dedupe_comments(frame)
    assert superseded["_row"].to_list() == [1] and superseded["_winner"].to_list() == [2]
    assert kept.filter(pl.col("comment_id") == "a")["removed"].to_list() == [True]


def test_empty_frame() -> None:
    frame = add_tree_columns(conform(pl.DataFrame()))
    assert frame.height == 0 and "reply_depth" in frame.columns
