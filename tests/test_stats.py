"""Thread bootstrap on data whose answers are known by hand."""

from __future__ import annotations

import math

import numpy as np

from toolkit.analysis.stats import (
    COMMENT_BOOTSTRAP,
    THREAD_BOOTSTRAP,
    bootstrap_difference,
    bootstrap_mean,
    naive_mean_ci,
)


def test_cluster_ci_wider_than_naive_when_threads_differ() -> None:
    """Two threads, one all toxic (1.0) and one all clean (0.0): the thread means are 1 and 0, so every
    replicate is 0, 0.5 or 1 and the 95% interval is [0, 1]; the naive interval is only 0.5 ± 0.22."""
    values = np.r_[np.ones(10), np.zeros(10)]
    threads = ["a"] * 10 + ["b"] * 10
    ci = bootstrap_mean(values, threads, n_boot=2000, seed=1)
    assert (ci.estimate, ci.low, ci.high, ci.n, ci.n_clusters, ci.method) == (0.5, 0.0, 1.0, 20, 2, THREAD_BOOTSTRAP)
    naive_low, naive_high = naive_mean_ci(values)
    assert math.isclose(naive_high - 0.5, 1.96 * values.std(ddof=1) / math.sqrt(20), rel_tol=1e-3)
    assert ci.high - ci.low > naive_high - naive_low


def test_identical_threads_give_zero_width() -> None:
    ci = bootstrap_mean([0.2, 0.4, 0.2, 0.4], ["a", "a", "b", "b"], n_boot=500)
    assert math.isclose(ci.low, 0.3) and math.isclose(ci.high, 0.3)


def test_nulls_ignored_single_thread_falls_back_and_says_so() -> None:
    ci = bootstrap_mean([1.0, None, 0.0], ["t", "t", "t"], n_boot=300)
    assert ci.n == 2 and ci.n_clusters == 1 and ci.method == COMMENT_BOOTSTRAP and ci.estimate == 0.5


def test_empty_gives_nan() -> None:
    ci = bootstrap_mean([], [], n_boot=10)
    assert ci.n == 0 and math.isnan(ci.estimate) and math.isnan(ci.low)


def test_seeded_results_repeat() -> None:
    rng = np.random.default_rng(3)
    v, c = rng.random(50), rng.integers(0, 7, 50).astype(str)
    assert bootstrap_mean(v, c, seed=5) == bootstrap_mean(v, c, seed=5)


def test_difference_sign_and_p_value() -> None:
    # removed comments (True) score 0.9, kept 0.1, in each of 4 threads: difference 0.8, p ~ 0.
    values = [0.9, 0.1] * 4
    group = [True, False] * 4
    threads = ["a", "a", "b", "b", "c", "c", "d", "d"]
    out = bootstrap_difference(values, group, threads, n_boot=500)
    assert math.isclose(out["difference"], 0.8) and out["p_value"] == 0.0
    assert (out["n_true"], out["n_false"]) == (4, 4)
    assert math.isclose(out["low"], 0.8) and math.isclose(out["high"], 0.8)
