"""What an analysis hands back, as plain data: tables, figure specs and why anything was left out.

Analyses build these (``toolkit.analysis``), plots draw the specs (``toolkit.plots``); neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl


@dataclass
class FigureSpec:
    """What a figure is: its kind (the key of ``toolkit.plots.figures.DRAWERS``), title, caption footer
    (scorer, model and n) and drawing options.

    >>> FigureSpec("hist", "histogram", "Scores", "Scorer: x", {"threshold": 0.5}).kind
    'histogram'
    """

    name: str
    kind: str
    title: str
    footer: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class AnalysisOutput:
    """An analysis' tables by name and figures (spec, data table); ``skipped`` says why an output that
    cannot apply to the data was left out (the whole analysis when there are no tables and figures).
    ``files``: other outputs (a sheet to fill in, a fitted map), by path relative to the run directory
    (e.g. ``annotation/sample.csv``) -> contents; the pipeline writes them as they are.

    >>> AnalysisOutput(skipped="no removed comments").tables
    {}
    """

    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    figures: list[tuple[FigureSpec, pl.DataFrame]] = field(default_factory=list)
    skipped: str = ""
    files: dict[str, bytes | str] = field(default_factory=dict)
