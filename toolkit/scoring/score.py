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
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from toolkit.errors import ConfigError, ScorerUnavailableError
from toolkit.scoring.base import Scored, Scorer, ScoreReport
from toolkit.scoring.cache import (
    COMPACT_ROWS,
    HASH_COLUMN,
    ScoreCache,
    empty_scores,
    resolve_cache_dir,
    row_count,
    shard_expr,
    text_hash,
)
from toolkit.scoring.calibration import calibrate_scored
from toolkit.scoring.column import ColumnScorer
from toolkit.scoring.llm import CONTEXT_COLUMN, context_items
from toolkit.scoring.resolve import fallback_scorer, resolve_scorer
from toolkit.settings import ScorerSettings

log = logging.getLogger(__name__)

FLUSH_SECONDS = 60.0  # a part file at least this often: a slow run killed loses at most about a minute
AUTO_COMPACT_PARTS = 256  # a full (non-shard) run compacts an identity directory with more parts than this
_KEY = "__toolkit_score_key"


def shard_of(hash_hex: str, num_shards: int) -> int:
    """The shard (0..num_shards-1) a text belongs to, from its hash (:func:`shard_expr` for one hash).

    >>> shard_of(text_hash("hello"), 4)
    2
    """
    return int(pl.select(shard_expr(pl.lit(hash_hex), num_shards)).item())


def check_shard(shard: int | None, num_shards: int | None) -> tuple[int, int] | None:
    """``(shard, num_shards)`` validated, or None when not sharding.

    >>> check_shard(1, 4), check_shard(None, None)
    ((1, 4), None)
    """
    if shard is None and num_shards is None:
        return None
    if shard is None or num_shards is None:
        raise ConfigError("scorer.shard", "sharding needs both scorer.shard=i and scorer.num_shards=n")
    if int(num_shards) < 1 or not 0 <= int(shard) < int(num_shards):
        raise ConfigError("scorer.shard", f"{shard} must be in 0..num_shards-1 (num_shards={num_shards})")
    return int(shard), int(num_shards)


def scorer_settings(scorer: str | ScorerSettings | Scorer = "auto", **overrides: Any) -> ScorerSettings:
    """The settings a scoring call runs with: ``ScorerSettings(name=scorer, **overrides)`` for a name, the
    given settings with ``overrides`` replaced, or (for a Scorer object) the defaults with ``overrides``.

    >>> scorer_settings("hf", model="/models/hate").model
    '/models/hate'
    >>> scorer_settings("detoxify", modle="unbiased")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    toolkit.errors.ConfigError: scorer.modle: unknown scorer option ['modle']; known: name, model, ...
    """
    known = [f.name for f in fields(ScorerSettings)]
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ConfigError(f"scorer.{unknown[0]}", f"unknown scorer option {unknown}; known: {', '.join(known)}")
    if isinstance(scorer, str):
        return ScorerSettings(**{"name": scorer, **overrides})
    return replace(scorer if isinstance(scorer, ScorerSettings) else ScorerSettings(), **overrides)


def scorer_spec(entry: str | dict[str, Any], key: str, base: ScorerSettings) -> ScorerSettings:
    """A further scorer from its config entry (a name or ``{name: ..., model: ...}``; ``extra_scorers``,
    scorer_agreement's ``scorers``), sharing ``base``'s cache and shard settings (see :func:`scorer_settings`);
    a misspelt option is a ConfigError naming ``key``.

    >>> scorer_spec({"name": "detoxify", "model": "unbiased"}, "extra_scorers", ScorerSettings(cache_dir="c")).cache_dir
    'c'
    >>> scorer_spec({"name": "detoxify", "modle": "x"}, "extra_scorers", ScorerSettings())  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    toolkit.errors.ConfigError: extra_scorers: {'name': 'detoxify', 'modle': 'x'}: unknown scorer option ['modle']; ...
    """
    spec = {"name": entry} if isinstance(entry, str) else dict(entry)
    shared = {k: getattr(base, k) for k in ("cache_dir", "use_cache", "shard", "num_shards")}
    try:
        return scorer_settings(spec.pop("name", "auto"), **{**shared, **spec})
    except ConfigError as err:
        raise ConfigError(key, f"{entry!r}: {err.reason}; give a scorer name or {{name: ..., model: ...}}") from None


def score_frame(
    frame: pl.DataFrame,
    scorer: str | ScorerSettings | Scorer = "auto",
    *,
    text_column: str = "text",
    **overrides: Any,
) -> Scored:
    """``frame`` with one Float64 column per label added (replacing same-named ones), and a ScoreReport.

    ``scorer``: a name (``auto``: Detoxify if its weights are there or downloadable, else the embedded
    profanity scorer, with a warning; ``detoxify``, ``hf``, ``profanity``, ``column``), a ScorerSettings, or
    a Scorer object; ``overrides`` are ScorerSettings fields (see :func:`scorer_settings`). The cache is
    ``cache_dir`` (default ``$TOOLKIT_CACHE_DIR`` or ``~/.cache/toolkit/scores``); ``use_cache=False``
    neither reads nor writes it. ``shard``/``num_shards``: score one slice (see module).

    >>> frame = pl.DataFrame({"text": ["you idiot", None, "you idiot"]})
    >>> scored = score_frame(frame, "profanity", use_cache=False)
    >>> scored.frame["toxicity"].is_null().to_list(), scored.report.n_unique
    ([False, True, False], 1)
    """
    settings = scorer_settings(scorer, **overrides)
    if isinstance(scorer, str | ScorerSettings):
        choice = resolve_scorer(settings)
    else:  # a Scorer object is used as it is, never replaced by the fallback
        choice, settings = (scorer, None), replace(settings, name=scorer.name)
    return score_resolved(frame, choice, settings, text_column=text_column)[0]


def score_resolved(
    frame: pl.DataFrame,
    choice: tuple[Scorer, str | None],
    settings: ScorerSettings,
    *,
    text_column: str = "text",
    hits: pl.DataFrame | None = None,
    on_scored: Callable[[pl.DataFrame], object] | None = None,
) -> tuple[Scored, tuple[Scorer, str | None]]:
    """:func:`score_frame` with the scorer already resolved (``choice`` from :func:`resolve_scorer`), so a
    corpus scored frame by frame loads its model once. A ``scorer=auto`` whose Detoxify weights then fail to
    load falls back to the embedded scorer; the choice returned is the one to use for the next frames.
    ``hits``: this scorer's cached rows fetched beforehand (``text_hash`` + labels; extra rows are ignored),
    used instead of a cache look-up (and dropped if the scorer falls back); ``on_scored`` receives the
    newly scored rows (same columns, raw scores). ``settings.calibration`` (a calibration file) is applied
    last: see :func:`toolkit.scoring.calibration.calibrate_scored`.

    >>> settings = ScorerSettings(name="profanity", use_cache=False)
    >>> scored, choice = score_resolved(pl.DataFrame({"text": ["you idiot"]}), resolve_scorer(settings), settings)
    >>> choice[0].name, scored.frame.columns
    ('profanity', ['text', 'toxicity'])
    """
    if text_column not in frame.columns:
        raise ValueError(f"score_frame: no column {text_column!r} in the frame (columns: {frame.columns})")
    if getattr(choice[0], "needs_parent", False) and text_column != CONTEXT_COLUMN:
        # a context prompt scores (parent, reply) pairs: the pair is the text the cache keys
        paired = frame.with_columns(context_items(frame, text_column).alias(CONTEXT_COLUMN))
        scored, choice = score_resolved(paired, choice, settings, text_column=CONTEXT_COLUMN, hits=hits,
                                        on_scored=on_scored)
        return Scored(scored.frame.drop(CONTEXT_COLUMN), scored.report), choice
    texts = frame.get_column(text_column)
    if texts.dtype == pl.Null:
        texts = texts.cast(pl.String)
    elif texts.dtype != pl.String:
        raise TypeError(f"score_frame: column {text_column!r} must be a string column, got {texts.dtype}")
    if int(settings.flush_every) < 1:
        raise ConfigError("scorer.flush_every", f"must be >= 1, got {settings.flush_every}")
    sharding = check_shard(settings.shard, settings.num_shards)
    if sharding is not None and not settings.use_cache:
        raise ConfigError("scorer.use_cache", "a shard run writes its scores to the cache: it needs use_cache=True")
    chosen, reason = choice
    if isinstance(chosen, ColumnScorer):
        if sharding is not None:
            raise ConfigError("scorer.shard", "scorer=column reads scores from the data: there is nothing to shard")
        return calibrate_scored(_from_columns(frame, texts, chosen), settings.calibration), choice
    root = resolve_cache_dir(settings.cache_dir) if settings.use_cache else None
    run = _CachedScoring(texts, root, text_column, int(settings.flush_every), sharding, hits, on_scored)
    try:
        scored = run.score(frame, chosen, reason)
    except ScorerUnavailableError as exc:
        if settings.name != "auto" or reason is not None:  # only a resolved scorer=auto falls back, once
            raise
        choice = fallback_scorer(f"Detoxify failed to load: {exc}",
                                 f"Detoxify failed to load: {exc.summary or exc}", exc.fix)
        run.hits = None  # fetched for the other scorer's identity
        scored = run.score(frame, *choice)
    return calibrate_scored(scored, settings.calibration), choice  # after the cache: it keeps raw scores


def auto_compact(cache: ScoreCache | None, sharding: tuple[int, int] | None) -> dict[str, Any] | None:
    """After a full (non-shard) run, compact a cache holding ``AUTO_COMPACT_PARTS`` more parts than a
    compacted one would (its result), else None. It reads the whole cache: once per call of score_frame or
    score_buckets.

    >>> auto_compact(None, None) is None
    True
    """
    if cache is None or sharding is not None or len(parts := cache.part_files()) <= AUTO_COMPACT_PARTS:
        return None
    compacted = -(-row_count(parts) // COMPACT_ROWS)  # the parts a compaction would leave
    return cache.compact() if len(parts) > AUTO_COMPACT_PARTS + compacted else None


class _PartWriter:
    """Collects newly scored rows and writes them to the cache as part files, every K texts or T seconds."""

    def __init__(self, cache: ScoreCache | None, labels: list[str], every: int, seconds: float) -> None:
        self.cache, self.labels, self.every, self.seconds = cache, labels, every, seconds
        self.pending: list[pl.DataFrame] = []
        self.written: list[pl.DataFrame] = []
        self.parts = 0
        self.last = time.monotonic()

    def add(self, hashes: list[str], scores: np.ndarray) -> None:
        """Queue rows; flush when enough are queued or enough time has passed."""
        table = pl.DataFrame(
            {HASH_COLUMN: hashes, **{label: scores[:, j] for j, label in enumerate(self.labels)}},
            schema=empty_scores(self.labels).schema,
        )
        self.pending.append(table)
        if sum(t.height for t in self.pending) >= self.every or time.monotonic() - self.last >= self.seconds:
            self.flush()

    def flush(self) -> None:
        """Write what is queued as one part file (atomically)."""
        if self.pending:
            table = pl.concat(self.pending, how="vertical")
            if self.cache is not None and self.cache.write(table) is not None:
                self.parts += 1
            self.written.append(table)
        self.pending, self.last = [], time.monotonic()

    def table(self) -> pl.DataFrame:
        """Everything scored in this run."""
        self.flush()
        return pl.concat(self.written, how="vertical") if self.written else empty_scores(self.labels)


class _LabelsChanged(Exception):
    """labels() guessed before loading differ from the loaded model's: start over."""


@dataclass
class _CachedScoring:
    """One scoring call over a text column: distinct texts, cache look-up (or the ``hits`` fetched
    beforehand), shard selection, streaming, join back."""

    texts: pl.Series
    cache_root: Path | None
    text_column: str
    flush_every: int
    sharding: tuple[int, int] | None
    hits: pl.DataFrame | None = None
    on_scored: Callable[[pl.DataFrame], object] | None = None

    def __post_init__(self) -> None:
        self.compacts = self.hits is None  # score_buckets, which fetches hits, compacts once at its end
        self.unique: list[str] = self.texts.drop_nulls().unique(maintain_order=True).to_list()
        self.hashes = [text_hash(t) for t in self.unique]

    def score(self, frame: pl.DataFrame, scorer: Scorer, fallback_reason: str | None) -> Scored:
        loads_before = scorer.loads
        for _ in range(2):
            try:
                return self._score(frame, scorer, fallback_reason, loads_before)
            except _LabelsChanged as exc:
                warnings.warn(str(exc), RuntimeWarning, stacklevel=3)
                self.hits = None  # fetched under the labels guessed before loading
        raise RuntimeError(f"{scorer.name}: labels keep changing between labels() and predict()")

    def _score(self, frame: pl.DataFrame, scorer: Scorer, fallback_reason: str | None, loads_before: int) -> Scored:
        started = time.perf_counter()
        unique, hashes = self.unique, self.hashes
        identity = scorer.identity()
        labels = scorer.labels()
        cache = ScoreCache(self.cache_root, identity, labels) if self.cache_root is not None else None
        wanted = pl.Series(HASH_COLUMN, hashes, dtype=pl.String())
        if self.hits is not None:
            hits = self.hits.join(wanted.to_frame(), on=HASH_COLUMN, how="semi")
        else:
            hits = cache.lookup(hashes) if cache is not None else empty_scores(labels)
        cached = wanted.is_in(hits.get_column(HASH_COLUMN).implode()).to_numpy()
        mine = np.ones(len(hashes), dtype=bool) if self.sharding is None else wanted.to_frame().select(
            shard_expr(pl.col(HASH_COLUMN), self.sharding[1]) == self.sharding[0]).to_series().to_numpy()
        misses = np.flatnonzero(~cached & mine).tolist()
        skipped = int((~cached & ~mine).sum())

        writer = _PartWriter(cache, labels, self.flush_every, FLUSH_SECONDS)
        try:
            batches = scorer.iter_predict([unique[i] for i in misses]) if misses else ()
            for batch, (positions, scores) in enumerate(batches):
                # the labels checked once, after the first batch (the model is loaded by then)
                if batch == 0 and (seen_labels := scorer.labels()) != labels:
                    writer.pending.clear()  # nothing was written under the wrong labels
                    raise _LabelsChanged(
                        f"{scorer.name}: the model's labels {seen_labels} differ from the expected {labels}"
                    )
                writer.add([hashes[misses[p]] for p in np.asarray(positions).tolist()],
                           np.asarray(scores, dtype=np.float64))
        finally:
            writer.flush()  # interrupted (Ctrl-C, an error): keep what was scored
        scored = writer.table()
        if self.on_scored is not None:
            self.on_scored(scored)

        table = pl.concat([hits, scored], how="vertical") if scored.height else hits
        out = self._join(frame, table, labels)
        loaded = scorer.loads > loads_before
        run_stats = scorer.run_stats() if loaded else {}
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
        extra.update(scorer.run_settings())
        if loaded and scorer.effective_max_length() is not None:
            extra["max_length"] = scorer.effective_max_length()
        if run_stats:
            extra["engine"] = run_stats
        if self.sharding is not None:
            extra["shard"] = {"shard": self.sharding[0], "num_shards": self.sharding[1],
                              "selected": int(mine.sum()), "left_to_other_shards": skipped}
        if extra["n_truncated"]:
            log.info("%d texts longer than the model's maximum length were truncated (long_text=truncate; "
                     "scorer.long_text=chunk scores whole texts)", extra["n_truncated"])
        compacted = auto_compact(cache, self.sharding) if self.compacts else None
        if compacted is not None:
            extra["compacted"] = compacted
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


def _from_columns(frame: pl.DataFrame, texts: pl.Series, scorer: ColumnScorer) -> Scored:
    """scorer=column: the labels copied from the frame's own columns (no model, no cache)."""
    series = scorer.read_scores(frame)
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


__all__ = ["auto_compact", "check_shard", "score_frame", "score_resolved", "scorer_settings", "scorer_spec", "shard_expr",
           "shard_of"]
