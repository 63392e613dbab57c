"""Scoring a corpus store bucket by bucket: each scorer resolved (and its model loaded) once for all buckets,
texts cached as usual, one report per scorer for the whole corpus."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl

from toolkit.errors import ConfigError
from toolkit.scoring.base import ScoreReport
from toolkit.scoring.resolve import resolve_scorer
from toolkit.scoring.score import score_resolved
from toolkit.settings import ScorerSettings


def score_buckets(bucket_paths: list[Path], scorers: list[ScorerSettings],
                  out_dir: Path) -> tuple[list[Path], list[ScoreReport]]:
    """Score each bucket file of a corpus store (``bucket_paths``, ``.../bucket=<b>/data.parquet``) with each of
    ``scorers`` in turn (the run's, then ``extra_scorers``; each loaded once, texts cached as usual) into
    ``out_dir/bucket=<b>.parquet``; returns those files and one report per scorer for all buckets. Two scorers
    writing the same label is a ConfigError."""
    chosen = [resolve_scorer(sc) for sc in scorers]
    out_dir.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    reports: list[list[ScoreReport]] = [[] for _ in scorers]
    for path in bucket_paths:
        frame = pl.read_parquet(path)
        for i, sc in enumerate(scorers):
            scored, chosen[i] = score_resolved(frame, chosen[i], sc)
            written = {label for r in reports[:i] for label in r[-1].labels}
            if not paths and written & set(scored.report.labels):
                raise ConfigError("extra_scorers", f"{sc.name!r} writes {sorted(written & set(scored.report.labels))}"
                                  ", which an earlier scorer wrote already; list each scorer once")
            frame = scored.frame
            reports[i].append(scored.report)
        paths.append(out_dir / f"{path.parent.name}.parquet")
        frame.write_parquet(paths[-1])
    return paths, [merge_reports(r, reason) for r, (_, reason) in zip(reports, chosen, strict=True)]


def merge_reports(reports: list[ScoreReport], fallback_reason: str | None) -> ScoreReport:
    """One report for a run scored bucket by bucket: counts summed (``n_unique`` counts a text once per
    bucket it occurs in), the first bucket's identity and details."""
    first = reports[0]
    total = {k: sum(getattr(r, k) for r in reports) for k in ("n_texts", "n_unique", "cache_hits", "cache_misses")}
    extra = dict(first.extra)
    for key in ("n_null", "n_empty", "n_truncated", "n_chunked", "parts_written", "seconds"):
        if key in extra:
            extra[key] = sum(r.extra.get(key, 0) for r in reports)
    if "shard" in extra:
        extra["shard"] = {**extra["shard"], **{k: sum(r.extra["shard"][k] for r in reports)
                                               for k in ("selected", "left_to_other_shards")}}
    return replace(first, **total, model_loaded=any(r.model_loaded for r in reports),
                   fallback_reason=fallback_reason, extra={**extra, "buckets": len(reports)})
