"""One experiment end to end: load -> tree columns -> score (cached) -> analyses -> tables, figures, manifest.

Takes plain settings objects (``toolkit.settings``); the Hydra app is only the edge that builds them.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from queue import Queue
from threading import Thread
from typing import Any

import polars as pl

from toolkit.analysis.agreement import sample_comments
from toolkit.analysis.common import Frames, each_bucket
from toolkit.analysis.registry import ANALYSES, COLLECTED, AnalysisContext, collected_columns
from toolkit.errors import ConfigError
from toolkit.fetch.lemmy import fetch_lemmy
from toolkit.io import Rejects, detect_format, load_source
from toolkit.io.reddit_dump import Filters, finish_threads
from toolkit.plots.figures import save_figure
from toolkit.report import git_commit, package_versions, sha256_file, write_json, write_table
from toolkit.scoring import score_frame
from toolkit.scoring.buckets import score_buckets
from toolkit.scoring.cache import resolve_cache_dir
from toolkit.settings import AnalysisSettings, DatasetSettings, PlotSettings, RunSettings, ScorerSettings
from toolkit.store import CorpusStore, open_store

log = logging.getLogger(__name__)
# Where conf/, experiments/ and data/ are: inside the installed package (a wheel ships them there, see
# pyproject.toml), else the source checkout's top level (an editable install or PYTHONPATH).
_PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = _PACKAGE_DIR if (_PACKAGE_DIR / "conf").is_dir() else _PACKAGE_DIR.parent


def resolve_data_path(path: str | Path) -> Path:
    """A relative dataset path (or glob pattern) from the working directory, else from the bundled data
    (``data/NAME``).

    So the shipped configs' ``data/seed_thread.txt`` works from any directory; a path found nowhere is returned
    as given, for the loader to report.

    >>> resolve_data_path("data/seed_thread.txt").is_file()
    True
    >>> sorted(p.name for p in resolve_data_path("data/reddit_sample_*.json").parent.glob("reddit_sample_*.json"))
    ['reddit_sample_1j7g9uj.json', 'reddit_sample_57dw9a.json']
    """
    path = Path(path).expanduser()
    if path.is_absolute() or path.exists() or any(Path().glob(str(path))):
        return path
    candidate = PROJECT_ROOT / path
    return candidate if candidate.exists() or any(PROJECT_ROOT.glob(str(path))) else path


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


def _shard_manifest(settings: RunSettings, run_dir: Path, resolved_config: dict[str, Any] | None,
                    store: CorpusStore, n_rejected: int, data_path: Path, report: Any, timer: Timer,
                    started: float) -> dict:
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
                   "sha256": _input_hashes(store.meta["files"])},
        "counts": {"rows_in": store.meta["rows"] + n_rejected, "rows_kept": store.meta["rows"],
                   "rows_rejected": n_rejected, "texts_in_shard": shard.get("selected")},
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


CHUNK_ROWS = 200_000  # rows of a loaded frame handed to the store at a time


def load_store(dataset: DatasetSettings, data_path: Path, cache_dir: str | None) -> CorpusStore:
    """The corpus store of the dataset (thread buckets with tree columns): reused from the cache directory
    when built before from the same inputs and options, else loaded and written bucket by bucket. A Reddit
    dump streams straight into the buckets (memory: a few chunks); other formats are loaded whole, then
    bucketed. The loader's rejects are kept with it (``store.table("rejects")``), its counts in ``store.meta``."""
    meta: dict[str, Any] = {}
    tables: dict[str, pl.DataFrame] = {}
    state: dict[str, Any] = {}
    options = dict(dataset.options)
    streamed = (dataset.format or detect_format(data_path)) == "reddit_dump" and options.get("submissions") is None

    def keep(loaded: Any) -> None:
        meta.update(loader_stats=loaded.stats, files=[str(f) for f in loaded.files])
        tables["rejects"] = loaded.rejects
        state.update(loaded=loaded, later=Rejects(strict=dataset.strict), filters=Filters.build(
            options.get("subreddits"), options.get("link_ids"), options.get("since"), options.get("until")))

    def chunks() -> Iterator[pl.DataFrame]:
        if streamed:
            yield from _streamed(lambda sink: keep(load_source(data_path, "reddit_dump", strict=dataset.strict,
                                                                sink=sink, **options)))
            return
        loaded = load_source(data_path, dataset.format, strict=dataset.strict, **options)
        keep(loaded)
        for start in range(0, max(loaded.frame.height, 1), CHUNK_ROWS):
            yield loaded.frame.slice(start, CHUNK_ROWS)

    def finish(bucket: pl.DataFrame) -> pl.DataFrame:
        loaded, later = state["loaded"], state["later"]
        frame = finish_threads(bucket, loaded.files, later, state["filters"], loaded.stats)
        loaded.stats["rows_kept"] += frame.height
        loaded.stats["posts"] += int(frame["is_post"].sum())
        loaded.stats["rows_rejected"] = loaded.rejects.height + len(later.rows)
        if later.rows:
            tables["rejects"] = pl.concat([loaded.rejects, later.frame()]).sort("file", "line")  # the loader's order
        return frame

    key = {"format": dataset.format, "strict": dataset.strict, **options}
    return open_store([data_path], key, chunks, resolve_cache_dir(cache_dir), bucket_bytes=dataset.bucket_mb << 20,
                      meta=meta, tables=tables, finish=finish if streamed else None)


def _streamed(load: Callable[[Callable[[pl.DataFrame], None]], None]) -> Iterator[pl.DataFrame]:
    """The chunks a push-style loader hands its sink, as an iterator: ``load(sink)`` runs in a thread, at
    most two chunks wait (memory stays bounded), and its error is raised here."""
    queue: Queue[Any] = Queue(maxsize=2)
    done = object()

    def run() -> None:
        try:
            load(queue.put)
            queue.put(done)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which raises it
            queue.put(exc)

    Thread(target=run, name="store-loader", daemon=True).start()
    while (item := queue.get()) is not done:
        if isinstance(item, BaseException):
            raise item
        yield item


def corpus_counts(buckets: list[Path], label: str) -> dict[str, Any]:
    """The manifest's row counts over the scored buckets, summed bucket by bucket (threads never span two)."""
    totals: dict[str, Any] = {}
    structure: dict[str, int] = {}
    for path in buckets:
        part = pl.read_parquet(path, columns=["thread_id", "is_post", "removed", "deleted", "text", "structure", label])
        counts = part.select(
            pl.len().alias("rows_kept"), pl.col("thread_id").n_unique().alias("threads"),
            pl.col("is_post").sum().alias("posts"), (~pl.col("is_post")).sum().alias("comments"),
            pl.col("removed").fill_null(False).sum().alias("removed"),
            pl.col("deleted").fill_null(False).sum().alias("deleted"), pl.col("text").is_null().sum().alias("null_text"),
            pl.col(label).filter(~pl.col("is_post")).is_not_null().sum().alias("scored"),
        ).row(0, named=True)
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + int(value)
        for key, value in part["structure"].value_counts().iter_rows():
            structure[str(key)] = structure.get(str(key), 0) + int(value)
    return {**totals, "structure": structure}


def run_experiment(settings: RunSettings, run_dir: str | Path, resolved_config: dict[str, Any] | None = None) -> dict:
    """Run ``settings`` and write everything into ``run_dir``; returns the manifest.

    One path for every input size: the corpus is a store of thread buckets (one for a small input); each
    bucket is scored on its own, and the analyses reduce bucket by bucket where they can (see ``BUCKETED``).
    """
    unknown = sorted(set(settings.analysis.run) - set(ANALYSES))
    if unknown:
        raise ConfigError("analysis.run", f"unknown analyses {unknown}; known: {', '.join(sorted(ANALYSES))}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    timer = Timer()
    started = time.time()
    sc = settings.scorer

    if settings.dataset.fetch.url:
        with timer.stage("fetch"):
            fetched = fetch_lemmy(settings.dataset.fetch.url, Path(settings.dataset.path), settings.dataset.fetch)
        log.info("fetched %s into %s: %d requests, %d responses already there", settings.dataset.fetch.url,
                 settings.dataset.path, fetched["requests"], fetched["reused"])
    with timer.stage("load"):
        data_path = resolve_data_path(settings.dataset.path)
        store = load_store(settings.dataset, data_path, sc.cache_dir)
    rejects_path = run_dir / "rejects.csv"
    rejects = store.table("rejects")
    rejects.write_csv(rejects_path)
    if rejects.height:
        log.warning("%d rows rejected while loading %s; see %s", rejects.height, data_path, rejects_path)

    scratch = run_dir / ".buckets"
    with timer.stage("score"):
        buckets, reports = score_buckets(store.bucket_paths(), [sc, *(scorer_spec(e, "extra_scorers", sc)
                                                       for e in settings.extra_scorers)], scratch)
    report, extra_reports = reports[0], reports[1:]
    if report.fallback_reason:
        log.warning("scorer=%s used %s instead of Detoxify: %s", sc.name, report.scorer, report.fallback_reason)
    if sc.shard is not None:
        shutil.rmtree(scratch)
        return _shard_manifest(settings, run_dir, resolved_config, store, rejects.height, data_path, report, timer,
                               started)
    pl.scan_parquet(buckets).sink_parquet(run_dir / "comments.parquet")

    a = settings.analysis
    labels = [label for r in reports for label in r.labels]
    if a.label not in labels:
        raise ConfigError("analysis.label", f"{a.label!r} is not a score of scorer {report.scorer!r} "
                          f"(the scorers give {', '.join(labels)}); pick one of those")
    counts = corpus_counts(buckets, a.label)
    n_scored = counts.pop("scored")
    caption = " + ".join(r.caption() for r in reports)
    footer = f"Scorer: {caption} · label: {a.label} · n = {n_scored} scored comments · {settings.experiment}"
    with timer.stage("analyses"):
        outputs, skipped = run_analyses(lambda: (pl.read_parquet(p) for p in buckets), a, settings.plot, run_dir,
                                        footer, labels, sc)
    shutil.rmtree(scratch)
    counts = {"rows_in": counts["rows_kept"] + rejects.height, **counts, "rows_rejected": rejects.height,
              "orphans": store.meta["orphans"], "in_cycles": store.meta["in_cycles"]}
    manifest = {
        "experiment": settings.experiment,
        "config": resolved_config if resolved_config is not None else asdict(settings),
        "inputs": {"path": str(data_path), "format": settings.dataset.format,
                   "sha256": _input_hashes(store.meta["files"])},
        "loader_stats": store.meta["loader_stats"],
        "store": {"path": str(store.root), "buckets": store.n_buckets},
        "counts": counts,
        "scorer": {**asdict(report)},
        "extra_scorers": [asdict(r) for r in extra_reports],
        "versions": package_versions(),
        "git": git_commit(PROJECT_ROOT),
        "stage_seconds": timer.seconds,
        "wall_seconds": round(time.time() - started, 3),
        "outputs": sorted(str(o.relative_to(run_dir)) for o in outputs) + ["comments.parquet", "rejects.csv"],
        "skipped": skipped,
    }
    write_json(run_dir / "manifest.json", manifest)
    log.info("run directory: %s (scorer %s, %d cache hits, %d misses)", run_dir, report.scorer,
             report.cache_hits, report.cache_misses)
    return manifest


BUCKETED = frozenset(ANALYSES) - COLLECTED.keys()  # analyses that reduce bucket by bucket


def run_analyses(data: Frames, a: AnalysisSettings, plot: PlotSettings, run_dir: Path, footer: str,
                 labels: list[str], scorer: ScorerSettings | None = None) -> tuple[list[Path], dict[str, str]]:
    """Run ``a.run`` on the scored frame, or a store's scored buckets (whose scorers wrote ``labels``); write
    their tables (``tables/``) and figures (``figures/``). Analyses in ``BUCKETED`` reduce bucket by bucket;
    the others see one frame of the columns they read (``collected_columns``), collected once when one of
    them runs. scorer_agreement's further scorers are run here, sharing ``scorer``'s cache.

    Returns the paths written and ``{analysis: reason}`` for every analysis (or part of one) left out
    because it cannot apply to the data; each such reason is logged in one line.
    """
    fig_options = {"style": plot.style, "width": plot.width, "formats": tuple(plot.formats), "dpi": plot.dpi}
    status: list[dict[str, Any]] = []
    frame = None
    if set(a.run) - BUCKETED:
        names = [n for n in a.run if n not in BUCKETED]
        named = [a.params.scorer_validation.truth]
        frame = pl.concat([b.select(collected_columns(names, b.schema, named)) for b in each_bucket(data)]).sort(
            "source_position", "thread_id", maintain_order=True, nulls_last=True)  # input order, whatever the buckets
        if "scorer_agreement" in a.run and a.params.scorer_agreement.scorers:
            frame, status = _with_further_scores(frame, a, scorer or ScorerSettings())
    outputs: list[Path] = []
    skipped: dict[str, str] = {}
    for name in a.run:
        ctx = AnalysisContext(label=a.label, threshold=a.threshold, n_boot=a.n_boot, seed=a.seed, footer=footer,
                              params=a.params, labels=labels, scorers=status)
        result = ANALYSES[name](data if name in BUCKETED else frame, ctx)
        if result.skipped:
            log.info("%s skipped: %s", name, result.skipped)
            skipped[name] = result.skipped
        for table_name, table in result.tables.items():
            outputs += write_table(table, run_dir / "tables", table_name)
        for spec, table in result.figures:
            outputs += save_figure(table, spec, run_dir / "figures", **fig_options)
    return outputs, skipped


def scorer_spec(entry: str | dict[str, Any], key: str, base: ScorerSettings) -> ScorerSettings:
    """A further scorer from its config entry (a name or ``{name: ..., model: ...}``), sharing the run
    scorer's cache and shard settings; a misspelt option is a ConfigError naming ``key``.

    >>> scorer_spec({"name": "detoxify", "model": "unbiased"}, "extra_scorers", ScorerSettings(cache_dir="c")).cache_dir
    'c'
    """
    spec = {"name": entry} if isinstance(entry, str) else dict(entry)
    shared = {k: getattr(base, k) for k in ("cache_dir", "use_cache", "shard", "num_shards")}
    try:
        return ScorerSettings(**{**shared, **spec})
    except TypeError as err:
        raise ConfigError(key, f"{entry!r}: {err}; give a scorer name or {{name: ..., model: ...}}") from None


def _with_further_scores(frame: pl.DataFrame, a: AnalysisSettings,
                         base: ScorerSettings) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """The frame with the scores of scorer_agreement's further scorers on the comments it samples, named
    ``<scorer>[:<model>].<label>``, and one status row per scorer. A scorer that cannot run here (no weights
    offline) is reported in its row, not fatal; one that gives the run's own scores is not repeated."""
    o = a.params.scorer_agreement
    frame = frame.with_row_index("_frame_row")
    rows = sample_comments(frame, o.max_comments, a.seed)  # the analysis draws the same sample
    scored_rows = rows.select("_frame_row")
    status = []
    for entry in o.scorers:
        sc = scorer_spec(entry, "analysis.params.scorer_agreement.scorers", base)
        prefix = sc.name if sc.name == "profanity" else f"{sc.name}:{sc.model}"
        try:
            scored = score_frame(rows.select("text"), sc)
        except Exception as err:  # noqa: BLE001 - any failure to load a scorer is reported, not fatal
            log.warning("scorer_agreement: scorer %s skipped: %s", prefix, err)
            status.append({"scorer": prefix, "used": False, "columns": "", "note": str(err).splitlines()[0][:300]})
            continue
        report = scored.report
        prefix = f"{report.scorer}" + (f":{report.identity.get('model')}" if report.scorer != "profanity" else "")
        same = [lab for lab in report.labels if lab in rows.columns and scored.frame[lab].equals(rows[lab])]
        if same and len(same) == len(report.labels):
            status.append({"scorer": prefix, "used": False, "columns": "",
                           "note": f"same scores as the run's scorer ({', '.join(same)}): not repeated"})
            continue
        cols = {lab: f"{prefix}.{lab}" for lab in report.labels}
        scored_rows = scored_rows.with_columns(scored.frame.select([pl.col(k).alias(v) for k, v in cols.items()]))
        status.append({"scorer": prefix, "used": True, "columns": ", ".join(cols.values()),
                       "note": report.fallback_reason or ""})
    frame = frame.join(scored_rows, on="_frame_row", how="left", maintain_order="left").drop("_frame_row")
    return frame, status


def run_summary(manifest: dict[str, Any], run_dir: str | Path) -> str:
    """What the CLI prints at the end of a run: counts and scorer, the figures written, what was skipped
    and why, and the run directory.

    >>> print(run_summary({"experiment": "demo", "counts": {"rows_kept": 13, "rows_rejected": 0},
    ...     "scorer": {"scorer": "profanity", "cache_hits": 0, "cache_misses": 10, "model_loaded": True},
    ...     "outputs": ["figures/hist.csv", "figures/hist.json", "figures/hist.png", "tables/hist.csv"],
    ...     "skipped": {"escalation": "no reply pairs"}}, "out/demo"))
    demo: 13 rows kept, 0 rejected; scorer profanity (0 cache hits, 10 misses, model loaded: True)
    figures written (1): hist
    skipped: escalation: no reply pairs
    run directory: out/demo
    """
    counts, sc = manifest["counts"], manifest["scorer"]
    figures = sorted(Path(o).stem for o in manifest["outputs"] if o.startswith("figures/") and o.endswith(".json"))
    lines = [f"{manifest['experiment']}: {counts['rows_kept']} rows kept, {counts['rows_rejected']} rejected; "
             f"scorer {sc['scorer']} ({sc['cache_hits']} cache hits, {sc['cache_misses']} misses, "
             f"model loaded: {sc['model_loaded']})",
             f"figures written ({len(figures)}): {', '.join(figures) or 'none'}"]
    lines += [f"skipped: {name}: {reason}" for name, reason in manifest.get("skipped", {}).items()]
    return "\n".join([*lines, f"run directory: {run_dir}"])
