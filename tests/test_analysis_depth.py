"""Depth, position and thread-size profiles and the thread summary on threads worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.analysis.depth import depth_profile, position_profile, thread_size_profile
from toolkit.analysis.stats import naive_mean_ci
from toolkit.analysis.summary import thread_summary
from toolkit.analysis.synthetic import make_frame


@pytest.fixture
def two_threads():
    """Thread A: depth 1 scores 0.2, 0.4, depth 2 score 0.9. Thread B: depth 1 score 0.0, depth 2 scores
    0.5 and 0.7, one comment removed with no text (unscored)."""
    return make_frame([
        {"thread": "A", "id": "A", "score": 0.3, "minute": 0},
        {"thread": "A", "id": "a1", "parent": "A", "score": 0.2, "minute": 1},
        {"thread": "A", "id": "a2", "parent": "A", "score": 0.4, "minute": 2},
        {"thread": "A", "id": "a3", "parent": "a1", "score": 0.9, "minute": 3},
        {"thread": "B", "id": "B", "score": 0.0, "minute": 0},
        {"thread": "B", "id": "b1", "parent": "B", "score": 0.0, "minute": 10},
        {"thread": "B", "id": "b2", "parent": "b1", "score": 0.5, "minute": 11},
        {"thread": "B", "id": "b3", "parent": "b1", "score": 0.7, "minute": 12},
        {"thread": "B", "id": "b4", "parent": "b1", "score": None, "removed": True, "minute": 13},
    ])


def test_depth_profile_by_hand(two_threads) -> None:
    table = depth_profile(two_threads, threshold=0.5, n_boot=200)
    d1, d2 = table.row(0, named=True), table.row(1, named=True)
    assert (d1["depth_bin"], d1["n"], d1["n_threads"], d1["n_unscored"]) == ("1", 3, 2, 0)
    assert d1["mean"] == pytest.approx(0.2) and d1["share_above"] == 0.0
    assert (d2["depth_bin"], d2["n"], d2["n_unscored"]) == ("2", 3, 1)
    assert d2["mean"] == pytest.approx(0.7) and d2["share_above"] == 1.0
    binned = depth_profile(two_threads, threshold=0.5, depth_bins=[1, 2], n_boot=50)
    assert binned["depth_bin"].to_list() == ["1", "2+"]


def test_depth_profile_cluster_ci_wider_than_naive() -> None:
    """Twelve threads whose depth-1 comments all score 0 or all score 1: the thread bootstrap interval is
    far wider than the naive one, which pretends the 120 comments are independent."""
    rows = []
    for t in range(12):
        rows.append({"thread": f"t{t}", "id": f"t{t}", "score": 0.0})
        rows += [{"thread": f"t{t}", "id": f"t{t}c{i}", "parent": f"t{t}", "score": float(t % 2)} for i in range(10)]
    frame = make_frame(rows)
    row = depth_profile(frame, n_boot=2000, seed=1).row(0, named=True)
    low, high = naive_mean_ci(np.repeat([0.0, 1.0] * 6, 10))
    assert row["mean"] == 0.5 and row["ci_method"] == "thread bootstrap"
    assert row["mean_high"] - row["mean_low"] > 2.5 * (high - low)


def test_position_profile_by_hand() -> None:
    """Five comments at minutes 4, 3, 2, 1, 0 (page order reversed): relative positions by time are
    1, .75, .5, .25, 0; two bins: [0, .5) holds the comments of minutes 0 and 1, [.5, 1] the other three."""
    scores = [0.9, 0.8, 0.7, 0.2, 0.0]
    frame = make_frame([{"thread": "T", "id": "T", "score": 0.0, "minute": 0}] + [
        {"thread": "T", "id": f"c{i}", "parent": "T", "score": s, "minute": 4 - i} for i, s in enumerate(scores)])
    table = position_profile(frame, n_bins=2, threshold=0.5, n_boot=50)
    assert table["position_bin"].to_list() == ["[0, 0.5)", "[0.5, 1]"]
    assert table["n"].to_list() == [2, 3]
    assert table["mean"].to_list() == pytest.approx([0.1, 0.8])
    assert table["share_above"].to_list() == pytest.approx([0.0, 1.0])


def test_thread_size_profile_by_hand(two_threads) -> None:
    # thread A has 3 comments, B 4 (one unscored): with bins starting 1, 4 -> "1-3" holds A, "4+" holds B
    table = thread_size_profile(two_threads, size_edges=[1, 4], n_boot=50)
    assert table["size_bin"].to_list() == ["1-3", "4+"]
    assert table["n"].to_list() == [3, 3] and table["n_unscored"].to_list() == [0, 1]
    assert table["mean"].to_list() == pytest.approx([0.5, 0.4])


def test_thread_summary_by_hand(two_threads) -> None:
    table = thread_summary(two_threads, threshold=0.5)
    assert table["thread_id"].to_list() == ["B", "A"]  # largest first
    b = table.row(0, named=True)
    assert (b["n_comments"], b["n_scored"], b["max_depth"]) == (4, 3, 2)
    assert b["mean_depth"] == pytest.approx(7 / 4) and b["removed_share"] == pytest.approx(0.25)
    assert b["toxic_share"] == pytest.approx(2 / 3) and b["max_toxicity"] == pytest.approx(0.7)
    assert b["duration_hours"] == pytest.approx(3 / 60)
