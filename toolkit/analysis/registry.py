"""The analyses a run can name in ``analysis.run``: each turns the scored frame into tables and figures.

An analysis is a function ``(frame, ctx) -> AnalysisOutput``; register new ones with :func:`analysis`.
The pure statistics live in the sibling modules and are usable from notebooks without this layer.
Each analysis declares its options (``analysis.params.<name>`` in config) with their defaults in
:data:`OPTIONS`; an unknown option is an error that names the known ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from toolkit.analysis.agreement import scorer_agreement
from toolkit.analysis.common import ci_methods, comments_only, score_columns
from toolkit.analysis.depth import depth_profile, position_profile, thread_size_profile
from toolkit.analysis.distribution import score_distribution, thread_tree_table, thread_view_table
from toolkit.analysis.escalation import escalation, reply_by_parent_bin
from toolkit.analysis.prediction import classification_tables, removal_logit
from toolkit.analysis.removal import (
    TEST_SCHEMA,
    calm_down,
    matched_context,
    removal_by_parent,
    removal_context,
    removal_parent_test,
)
from toolkit.analysis.summary import thread_summary
from toolkit.analysis.thread_length import toxicity_by_relative_position, toxicity_by_thread_length
from toolkit.analysis.validation import calibration_table, scorer_validation
from toolkit.plots.figures import FigureSpec

log = logging.getLogger(__name__)


@dataclass
class AnalysisContext:
    """What every analysis may use: the score column, threshold, bootstrap settings, caption footer."""

    label: str = "toxicity"
    threshold: float = 0.5
    n_boot: int = 1000
    seed: int = 0
    footer: str = ""
    params: dict[str, Any] = field(default_factory=dict)  # this analysis' own options from config
    labels: list[str] = field(default_factory=list)  # every score column the run's scorer wrote
    cache_dir: str | None = None  # score cache, for analyses that score with further scorers

    @property
    def boot(self) -> dict[str, int]:
        return {"n_boot": self.n_boot, "seed": self.seed}

    def ci_note(self, method: str) -> str:
        """Caption words for a CI: method, replicates and seed."""
        return f"95% CI: {method} ({self.n_boot} replicates, seed {self.seed})"

    def caption(self, *parts: str) -> str:
        """The run footer followed by figure-specific parts."""
        return " · ".join(p for p in (self.footer, *parts) if p)


@dataclass
class AnalysisOutput:
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    figures: list[tuple[FigureSpec, pl.DataFrame]] = field(default_factory=list)


AnalysisFn = Callable[[pl.DataFrame, AnalysisContext], AnalysisOutput]
ANALYSES: dict[str, AnalysisFn] = {}
PARENT_BINS = [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]

# Every analysis' options and their defaults; conf/analysis/default.yaml repeats them (a test checks).
OPTIONS: dict[str, dict[str, Any]] = {
    "depth_profile": {"depth_bins": None, "position_bins": 10, "size_edges": None},
    "removal_context": {"parent_bins": PARENT_BINS, "include_post_parent": True, "calm_window": 10,
                        "calm_scope": "thread"},
    "removal_prediction": {"labels": None, "include_depth": True, "include_score": True,
                           "score_transform": "signed_log1p", "label_unit": 0.1, "curve_grid": 101},
    "escalation": {"include_post_parent": False, "parent_bins": PARENT_BINS},
    "thread_summary": {},
    "thread_length": {"threshold": 0.6, "n_bins": 21, "min_threads_last_bin": 50, "min_comments": 1,
                      "position_bins": 10},
    "scorer_agreement": {"columns": None, "scorers": [], "thresholds": {}, "max_comments": 2000},
    "scorer_validation": {"truth": "toxic", "labels": None, "calibration_bins": 10, "curve_grid": 101},
    "score_distribution": {"bins": 20},
    "thread_view": {"thread_id": None},
    "thread_tree": {"thread_id": None, "pick": "largest", "max_nodes": 3000},
}


def options(name: str, ctx: AnalysisContext) -> dict[str, Any]:
    """This analysis' options: defaults overlaid with ``analysis.params.<name>``; unknown keys are errors."""
    known = OPTIONS.get(name, {})
    unknown = sorted(set(ctx.params) - set(known))
    if unknown:
        raise ValueError(f"analysis.params.{name}: unknown option(s) {unknown}; known: {sorted(known)}")
    return {**known, **ctx.params}


def analysis(name: str) -> Callable[[AnalysisFn], AnalysisFn]:
    """Register an analysis under ``name``."""

    def decorate(fn: AnalysisFn) -> AnalysisFn:
        ANALYSES[name] = fn
        return fn

    return decorate


def _shown(n: int, threads: int | None = None, what: str = "comments") -> str:
    """``shown: n = 1,234 comments in 56 threads`` for captions."""
    where = "" if threads is None else f" in {threads:,} thread{'' if threads == 1 else 's'}"
    return f"shown: n = {n:,} {what}{where}"


def _n_threads(frame: pl.DataFrame) -> int:
    return int(comments_only(frame)["thread_id"].n_unique())


@analysis("depth_profile")
def _depth_profile(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    o = options("depth_profile", ctx)
    common = {"label": ctx.label, "threshold": ctx.threshold, **ctx.boot}
    depth = depth_profile(frame, depth_bins=o["depth_bins"], **common)
    position = position_profile(frame, n_bins=int(o["position_bins"]), **common)
    size = thread_size_profile(frame, size_edges=o["size_edges"], **common)
    figures = []
    for name, table, title, x, xlabel in (
        ("depth_profile", depth, "Toxicity by reply depth", "depth_bin", "reply depth"),
        ("toxicity_by_position", position, "Toxicity by position in the thread", "position_bin",
         "relative position (0 = first comment, 1 = last)"),
        ("toxicity_by_thread_size", size, "Toxicity by thread size", "size_bin", "thread size (comments)"),
    ):
        n, threads = int(table["n"].sum()), _n_threads(frame)
        spec = FigureSpec(name, "profile", title, ctx.caption(_shown(n, threads), ctx.ci_note(ci_methods(table))),
                          {"label": ctx.label, "threshold": ctx.threshold, "x": x, "xlabel": xlabel})
        figures.append((spec, table))
    return AnalysisOutput({"depth_profile": depth, "toxicity_by_position": position, "toxicity_by_thread_size": size},
                          figures)


@analysis("removal_context")
def _removal_context(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    o = options("removal_context", ctx)
    groups, tests = removal_context(frame, label=ctx.label, **ctx.boot)
    matched = matched_context(frame, label=ctx.label, **ctx.boot)
    by_parent = removal_by_parent(frame, label=ctx.label, bins=o["parent_bins"],
                                  include_post_parent=bool(o["include_post_parent"]), **ctx.boot)
    parent_test = removal_parent_test(frame, label=ctx.label, threshold=ctx.threshold,
                                      include_post_parent=bool(o["include_post_parent"]), **ctx.boot)
    calm, calm_test = calm_down(frame, label=ctx.label, window=int(o["calm_window"]), scope=str(o["calm_scope"]),
                                **ctx.boot)
    tests = pl.concat([tests, pl.DataFrame([parent_test, calm_test], schema=TEST_SCHEMA)])
    lab = {"label": ctx.label}
    figures = []
    n_removed = int(comments_only(frame)["removed"].fill_null(False).sum())
    if n_removed == 0:  # nothing to compare: the tables say n = 0, no empty figures
        log.info("removal_context: no removed comments in the data; tables only")
        return AnalysisOutput({"removal_context": groups, "removal_tests": tests, "removal_matched": matched,
                               "removal_by_parent": by_parent, "removal_calm_down": calm}, figures)
    if groups.group_by("comparison").agg(pl.col("n").min()).filter(pl.col("n") > 0).height:
        figures.append((FigureSpec("removal_context", "group_means", "Removed vs kept",
                                   ctx.caption(ctx.ci_note(ci_methods(groups))), lab), groups))
    if matched["n_removed"].sum() > 0:
        figures.append((FigureSpec(
            "removal_matched", "matched_context", "Removed vs matched kept comments",
            ctx.caption("matched: same thread and reply depth; difference averaged over (thread, depth) strata",
                        ctx.ci_note(ci_methods(matched)), "p: permutation of the removed flag within strata"),
            lab), matched))
    if by_parent["n"].sum() > 0:
        figures.append((FigureSpec(
            "removal_by_parent", "rate_bars", "Removal rate by parent toxicity",
            ctx.caption(_shown(int(by_parent["n"].sum()), None, "replies"), ctx.ci_note(ci_methods(by_parent))),
            {**lab, "x": "parent_bin", "y": "removal_rate", "low": "rate_low", "high": "rate_high",
             "xlabel": f"parent {ctx.label}", "ylabel": "share of replies removed"}), by_parent))
    if calm["n_events"].min() > 0:
        figures.append((FigureSpec(
            "removal_calm_down", "calm_down", "Calm-down after removals",
            ctx.caption(f"window: {o['calm_window']} comments before/after in time ({o['calm_scope']})",
                        ctx.ci_note(ci_methods(calm))), lab), calm))
    return AnalysisOutput({"removal_context": groups, "removal_tests": tests, "removal_matched": matched,
                           "removal_by_parent": by_parent, "removal_calm_down": calm}, figures)


@analysis("removal_prediction")
def _removal_prediction(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    o = options("removal_prediction", ctx)
    labels = score_columns(frame, o["labels"] or ctx.labels or None)
    aucs, curves = classification_tables(frame, truth="removed", labels=labels, curve_labels=[ctx.label],
                                         grid=int(o["curve_grid"]), **ctx.boot)
    logit = removal_logit(frame, label=ctx.label, include_depth=bool(o["include_depth"]),
                          include_score=bool(o["include_score"]), score_transform=str(o["score_transform"]),
                          label_unit=float(o["label_unit"]))
    n = int(aucs["n"].max()) if aucs.height else 0
    shown = _shown(n, int(aucs["n_threads"].max()) if aucs.height else 0)
    figures = [
        (FigureSpec("removal_auc", "auc_forest", "Toxicity as a predictor of removal",
                    ctx.caption(shown, ctx.ci_note(ci_methods(aucs))), {"label": ctx.label}), aucs),
        (FigureSpec("removal_roc_pr", "roc_pr", f"Removal predicted by {ctx.label}",
                    ctx.caption(ctx.ci_note(ci_methods(aucs)) + " (bands)"),
                    {"label": ctx.label, "truth": "removed", "min_width": "double"}), curves),
        (FigureSpec("removal_odds_ratios", "odds_ratios", _formula(logit),
                    ctx.caption(shown, f"Wald CIs, SEs {logit['se_type'].drop_nulls()[0] if logit['se_type'].drop_nulls().len() else 'n/a'}"),
                    {"label": ctx.label}), logit),
    ]
    return AnalysisOutput({"removal_auc": aucs, "removal_logit": logit, "removal_curves": curves}, figures)


def _formula(logit: pl.DataFrame) -> str:
    """``removed ~ toxicity + reply_depth`` from the fitted terms (dropped ones left out)."""
    terms = logit.filter((pl.col("term") != "const") & pl.col("odds_ratio").is_not_nan())["term"].to_list()
    return "removed ~ " + (" + ".join(t.split(" (")[0] for t in terms) or "1")


@analysis("escalation")
def _escalation(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    o = options("escalation", ctx)
    common = {"label": ctx.label, "threshold": ctx.threshold, "include_post_parent": bool(o["include_post_parent"]),
              **ctx.boot}
    table = escalation(frame, **common)
    by_bin = reply_by_parent_bin(frame, bins=o["parent_bins"], **common)
    n = int(table["n"][0]) if table.height else 0
    spec = FigureSpec("escalation", "profile", "Replies by parent toxicity",
                      ctx.caption(_shown(n, None, "parent→reply pairs"), ctx.ci_note(ci_methods(by_bin))),
                      {"label": f"reply {ctx.label}", "threshold": ctx.threshold, "x": "parent_bin",
                       "xlabel": f"parent {ctx.label}", "ylabel": f"reply {ctx.label}"})
    return AnalysisOutput({"escalation": table, "escalation_by_parent": by_bin}, [(spec, by_bin)])


@analysis("thread_summary")
def _thread_summary(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    options("thread_summary", ctx)
    table = thread_summary(frame, label=ctx.label, threshold=ctx.threshold)
    spec = FigureSpec("thread_summary", "thread_scatter", "Threads: size, toxicity and removals",
                      ctx.caption(_shown(table.height, None, "threads")),
                      {"label": ctx.label, "threshold": ctx.threshold})
    return AnalysisOutput({"thread_summary": table}, [(spec, table)])


@analysis("thread_length")
def _thread_length(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    o = options("thread_length", ctx)
    threshold = float(o["threshold"])
    table, trend, edges = toxicity_by_thread_length(
        frame, label=ctx.label, threshold=threshold, n_bins=int(o["n_bins"]),
        min_threads_last_bin=int(o["min_threads_last_bin"]), min_comments=int(o["min_comments"]), **ctx.boot)
    min_size = float(edges[-2])  # the last bin's lower edge (the smallest size when there is one bin)
    position = toxicity_by_relative_position(frame, label=ctx.label, threshold=threshold, min_size=min_size,
                                             n_bins=int(o["position_bins"]), **ctx.boot)
    method = (f"95% CI: thread bootstrap ({ctx.n_boot} replicates, seed {ctx.seed}), where Avalle et al. (2024) "
              "used per-bin t-intervals")
    bins_note = (f"{o['n_bins']} log bins, last widened to ≥ {o['min_threads_last_bin']} threads "
                 f"({table.height} non-empty)")
    n_threads = int(table["n_threads"].sum())
    figures = [
        (FigureSpec("thread_length", "thread_length", "Toxicity and thread length",
                    ctx.caption(_shown(int(table["n_comments"].sum()), n_threads), f"toxic: {ctx.label} ≥ {threshold:g}",
                                bins_note, method),
                    {"label": ctx.label, "threshold": threshold}), table),
        (FigureSpec("thread_length_position", "profile", "Toxicity along the longest threads",
                    ctx.caption(_shown(int(position["n"].sum()), int(position["n_threads"].max() or 0)
                                       if position.height else 0), f"threads of ≥ {min_size:.0f} comments (last bin)",
                                ctx.ci_note(ci_methods(position))),
                    {"label": ctx.label, "threshold": threshold, "x": "position_bin", "series": ["share_above"],
                     "xlabel": "relative position in thread", "ylabel": f"share toxic (≥ {threshold:g})"}), position),
    ]
    return AnalysisOutput({"thread_length": table, "thread_length_trend": trend, "thread_length_position": position},
                          figures)


def _extra_scores(frame: pl.DataFrame, scorers: list[Any], ctx: AnalysisContext) -> tuple[pl.DataFrame, list[dict]]:
    """Score ``frame`` with further scorers; their columns are named ``<scorer>[:<model>].<label>``.

    A scorer that cannot run here (no weights offline) is skipped and reported, not fatal.
    """
    from toolkit.scoring import score_frame

    status = []
    for entry in scorers:
        spec = {"name": entry} if isinstance(entry, str) else dict(entry)
        name = str(spec.pop("name"))
        prefix = name if name == "profanity" else f"{name}:{spec.get('model', 'original')}"
        try:
            scored = score_frame(frame.select("text"), name, cache_dir=ctx.cache_dir, **spec)
        except Exception as err:  # noqa: BLE001 - any failure to load a scorer is reported, not fatal
            log.warning("scorer_agreement: scorer %s skipped: %s", prefix, err)
            status.append({"scorer": prefix, "used": False, "columns": "", "note": str(err).splitlines()[0][:300]})
            continue
        report = scored.report
        prefix = f"{report.scorer}" + (f":{report.identity.get('model')}" if report.scorer != "profanity" else "")
        same = [lab for lab in report.labels if lab in frame.columns and scored.frame[lab].equals(frame[lab])]
        if same and len(same) == len(report.labels):
            status.append({"scorer": prefix, "used": False, "columns": "",
                           "note": f"same scores as the run's scorer ({', '.join(same)}): not repeated"})
            continue
        cols = {lab: f"{prefix}.{lab}" for lab in report.labels}
        frame = frame.with_columns(scored.frame.select([pl.col(k).alias(v) for k, v in cols.items()]))
        status.append({"scorer": prefix, "used": True, "columns": ", ".join(cols.values()),
                       "note": report.fallback_reason or ""})
    return frame, status


@analysis("scorer_agreement")
def _scorer_agreement(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    o = options("scorer_agreement", ctx)
    frame = comments_only(frame).filter(pl.col("text").is_not_null())
    sampled = ""
    if o["max_comments"] and frame.height > int(o["max_comments"]):
        # a seeded random sample, kept in data order: agreement needs hundreds of comments, not all of them
        n = int(o["max_comments"])
        frame = (frame.with_row_index("_row").sample(n, seed=ctx.seed).sort("_row").drop("_row"))
        sampled = f"a random sample of {n:,} comments (seed {ctx.seed})"
    frame, status = _extra_scores(frame, list(o["scorers"] or []), ctx)
    columns = list(o["columns"] or [])
    if not columns:
        columns = score_columns(frame, ctx.labels or None)
        columns += [c for s in status if s["used"] for c in s["columns"].split(", ")]
    columns = list(dict.fromkeys(columns))
    table = scorer_agreement(frame, columns, threshold=ctx.threshold, thresholds=dict(o["thresholds"] or {}),
                             **ctx.boot)
    scorers = pl.DataFrame(status, schema={"scorer": pl.String, "used": pl.Boolean, "columns": pl.String,
                                           "note": pl.String})
    n = int(table["n"].min()) if table.height else 0
    skipped = [s["scorer"] for s in status if not s["used"] and not s["note"].startswith("same scores")]
    spec = FigureSpec("scorer_agreement", "agreement_matrix", "Agreement between scorers",
                      ctx.caption(_shown(n, None, "comments scored by every pair"), sampled,
                                  ctx.ci_note(ci_methods(table)) + " in the table",
                                  f"skipped (unavailable): {', '.join(skipped)}" if skipped else ""),
                      {"threshold": ctx.threshold})
    return AnalysisOutput({"scorer_agreement": table, "scorer_agreement_scorers": scorers}, [(spec, table)])


@analysis("scorer_validation")
def _scorer_validation(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    o = options("scorer_validation", ctx)
    truth = str(o["truth"])
    labels = score_columns(frame, o["labels"] or ctx.labels or None)
    metrics, curves = scorer_validation(frame, truth=truth, labels=labels, threshold=ctx.threshold,
                                        n_bins=int(o["calibration_bins"]), grid=int(o["curve_grid"]),
                                        with_curves=True, **ctx.boot)
    calibration = calibration_table(frame, truth=truth, labels=labels, n_bins=int(o["calibration_bins"]), **ctx.boot)
    n = int(metrics["n"].max()) if metrics.height else 0
    figures = [
        (FigureSpec("validation_roc_pr", "roc_pr", f"Scorer vs human labels ({truth})",
                    ctx.caption(ctx.ci_note(ci_methods(metrics)) + " (bands)"),
                    {"label": ctx.label, "truth": truth, "min_width": "double"}), curves),
        (FigureSpec("validation_calibration", "calibration", "Calibration against human labels",
                    ctx.caption(_shown(n), ctx.ci_note(ci_methods(calibration))), {"truth": truth}), calibration),
    ]
    return AnalysisOutput({"scorer_validation": metrics, "validation_calibration": calibration,
                           "validation_curves": curves}, figures)


@analysis("score_distribution")
def _score_distribution(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    o = options("score_distribution", ctx)
    table = score_distribution(frame, label=ctx.label, bins=int(o["bins"]))
    spec = FigureSpec("score_distribution", "histogram", "Score distribution",
                      ctx.caption(_shown(int(table["count"].sum()))), {"label": ctx.label, "threshold": ctx.threshold})
    return AnalysisOutput({"score_distribution": table}, [(spec, table)])


@analysis("thread_view")
def _thread_view(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    o = options("thread_view", ctx)
    table = thread_view_table(frame, label=ctx.label, thread_id=o["thread_id"])
    thread = table["thread_id"][0] if table.height else "none"
    spec = FigureSpec("thread_view", "thread", f"Thread {thread}", ctx.footer, {"label": ctx.label})
    return AnalysisOutput({}, [(spec, table)])


@analysis("thread_tree")
def _thread_tree(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    o = options("thread_tree", ctx)
    table, note = thread_tree_table(frame, label=ctx.label, thread_id=o["thread_id"], pick=str(o["pick"]),
                                    max_nodes=int(o["max_nodes"]))
    thread = table["thread_id"][0] if table.height else "none"
    spec = FigureSpec("thread_tree", "thread_tree", f"Thread {thread} as a tree",
                      ctx.caption(note), {"label": ctx.label, "min_width": "double"})
    return AnalysisOutput({}, [(spec, table)])
