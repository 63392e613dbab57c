"""What every figure shares: sizes, colours, the footer and small drawing helpers."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import matplotlib as mpl
import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from toolkit.errors import ConfigError
from toolkit.outputs import FigureSpec

STYLE_DIR = Path(__file__).parent
WIDTHS = {"single": 3.5, "double": 7.2}  # inches: one and two columns of a typical journal page
TOXICITY_CMAP = "viridis"  # perceptually uniform and colour-blind safe
REMOVED_COLOUR = "#D55E00"  # Okabe-Ito vermillion
DELETED_COLOUR = "0.45"
KEPT_COLOUR = "#0072B2"  # Okabe-Ito blue


def style_path(style: str) -> str:
    """A shipped style name (``paper``) or a path/matplotlib style name, as given."""
    shipped = STYLE_DIR / f"{style}.mplstyle"
    return str(shipped) if shipped.exists() else style


def figure_width(width: str | float) -> float:
    """Inches for ``single``/``double`` or a number of inches."""
    try:
        return WIDTHS.get(width) or float(width)
    except ValueError as err:
        raise ConfigError("plot.width", f"{width!r}: give single, double or a width in inches") from err


def new_figure(width: str | float, height_ratio: float = 0.72, ncols: int = 1, nrows: int = 1,
               **kwargs: Any) -> tuple[Figure, Any]:
    """A figure ``width`` wide (``single``/``double``/inches) and ``height_ratio`` times as high, and its axes.

    A plain :class:`~matplotlib.figure.Figure`, not a pyplot one: drawing needs no backend (none is selected
    or switched, so a notebook's or GUI's backend stays as it was) and nothing is left open in pyplot.

    >>> fig, ax = new_figure("single", ncols=2)
    >>> (float(fig.get_figwidth()), len(ax))
    (3.5, 2)
    """
    w = figure_width(width)
    fig = Figure(figsize=(w, w * height_ratio))
    return fig, fig.subplots(nrows, ncols, **kwargs)


FOOTER_SIZE = 5.5


def footer(fig: Figure, text: str) -> None:
    """The caption footer (scorer, model, n, CI method) under the axes, wrapped to the figure width.

    Wrapped here by character count (an average glyph is ~0.5 em wide): matplotlib's own ``wrap=True``
    re-measures the text word by word and costs more than drawing the figure.
    """
    if text:
        chars = max(30, int(fig.get_figwidth() * 72 / (FOOTER_SIZE * 0.52)))
        fig.text(0.01, -0.01, textwrap.fill(text, chars), ha="left", va="top", fontsize=FOOTER_SIZE, color="0.35")


def finish(fig: Figure, spec: FigureSpec, title: bool = True) -> Figure:
    """Title (as suptitle for multi-panel figures), footer, layout."""
    axes = fig.get_axes()
    if title and spec.title:
        if len([a for a in axes if a.get_label() != "<colorbar>"]) > 1:
            fig.suptitle(spec.title, fontsize=mpl.rcParams["axes.titlesize"])
        elif axes:
            axes[0].set_title(spec.title)
    fig.tight_layout()
    footer(fig, spec.footer)
    return fig


def error_bars(table: pl.DataFrame, y: str, low: str, high: str) -> tuple[np.ndarray, np.ndarray]:
    """Values and non-negative (lower, upper) error lengths; NaN bounds draw no bar."""
    v, lo, hi = (table[c].cast(pl.Float64).fill_null(np.nan).to_numpy() for c in (y, low, high))
    return v, np.vstack([np.nan_to_num(np.maximum(v - lo, 0)), np.nan_to_num(np.maximum(hi - v, 0))])


def empty_note(ax: Axes, text: str) -> None:
    """Say on the axes why there is nothing to draw."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", fontsize=7, color="0.4", wrap=True)


def empty_figure(fig: Figure, ax: Axes, text: str, spec: FigureSpec) -> Figure:
    """``fig`` finished with ``text`` in the middle of ``ax``: the figure of a table with nothing to draw."""
    empty_note(ax, text)
    return finish(fig, spec)


def fmt_n(n: int | float | None) -> str:
    """``1,234`` (or ``?`` when unknown)."""
    return "?" if n is None or n != n else f"{int(n):,}"


def fmt_p(p: float | None) -> str:
    """A p-value for an annotation: ``p=0.03``, ``p<0.001``, ``p=n/a``."""
    if p is None or p != p:
        return "p=n/a"
    return "p<0.001" if p < 0.001 else f"p={p:.2g}"
