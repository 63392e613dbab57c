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
import html
import io
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.schema import COMMENT_SCHEMA

__all__ = [
    "PROJECT_ROOT", "SideBySide", "compare_manifests", "compare_tables", "context", "contexts", "data_path",
    "draw_figure", "draw_thread_tree", "figure_from_run", "figure_names", "filter_comments", "format_context",
    "manifest_summary", "most_toxic", "most_toxic_with_context", "read_manifest", "read_table", "score_columns",
    "setup", "shorten", "side_by_side", "use_inline_backend", "view",
]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ROLES = ("parent", "before", "comment", "reply", "after")
_VIEW_BASE = ("comment_id", "parent_id", "reply_depth", "author", "removed", "deleted")


# --------------------------------------------------------------------------------------------- setup


def setup(*, text_width: int = 100, rows: int = 20, float_precision: int = 3, inline: bool = True) -> None:
    """Readable notebook output: Polars tables show strings up to ``text_width`` characters, up to ``rows``
    rows and floats with ``float_precision`` decimals; matplotlib draws inline when in a Jupyter kernel.

    Polars' own defaults cut every string at 30 characters, which hides the comments one wants to read.
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

    ``toolkit.plots`` selects the non-interactive Agg backend when imported (right for scripts and the CLI,
    but a notebook then shows figures as ``<Figure size ...>`` text). This imports it first, then switches
    the kernel back to the inline backend. Outside a kernel it does nothing.
    """
    import toolkit.plots.figures  # noqa: F401  (its backend choice must happen before ours)

    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return False
    shell.run_line_magic("matplotlib", "inline")
    return True


def data_path(name: str) -> Path:
    """A bundled data file by name: ``<project>/data/NAME``, else the CI's ``<project>/../shared/data/NAME``.

    Notebooks run with the notebook's folder as working directory; this finds the data from anywhere.
    """
    for root in (PROJECT_ROOT / "data", PROJECT_ROOT.parent / "shared" / "data"):
        if (root / name).exists():
            return root / name
    raise FileNotFoundError(f"{name}: not in {PROJECT_ROOT / 'data'} nor {PROJECT_ROOT.parent / 'shared' / 'data'}")


# --------------------------------------------------------------------------------------------- views


def score_columns(frame: pl.DataFrame) -> list[str]:
    """The score columns a scorer added: float columns that are not part of the canonical schema."""
    return [c for c, t in frame.schema.items() if t.is_float() and c not in COMMENT_SCHEMA]


def shorten(column: str | pl.Expr = "text", width: int = 80) -> pl.Expr:
    """One-line text: whitespace runs collapsed to one space, cut to ``width`` characters with an ellipsis.

    Null text (removed or deleted comments) shows as null, so it stays distinguishable from empty text.
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

    ``columns`` replaces the default choice (text is always appended last, shortened); ``extra`` adds columns.
    """
    chosen = list(columns) if columns is not None else [c for c in _VIEW_BASE if c in frame.columns]
    if columns is None:
        chosen += score_columns(frame)
    chosen += [c for c in extra if c not in chosen]
    chosen = [c for c in chosen if c != "text"]
    missing = [c for c in chosen if c not in frame.columns]
    if missing:
        raise ValueError(f"view: no column(s) {missing} in the frame (columns: {frame.columns})")
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
    """
    cond = pl.lit(True) if include_post else ~pl.col("is_post")
    if min_depth is not None:
        cond &= pl.col("reply_depth") >= min_depth
    if max_depth is not None:
        cond &= pl.col("reply_depth") <= max_depth
    if removed is not None:
        cond &= pl.col("removed").fill_null(False) == removed
    if deleted is not None:
        cond &= pl.col("deleted").fill_null(False) == deleted
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
        raise ValueError(f"comment id {comment_id!r} is in several threads {rows['thread_id'].unique().to_list()}; "
                         "pass thread_id=...")
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
    ``around`` neighbouring rows in page order (default: 1 when the comment's parent is unknown, as in flat
    sources or for orphans, else 0). The parent is missing when it is not in the data.
    ``text_width=None`` keeps the full text; ``columns`` picks the other columns (default: as :func:`view`).
    """
    row, thread = _one_thread(frame, comment_id, thread_id)
    cid, parent = row["comment_id"][0], row["parent_id"][0]
    parent_rows = thread.filter(pl.col("comment_id") == parent) if parent is not None else thread.head(0)
    if around is None:
        around = 1 if parent_rows.height == 0 and not row["is_post"][0] else 0
    replies = thread.filter((pl.col("parent_id") == cid) & (pl.col("comment_id") != cid)).sort("source_position")
    parts = [parent_rows.with_columns(role=pl.lit("parent"))]
    if around > 0:
        taken = {cid, *parent_rows["comment_id"].to_list(), *replies["comment_id"].to_list()}
        ordered = thread.sort("source_position").with_row_index("__i")
        i = ordered.filter(pl.col("comment_id") == cid)["__i"][0]
        near = ordered.filter((pl.col("__i").cast(pl.Int64) - i).abs().is_between(1, around) & ~pl.col("comment_id").is_in(taken))
        parts.append(near.filter(pl.col("__i") < i).drop("__i").with_columns(role=pl.lit("before")))
        parts.append(row.with_columns(role=pl.lit("comment")))
        parts.append(replies.with_columns(role=pl.lit("reply")))
        parts.append(near.filter(pl.col("__i") > i).drop("__i").with_columns(role=pl.lit("after")))
    else:
        parts += [row.with_columns(role=pl.lit("comment")), replies.with_columns(role=pl.lit("reply"))]
    out = pl.concat(parts, how="vertical_relaxed")
    shown = view(out, columns, text_width=text_width or 10**9)
    return pl.concat([out.select("role"), shown], how="horizontal")


def most_toxic(
    frame: pl.DataFrame,
    label: str = "toxicity",
    n: int = 10,
    *,
    text_width: int | None = 100,
) -> pl.DataFrame:
    """The ``n`` highest-scoring comments on ``label`` (posts and unscored rows left out), with ``rank``."""
    if label not in frame.columns:
        raise ValueError(f"most_toxic: no score column {label!r} (score columns: {score_columns(frame)})")
    top = (frame.filter(~pl.col("is_post") & pl.col(label).is_not_null() & pl.col(label).is_not_nan())
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
    """
    blocks = [
        context(frame, cid, thread_id=thread_id, around=around, text_width=text_width)
        .with_columns(rank=pl.lit(rank, pl.Int32))
        for rank, cid in enumerate(comment_ids, start=1)
    ]
    if not blocks:
        return _empty_context(frame, text_width)
    return pl.concat(blocks, how="vertical_relaxed").select("rank", "role", pl.exclude("rank", "role"))


def most_toxic_with_context(
    frame: pl.DataFrame,
    label: str = "toxicity",
    n: int = 5,
    *,
    around: int | None = None,
    text_width: int | None = 120,
) -> pl.DataFrame:
    """The ``n`` most toxic comments, each with its parent and direct replies: one block of rows per rank
    (``rank``, ``role``, then the :func:`view` columns). Print it readably with :func:`format_context`."""
    top = most_toxic(frame, label, n, text_width=None)
    blocks = [
        context(frame, cid, thread_id=tid, around=around, text_width=text_width)
        .with_columns(rank=pl.lit(rank, pl.Int32))
        for rank, tid, cid in top.select("rank", "thread_id", "comment_id").iter_rows()
    ]
    if not blocks:
        return _empty_context(frame, text_width)
    return pl.concat(blocks, how="vertical_relaxed").select("rank", "role", pl.exclude("rank", "role"))


def _empty_context(frame: pl.DataFrame, text_width: int | None = 120) -> pl.DataFrame:
    """An empty frame with the columns of :func:`contexts` (nothing to show)."""
    shown = view(frame.head(0), text_width=text_width or 10**9)
    return pl.concat([pl.DataFrame(schema={"rank": pl.Int32, "role": pl.String}), shown], how="horizontal")


def format_context(table: pl.DataFrame, label: str = "toxicity", *, text_width: int = 90) -> str:
    """Plain text for a :func:`context` or :func:`most_toxic_with_context` table: one block per comment,
    the parent (or the rows before it) above it, replies indented below, each line with score and flags."""
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


def _closed(fig: Any, dpi: float | None) -> Any:
    """Detach ``fig`` from pyplot (so the inline backend does not show it a second time) and set its dpi."""
    import matplotlib.pyplot as plt

    if dpi:
        fig.set_dpi(dpi)
    plt.close(fig)
    return fig


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

    ``thread_id`` picks the thread, else the ``largest`` (or ``most_removed``) one. Nodes are coloured by
    ``label``. The figure is closed in pyplot and returned: a notebook shows it once, as the cell's value;
    ``fig.savefig(...)`` still works. ``dpi`` sets the on-screen resolution only.
    """
    from toolkit.analysis import distribution
    from toolkit.plots.figures import DRAWERS, FigureSpec

    if label not in frame.columns:
        raise ValueError(f"draw_thread_tree: no score column {label!r}; score the frame first "
                         f"(score columns: {score_columns(frame)})")
    if "thread_tree" in DRAWERS and hasattr(distribution, "thread_tree_table"):
        table, note = distribution.thread_tree_table(frame, label=label, thread_id=thread_id, pick=pick,
                                                     max_nodes=max_nodes)
        kind = "thread_tree"
    else:  # older library without the tree layout: the page-order thread view
        table, note, kind = distribution.thread_view_table(frame, label=label, thread_id=thread_id), "", "thread"
    thread = table["thread_id"][0] if table.height else "none"
    spec = FigureSpec("thread_tree", kind, title if title is not None else f"Thread {thread} as a tree",
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
    """
    import matplotlib.pyplot as plt

    from toolkit.plots.figures import DRAWERS, style_path

    if spec.kind not in DRAWERS:
        raise ValueError(f"figure {spec.name!r}: unknown kind {spec.kind!r}; known: {sorted(DRAWERS)}")
    if spec.options.get("min_width") == "double" and width == "single":
        width = "double"
    with plt.style.context(style_path(style)):
        fig = DRAWERS[spec.kind](table, spec, width)
    return _closed(fig, dpi)


def figure_from_run(
    run_dir: str | Path,
    name: str,
    *,
    style: str = "paper",
    width: str | float = "single",
    dpi: float | None = 110,
) -> Any:
    """Redraw the figure ``name`` of a run directory from its saved table and spec, in memory, as a Figure.

    Nothing in the run directory is written (``toolkit.plots.figures.render_run`` rewrites the files).
    """
    from toolkit.plots.figures import load_figure

    spec, table = load_figure(Path(run_dir) / "figures", name)
    return draw_figure(spec, table, style=style, width=width, dpi=dpi)


def figure_names(run_dir: str | Path) -> list[str]:
    """The figures a run directory holds (``figures/*.json``), by name."""
    return sorted(p.stem for p in (Path(run_dir) / "figures").glob("*.json"))


def _png_bytes(item: Any, dpi: float | None) -> bytes:
    if isinstance(item, str | Path):
        return Path(item).read_bytes()
    buffer = io.BytesIO()
    item.savefig(buffer, format="png", dpi=dpi or item.dpi, bbox_inches="tight")
    return buffer.getvalue()


class SideBySide:
    """Images shown next to each other in a notebook (HTML), each with a title; also in exported HTML."""

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
    """Figures (matplotlib Figures or PNG paths) shown side by side; ``titles`` default to 1, 2, ..."""
    items = list(items)
    titles = list(titles) if titles is not None else [str(i + 1) for i in range(len(items))]
    if len(titles) != len(items):
        raise ValueError(f"side_by_side: {len(items)} items but {len(titles)} titles")
    return SideBySide([_png_bytes(i, dpi) for i in items], titles, width_px)


# --------------------------------------------------------------------------------------------- run directories


def read_manifest(run_dir: str | Path) -> dict[str, Any]:
    """A run directory's ``manifest.json``."""
    path = Path(run_dir) / "manifest.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no manifest (is {run_dir} a toolkit run directory?)")
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
    counts, analyses, commit, wall time."""
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

    By default only the keys whose values differ between the runs, from ``config``, ``scorer`` and ``counts``.
    """
    manifests = [r if isinstance(r, dict) else read_manifest(r) for r in runs]
    names = list(names) if names is not None else [f"run {i + 1}" for i in range(len(manifests))]
    if len(names) != len(manifests):
        raise ValueError(f"compare_manifests: {len(manifests)} runs but {len(names)} names")
    flat = [_flatten({s: m.get(s) for s in sections}) for m in manifests]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    rows = [(k, [_text(f.get(k)) for f in flat]) for k in keys]
    if only_differences:
        rows = [(k, v) for k, v in rows if len(set(v)) > 1]
    return pl.DataFrame({"key": [k for k, _ in rows], **{n: [v[i] for _, v in rows] for i, n in enumerate(names)}},
                        schema={"key": pl.String, **{n: pl.String for n in names}})


def read_table(run_dir: str | Path, name: str) -> pl.DataFrame:
    """A run's table ``tables/NAME.csv``."""
    path = Path(run_dir) / "tables" / f"{name}.csv"
    if not path.is_file():
        known = sorted(p.stem for p in (Path(run_dir) / "tables").glob("*.csv"))
        raise FileNotFoundError(f"{path}: no such table; this run has {known}")
    return pl.read_csv(path, infer_schema_length=None)


def compare_tables(
    runs: Sequence[str | Path], name: str, names: Sequence[str] | None = None, *, on: Sequence[str] | None = None
) -> pl.DataFrame:
    """The table ``name`` of several runs: stacked with a leading ``run`` column, or, with ``on`` (key
    columns), joined so that every other column appears once per run (suffixed ``_<run name>``)."""
    names = list(names) if names is not None else [f"run{i + 1}" for i in range(len(runs))]
    if len(names) != len(runs):
        raise ValueError(f"compare_tables: {len(runs)} runs but {len(names)} names")
    tables = [read_table(r, name) for r in runs]
    if on is None:
        return pl.concat([t.select(pl.lit(n).alias("run"), pl.all()) for n, t in zip(names, tables, strict=True)],
                         how="diagonal_relaxed")
    keys = list(on)
    out: pl.DataFrame | None = None
    for n, t in zip(names, tables, strict=True):
        t = t.rename({c: f"{c}_{n}" for c in t.columns if c not in keys})
        out = t if out is None else out.join(t, on=keys, how="full", coalesce=True, maintain_order="left")
    assert out is not None
    return out
