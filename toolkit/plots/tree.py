"""The thread-tree figure: a thread drawn as a tree from its parent links, depth down the page.

Layout: leaves are spaced evenly in depth-first order (children in time/page order), and every parent
sits over the middle of its children (a tidy, non-crossing layout). One iterative pass over the nodes,
so threads of thousands of comments lay out in milliseconds; edges are drawn as one line collection.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import numpy as np
import polars as pl
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from toolkit.plots.base import (
    DELETED_COLOUR,
    REMOVED_COLOUR,
    TOXICITY_CMAP,
    FigureSpec,
    empty_note,
    figure_width,
    finish,
    fmt_n,
)


def tree_layout(
    ids: Sequence[str], parents: Sequence[str | None], order: Sequence[float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Positions for a tree given by parent links.

    Returns ``(x, depth, parent_index, attached)``: x in leaf units, depth from the root (0), the row of each
    node's parent (-1 for the root), and whether the node's own parent was missing so it was attached to
    the root (flat sources, orphans, cycles). The root is the first node without a parent in the data (or
    a node whose parent is itself); when there is none, the earliest node.
    """
    n = len(ids)
    if n == 0:
        return np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool)
    order_key = np.arange(n, dtype=np.float64) if order is None else np.asarray(order, dtype=np.float64)
    index = {cid: i for i, cid in enumerate(ids)}
    parent = np.array([index.get(p, -1) if p is not None else -1 for p in parents], dtype=np.int64)
    parent[parent == np.arange(n)] = -1
    no_parent = np.flatnonzero(parent < 0)
    root = int(no_parent[np.argmin(order_key[no_parent])]) if no_parent.size else int(np.argmin(order_key))
    attached = np.zeros(n, dtype=bool)
    for i in no_parent:
        if i != root:
            parent[i], attached[i] = root, True
    parent[root] = -1
    children: list[list[int]] = [[] for _ in range(n)]
    for i in np.argsort(order_key, kind="stable"):
        if parent[i] >= 0:
            children[parent[i]].append(int(i))
    # Iterative depth-first preorder from the root; nodes on parent cycles are never reached.
    depth = np.full(n, -1, dtype=np.int64)
    preorder: list[int] = []
    stack = [root]
    depth[root] = 0
    while stack:
        node = stack.pop()
        preorder.append(node)
        for child in reversed(children[node]):
            if depth[child] < 0:
                depth[child] = depth[node] + 1
                stack.append(child)
    unreached = np.flatnonzero(depth < 0)
    for i in unreached[np.argsort(order_key[unreached], kind="stable")]:  # cycles: hang them under the root
        parent[i], attached[i], depth[i] = root, True, 1
        children[root].append(int(i))
        children[i] = []
        preorder.append(int(i))
    x = np.zeros(n)
    leaf = 0
    for node in preorder:
        if not children[node] or all(depth[c] != depth[node] + 1 for c in children[node]):
            x[node] = leaf
            leaf += 1
    for node in reversed(preorder):
        kids = [c for c in children[node] if depth[c] == depth[node] + 1]
        if kids:
            x[node] = (x[kids].min() + x[kids].max()) / 2
    return x, depth, parent, attached


PLACEHOLDER_LABEL = "post not in the data"


def tree_nodes(table: pl.DataFrame) -> pl.DataFrame:
    """The nodes a thread-tree figure draws: the table's rows, plus a placeholder root when the post is missing.

    A comment-only export has no post row: a placeholder post (``placeholder`` true, id = the thread id, so
    comments whose ``parent_id`` is the thread hang from it) is put first, so that every comment is drawn at
    the ``reply_depth`` the frame holds rather than one comment being promoted to the post.

    >>> t = pl.DataFrame({"thread_id": ["T", "T"], "comment_id": ["a", "b"], "parent_id": ["T", "a"],
    ...                   "is_post": [False, False], "position": [0, 1]})
    >>> tree_nodes(t).select("comment_id", "parent_id", "is_post", "placeholder").rows()
    [('T', None, True, True), ('a', 'T', False, False), ('b', 'a', False, False)]
    """
    nodes = table.with_columns(
        pl.col("comment_id").cast(pl.String), pl.col("parent_id").cast(pl.String),
        pl.col("is_post").fill_null(False), pl.lit(False).alias("placeholder"),
    )
    if nodes.height == 0 or nodes["is_post"].any():
        return nodes
    thread = str(nodes["thread_id"][0]) if "thread_id" in nodes.columns and nodes["thread_id"][0] is not None \
        else "post"
    if thread in set(nodes["comment_id"].to_list()):
        thread = f"{thread} (post)"
    first = nodes["position"].min() if "position" in nodes.columns else None
    root = {c: None for c in nodes.columns} | {
        "comment_id": thread, "is_post": True, "placeholder": True,
        **({"thread_id": nodes["thread_id"][0]} if "thread_id" in nodes.columns else {}),
        **({"position": (first if first is not None else 0) - 1} if "position" in nodes.columns else {}),
        **({"reply_depth": 0} if "reply_depth" in nodes.columns else {}),
        **({c: False for c in ("removed", "deleted") if c in nodes.columns}),
    }
    return pl.concat([pl.DataFrame([root], schema=nodes.schema), nodes])


def drawn_depths(nodes: pl.DataFrame, link_depth: np.ndarray) -> np.ndarray:
    """The depth each node is drawn at: the frame's ``reply_depth`` where known, else the depth from the links
    (orphans without a depth hint, tables saved without the column)."""
    if "reply_depth" not in nodes.columns:
        return link_depth
    held = nodes["reply_depth"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    return np.where(np.isnan(held), link_depth, held).astype(np.int64)


def draw_thread_tree(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """A thread as a tree (depth down the page), nodes coloured by score, removed/deleted comments marked.

    Table columns: ``comment_id, parent_id, is_post, position, score, removed, deleted`` (and, from
    :func:`toolkit.analysis.distribution.thread_tree_table`, ``thread_id`` and ``reply_depth``: nodes are
    drawn at the depth the frame holds; a missing post is drawn as a hollow, dashed placeholder root).
    """
    w = figure_width(width)
    if table.height == 0:
        fig = Figure(figsize=(w, w * 0.5))
        ax = fig.subplots()
        empty_note(ax, "empty thread")
        return finish(fig, spec)
    table = tree_nodes(table)
    n = table.height
    order = table["position"].to_numpy() if "position" in table.columns else None
    x, link_depth, parent, attached = tree_layout(table["comment_id"].to_list(), table["parent_id"].to_list(), order)
    depth = drawn_depths(table, link_depth)
    placeholder = table["placeholder"].to_numpy()
    max_depth = int(depth.max())
    leaves = max(1, int(np.ceil(x.max())) + 1)
    height = float(np.clip(0.9 + 0.28 * (max_depth + 1), w * 0.4, 9.0))
    fig = Figure(figsize=(w, height))
    ax = fig.subplots()
    # Marker area shrinks with the number of leaves across the width so that neighbours do not overlap.
    pts_per_leaf = 72 * w * 0.85 / leaves
    size = float(np.clip((0.8 * pts_per_leaf) ** 2, 3, 40))

    child = np.flatnonzero(parent >= 0)
    p = parent[child]
    mid = depth[p] + 0.5
    segs = np.stack([
        np.column_stack([x[p], depth[p], x[p], mid]),
        np.column_stack([x[p], mid, x[child], mid]),
        np.column_stack([x[child], mid, x[child], depth[child]]),
    ], axis=1).reshape(-1, 2, 2) if child.size else np.zeros((0, 2, 2))
    styles = np.repeat(np.where(attached[child], "dotted", "solid"), 3) if child.size else []
    ax.add_collection(LineCollection(segs, colors="0.65", linewidths=max(0.2, min(0.7, size / 40)),
                                     linestyles=list(styles), zorder=1))

    score = table["score"].cast(pl.Float64).fill_null(np.nan).to_numpy()
    removed = table["removed"].fill_null(False).to_numpy()
    deleted = table["deleted"].fill_null(False).to_numpy()
    is_post = table["is_post"].fill_null(False).to_numpy()
    cmap = mpl.colormaps[TOXICITY_CMAP]
    scored = ~np.isnan(score)
    for mask, marker in ((~is_post, "o"), (is_post & ~placeholder, "s")):
        sel = mask & scored
        ax.scatter(x[sel], depth[sel], c=score[sel], cmap=cmap, vmin=0, vmax=1, s=size, marker=marker,
                   edgecolors="black", linewidths=0.2, zorder=2)
        sel = mask & ~scored
        ax.scatter(x[sel], depth[sel], s=size, marker=marker, facecolors="white", edgecolors="0.3", linewidths=0.4,
                   zorder=2)
    if placeholder.any():
        ax.scatter(x[placeholder], depth[placeholder], s=size * 1.4, marker="s", facecolors="none",
                   edgecolors="0.45", linewidths=0.6, linestyles="--", zorder=2)
    ax.scatter(x[deleted], depth[deleted], s=size * 2.0, facecolors="none", edgecolors=DELETED_COLOUR,
               linewidths=max(0.5, min(0.9, size / 30)), zorder=3)
    ax.scatter(x[removed], depth[removed], s=size * 1.6, marker="x", color=REMOVED_COLOUR,
               linewidths=max(0.8, min(1.5, size / 20)), zorder=4)

    ax.set_xlim(-1, leaves)
    ax.set_ylim(max_depth + 0.6, -0.6)
    ax.set_yticks(range(max_depth + 1))
    ax.set_ylabel("reply depth (0 = post)")
    ax.set_xticks([])
    ax.set_xlabel(f"{fmt_n(int((~is_post).sum()))} comments, {fmt_n(leaves)} leaves, in reply order")
    ax.grid(False)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    sm = mpl.cm.ScalarMappable(cmap=cmap, norm=mpl.colors.Normalize(0, 1))
    fig.colorbar(sm, ax=ax, fraction=0.025, pad=0.01).set_label(spec.options.get("label", "toxicity"))
    handles = [
        Line2D([], [], marker="x", linestyle="none", color=REMOVED_COLOUR, label=f"removed ({int(removed.sum())})"),
        Line2D([], [], marker="o", linestyle="none", markerfacecolor="none", markeredgecolor=DELETED_COLOUR,
               label=f"deleted ({int(deleted.sum())})"),
        Line2D([], [], marker="o", linestyle="none", markerfacecolor="white", markeredgecolor="0.3",
               label=f"no text ({int((~scored & ~placeholder).sum())})"),
    ]
    if placeholder.any():
        handles.append(Line2D([], [], marker="s", linestyle="none", markerfacecolor="none", markeredgecolor="0.45",
                              label=PLACEHOLDER_LABEL))
    if attached.any():
        handles.append(Line2D([], [], color="0.65", linestyle="dotted", label="parent unknown"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.08 if n else 0), ncol=len(handles),
              fontsize=6, frameon=False, handletextpad=0.3, columnspacing=1.0)
    return finish(fig, spec)
