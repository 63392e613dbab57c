"""Scoring a comment frame: distinct texts once, through the persistent cache, nulls stay null.

Rows whose text is null get null scores (never 0). Empty strings are real text (an empty comment body)
and are scored like any other. Identical texts are scored once and share their scores. Texts already in
the cache for this scorer's identity are not scored again, and when every text is cached the model is
not even loaded.

Newly scored texts reach the cache as they are scored: a part file is written every ``flush_every``
texts (and at least every ``FLUSH_SECONDS``), so a run killed at any point keeps all but the last
unwritten texts, and its rerun scores only what is missing.

Sharding: with ``shard=i, num_shards=n`` only the texts whose hash falls in slice ``i`` (of ``n``, by
:func:`shard_of`) are scored; texts of other slices get their cached scores when there are any, else
null. Shard runs (in parallel, on several machines) fill the cache; a later run without a shard finds
everything there and scores only what no shard did.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from toolkit.scoring.base import Scored, Scorer, ScoreReport
from toolkit.scoring.cache import HASH_COLUMN, ScoreCache, resolve_cache_dir, text_hash
from toolkit.scoring.column import ColumnScorer
from toolkit.scoring.detoxify_backend import ScorerUnavailableError
from toolkit.scoring.resolve import fallback_scorer, resolve_scorer

log = logging.getLogger(__name__)

FLUSH_EVERY = 1024  # texts per cache part file while scoring
FLUSH_SECONDS = 60.0  # ... or sooner, so a slow run killed loses at most about a minute of work
AUTO_COMPACT_PARTS = 256  # a full (non-shard) run compacts an identity directory with more parts than this
_KEY = "__toolkit_score_key"


def shard_of(hash_hex: str, num_shards: int) -> int:
    """The shard (0..num_shards-1) a text belongs to, from its hash: deterministic, evenly spread."""
    return int(hash_hex[:16], 16) % num_shards


def check_shard(shard: int | None, num_shards: int | None) -> tuple[int, int] | None:
    """``(shard, num_shards)`` validated, or None when not sharding."""
    if shard is None and num_shards is None:
        return None
    if shard is None or num_shards is None:
        raise ValueError("sharding needs both scorer.shard=i and scorer.num_shards=n")
    if int(num_shards) < 1 or not 0 <= int(shard) < int(num_shards):
        raise ValueError(f"scorer.shard={shard} must be in 0..num_shards-1 (num_shards={num_shards})")
    return int(shard), int(num_shards)


def score_frame(
    frame: pl.DataFrame,
    scorer: str | Scorer = "auto",
    *,
    model: str = "original",
    checkpoint: str | os.PathLike[str] | None = None,
    hf_config_path: str | os.PathLike[str] | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    token_budget: int | None = None,
    precision: str = "fp32",
    threads: int | None = None,
    long_text: str = "truncate",
    chunk_overlap: int = 64,
    chunk_aggregate: str = "max",
    activation: str = "auto",
    columns: dict[str, str] | None = None,
    progress: bool | None = None,
    flush_every: int = FLUSH_EVERY,
    shard: int | None = None,
    num_shards: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    use_cache: bool = True,
    text_column: str = "text",
) -> Scored:
    """``frame`` with one Float64 column per label added (replacing same-named ones), and a ScoreReport.

    ``scorer``: ``auto`` (Detoxify if its weights are there or downloadable, else the embedded profanity
    scorer, with a warning), ``detoxify``, ``hf`` (``model`` = a local Hugging Face model directory),
    ``profanity``, ``column`` (``columns`` = {label: source column}), or a Scorer object. Engine options
    (``precision``, ``device``, ``token_budget``, ``batch_size``, ``threads``, ``long_text``...) apply to
    the transformer scorers. ``cache_dir`` defaults to ``$TOOLKIT_CACHE_DIR`` or ``~/.cache/toolkit/scores``;
    ``use_cache=False`` neither reads nor writes it. ``shard``/``num_shards``: score one slice (see module).
    """
    if text_column not in frame.columns:
        raise ValueError(f"score_frame: no column {text_column!r} in the frame (columns: {frame.columns})")
    texts = frame.get_column(text_column)
    if texts.dtype == pl.Null:
        texts = texts.cast(pl.String)
    elif texts.dtype != pl.String:
        raise TypeError(f"score_frame: column {text_column!r} must be a string column, got {texts.dtype}")
    if int(flush_every) < 1:
        raise ValueError(f"flush_every must be >= 1, got {flush_every}")
    sharding = check_shard(shard, num_shards)
    if sharding is not None and not use_cache:
        raise ValueError("a shard run writes its scores to the cache: it needs use_cache=True")
    root = resolve_cache_dir(cache_dir)
    options: dict[str, Any] = {
        "model": model,
        "checkpoint": checkpoint,
        "hf_config_path": hf_config_path,
        "device": device,
        "batch_size": batch_size,
        "token_budget": token_budget,
        "precision": precision,
        "threads": threads,
        "long_text": long_text,
        "chunk_overlap": chunk_overlap,
        "chunk_aggregate": chunk_aggregate,
        "activation": activation,
        "columns": columns,
        "progress": progress,
        "cache_dir": root,
        "hash_memo": use_cache,
    }
    chosen, reason = resolve_scorer(scorer, **options)
    if isinstance(chosen, ColumnScorer):
        if sharding is not None:
            raise ValueError("scorer=column reads scores from the data: there is nothing to shard")
        return _from_columns(frame, texts, chosen)
    run = _Run(texts, root if use_cache else None, text_column, int(flush_every), sharding)
    try:
        return run.score(frame, chosen, reason)
    except ScorerUnavailableError as exc:
        if scorer != "auto":
            raise
        fallback, reason = fallback_scorer(f"Detoxify failed to load: {exc}")
        return run.score(frame, fallback, reason)


class _PartWriter:
    """Collects newly scored rows and writes them to the cache as part files, every K texts or T seconds."""

    def __init__(self, cache: ScoreCache | None, labels: list[str], every: int, seconds: float) -> None:
        self.cache, self.labels, self.every, self.seconds = cache, labels, every, seconds
        self.pending: list[pl.DataFrame] = []
        self.n_pending = 0
        self.written: list[pl.DataFrame] = []
        self.parts = 0
        self.last = time.monotonic()

    def add(self, hashes: list[str], scores: np.ndarray) -> None:
        """Queue rows; flush when enough are queued or enough time has passed."""
        table = pl.DataFrame(
            {HASH_COLUMN: hashes, **{label: scores[:, j] for j, label in enumerate(self.labels)}},
            schema={HASH_COLUMN: pl.String(), **{label: pl.Float64() for label in self.labels}},
        )
        self.pending.append(table)
        self.n_pending += table.height
        if self.n_pending >= self.every or time.monotonic() - self.last >= self.seconds:
            self.flush()

    def flush(self) -> None:
        """Write what is queued as one part file (atomically)."""
        if self.pending:
            table = pl.concat(self.pending, how="vertical")
            if self.cache is not None and self.cache.write(table) is not None:
                self.parts += 1
            self.written.append(table)
        self.pending, self.n_pending, self.last = [], 0, time.monotonic()

    def table(self) -> pl.DataFrame:
        """Everything scored in this run."""
        self.flush()
        schema = {HASH_COLUMN: pl.String(), **{label: pl.Float64() for label in self.labels}}
        return pl.concat(self.written, how="vertical") if self.written else pl.DataFrame(schema=schema)


class _LabelsChanged(Exception):
    """labels() guessed before loading differ from the loaded model's: start over."""


class _Run:
    """One scoring call: distinct texts, cache look-up, shard selection, streaming, join back."""

    def __init__(
        self,
        texts: pl.Series,
        cache_root: Path | None,
        text_column: str,
        flush_every: int,
        sharding: tuple[int, int] | None,
    ) -> None:
        self.texts = texts
        self.cache_root = cache_root
        self.text_column = text_column
        self.flush_every = flush_every
        self.sharding = sharding
        self.unique: list[str] = texts.drop_nulls().unique(maintain_order=True).to_list()
        self.hashes = [text_hash(t) for t in self.unique]

    def score(self, frame: pl.DataFrame, scorer: Scorer, fallback_reason: str | None) -> Scored:
        loads_before = getattr(scorer, "loads", 0)
        for _ in range(2):
            try:
                return self._score(frame, scorer, fallback_reason, loads_before)
            except _LabelsChanged as exc:
                warnings.warn(str(exc), RuntimeWarning, stacklevel=3)
        raise RuntimeError(f"{scorer.name}: labels keep changing between labels() and predict()")

    def _score(self, frame: pl.DataFrame, scorer: Scorer, fallback_reason: str | None, loads_before: int) -> Scored:
        started = time.perf_counter()
        unique, hashes = self.unique, self.hashes
        identity = scorer.identity()
        labels = scorer.labels()
        cache = ScoreCache(self.cache_root, identity, labels) if self.cache_root is not None else None
        hits = cache.lookup(hashes) if cache is not None else _empty(labels)
        cached = set(hits.get_column(HASH_COLUMN).to_list())
        if self.sharding is not None:
            shard, n = self.sharding
            mine = [shard_of(h, n) == shard for h in hashes]
        else:
            mine = [True] * len(hashes)
        misses = [i for i, h in enumerate(hashes) if h not in cached and mine[i]]
        skipped = sum(1 for i, h in enumerate(hashes) if h not in cached and not mine[i])

        writer = _PartWriter(cache, labels, self.flush_every, FLUSH_SECONDS)
        try:
            for positions, scores, seen_labels in _stream(scorer, [unique[i] for i in misses], self.flush_every):
                if seen_labels is not None and seen_labels != labels:
                    writer.pending.clear()  # nothing was written under the wrong labels
                    raise _LabelsChanged(
                        f"{scorer.name}: the model's labels {seen_labels} differ from the expected {labels}"
                    )
                writer.add([hashes[misses[p]] for p in positions.tolist()], scores)
        finally:
            writer.flush()  # interrupted (Ctrl-C, an error): keep what was scored
        scored = writer.table()

        table = pl.concat([hits, scored], how="vertical") if scored.height else hits
        out = self._join(frame, table, labels)
        loaded = getattr(scorer, "loads", 0) > loads_before
        run_stats = scorer.run_stats() if loaded and hasattr(scorer, "run_stats") else {}
        extra: dict[str, Any] = {
            "n_null": self.texts.null_count(),
            "n_empty": int((self.texts == "").sum() or 0),
            "n_truncated": run_stats.get("truncated", 0),
            "n_chunked": run_stats.get("chunked", 0),
            "cache_dir": str(self.cache_root) if self.cache_root is not None else None,
            "cache_key": cache.key if cache is not None else None,
            "parts_written": writer.parts,
            "quarantined": [str(p) for p in cache.quarantined] if cache is not None else [],
            "seconds": round(time.perf_counter() - started, 3),
        }
        for attribute in ("device", "batch_size", "precision", "long_text"):
            if hasattr(scorer, attribute):
                extra[attribute] = getattr(scorer, attribute)
        if loaded and hasattr(scorer, "effective_max_length"):
            extra["max_length"] = scorer.effective_max_length()
        if run_stats:
            extra["engine"] = run_stats
        if self.sharding is not None:
            extra["shard"] = {"shard": self.sharding[0], "num_shards": self.sharding[1],
                              "selected": sum(mine), "left_to_other_shards": skipped}
        if extra["n_truncated"]:
            log.info("%d texts longer than the model's maximum length were truncated (long_text=truncate; "
                     "scorer.long_text=chunk scores whole texts)", extra["n_truncated"])
        if cache is not None and self.sharding is None and len(cache.part_files()) > AUTO_COMPACT_PARTS:
            extra["compacted"] = cache.compact()
        report = ScoreReport(
            scorer=scorer.name,
            identity=identity,
            labels=labels,
            n_texts=self.texts.len() - self.texts.null_count(),
            n_unique=len(unique),
            cache_hits=len(hashes) - len(misses) - skipped,
            cache_misses=len(misses),
            model_loaded=loaded,
            fallback_reason=fallback_reason,
            extra=extra,
        )
        return Scored(frame=out, report=report)

    def _join(self, frame: pl.DataFrame, table: pl.DataFrame, labels: list[str]) -> pl.DataFrame:
        per_text = pl.DataFrame(
            {_KEY: self.unique, HASH_COLUMN: self.hashes}, schema={_KEY: pl.String(), HASH_COLUMN: pl.String()}
        )
        per_text = per_text.join(table, on=HASH_COLUMN, how="left").drop(HASH_COLUMN)
        return (
            frame.drop([c for c in labels if c in frame.columns and c != self.text_column])
            .with_columns(self.texts.alias(_KEY))
            .join(per_text, on=_KEY, how="left", maintain_order="left")
            .drop(_KEY)
        )


def _stream(
    scorer: Scorer, texts: Sequence[str], chunk: int
) -> Iterator[tuple[np.ndarray, np.ndarray, list[str] | None]]:
    """``(positions in texts, scores, labels to check or None)`` as the scorer produces them.

    Scorers with ``iter_predict`` (the transformer ones) stream batch by batch; others are called with
    ``predict`` on chunks of ``chunk`` texts. The labels are checked once, after the model is loaded.
    """
    if not texts:
        return
    iter_predict = getattr(scorer, "iter_predict", None)
    if iter_predict is not None:
        first = True
        for positions, scores in iter_predict(texts):
            yield np.asarray(positions), np.asarray(scores, dtype=np.float64), (scorer.labels() if first else None)
            first = False
        return
    for start in range(0, len(texts), chunk):
        batch = list(texts[start : start + chunk])
        predictions = scorer.predict(batch)
        names = list(predictions)
        scores = np.column_stack([np.asarray(predictions[n], dtype=np.float64) for n in names])
        yield np.arange(start, start + len(batch)), scores, names


def _from_columns(frame: pl.DataFrame, texts: pl.Series, scorer: ColumnScorer) -> Scored:
    """scorer=column: the labels copied from the frame's own columns (no model, no cache)."""
    series = scorer.score_columns(frame)
    out = frame.with_columns(list(series.values()))
    first = next(iter(series.values()))
    report = ScoreReport(
        scorer=scorer.name,
        identity=scorer.identity(),
        labels=scorer.labels(),
        n_texts=texts.len() - texts.null_count(),
        n_unique=texts.drop_nulls().n_unique(),
        extra={"source_columns": dict(scorer.columns), "n_scored_rows": first.len() - first.null_count(),
               "n_null": texts.null_count()},
    )
    return Scored(frame=out, report=report)


def _empty(labels: list[str]) -> pl.DataFrame:
    return pl.DataFrame(schema={HASH_COLUMN: pl.String(), **{label: pl.Float64() for label in labels}})


__all__ = ["FLUSH_EVERY", "check_shard", "score_frame", "shard_of"]
