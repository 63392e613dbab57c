"""One experiment end to end: fetch -> corpus store (load, tree columns) -> score (cached) -> analyses ->
tables, figures and the manifest (:func:`run_experiment`, read top to bottom).

Takes plain settings objects (``toolkit.settings``); the Hydra app is only the edge that builds them. A map
step (``map.step``) or a scorer shard does one part of that and writes a partial manifest.
"""

from __future__ import annotations

import logging
import resource
import shutil
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.analysis.agreement import sample_comments
from toolkit.analysis.common import Corpus, Frames
from toolkit.analysis.declare import AnalysisContext
from toolkit.analysis.registry import ANALYSES, columns_for
from toolkit.analysis.robustness import verdict
from toolkit.errors import ConfigError
from toolkit.fetch import fetch_url
from toolkit.io.paths import PROJECT_ROOT, resolve_data_path
from toolkit.plots.figures import save_figure
from toolkit.report import git_commit, package_versions, sha256_file, write_file, write_json, write_table
from toolkit.schema import is_comment
from toolkit.scoring import scorer_spec
from toolkit.scoring.base import ScoreReport
from toolkit.scoring.buckets import score_buckets
from toolkit.scoring.cache import resolve_cache_dir
from toolkit.scoring.cards import card_for
from toolkit.scoring.further import further_cards, with_further_scores, with_sample_scores
from toolkit.settings import AnalysisSettings, DatasetSettings, PlotSettings, RunSettings, ScorerSettings
from toolkit.store import CorpusSource, CorpusStore, bucket_number, bucket_path, read_store

log = logging.getLogger(__name__)


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


MAP_STEPS = ("all", "ingest", "buckets")
SMALL_SAMPLE_THREADS = 20  # below this many threads with comments, tables and captions carry a warning


def check_settings(settings: RunSettings) -> None:
    """The run-level settings no single dataclass can check: known analyses, map step and part, what a map
    step refuses (a scorer shard, a fetch)."""
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


@dataclass
class Run:
    """One run's bookkeeping: its settings, directory, stage timer and start; the manifest is built here."""

    settings: RunSettings
    directory: Path
    resolved_config: dict[str, Any] | None = None
    timer: Timer = field(default_factory=Timer)
    started: float = field(default_factory=time.time)

    @property
    def scratch(self) -> Path:
        """Where scored buckets wait until the run ends (removed then)."""
        return self.directory / ".buckets"

    def manifest(self, *, files: list[str], counts: dict[str, Any], scorer: ScoreReport | None,
                 outputs: list[str], note: str | None = None, **parts: Any) -> dict[str, Any]:
        """Write ``manifest.json``: the settings, inputs (sha256), counts, scorer, versions, git commit and
        timings, plus ``parts``; a run that did one part of the work (``note``: what is left) says
        ``partial: true`` and has no tables or figures (they would describe a fraction of the corpus)."""
        s = self.settings
        manifest = {
            "experiment": s.experiment,
            **({"partial": True, "note": note} if note is not None else {}),
            "config": self.resolved_config if self.resolved_config is not None else asdict(s),
            "inputs": {"path": str(resolve_data_path(s.dataset.path)), "format": s.dataset.format,
                       "sha256": {str(f): sha256_file(f) for f in files if Path(f).is_file()}},
            "counts": counts,
            "scorer": asdict(scorer) if scorer is not None else None,
            **parts,
            "versions": package_versions(),
            "git": git_commit(PROJECT_ROOT),
            "stage_seconds": self.timer.seconds,
            "stage_peak_rss_mb": self.timer.peak_mb,
            "wall_seconds": round(time.time() - self.started, 3),
            "outputs": outputs,
        }
        write_json(self.directory / "manifest.json", manifest)
        if note is not None:
            log.info("%s", note)
        return manifest


def run_experiment(settings: RunSettings, run_dir: str | Path, resolved_config: dict[str, Any] | None = None) -> dict:
    """Run ``settings`` and write everything into ``run_dir``; returns the manifest.

    One path for every input size: the corpus is a store of thread buckets (one for a small input); each
    bucket is scored on its own, and the analyses reduce bucket by bucket where they can.
    """
    check_settings(settings)
    run = Run(settings, Path(run_dir), resolved_config)
    run.directory.mkdir(parents=True, exist_ok=True)
    if settings.dataset.fetch.url:
        with run.timer.stage("fetch"):
            fetch_dataset(settings.dataset)
    data_path = resolve_data_path(settings.dataset.path)
    source = CorpusSource.of(settings.dataset, data_path, resolve_cache_dir(settings.scorer.cache_dir))
    if settings.map.step != "all":
        return map_step(run, source)
    with run.timer.stage("load"):
        store = source.open()
    rejects = write_rejects(store, run.directory, data_path)
    with run.timer.stage("score"):
        buckets, reports = score_buckets(store.bucket_paths(), run_scorers(settings), run.scratch)
    if reports[0].fallback_reason:
        log.debug("scorer=%s used %s instead of Detoxify: %s", settings.scorer.name, reports[0].scorer,
                  reports[0].fallback_reason)  # the scorer's own warning said it once, short; the manifest has it all
    if settings.scorer.shard is not None:
        shutil.rmtree(run.scratch)
        return shard_manifest(run, store, rejects, reports[0])
    pl.scan_parquet(buckets).sink_parquet(run.directory / "comments.parquet")
    manifest = analyse(run, store, rejects, buckets, reports)
    shutil.rmtree(run.scratch)
    return manifest


def fetch_dataset(dataset: DatasetSettings) -> None:
    """Download ``dataset.fetch.url`` into ``dataset.path`` (resumable: only what is missing)."""
    fetched = fetch_url(dataset.fetch.url, Path(dataset.path), dataset.fetch)
    log.info("fetched %s into %s: %d requests, %d responses already there", dataset.fetch.url, dataset.path,
             fetched["requests"], fetched["reused"])


def write_rejects(store: CorpusStore, run_dir: Path, data_path: Path) -> pl.DataFrame:
    """The loader's rejected rows as ``rejects.csv`` (written even when empty), logged when there are any."""
    rejects = store.table("rejects")
    rejects.write_csv(run_dir / "rejects.csv")
    if rejects.height:
        log.warning("%d rows rejected while loading %s; see %s", rejects.height, data_path, run_dir / "rejects.csv")
    return rejects


def map_step(run: Run, source: CorpusSource) -> dict:
    """One job of a ``map.step=ingest`` or ``map.step=buckets`` multirun (see ``MapSettings``): its share of
    the input units read into the store build, or its share of the buckets built and scored into the cache.
    A store already sealed has nothing left to ingest; its buckets are scored as they are."""
    step, build = run.settings.map, source.build
    sealed = read_store(build.directory)
    files: list[str] = []
    report = None
    if step.step == "ingest":
        units = step.mine(len(source.units))
        with run.timer.stage("load"):
            for unit in units if sealed is None else []:
                source.ingest(unit)
        metas = [build.unit_meta(u) for u in units] if sealed is None else []
        files = [f for m in metas if m for f in m["meta"].get("files", [])]
        counts = {"units": units, "of_units": len(source.units), "rows_in": sum(m["rows_in"] for m in metas if m)}
        note = (f"map.step=ingest part {step.part} of {step.parts}: input units {units} of {len(source.units)} "
                "ingested; next map.step=buckets, then a run with map.step=all for the tables")
    else:
        with run.timer.stage("load"):
            if sealed is not None:
                paths = [sealed.bucket_paths()[i] for i in step.mine(len(sealed.bucket_paths()))]
            else:
                numbers = build.bucket_numbers()
                mine = [numbers[i] for i in step.mine(len(numbers))]
                for b in mine:
                    source.finish_bucket(b)
                paths = [bucket_path(build.root, b) for b in mine]
        with run.timer.stage("score"):
            if paths:
                _, reports = score_buckets(paths, run_scorers(run.settings), run.scratch)
                shutil.rmtree(run.scratch)
                report = reports[0]
        counts = {"buckets": [bucket_number(p) for p in paths],
                  "rows": sum(pl.scan_parquet(p).select(pl.len()).collect().item() for p in paths)}
        note = (f"map.step=buckets part {step.part} of {step.parts}: buckets {counts['buckets']} built and scored "
                f"into the cache ({report.cache_misses if report else 0} texts scored); next a run with "
                "map.step=all for the tables")
    outputs = ["rejects.csv"] if (run.directory / "rejects.csv").is_file() else []
    return run.manifest(files=files, counts=counts, scorer=report, outputs=outputs, note=note)


def shard_manifest(run: Run, store: CorpusStore, rejects: pl.DataFrame, report: ScoreReport) -> dict:
    """The manifest of a scorer shard's run: its texts are in the cache; the analyses wait for the merge."""
    sc = run.settings.scorer
    shard = report.extra.get("shard", {})
    counts = {"rows_in": store.meta["rows"] + rejects.height, "rows_kept": store.meta["rows"],
              "rows_rejected": rejects.height, "texts_in_shard": shard.get("selected")}
    note = (f"shard {sc.shard} of {sc.num_shards}: {report.cache_misses} texts scored into the cache "
            f"({report.cache_hits} were cached already); run again without scorer.shard to merge them and run "
            "the analyses")
    return run.manifest(files=store.meta["files"], counts=counts, scorer=report, outputs=["rejects.csv"], note=note)


def analyse(run: Run, store: CorpusStore, rejects: pl.DataFrame, buckets: list[Path],
            reports: list[ScoreReport]) -> dict:
    """The analyses over the scored buckets, their tables and figures, and the run's full manifest."""
    a, report = run.settings.analysis, reports[0]
    labels = [label for r in reports for label in r.labels]
    if a.label not in labels:
        raise ConfigError("analysis.label", f"{a.label!r} is not a score of scorer {report.scorer!r} "
                          f"(the scorers give {', '.join(labels)}); pick one of those")
    counts = corpus_counts(buckets, a.label)
    n_scored = counts.pop("scored")
    caption = " + ".join(r.caption() for r in reports)
    warning = small_sample_warning(counts["threads"])
    footer = " · ".join(p for p in (f"Scorer: {caption}", f"label: {a.label}", f"n = {n_scored} scored comments",
                                    warning, run.settings.experiment) if p)
    with run.timer.stage("analyses"):
        outputs, skipped = run_analyses(Corpus(tuple(buckets)), a, run.settings.plot, run.directory, footer, labels,
                                        run.settings.scorer, note=warning,
                                        identities={lab: r.identity for r in reports for lab in r.labels})
    counts = {"rows_in": counts["rows_kept"] + rejects.height, **counts, "rows_rejected": rejects.height,
              "orphans": store.meta["orphans"], "in_cycles": store.meta["in_cycles"]}
    written = sorted(str(o.relative_to(run.directory)) for o in outputs) + ["comments.parquet", "rejects.csv"]
    manifest = run.manifest(
        files=store.meta["files"], counts=counts, scorer=report, outputs=written,
        loader_stats=store.meta["loader_stats"], store={"path": str(store.root), "buckets": store.n_buckets},
        extra_scorers=[asdict(r) for r in reports[1:]],
        scorer_cards=[card_for(r.identity, run.settings.scorer.calibration) for r in reports]
        + further_cards(a, run.settings.scorer),
        skipped=skipped, **({"warnings": [warning]} if warning else {}),
        **({"verdict": verdict(pl.read_csv(path))} if (path := run.directory / "tables" / "robustness.csv").is_file()
           else {}))
    log.info("run directory: %s (scorer %s, %d cache hits, %d misses)", run.directory, report.scorer,
             report.cache_hits, report.cache_misses)
    return manifest


def small_sample_warning(threads: int) -> str:
    """The warning tables and captions carry when fewer than ``SMALL_SAMPLE_THREADS`` threads have comments
    (thread-bootstrap intervals and tests rest on the threads).

    >>> small_sample_warning(3)
    'small sample: 3 threads (< 20): intervals and tests are unreliable'
    >>> small_sample_warning(20)
    ''
    """
    if threads >= SMALL_SAMPLE_THREADS:
        return ""
    return (f"small sample: {threads} thread{'' if threads == 1 else 's'} (< {SMALL_SAMPLE_THREADS}): intervals and "
            "tests are unreliable")


def run_scorers(settings: RunSettings) -> list[ScorerSettings]:
    """The run's scorer, then ``extra_scorers``."""
    return [settings.scorer, *(scorer_spec(e, "extra_scorers", settings.scorer) for e in settings.extra_scorers)]


def corpus_counts(buckets: list[Path], label: str) -> dict[str, Any]:
    """The manifest's row counts over the scored buckets, summed bucket by bucket (threads never span two; a
    corpus with no bucket counts nothing)."""
    totals: dict[str, Any] = {}
    structure: dict[str, int] = {}
    for path in buckets:
        part = pl.read_parquet(path, columns=["thread_id", "is_post", "removed", "deleted", "text", "structure", label])
        counts = part.select(
            pl.len().alias("rows_kept"), pl.col("thread_id").n_unique().alias("threads"),
            pl.col("is_post").sum().alias("posts"), is_comment().sum().alias("comments"),
            pl.col("removed").fill_null(False).sum().alias("removed"),
            pl.col("deleted").fill_null(False).sum().alias("deleted"), pl.col("text").is_null().sum().alias("null_text"),
            pl.col(label).filter(is_comment()).is_not_null().sum().alias("scored"),
        ).row(0, named=True)
        for key, value in counts.items():
            totals[key] = totals.get(key, 0) + int(value)
        for key, value in part["structure"].value_counts().iter_rows():
            structure[str(key)] = structure.get(str(key), 0) + int(value)
    return {**totals, "structure": structure}


def run_analyses(data: Frames, a: AnalysisSettings, plot: PlotSettings, run_dir: Path, footer: str,
                 labels: list[str], scorer: ScorerSettings | None = None, note: str = "",
                 identities: dict[str, dict[str, str]] | None = None) -> tuple[list[Path], dict[str, str]]:
    """Run ``a.run`` on the scored frame, or a corpus of scored buckets (whose scorers wrote ``labels``); write
    their tables (``tables/``) and figures (``figures/``). A bucketed analysis is handed the buckets with the
    columns it reads (``columns_for``); the others share one frame of the columns they read, collected once
    and put back in input order. scorer_agreement's further scorers are run here, sharing ``scorer``'s cache.
    ``note`` (e.g. a small-sample warning) goes under every table's Markdown and LaTeX; ``identities``: each
    label's scorer identity (for outputs that record which scorer they describe). An analysis' other files
    (``AnalysisOutput.files``) are written under ``run_dir`` as they are.

    Returns the paths written and ``{analysis: reason}`` for every analysis (or part of one) left out
    because it cannot apply to the data; each such reason is logged in one line.
    """
    fig_options = {"style": plot.style, "width": plot.width, "formats": tuple(plot.formats), "dpi": plot.dpi}
    corpus = data if isinstance(data, Corpus) else Corpus((data,))
    status: list[dict[str, Any]] = []
    frame = None
    collected = [n for n in a.run if not ANALYSES[n].bucketed]
    if collected:
        columns = columns_for(collected, corpus.schema, a.params)
        frame = pl.concat(list(corpus.select(columns).buckets())).sort(
            "source_position", "thread_id", maintain_order=True, nulls_last=True)  # input order, whatever the buckets
        if "scorer_agreement" in a.run and (o := a.params.scorer_agreement).scorers:
            frame, status = with_sample_scores(frame, lambda f: sample_comments(f, o.max_comments, a.seed), o.scorers,
                                               scorer or ScorerSettings())  # the analysis draws the same sample
    further: dict[str, tuple[Corpus, list[dict[str, Any]]]] = {}  # by analysis: its data, its scorers' status
    if "robustness" in a.run:  # its further scorers' columns, added to (a copy of) the buckets
        further["robustness"] = with_further_scores(corpus, a.params.robustness.scorers, scorer or ScorerSettings(),
                                                    run_dir / ".buckets" / "robustness")
    outputs: list[Path] = []
    skipped: dict[str, str] = {}
    for name in a.run:
        analysis = ANALYSES[name]
        data, scorers = further.get(name, (corpus, status))
        ctx = AnalysisContext(label=a.label, threshold=a.threshold, n_boot=a.n_boot, seed=a.seed, footer=footer,
                              params=a.params, labels=labels, identities=dict(identities or {}), scorers=scorers)
        result = analysis(data.select(columns_for([name], data.schema, a.params)) if analysis.bucketed
                          else frame, ctx)
        if result.skipped:
            log.info("%s skipped: %s", name, result.skipped)
            skipped[name] = result.skipped
        for table_name, table in result.tables.items():
            outputs += write_table(table, run_dir / "tables", table_name, note=note)
        for spec, table in result.figures:
            outputs += save_figure(table, spec, run_dir / "figures", **fig_options)
        outputs += [write_file(run_dir, relative, contents) for relative, contents in result.files.items()]
    shutil.rmtree(run_dir / ".buckets" / "robustness", ignore_errors=True)
    return outputs, skipped


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
    lines += [manifest["verdict"]] if manifest.get("verdict") else []
    return "\n".join([*lines, f"run directory: {run_dir}"])
