"""Paper figures drawn from their data tables only, so any figure can be re-rendered without data or model.

Every figure is saved as PNG (300 dpi) and PDF with its data table (CSV) and a small JSON spec beside it;
:func:`render_run` redraws all figures of a run directory from those files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

STYLE_DIR = Path(__file__).parent
WIDTHS = {"single": 3.5, "double": 7.2}
TOXICITY_CMAP = "viridis"


@dataclass
class FigureSpec:
    """What a figure is: its kind (the drawing function), title, axis label and caption footer."""

    name: str
    kind: str
    title: str
    footer: str  # names the scorer, model and n
    options: dict[str, Any] = field(default_factory=dict)


def style_path(style: str) -> str:
    """A shipped style name (``paper``) or a path/matplotlib style name, as given."""
    shipped = STYLE_DIR / f"{style}.mplstyle"
    return str(shipped) if shipped.exists() else style


def _new_figure(width: str, height_ratio: float = 0.72) -> tuple[Figure, Any]:
    w = WIDTHS.get(width, WIDTHS["single"])
    fig, ax = plt.subplots(figsize=(w, w * height_ratio))
    return fig, ax


def _footer(fig: Figure, text: str) -> None:
    fig.text(0.01, -0.02, text, ha="left", va="top", fontsize=6, color="0.35", wrap=True)


def draw_depth_profile(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """Mean score and share above threshold by reply depth, with thread-bootstrap CIs."""
    fig, ax = _new_figure(width)
    x = list(range(table.height))
    for col, low, high, name, marker in (
        ("mean", "mean_low", "mean_high", "mean score", "o"),
        ("share_above", "share_low", "share_high", f"share ≥ {spec.options.get('threshold', '')}", "s"),
    ):
        y = table[col].to_numpy()
        err = [y - table[low].to_numpy(), table[high].to_numpy() - y]
        ax.errorbar(x, y, yerr=err, marker=marker, capsize=2, label=name)
    ax.set_xticks(x, [f"{d}\n(n={n})" for d, n in zip(table["depth_bin"], table["n"], strict=True)])
    ax.set_xlabel("reply depth")
    ax.set_ylabel(spec.options.get("label", "toxicity"))
    ax.set_ylim(bottom=0)
    ax.set_title(spec.title)
    ax.legend(loc="best")
    _footer(fig, spec.footer)
    return fig


def draw_group_means(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """Removed vs kept means per comparison, with CIs; empty comparisons say why."""
    fig, ax = _new_figure(width)
    comparisons = table["comparison"].unique(maintain_order=True).to_list()
    colours = {"removed": "C1", "kept": "C0"}
    for i, comparison in enumerate(comparisons):
        part = table.filter(pl.col("comparison") == comparison)
        for j, row in enumerate(part.iter_rows(named=True)):
            xpos = i + (j - 0.5) * 0.35
            if row["n"] == 0 or row["mean"] is None or row["mean"] != row["mean"]:
                ax.text(xpos, 0.02, "n=0", ha="center", fontsize=6, color="0.4")
                continue
            ax.bar(xpos, row["mean"], width=0.33, color=colours.get(row["group"], "C2"),
                   label=row["group"] if i == 0 or not ax.get_legend_handles_labels()[1] else None)
            ax.errorbar(xpos, row["mean"], yerr=[[row["mean"] - row["mean_low"]], [row["mean_high"] - row["mean"]]],
                        color="black", capsize=2, linewidth=0.8)
            ax.text(xpos, row["mean_high"] + 0.01, f"n={row['n']}", ha="center", va="bottom", fontsize=6)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=False))
    if unique:
        ax.legend(unique.values(), unique.keys(), loc="upper right")
    ax.set_xticks(range(len(comparisons)), comparisons)
    ax.set_ylabel(f"mean {spec.options.get('label', 'toxicity')}")
    ax.set_ylim(0, max(1.0, float(table["mean_high"].fill_nan(0).max() or 0) + 0.1))
    ax.set_title(spec.title)
    _footer(fig, spec.footer)
    return fig


def draw_histogram(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """Histogram of scores from bin edges and counts."""
    fig, ax = _new_figure(width)
    lows, highs = table["bin_low"].to_numpy(), table["bin_high"].to_numpy()
    ax.bar(lows, table["count"].to_numpy(), width=highs - lows, align="edge", color="C0", edgecolor="white",
           linewidth=0.4)
    if "threshold" in spec.options:
        ax.axvline(spec.options["threshold"], color="C1", linestyle="--", linewidth=0.8, label="threshold")
        ax.legend(loc="upper right")
    ax.set_xlim(0, 1)
    ax.set_xlabel(spec.options.get("label", "toxicity"))
    ax.set_ylabel("comments")
    ax.set_title(spec.title)
    _footer(fig, spec.footer)
    return fig


def draw_thread(table: pl.DataFrame, spec: FigureSpec, width: str) -> Figure:
    """A thread in page order: one row per comment indented by depth, coloured by score, flags marked."""
    n = table.height
    w = WIDTHS.get(width, WIDTHS["single"])
    fig, ax = plt.subplots(figsize=(max(w, 5.0), min(0.22 * n + 0.9, 30)))
    cmap = plt.get_cmap(TOXICITY_CMAP)
    depth = table["reply_depth"].fill_null(0).to_numpy()
    score = table["score"].to_numpy()
    show_text = n <= 60
    for i, row in enumerate(table.iter_rows(named=True)):
        y = n - 1 - i
        x = depth[i]
        if row["parent_id"] is not None and row["structure"] == "tree" and not row["is_post"]:
            ax.plot([x - 1, x - 1, x], [y + 0.6, y, y], color="0.7", linewidth=0.5, zorder=1)
        s = score[i]
        colour = "white" if s is None or s != s else cmap(float(s))
        marker = "s" if row["is_post"] else "o"
        edge = "C1" if row["removed"] else ("0.5" if row["deleted"] else "black")
        ax.scatter([x], [y], s=40, c=[colour], marker=marker, edgecolors=edge,
                   linewidths=1.5 if row["removed"] or row["deleted"] else 0.5, zorder=2)
        flag = " [removed]" if row["removed"] else (" [deleted]" if row["deleted"] else "")
        if show_text:
            snippet = (row["snippet"] or "").replace("$", r"\$")
            ax.text(x + 0.25, y, f"{snippet[:60]}{flag}", va="center", fontsize=6,
                    color="C1" if row["removed"] else "black")
    ax.set_xlim(-0.5, max(6.0, float(depth.max()) + 4.0) if n else 6)
    ax.set_ylim(-1, n)
    ax.set_yticks([])
    ax.set_xlabel("reply depth")
    ax.grid(False)
    for side in ("left",):
        ax.spines[side].set_visible(False)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, 1))
    fig.colorbar(sm, ax=ax, fraction=0.03, pad=0.01).set_label(spec.options.get("label", "toxicity"))
    ax.scatter([], [], s=30, facecolors="none", edgecolors="C1", linewidths=1.5, label="removed by moderator")
    ax.scatter([], [], s=30, facecolors="none", edgecolors="0.5", linewidths=1.5, label="deleted by author")
    ax.scatter([], [], s=30, facecolors="white", edgecolors="black", linewidths=0.5, label="no text (unscored)")
    ax.legend(loc="lower right", fontsize=6, frameon=True)
    ax.set_title(spec.title)
    _footer(fig, spec.footer)
    return fig


DRAWERS: dict[str, Callable[[pl.DataFrame, FigureSpec, str], Figure]] = {
    "depth_profile": draw_depth_profile,
    "group_means": draw_group_means,
    "histogram": draw_histogram,
    "thread": draw_thread,
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
    """Draw ``spec`` from ``table``; write the figure files, its data table (CSV) and spec (JSON) to ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table.write_csv(out_dir / f"{spec.name}.csv")
    (out_dir / f"{spec.name}.json").write_text(json.dumps(asdict(spec), indent=2, default=str))
    return render_figure(out_dir, spec.name, style=style, width=width, formats=formats, dpi=dpi)


def render_figure(
    fig_dir: str | Path,
    name: str,
    *,
    style: str = "paper",
    width: str = "single",
    formats: tuple[str, ...] = ("png", "pdf"),
    dpi: int = 300,
) -> list[Path]:
    """Redraw one saved figure from its CSV table and JSON spec."""
    fig_dir = Path(fig_dir)
    spec = FigureSpec(**json.loads((fig_dir / f"{name}.json").read_text()))
    table = pl.read_csv(fig_dir / f"{name}.csv", infer_schema_length=None)
    paths = []
    with plt.style.context(style_path(style)):
        fig = DRAWERS[spec.kind](table, spec, width)
        for fmt in formats:
            path = fig_dir / f"{name}.{fmt}"
            fig.savefig(path, dpi=dpi)
            paths.append(path)
        plt.close(fig)
    return paths


def render_run(run_dir: str | Path, **options: Any) -> list[Path]:
    """Redraw every figure of a run directory (``figures/*.json``) from its saved tables."""
    fig_dir = Path(run_dir) / "figures"
    if not fig_dir.is_dir():
        raise FileNotFoundError(f"{fig_dir}: no figures directory (is {run_dir} a toolkit run directory?)")
    paths: list[Path] = []
    for spec_file in sorted(fig_dir.glob("*.json")):
        paths += render_figure(fig_dir, spec_file.stem, **options)
    return paths
