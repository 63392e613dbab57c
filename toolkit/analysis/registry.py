"""The analyses a run can name in ``analysis.run``: each turns the scored frame into tables and figure specs.

An analysis is a function ``(frame, ctx) -> AnalysisOutput`` listed in :data:`ANALYSES`; its options are
``ctx.params.<name>`` (typed, each default once in ``toolkit.settings``). The output is data: the pipeline
writes the tables and ``toolkit.plots`` draws the specs. An analysis that cannot apply to the data says why
in ``AnalysisOutput.skipped`` and leaves out every table that would be empty or all-NaN (and its figure).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from toolkit.analysis.agreement import sample_comments, scorer_agreement
from toolkit.analysis.civility import (
    NO_STRATEGIES,
    civility_by_depth,
    civility_by_parent,
    civility_by_removal,
    strategy_columns,
)
from toolkit.analysis.common import Frames, ci_methods, columns_of, comments_only, each_bucket, score_columns
from toolkit.analysis.depth import depth_profile, position_profile, thread_size_profile
from toolkit.analysis.derailment import derailment_log_odds, derailment_prediction, derailment_threads
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
    removal_reasons,
)
from toolkit.analysis.summary import thread_summary
from toolkit.analysis.thread_length import toxicity_by_relative_position, toxicity_by_thread_length
from toolkit.analysis.validation import calibration_table, scorer_validation
from toolkit.outputs import AnalysisOutput, FigureSpec
from toolkit.schema import COMMENT_SCHEMA, OPTIONAL_EXTRAS
from toolkit.settings import AnalysisParams

CANONICAL = frozenset(COMMENT_SCHEMA) | frozenset(OPTIONAL_EXTRAS)
SCORERS_SCHEMA = {"scorer": pl.String, "used": pl.Boolean, "columns": pl.String, "note": pl.String}


@dataclass
class AnalysisContext:
    """What every analysis may use: the score column, threshold, bootstrap settings, caption footer, options.

    ``scorers``: one status row per further scorer of scorer_agreement (``scorer, used, columns, note``);
    the pipeline runs those scorers and adds their columns to the frame before the analysis sees it.
    """

    label: str = "toxicity"
    threshold: float = 0.5
    n_boot: int = 1000
    seed: int = 0
    footer: str = ""
    params: AnalysisParams = field(default_factory=AnalysisParams)
    labels: list[str] = field(default_factory=list)  # every score column the run's scorer wrote
    scorers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def boot(self) -> dict[str, int]:
        return {"n_boot": self.n_boot, "seed": self.seed}

    def ci_note(self, method: str) -> str:
        """Caption words for a CI: method, replicates and seed."""
        return f"95% CI: {method} ({self.n_boot} replicates, seed {self.seed})"

    def caption(self, *parts: str) -> str:
        """The run footer followed by figure-specific parts."""
        return " · ".join(p for p in (self.footer, *parts) if p)


def _shown(n: int, threads: int | None = None, what: str = "comments") -> str:
    """``shown: n = 1,234 comments in 56 threads`` for captions."""
    where = "" if threads is None else f" in {threads:,} thread{'' if threads == 1 else 's'}"
    return f"shown: n = {n:,} {what}{where}"


def _threads(frame: Frames) -> int:
    """Threads with comments, counted bucket by bucket (threads never span two)."""
    return sum(comments_only(part)["thread_id"].n_unique() for part in each_bucket(frame))


def _applicable(tables: dict[str, pl.DataFrame], figures: list[tuple[FigureSpec, pl.DataFrame]],
                empty: dict[str, str]) -> AnalysisOutput:
    """The output less the tables named in ``empty`` (table -> why it would be empty or all-NaN) and the
    figures drawn from them; ``skipped`` names what was left out and why."""
    dropped = [tables[name] for name in empty]
    kept = {name: t for name, t in tables.items() if name not in empty}
    figures = [(spec, t) for spec, t in figures if not any(t is d for d in dropped)]
    reasons = set(empty.values())
    if not kept and not figures and len(reasons) == 1:
        return AnalysisOutput(skipped=reasons.pop())
    return AnalysisOutput(kept, figures, "; ".join(f"{name} not written: {why}" for name, why in empty.items()))


def run_depth_profile(frame: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """Toxicity by reply depth, by relative position in the thread and by thread size (a frame, or a store's
    buckets: threads never span two, so their counts add up)."""
    o = ctx.params.depth_profile
    common = {"label": ctx.label, "threshold": ctx.threshold, **ctx.boot}
    n_threads = _threads(frame)
    tables = {"depth_profile": depth_profile(frame, depth_bins=o.depth_bins, **common),
              "toxicity_by_position": position_profile(frame, n_bins=o.position_bins, **common),
              "toxicity_by_thread_size": thread_size_profile(frame, size_edges=o.size_edges, **common)}
    figures = []
    for name, title, x, xlabel in (
        ("depth_profile", "Toxicity by reply depth", "depth_bin", "reply depth"),
        ("toxicity_by_position", "Toxicity by position in the thread", "position_bin",
         "relative position (0 = first comment, 1 = last)"),
        ("toxicity_by_thread_size", "Toxicity by thread size", "size_bin", "thread size (comments)"),
    ):
        table = tables[name]
        n, threads = int(table["n"].sum()), n_threads
        spec = FigureSpec(name, "profile", title, ctx.caption(_shown(n, threads), ctx.ci_note(ci_methods(table))),
                          {"label": ctx.label, "threshold": ctx.threshold, "x": x, "xlabel": xlabel})
        figures.append((spec, table))
    empty = {name: f"no scored comment{' with a known reply depth' if name == 'depth_profile' else ''}"
             for name, table in tables.items() if table["n"].sum() == 0}
    return _applicable(tables, figures, empty)


def run_removal_context(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    """Removed vs kept comments and their context; removal rate by parent toxicity; calm-down after removals."""
    o = ctx.params.removal_context
    removed = comments_only(frame).filter(pl.col("removed").fill_null(False))
    if removed.height == 0:
        return AnalysisOutput(skipped="no comment in the data is removed by a moderator")
    groups, tests = removal_context(frame, label=ctx.label, **ctx.boot)
    matched = matched_context(frame, label=ctx.label, **ctx.boot)
    by_parent = removal_by_parent(frame, label=ctx.label, bins=o.parent_bins,
                                  include_post_parent=o.include_post_parent, **ctx.boot)
    parent_test = removal_parent_test(frame, label=ctx.label, threshold=ctx.threshold,
                                      include_post_parent=o.include_post_parent, **ctx.boot)
    calm, calm_test = calm_down(frame, label=ctx.label, window=o.calm_window, scope=o.calm_scope, **ctx.boot)
    tests = pl.concat([tests, pl.DataFrame([parent_test, calm_test], schema=TEST_SCHEMA)])
    lab = {"label": ctx.label}
    figures = []
    if groups.group_by("comparison").agg(pl.col("n").min()).filter(pl.col("n") > 0).height:
        figures.append((FigureSpec("removal_context", "group_means", "Removed vs kept",
                                   ctx.caption(ctx.ci_note(ci_methods(groups))), lab), groups))
    figures.append((FigureSpec(
        "removal_matched", "matched_context", "Removed vs matched kept comments",
        ctx.caption("matched: same thread and reply depth; difference averaged over (thread, depth) strata",
                    ctx.ci_note(ci_methods(matched)), "p: permutation of the removed flag within strata"),
        lab), matched))
    figures.append((FigureSpec(
        "removal_by_parent", "rate_bars", "Removal rate by parent toxicity",
        ctx.caption(_shown(int(by_parent["n"].sum()), None, "replies"), ctx.ci_note(ci_methods(by_parent))),
        {**lab, "x": "parent_bin", "y": "removal_rate", "low": "rate_low", "high": "rate_high",
         "xlabel": f"parent {ctx.label}", "ylabel": "share of replies removed"}), by_parent))
    if calm["n_events"].min() > 0:
        figures.append((FigureSpec(
            "removal_calm_down", "calm_down", "Calm-down after removals",
            ctx.caption(f"window: {o.calm_window} comments before/after in time ({o.calm_scope})",
                        ctx.ci_note(ci_methods(calm))), lab), calm))
    tables = {"removal_context": groups, "removal_tests": tests, "removal_matched": matched,
              "removal_by_parent": by_parent, "removal_calm_down": calm}
    n_scored = removed.filter(pl.col(ctx.label).is_not_null() & pl.col(ctx.label).is_not_nan()).height
    timed = removed["created_at"].is_not_null().any()
    why = {
        "removal_context": (groups["n"].sum() == 0, "no scored comment"),
        "removal_tests": (not (tests["n_removed_side"] * tests["n_kept_side"]).gt(0).any(),
                          f"no comparison has scored comments on both sides ({n_scored} of the {removed.height} "
                          "removed comments have a score)"),
        "removal_matched": (matched["n_removed"].sum() == 0,
                            "no (thread, reply depth) stratum holds both a scored removed and a scored kept comment"),
        "removal_by_parent": (by_parent["n"].sum() == 0,
                              "no comment's parent is in the data (flat threads, or top-level comments whose post "
                              "is missing)"),
        "removal_calm_down": (calm["n_events"].sum() == 0,
                              f"no scored comments within {o.calm_window} before and after a comment in time"
                              if timed else "no removed comment has a timestamp (created_at)"),
    }
    return _applicable(tables, figures, {name: reason for name, (empty, reason) in why.items() if empty})


def run_removal_prediction(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    """Score columns as predictors of removal (ROC/PR AUC) and the logistic regression removed ~ score."""
    o = ctx.params.removal_prediction
    labels = score_columns(frame, o.labels or ctx.labels or None)
    aucs, curves = classification_tables(frame, truth="removed", labels=labels, curve_labels=[ctx.label],
                                         grid=o.curve_grid, **ctx.boot)
    n_removed = int(aucs["n_positive"].max() or 0) if aucs.height else 0
    n = int(aucs["n"].max() or 0) if aucs.height else 0
    if n_removed == 0 or n_removed == n:
        return AnalysisOutput(skipped=f"needs scored removed and kept comments; found {n_removed} removed and "
                                      f"{n - n_removed} kept")
    logit = removal_logit(frame, label=ctx.label, include_depth=o.include_depth, include_score=o.include_score,
                          score_transform=o.score_transform, label_unit=o.label_unit)
    shown = _shown(n, int(aucs["n_threads"].max()))
    se_types = logit["se_type"].drop_nulls()
    figures = [
        (FigureSpec("removal_auc", "auc_forest", "Toxicity as a predictor of removal",
                    ctx.caption(shown, ctx.ci_note(ci_methods(aucs))), {"label": ctx.label}), aucs),
        (FigureSpec("removal_roc_pr", "roc_pr", f"Removal predicted by {ctx.label}",
                    ctx.caption(ctx.ci_note(ci_methods(aucs)) + " (bands)"),
                    {"label": ctx.label, "truth": "removed", "min_width": "double"}), curves),
        (FigureSpec("removal_odds_ratios", "odds_ratios", _formula(logit),
                    ctx.caption(shown, f"Wald CIs, SEs {se_types[0] if se_types.len() else 'n/a'}"),
                    {"label": ctx.label}), logit),
    ]
    return AnalysisOutput({"removal_auc": aucs, "removal_logit": logit, "removal_curves": curves}, figures)


def run_removal_reasons(frame: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """The moderators' stated reasons (a Lemmy modlog): removals per reason and the removed comments' toxicity."""
    if "removal_reason" not in columns_of(frame).columns:
        return AnalysisOutput(skipped="no removal_reason column (stated reasons come from a Lemmy modlog)")
    o = ctx.params.removal_reasons
    table = removal_reasons(frame, label=ctx.label, threshold=ctx.threshold, top=o.top, min_count=o.min_count,
                            **ctx.boot)
    if table.height == 0:
        return AnalysisOutput(skipped="no removed comment has a stated reason")
    spec = FigureSpec(
        "removal_reasons", "rate_bars", "Stated removal reasons",
        ctx.caption(_shown(int(table["n_removed"].sum()), None, "removed comments with a stated reason"),
                    ctx.ci_note(ci_methods(table))),
        {"label": ctx.label, "x": "reason", "y": "mean", "low": "mean_low", "high": "mean_high",
         "xlabel": "stated reason", "ylabel": f"mean {ctx.label} of the removed comments"})
    return AnalysisOutput({"removal_reasons": table}, [(spec, table)])


def _formula(logit: pl.DataFrame) -> str:
    """``removed ~ toxicity + reply_depth`` from the fitted terms (dropped ones left out)."""
    terms = logit.filter((pl.col("term") != "const") & pl.col("odds_ratio").is_not_nan())["term"].to_list()
    return "removed ~ " + (" + ".join(t.split(" (")[0] for t in terms) or "1")


def run_escalation(frame: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """Parent->reply correlation and conditional rates; reply toxicity by parent-toxicity bin."""
    o = ctx.params.escalation
    common = {"label": ctx.label, "threshold": ctx.threshold, "include_post_parent": o.include_post_parent,
              **ctx.boot}
    table = escalation(frame, **common)
    n = int(table["n"][0]) if table.height else 0
    if n == 0:
        return AnalysisOutput(skipped="no reply whose parent comment is in the data with a score (flat threads "
                                      "or no reply links" + ("" if o.include_post_parent else
                                                             "; replies to the post left out") + ")")
    by_bin = reply_by_parent_bin(frame, bins=o.parent_bins, **common)
    spec = FigureSpec("escalation", "profile", "Replies by parent toxicity",
                      ctx.caption(_shown(n, None, "parent→reply pairs"), ctx.ci_note(ci_methods(by_bin))),
                      {"label": f"reply {ctx.label}", "threshold": ctx.threshold, "x": "parent_bin",
                       "xlabel": f"parent {ctx.label}", "ylabel": f"reply {ctx.label}"})
    return AnalysisOutput({"escalation": table, "escalation_by_parent": by_bin}, [(spec, by_bin)])


def run_thread_summary(frame: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """One row per thread: size, depth, removal share and toxicity."""
    table = thread_summary(frame, label=ctx.label, threshold=ctx.threshold)
    if table.height == 0:
        return AnalysisOutput(skipped="no comments in the data")
    spec = FigureSpec("thread_summary", "thread_scatter", "Threads: size, toxicity and removals",
                      ctx.caption(_shown(table.height, None, "threads")),
                      {"label": ctx.label, "threshold": ctx.threshold})
    return AnalysisOutput({"thread_summary": table}, [(spec, table)])


def run_thread_length(frame: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """Toxic share by thread size (Avalle et al. 2024) and toxicity along the longest threads."""
    o = ctx.params.thread_length
    threshold = o.threshold
    table, trend, edges = toxicity_by_thread_length(
        frame, label=ctx.label, threshold=threshold, n_bins=o.n_bins, min_threads_last_bin=o.min_threads_last_bin,
        min_comments=o.min_comments, **ctx.boot)
    if table.height == 0:
        return AnalysisOutput(skipped=f"no thread with at least {o.min_comments} comment(s) and a scored comment")
    min_size = float(edges[-2])  # the last bin's lower edge (the smallest size when there is one bin)
    position = toxicity_by_relative_position(frame, label=ctx.label, threshold=threshold, min_size=min_size,
                                             n_bins=o.position_bins, **ctx.boot)
    method = (f"95% CI: thread bootstrap ({ctx.n_boot} replicates, seed {ctx.seed}), where Avalle et al. (2024) "
              "used per-bin t-intervals")
    bins_note = (f"{o.n_bins} log bins, last widened to ≥ {o.min_threads_last_bin} threads "
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
    tables = {"thread_length": table, "thread_length_trend": trend, "thread_length_position": position}
    empty = {"thread_length_position": f"no scored comment in the threads of ≥ {min_size:.0f} comments"}
    return _applicable(tables, figures, empty if position["n"].sum() == 0 else {})


def run_scorer_agreement(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    """Pairwise agreement of score columns (the run's labels and those of the further scorers in ``ctx``)."""
    o = ctx.params.scorer_agreement
    rows = sample_comments(frame, o.max_comments, ctx.seed)
    sampled = "" if rows.height == comments_only(frame).filter(pl.col("text").is_not_null()).height else (
        f"a random sample of {rows.height:,} comments (seed {ctx.seed})")
    columns = list(o.columns or [])
    if not columns:
        columns = score_columns(rows, ctx.labels or None)
        columns += [c for s in ctx.scorers if s["used"] for c in s["columns"].split(", ")]
    columns = list(dict.fromkeys(columns))
    table = scorer_agreement(rows, columns, threshold=ctx.threshold, thresholds=o.thresholds, **ctx.boot)
    scorers = pl.DataFrame(ctx.scorers, schema=SCORERS_SCHEMA)
    n = int(table["n"].min()) if table.height else 0
    skipped = [s["scorer"] for s in ctx.scorers if not s["used"] and not s["note"].startswith("same scores")]
    spec = FigureSpec("scorer_agreement", "agreement_matrix", "Agreement between scorers",
                      ctx.caption(_shown(n, None, "comments scored by every pair"), sampled,
                                  ctx.ci_note(ci_methods(table)) + " in the table",
                                  f"skipped (unavailable): {', '.join(skipped)}" if skipped else ""),
                      {"threshold": ctx.threshold})
    tables = {"scorer_agreement": table, **({"scorer_agreement_scorers": scorers} if scorers.height else {})}
    unused = "; the further scorers gave no new columns (see scorer_agreement_scorers)" if scorers.height else ""
    empty = {} if n else {"scorer_agreement": (f"fewer than two score columns to compare ({', '.join(columns)})"
                                               if len(columns) < 2 else "no comment is scored by every pair of "
                                               "columns") + unused}
    return _applicable(tables, [(spec, table)], empty)


def run_scorer_validation(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    """Score columns against human labels: ROC/PR AUC, metrics at the threshold, calibration."""
    o = ctx.params.scorer_validation
    truth = o.truth
    if truth not in frame.columns:
        return AnalysisOutput(skipped=f"no truth column {truth!r} in the data (the human labels; set "
                                      "analysis.params.scorer_validation.truth)")
    labels = score_columns(frame, o.labels or ctx.labels or None)
    metrics, curves = scorer_validation(frame, truth=truth, labels=labels, threshold=ctx.threshold,
                                        n_bins=o.calibration_bins, grid=o.curve_grid, with_curves=True, **ctx.boot)
    n = int(metrics["n"].max() or 0) if metrics.height else 0
    if n == 0:
        return AnalysisOutput(skipped=f"no scored comment with a {truth!r} label")
    calibration = calibration_table(frame, truth=truth, labels=labels, n_bins=o.calibration_bins, **ctx.boot)
    figures = [
        (FigureSpec("validation_roc_pr", "roc_pr", f"Scorer vs human labels ({truth})",
                    ctx.caption(ctx.ci_note(ci_methods(metrics)) + " (bands)"),
                    {"label": ctx.label, "truth": truth, "min_width": "double"}), curves),
        (FigureSpec("validation_calibration", "calibration", "Calibration against human labels",
                    ctx.caption(_shown(n), ctx.ci_note(ci_methods(calibration))), {"truth": truth}), calibration),
    ]
    return AnalysisOutput({"scorer_validation": metrics, "validation_calibration": calibration,
                           "validation_curves": curves}, figures)


def run_score_distribution(frame: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """Histogram of the score column."""
    table = score_distribution(frame, label=ctx.label, bins=ctx.params.score_distribution.bins)
    if table["count"].sum() == 0:
        return AnalysisOutput(skipped="no scored comment")
    spec = FigureSpec("score_distribution", "histogram", "Score distribution",
                      ctx.caption(_shown(int(table["count"].sum()))), {"label": ctx.label, "threshold": ctx.threshold})
    return AnalysisOutput({"score_distribution": table}, [(spec, table)])


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


def _forest(name: str, title: str, table: pl.DataFrame, ctx: AnalysisContext, *notes: str) -> tuple[
        FigureSpec, pl.DataFrame]:
    """A log-odds forest figure (a vs b per strategy, +0.5 smoothing) from a compare_groups table."""
    return (FigureSpec(name, "log_odds_forest", title,
                       ctx.caption(*notes, "log odds ratio with +0.5 per cell", ctx.ci_note(ci_methods(table)))),
            table)


def run_civility_profile(frame: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """Politeness strategies' rates by reply depth, removed vs kept, and replies to toxic vs non-toxic parents."""
    o = ctx.params.civility_profile
    strategies = strategy_columns(columns_of(frame), o.strategies)
    if not strategies:
        return AnalysisOutput(skipped=NO_STRATEGIES)
    common = {"score": o.score, **ctx.boot}
    depth = civility_by_depth(frame, strategies, depth_bins=o.depth_bins, **common)
    removal = civility_by_removal(frame, strategies, **common)
    parent = civility_by_parent(frame, strategies, label=ctx.label, threshold=ctx.threshold, **common)
    n = int(depth.filter(pl.col("strategy") == strategies[0])["n"].sum())
    figures = [
        (FigureSpec("civility_by_depth", "strategy_heatmap", "Politeness strategies by reply depth",
                    ctx.caption(_shown(n, _threads(frame)),
                                "colour: share of comments using each strategy (the score: its mean)")), depth),
        _forest("civility_removal_log_odds", "Strategies of removed vs kept comments", removal, ctx,
                _shown(int(removal["n_a"].max() or 0), None, "removed comments with markers")),
    ]
    tables = {"civility_by_depth": depth, "civility_by_removal": removal, "civility_by_parent": parent}
    empty = {"civility_by_depth": (depth["n"].sum() == 0, "no comment with markers and a known reply depth"),
             "civility_by_removal": ((removal["n_a"].min() or 0) * (removal["n_b"].min() or 0) == 0,
                                     "needs removed and kept comments with markers (removed comments' text kept)"),
             "civility_by_parent": ((parent["n_a"].min() or 0) * (parent["n_b"].min() or 0) == 0,
                                    f"needs replies to parents both >= and < {ctx.threshold:g} in {ctx.label}")}
    return _applicable(tables, figures, {name: why for name, (gone, why) in empty.items() if gone})


def run_derailment(frame: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """Do the first k comments' politeness strategies foretell a later removed/toxic comment (Zhang et al. 2018)?"""
    o = ctx.params.derailment
    strategies = strategy_columns(columns_of(frame), o.strategies)
    if not strategies:
        return AnalysisOutput(skipped=NO_STRATEGIES)
    has_removed = any(comments_only(part)["removed"].fill_null(False).any() for part in each_bucket(frame))
    has_label = ctx.label in columns_of(frame).columns and any(
        part[ctx.label].fill_nan(None).drop_nulls().len() > 0 for part in each_bucket(frame))
    available = {"removed": (has_removed, "removed comments"), "toxic": (has_label, f"{ctx.label} scores"),
                 "either": (has_removed or has_label, f"removed comments or {ctx.label} scores")}
    if not available.get(o.outcome, (True, ""))[0]:
        return AnalysisOutput(skipped=f"outcome {o.outcome!r} needs {available[o.outcome][1]}; the data has none")
    threshold = ctx.threshold if o.threshold is None else o.threshold
    threads, sample = derailment_threads(frame, strategies, k=o.k, outcome=o.outcome, label=ctx.label,
                                         threshold=threshold, require_civil_start=o.require_civil_start, score=o.score)
    counts = dict(sample.iter_rows())
    left_out = ", ".join(f"{n:,} {step.removeprefix('left out: ')}" for step, n in counts.items()
                         if step.startswith("left out"))
    toxic = "" if o.outcome == "removed" else f" ({ctx.label} >= {threshold:g})"
    what = (f"outcome: {o.outcome}{toxic} after the first {o.k} comments; "
            f"{counts['of which derail']:,} of {threads.height:,} threads derail; left out: {left_out}")
    if threads.height < o.min_threads:
        return AnalysisOutput(skipped=f"{threads.height} thread(s) to analyse, fewer than min_threads="
                                      f"{o.min_threads} ({what})")
    log_odds = derailment_log_odds(threads, strategies, **ctx.boot)
    tables = {"derailment_sample": sample, "derailment_log_odds": log_odds}
    figures = [_forest("derailment_log_odds", f"Early strategies of threads that derail ({o.outcome})", log_odds,
                       ctx, _shown(threads.height, None, "threads"), what)]
    n_derailed = int(threads["derails"].sum())
    if min(n_derailed, threads.height - n_derailed) < o.folds:
        return AnalysisOutput(tables, figures, f"derailment_prediction not written: {n_derailed} of {threads.height} "
                                               f"threads derail; {o.folds}-fold CV needs {o.folds} of each")
    base = ["strategies", *([o.score] if o.score in threads.columns else [])]
    sets = {" + ".join(base): [*strategies, *base[1:]]}
    if ctx.label in threads.columns and ctx.label != o.score:
        sets[" + ".join([*base, ctx.label])] = [*strategies, *base[1:], ctx.label]
    tables["derailment_prediction"] = derailment_prediction(threads, sets, folds=o.folds, **ctx.boot)
    return AnalysisOutput(tables, figures)


AnalysisFn = Callable[[Frames, AnalysisContext], AnalysisOutput]
ANALYSES: dict[str, AnalysisFn] = {
    "depth_profile": run_depth_profile,
    "removal_context": run_removal_context,
    "removal_prediction": run_removal_prediction,
    "removal_reasons": run_removal_reasons,
    "escalation": run_escalation,
    "thread_summary": run_thread_summary,
    "thread_length": run_thread_length,
    "scorer_agreement": run_scorer_agreement,
    "scorer_validation": run_scorer_validation,
    "score_distribution": run_score_distribution,
    "thread_view": run_thread_view,
    "thread_tree": run_thread_tree,
    "civility_profile": run_civility_profile,
    "derailment": run_derailment,
}

#: The analyses that need every row at once (ROC curves, regressions, matching, a sample), and the canonical
#: columns each reads: a run collects only these from the buckets, with the numeric columns scorers and data add
#: (scores, markers) and the columns options name (see :func:`collected_columns`). Every other analysis reduces
#: each bucket to per-thread sums or rows (memory grows with threads) and is handed the buckets themselves.
COLLECTED: dict[str, tuple[str, ...]] = {
    "removal_context": ("thread_id", "comment_id", "parent_id", "is_post", "reply_depth", "structure", "removed",
                        "parent_removed", "root_id", "created_at", "source_position"),
    "removal_prediction": ("thread_id", "is_post", "removed", "reply_depth", "score"),
    "scorer_agreement": ("thread_id", "is_post", "text"),
    "scorer_validation": ("thread_id", "is_post", "removed"),
}


def collected_columns(names: Sequence[str], schema: Mapping[str, pl.DataType], named: Sequence[str] = ()) -> list[str]:
    """Of ``schema`` (a bucket's), the columns the collected analyses among ``names`` read, in schema order:
    their canonical ones (:data:`COLLECTED`), ``source_position`` (rows collected from several buckets are put
    back in input order by it), every numeric or boolean column outside the canonical schema (scores, strategy
    markers, 0/1 labels) and the columns in ``named`` (e.g. a text truth column an option names).

    >>> schema = {"thread_id": pl.String, "text": pl.String, "removed": pl.Boolean, "subreddit": pl.String,
    ...           "toxicity": pl.Float64, "toxic": pl.String}
    >>> collected_columns(["removal_prediction", "depth_profile"], schema, ["toxic"])
    ['thread_id', 'removed', 'toxicity', 'toxic']
    """
    wanted = {"source_position", *named, *(c for name in names for c in COLLECTED.get(name, ()))}
    return [c for c, dtype in schema.items() if c in wanted or (
        c not in CANONICAL and (dtype.is_numeric() or dtype == pl.Boolean))]
