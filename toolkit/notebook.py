"""Small helpers that make the library pleasant in Jupyter: readable frames, a comment in its context, the most
toxic comments with their context, thread-tree figures inline, run directories opened and compared.

Everything here is a thin view over the library (``toolkit.load``, ``toolkit.score``, the analyses and the
figure drawers); nothing here computes a result that a run would not. Typical first cell::

    import toolkit
    from toolkit import notebook as nb
    nb.setup()   # readable Polars tables, matplotlib inline
"""

from __future__ import annotations

import base64
import functools
import html
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.analysis.common import score_columns
from toolkit.errors import ConfigError, LoadError
from toolkit.explore import Explorer, explore
from toolkit.io.paths import PROJECT_ROOT
from toolkit.labelling import LabellingSession, LabellingWidget, labelling_widget
from toolkit.schema import is_comment, scored

__all__ = [
    "Explorer", "explore",  # the interactive explorer (toolkit/explore.py)
    "SideBySide", "compare_manifests", "compare_tables", "context", "contexts", "data_path", "draw_figure",
    "draw_thread_tree", "figure_from_run", "figure_names", "filter_comments", "format_context", "manifest_summary",
    "most_toxic", "most_toxic_with_context", "read_manifest", "run_table", "setup", "shorten", "side_by_side",
    "use_inline_backend", "view",
    # configs and runs, as the command line has them
    "load_dataset", "render_run", "run", "run_analysis", "settings",
]
__all__ += ["LabellingSession", "LabellingWidget", "labelling_widget"]  # hand labels: toolkit.labelling

_VIEW_BASE = ("comment_id", "parent_id", "reply_depth", "author", "removed", "deleted")


# --------------------------------------------------------------------------------------------- setup


def setup(*, text_width: int = 100, rows: int = 20, float_precision: int = 3, inline: bool = True) -> None:
    """Readable notebook output: Polars tables show strings up to ``text_width`` characters, up to ``rows``
    rows and floats with ``float_precision`` decimals; matplotlib draws inline when in a Jupyter kernel.

    Polars' own defaults cut every string at 30 characters, which hides the comments one wants to read.

    Args:
        text_width: longest string shown in a table cell.
        rows: rows shown of a long table.
        float_precision: decimals of floats.
        inline: also call :func:`use_inline_backend`.

    >>> import polars as pl
    >>> from toolkit import notebook as nb
    >>> with pl.Config():  # scoped here; in a notebook's first cell just call nb.setup()
    ...     nb.setup(text_width=60, inline=False)
    """
    pl.Config.set_fmt_str_lengths(text_width)
    pl.Config.set_tbl_rows(rows)
    pl.Config.set_tbl_cols(30)
    pl.Config.set_float_precision(float_precision)
    pl.Config.set_tbl_width_chars(max(160, text_width + 60))
    if inline:
        use_inline_backend()


def use_inline_backend() -> bool:
    """Inside a Jupyter kernel, make matplotlib draw inline; returns whether it did.

    ``toolkit.plots`` draws plain Figures and never selects a backend; this registers the inline display of
    Figures (a cell whose value is a Figure shows it as a PNG). Outside a kernel it does nothing.

    >>> from toolkit import notebook as nb
    >>> nb.use_inline_backend()  # not in a Jupyter kernel here
    False
    """
    try:
        from ipykernel.zmqshell import ZMQInteractiveShell
        from IPython import get_ipython
    except ImportError:  # no Jupyter installed, so no kernel
        return False
    shell = get_ipython()
    if not isinstance(shell, ZMQInteractiveShell):
        return False
    shell.run_line_magic("matplotlib", "inline")
    return True


def data_path(name: str) -> Path:
    """A bundled data file by name (``data/NAME`` of the checkout or of the installed package).

    Notebooks run with the notebook's folder as working directory; this finds the data from anywhere.

    Args:
        name: a file name in the bundled ``data/`` (``seed_thread.txt``, ``reddit_sample_57dw9a.json``, ...).

    Returns:
        The file's path.

    Raises:
        LoadError: no such bundled file (the message lists the bundled ones).

    >>> from toolkit import notebook as nb
    >>> nb.data_path("seed_thread.txt").name
    'seed_thread.txt'
    >>> nb.data_path("my_thread.txt")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    toolkit.errors.LoadError: my_thread.txt: not a bundled data file; bundled: [...'seed_thread.txt'...]...
    """
    path = PROJECT_ROOT / "data" / name
    if not path.is_file():
        bundled = sorted(p.name for p in path.parent.iterdir() if p.suffix != ".py")
        raise LoadError(name, f"not a bundled data file; bundled: {bundled} (any other file: pass its path)")
    return path


# --------------------------------------------------------------------------------------------- views


def shorten(column: str | pl.Expr = "text", width: int = 80) -> pl.Expr:
    """One-line text: whitespace runs collapsed to one space, cut to ``width`` characters with an ellipsis.

    Null text (removed or deleted comments) shows as null, so it stays distinguishable from empty text.

    Args:
        column: a column name or expression holding text.
        width: the longest result, ellipsis included.

    Returns:
        A Polars string expression.

    >>> import polars as pl
    >>> from toolkit import notebook as nb
    >>> pl.DataFrame({"text": ["a   long   comment", None]}).select(nb.shorten("text", 8))["text"].to_list()
    ['a long …', None]
    """
    expr = pl.col(column) if isinstance(column, str) else column
    flat = expr.str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(flat.str.len_chars() > width).then(flat.str.slice(0, width - 1) + "…").otherwise(flat)


def view(
    frame: pl.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    text_width: int = 80,
    extra: Sequence[str] = (),
) -> pl.DataFrame:
    """A compact, readable frame: ids, depth, author, flags, score columns (if any) and one-line text.

    Args:
        frame: a comment frame.
        columns: the columns to show instead of the default choice (text is always appended last, shortened).
        text_width: the text column's width (see :func:`shorten`).
        extra: columns added to the choice.

    Returns:
        The chosen columns of every row.

    Raises:
        ConfigError: a chosen column is not in the frame.

    >>> import toolkit
    >>> from toolkit import notebook as nb
    >>> frame = toolkit.load(nb.data_path("seed_thread.txt"), format="text", post_lines=6)
    >>> nb.view(frame, extra=["structure"], text_width=30).columns
    ['comment_id', 'parent_id', 'reply_depth', 'author', 'removed', 'deleted', 'structure', 'text']
    """
    chosen = list(columns) if columns is not None else [c for c in _VIEW_BASE if c in frame.columns]
    if columns is None:
        chosen += score_columns(frame)
    chosen += [c for c in extra if c not in chosen]
    chosen = [c for c in chosen if c != "text"]
    missing = [c for c in chosen if c not in frame.columns]
    if missing:
        raise ConfigError("columns", f"no column(s) {missing} in the frame (columns: {frame.columns})")
    exprs: list[pl.Expr] = [pl.col(c) for c in chosen]
    if "text" in frame.columns:
        exprs.append(shorten("text", text_width).alias("text"))
    return frame.select(exprs)


def filter_comments(
    frame: pl.DataFrame,
    *,
    min_depth: int | None = None,
    max_depth: int | None = None,
    removed: bool | None = None,
    deleted: bool | None = None,
    has_text: bool | None = None,
    include_post: bool = False,
) -> pl.DataFrame:
    """Comments (the post only with ``include_post``) by reply depth range and removal/deletion/text flags.

    ``None`` leaves a condition out. Rows with unknown depth (orphans) never match a depth bound.

    Args:
        frame: a comment frame with tree columns (``reply_depth``).
        min_depth, max_depth: the reply-depth range, bounds included.
        removed, deleted, has_text: keep only rows with this flag value.
        include_post: keep the thread's post too.

    Returns:
        The matching rows, in the frame's order.

    >>> import toolkit
    >>> from toolkit import notebook as nb
    >>> frame = toolkit.load(nb.data_path("seed_thread.txt"), format="text", post_lines=6)
    >>> nb.filter_comments(frame, removed=True)["comment_id"].to_list()
    ['seed_thread-1', 'seed_thread-3', 'seed_thread-6']
    """
    cond = pl.lit(True) if include_post else is_comment()
    if min_depth is not None:
        cond &= pl.col("reply_depth") >= min_depth
    if max_depth is not None:
        cond &= pl.col("reply_depth") <= max_depth
    for flag, value in (("removed", removed), ("deleted", deleted)):
        if value is not None:
            cond &= pl.col(flag).fill_null(False) == value
    if has_text is not None:
        cond &= pl.col("text").is_not_null() == has_text
    return frame.filter(cond.fill_null(False))


def _one_thread(frame: pl.DataFrame, comment_id: str, thread_id: str | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    rows = frame.filter(pl.col("comment_id") == str(comment_id))
    if thread_id is not None:
        rows = rows.filter(pl.col("thread_id") == str(thread_id))
    if rows.height == 0:
        where = f" in thread {thread_id!r}" if thread_id is not None else ""
        raise KeyError(f"no comment {comment_id!r}{where}")
    if rows["thread_id"].n_unique() > 1:
        raise ConfigError("thread_id", f"comment id {comment_id!r} is in several threads "
                          f"{rows['thread_id'].unique().to_list()}; pass thread_id=...")
    thread = rows["thread_id"][0]
    return rows.head(1), frame.filter(pl.col("thread_id") == thread)


def context(
    frame: pl.DataFrame,
    comment_id: str,
    *,
    thread_id: str | None = None,
    around: int | None = None,
    text_width: int | None = 120,
    columns: Sequence[str] | None = None,
) -> pl.DataFrame:
    """A comment with its parent (first) and its direct replies (after it, in page order).

    Adds ``role`` as the first column: ``parent``, ``comment``, ``reply``, and ``before``/``after`` for the
    ``around`` neighbouring rows in page order. The parent is missing when it is not in the data.

    Args:
        frame: a comment frame with tree columns.
        comment_id: the comment.
        thread_id: its thread, needed when the id occurs in several threads.
        around: neighbours shown each side in page order (default: 1 when the comment's parent is unknown, as
            in flat sources or for orphans, else 0).
        text_width: the text column's width; ``None`` keeps the full text.
        columns: the other columns (default: as :func:`view`).

    Returns:
        ``role`` and the :func:`view` columns, one row per comment shown.

    Raises:
        KeyError: no such comment.
        ConfigError: the id occurs in several threads and ``thread_id`` was not given.

    >>> import toolkit
    >>> from toolkit import notebook as nb
    >>> reddit = toolkit.load(nb.data_path("reddit_sample_57dw9a.json"))
    >>> nb.context(reddit, "d8rvkuu").select("role", "comment_id", "reply_depth").rows()
    [('parent', 'd8ray04', 3), ('comment', 'd8rvkuu', 4)]
    >>> flat = toolkit.load(nb.data_path("seed_thread.txt"), format="text", post_lines=6)
    >>> nb.context(flat, "seed_thread-7")["role"].to_list()  # no parent known: the neighbours in page order
    ['before', 'comment', 'after']
    """
    row, thread = _one_thread(frame, comment_id, thread_id)
    cid, parent = row["comment_id"][0], row["parent_id"][0]
    parent_rows = thread.filter(pl.col("comment_id") == parent) if parent is not None else thread.head(0)
    if around is None:
        around = 1 if parent_rows.height == 0 and not row["is_post"][0] else 0
    replies = thread.filter((pl.col("parent_id") == cid) & (pl.col("comment_id") != cid)).sort("source_position")
    taken = {cid, *parent_rows["comment_id"].to_list(), *replies["comment_id"].to_list()}
    ordered = thread.sort("source_position").with_row_index("__i")
    i = ordered.filter(pl.col("comment_id") == cid)["__i"][0]
    near = ordered.filter((pl.col("__i").cast(pl.Int64) - i).abs().is_between(1, around) & ~pl.col("comment_id").is_in(taken))
    parts = {"parent": parent_rows, "before": near.filter(pl.col("__i") < i).drop("__i"), "comment": row,
             "reply": replies, "after": near.filter(pl.col("__i") > i).drop("__i")}  # no neighbours when around=0
    out = pl.concat([rows.with_columns(role=pl.lit(role)) for role, rows in parts.items()], how="vertical_relaxed")
    shown = view(out, columns, text_width=text_width or 10**9)
    return pl.concat([out.select("role"), shown], how="horizontal")


def most_toxic(
    frame: pl.DataFrame,
    label: str = "toxicity",
    n: int = 10,
    *,
    text_width: int | None = 100,
) -> pl.DataFrame:
    """The ``n`` highest-scoring comments on ``label``, with their ``rank`` and ``thread_id``.

    Posts and unscored rows are left out; ties keep page order.

    Args:
        frame: a scored comment frame (``toolkit.score``).
        label: the score column.
        n: how many.
        text_width: the text column's width; ``None`` keeps the full text.

    Returns:
        ``rank``, ``thread_id`` and the :func:`view` columns, best first.

    Raises:
        ConfigError: ``label`` is not a column of the frame.

    >>> import polars as pl
    >>> import toolkit
    >>> from toolkit import notebook as nb
    >>> frame = toolkit.load(nb.data_path("seed_thread.txt"), format="text", post_lines=6)
    >>> scored = frame.with_columns(toxicity=pl.col("text").str.contains("glow").cast(float) * 0.8 + 0.1)
    >>> nb.most_toxic(scored, n=2).select("rank", "comment_id", "toxicity").rows()
    [(1, 'seed_thread-7', 0.9), (2, 'seed_thread-8', 0.9)]
    """
    if label not in frame.columns:
        raise ConfigError("label", f"no score column {label!r} (score columns: {score_columns(frame)})")
    top = (frame.filter(is_comment() & scored(label))
           .sort([label, "source_position"], descending=[True, False]).head(n))
    top = top.with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int32))
    return pl.concat([top.select("rank", "thread_id"), view(top, text_width=text_width or 10**9)], how="horizontal")


def contexts(
    frame: pl.DataFrame,
    comment_ids: Iterable[str],
    *,
    thread_id: str | None = None,
    around: int | None = None,
    text_width: int | None = 120,
) -> pl.DataFrame:
    """:func:`context` of several comments stacked, numbered by ``rank`` (1, 2, ... in the order given).

    Print it readably with :func:`format_context`.

    Args:
        frame: a comment frame with tree columns.
        comment_ids: the comments.
        thread_id, around, text_width: as for :func:`context`.

    Returns:
        ``rank``, ``role`` and the :func:`view` columns; no rows when no ids are given.

    Raises:
        KeyError: one of the comments is not in the frame.

    >>> import toolkit
    >>> from toolkit import notebook as nb
    >>> frame = toolkit.load(nb.data_path("seed_thread.txt"), format="text", post_lines=6)
    >>> nb.contexts(frame, ["seed_thread-1", "seed_thread-12"]).select("rank", "role", "comment_id").rows()
    [(1, 'before', 'seed_thread'), (1, 'comment', 'seed_thread-1'), (1, 'after', 'seed_thread-2'), (2, 'before', 'seed_thread-11'), (2, 'comment', 'seed_thread-12')]
    """
    return _stacked(frame, ((thread_id, cid) for cid in comment_ids), around, text_width)


def most_toxic_with_context(
    frame: pl.DataFrame,
    label: str = "toxicity",
    n: int = 5,
    *,
    around: int | None = None,
    text_width: int | None = 120,
) -> pl.DataFrame:
    """The ``n`` most toxic comments (:func:`most_toxic`), each with its parent and direct replies.

    Args:
        frame: a scored comment frame.
        label: the score column.
        n: how many comments.
        around, text_width: as for :func:`context`.

    Returns:
        One block of rows per rank: ``rank``, ``role``, then the :func:`view` columns. Print it readably with
        :func:`format_context`.

    Raises:
        ConfigError: ``label`` is not a column of the frame.

    >>> import polars as pl
    >>> import toolkit
    >>> from toolkit import notebook as nb
    >>> frame = toolkit.load(nb.data_path("seed_thread.txt"), format="text", post_lines=6)
    >>> scored = frame.with_columns(toxicity=pl.col("text").str.contains("glow").cast(float) * 0.8 + 0.1)
    >>> nb.most_toxic_with_context(scored, n=1).select("rank", "role", "comment_id").rows()
    [(1, 'before', 'seed_thread-6'), (1, 'comment', 'seed_thread-7'), (1, 'after', 'seed_thread-8')]
    """
    top = most_toxic(frame, label, n, text_width=None)
    return _stacked(frame, top.select("thread_id", "comment_id").iter_rows(), around, text_width)


def _stacked(frame: pl.DataFrame, comments: Iterable[tuple[str | None, str]], around: int | None,
             text_width: int | None) -> pl.DataFrame:
    """The :func:`context` of each ``(thread_id, comment_id)``, stacked and numbered by ``rank`` from 1."""
    blocks = [context(frame, cid, thread_id=tid, around=around, text_width=text_width)
              .with_columns(rank=pl.lit(rank, pl.Int32)) for rank, (tid, cid) in enumerate(comments, start=1)]
    if not blocks:  # the columns, no rows
        shown = view(frame.head(0), text_width=text_width or 10**9)
        blocks = [pl.concat([pl.DataFrame(schema={"rank": pl.Int32, "role": pl.String}), shown], how="horizontal")]
    return pl.concat(blocks, how="vertical_relaxed").select("rank", "role", pl.exclude("rank", "role"))


def format_context(table: pl.DataFrame, label: str = "toxicity", *, text_width: int = 90) -> str:
    """Plain text for a :func:`context`, :func:`contexts` or :func:`most_toxic_with_context` table.

    One block per comment: the parent (or the rows before it) above it, replies indented below, each line
    with the score, depth, id, flags and text.

    Args:
        table: the table.
        label: the score column shown (``-`` when missing or null).
        text_width: the longest text shown per line.

    Returns:
        The lines, joined.

    >>> import polars as pl
    >>> import toolkit
    >>> from toolkit import notebook as nb
    >>> frame = toolkit.load(nb.data_path("seed_thread.txt"), format="text", post_lines=6)
    >>> scored = frame.with_columns(toxicity=pl.col("text").str.contains("glow").cast(float) * 0.8 + 0.1)
    >>> print(nb.format_context(nb.most_toxic_with_context(scored, n=1), text_width=40))
    #1
      · before    -   d=1 seed_thread-6 [removed]: (no text)
      ● comment 0.900 d=1 seed_thread-7: I can’t wait to glow with you
      · after   0.900 d=1 seed_thread-8: not the glow up i wanted
    """
    lines: list[str] = []
    marks = {"parent": "  ↑ parent ", "before": "  · before ", "comment": "  ● comment", "reply": "    ↳ reply ",
             "after": "  · after  "}
    ranks = table["rank"].to_list() if "rank" in table.columns else [None] * table.height
    previous = object()
    for rank, row in zip(ranks, table.iter_rows(named=True), strict=True):
        if rank != previous:
            if lines:
                lines.append("")
            if rank is not None:
                lines.append(f"#{rank}")
            previous = rank
        score = row.get(label)
        score_text = "  -  " if score is None or score != score else f"{score:.3f}"
        flags = "".join(f" [{f}]" for f in ("removed", "deleted") if row.get(f))
        text = row.get("text")
        text = "(no text)" if text is None else text.replace("\n", " ")
        if len(text) > text_width:
            text = text[: text_width - 1] + "…"
        depth = row.get("reply_depth")
        lines.append(f"{marks.get(row['role'], '  ')} {score_text} d={'?' if depth is None else depth} "
                     f"{row.get('comment_id')}{flags}: {text}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- figures


def draw_thread_tree(
    frame: pl.DataFrame,
    *,
    label: str = "toxicity",
    thread_id: str | None = None,
    pick: str = "largest",
    max_nodes: int = 3000,
    width: str | float = "double",
    style: str = "paper",
    dpi: float | None = 110,
    title: str | None = None,
) -> Any:
    """The thread-tree figure of one thread of ``frame`` (the ``thread_tree`` figure of a run), as a Figure.

    The figure is closed in pyplot and returned: a notebook shows it once, as the cell's value;
    ``fig.savefig(...)`` still works.

    Args:
        frame: a scored comment frame with tree columns.
        label: the score column that colours the nodes.
        thread_id: the thread, else the ``largest`` (or, with ``pick="most_removed"``, the most removed) one.
        max_nodes: the most comments drawn.
        width: ``single``, ``double`` or inches.
        style: a shipped style name or a .mplstyle path.
        dpi: the on-screen resolution only.
        title: the figure's title (default: ``Thread <id> as a tree``).

    Returns:
        A matplotlib Figure.

    Raises:
        ConfigError: ``label`` is not a column of the frame.

    >>> import polars as pl
    >>> import toolkit
    >>> from toolkit import notebook as nb
    >>> frame = toolkit.load(nb.data_path("seed_thread.txt"), format="text", post_lines=6)
    >>> scored = frame.with_columns(toxicity=pl.col("text").str.contains("glow").cast(float) * 0.8 + 0.1)
    >>> nb.draw_thread_tree(scored).axes[0].get_title()
    'Thread seed_thread as a tree'
    """
    from toolkit.analysis.thread_tables import thread_tree_table
    from toolkit.plots.figures import FigureSpec

    if label not in frame.columns:
        raise ConfigError("label", f"no score column {label!r}; score the frame first "
                          f"(score columns: {score_columns(frame)})")
    table, note = thread_tree_table(frame, label=label, thread_id=thread_id, pick=pick, max_nodes=max_nodes)
    thread = table["thread_id"][0] if table.height else "none"
    spec = FigureSpec("thread_tree", "thread_tree", title if title is not None else f"Thread {thread} as a tree",
                      note, {"label": label})
    return draw_figure(spec, table, style=style, width=width, dpi=dpi)


def draw_figure(
    spec: Any,
    table: pl.DataFrame,
    *,
    style: str = "paper",
    width: str | float = "single",
    dpi: float | None = 110,
) -> Any:
    """Draw a figure from its spec (``FigureSpec``: kind, title, footer, options) and data table, as a Figure.

    The same drawers as a run's saved figures; a spec's ``min_width: double`` wins over ``width="single"``.

    Args:
        spec: the figure's ``toolkit.plots.figures.FigureSpec``.
        table: its data.
        style, width, dpi: as for :func:`draw_thread_tree`.

    Returns:
        A matplotlib Figure, closed in pyplot.

    Raises:
        ConfigError: the spec's kind has no drawer.

    >>> import polars as pl
    >>> import toolkit
    >>> from toolkit import notebook as nb
    >>> from toolkit.plots.figures import FigureSpec
    >>> frame = toolkit.load(nb.data_path("seed_thread.txt"), format="text", post_lines=6)
    >>> scored = frame.with_columns(toxicity=pl.col("text").str.contains("glow").cast(float) * 0.8 + 0.1)
    >>> spec = FigureSpec("scores", "histogram", "Scores", "", {"label": "toxicity"})
    >>> nb.draw_figure(spec, toolkit.score_distribution(scored, bins=5)).axes[0].get_title()
    'Scores'
    """
    import matplotlib.pyplot as plt

    from toolkit.plots.figures import DRAWERS, style_path

    if spec.kind not in DRAWERS:
        raise ConfigError("spec.kind", f"figure {spec.name!r}: unknown kind {spec.kind!r}; known: {sorted(DRAWERS)}")
    if spec.options.get("min_width") == "double" and width == "single":
        width = "double"
    with plt.style.context(style_path(style)):
        fig = DRAWERS[spec.kind](table, spec, width)
    if dpi:
        fig.set_dpi(dpi)
    plt.close(fig)  # detached from pyplot, so the inline backend does not show it a second time
    return fig


def figure_from_run(
    run_dir: str | Path,
    name: str,
    *,
    style: str = "paper",
    width: str | float = "single",
    dpi: float | None = 110,
) -> Any:
    """Redraw the figure ``name`` of a run directory from its saved table and spec, in memory, as a Figure.

    Nothing in the run directory is written (``toolkit-figures`` rewrites the files).

    Args:
        run_dir: a run directory (``figures/NAME.json`` and ``.csv``).
        name: the figure (see :func:`figure_names`).
        style, width, dpi: as for :func:`draw_thread_tree`.

    Returns:
        A matplotlib Figure, closed in pyplot.

    >>> import tempfile
    >>> import polars as pl
    >>> import toolkit
    >>> from toolkit import notebook as nb
    >>> from toolkit.plots.figures import FigureSpec, save_figure
    >>> frame = toolkit.load(nb.data_path("seed_thread.txt"), format="text", post_lines=6)
    >>> scored = frame.with_columns(toxicity=pl.col("text").str.contains("glow").cast(float) * 0.8 + 0.1)
    >>> run = tempfile.mkdtemp()
    >>> spec = FigureSpec("scores", "histogram", "Scores", "", {"label": "toxicity"})
    >>> _ = save_figure(toolkit.score_distribution(scored, bins=5), spec, f"{run}/figures", formats=("png",), dpi=40)
    >>> nb.figure_names(run)
    ['scores']
    >>> nb.figure_from_run(run, "scores", width="double").get_size_inches().round(1).tolist()[0]
    7.2
    """
    from toolkit.plots.figures import load_figure

    spec, table = load_figure(Path(run_dir) / "figures", name)
    return draw_figure(spec, table, style=style, width=width, dpi=dpi)


def figure_names(run_dir: str | Path) -> list[str]:
    """The figures a run directory holds (``figures/*.json``), by name; see :func:`figure_from_run`.

    >>> import tempfile
    >>> from toolkit import notebook as nb
    >>> nb.figure_names(tempfile.mkdtemp())  # not a run directory: no figures
    []
    """
    return sorted(p.stem for p in (Path(run_dir) / "figures").glob("*.json"))


def _png_bytes(item: Any, dpi: float | None) -> bytes:
    if isinstance(item, str | Path):
        return Path(item).read_bytes()
    buffer = io.BytesIO()
    item.savefig(buffer, format="png", dpi=dpi or item.dpi, bbox_inches="tight")
    return buffer.getvalue()


class SideBySide:
    """Images shown next to each other in a notebook (HTML), each with a title; also in exported HTML.

    Made by :func:`side_by_side`; ``images`` are PNG bytes.

    >>> from toolkit import notebook as nb
    >>> nb.SideBySide([b"png", b"png"], ["a", "b"])
    SideBySide(a, b)
    """

    def __init__(self, images: Sequence[bytes], titles: Sequence[str], width_px: int | None = None) -> None:
        self.images, self.titles, self.width_px = list(images), list(titles), width_px

    def _repr_html_(self) -> str:
        style = f"width:{self.width_px}px;" if self.width_px else f"max-width:{100 / max(1, len(self.images)):.0f}%;"
        cells = "".join(
            f'<td style="vertical-align:top;text-align:center;{style}"><div style="font-weight:bold;'
            f'margin-bottom:4px">{html.escape(t)}</div><img style="max-width:100%" '
            f'src="data:image/png;base64,{base64.b64encode(img).decode()}"/></td>'
            for img, t in zip(self.images, self.titles, strict=True)
        )
        return f'<table style="border:none"><tr>{cells}</tr></table>'

    def __repr__(self) -> str:
        return f"SideBySide({', '.join(self.titles)})"


def side_by_side(
    items: Iterable[Any], titles: Sequence[str] | None = None, *, dpi: float | None = 110, width_px: int | None = None
) -> SideBySide:
    """Figures (matplotlib Figures or PNG paths) shown side by side in a notebook, each with a title.

    Args:
        items: the figures.
        titles: one per figure (default: 1, 2, ...).
        dpi: the resolution of Figures turned into PNG.
        width_px: each image's width (default: shared equally).

    Returns:
        A :class:`SideBySide`, shown as HTML by Jupyter.

    Raises:
        ConfigError: not one title per figure.

    >>> import matplotlib.pyplot as plt
    >>> from toolkit import notebook as nb
    >>> fig = plt.figure(figsize=(1, 1))
    >>> nb.side_by_side([fig, fig], titles=["before", "after"], dpi=20)
    SideBySide(before, after)
    >>> plt.close(fig)
    """
    items = list(items)
    titles = _names(titles, len(items), "{}", "titles", "items")
    return SideBySide([_png_bytes(i, dpi) for i in items], titles, width_px)


# --------------------------------------------------------------------------------------------- configs and runs


def _composed(overrides: Sequence[str]) -> tuple[Any, dict[str, Any]]:
    """The command line's config for ``overrides``: typed settings and the resolved config (for a manifest)."""
    from omegaconf import OmegaConf

    from toolkit.cli.app import compose_config, to_settings

    cfg = compose_config(overrides)
    return to_settings(cfg), OmegaConf.to_container(cfg, resolve=True)


def settings(overrides: Sequence[str] = ()) -> Any:
    """The typed settings (``toolkit.settings.RunSettings``) that ``toolkit OVERRIDES`` would run: the same
    defaults, experiment files and checks (a misspelt key fails here as on the command line).

    >>> from toolkit import notebook as nb
    >>> s = nb.settings(["+experiment=escalation", "analysis.n_boot=200"])
    >>> s.experiment, s.dataset.name, s.analysis.n_boot
    ('escalation', 'reddit_sample', 200)
    """
    return _composed(overrides)[0]


def run(overrides: Sequence[str], run_dir: str | Path) -> dict[str, Any]:
    """Run ``toolkit OVERRIDES`` into ``run_dir`` (tables, figures, manifest, as the command line writes them);
    returns the manifest."""
    from toolkit.pipeline import run_experiment

    run_settings, resolved = _composed(overrides)
    return run_experiment(run_settings, Path(run_dir), resolved_config=resolved)


def render_run(run_dir: str | Path, **options: Any) -> list[Path]:
    """Rewrite a run's figure files from their saved tables (``style``, ``width``, ``formats``, ``dpi``,
    ``out_dir``), as ``toolkit-figures`` does; returns the files written."""
    from toolkit.plots.figures import render_run as render

    return render(run_dir, **options)


def load_dataset(dataset: Any) -> tuple[pl.DataFrame, Any]:
    """A dataset's frame (tree columns) and load report, from its settings (``nb.settings([...]).dataset``): the
    path found as a run finds it (working directory, then the bundled data), its format and loader options.

    >>> from toolkit import notebook as nb
    >>> frame, report = nb.load_dataset(nb.settings().dataset)
    >>> frame.height, report.rejects.height
    (13, 0)
    """
    import toolkit
    from toolkit.pipeline import resolve_data_path

    return toolkit.load_with_report(resolve_data_path(dataset.path), dataset.format, **dataset.options)


def run_analysis(name: str, frame: pl.DataFrame, *, label: str = "toxicity", threshold: float = 0.5,
                 n_boot: int = 1000, seed: int = 0, labels: Sequence[str] = (), footer: str = "",
                 params: Any = None) -> Any:
    """One analysis of a run (``analysis.run``'s names) on a scored frame: its tables and figures as a run
    makes them (an ``AnalysisOutput``: ``.tables``, ``.figures`` as (spec, table) for :func:`draw_figure`,
    ``.skipped``). ``params``: a ``toolkit.settings.AnalysisParams`` (default: every analysis' defaults).

    Raises:
        ConfigError: an unknown analysis name.

    >>> from toolkit import notebook as nb
    >>> from toolkit.analysis.synthetic import example_threads
    >>> out = nb.run_analysis("thread_summary", example_threads(), n_boot=50)
    >>> sorted(out.tables)
    ['thread_summary']
    """
    from toolkit.analysis.registry import ANALYSES, AnalysisContext
    from toolkit.settings import AnalysisParams

    if name not in ANALYSES:
        raise ConfigError("analysis", f"unknown analysis {name!r}; known: {', '.join(sorted(ANALYSES))}")
    ctx = AnalysisContext(label=label, threshold=threshold, n_boot=n_boot, seed=seed, footer=footer,
                          params=params if params is not None else AnalysisParams(), labels=list(labels))
    return ANALYSES[name](frame, ctx)


# --------------------------------------------------------------------------------------------- run directories


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """A run directory's ``manifest.json`` (config, inputs, scorer, counts, versions, timings).

    Raises:
        LoadError: the directory has no manifest.

    >>> import json, tempfile
    >>> from pathlib import Path
    >>> from toolkit import notebook as nb
    >>> run = Path(tempfile.mkdtemp())
    >>> _ = (run / "manifest.json").write_text(json.dumps({"experiment": "demo", "counts": {"rows_kept": 13}}))
    >>> nb.read_manifest(run)["counts"]
    {'rows_kept': 13}
    """
    path = Path(run_dir) / "manifest.json"
    if not path.is_file():
        raise LoadError(path, f"no manifest: is {run_dir} a toolkit run directory?")
    return json.loads(path.read_text())


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, sub in value.items():
            out.update(_flatten(sub, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def manifest_summary(run: str | Path | dict[str, Any]) -> pl.DataFrame:
    """The manifest's headline facts as ``key, value`` rows: experiment, input, scorer (and any fallback),
    counts, analyses, commit, wall time.

    Args:
        run: a run directory or its manifest (a dict, as :func:`read_manifest` returns).

    Returns:
        Two string columns, ``key`` and ``value`` (JSON for non-strings).

    >>> from toolkit import notebook as nb
    >>> summary = nb.manifest_summary({"experiment": "demo", "scorer": {"scorer": "profanity"}})
    >>> summary.head(4).rows()
    [('experiment', 'demo'), ('input', 'null'), ('format', 'null'), ('scorer', 'profanity')]
    """
    m = run if isinstance(run, dict) else read_manifest(run)
    scorer, config = m.get("scorer", {}), m.get("config", {})
    git = m.get("git") or {}
    rows = {
        "experiment": m.get("experiment"),
        "input": m.get("inputs", {}).get("path"),
        "format": m.get("inputs", {}).get("format"),
        "scorer": scorer.get("scorer"),
        "scorer fallback": scorer.get("fallback_reason"),
        "labels": scorer.get("labels"),
        "cache hits / misses": f"{scorer.get('cache_hits')} / {scorer.get('cache_misses')}",
        "analyses": config.get("analysis", {}).get("run"),
        "threshold": config.get("analysis", {}).get("threshold"),
        "n_boot": config.get("analysis", {}).get("n_boot"),
        **{f"counts.{k}": v for k, v in m.get("counts", {}).items() if not isinstance(v, dict)},
        "git commit": git.get("commit") if isinstance(git, dict) else git,
        "wall seconds": m.get("wall_seconds"),
    }
    return pl.DataFrame({"key": list(rows), "value": [_text(v) for v in rows.values()]})


def compare_manifests(
    runs: Sequence[str | Path | dict[str, Any]],
    names: Sequence[str] | None = None,
    *,
    sections: Sequence[str] = ("config", "scorer", "counts"),
    only_differences: bool = True,
) -> pl.DataFrame:
    """Manifest entries of several runs side by side (one column per run), flattened to dotted keys.

    Args:
        runs: run directories or manifests.
        names: the column of each run (default: ``run 1``, ``run 2``, ...).
        sections: the manifest sections compared.
        only_differences: keep only the keys whose values differ between the runs.

    Returns:
        ``key`` and one string column per run.

    Raises:
        ConfigError: not one name per run.

    >>> from toolkit import notebook as nb
    >>> a = {"config": {"analysis": {"threshold": 0.5, "n_boot": 1000}}}
    >>> b = {"config": {"analysis": {"threshold": 0.3, "n_boot": 1000}}}
    >>> nb.compare_manifests([a, b], names=["a", "b"]).rows()
    [('config.analysis.threshold', '0.5', '0.3')]
    """
    manifests = [r if isinstance(r, dict) else read_manifest(r) for r in runs]
    names = _names(names, len(manifests), "run {}")
    flat = [_flatten({s: m.get(s) for s in sections}) for m in manifests]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    rows = [(k, [_text(f.get(k)) for f in flat]) for k in keys]
    if only_differences:
        rows = [(k, v) for k, v in rows if len(set(v)) > 1]
    return pl.DataFrame({"key": [k for k, _ in rows], **{n: [v[i] for _, v in rows] for i, n in enumerate(names)}},
                        schema={"key": pl.String, **{n: pl.String for n in names}})


def _names(given: Sequence[str] | None, n: int, default: str, key: str = "names", things: str = "runs") -> list[str]:
    """One name per thing: ``given``, else ``default`` numbered from 1; a ConfigError naming ``key`` otherwise."""
    names = list(given) if given is not None else [default.format(i + 1) for i in range(n)]
    if len(names) != n:
        raise ConfigError(key, f"{n} {things} but {len(names)} {key}")
    return names


def run_table(run_dir: str | Path, name: str) -> pl.DataFrame:
    """A run's table ``tables/NAME.csv``.

    Raises:
        LoadError: no such table (the message lists the run's tables).

    >>> import tempfile
    >>> from pathlib import Path
    >>> import polars as pl
    >>> from toolkit import notebook as nb
    >>> run = Path(tempfile.mkdtemp())
    >>> (run / "tables").mkdir()
    >>> pl.DataFrame({"depth_bin": ["1", "2"], "mean": [0.1, 0.2]}).write_csv(run / "tables" / "depth_profile.csv")
    >>> nb.run_table(run, "depth_profile")["mean"].to_list()
    [0.1, 0.2]
    """
    path = Path(run_dir) / "tables" / f"{name}.csv"
    if not path.is_file():
        known = sorted(p.stem for p in (Path(run_dir) / "tables").glob("*.csv"))
        raise LoadError(path, f"no such table; this run has {known}")
    return pl.read_csv(path, infer_schema_length=None)


def compare_tables(
    runs: Sequence[str | Path], name: str, names: Sequence[str] | None = None, *, on: Sequence[str] | None = None
) -> pl.DataFrame:
    """The table ``name`` of several runs, stacked or joined.

    Args:
        runs: run directories.
        name: the table (``tables/NAME.csv``).
        names: each run's name (default: ``run1``, ``run2``, ...).
        on: key columns: join the runs on them, every other column once per run (suffixed ``_<run name>``);
            ``None`` stacks the tables with a leading ``run`` column.

    Returns:
        The stacked or joined table.

    Raises:
        ConfigError: not one name per run.
        LoadError: a run lacks the table.

    >>> import tempfile
    >>> from pathlib import Path
    >>> import polars as pl
    >>> from toolkit import notebook as nb
    >>> runs = [Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())]
    >>> for run, mean in zip(runs, (0.1, 0.3)):
    ...     (run / "tables").mkdir()
    ...     pl.DataFrame({"depth_bin": ["1"], "mean": [mean]}).write_csv(run / "tables" / "depth_profile.csv")
    >>> nb.compare_tables(runs, "depth_profile", names=["a", "b"], on=["depth_bin"]).rows()
    [(1, 0.1, 0.3)]
    """
    names = _names(names, len(runs), "run{}")
    tables = [run_table(r, name) for r in runs]
    if on is None:
        return pl.concat([t.select(pl.lit(n).alias("run"), pl.all()) for n, t in zip(names, tables, strict=True)],
                         how="diagonal_relaxed")
    keys = list(on)
    renamed = [t.rename({c: f"{c}_{n}" for c in t.columns if c not in keys}) for n, t in zip(names, tables, strict=True)]
    return functools.reduce(lambda a, b: a.join(b, on=keys, how="full", coalesce=True, maintain_order="left"), renamed)
