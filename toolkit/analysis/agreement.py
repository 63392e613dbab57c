"""Scorer agreement: do several scorers (or labels) rank and threshold the same comments alike?

A result that holds under one model only is fragile; pairwise Spearman correlation and agreement at the
threshold over the same comments show whether it hinges on the scorer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
import polars as pl

from toolkit.analysis.common import ci_methods, comments_only, named_columns, score_columns
from toolkit.analysis.declare import Analysis, AnalysisContext, applicable, shown
from toolkit.analysis.stats import RankPairs, cluster_bootstrap, replicate_sums, summarize
from toolkit.outputs import AnalysisOutput, FigureSpec
from toolkit.schema import scored

AGREEMENT_SCHEMA = {
    "a": pl.String, "b": pl.String, "n": pl.Int64, "n_threads": pl.Int64, "spearman": pl.Float64,
    "spearman_low": pl.Float64, "spearman_high": pl.Float64, "agreement": pl.Float64, "agreement_low": pl.Float64,
    "agreement_high": pl.Float64, "kappa": pl.Float64, "kappa_low": pl.Float64, "kappa_high": pl.Float64,
    "share_a": pl.Float64, "share_b": pl.Float64, "threshold": pl.Float64, "ci_method": pl.String,
}


SCORERS_SCHEMA = {"scorer": pl.String, "used": pl.Boolean, "columns": pl.String, "note": pl.String}


@dataclass
class ScorerAgreementOptions:
    """``scorers``: further scorers, names or {name, model} (e.g. [profanity, {name: detoxify, model:
    unbiased}]); ``columns``: null = the scorer's labels + theirs; a seeded sample of ``max_comments``."""

    columns: list[str] | None = None
    scorers: list[Any] = field(default_factory=list)
    thresholds: dict[str, float] = field(default_factory=dict)
    max_comments: int | None = 2000



def _agreement(sums: np.ndarray) -> np.ndarray:
    """Share of agreement and Cohen's kappa from sums of (1, a == b, a, b): ``[..., 2]``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        n = sums[..., 0]
        po, pa, pb = sums[..., 1] / n, sums[..., 2] / n, sums[..., 3] / n
        pe = pa * pb + (1 - pa) * (1 - pb)
        kappa = np.where(pe < 1, (po - pe) / (1 - pe), np.nan)
    return np.stack([po, kappa], axis=-1)


def sample_comments(frame: pl.DataFrame, max_comments: int | None, seed: int) -> pl.DataFrame:
    """The comments with text, or a seeded random sample of ``max_comments`` of them kept in data order:
    agreement needs hundreds of comments, not all of them (further scorers then score only the sample).

    >>> from toolkit.analysis.synthetic import random_threads
    >>> sample_comments(random_threads(5, seed=1), 10, seed=0).height
    10
    """
    rows = comments_only(frame).filter(pl.col("text").is_not_null())
    if not max_comments or rows.height <= max_comments:
        return rows
    return rows.with_row_index("_row").sample(max_comments, seed=seed).sort("_row").drop("_row")


def scorer_agreement(
    frame: pl.DataFrame,
    columns: Sequence[str],
    *,
    threshold: float = 0.5,
    thresholds: dict[str, float] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> pl.DataFrame:
    """For each pair of score columns, over comments scored by both: Spearman's rho, the share of comments
    on the same side of the threshold, and Cohen's kappa at the threshold, each with a thread-bootstrap CI.
    ``thresholds`` may give a column its own threshold (scorers are calibrated differently).

    Args:
        frame: a frame with two or more score columns.
        columns: the score columns to compare, pairwise.
        threshold: the "toxic" cut for every column ...
        thresholds: ... unless given here per column.
        n_boot, seed: bootstrap replicates and random seed.

    Returns:
        One row per pair: ``a``, ``b``, ``n`` (comments scored by both), ``n_threads``, ``spearman``,
        ``agreement``, ``kappa`` (each with ``_low`` and ``_high``: 95% thread-bootstrap percentile CI),
        ``share_a``, ``share_b`` (shares at or above the threshold), ``threshold`` (NaN when the pair's
        thresholds differ) and ``ci_method``.

    Raises:
        ConfigError: a named column is not in the frame.

    Example:
        The two scorers disagree on one comment (0.5 vs 0.4) of six: agreement 5/6, kappa (5/6 - 1/2) / (1/2):

        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import make_frame
        >>> scores = {"a1": (0.9, 0.7), "a2": (0.8, 0.6), "a3": (0.2, 0.3),  # id: (toxicity, other)
        ...           "b1": (0.1, 0.2), "b2": (0.2, 0.1), "b3": (0.5, 0.4)}
        >>> rows = [{"thread": cid[0], "id": cid, "score": s, "other": o} for cid, (s, o) in scores.items()]
        >>> frame = make_frame(rows)  # threads a and b
        >>> table = scorer_agreement(frame, ["toxicity", "other"], n_boot=50)
        >>> table.select("a", "b", "n", pl.col("spearman", "agreement", "kappa").round(3)).rows()
        [('toxicity', 'other', 6, 0.899, 0.833, 0.667)]
    """
    thresholds = thresholds or {}
    named_columns(frame, columns, "analysis.params.scorer_agreement.columns", "score columns", "a scorer")
    rows = comments_only(frame)
    out = []
    for a, b in combinations(columns, 2):
        pair = rows.filter(scored(a) & scored(b))
        x, y = pair[a].to_numpy().astype(np.float64), pair[b].to_numpy().astype(np.float64)
        ta, tb = float(thresholds.get(a, threshold)), float(thresholds.get(b, threshold))
        xa, yb = x >= ta, y >= tb
        rho = cluster_bootstrap(RankPairs(x, y).spearman, pair["thread_id"], n_boot=n_boot, seed=seed)
        cols = np.column_stack([np.ones(xa.size), xa == yb, xa, yb]).astype(np.float64)
        totals, reps, n_threads, method = replicate_sums(cols, pair["thread_id"], n_boot=n_boot, seed=seed)
        est, rep = _agreement(totals), _agreement(reps)
        agree = summarize(est[0], rep[..., 0], pair.height, n_threads, method)
        kappa = summarize(est[1], rep[..., 1], pair.height, n_threads, method)
        out.append({
            "a": a, "b": b, "n": pair.height, "n_threads": rho.n_clusters, "spearman": rho.estimate,
            "spearman_low": rho.low, "spearman_high": rho.high, "agreement": agree.estimate,
            "agreement_low": agree.low, "agreement_high": agree.high, "kappa": kappa.estimate,
            "kappa_low": kappa.low, "kappa_high": kappa.high,
            "share_a": float(xa.mean()) if xa.size else float("nan"),
            "share_b": float(yb.mean()) if yb.size else float("nan"),
            "threshold": ta if ta == tb else float("nan"), "ci_method": rho.method,
        })
    return pl.DataFrame(out, schema=AGREEMENT_SCHEMA)


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
                      ctx.caption(shown(n, None, "comments scored by every pair"), sampled,
                                  ctx.ci_note(ci_methods(table)) + " in the table",
                                  f"skipped (unavailable): {', '.join(skipped)}" if skipped else ""),
                      {"threshold": ctx.threshold})
    tables = {"scorer_agreement": table, **({"scorer_agreement_scorers": scorers} if scorers.height else {})}
    unused = "; the further scorers gave no new columns (see scorer_agreement_scorers)" if scorers.height else ""
    empty = {} if n else {"scorer_agreement": (f"fewer than two score columns to compare ({', '.join(columns)})"
                                               if len(columns) < 2 else "no comment is scored by every pair of "
                                               "columns") + unused}
    return applicable(tables, [(spec, table)], empty)


DECLARED = (
    Analysis("scorer_agreement", run_scorer_agreement, ScorerAgreementOptions,
             reads=("thread_id", "is_post", "text"), named=lambda o: list(o.columns or ()),
             tables=("scorer_agreement", "scorer_agreement_scorers"), figures=("scorer_agreement",)),
)
