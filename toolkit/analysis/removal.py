"""Removal context: how toxic are removed comments, and the replies around them, vs kept ones."""

from __future__ import annotations

import numpy as np
import polars as pl

from toolkit.analysis.stats import bootstrap_difference, bootstrap_mean

COMPARISON_SCHEMA = {
    "comparison": pl.String, "group": pl.String, "n": pl.Int64, "n_threads": pl.Int64, "mean": pl.Float64,
    "mean_low": pl.Float64, "mean_high": pl.Float64, "ci_method": pl.String,
}
TEST_SCHEMA = {
    "comparison": pl.String, "n_removed_side": pl.Int64, "n_kept_side": pl.Int64, "difference": pl.Float64,
    "low": pl.Float64, "high": pl.Float64, "p_value": pl.Float64, "roc_auc": pl.Float64,
}


def _compare(rows: pl.DataFrame, flag: str, label: str, name: str, n_boot: int, seed: int) -> tuple[list, dict]:
    rows = rows.filter(pl.col(label).is_not_null() & pl.col(flag).is_not_null())
    groups = []
    for value, group_name in ((True, "removed"), (False, "kept")):
        part = rows.filter(pl.col(flag) == value)
        ci = bootstrap_mean(part[label], part["thread_id"], n_boot=n_boot, seed=seed)
        groups.append({"comparison": name, "group": group_name, "n": ci.n, "n_threads": ci.n_clusters,
                       "mean": ci.estimate, "mean_low": ci.low, "mean_high": ci.high, "ci_method": ci.method})
    test = bootstrap_difference(rows[label], rows[flag], rows["thread_id"], n_boot=n_boot, seed=seed)
    return groups, {"comparison": name, "n_removed_side": test["n_true"], "n_kept_side": test["n_false"],
                    "difference": test["difference"], "low": test["low"], "high": test["high"],
                    "p_value": test["p_value"], "roc_auc": np.nan}


def removal_auc(frame: pl.DataFrame, *, label: str = "toxicity") -> float:
    """ROC AUC of ``label`` as a predictor of ``removed`` among comments that still have a score."""
    from sklearn.metrics import roc_auc_score

    rows = frame.filter(~pl.col("is_post") & pl.col(label).is_not_null() & pl.col("removed").is_not_null())
    y = rows["removed"].to_numpy()
    if rows.height == 0 or y.all() or not y.any():
        return float("nan")
    return float(roc_auc_score(y, rows[label].to_numpy()))


def removal_context(
    frame: pl.DataFrame, *, label: str = "toxicity", n_boot: int = 1000, seed: int = 0
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two tables: group means with thread-bootstrap CIs, and removed-minus-kept differences.

    Comparisons: replies whose parent was removed vs replies to kept comments (needs reply links);
    removed vs kept comments themselves (needs removed comments that kept their text), with ROC AUC.
    """
    comments = frame.filter(~pl.col("is_post"))
    groups, tests = [], []
    for flag, name in (("parent_removed", "replies to removed vs kept"), ("removed", "removed vs kept")):
        g, t = _compare(comments, flag, label, name, n_boot, seed)
        if flag == "removed":
            t["roc_auc"] = removal_auc(frame, label=label)
        groups += g
        tests.append(t)
    return pl.DataFrame(groups, schema=COMPARISON_SCHEMA), pl.DataFrame(tests, schema=TEST_SCHEMA)
