"""Escalation, toxicity vs thread length (Avalle et al. 2024) and scorer agreement on hand-built threads."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toolkit.analysis.agreement import scorer_agreement
from toolkit.analysis.escalation import escalation, reply_by_parent_bin
from toolkit.analysis.stats import ONE_THREAD
from toolkit.analysis.synthetic import make_frame
from toolkit.analysis.thread_length import (
    log_size_bins,
    toxicity_by_relative_position,
    toxicity_by_thread_length,
)


@pytest.fixture
def replies():
    """Post P; a (0.9) with replies 0.8 and 0.6; b (0.1) with replies 0.2 and 0.7."""
    return make_frame([
        {"thread": "X", "id": "X", "score": 0.0},
        {"thread": "X", "id": "a", "parent": "X", "score": 0.9},
        {"thread": "X", "id": "b", "parent": "X", "score": 0.1},
        {"thread": "X", "id": "a1", "parent": "a", "score": 0.8},
        {"thread": "X", "id": "a2", "parent": "a", "score": 0.6},
        {"thread": "X", "id": "b1", "parent": "b", "score": 0.2},
        {"thread": "X", "id": "b2", "parent": "b", "score": 0.7},
    ])


def test_escalation_by_hand(replies) -> None:
    """Pairs (0.9, 0.8), (0.9, 0.6), (0.1, 0.2), (0.1, 0.7): P(toxic reply | toxic parent) = 1,
    P(toxic reply | non-toxic parent) = 1/2, difference 1/2, ratio 2; Spearman 1/sqrt(5) (ties)."""
    table = escalation(replies, threshold=0.5, n_boot=100)
    assert table["measure"].to_list() == [
        "spearman rho (parent, reply)", "pearson r (parent, reply)", "P(reply >= 0.5 | parent >= 0.5)",
        "P(reply >= 0.5 | parent < 0.5)", "risk difference (toxic - non-toxic parent)",
        "risk ratio (toxic / non-toxic parent)"]
    est = table["estimate"].to_list()
    assert est[0] == pytest.approx(1 / math.sqrt(5)) and table["n"][0] == 4
    assert est[2:] == pytest.approx([1.0, 0.5, 0.5, 2.0])
    assert table["n"].to_list()[2:4] == [2, 2] and math.isnan(table["p_value"][2])
    with_post = escalation(replies, include_post_parent=True, n_boot=20)
    assert with_post["n"][0] == 6


def test_reply_by_parent_bin_by_hand(replies) -> None:
    table = reply_by_parent_bin(replies, bins=[0.0, 0.5, 1.0], threshold=0.5, n_boot=50)
    assert table["parent_bin"].to_list() == ["[0, 0.5)", "[0.5, 1]"]
    assert table["mean"].to_list() == pytest.approx([0.45, 0.7])
    assert table["share_above"].to_list() == pytest.approx([0.5, 1.0])


def test_log_bins_and_last_bin_widening_by_hand() -> None:
    """Sizes 1 (x10), 10 (x10), 100 (x3), four bins: edges 1, 3.16, 10, 31.6, 100. The last bin holds 3
    threads (< 5), so it merges with the one below: [10, 100] holds 13 and the widening stops."""
    sizes = np.r_[np.ones(10), np.full(10, 10.0), np.full(3, 100.0)]
    edges = log_size_bins(sizes, n_bins=4, min_threads_last_bin=5)
    assert edges == pytest.approx([1, 10**0.5, 10, 100])
    assert log_size_bins(sizes, n_bins=4, min_threads_last_bin=3) == pytest.approx([1, 10**0.5, 10, 10**1.5, 100])
    assert log_size_bins(sizes, n_bins=4, min_threads_last_bin=1000) == pytest.approx([1, 100])


def _length_frame():
    """Two one-comment threads (0.7: toxic at 0.6; 0.1: not) and a four-comment thread with 3 toxic."""
    rows = [{"thread": "s1", "id": "s1", "score": 0.0}, {"thread": "s1", "id": "x", "parent": "s1", "score": 0.7},
            {"thread": "s2", "id": "s2", "score": 0.0}, {"thread": "s2", "id": "y", "parent": "s2", "score": 0.1},
            {"thread": "L", "id": "L", "score": 0.0}]
    rows += [{"thread": "L", "id": f"l{i}", "parent": "L", "score": s, "minute": i}
             for i, s in enumerate([0.6, 0.65, 0.9, 0.0])]
    return make_frame(rows)


def test_toxicity_by_thread_length_by_hand() -> None:
    """Two bins (edges 1, 2, 4): sizes-1 threads average (1 + 0)/2 = .5; the size-4 thread 3/4. Needing 2
    threads in the last bin merges everything: thread mean (1 + 0 + .75)/3, pooled over comments 4/6."""
    table, trend, edges = toxicity_by_thread_length(_length_frame(), n_bins=2, min_threads_last_bin=1, n_boot=100)
    assert edges == pytest.approx([1, 2, 4])
    assert table["n_threads"].to_list() == [2, 1] and table["n_comments"].to_list() == [2, 4]
    assert table["toxic_share"].to_list() == pytest.approx([0.5, 0.75])
    assert table["threshold"][0] == 0.6 and table["ci_method"][1] == ONE_THREAD and math.isnan(table["share_low"][1])
    merged, _, edges = toxicity_by_thread_length(_length_frame(), n_bins=2, min_threads_last_bin=2, n_boot=100)
    assert edges == pytest.approx([1, 4]) and merged.height == 1
    assert merged["toxic_share"][0] == pytest.approx(1.75 / 3) and merged["pooled_share"][0] == pytest.approx(4 / 6)
    assert trend["n_threads"][0] == 3 and -1 <= trend["estimate"][0] <= 1


def test_relative_position_in_long_threads_by_hand() -> None:
    table = toxicity_by_relative_position(_length_frame(), min_size=4, n_bins=2, n_boot=50)
    # the four-comment thread only: positions 0, 1/3 | 2/3, 1 -> toxic shares 1 and 1/2
    assert table["n"].to_list() == [2, 2] and table["share_above"].to_list() == pytest.approx([1.0, 0.5])


def test_agreement_by_hand() -> None:
    """a = .1 .6 .7 .2, b = .2 .7 .4 .1: rank differences -1 -1 1 1, rho = 1 - 6*4/(4*15) = .6; at .5 the
    scorers agree on 3 of 4 comments; kappa = (.75 - .5)/(1 - .5) = .5."""
    frame = make_frame([{"thread": "T", "id": "T", "score": 0.0}] + [
        {"thread": "T", "id": f"c{i}", "score": a, "b": b}
        for i, (a, b) in enumerate([(0.1, 0.2), (0.6, 0.7), (0.7, 0.4), (0.2, 0.1)])])
    row = scorer_agreement(frame, ["toxicity", "b"], threshold=0.5, n_boot=100).row(0, named=True)
    assert (row["a"], row["b"], row["n"]) == ("toxicity", "b", 4)
    assert (row["spearman"], row["agreement"], row["kappa"]) == pytest.approx((0.6, 0.75, 0.5))
    assert (row["share_a"], row["share_b"]) == pytest.approx((0.5, 0.25))
    per_column = scorer_agreement(frame, ["toxicity", "b"], thresholds={"b": 0.3}, n_boot=10).row(0, named=True)
    assert per_column["agreement"] == 1.0 and math.isnan(per_column["threshold"])
    with pytest.raises(ValueError, match="not in the frame"):
        scorer_agreement(frame, ["toxicity", "nope"])
    assert scorer_agreement(frame, ["toxicity"]).height == 0
