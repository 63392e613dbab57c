"""Tree columns from parent links, vectorised (pointer doubling over row indices, no per-row walk).

Rules (documented in the README):
- the post has ``reply_depth`` 0; a comment whose parent is the post (or whose ``parent_id`` equals its
  ``thread_id`` when the post itself is not in the data) has depth 1, ``structure="tree"``;
- a comment with no parent link (a source without reply structure) is ``structure="flat"`` at depth 1,
  its parent unknown: ``parent_removed`` null and it is not counted in the post's ``n_replies``;
- a comment whose parent is missing from the data is an orphan: it and its descendants are
  ``structure="orphan"`` with depth null, unless a ``source_reply_depth`` column gives the orphan's depth;
- rows on a parent cycle are ``structure="orphan"`` with depth null, and counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from toolkit.schema import TREE_SCHEMA

NO_PARENT = -1


@dataclass
class TreeResult:
    frame: pl.DataFrame
    n_orphans: int  # rows whose parent is missing from the data (the orphan subtrees' tops)
    n_in_cycles: int  # rows on or below a parent cycle


class DuplicateIdError(ValueError):
    """Two rows share (thread_id, comment_id): the tree would be ambiguous."""


def _parent_index(frame: pl.DataFrame) -> np.ndarray:
    """Row index of each row's parent within the same thread, or -1 when the parent is not in the data."""
    keys = frame.select(
        pl.col("thread_id"), pl.col("comment_id").alias("parent_id"), pl.int_range(pl.len()).alias("_pidx")
    )
    joined = frame.select("thread_id", "parent_id").join(
        keys, on=["thread_id", "parent_id"], how="left", maintain_order="left"
    )
    return joined["_pidx"].fill_null(NO_PARENT).to_numpy().astype(np.int64)


def _climb(jump: np.ndarray, anchor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointer doubling: for each row, the anchor it reaches, its distance, and whether it got there.

    ``jump[i]`` is the row's parent (or itself for anchors). Rows on a cycle never reach an anchor.
    """
    n = jump.size
    dist = (~anchor).astype(np.int64)
    jump = jump.copy()
    for _ in range(max(1, math.ceil(math.log2(n + 1))) + 1):
        done = anchor[jump]
        if done.all():
            break
        todo = ~done
        step = jump[todo]
        dist[todo] += dist[step]
        jump[todo] = jump[step]
    return jump, dist, anchor[jump]


def build_tree(frame: pl.DataFrame) -> TreeResult:
    """Add ``reply_depth, root_id, n_replies, subtree_size, parent_removed, structure`` to a source frame."""
    frame = frame.drop([c for c in TREE_SCHEMA if c in frame.columns])
    n = frame.height
    if n == 0:
        empty = frame.with_columns(pl.lit(None, dtype=t).alias(c) for c, t in TREE_SCHEMA.items())
        return TreeResult(empty, 0, 0)
    dupes = frame.group_by("thread_id", "comment_id").len().filter(pl.col("len") > 1)
    if dupes.height:
        sample = ", ".join(f"{t}/{c}" for t, c, _ in dupes.head(5).iter_rows())
        raise DuplicateIdError(
            f"{dupes.height} (thread_id, comment_id) pairs occur more than once (e.g. {sample}); "
            "deduplicate first (toolkit.threads.dedupe_comments keeps the last version)"
        )

    is_post = frame["is_post"].fill_null(False).to_numpy()
    has_link = frame["parent_id"].is_not_null().to_numpy()
    parent = _parent_index(frame)
    found = parent != NO_PARENT
    parent_is_post = np.zeros(n, dtype=bool)
    parent_is_post[found] = is_post[parent[found]]
    top_level = (~is_post) & has_link & (parent_is_post | ((~found) & (frame["parent_id"] == frame["thread_id"]).fill_null(False).to_numpy()))
    flat = (~is_post) & ~has_link
    orphan_top = (~is_post) & has_link & ~found & ~top_level

    # Full graph (comments linked to every parent present, the post included): subtree sizes, cycles.
    idx = np.arange(n, dtype=np.int64)
    full_anchor = ~found | is_post
    full_jump = np.where(full_anchor, idx, parent)
    _, full_dist, reached = _climb(full_jump, full_anchor)
    in_cycle = ~reached

    # Graph cut below depth 1: the anchor reached is the sub-thread's root, the distance is depth - 1.
    root_anchor = is_post | top_level | flat | orphan_top | ~found
    root_jump = np.where(root_anchor, idx, parent)
    root_of, root_dist, _ = _climb(root_jump, root_anchor)

    if "source_reply_depth" in frame.columns:
        hint = frame["source_reply_depth"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    else:
        hint = np.full(n, np.nan)
    base = np.where(is_post, 0.0, np.where(top_level | flat, 1.0, np.where(orphan_top, hint, np.nan)))
    depth = base[root_of] + root_dist
    depth[in_cycle] = np.nan

    structure = np.where(flat, "flat", np.where(orphan_top[root_of] | in_cycle, "orphan", "tree"))
    thread_flat = (
        frame.select(pl.col("thread_id"), pl.Series("flat", flat), pl.Series("post", is_post))
        .with_columns(
            pl.col("flat").filter(~pl.col("post")).all().over("thread_id")
            & (~pl.col("post")).any().over("thread_id")
        )["flat"]
        .to_numpy()
    )
    structure = np.where(is_post & thread_flat, "flat", structure)

    # Direct replies and subtree sizes over the links present (bottom-up by distance from the anchor).
    linked = found & ~is_post & ~in_cycle
    n_replies = np.bincount(parent[linked], minlength=n)
    subtree = np.ones(n, dtype=np.int64)
    subtree[in_cycle] = 1
    dist_linked = np.where(linked, full_dist, 0)
    order = np.argsort(-dist_linked, kind="stable")
    levels = dist_linked[order]
    boundaries = np.flatnonzero(np.diff(levels)) + 1
    for group in np.split(order, boundaries):
        group = group[linked[group]]
        if group.size:
            np.add.at(subtree, parent[group], subtree[group])

    removed = frame["removed"].fill_null(False).to_numpy()
    parent_removed = np.where(found, removed[np.where(found, parent, 0)], False)
    root_id = frame["comment_id"].gather(root_of).zip_with(pl.Series(~is_post & ~in_cycle), pl.Series([None] * n, dtype=pl.String))

    tree = pl.DataFrame(
        {
            "reply_depth": pl.Series(depth, dtype=pl.Float64).fill_nan(None).cast(pl.Int32),
            "root_id": root_id,
            "n_replies": pl.Series(n_replies, dtype=pl.Int32),
            "subtree_size": pl.Series(subtree, dtype=pl.Int32),
            "parent_removed": pl.Series(parent_removed, dtype=pl.Boolean),
            "_has_parent": pl.Series(found & ~is_post, dtype=pl.Boolean),
            "structure": pl.Series(structure, dtype=pl.String).cast(TREE_SCHEMA["structure"]),
        }
    ).with_columns(
        pl.when(pl.col("_has_parent")).then(pl.col("parent_removed")).otherwise(None).alias("parent_removed")
    ).drop("_has_parent")
    out = pl.concat([frame, tree], how="horizontal")
    return TreeResult(out, n_orphans=int(orphan_top.sum()), n_in_cycles=int(in_cycle.sum()))


def add_tree_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with its tree columns (see the module docstring for the rules)."""
    return build_tree(frame).frame


def dedupe_comments(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Keep the last version of each (thread_id, comment_id) (e.g. an edited comment re-fetched); count the rest."""
    kept = frame.unique(subset=["thread_id", "comment_id"], keep="last", maintain_order=True)
    return kept, frame.height - kept.height
