"""Figures that must not look more certain than their tables (issue 18 #7, the plots part): a model that did
not converge draws no odds ratio, odds-ratio ticks stay readable, removal_matched's caption names each
row's CI method."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import polars as pl
from matplotlib.collections import LineCollection

from toolkit.analysis.prediction import LOGIT_SCHEMA
from toolkit.outputs import FigureSpec
from toolkit.plots.charts import draw_matched_context, draw_odds_ratios

SPEC = FigureSpec("removal_odds_ratios", "odds_ratios", "removed ~ toxicity", "Scorer: x · n = 30")


def logit(rows: list[tuple[str, float, float, float, str]]) -> pl.DataFrame:
    """(term, odds ratio, low, high, note) rows of removal_logit's table."""
    return pl.DataFrame([{"term": t, "odds_ratio": o, "or_low": lo, "or_high": hi, "coef": math.log(o), "se": 1.0,
                          "p_value": 0.0001, "n": 30, "n_events": 4, "n_threads": 3, "se_type": "HC1", "note": note}
                         for t, o, lo, hi, note in rows], schema=LOGIT_SCHEMA)


def drawn_points(fig: plt.Figure) -> list[tuple[float, float]]:
    """The (x, y) of every point estimate (errorbar markers) on the axes."""
    return [tuple(xy) for line in fig.axes[0].get_lines() if line.get_marker() == "o" for xy in line.get_xydata()]


def texts(fig: plt.Figure) -> list[str]:
    return [t.get_text() for t in fig.axes[0].texts] + [t.get_text() for t in fig.texts]


def tick_labels(fig: plt.Figure) -> list[str]:
    fig.canvas.draw()
    return [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]


def test_a_model_that_did_not_converge_draws_no_odds_ratio() -> None:
    """The issue's case: OR 187,143 [73,132, 478,892] p < 0.001 in a table that says it did not converge."""
    note = "did not converge (separation?)"
    table = logit([("const", 0.01, 0.001, 0.1, note), ("toxicity", 187143.0, 73132.0, 478892.0, note),
                   ("reply_depth", 1.4, 0.9, 2.2, note)])
    fig = draw_odds_ratios(table, SPEC, "single")
    assert drawn_points(fig) == []  # no point estimate, no CI
    assert not [c for c in fig.axes[0].collections if isinstance(c, LineCollection) and len(c.get_segments())]
    shown = texts(fig)
    assert shown.count("not estimated: did not converge (separation?)") == 2
    assert not [t for t in shown if "187" in t]  # the absurd estimate is nowhere on the figure
    assert any(t.startswith("The model did not converge (separation?): its odds ratios are not drawn.") for t in shown)
    plt.close(fig)


def test_only_the_unconverged_terms_are_left_out() -> None:
    table = logit([("const", 0.5, 0.2, 1.0, ""), ("toxicity", 2.0, 1.1, 3.5, ""),
                   ("reply_depth", 9e4, 1e3, 1e6, "did not converge (separation?)")])
    fig = draw_odds_ratios(table, SPEC, "single")
    assert drawn_points(fig) == [(2.0, 1.0)]  # toxicity (rows drawn bottom-up: reply_depth at 0)
    assert "2.00 [1.10, 3.50] p<0.001" in texts(fig)
    assert fig.axes[0].get_xlim()[1] < 10  # the axis fits the drawn CIs, not the unconverged one
    plt.close(fig)


def test_odds_ratio_ticks_are_readable_over_many_decades() -> None:
    """A converged but huge CI (1 to 10^9): ticks are powers of ten, never digits run together."""
    fig = draw_odds_ratios(logit([("const", 1.0, 0.5, 2.0, ""), ("toxicity", 3e4, 1.0, 1e9, "")]), SPEC, "single")
    labels = tick_labels(fig)
    assert labels and all(label.startswith("$\\mathdefault{10^{") for label in labels), labels
    assert "3e+04 [1.00, 1e+09] p<0.001" in texts(fig)
    plt.close(fig)
    narrow = draw_odds_ratios(logit([("toxicity", 2.0, 1.1, 3.5, "")]), SPEC, "single")
    assert tick_labels(narrow) == ["0.75", "1", "1.25", "1.5", "2", "3"]  # a narrow range: plain numbers, as before
    plt.close(narrow)


def test_matched_caption_names_each_rows_ci_method() -> None:
    """removal_matched: 'replies' were matched in one thread only, so its CI resamples comments; the caption
    said 'comment bootstrap ...; thread bootstrap' without saying which row used which."""
    thread, comment = "thread bootstrap", "comment bootstrap (single thread: threads cannot be resampled)"
    table = pl.DataFrame({
        "context": ["self", "parent", "siblings", "replies"], "n_removed": [4, 3, 2, 1], "n_kept": [9, 8, 4, 2],
        "difference": [0.3, 0.1, -0.1, 0.2], "low": [0.1, -0.1, -0.3, 0.0], "high": [0.5, 0.3, 0.1, 0.4],
        "p_value": [0.01, 0.3, 0.5, 0.4], "ci_method": [thread, thread, thread, comment]})
    footer = (f"Scorer: x · matched: same thread and reply depth · 95% CI: {comment}; {thread} (1000 replicates, "
              "seed 0) · p: permutation of the removed flag within strata")
    spec = FigureSpec("removal_matched", "matched_context", "Removed vs matched kept comments", footer)
    fig = draw_matched_context(table, spec, "single")
    [caption] = [t.get_text().replace("\n", " ") for t in fig.texts]
    assert (f"95% CI: {thread} (self, parent, siblings); {comment} (replies) (1000 replicates, seed 0)"
            in caption), caption
    plt.close(fig)
    one = draw_matched_context(table.with_columns(ci_method=pl.lit(thread)),
                               FigureSpec("m", "matched_context", "t", "95% CI: thread bootstrap (10 replicates)"), "single")
    assert [t.get_text() for t in one.texts] == ["95% CI: thread bootstrap (10 replicates)"]  # one method: as it was
    plt.close(one)
