"""The thread-tree figure: a thread drawn as a tree from its parent links, depth down the page.

The layout is :func:`toolkit.threads.layout.tree_layout` (tidy, non-crossing; the explorer uses it too); edges
are drawn as one line collection.
"""

from __future__ import annotations

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
    empty_figure,
    figure_width,
    finish,
    fmt_n,
    new_figure,
)
from toolkit.threads.layout import tree_layout

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
    thread_id = nodes["thread_id"][0] if "thread_id" in nodes.columns else None
    thread = "post" if thread_id is None else str(thread_id)
    if thread in set(nodes["comment_id"].to_list()):
        thread = f"{thread} (post)"
    first = nodes["position"].min() if "position" in nodes.columns else None
    # built with the table's schema: the keys it lacks are left out, its other columns are null
    root = {"comment_id": thread, "is_post": True, "placeholder": True, "thread_id": thread_id,
            "position": (first or 0) - 1, "reply_depth": 0, "removed": False, "deleted": False}
    return pl.concat([pl.DataFrame([root], schema=nodes.schema), nodes])


def draw_thread_tree(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """A thread as a tree (depth down the page), nodes coloured by score, removed/deleted comments marked.

    Table columns: ``comment_id, parent_id, is_post, position, score, removed, deleted`` (and, from
    :func:`toolkit.analysis.distribution.thread_tree_table`, ``thread_id`` and ``reply_depth``: nodes are
    drawn at the depth the frame holds; a missing post is drawn as a hollow, dashed placeholder root).
    """
    if table.height == 0:
        return empty_figure(*new_figure(width, 0.5), "empty thread", spec)
    w = figure_width(width)
    table = tree_nodes(table)
    order = table["position"].to_numpy() if "position" in table.columns else None
    x, link_depth, parent, attached = tree_layout(table["comment_id"].to_list(), table["parent_id"].to_list(), order)
    depth = link_depth  # the frame's reply_depth where known, else the depth from the links (orphans)
    if "reply_depth" in table.columns:
        held = table["reply_depth"].cast(pl.Float64).fill_null(np.nan).to_numpy()
        depth = np.where(np.isnan(held), link_depth, held).astype(np.int64)
    placeholder = table["placeholder"].to_numpy()
    max_depth = int(depth.max())
    leaves = max(1, int(np.ceil(x.max())) + 1)
    fig = Figure(figsize=(w, float(np.clip(0.9 + 0.28 * (max_depth + 1), w * 0.4, 9.0))))
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
    flags = ("removed", "deleted", "is_post")  # unknown = no
    removed, deleted, is_post = (table[c].fill_null(False).to_numpy() for c in flags)
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
    ax.spines[["top", "right", "bottom"]].set_visible(False)
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
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, -0.08), ncol=len(handles),
              fontsize=6, frameon=False, handletextpad=0.3, columnspacing=1.0)
    return finish(fig, spec)
