"""Scoring a corpus store bucket by bucket: each scorer resolved (and its model loaded) once for all buckets,
its cache read once for all buckets, one report per scorer for the whole corpus.

The cache look-up is one partitioned pass before the bucket loop (a grace hash join on disk), so a run costs
(corpus + cache) rather than buckets x cache: each bucket's distinct texts (as ``(text_hash, bucket)``) and
the cache's rows are scattered by hash into P partitions (P from their row counts, so one partition is at
most ``partition_rows`` rows: 1 for small inputs); each partition's join routes the cached rows to the
buckets that want them. Texts not cached that occur in several buckets are scored in the first one and
their scores kept in memory for the later ones: memory bounded by the corpus' repeated new texts.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import polars as pl

from toolkit.errors import ConfigError
from toolkit.scoring.base import Scorer, ScoreReport
from toolkit.scoring.cache import (
    HASH_COLUMN,
    SCATTER_ROWS,
    ScoreCache,
    empty_scores,
    identity_key,
    one_per_text,
    read_partition,
    row_count,
    scatter_by_hash,
    shard_expr,
    text_hash,
)
from toolkit.scoring.column import ColumnScorer
from toolkit.scoring.llm import context_items
from toolkit.scoring.resolve import resolve_scorer
from toolkit.scoring.score import auto_compact, check_shard, score_resolved
from toolkit.settings import ScorerSettings

PARTITION_ROWS = 250_000  # rows (wanted + cached) per partition of the look-up: ~25 MB, whatever the corpus
BUCKET = "bucket"  # a bucket's position in the list given


def score_buckets(bucket_paths: list[Path], scorers: list[ScorerSettings], out_dir: Path, *,
                  partition_rows: int = PARTITION_ROWS) -> tuple[list[Path], list[ScoreReport]]:
    """Score each bucket file of a corpus store (``bucket_paths``, ``.../bucket=<b>/data.parquet``) with each of
    ``scorers`` in turn (the run's, then ``extra_scorers``; each loaded once, its cache read once, each text
    scored once) into ``out_dir/bucket=<b>.parquet``; returns those files and one report per scorer for all
    buckets (counts of distinct texts over all of them). Two scorers writing the same label is a ConfigError.

    >>> import tempfile
    >>> bucket = Path(tempfile.mkdtemp()) / "bucket=0" / "data.parquet"
    >>> bucket.parent.mkdir()
    >>> pl.DataFrame({"text": ["you idiot", None, "you idiot"]}).write_parquet(bucket)
    >>> paths, [report] = score_buckets([bucket], [ScorerSettings("profanity", use_cache=False)], bucket.parent)
    >>> [p.name for p in paths], report.n_texts, report.n_unique
    (['bucket=0.parquet'], 2, 1)
    """
    chosen = [resolve_scorer(sc) for sc in scorers]
    out_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".lookup-", dir=out_dir))
    try:
        caches = [_cache(scorer, sc) for (scorer, _), sc in zip(chosen, scorers, strict=True)]
        rows = row_count(bucket_paths) + max((row_count(c.part_files()) for c in caches if c), default=0)
        n_parts = max(1, math.ceil(rows / partition_rows))
        scatter_by_hash(_wanted(bucket_paths), scratch / "wanted", n_parts)
        if any(_pairs(scorer) for scorer, _ in chosen):  # a context prompt keys (parent, reply) pairs
            scatter_by_hash(_wanted(bucket_paths, pairs=True), scratch / "wanted_pairs", n_parts)
        lookups: list[_Lookup | None] = [None] * len(scorers)
        paths: list[Path] = []
        reports: list[list[ScoreReport]] = [[] for _ in scorers]
        for position, path in enumerate(bucket_paths):
            frame = pl.read_parquet(path)
            for i, sc in enumerate(scorers):
                if lookups[i] is None or lookups[i].signature != _signature(chosen[i][0]):  # first, or fallen back
                    wanted = scratch / ("wanted_pairs" if _pairs(chosen[i][0]) else "wanted")
                    lookups[i] = _lookup(chosen[i][0], sc, wanted, Path(tempfile.mkdtemp(dir=scratch)), n_parts)
                scored, chosen[i] = score_resolved(frame, chosen[i], sc, hits=lookups[i].hits(position),
                                                   on_scored=lookups[i].keep)
                written = {label for r in reports[:i] for label in r[-1].labels}
                if not paths and written & set(scored.report.labels):
                    raise ConfigError("extra_scorers", f"{sc.name!r} writes {sorted(written & set(scored.report.labels))}"
                                      ", which an earlier scorer wrote already; list each scorer once")
                frame = scored.frame
                reports[i].append(scored.report)
            paths.append(out_dir / f"{path.parent.name}.parquet")
            frame.write_parquet(paths[-1])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    merged = [_merge_reports(r, reason, found) for r, (_, reason), found in zip(reports, chosen, lookups, strict=True)]
    for report, found, sc in zip(merged, lookups, scorers, strict=True):
        compacted = auto_compact(found.cache, check_shard(sc.shard, sc.num_shards)) if found else None
        if compacted is not None:
            report.extra["compacted"] = compacted
    return paths, merged


@dataclass
class _Lookup:
    """One scorer's cache looked up for all buckets: the cached rows routed per bucket (files under ``hits``),
    the scores of repeated new texts kept once scored, and exact counts of distinct texts."""

    signature: tuple[str, tuple[str, ...]]  # (cache key, labels) it was fetched for
    cache: ScoreCache | None
    hits_dir: Path
    repeats: pl.Series = field(default_factory=lambda: pl.Series(HASH_COLUMN, [], pl.String))  # in 2+ buckets, not cached
    n_unique: int = 0
    selected: int = 0  # distinct texts of this shard (shard runs)
    left_to_other_shards: int = 0  # distinct texts neither cached nor of this shard
    kept: list[pl.DataFrame] = field(default_factory=list)

    def hits(self, position: int) -> pl.DataFrame:
        """The cached rows bucket ``position`` wants, plus the repeated texts scored in earlier buckets."""
        return pl.concat([*read_partition(self.hits_dir / f"{BUCKET}={position}"), *self.kept, empty_scores(self.signature[1])])

    def keep(self, scored: pl.DataFrame) -> None:
        """Keep the newly scored rows that later buckets want (texts repeated across buckets)."""
        if self.repeats.len():
            self.kept.append(scored.filter(pl.col(HASH_COLUMN).is_in(self.repeats.implode())))


def _cache(scorer: Scorer, settings: ScorerSettings) -> ScoreCache | None:
    """The cache a scorer reads (None without one: ``use_cache=False`` or ``scorer=column``)."""
    if isinstance(scorer, ColumnScorer) or not settings.use_cache:
        return None
    return ScoreCache(settings.cache_dir, scorer.identity(), scorer.labels())


def _signature(scorer: Scorer) -> tuple[str, tuple[str, ...]]:
    return identity_key(scorer.identity()), tuple(scorer.labels())


def _pairs(scorer: Scorer) -> bool:
    """Whether the scorer keys (parent, reply) pairs rather than texts (an LLM judge with a context prompt)."""
    return bool(getattr(scorer, "needs_parent", False))


def _wanted(bucket_paths: list[Path], pairs: bool = False) -> Iterator[pl.DataFrame]:
    """Each bucket's distinct non-null texts (or ``pairs``: (parent, reply) pairs) as ``(text_hash, bucket
    position)``."""
    for position, path in enumerate(bucket_paths):
        if pairs:
            texts = context_items(pl.read_parquet(path)).drop_nulls().unique()
        else:
            texts = pl.read_parquet(path, columns=["text"]).get_column("text").cast(pl.String).drop_nulls().unique()
        yield pl.DataFrame({HASH_COLUMN: [text_hash(t) for t in texts.to_list()]}, schema={HASH_COLUMN: pl.String()}
                           ).with_columns(pl.lit(position, pl.Int32).alias(BUCKET))


def _lookup(scorer: Scorer, settings: ScorerSettings, wanted_dir: Path, scratch: Path, n_parts: int) -> _Lookup:
    """Read the scorer's cache once (scattered into the partitions of ``wanted_dir``), join partition by
    partition."""
    cache, labels, sharding = _cache(scorer, settings), scorer.labels(), check_shard(settings.shard, settings.num_shards)
    if cache is not None:
        scatter_by_hash((t for _, t in cache.rows(batch_rows=SCATTER_ROWS)), scratch / "cached", n_parts)
    found = _Lookup(_signature(scorer), cache, scratch / "hits")
    for p in range(n_parts):
        if not (tables := read_partition(wanted_dir / f"p={p}")):
            continue
        wanted, cached = pl.concat(tables), one_per_text(read_partition(scratch / "cached" / f"p={p}"), labels)
        for (b,), rows in wanted.join(cached, on=HASH_COLUMN).partition_by(BUCKET, as_dict=True,
                                                                             include_key=False).items():
            (found.hits_dir / f"{BUCKET}={b}").mkdir(parents=True, exist_ok=True)
            rows.write_parquet(found.hits_dir / f"{BUCKET}={b}" / f"p{p}.parquet")
        missing = wanted.join(cached, on=HASH_COLUMN, how="anti").get_column(HASH_COLUMN)
        found.repeats.append(missing.filter(missing.is_duplicated()).unique())  # appends in place
        distinct = wanted.get_column(HASH_COLUMN).unique().to_frame()
        found.n_unique += distinct.height
        if sharding is not None:
            found.selected += distinct.filter(shard_expr(pl.col(HASH_COLUMN), sharding[1]) == sharding[0]).height
            found.left_to_other_shards += missing.unique().to_frame().filter(
                shard_expr(pl.col(HASH_COLUMN), sharding[1]) != sharding[0]).height
    return found


def _merge_reports(reports: list[ScoreReport], fallback_reason: str | None, found: _Lookup) -> ScoreReport:
    """One report for a run scored bucket by bucket: distinct texts counted once over all buckets (from the
    look-up ``found``; each was cached, scored once here or left to other shards), other counts summed, the
    first bucket's identity and details."""
    first = reports[0]
    misses = sum(r.cache_misses for r in reports)
    extra = dict(first.extra)
    for key in ("n_null", "n_empty", "n_truncated", "n_chunked", "parts_written", "seconds"):
        if key in extra:
            extra[key] = sum(r.extra.get(key, 0) for r in reports)
    if "shard" in extra:
        extra["shard"] = {**extra["shard"], "selected": found.selected,
                          "left_to_other_shards": found.left_to_other_shards}
    if found.cache is not None:
        extra["quarantined"] = [*map(str, found.cache.quarantined), *(q for r in reports for q in r.extra["quarantined"])]
    hits = found.n_unique - misses - found.left_to_other_shards if extra.get("cache_key") else 0
    return replace(first, n_texts=sum(r.n_texts for r in reports), n_unique=found.n_unique, cache_hits=hits,
                   cache_misses=misses, model_loaded=any(r.model_loaded for r in reports),
                   fallback_reason=fallback_reason, extra={**extra, "buckets": len(reports)})
