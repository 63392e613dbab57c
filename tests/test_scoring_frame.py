"""score_frame on frames: null text -> null scores, duplicates scored once, empty and null-only frames."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
from scoring_helpers import detoxify_scorer, record_texts

from toolkit.scoring import score_frame

if TYPE_CHECKING:
    from scoring_fixtures import TinyDetoxify

pytest_plugins = ["scoring_fixtures"]

LABELS = ["toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack"]


def test_null_text_null_scores_and_duplicates_once(
    tiny_detoxify: TinyDetoxify, comments: pl.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scorer = detoxify_scorer(checkpoint=tiny_detoxify.checkpoint, cache_dir=tmp_path)
    scored = record_texts(scorer, monkeypatch)
    result = score_frame(comments, scorer, cache_dir=tmp_path)
    frame = result.frame

    assert frame.columns == ["comment_id", "text", *LABELS]
    assert all(frame.schema[label] == pl.Float64 for label in LABELS)
    assert frame["comment_id"].to_list() == comments["comment_id"].to_list()  # row order kept
    null_row = frame.filter(pl.col("text").is_null())
    assert null_row.height == 1 and all(null_row[label][0] is None for label in LABELS)
    assert frame.filter(pl.col("text").is_not_null())["toxicity"].null_count() == 0

    assert sorted(scored) == sorted(["hello world", "you are an idiot", "", "fine"])  # each once, "" included
    for text in ("hello world", "you are an idiot"):
        rows = frame.filter(pl.col("text") == text)
        assert rows.height == 2 and rows[LABELS].n_unique() == 1

    report = result.report
    assert (report.n_texts, report.n_unique, report.cache_misses) == (6, 4, 4)
    assert report.extra["n_null"] == 1 and report.extra["n_empty"] == 1
    assert report.scorer == "detoxify" and report.labels == LABELS and report.fallback_reason is None


def test_frame_scores_equal_scorer_predict(
    tiny_detoxify: TinyDetoxify, sample_texts: list[str], tmp_path: Path
) -> None:
    frame = pl.DataFrame({"text": [*sample_texts, None, *reversed(sample_texts)]})
    result = score_frame(
        frame, "detoxify", checkpoint=tiny_detoxify.checkpoint, batch_size=2, cache_dir=tmp_path
    )
    direct = detoxify_scorer(checkpoint=tiny_detoxify.checkpoint, cache_dir=tmp_path / "x").predict(
        sample_texts
    )
    got = result.frame["toxicity"].to_list()
    assert got[: len(sample_texts)] == pytest.approx(direct["toxicity"], abs=1e-6)
    assert got[len(sample_texts)] is None
    assert got[len(sample_texts) + 1 :] == pytest.approx(direct["toxicity"][::-1], abs=1e-6)


@pytest.mark.parametrize("scorer_name", ["detoxify", "profanity"])
def test_empty_and_null_only_frames(tiny_detoxify: TinyDetoxify, tmp_path: Path, scorer_name: str) -> None:
    options = {"checkpoint": tiny_detoxify.checkpoint} if scorer_name == "detoxify" else {}
    labels = LABELS if scorer_name == "detoxify" else ["toxicity"]
    frames = [
        pl.DataFrame(schema={"comment_id": pl.String, "text": pl.String}),
        pl.DataFrame({"comment_id": ["a", "b"], "text": [None, None]}),  # dtype Null
        pl.DataFrame(
            {"comment_id": ["a"], "text": [None]}, schema={"comment_id": pl.String, "text": pl.String}
        ),
    ]
    for frame in frames:
        result = score_frame(frame, scorer_name, cache_dir=tmp_path, **options)
        assert result.frame.columns == ["comment_id", "text", *labels]
        assert result.frame.height == frame.height
        assert all(result.frame[label].null_count() == frame.height for label in labels)
        assert all(result.frame.schema[label] == pl.Float64 for label in labels)
        assert result.report.n_texts == 0 and not result.report.model_loaded
    assert not any(tmp_path.glob("*/part-*.parquet"))


def test_existing_score_columns_are_replaced(tmp_path: Path) -> None:
    frame = pl.DataFrame({"text": ["hello", None], "toxicity": [0.0, 0.0], "other": [1, 2]})
    result = score_frame(frame, "profanity", cache_dir=tmp_path)
    assert result.frame.columns == ["text", "other", "toxicity"]
    assert result.frame["toxicity"][1] is None and result.frame["other"].to_list() == [1, 2]


def test_custom_text_column_and_bad_columns(tmp_path: Path) -> None:
    frame = pl.DataFrame({"body": ["fuck you", "have a nice day"]})
    result = score_frame(frame, "profanity", cache_dir=tmp_path, text_column="body")
    low, high = sorted(result.frame["toxicity"].to_list())
    assert result.frame["toxicity"][0] == high > 0.5 > low
    with pytest.raises(ValueError, match="no column 'text'"):
        score_frame(frame, "profanity", cache_dir=tmp_path)
    with pytest.raises(TypeError, match="string column"):
        score_frame(pl.DataFrame({"text": [1, 2]}), "profanity", cache_dir=tmp_path)


def test_unknown_scorer_and_option(tmp_path: Path) -> None:
    frame = pl.DataFrame({"text": ["a"]})
    with pytest.raises(ValueError, match="unknown scorer 'bogus'"):
        score_frame(frame, "bogus", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown Detoxify model"):
        score_frame(frame, "detoxify", model="nope", cache_dir=tmp_path)
