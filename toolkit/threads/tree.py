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

from toolkit.errors import ToolkitError
from toolkit.schema import STRUCTURES, TREE_SCHEMA

NO_PARENT = -1


@dataclass
class TreeResult:
    frame: pl.DataFrame
    n_orphans: int  # rows whose parent is missing from the data (the orphan subtrees' tops)
    n_in_cycles: int  # rows on or below a parent cycle


class DuplicateIdError(ToolkitError, ValueError):
    """Two rows share (thread_id, comment_id): the tree would be ambiguous (the message names them)."""


_HASH_SEEDS = (0x5EED_0001, 0x5EED_0002)
_MIX = np.uint64(0x9E3779B97F4A7C15)


def _duplicate_error(frame: pl.DataFrame) -> DuplicateIdError | None:
    """The error for repeated (thread_id, comment_id) pairs, exactly (string comparison), or None."""
    dupes = (
        frame.filter(pl.col("thread_id").is_not_null() & pl.col("comment_id").is_not_null())
        .group_by("thread_id", "comment_id", maintain_order=True)
        .len()
        .filter(pl.col("len") > 1)
    )
    if not dupes.height:
        return None
    sample = ", ".join(f"{t}/{c}" for t, c, _ in dupes.head(5).iter_rows())
    return DuplicateIdError(
        f"{dupes.height} (thread_id, comment_id) pairs occur more than once (e.g. {sample}); "
        "deduplicate first (toolkit.threads.dedupe_comments keeps the last version)"
    )


def _key_hashes(frame: pl.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of (thread_id, comment_id) and of (thread_id, parent_id) for every row."""
    hashed = frame.select(
        pl.col("thread_id").hash(seed).alias("t"),
        pl.col("comment_id").hash(seed + 1).alias("c"),
        pl.col("parent_id").hash(seed + 1).alias("p"),
    )
    thread = hashed["t"].to_numpy() * _MIX  # wraps around: a cheap mix, not arithmetic
    return hashed["c"].to_numpy() ^ thread, hashed["p"].to_numpy() ^ thread


def _argsort(values: np.ndarray) -> np.ndarray:
    """Indices that sort ``values`` (Polars' multi-threaded sort: faster than numpy's here)."""
    return pl.Series(values).arg_sort().to_numpy().astype(np.int64, copy=False)


def _parent_index(frame: pl.DataFrame) -> np.ndarray:
    """Row index of each row's parent within the same thread, or -1 when the parent is not in the data.

    Keys are 64-bit hashes of (thread_id, id), matched by sorting (much cheaper than a join on two string
    columns); a second, independent hash confirms every match, and any disagreement (a collision: about
    one in 2**64 per pair) falls back to the exact join on the strings. Raises :class:`DuplicateIdError`.
    """
    n = frame.height
    valid = frame.select(
        (pl.col("thread_id").is_not_null() & pl.col("comment_id").is_not_null()).alias("key"),
        (pl.col("thread_id").is_not_null() & pl.col("parent_id").is_not_null()).alias("query"),
    )
    keys, queries = _key_hashes(frame, _HASH_SEEDS[0])
    key_rows = np.flatnonzero(valid["key"].to_numpy())
    query_rows = np.flatnonzero(valid["query"].to_numpy())
    by_key = key_rows[_argsort(keys[key_rows])]
    sorted_keys = keys[by_key]
    if sorted_keys.size > 1 and np.any(sorted_keys[1:] == sorted_keys[:-1]):
        error = _duplicate_error(frame)
        if error is not None:
            raise error
        return _parent_index_exact(frame)
    parent = np.full(n, NO_PARENT, dtype=np.int64)
    if sorted_keys.size == 0 or query_rows.size == 0:
        return parent
    by_query = query_rows[_argsort(queries[query_rows])]
    wanted = queries[by_query]
    pos = np.minimum(np.searchsorted(sorted_keys, wanted), sorted_keys.size - 1)
    hit = sorted_keys[pos] == wanted
    parent[by_query[hit]] = by_key[pos[hit]]
    found = parent != NO_PARENT
    keys2, queries2 = _key_hashes(frame, _HASH_SEEDS[1])
    if not np.array_equal(keys2[parent[found]], queries2[found]):
        return _parent_index_exact(frame)
    return parent


def _parent_index_exact(frame: pl.DataFrame) -> np.ndarray:
    """The parent index by a join on the (thread_id, id) strings (the slow, collision-free way)."""
    keys = frame.select(
        pl.col("thread_id"), pl.col("comment_id").alias("parent_id"), pl.int_range(pl.len()).alias("_pidx")
    )
    joined = frame.select("thread_id", "parent_id").join(
        keys, on=["thread_id", "parent_id"], how="left", maintain_order="left"
    )
    return joined["_pidx"].fill_null(NO_PARENT).to_numpy().astype(np.int64)


def climb(jump: np.ndarray, anchor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointer doubling: for each row, the anchor it reaches, its distance, and whether it got there.

    ``jump[i]`` is the row's parent (or itself for anchors). Each round works only on the rows still
    climbing, so shallow rows stop costing after a round or two. Rows on a cycle never reach an anchor.

    >>> reached, dist, ok = climb(np.array([0, 0, 1, 3]), np.array([True, False, False, False]))
    >>> reached[:3].tolist(), dist[:3].tolist(), ok.tolist()  # row 3 is a cycle: it reaches no anchor
    ([0, 0, 0], [0, 1, 2], [True, True, True, False])
    """
    n = jump.size
    dist = (~anchor).astype(np.int64)
    jump = jump.copy()
    active = np.flatnonzero(~anchor[jump])
    for _ in range(max(1, math.ceil(math.log2(n + 1))) + 1):
        if active.size == 0:
            break
        step = jump[active]
        dist[active] += dist[step]
        jump[active] = jump[step]
        active = active[~anchor[jump[active]]]
    return jump, dist, anchor[jump]


_STRUCTURE_VALUES = pl.Series("structure", list(STRUCTURES), dtype=TREE_SCHEMA["structure"])


def build_tree(frame: pl.DataFrame) -> TreeResult:
    """Add ``reply_depth, root_id, n_replies, subtree_size, parent_removed, structure`` to a source frame."""
    frame = frame.drop([c for c in TREE_SCHEMA if c in frame.columns])
    n = frame.height
    if n == 0:
        empty = frame.with_columns(pl.lit(None, dtype=t).alias(c) for c, t in TREE_SCHEMA.items())
        return TreeResult(empty, 0, 0)

    parent = _parent_index(frame)
    links = _Links.of(frame, parent)
    is_post, found = links.is_post, links.found
    # One climb, cut below depth 1: the anchor reached is the sub-thread's root, the distance is depth - 1.
    idx = np.arange(n, dtype=np.int64)
    root_anchor = is_post | links.top_level | ~found
    root_of, root_dist, reached = climb(np.where(root_anchor, idx, parent), root_anchor)
    in_cycle = ~reached
    depth = _depths(frame, links, root_of, root_dist, in_cycle)
    codes = _structure_codes(frame, links, root_of, in_cycle)
    n_replies, subtree = _reply_counts(parent, found & ~is_post & ~in_cycle, root_dist)
    # a root only where the row has a sub-thread, a parent's flag only where a parent was found
    tree = pl.DataFrame(
        {
            "reply_depth": pl.Series(depth, dtype=pl.Float64).fill_nan(None).cast(pl.Int32),
            "root_id": frame["comment_id"].gather(root_of).set(pl.Series(is_post | in_cycle), None),
            "n_replies": pl.Series(n_replies, dtype=pl.Int32),
            "subtree_size": pl.Series(subtree, dtype=pl.Int32),
            "parent_removed": pl.Series(links.removed[np.where(found, parent, 0)]).set(pl.Series(~found | is_post), None),
            "structure": _STRUCTURE_VALUES.gather(codes),
        }
    )
    out = pl.concat([frame, tree], how="horizontal")
    return TreeResult(out, n_orphans=int(links.orphan_top.sum()), n_in_cycles=int(in_cycle.sum()))


@dataclass
class _Links:
    """Per row (numpy booleans): the post, a parent link given, the parent found in the data, and what that
    makes the row: top-level (parent = the post, or the thread's id when the post is absent), flat (no link)
    or the top of an orphan subtree (a link to a row not in the data)."""

    is_post: np.ndarray
    found: np.ndarray
    top_level: np.ndarray
    flat: np.ndarray
    orphan_top: np.ndarray
    removed: np.ndarray

    @classmethod
    def of(cls, frame: pl.DataFrame, parent: np.ndarray) -> _Links:
        flags = frame.select(
            pl.col("is_post").fill_null(False).alias("is_post"),
            pl.col("parent_id").is_not_null().alias("has_link"),
            (pl.col("parent_id") == pl.col("thread_id")).fill_null(False).alias("to_thread"),
            pl.col("removed").fill_null(False).alias("removed"),
        )
        is_post = flags["is_post"].to_numpy()
        has_link = flags["has_link"].to_numpy()
        found = parent != NO_PARENT
        parent_is_post = found & is_post[parent]  # (a parent not found, -1, is masked by found)
        top_level = (~is_post) & has_link & (parent_is_post | ((~found) & flags["to_thread"].to_numpy()))
        flat = (~is_post) & ~has_link
        orphan_top = (~is_post) & has_link & ~found & ~top_level
        return cls(is_post, found, top_level, flat, orphan_top, flags["removed"].to_numpy())


def _depths(frame: pl.DataFrame, links: _Links, root_of: np.ndarray, root_dist: np.ndarray,
            in_cycle: np.ndarray) -> np.ndarray:
    """``reply_depth`` as floats (NaN: unknown): the sub-thread root's depth (post 0, top-level and flat 1,
    an orphan top its ``source_reply_depth`` if given) plus the distance to it."""
    if "source_reply_depth" in frame.columns:
        hint = frame["source_reply_depth"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    else:
        hint = np.full(frame.height, np.nan)
    base = np.where(links.is_post, 0.0,
                    np.where(links.top_level | links.flat, 1.0, np.where(links.orphan_top, hint, np.nan)))
    depth = base[root_of] + root_dist
    depth[in_cycle] = np.nan
    return depth


def _structure_codes(frame: pl.DataFrame, links: _Links, root_of: np.ndarray, in_cycle: np.ndarray) -> np.ndarray:
    """Indexes into STRUCTURES (0 tree, 1 flat, 2 orphan) per row; a post whose comments are all flat is flat."""
    flat, is_post = links.flat, links.is_post
    codes = np.where(flat, 1, np.where(links.orphan_top[root_of] | in_cycle, 2, 0)).astype(np.int64)
    if flat.any():
        thread_flat = (
            frame.select(pl.col("thread_id"), pl.Series("flat", flat), pl.Series("post", is_post))
            .with_columns(
                pl.col("flat").filter(~pl.col("post")).all().over("thread_id")
                & (~pl.col("post")).any().over("thread_id")
            )["flat"]
            .to_numpy()
        )
        codes[is_post & thread_flat] = 1
    return codes


def _reply_counts(parent: np.ndarray, linked: np.ndarray, level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Direct replies and subtree sizes over the links present (``linked`` rows, ``level`` = depth - 1),
    bottom-up level by level, deepest first."""
    n = parent.size
    n_replies = np.bincount(parent[linked], minlength=n)
    subtree = np.ones(n, dtype=np.int64)
    level = np.where(linked, level, -1)
    top = int(level.max())
    if top >= 0:
        # level + 1 >= 0 fits uint16 for all but absurdly deep data: numpy then sorts by radix, in O(n)
        order = np.argsort((level + 1).astype(np.uint16 if top < 2**16 - 2 else np.int64), kind="stable")
        bounds = np.searchsorted(level[order], np.arange(top + 2), side="left")
        for lvl in range(top, -1, -1):
            group = order[bounds[lvl] : bounds[lvl + 1]]
            np.add.at(subtree, parent[group], subtree[group])
    return n_replies, subtree


def add_tree_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with its tree columns (see the module docstring for the rules)."""
    return build_tree(frame).frame


def dedupe_comments(
    frame: pl.DataFrame, key: tuple[str, ...] = ("thread_id", "comment_id"), newest_by: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keep the newest version of each ``key`` (e.g. an edited comment fetched twice): the largest ``newest_by``
    (nulls oldest), then the later row. Returns (kept rows in order, superseded rows in order with ``_row``,
    their row index, and ``_winner``, the row index of the version kept).

    >>> frame = pl.DataFrame({"thread_id": ["p", "p", "p"], "comment_id": ["a", "b", "a"], "text": ["old", "x", "new"]})
    >>> kept, superseded = dedupe_comments(frame)
    >>> kept["text"].to_list(), superseded["_row"].to_list(), superseded["_winner"].to_list()
    (['x', 'new'], [0], [2])
    """
    key = list(key)
    none = pl.DataFrame(schema={"_row": pl.UInt32, **frame.schema, "_winner": pl.UInt32})
    # distinct 64-bit hashes prove there is no repeat (cheap); equal hashes get the exact check below
    if frame.height < 2 or frame.select(pl.struct(key).hash(7).n_unique()).item() == frame.height:
        return frame, none
    indexed = frame.with_row_index("_row")
    copies = indexed.filter(pl.struct(key).is_duplicated())
    if copies.height == 0:
        return frame, none
    order = [newest_by, "_row"] if newest_by else ["_row"]
    copies = copies.sort(order, nulls_last=False).with_columns(pl.col("_row").last().over(key).alias("_winner"))
    superseded = copies.filter(pl.col("_row") != pl.col("_winner")).sort("_row")
    return indexed.filter(~pl.col("_row").is_in(superseded["_row"])).drop("_row"), superseded
