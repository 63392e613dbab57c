"""Derailment as forecasting (Zhang et al. 2018, "Conversations Gone Awry"; Chang & Danescu-Niculescu-Mizil
2019): do a thread's early comments foretell a later removed, toxic or human-labelled comment? Per-feature log
odds and cross-validated thread-level models (ROC AUC with a thread-bootstrap CI).

Threads are the unit: each is one row with features of its *prefix* (the comments it is judged from, by time,
else page order; with ``include_post`` the post is the first turn, as a conversation's opening comment is)
and whether a comment after the prefix is an outcome comment. The prefix is the first ``k`` turns, or with
``k: null`` every turn before the outcome point: for a thread that derails, the turns before its first outcome
turn; for one that does not, a prefix length matched to the derailing threads' (:func:`matched_prefixes`), so
that length alone cannot tell them apart.

Features of the prefix (each model's are listed in its table): the politeness strategies' use (share of its
turns using each) and score; the run's toxicity mean and max; the share of turns asking a question (``?``) and
addressing the reader directly (second-person pronouns); the mean words per turn; the prefix length in turns;
the mean log reply gap in seconds where times are known; and the same of the prefix's last turn (its toxicity,
question, second-person address, words: ``*_last``), the turn the outcome answers, since replies follow their
parent's tone (the escalation analysis measures it). A feature constant over the threads is left out of the
models (named in the sample table's caption).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from toolkit.analysis.civility import NO_STRATEGIES, compare_groups, strategy_columns, uses
from toolkit.analysis.common import (
    Frames,
    columns_of,
    comments_only,
    each_bucket,
    gather,
    time_order_key,
    truth_column,
)
from toolkit.analysis.declare import Analysis, AnalysisContext, forest, shown
from toolkit.analysis.stats import RankedScores, bootstrap_replicates, percentile_ci
from toolkit.errors import ConfigError
from toolkit.outputs import AnalysisOutput

OUTCOMES = ("removed", "toxic", "either", "label")
#: Second-person address: the pronouns of Zhang et al.'s direct-address markers, plus the informal "u"/"ur".
SECOND_PERSON = r"(?i)\b(you|your|yours|yourself|yourselves|you're|youre|you've|you'll|you'd|u|ur)\b"
CONVERSATION_FEATURES = ("question_share", "second_person_share", "mean_words", "prefix_turns", "log_reply_gap",
                         "question_last", "second_person_last", "words_last")
SAMPLE_SCHEMA = {"step": pl.String, "threads": pl.Int64}
PREDICTION_SCHEMA = {
    "model": pl.String, "features": pl.String, "n_threads": pl.Int64, "n_derailed": pl.Int64, "folds": pl.Int64,
    "roc_auc": pl.Float64, "roc_low": pl.Float64, "roc_high": pl.Float64, "ci_method": pl.String,
}


@dataclass
class DerailmentOptions:
    """A thread derails when, after its first ``k`` comments (by time, else page order; ``include_post``: the
    post is the first), it holds a comment that is ``outcome``: removed | toxic (score >= ``threshold``;
    null: analysis.threshold) | either | label (``label_column`` is true: a human label). ``k: null``: every
    turn before the outcome point (civil threads: a matched prefix length, drawn with ``seed``). Shorter
    threads are left out and counted; with ``require_civil_start`` (Zhang et al. 2018) so are threads whose
    first k comments already hold the outcome. Skipped below ``min_threads``; ``folds``-fold CV."""

    strategies: list[str] | None = None
    score: str = "politeness"
    k: int | None = 2
    outcome: str = "either"
    label_column: str | None = None
    threshold: float | None = None
    require_civil_start: bool = True
    include_post: bool = False
    folds: int = 5
    min_threads: int = 20
    seed: int = 0



def _outcome_expr(outcome: str, label: str, threshold: float, has_label: bool,
                  label_column: str | None = None) -> pl.Expr:
    """Per comment: does it count as derailing (removed, score >= threshold, either, or a true label)?"""
    if outcome not in OUTCOMES:
        raise ConfigError("analysis.params.derailment.outcome", f"{outcome!r}: give one of {', '.join(OUTCOMES)}")
    if outcome == "label":
        if not label_column:
            raise ConfigError("analysis.params.derailment.label_column",
                              "outcome: label needs label_column (a boolean column of the data, e.g. offensive)")
        return pl.col(label_column).fill_null(False)
    removed = pl.col("removed").fill_null(False)
    toxic = (pl.col(label).fill_nan(None) >= threshold).fill_null(False) if has_label else pl.lit(False)
    return {"removed": removed, "toxic": toxic, "either": removed | toxic}[outcome]


def _turns(bucket: pl.DataFrame, include_post: bool, label_column: str | None) -> pl.DataFrame:
    """The bucket's turns in thread order with ``position`` (0-based; the post first when included) and the
    per-turn conversation features: question, second-person address, words, seconds since the previous turn."""
    rows = bucket.filter(pl.col("is_post").fill_null(False).not_()) if not include_post else bucket
    if label_column and label_column in rows.columns and rows.schema[label_column] != pl.Boolean:
        rows = truth_column(rows, label_column)
    text = pl.col("text") if "text" in rows.columns else pl.lit(None, dtype=pl.String)
    rows = rows.sort(["thread_id", pl.col("is_post").fill_null(False).not_(), *time_order_key()], nulls_last=True)
    return rows.with_columns(
        pl.int_range(pl.len()).over("thread_id").cast(pl.Int64).alias("position"),
        text.str.contains("?", literal=True).cast(pl.Float64).alias("_question"),
        text.str.contains(SECOND_PERSON).cast(pl.Float64).alias("_you"),
        text.str.count_matches(r"\S+").cast(pl.Float64).alias("_words"),
        (pl.col("created_at").diff().over("thread_id").dt.total_seconds().cast(pl.Float64).clip(0.0) + 1.0)
        .log().alias("_gap"),
    )


def matched_prefixes(outcomes: pl.DataFrame, *, seed: int = 0) -> tuple[pl.DataFrame, dict[str, int]]:
    """Prefix lengths for ``k: null``: ``outcomes`` has one row per thread (``thread_id``, ``n_turns``,
    ``first_out``: position of its first outcome turn, null if none). A derailing thread's prefix is the turns
    before its first outcome turn (left out when that is the first turn: nothing to judge from). A civil
    thread, visited in a seeded random order, takes the derailing prefix length that leaves at least one later
    turn (as the outcome follows a derailing prefix) and is most under-represented so far against the
    derailing threads' length distribution (ties: the shorter); a civil thread shorter than every derailing
    prefix plus one turn is left out. Returns ``thread_id, prefix, derails`` and the counts of each rule.

    >>> t = pl.DataFrame({"thread_id": ["a", "b", "c", "d", "e"], "n_turns": [3, 4, 4, 2, 5],
    ...                   "first_out": [2, 1, None, None, 0]})
    >>> prefixes, counts = matched_prefixes(t)
    >>> prefixes.rows(), counts["left out: outcome at the first turn"]
    ([('a', 2, True), ('b', 1, True), ('c', 1, False), ('d', 1, False)], 1)
    """
    import numpy as np

    derailing = outcomes.filter(pl.col("first_out") >= 1).select(
        "thread_id", prefix=pl.col("first_out"), derails=pl.lit(True))
    civil = outcomes.filter(pl.col("first_out").is_null()).sort("thread_id")
    lengths, counts = np.unique(derailing["prefix"].to_numpy(), return_counts=True)
    target = counts / max(counts.sum(), 1)
    taken = np.zeros(len(lengths))
    order = np.random.default_rng(seed).permutation(civil.height)
    sizes, chosen = civil["n_turns"].to_numpy(), np.full(civil.height, -1)
    for i in order:
        fits = lengths <= sizes[i] - 1
        if not fits.any():
            continue
        deficit = np.where(fits, target * (taken.sum() + 1) - taken, -np.inf)
        j = int(np.argmax(deficit))
        chosen[i], taken[j] = lengths[j], taken[j] + 1
    matched = civil.select("thread_id", prefix=pl.Series(chosen, dtype=pl.Int64), derails=pl.lit(False)).filter(
        pl.col("prefix") >= 0)
    rules = {
        "left out: outcome at the first turn": int((outcomes["first_out"] == 0).sum()),
        "left out: civil, shorter than every derailing prefix + 1 turn": civil.height - matched.height,
        "derailing: the turns before the first outcome turn": derailing.height,
        "civil: prefix length matched to the derailing threads'": matched.height,
    }
    return pl.concat([derailing, matched]).sort("thread_id"), rules


def derailment_threads(
    frame: Frames,
    strategies: Sequence[str],
    *,
    k: int | None = 2,
    outcome: str = "either",
    label: str = "toxicity",
    threshold: float = 0.5,
    require_civil_start: bool = True,
    score: str | None = "politeness",
    label_column: str | None = None,
    include_post: bool = False,
    seed: int = 0,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One row per thread kept: ``thread_id``, ``n_comments``, ``derails``, the share of its prefix turns using
    each strategy (count > 0), the prefix means of ``score`` and ``label`` (where present), ``<label>_max``,
    ``<label>_last``
    and the conversation features (module docstring); and the counts of threads left out (fewer than k+1
    comments; with ``require_civil_start``, outcome already among the first k; for ``k: null`` the rules of
    :func:`matched_prefixes`).

    >>> from toolkit.analysis.synthetic import make_frame
    >>> f = make_frame([{"thread": "t", "id": "t"}] + [{"thread": "t", "id": f"c{i}", "parent": "t",
    ...                 "score": s, "hedges": h, "minute": i} for i, (s, h) in enumerate([(0.1, 1), (0.2, 0),
    ...                 (0.9, 0)])])
    >>> threads, sample = derailment_threads(f, ["hedges"], k=2)
    >>> threads.select("derails", "hedges", "toxicity", "toxicity_max").row(0)
    (True, 0.5, 0.15000000000000002, 0.2)
    """
    if k is not None and k < 1:
        raise ConfigError("analysis.params.derailment.k", f"{k}: the early comments must be at least 1")
    columns = columns_of(frame).columns
    if outcome == "label" and label_column not in columns:
        raise ConfigError("analysis.params.derailment.label_column",
                          f"{label_column!r} is not a column of the data (columns: {', '.join(columns)})")
    out = _outcome_expr(outcome, label, threshold, label in columns, label_column).alias("_out")

    def turns(bucket: pl.DataFrame) -> pl.DataFrame:
        return _turns(bucket, include_post, label_column).with_columns(out)

    firsts = gather(frame, lambda b: turns(b).group_by("thread_id").agg(
        n_turns=pl.len().cast(pl.Int64), first_out=pl.col("position").filter(pl.col("_out")).min(),
        late_out=pl.col("_out").filter(pl.col("position") >= (k or 0)).any())).sort("thread_id")
    unit = "turn" if include_post else "comment"
    if k is None:
        prefixes, rules = matched_prefixes(firsts, seed=seed)
        steps = {f"threads with {unit}s": firsts.height, **rules}
    else:
        long_enough = firsts.filter(pl.col("n_turns") > k)
        early_out = pl.col("first_out").fill_null(k) < k
        kept = long_enough.filter(~early_out) if require_civil_start else long_enough
        # derails: an outcome after the first k turns (an early one does not count, or rules the thread out)
        prefixes = kept.select("thread_id", prefix=pl.lit(k, dtype=pl.Int64), derails="late_out")
        steps = {f"threads with {unit}s": firsts.height,
                 f"left out: fewer than {k + 1} {unit}s": firsts.height - long_enough.height,
                 f"left out: outcome ({outcome}) already in the first {k} {unit}s":
                     long_enough.height - kept.height}
    early = pl.col("position") < pl.col("_prefix")
    flags = [uses(c).filter(early).mean() for c in strategies]
    extra = [pl.col(c).cast(pl.Float64).fill_nan(None).filter(early).mean().alias(c)
             for c in dict.fromkeys((score, label)) if c and c in columns]
    last = pl.col("position") == pl.col("_prefix") - 1  # the turn the next one answers
    if label in columns:
        extra.append(pl.col(label).cast(pl.Float64).fill_nan(None).filter(early).max().alias(f"{label}_max"))
        extra.append(pl.col(label).cast(pl.Float64).fill_nan(None).filter(last).first().alias(f"{label}_last"))
    lengths = prefixes.select("thread_id", _prefix="prefix")

    def features(bucket: pl.DataFrame) -> pl.DataFrame:
        rows = turns(bucket).join(lengths, on="thread_id", how="inner")
        return rows.group_by("thread_id").agg(
            pl.len().alias("n_comments"), *flags, *extra,
            pl.col("_question").filter(early).mean().alias("question_share"),
            pl.col("_you").filter(early).mean().alias("second_person_share"),
            pl.col("_words").filter(early).mean().alias("mean_words"),
            pl.col("_prefix").first().cast(pl.Float64).alias("prefix_turns"),
            pl.col("_gap").filter(early & (pl.col("position") > 0)).mean().alias("log_reply_gap"),
            pl.col("_question").filter(last).first().alias("question_last"),
            pl.col("_you").filter(last).first().alias("second_person_last"),
            pl.col("_words").filter(last).first().alias("words_last"),
        )

    per_thread = prefixes.select("thread_id", "derails").join(gather(frame, features), on="thread_id").sort(
        "thread_id")
    sample = pl.DataFrame({"step": [*steps, "threads analysed", "of which derail"], "threads": [
        *steps.values(), per_thread.height, int(per_thread["derails"].sum())]}, schema=SAMPLE_SCHEMA)
    order = ["thread_id", "n_comments", "derails"]
    return per_thread.select(*order, *[c for c in per_thread.columns if c not in order]), sample


def derailment_log_odds(
    threads: pl.DataFrame, strategies: Sequence[str], *, n_boot: int = 1000, seed: int = 0,
) -> pl.DataFrame:
    """Per strategy: share of derailing (a) vs civil (b) threads whose first comments use it, difference and
    smoothed log odds ratio with thread-bootstrap CIs (:func:`~toolkit.analysis.civility.compare_groups`); the
    other feature columns (mean scores of the first comments) as differences in means.

    >>> threads = pl.DataFrame({"thread_id": ["x", "y", "z"], "derails": [True, True, False], "hedges": [1.0, 0, 0]})
    >>> round(derailment_log_odds(threads, ["hedges"], n_boot=10)["log_odds"][0], 3)  # log(1.5 * 1.5 / (1.5 * 0.5))
    1.099
    """
    columns = [c for c in threads.columns if c not in ("thread_id", "n_comments", "derails")
               and threads[c].drop_nulls().n_unique() > 1 or c in strategies]
    values = {c: pl.col(c).cast(pl.Float64).fill_nan(None) for c in columns}
    values |= {c: (values[c] > 0).cast(pl.Float64) for c in strategies}
    return compare_groups(threads, values, pl.col("derails"), comparison="threads that derail vs not", n_boot=n_boot,
                          seed=seed)


def derailment_prediction(
    threads: pl.DataFrame,
    feature_sets: dict[str, Sequence[str]],
    *,
    folds: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """Cross-validated logistic regression (scikit-learn, features standardised) of ``derails`` on each
    feature set: stratified ``folds``-fold (seeded; one row per thread), ROC AUC of the out-of-fold predictions
    with a thread-bootstrap CI. Missing feature values are imputed by the column mean.

    >>> threads = pl.DataFrame({"thread_id": [f"t{i}" for i in range(20)], "derails": [i % 2 == 0 for i in range(20)],
    ...                         "hedges": [float(i % 2 == 0) for i in range(20)]})
    >>> derailment_prediction(threads, {"hedges only": ["hedges"]}, folds=2, n_boot=10)["roc_auc"].to_list()
    [1.0]
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if folds < 2:
        raise ConfigError("analysis.params.derailment.folds", f"{folds}: cross-validation needs at least 2 folds")
    y = threads["derails"].to_numpy().astype(bool)
    out = []
    for model, features in feature_sets.items():
        x = threads.select(pl.col(c).cast(pl.Float64).fill_null(pl.col(c).mean()).fill_null(0.0)
                           for c in features).to_numpy()
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model_ = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000))
            p = cross_val_predict(model_, x, y, cv=cv, method="predict_proba")[:, 1]
        ranked = RankedScores(y, p)
        est, reps, _, method = bootstrap_replicates(ranked.auc, threads["thread_id"], n_boot=n_boot, seed=seed)
        low, high = percentile_ci(reps)
        out.append({"model": model, "features": ", ".join(features), "n_threads": y.size, "n_derailed": int(y.sum()),
                    "folds": folds, "roc_auc": float(est), "roc_low": float(low), "roc_high": float(high),
                    "ci_method": method})
    return pl.DataFrame(out, schema=PREDICTION_SCHEMA)


def feature_sets(threads: pl.DataFrame, strategies: Sequence[str], score: str, label: str) -> dict[str, list[str]]:
    """The models: strategies (+ score), + toxicity (mean), toxicity (mean, max, last) alone, the conversation
    features alone, and all of them; a feature constant over the threads is left out (nothing to learn)."""
    def varies(c: str) -> bool:
        return c in threads.columns and threads[c].drop_nulls().n_unique() > 1

    base = [*strategies, *([score] if score in threads.columns else [])]
    name = " + ".join(["strategies", *([score] if score in threads.columns else [])])
    sets = {name: base}
    toxicity = [c for c in (label, f"{label}_max", f"{label}_last") if varies(c) and c != score]
    if label in threads.columns and label != score:
        sets[f"{name} + {label}"] = [*base, label]
    if toxicity:
        sets[f"{label} ({', '.join(c.removeprefix(label).lstrip('_') or 'mean' for c in toxicity)})"] = toxicity
    conversation = [c for c in CONVERSATION_FEATURES if varies(c)]
    if conversation:
        sets["conversation (" + ", ".join(conversation) + ")"] = conversation
        sets["all"] = [*base, *toxicity, *conversation]
    return {model: features for model, features in sets.items() if features}


def run_derailment(frame: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """Do a thread's early comments foretell a later removed/toxic/labelled comment (Zhang et al. 2018)?"""
    o = ctx.params.derailment
    strategies = strategy_columns(columns_of(frame), o.strategies)
    if not strategies:
        return AnalysisOutput(skipped=NO_STRATEGIES)
    columns = columns_of(frame).columns
    has_removed = any(comments_only(part)["removed"].fill_null(False).any() for part in each_bucket(frame))
    has_label = ctx.label in columns and any(
        part[ctx.label].fill_nan(None).drop_nulls().len() > 0 for part in each_bucket(frame))
    has_column = bool(o.label_column) and o.label_column in columns
    available = {"removed": (has_removed, "removed comments"), "toxic": (has_label, f"{ctx.label} scores"),
                 "either": (has_removed or has_label, f"removed comments or {ctx.label} scores"),
                 "label": (has_column, f"a label column {o.label_column!r} (label_column)")}
    if not available.get(o.outcome, (True, ""))[0]:
        return AnalysisOutput(skipped=f"outcome {o.outcome!r} needs {available[o.outcome][1]}; the data has none")
    threshold = ctx.threshold if o.threshold is None else o.threshold
    threads, sample = derailment_threads(
        frame, strategies, k=o.k, outcome=o.outcome, label=ctx.label, threshold=threshold,
        require_civil_start=o.require_civil_start, score=o.score, label_column=o.label_column,
        include_post=o.include_post, seed=o.seed)
    counts = dict(sample.iter_rows())
    left_out = ", ".join(f"{n:,} {step.removeprefix('left out: ')}" for step, n in counts.items()
                         if step.startswith("left out"))
    toxic = {"removed": "", "label": f" ({o.label_column} true)"}.get(o.outcome, f" ({ctx.label} >= {threshold:g})")
    unit = "turns" if o.include_post else "comments"
    prefix = (f"the first {o.k} {unit}" if o.k is not None
              else f"every {unit[:-1]} before the outcome (civil threads: matched prefix lengths)")
    what = (f"outcome: {o.outcome}{toxic} after {prefix}; "
            f"{counts['of which derail']:,} of {threads.height:,} threads derail; left out: {left_out}")
    if threads.height < o.min_threads:
        return AnalysisOutput(skipped=f"{threads.height} thread(s) to analyse, fewer than min_threads="
                                      f"{o.min_threads} ({what})")
    log_odds = derailment_log_odds(threads, strategies, **ctx.boot)
    tables = {"derailment_sample": sample, "derailment_log_odds": log_odds}
    figures = [forest("derailment_log_odds", f"Early strategies of threads that derail ({o.outcome})", log_odds,
                       ctx, shown(threads.height, None, "threads"), what)]
    n_derailed = int(threads["derails"].sum())
    if min(n_derailed, threads.height - n_derailed) < o.folds:
        return AnalysisOutput(tables, figures, f"derailment_prediction not written: {n_derailed} of {threads.height} "
                                               f"threads derail; {o.folds}-fold CV needs {o.folds} of each")
    sets = feature_sets(threads, strategies, o.score, ctx.label)
    tables["derailment_prediction"] = derailment_prediction(threads, sets, folds=o.folds, **ctx.boot)
    return AnalysisOutput(tables, figures)


DECLARED = (
    Analysis("derailment", run_derailment, DerailmentOptions, bucketed=True,
             reads=("thread_id", "comment_id", "parent_id", "is_post", "reply_depth", "structure", "created_at",
                    "source_position", "removed", "text"),
             named=lambda o: [o.label_column] if o.label_column else [],  # what an `outcome: label` reads
             tables=("derailment_sample", "derailment_log_odds", "derailment_prediction"),
             figures=("derailment_log_odds",)),
)
