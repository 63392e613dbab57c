"""The thread-tree figure draws the depths the frame holds: comment-only exports get a placeholder post."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
from matplotlib.collections import PathCollection

from toolkit.analysis.synthetic import make_frame
from toolkit.analysis.thread_tables import thread_tree_table
from toolkit.outputs import FigureSpec
from toolkit.plots.tree import PLACEHOLDER_LABEL, draw_thread_tree

#   (T: the post, not in the export)
#   ├── c1
#   │   └── c2
#   │       └── c3
#   │           └── c4   reply_depth 4
#   ├── d1
#   └── e1
#       └── e2
COMMENT_ONLY = [
    {"thread": "T", "id": "c1", "parent": "T", "score": 0.1, "minute": 1},
    {"thread": "T", "id": "c2", "parent": "c1", "score": 0.2, "minute": 2},
    {"thread": "T", "id": "c3", "parent": "c2", "score": 0.3, "minute": 3},
    {"thread": "T", "id": "c4", "parent": "c3", "score": 0.4, "minute": 4},
    {"thread": "T", "id": "d1", "parent": "T", "score": 0.5, "minute": 5},
    {"thread": "T", "id": "e1", "parent": "T", "score": 0.6, "minute": 6},
    {"thread": "T", "id": "e2", "parent": "e1", "score": 0.7, "minute": 7},
]


def points(fig: plt.Figure) -> list[np.ndarray]:
    """The offsets of every non-empty scatter on the tree's axes, in drawing order."""
    ax = fig.axes[0]
    return [c.get_offsets() for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets())]


@pytest.fixture
def table():
    frame = make_frame(COMMENT_ONLY)
    assert dict(zip(frame["comment_id"], frame["reply_depth"], strict=True)) == {
        "c1": 1, "c2": 2, "c3": 3, "c4": 4, "d1": 1, "e1": 1, "e2": 2}
    table, _ = thread_tree_table(frame)
    return table


def test_comment_only_thread_is_drawn_at_the_frames_depths(table) -> None:
    fig = draw_thread_tree(table, FigureSpec("t", "thread_tree", "t", ""), "single")
    comments, root = points(fig)[:2]  # scored comments (circles), then the placeholder post (hollow square)
    # comments in time order c1 c2 c3 c4 d1 e1 e2: their drawn depths are the frame's reply_depth
    assert comments[:, 1].tolist() == [1, 2, 3, 4, 1, 1, 2]
    assert root[:, 1].tolist() == [0]
    # the placeholder sits over its three top-level children (c1's subtree, d1, e1's subtree)
    assert comments[:, 0].min() <= root[0, 0] <= comments[:, 0].max()
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert PLACEHOLDER_LABEL in labels and "parent unknown" not in labels  # every link is known: no dotted line
    assert "no text (0)" in labels and fig.axes[0].get_xlabel().startswith("7 comments")
    plt.close(fig)


def test_orphan_with_a_depth_hint_is_drawn_at_that_depth(table) -> None:
    """A comment whose parent is missing keeps the depth the frame holds (a source hint), attached dotted."""
    orphan = table.filter(table["comment_id"] == "e2").with_columns(
        table["parent_id"].head(1).alias("parent_id").fill_null("gone"))
    moved = table.filter(table["comment_id"] != "e2").vstack(
        orphan.with_columns(parent_id=np.array(["gone"]), reply_depth=np.array([5], dtype=np.int32)))
    fig = draw_thread_tree(moved, FigureSpec("t", "thread_tree", "t", ""), "single")
    comments = points(fig)[0]
    assert comments[:, 1].tolist() == [1, 2, 3, 4, 1, 1, 5]
    assert "parent unknown" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    plt.close(fig)


def test_thread_with_its_post_has_no_placeholder() -> None:
    frame = make_frame([{"thread": "T", "id": "T", "score": 0.0}, *COMMENT_ONLY])
    table, _ = thread_tree_table(frame)
    fig = draw_thread_tree(table, FigureSpec("t", "thread_tree", "t", ""), "single")
    comments, post = points(fig)[:2]
    assert comments[:, 1].tolist() == [1, 2, 3, 4, 1, 1, 2] and post[:, 1].tolist() == [0]
    assert PLACEHOLDER_LABEL not in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    plt.close(fig)
