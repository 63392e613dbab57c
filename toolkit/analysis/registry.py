"""The analyses a run can name in ``analysis.run``: each turns the scored frame into tables and figures.

An analysis is a function ``(frame, ctx) -> AnalysisOutput``; register new ones with :func:`analysis`.
The pure statistics live in the sibling modules and are usable from notebooks without this layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from toolkit.analysis.depth import depth_profile
from toolkit.analysis.distribution import score_distribution, thread_view_table
from toolkit.analysis.removal import removal_context
from toolkit.plots.figures import FigureSpec


@dataclass
class AnalysisContext:
    """What every analysis may use: the score column, threshold, bootstrap settings, caption footer."""

    label: str = "toxicity"
    threshold: float = 0.5
    n_boot: int = 1000
    seed: int = 0
    footer: str = ""
    params: dict[str, Any] = field(default_factory=dict)  # this analysis' own options from config

    @property
    def boot(self) -> dict[str, int]:
        return {"n_boot": self.n_boot, "seed": self.seed}


@dataclass
class AnalysisOutput:
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    figures: list[tuple[FigureSpec, pl.DataFrame]] = field(default_factory=list)


AnalysisFn = Callable[[pl.DataFrame, AnalysisContext], AnalysisOutput]
ANALYSES: dict[str, AnalysisFn] = {}


def analysis(name: str) -> Callable[[AnalysisFn], AnalysisFn]:
    """Register an analysis under ``name``."""

    def decorate(fn: AnalysisFn) -> AnalysisFn:
        ANALYSES[name] = fn
        return fn

    return decorate


@analysis("depth_profile")
def _depth_profile(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    table = depth_profile(frame, label=ctx.label, threshold=ctx.threshold,
                          depth_bins=ctx.params.get("depth_bins"), **ctx.boot)
    method = table["ci_method"][0] if table.height else "n/a"
    spec = FigureSpec("depth_profile", "depth_profile", "Toxicity by reply depth",
                      f"{ctx.footer} · 95% CI: {method}", {"label": ctx.label, "threshold": ctx.threshold})
    return AnalysisOutput({"depth_profile": table}, [(spec, table)])


@analysis("removal_context")
def _removal_context(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    groups, tests = removal_context(frame, label=ctx.label, **ctx.boot)
    method = groups["ci_method"].drop_nulls()[0] if groups.height else "n/a"
    spec = FigureSpec("removal_context", "group_means", "Removed vs kept", f"{ctx.footer} · 95% CI: {method}",
                      {"label": ctx.label})
    return AnalysisOutput({"removal_context": groups, "removal_tests": tests}, [(spec, groups)])


@analysis("score_distribution")
def _score_distribution(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    table = score_distribution(frame, label=ctx.label, bins=int(ctx.params.get("bins", 20)))
    spec = FigureSpec("score_distribution", "histogram", "Score distribution", ctx.footer,
                      {"label": ctx.label, "threshold": ctx.threshold})
    return AnalysisOutput({"score_distribution": table}, [(spec, table)])


@analysis("thread_view")
def _thread_view(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    table = thread_view_table(frame, label=ctx.label, thread_id=ctx.params.get("thread_id"))
    thread = table["thread_id"][0] if table.height else "none"
    spec = FigureSpec("thread_view", "thread", f"Thread {thread}", ctx.footer, {"label": ctx.label})
    return AnalysisOutput({}, [(spec, table)])
