"""Paper figures drawn from their data tables only, so any figure can be re-rendered without data or model.

Every figure is saved as PNG (300 dpi) and PDF with its data table (CSV) and a small JSON spec beside it;
:func:`render_run` redraws all figures of a run directory from those files (``toolkit-figures RUN_DIR``).
Drawers live in :mod:`toolkit.plots.charts` and :mod:`toolkit.plots.tree`; :data:`DRAWERS` maps each figure
kind to one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import matplotlib.style as mpl_style
import polars as pl
from matplotlib.figure import Figure

from toolkit.errors import LoadError
from toolkit.outputs import FigureSpec
from toolkit.plots import charts
from toolkit.plots.base import style_path
from toolkit.plots.tree import draw_thread_tree

# Fixed metadata per format: the same table and style give the same bytes (no creation date).
METADATA = {"pdf": {"CreationDate": None, "Creator": "toolkit", "Producer": "toolkit"},
            "png": {"Software": "toolkit"}, "svg": {"Date": None}}
Drawer = Callable[[pl.DataFrame, FigureSpec, str], Figure]
# Figure kind (``FigureSpec.kind``) -> the function that draws it from its data table.
DRAWERS: dict[str, Drawer] = {
    "profile": charts.draw_profile,
    "group_means": charts.draw_group_means,
    "histogram": charts.draw_histogram,
    "rate_bars": charts.draw_rate_bars,
    "matched_context": charts.draw_matched_context,
    "calm_down": charts.draw_calm_down,
    "auc_forest": charts.draw_auc_forest,
    "odds_ratios": charts.draw_odds_ratios,
    "roc_pr": charts.draw_roc_pr,
    "calibration": charts.draw_calibration,
    "agreement_matrix": charts.draw_agreement_matrix,
    "thread_length": charts.draw_thread_length,
    "thread_scatter": charts.draw_thread_scatter,
    "thread": charts.draw_thread,
    "thread_tree": draw_thread_tree,
    "strategy_heatmap": charts.draw_strategy_heatmap,
    "log_odds_forest": charts.draw_log_odds_forest,
    "crosswalk": charts.draw_crosswalk,
    "specification_curve": charts.draw_specification_curve,
}

def save_figure(
    table: pl.DataFrame,
    spec: FigureSpec,
    out_dir: str | Path,
    *,
    style: str = "paper",
    width: str = "single",
    formats: tuple[str, ...] = ("png", "pdf"),
    dpi: int = 300,
) -> list[Path]:
    """Draw ``spec`` from ``table``; write the figure files, its data table (CSV) and spec (JSON) to ``out_dir``.

    Returns every path written (data table and spec included).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data, spec_file = out_dir / f"{spec.name}.csv", out_dir / f"{spec.name}.json"
    table.write_csv(data)
    payload = {**asdict(spec), "columns": {c: _dtype_name(t) for c, t in table.schema.items()}}
    spec_file.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
    return [data, spec_file, *render_figure(out_dir, spec.name, style=style, width=width, formats=formats, dpi=dpi)]


def load_figure(fig_dir: str | Path, name: str) -> tuple[FigureSpec, pl.DataFrame]:
    """A saved figure's spec and data table."""
    fig_dir = Path(fig_dir)
    payload = json.loads((fig_dir / f"{name}.json").read_text())
    columns = payload.pop("columns", {})
    spec = FigureSpec(**payload)
    # Text columns stay text (ids and labels such as "1" or "007" must not turn into numbers).
    strings = {c: pl.String for c, t in columns.items() if t in ("str", "enum", "cat")}
    return spec, pl.read_csv(fig_dir / f"{name}.csv", infer_schema_length=None, schema_overrides=strings)


def _dtype_name(dtype: pl.DataType) -> str:
    """A short dtype name for the spec file (``str``, ``f64``, ``i64``, ``bool``, ``datetime``, ...)."""
    return {pl.String: "str", pl.Enum: "enum", pl.Categorical: "cat"}.get(dtype.base_type(), str(dtype).lower())


def render_figure(
    fig_dir: str | Path,
    name: str,
    *,
    style: str = "paper",
    width: str = "single",
    formats: tuple[str, ...] = ("png", "pdf"),
    dpi: int = 300,
    out_dir: str | Path | None = None,
) -> list[Path]:
    """Redraw one saved figure from its CSV table and JSON spec, into ``out_dir`` (default: beside them).

    A spec may ask for a minimum width (``options.min_width``, e.g. ``double`` for multi-panel figures).
    """
    fig_dir = Path(fig_dir)
    spec, table = load_figure(fig_dir, name)
    if spec.kind not in DRAWERS:
        raise LoadError(fig_dir / f"{name}.json", f"unknown figure kind {spec.kind!r}; known: {', '.join(DRAWERS)}")
    width = "double" if spec.options.get("min_width") == "double" else width
    out = fig_dir if out_dir is None else Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"{name}.{fmt}" for fmt in formats]
    with mpl_style.context(style_path(style)):  # rcParams restored on exit
        fig = DRAWERS[spec.kind](table, spec, width)  # a plain Figure: no pyplot, no backend to close
        for path, fmt in zip(paths, formats, strict=True):
            fig.savefig(path, dpi=dpi, metadata=METADATA.get(fmt))
    return paths


def render_run(run_dir: str | Path, **options: Any) -> list[Path]:
    """Redraw every figure of a run directory (``figures/*.json``) from its saved tables (``out_dir=`` another
    directory to write them to)."""
    fig_dir = Path(run_dir) / "figures"
    if not fig_dir.is_dir():
        raise FileNotFoundError(f"{fig_dir}: no figures directory (is {run_dir} a toolkit run directory?)")
    return [path for spec in sorted(fig_dir.glob("*.json"))
            for path in render_figure(fig_dir, spec.stem, **options)]
