"""removal_reasons: counts, shares and mean toxicity per stated reason, worked out by hand."""

from __future__ import annotations

import polars as pl
import pytest

from toolkit.analysis.registry import ANALYSES, AnalysisContext, AnalysisParams
from toolkit.analysis.removal import RemovalReasonsOptions, removal_reasons

FRAME = pl.DataFrame({
    "thread_id": ["a", "a", "a", "b", "b", "c", "c", "c", "c"],
    "is_post": [True, False, False, False, False, False, False, False, False],
    "removed": [True, True, True, True, True, True, True, True, False],
    "removal_reason": ["spam", "spam", "spam", " spam ", "rude", "rude", "off topic", "  ", None],
    "toxicity": [0.9, 0.2, 0.4, None, 0.8, 1.0, 0.5, 0.7, 0.0],
})  # the post's row and the blank reason are left out: spam 3 (scored 0.2, 0.4), rude 2, off topic 1


@pytest.mark.parametrize(("top", "min_count"), [(2, 1), (10, 2)])
def test_reasons_counts_shares_means(top: int, min_count: int) -> None:
    table = removal_reasons(FRAME, label="toxicity", threshold=0.5, top=top, min_count=min_count, n_boot=50)
    assert table.select("reason", "n_removed", "n", "n_threads").rows() == [
        ("spam", 3, 2, 1), ("rude", 2, 2, 2), ("other reasons", 1, 1, 1)]  # spam's scored rows: thread a
    assert table["share"].to_list() == pytest.approx([3 / 6, 2 / 6, 1 / 6])
    assert table["mean"].to_list() == pytest.approx([0.3, 0.9, 0.5])
    assert table["share_above"].to_list() == pytest.approx([0.0, 1.0, 1.0])
    assert [method == "thread bootstrap" for method in table["ci_method"]] == [False, True, False]  # one thread
    assert table["mean_low"].is_nan().to_list() == [True, False, True]  # no CI from a single thread


def test_skips_name_the_reason() -> None:
    ctx = AnalysisContext(params=AnalysisParams(removal_reasons=RemovalReasonsOptions(top=1)), n_boot=50)
    run_removal_reasons = ANALYSES["removal_reasons"]  # its per-bucket step, then its combine step
    assert run_removal_reasons(FRAME.drop("removal_reason"), ctx).skipped.startswith("no removal_reason column")
    no_reasons = FRAME.with_columns(removal_reason=pl.lit(None, pl.String))
    assert run_removal_reasons(no_reasons, ctx).skipped == "no removed comment has a stated reason"
    output = run_removal_reasons(FRAME, ctx)
    assert output.tables["removal_reasons"]["reason"].to_list() == ["spam", "other reasons"]
    spec, data = output.figures[0]
    assert (spec.kind, spec.options["x"], spec.options["y"]) == ("rate_bars", "reason", "mean")
