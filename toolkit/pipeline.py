"""One experiment end to end: load -> tree columns -> score (cached) -> analyses -> tables, figures, manifest.

Takes plain settings objects (``toolkit.settings``); the Hydra app is only the edge that builds them.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.analysis.registry import ANALYSES, AnalysisContext
from toolkit.io import load_source
from toolkit.plots.figures import save_figure
from toolkit.report import git_commit, package_versions, sha256_file, write_json, write_table
from toolkit.settings import RunSettings
from toolkit.threads import build_tree

log = logging.getLogger(__name__)
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def resolve_data_path(path: str | Path) -> Path:
    """A relative dataset path is taken from the working directory, else from the project root."""
    path = Path(path).expanduser()
    if path.is_absolute() or path.exists():
        return path
    candidate = PROJECT_ROOT / path
    return candidate if candidate.exists() else path


class Timer:
    """Wall time per stage, for the manifest."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 4)


def _input_hashes(files: list[Path]) -> dict[str, str]:
    return {str(f): sha256_file(f) for f in files if Path(f).is_file()}


def _shard_manifest(settings: RunSettings, run_dir: Path, resolved_config: dict[str, Any] | None, loaded: Any,
                    data_path: Path, report: Any, timer: Timer, started: float) -> dict:
    """A shard run scores its slice into the cache and stops: no comments.parquet, tables or figures (they
    would describe a fraction of the texts). Its manifest says ``partial: true``; a run without a shard
    then merges every shard's scores from the cache and runs the analyses."""
    shard = report.extra.get("shard", {})
    manifest = {
        "experiment": settings.experiment,
        "partial": True,
        "note": (f"shard {settings.scorer.shard} of {settings.scorer.num_shards}: scores written to the cache "
                 "only; run again without scorer.shard to merge them and run the analyses"),
        "config": resolved_config if resolved_config is not None else asdict(settings),
        "inputs": {"path": str(data_path), "format": settings.dataset.format,
                   "sha256": _input_hashes(loaded.files)},
        "counts": {"rows_in": loaded.rows_in, "rows_kept": loaded.frame.height,
                   "rows_rejected": loaded.rejects.height, "texts_in_shard": shard.get("selected")},
        "scorer": {**asdict(report)},
        "versions": package_versions(),
        "git": git_commit(PROJECT_ROOT),
        "stage_seconds": timer.seconds,
        "wall_seconds": round(time.time() - started, 3),
        "outputs": ["rejects.csv"],
    }
    write_json(run_dir / "manifest.json", manifest)
    log.info("shard %s/%s: %d texts scored into the cache (%d were cached already); analyses skipped",
             settings.scorer.shard, settings.scorer.num_shards, report.cache_misses, report.cache_hits)
    return manifest


def run_experiment(settings: RunSettings, run_dir: str | Path, resolved_config: dict[str, Any] | None = None) -> dict:
    """Run ``settings`` and write everything into ``run_dir``; returns the manifest."""
    from toolkit.scoring import score_frame

    unknown = sorted(set(settings.analysis.run) - set(ANALYSES))
    if unknown:
        raise ValueError(f"analysis.run: unknown analyses {unknown}; known: {sorted(ANALYSES)}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tables_dir, figures_dir = run_dir / "tables", run_dir / "figures"
    timer = Timer()
    started = time.time()

    with timer.stage("load"):
        data_path = resolve_data_path(settings.dataset.path)
        loaded = load_source(data_path, settings.dataset.format, strict=settings.dataset.strict,
                             **settings.dataset.options)
    with timer.stage("tree"):
        tree = build_tree(loaded.frame)
    rejects_path = run_dir / "rejects.csv"
    loaded.rejects.write_csv(rejects_path)
    if loaded.rejects.height:
        log.warning("%d rows rejected while loading %s; see %s", loaded.rejects.height, data_path, rejects_path)

    sc = settings.scorer
    with timer.stage("score"):
        scored = score_frame(tree.frame, settings.scorer)
    frame, report = scored.frame, scored.report
    if report.fallback_reason:
        log.warning("scorer=%s used %s instead of Detoxify: %s", sc.name, report.scorer, report.fallback_reason)
    if sc.shard is not None:
        return _shard_manifest(settings, run_dir, resolved_config, loaded, data_path, report, timer, started)
    frame.write_parquet(run_dir / "comments.parquet")

    a, p = settings.analysis, settings.plot
    if a.label not in frame.columns:
        raise ValueError(f"analysis.label: {a.label!r} is not a score of scorer {report.scorer!r} "
                         f"(it gives {report.labels})")
    n_scored = int(frame.filter(~pl.col("is_post"))[a.label].is_not_null().sum())
    footer = f"Scorer: {report.caption()} · label: {a.label} · n = {n_scored} scored comments · {settings.experiment}"
    fig_options = {"style": p.style, "width": p.width, "formats": tuple(p.formats), "dpi": p.dpi}
    outputs: list[Path] = []
    with timer.stage("analyses"):
        for name in a.run:
            ctx = AnalysisContext(label=a.label, threshold=a.threshold, n_boot=a.n_boot, seed=a.seed,
                                  footer=footer, params=dict(a.params.get(name, {})),
                                  labels=list(report.labels), cache_dir=sc.cache_dir)
            result = ANALYSES[name](frame, ctx)
            for table_name, table in result.tables.items():
                outputs += write_table(table, tables_dir, table_name)
            for spec, table in result.figures:
                outputs += save_figure(table, spec, figures_dir, **fig_options)

    counts = {
        "rows_in": loaded.rows_in,
        "rows_kept": frame.height,
        "rows_rejected": loaded.rejects.height,
        "threads": frame["thread_id"].n_unique(),
        "posts": int(frame["is_post"].sum()),
        "comments": int((~frame["is_post"]).sum()),
        "removed": int(frame["removed"].fill_null(False).sum()),
        "deleted": int(frame["deleted"].fill_null(False).sum()),
        "null_text": int(frame["text"].is_null().sum()),
        "orphans": tree.n_orphans,
        "in_cycles": tree.n_in_cycles,
        "structure": {str(k): int(v) for k, v in frame["structure"].value_counts().iter_rows()},
    }
    manifest = {
        "experiment": settings.experiment,
        "config": resolved_config if resolved_config is not None else asdict(settings),
        "inputs": {"path": str(data_path), "format": settings.dataset.format, "sha256": _input_hashes(loaded.files)},
        "loader_stats": loaded.stats,
        "counts": counts,
        "scorer": {**asdict(report)},
        "versions": package_versions(),
        "git": git_commit(PROJECT_ROOT),
        "stage_seconds": timer.seconds,
        "wall_seconds": round(time.time() - started, 3),
        "outputs": sorted(str(o.relative_to(run_dir)) for o in outputs) + ["comments.parquet", "rejects.csv"],
    }
    write_json(run_dir / "manifest.json", manifest)
    log.info("run directory: %s (scorer %s, %d cache hits, %d misses)", run_dir, report.scorer,
             report.cache_hits, report.cache_misses)
    return manifest
