"""Rules written once (toolkit.vocab, toolkit.schema's row expressions) and the drift they fixed."""

from __future__ import annotations

import json

import polars as pl
import pytest

from toolkit.analysis.common import KNOWN_LABELS, labelled_rows
from toolkit.analysis.removal import removal_auc
from toolkit.analysis.synthetic import example_threads
from toolkit.io import load_source
from toolkit.schema import is_comment, scored
from toolkit.vocab import FALSE_WORDS, SCORE_LABELS, TRUE_WORDS


def test_removal_auc_leaves_nan_scores_out() -> None:
    """A NaN score (the scorer gave none) is not a score: the AUC is that of the scored rows (removed
    0.9 and 0.5 against kept 0.8, 0.2, 0.1: 5 of 6 pairs ranked right), not an sklearn error."""
    frame = example_threads().with_columns(
        pl.when(pl.col("comment_id") == "b1").then(float("nan")).otherwise(pl.col("toxicity")).alias("toxicity"))
    assert removal_auc(frame) == pytest.approx(5 / 6)


def test_scored_and_comment_expressions() -> None:
    frame = pl.DataFrame({"is_post": [True, False, None, False], "toxicity": [None, 0.3, 0.4, float("nan")]})
    assert frame.filter(is_comment() & scored("toxicity"))["toxicity"].to_list() == [0.3, 0.4]


def test_labelled_rows_are_scored_comments_with_a_known_truth() -> None:
    frame = example_threads().with_columns(
        pl.when(pl.col("comment_id") == "a2").then(float("nan")).otherwise(pl.col("toxicity")).alias("toxicity"),
        pl.when(pl.col("comment_id") == "a3").then(None).otherwise(pl.col("removed")).alias("removed"))
    assert labelled_rows(frame, "removed", "toxicity")["comment_id"].to_list() == ["a1", "a4", "b1", "b2"]


def test_word_lists_are_shared() -> None:
    assert "1.0" in TRUE_WORDS and "0.0" in FALSE_WORDS and KNOWN_LABELS == SCORE_LABELS


def test_convokit_reads_1_0_as_true(tmp_path) -> None:
    """ConvoKit's loader had its own truth words without "1.0": a meta flag "1.0" is now removed=True."""
    utterances = [
        {"id": "p", "root": "p", "reply_to": None, "speaker": "a", "text": "post", "timestamp": 0, "meta": {}},
        {"id": "c", "root": "p", "reply_to": "p", "speaker": "b", "text": "hi", "timestamp": 1,
         "meta": {"removed": "1.0"}},
    ]
    (tmp_path / "utterances.jsonl").write_text("\n".join(json.dumps(u) for u in utterances) + "\n")
    frame = load_source(tmp_path, format="convokit").frame
    assert frame.filter(pl.col("comment_id") == "c")["removed"].to_list() == [True]
