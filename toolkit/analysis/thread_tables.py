"""The rows the thread figures draw: one thread in page order (thread view) or in time order with its tree
columns (thread tree), picked by size or removals, gathered bucket by bucket from a store too."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from toolkit.analysis.common import Frames, columns_of, gather
from toolkit.analysis.declare import Analysis, AnalysisContext
from toolkit.errors import ConfigError
from toolkit.outputs import AnalysisOutput, FigureSpec
from toolkit.schema import COMMENT_SCHEMA, is_comment


@dataclass
class ThreadViewOptions:
    thread_id: str | None = None  # null: the largest thread


@dataclass
class ThreadTreeOptions:
    """``thread_id``: null = picked by ``pick`` (largest | most_removed); at most ``max_nodes`` drawn."""

    thread_id: str | None = None
    pick: str = "largest"
    max_nodes: int = 3000


def largest_thread(frame: Frames, key: list[str]) -> str | None:
    """The thread first by ``key`` (``len``: its rows, ``n_removed``: its removed rows; largest first, ties: the
    first id), from per-thread counts gathered bucket by bucket; None without rows.

    >>> from toolkit.analysis.synthetic import example_threads
    >>> largest_thread(example_threads(), ["len"]), largest_thread(example_threads().head(0), ["len"])
    ('a', None)
    """
    stats = gather(frame, lambda b: b.group_by("thread_id").agg(
        pl.len(), pl.col("removed").fill_null(False).sum().alias("n_removed")))
    stats = stats.sort([*key, "thread_id"], descending=[*(True for _ in key), False])
    return stats["thread_id"][0] if stats.height else None


def thread_view_table(frame: Frames, *, label: str = "toxicity", thread_id: str | None = None) -> pl.DataFrame:
    """The rows a thread-view figure draws: one thread in page order with depth, score and flags.

    Args:
        frame: a scored comment frame, or a store's buckets (a pass for the sizes, one for the thread's rows).
        label: the score column (shown as ``score``).
        thread_id: the thread; None = the largest one (ties: the first id).

    Returns:
        ``thread_id``, ``comment_id``, ``parent_id``, ``is_post``, ``source_position``, ``reply_depth``,
        ``structure``, ``score``, ``removed``, ``deleted`` and ``snippet`` (the text's first 80 characters).

    Example:
        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> thread_view_table(frame).select("comment_id", "reply_depth", "score", "removed").rows()
        [('a', 0, None, False), ('a1', 1, 0.9, True), ('a2', 2, 0.8, False), ('a3', 2, 0.2, False),
         ('a4', 1, 0.1, False)]
    """
    if thread_id is None:
        thread_id = largest_thread(frame, ["len"])
        if thread_id is None:
            return columns_of(frame).select("thread_id", "comment_id", "parent_id", "source_position")
    return (
        gather(frame, lambda b: b.filter(pl.col("thread_id") == thread_id))
        .sort("source_position")
        .select(
            "thread_id", "comment_id", "parent_id", "is_post", "source_position", "reply_depth", "structure",
            pl.col(label).alias("score"), "removed", "deleted",
            pl.col("text").str.slice(0, 80).str.replace_all(r"\s+", " ").alias("snippet"),
        )
    )


def thread_tree_table(
    frame: Frames,
    *,
    label: str = "toxicity",
    thread_id: str | None = None,
    pick: str = ThreadTreeOptions.pick,
    max_nodes: int = ThreadTreeOptions.max_nodes,
) -> tuple[pl.DataFrame, str]:
    """The rows a thread-tree figure draws, and a caption note.

    One thread (``thread_id``, else the ``largest`` one or the one with the ``most_removed`` comments), in
    time then page order (``position``), at most ``max_nodes`` rows (the earliest; later ones are cut and
    the note says so).

    Args:
        frame: a scored comment frame, or a store's buckets (a pass for the counts, one for the thread's rows).
        label: the score column (shown as ``score``).
        thread_id: the thread; None = pick one by ``pick``.
        pick: ``largest`` or ``most_removed`` (ties: the other criterion, then the first id).
        max_nodes: the most rows kept.

    Returns:
        ``(table, note)``: ``thread_id``, ``comment_id``, ``parent_id``, ``is_post``, ``reply_depth``,
        ``structure``, ``position``, ``score``, ``removed``, ``deleted``; and a caption line with the
        thread's counts.

    Raises:
        ConfigError: an unknown ``pick``, or a ``thread_id`` not in the data.

    Example:
        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()  # two threads, a1 and b2 removed
        >>> table, note = thread_tree_table(frame, pick="most_removed")
        >>> table["comment_id"].to_list(), note
        (['a', 'a1', 'a2', 'a3', 'a4'], 'thread a: 4 comments, 1 removed, 0 deleted, 0 without text')
        >>> thread_tree_table(frame, pick="smallest")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        toolkit.errors.ConfigError: analysis.params.thread_tree.pick: 'smallest': choose largest or ...
    """
    if pick not in ("largest", "most_removed"):
        raise ConfigError("analysis.params.thread_tree.pick", f"{pick!r}: choose largest or most_removed")
    columns = ["thread_id", "comment_id", "parent_id", "is_post", "reply_depth", "structure", "position", "score",
               "removed", "deleted"]
    if thread_id is None:
        thread_id = largest_thread(frame, ["len", "n_removed"] if pick == "largest" else ["n_removed", "len"])
        if thread_id is None:
            return pl.DataFrame(schema={c: pl.String for c in columns}), "empty frame"
    rows = gather(frame, lambda b: b.filter(pl.col("thread_id") == str(thread_id)))
    if rows.height == 0:
        raise ConfigError("analysis.params.thread_tree.thread_id",
                          f"no thread {thread_id!r} in the data; null picks one by `pick`")
    rows = rows.sort([pl.col("is_post"), pl.col("created_at"), pl.col("source_position")],
                     descending=[True, False, False], nulls_last=True).with_row_index("position")
    n = rows.height
    rows = rows.head(max_nodes)
    table = rows.select(
        "thread_id", "comment_id", "parent_id", "is_post", "reply_depth", pl.col("structure").cast(pl.String),
        pl.col("position").cast(pl.Int64), pl.col(label).alias("score"), pl.col("removed").fill_null(False),
        pl.col("deleted").fill_null(False),
    )
    comments = table.filter(is_comment())
    note = (f"thread {thread_id}: {comments.height:,} comments, {int(comments['removed'].sum()):,} removed, "
            f"{int(comments['deleted'].sum()):,} deleted, {int(comments['score'].is_null().sum()):,} without text")
    if n > max_nodes:
        note += f"; first {max_nodes:,} of {n:,} rows drawn"
    if (comments["structure"] == "flat").any():
        note += "; no reply links in the source: comments hang from the post (dotted)"
    return table, note


def run_thread_view(frame: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """One thread in page order, drawn with depth, score and flags (a figure only)."""
    table = thread_view_table(frame, label=ctx.label, thread_id=ctx.params.thread_view.thread_id)
    if table.height == 0:
        return AnalysisOutput(skipped="no rows in the data")
    spec = FigureSpec("thread_view", "thread", f"Thread {table['thread_id'][0]}", ctx.footer, {"label": ctx.label})
    return AnalysisOutput({}, [(spec, table)])


def run_thread_tree(frame: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """One thread drawn as a tree (a figure only)."""
    o = ctx.params.thread_tree
    table, note = thread_tree_table(frame, label=ctx.label, thread_id=o.thread_id, pick=o.pick, max_nodes=o.max_nodes)
    if table.height == 0:
        return AnalysisOutput(skipped="no rows in the data")
    spec = FigureSpec("thread_tree", "thread_tree", f"Thread {table['thread_id'][0]} as a tree",
                      ctx.caption(note), {"label": ctx.label, "min_width": "double"})
    return AnalysisOutput({}, [(spec, table)])


DECLARED = (
    Analysis("thread_view", run_thread_view, ThreadViewOptions, bucketed=True, reads=tuple(COMMENT_SCHEMA),
             figures=("thread_view",)),
    Analysis("thread_tree", run_thread_tree, ThreadTreeOptions, bucketed=True, reads=tuple(COMMENT_SCHEMA),
             figures=("thread_tree",)),
)
