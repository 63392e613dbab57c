"""The general thread bootstrap, weighted rank statistics and permutation tests, against hand values and
reference implementations on frequency-expanded samples."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

from toolkit.analysis.stats import (
    COMMENT_BOOTSTRAP,
    THREAD_BOOTSTRAP,
    RankedScores,
    RankPairs,
    bootstrap_mean,
    bootstrap_pvalue,
    cluster_bootstrap,
    cluster_codes,
    cohen_d,
    naive_mean_ci,
    stratified_permutation_pvalue,
    weighted_mean,
)


def test_cluster_ci_wider_than_naive_for_a_general_statistic() -> None:
    """Ten threads of 20 comments; every comment of a thread scores the same (0 or 1, alternating). The
    comments are 200 only in name: the thread bootstrap sees 10 units (SE ~ 0.5/sqrt(10) = 0.16), the
    naive interval 200 (SE ~ 0.035), so the cluster CI is several times wider."""
    values = np.repeat([0.0, 1.0] * 5, 20)
    threads = np.repeat([f"t{i}" for i in range(10)], 20)
    boot = cluster_bootstrap(lambda w: weighted_mean(values, w), threads, n_boot=2000, seed=3)
    low, high = naive_mean_ci(values)
    assert boot.estimate == 0.5 and boot.n == 200 and boot.n_clusters == 10 and boot.method == THREAD_BOOTSTRAP
    assert (boot.high - boot.low) > 3 * (high - low)
    assert 0.15 < boot.low < 0.3 and 0.7 < boot.high < 0.85


def test_general_bootstrap_matches_the_mean_bootstrap() -> None:
    """Same seed, same multinomial draws: the weighted-mean statistic reproduces bootstrap_mean exactly."""
    rng = np.random.default_rng(0)
    values, threads = rng.random(60), rng.integers(0, 9, 60).astype(str)
    a = cluster_bootstrap(lambda w: weighted_mean(values, w), threads, n_boot=300, seed=7)
    b = bootstrap_mean(values, threads, n_boot=300, seed=7)
    assert (a.estimate, a.low, a.high, a.n_clusters) == pytest.approx((b.estimate, b.low, b.high, b.n_clusters))


def test_single_thread_resamples_comments_and_says_so() -> None:
    codes, n_units, n_threads, method = cluster_codes(["x"] * 5)
    assert codes.tolist() == [0, 1, 2, 3, 4] and (n_units, n_threads, method) == (5, 1, COMMENT_BOOTSTRAP)


def test_bootstrap_pvalue_by_hand() -> None:
    # 2 of 10 replicates at or below 0 -> 2 * 0.2 = 0.4; all above -> 0; symmetric around null -> 1.
    assert bootstrap_pvalue(np.array([-1, 0, 1, 2, 3, 4, 5, 6, 7, 8.0]), 0.0) == pytest.approx(0.4)
    assert bootstrap_pvalue(np.arange(1, 11.0), 0.0) == 0.0
    assert bootstrap_pvalue(np.array([0.4, 0.6]), 0.5) == 1.0


def test_stratified_permutation_by_hand() -> None:
    """Two strata of two rows, one 'treated' row each: 4 equally likely assignments with differences +1
    (the observed one), 0, 0 and -1, so p = P(|T*| >= 1) = 2/4 (estimated as (1 + hits) / (1 + n_perm))."""
    values = np.array([1.0, 0.0, 3.0, 2.0])
    group = np.array([True, False, True, False])
    strata = np.array([0, 0, 1, 1])

    def stat(g: np.ndarray) -> float:
        return float(values[g].mean() - values[~g].mean())

    p = stratified_permutation_pvalue(stat, group, strata, n_perm=4000, seed=1)
    assert p == pytest.approx(0.5, abs=0.03)
    # shuffling keeps one treated row per stratum: the statistic only takes the values +1, 0, 0, -1
    seen = set()
    rng_stat = lambda g: seen.add(tuple(g.tolist())) or stat(g)  # noqa: E731
    stratified_permutation_pvalue(rng_stat, group, strata, n_perm=200, seed=2)
    assert all(sum(t[:2]) == 1 and sum(t[2:]) == 1 for t in seen)


def test_cohen_d_by_hand() -> None:
    # means 2 and 0, both variances 1 (ddof=1) -> d = 2
    assert cohen_d(np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.0, 1.0])) == pytest.approx(2.0)
    assert math.isnan(cohen_d(np.array([1.0]), np.array([0.0, 1.0])))


def average_precision(ranked: RankedScores, w: np.ndarray) -> float:
    """PR AUC as average precision, from the one-pass summary (no curve grid)."""
    return float(ranked.summary(w, np.zeros(0))[1])


def test_auc_and_ap_by_hand() -> None:
    """Positives score 0.9 and 0.4, negatives 0.6 and 0.1: 3 of 4 pairs ordered right (AUC 0.75); ranked
    0.9 (hit, P=1, R=.5), 0.6 (miss), 0.4 (hit, P=2/3, R=1): AP = .5*1 + .5*2/3 = 5/6."""
    ranked = RankedScores(np.array([1, 1, 0, 0], bool), np.array([0.9, 0.4, 0.6, 0.1]))
    ones = np.ones(4)
    assert ranked.auc(ones) == pytest.approx(0.75)
    assert average_precision(ranked, ones) == pytest.approx(5 / 6)
    # a tie between a positive and a negative counts one half
    assert RankedScores(np.array([1, 0], bool), np.array([0.5, 0.5])).auc(np.ones(2)) == pytest.approx(0.5)


def test_spearman_by_hand_with_ties() -> None:
    """x ranks (3.5, 3.5, 1.5, 1.5), y ranks (4, 2, 1, 3): rho = 2 / sqrt(4 * 5) = 1/sqrt(5)."""
    pairs = RankPairs(np.array([0.9, 0.9, 0.1, 0.1]), np.array([0.8, 0.6, 0.2, 0.7]))
    assert pairs.spearman(np.ones(4)) == pytest.approx(1 / math.sqrt(5))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_weighted_statistics_equal_the_expanded_sample(data: st.DataObject) -> None:
    """A replicate's weights mean 'row i drawn w[i] times': every weighted statistic must equal the plain
    one (sklearn, scipy) on the sample with each row repeated w[i] times."""
    n = data.draw(st.integers(4, 30))
    s = np.array(data.draw(st.lists(st.integers(0, 5), min_size=n, max_size=n))) / 5
    y = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    x2 = np.array(data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)), dtype=float)
    w = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=float)
    idx = np.repeat(np.arange(n), w.astype(int))
    ranked = RankedScores(y, s)
    if 0 < y[idx].sum() < idx.size:
        assert ranked.auc(w) == pytest.approx(roc_auc_score(y[idx], s[idx]))
        assert average_precision(ranked, w) == pytest.approx(average_precision_score(y[idx], s[idx]))
    else:
        assert math.isnan(ranked.auc(w))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on constant input (rho undefined: NaN on both sides)
        expected = spearmanr(s[idx], x2[idx]).statistic if idx.size > 1 else float("nan")
    got = RankPairs(s, x2).spearman(w)
    assert (math.isnan(expected) and math.isnan(got)) or got == pytest.approx(expected)


def test_one_pass_summary_equals_the_separate_statistics() -> None:
    rng = np.random.default_rng(5)
    y, s, w = rng.random(200) < 0.3, np.round(rng.random(200), 2), rng.integers(0, 3, 200).astype(float)
    ranked, grid = RankedScores(y, s), np.linspace(0, 1, 11)
    out = ranked.summary(w, grid)
    assert out[0] == pytest.approx(ranked.auc(w))
    fpr, tpr, _ = roc_curve(y, s, sample_weight=w, drop_intermediate=False)
    assert out[2:13] == pytest.approx(np.interp(grid, fpr, tpr))  # TPR at each FPR, linear between points
    precision, recall, _ = precision_recall_curve(y, s, sample_weight=w)
    precision, recall = precision[:-1], recall[:-1]  # leave out sklearn's closing (recall 0, precision 1)
    best = [max(precision[recall >= r], default=0.0) for r in grid]  # interpolated precision
    assert out[13:] == pytest.approx(best)


def test_results_do_not_depend_on_the_weight_block_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Weights come in blocks (memory stays flat for a million threads); the draws, and so every interval,
    are the same whatever the block size."""
    from toolkit.analysis import stats

    rng = np.random.default_rng(1)
    values, threads = rng.random(300), rng.integers(0, 40, 300).astype(str)
    whole = bootstrap_mean(values, threads, n_boot=250, seed=4)
    general = cluster_bootstrap(lambda w: weighted_mean(values, w), threads, n_boot=250, seed=4)
    monkeypatch.setattr(stats, "BLOCK_ENTRIES", 7 * 40)  # 7 replicates per block
    assert bootstrap_mean(values, threads, n_boot=250, seed=4) == whole
    assert cluster_bootstrap(lambda w: weighted_mean(values, w), threads, n_boot=250, seed=4) == general
    assert whole.low == pytest.approx(general.low) and whole.high == pytest.approx(general.high)


def test_cell_means_in_passes_gives_the_same_intervals(monkeypatch) -> None:
    """Many (group, column) cells are bootstrapped a few at a time (bounded memory): the same CIs, bit for bit."""
    import toolkit.analysis.stats as stats

    rng = np.random.default_rng(5)
    values = rng.random((300, 3))
    values[rng.random((300, 3)) < 0.2] = np.nan
    threads, groups = rng.integers(0, 40, 300), rng.integers(0, 7, 300)
    whole = stats.grouped_bootstrap_means(values, threads, groups, 7, n_boot=50, seed=1)
    monkeypatch.setattr(stats, "REPLICATE_ENTRIES", 2 * 50 * 4)  # 4 of the 21 cells per pass: 6 passes
    parts = stats.grouped_bootstrap_means(values, threads, groups, 7, n_boot=50, seed=1)
    assert np.isfinite(whole.low).sum() > 15
    np.testing.assert_array_equal(whole.low, parts.low)
    np.testing.assert_array_equal(whole.high, parts.high)
