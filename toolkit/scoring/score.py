"""Scoring a comment frame: distinct texts once, through the persistent cache, nulls stay null.

Rows whose text is null get null scores (never 0). Empty strings are real text (an empty comment body)
and are scored like any other. Identical texts are scored once and share their scores. Texts already in
the cache for this scorer's identity are not scored again, and when every text is cached the model is
not even loaded.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.scoring.base import Scored, Scorer, ScoreReport
from toolkit.scoring.cache import HASH_COLUMN, ScoreCache, resolve_cache_dir, text_hash
from toolkit.scoring.detoxify_backend import ScorerUnavailableError
from toolkit.scoring.resolve import fallback_scorer, resolve_scorer

# Newly scored texts are written to the cache every this many distinct texts, so an interrupted run
# keeps what it has scored.
WRITE_EVERY = 4096
_KEY = "__toolkit_score_key"


def score_frame(
    frame: pl.DataFrame,
    scorer: str | Scorer = "auto",
    *,
    model: str = "original",
    checkpoint: str | os.PathLike[str] | None = None,
    hf_config_path: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    batch_size: int = 32,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    text_column: str = "text",
) -> Scored:
    """``frame`` with one Float64 column per label added (replacing same-named ones), and a ScoreReport.

    ``scorer``: ``auto`` (Detoxify if its weights are there or downloadable, else the embedded profanity
    scorer, with a warning), ``detoxify``, ``profanity``, or a Scorer object. ``cache_dir`` defaults to
    ``$TOOLKIT_CACHE_DIR`` or ``~/.cache/toolkit/scores``; ``use_cache=False`` neither reads nor writes it.
    """
    if text_column not in frame.columns:
        raise ValueError(f"score_frame: no column {text_column!r} in the frame (columns: {frame.columns})")
    texts = frame.get_column(text_column)
    if texts.dtype == pl.Null:
        texts = texts.cast(pl.String)
    elif texts.dtype != pl.String:
        raise TypeError(f"score_frame: column {text_column!r} must be a string column, got {texts.dtype}")
    root = resolve_cache_dir(cache_dir)
    options: dict[str, Any] = {
        "model": model,
        "checkpoint": checkpoint,
        "hf_config_path": hf_config_path,
        "device": device,
        "batch_size": batch_size,
        "cache_dir": root,
        "hash_memo": use_cache,
    }
    chosen, reason = resolve_scorer(scorer, **options)
    try:
        return _score(frame, texts, chosen, reason, root if use_cache else None, text_column)
    except ScorerUnavailableError as exc:
        if scorer != "auto":
            raise
        fallback, reason = fallback_scorer(f"Detoxify failed to load: {exc}")
        return _score(frame, texts, fallback, reason, root if use_cache else None, text_column)


def _score(
    frame: pl.DataFrame,
    texts: pl.Series,
    scorer: Scorer,
    fallback_reason: str | None,
    cache_root: Path | None,
    text_column: str,
    loads_before: int | None = None,
) -> Scored:
    """Look up, score what is missing, cache it, join the scores back onto the rows."""
    unique: list[str] = texts.drop_nulls().unique(maintain_order=True).to_list()
    hashes = [text_hash(t) for t in unique]
    identity = scorer.identity()
    labels = scorer.labels()
    if loads_before is None:
        loads_before = getattr(scorer, "loads", 0)

    cache = ScoreCache(cache_root, identity, labels) if cache_root is not None else None
    hits = cache.lookup(hashes) if cache is not None else _empty(labels)
    cached = set(hits.get_column(HASH_COLUMN).to_list())
    misses = sorted((i for i, h in enumerate(hashes) if h not in cached), key=lambda i: len(unique[i]))

    scored: list[pl.DataFrame] = []
    for start in range(0, len(misses), WRITE_EVERY):
        chunk = misses[start : start + WRITE_EVERY]
        predictions = scorer.predict([unique[i] for i in chunk])
        if list(predictions) != labels:
            # labels() guessed before loading and the model says otherwise (nothing was written yet):
            # start over, now that labels() answers from the loaded model.
            if list(predictions) != scorer.labels():
                raise RuntimeError(
                    f"{scorer.name}: predict() labels {list(predictions)} != labels() {labels}"
                )
            warnings.warn(
                f"{scorer.name}: the model's labels {list(predictions)} differ from the expected {labels}",
                RuntimeWarning,
                stacklevel=3,
            )
            return _score(frame, texts, scorer, fallback_reason, cache_root, text_column, loads_before)
        part = pl.DataFrame(
            {HASH_COLUMN: [hashes[i] for i in chunk], **predictions},
            schema={HASH_COLUMN: pl.String(), **{label: pl.Float64() for label in labels}},
        )
        if cache is not None:
            cache.write(part)
        scored.append(part)

    table = pl.concat([hits, *scored], how="vertical") if scored else hits
    per_text = pl.DataFrame(
        {_KEY: unique, HASH_COLUMN: hashes}, schema={_KEY: pl.String(), HASH_COLUMN: pl.String()}
    )
    per_text = per_text.join(table, on=HASH_COLUMN, how="left").drop(HASH_COLUMN)
    out = (
        frame.drop([c for c in labels if c in frame.columns and c != text_column])
        .with_columns(texts.alias(_KEY))
        .join(per_text, on=_KEY, how="left", maintain_order="left")
        .drop(_KEY)
    )
    loaded = getattr(scorer, "loads", 0) > loads_before
    extra: dict[str, Any] = {
        "n_null": texts.null_count(),
        "n_empty": int((texts == "").sum() or 0),
        "cache_dir": str(cache_root) if cache_root is not None else None,
        "cache_key": cache.key if cache is not None else None,
        "quarantined": [str(p) for p in cache.quarantined] if cache is not None else [],
    }
    for attribute in ("device", "batch_size"):
        if hasattr(scorer, attribute):
            extra[attribute] = getattr(scorer, attribute)
    if loaded and hasattr(scorer, "effective_max_length"):
        extra["max_length"] = scorer.effective_max_length()
    report = ScoreReport(
        scorer=scorer.name,
        identity=identity,
        labels=labels,
        n_texts=texts.len() - texts.null_count(),
        n_unique=len(unique),
        cache_hits=len(hashes) - len(misses),
        cache_misses=len(misses),
        model_loaded=loaded,
        fallback_reason=fallback_reason,
        extra=extra,
    )
    return Scored(frame=out, report=report)


def _empty(labels: list[str]) -> pl.DataFrame:
    return pl.DataFrame(schema={HASH_COLUMN: pl.String(), **{label: pl.Float64() for label in labels}})


__all__ = ["score_frame"]
