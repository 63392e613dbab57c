"""One experiment end to end: load -> tree columns -> score (cached) -> analyses -> tables, figures, manifest.

Takes plain settings objects (``toolkit.settings``); the Hydra app is only the edge that builds them.
"""

from __future__ import annotations

import logging
import resource
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from queue import Queue
from threading import Thread
from typing import Any

import numpy as np
import polars as pl

from toolkit.analysis.agreement import sample_comments
from toolkit.analysis.common import Frames, each_bucket
from toolkit.analysis.registry import ANALYSES, COLLECTED, AnalysisContext, collected_columns
from toolkit.errors import ConfigError
from toolkit.fetch.lemmy import fetch_lemmy
from toolkit.io import Rejects, detect_format, expand_paths, load_source
from toolkit.io.reddit_dump import Filters, finish_threads
from toolkit.plots.figures import save_figure
from toolkit.report import git_commit, package_versions, sha256_file, write_json, write_table
from toolkit.scoring import score_frame
from toolkit.scoring.base import ScoreReport
from toolkit.scoring.buckets import score_buckets
from toolkit.scoring.cache import resolve_cache_dir
from toolkit.settings import AnalysisSettings, DatasetSettings, PlotSettings, RunSettings, ScorerSettings
from toolkit.store import CorpusStore, StoreBuild, bucket_count, read_store, store_directory

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
    """Wall time per stage, and the process's peak memory (RSS, MB) so far at the end of each, for the
    manifest: the stage where the peak grows is the one that holds the most."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 4)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
            self.peak_mb[name] = round(peak / (1 << 20 if sys.platform == "darwin" else 1 << 10), 1)


def _input_hashes(files: list[Path]) -> dict[str, str]:
    return {str(f): sha256_file(f) for f in files if Path(f).is_file()}


def _partial_manifest(settings: RunSettings, run_dir: Path, resolved_config: dict[str, Any] | None, note: str,
                      counts: dict[str, Any], report: ScoreReport | None, files: list[str], timer: Timer,
                      started: float) -> dict:
    """The manifest of a run that does one part of the work (a scorer shard or a map step) and stops: no
    comments.parquet, tables or figures (they would describe a fraction of the corpus). It says
    ``partial: true`` and what is left to do (``note``)."""
    manifest = {
        "experiment": settings.experiment,
        "partial": True,
        "note": note,
        "config": resolved_config if resolved_config is not None else asdict(settings),
        "inputs": {"path": str(resolve_data_path(settings.dataset.path)), "format": settings.dataset.format,
                   "sha256": _input_hashes(files)},
        "counts": counts,
        "scorer": asdict(report) if report is not None else None,
        "versions": package_versions(),
        "git": git_commit(PROJECT_ROOT),
        "stage_seconds": timer.seconds,
        "stage_peak_rss_mb": timer.peak_mb,
        "wall_seconds": round(time.time() - started, 3),
        "outputs": ["rejects.csv"] if (run_dir / "rejects.csv").is_file() else [],
    }
    write_json(run_dir / "manifest.json", manifest)
    log.info("%s", note)
    return manifest


MAP_STEPS = ("all", "ingest", "buckets")


def _map_step(settings: RunSettings, source: CorpusSource, run_dir: Path, resolved_config: dict[str, Any] | None,
              timer: Timer, started: float) -> dict:
    """One job of a ``map.step=ingest`` or ``map.step=buckets`` multirun (see ``MapSettings``): its share of
    the input units read into the store build, or its share of the buckets finished and scored into the
    cache. A store already sealed has nothing left to ingest; its buckets are scored as they are."""
    step, build = settings.map, source.build
    sealed = read_store(build.directory)
    files: list[str] = []
    report = None
    if step.step == "ingest":
        units = step.mine(len(source.units))
        with timer.stage("load"):
            for unit in units if sealed is None else []:
                source.ingest(unit)
        metas = [build.unit_meta(u) for u in units] if sealed is None else []
        files = [f for m in metas if m for f in m["meta"].get("files", [])]
        counts = {"units": units, "of_units": len(source.units), "rows_in": sum(m["rows_in"] for m in metas if m)}
        note = (f"map.step=ingest part {step.part} of {step.parts}: input units {units} of {len(source.units)} "
                "ingested; next map.step=buckets, then a run with map.step=all for the tables")
    else:
        with timer.stage("load"):
            if sealed is not None:
                paths = [sealed.bucket_paths()[i] for i in step.mine(len(sealed.bucket_paths()))]
            else:
                numbers = build.bucket_numbers()
                mine = [numbers[i] for i in step.mine(len(numbers))]
                for b in mine:
                    build.finish(b, source.finish if source.streamed else None)
                paths = [build.root / f"bucket={b}" / "data.parquet" for b in mine]
        with timer.stage("score"):
            if paths:
                _, reports = score_buckets(paths, run_scorers(settings), run_dir / ".buckets")
                shutil.rmtree(run_dir / ".buckets")
                report = reports[0]
        counts = {"buckets": [int(p.parent.name.split("=")[1]) for p in paths],
                  "rows": sum(pl.scan_parquet(p).select(pl.len()).collect().item() for p in paths)}
        note = (f"map.step=buckets part {step.part} of {step.parts}: buckets {counts['buckets']} built and scored "
                f"into the cache ({report.cache_misses if report else 0} texts scored); next a run with "
                "map.step=all for the tables")
    return _partial_manifest(settings, run_dir, resolved_config, note, counts, report, files, timer, started)


def run_scorers(settings: RunSettings) -> list[ScorerSettings]:
    """The run's scorer, then ``extra_scorers``."""
    return [settings.scorer, *(scorer_spec(e, "extra_scorers", settings.scorer) for e in settings.extra_scorers)]


CHUNK_ROWS = 200_000  # rows of a loaded frame handed to the store at a time


@dataclass
class CorpusSource:
    """How a dataset becomes a corpus store (``toolkit.store.StoreBuild``): its ingest units and the loader's
    steps per unit and per bucket. A Reddit dump streams into the buckets (memory: a few chunks), one unit per
    input path (a glob's files: monthly dumps ingest in parallel; one unit with ``submissions``); other formats
    are one unit, loaded whole, then bucketed (their loaders settle repeats across files)."""

    dataset: DatasetSettings
    units: list[Path]
    streamed: bool
    build: StoreBuild
    meta: dict[str, Any]  # what the sealed store's meta.json says of its inputs

    @classmethod
    def of(cls, dataset: DatasetSettings, data_path: Path, cache_dir: str | None) -> CorpusSource:
        options = dict(dataset.options)
        streamed = (dataset.format or detect_format(data_path)) == "reddit_dump"
        # monthly comment files are units of their own, unless submissions go with all of them at once
        units = expand_paths(data_path) if streamed and options.get("submissions") is None else [data_path]
        key = {"format": dataset.format, "strict": dataset.strict, **options}
        if dataset.buckets is not None and dataset.buckets < 1:
            raise ConfigError("dataset.buckets", f"must be at least 1, got {dataset.buckets}")
        n = dataset.buckets or bucket_count([data_path], dataset.bucket_mb << 20)
        directory = store_directory([data_path], key, n, resolve_cache_dir(cache_dir))
        return cls(dataset, units, streamed, StoreBuild(directory, n, len(units)),
                   {"inputs": [str(data_path)], "options": key})

    def ingest(self, unit: int) -> None:
        """Load one unit into the build (skipped when done); its loader's counts, files and rejects kept."""
        meta: dict[str, Any] = {}
        tables: dict[str, pl.DataFrame] = {}
        options = {"strict": self.dataset.strict, **self.dataset.options}

        def keep(loaded: Any) -> None:
            meta.update(loader_stats=loaded.stats, files=[str(f) for f in loaded.files])
            tables["rejects"] = loaded.rejects

        def chunks() -> Iterator[pl.DataFrame]:
            if self.streamed:
                span = 0  # source positions this unit used: the next unit's start, so stream order holds
                for chunk in _streamed(lambda sink: keep(load_source(self.units[unit], "reddit_dump", sink=sink,
                                                                     **options))):
                    span = max(span, (chunk["source_position"].max() or 0) + 1)
                    meta["positions"] = span
                    yield chunk
                return
            loaded = load_source(self.units[unit], self.dataset.format, **options)
            keep(loaded)
            for start in range(0, max(loaded.frame.height, 1), CHUNK_ROWS):
                yield loaded.frame.slice(start, CHUNK_ROWS)

        self.build.ingest(unit, chunks(), lambda: meta, lambda: tables)

    def finish(self, bucket: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any], pl.DataFrame | None]:
        """A streamed dump's whole-thread steps on one bucket (see ``finish_threads``): each unit's file
        indices and source positions follow the previous units', as if the inputs were one stream."""
        metas = [(self.build.unit_meta(u) or {}).get("meta", {}) for u in range(len(self.units))]
        files = [Path(f) for m in metas for f in m.get("files", [])]
        file_start = np.cumsum([0, *(len(m.get("files", [])) for m in metas)])[:-1].tolist()
        position_start = np.cumsum([0, *(m.get("positions", 0) for m in metas)])[:-1].tolist()
        unit = pl.col("_unit")
        bucket = bucket.with_columns(
            pl.col("_file") + unit.replace_strict(range(len(metas)), file_start, return_dtype=pl.Int32),
            pl.col("source_position") + unit.replace_strict(range(len(metas)), position_start,
                                                            return_dtype=bucket.schema["source_position"]))
        later, stats = Rejects(strict=self.dataset.strict), {}
        o = self.dataset.options
        filters = Filters.build(o.get("subreddits"), o.get("link_ids"), o.get("since"), o.get("until"))
        frame = finish_threads(bucket, files, later, filters, stats)
        stats.update(rows_kept=frame.height, posts=int(frame["is_post"].sum()), rows_rejected=len(later.rows))
        return frame, stats, later.frame() if later.rows else None

    def store(self) -> CorpusStore:
        """The sealed store: units not ingested and buckets not finished yet are done here."""
        for unit in self.build.missing_units():
            self.ingest(unit)
        return self.build.seal(self.meta, self.finish if self.streamed else None)


def load_store(dataset: DatasetSettings, data_path: Path, cache_dir: str | None) -> CorpusStore:
    """The corpus store of the dataset (thread buckets with tree columns): reused from the cache directory
    when built before from the same inputs and options, else built (see :class:`CorpusSource`). The loader's
    rejects are kept with it (``store.table("rejects")``), its counts in ``store.meta``."""
    source = CorpusSource.of(dataset, data_path, cache_dir)
    try:
        return read_store(source.build.directory) or source.store()
    except OSError:
        found = read_store(source.build.directory)  # sealed meanwhile by another process (parallel runs)
        if found is None:
            raise
        return found


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
    m = settings.map
    if m.step not in MAP_STEPS:
        raise ConfigError("map.step", f"unknown step {m.step!r}; known: {', '.join(MAP_STEPS)}")
    if not 0 <= m.part < m.parts:
        raise ConfigError("map.part", f"must be in 0..map.parts-1 (map.parts={m.parts}), got {m.part}")
    if m.step != "all" and settings.scorer.shard is not None:
        raise ConfigError("map.step", "a map step scores whole buckets: leave scorer.shard unset (or map.step=all)")
    if m.step != "all" and settings.dataset.fetch.url:
        raise ConfigError("map.step", "jobs of a map step would fetch into one archive at once: fetch first "
                          "(toolkit-fetch, or a run without map.step), then map with dataset.fetch.url unset")
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
    data_path = resolve_data_path(settings.dataset.path)
    if settings.map.step != "all":
        return _map_step(settings, CorpusSource.of(settings.dataset, data_path, sc.cache_dir), run_dir,
                         resolved_config, timer, started)
    with timer.stage("load"):
        store = load_store(settings.dataset, data_path, sc.cache_dir)
    rejects_path = run_dir / "rejects.csv"
    rejects = store.table("rejects")
    rejects.write_csv(rejects_path)
    if rejects.height:
        log.warning("%d rows rejected while loading %s; see %s", rejects.height, data_path, rejects_path)

    scratch = run_dir / ".buckets"
    with timer.stage("score"):
        buckets, reports = score_buckets(store.bucket_paths(), run_scorers(settings), scratch)
    report, extra_reports = reports[0], reports[1:]
    if report.fallback_reason:
        log.debug("scorer=%s used %s instead of Detoxify: %s", sc.name, report.scorer, report.fallback_reason)
    if sc.shard is not None:
        shutil.rmtree(scratch)
        shard = report.extra.get("shard", {})
        counts = {"rows_in": store.meta["rows"] + rejects.height, "rows_kept": store.meta["rows"],
                  "rows_rejected": rejects.height, "texts_in_shard": shard.get("selected")}
        note = (f"shard {sc.shard} of {sc.num_shards}: {report.cache_misses} texts scored into the cache "
                f"({report.cache_hits} were cached already); run again without scorer.shard to merge them and run "
                "the analyses")
        return _partial_manifest(settings, run_dir, resolved_config, note, counts, report, store.meta["files"],
                                 timer, started)
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
        "stage_peak_rss_mb": timer.peak_mb,
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
    and why, and the run directory (a partial run: what it did and what is left).

    >>> print(run_summary({"experiment": "demo", "counts": {"rows_kept": 13, "rows_rejected": 0},
    ...     "scorer": {"scorer": "profanity", "cache_hits": 0, "cache_misses": 10, "model_loaded": True},
    ...     "outputs": ["figures/hist.csv", "figures/hist.json", "figures/hist.png", "tables/hist.csv"],
    ...     "skipped": {"escalation": "no reply pairs"}}, "out/demo"))
    demo: 13 rows kept, 0 rejected; scorer profanity (0 cache hits, 10 misses, model loaded: True)
    figures written (1): hist
    skipped: escalation: no reply pairs
    run directory: out/demo
    >>> print(run_summary({"experiment": "demo", "partial": True, "note": "shard 0 of 2: ..."}, "out/0"))
    demo: shard 0 of 2: ...
    run directory: out/0
    """
    if manifest.get("partial"):
        return f"{manifest['experiment']}: {manifest['note']}\nrun directory: {run_dir}"
    counts, sc = manifest["counts"], manifest["scorer"]
    figures = sorted(Path(o).stem for o in manifest["outputs"] if o.startswith("figures/") and o.endswith(".json"))
    lines = [f"{manifest['experiment']}: {counts['rows_kept']} rows kept, {counts['rows_rejected']} rejected; "
             f"scorer {sc['scorer']} ({sc['cache_hits']} cache hits, {sc['cache_misses']} misses, "
             f"model loaded: {sc['model_loaded']})",
             f"figures written ({len(figures)}): {', '.join(figures) or 'none'}"]
    lines += [f"skipped: {name}: {reason}" for name, reason in manifest.get("skipped", {}).items()]
    return "\n".join([*lines, f"run directory: {run_dir}"])
