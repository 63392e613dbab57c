"""A dataset into a corpus store: the one way in (:func:`open_corpus`), and the units a map step ingests.

A format listed in ``toolkit.io.STREAMED`` streams into the buckets (memory: a few chunks) and finishes whole
threads bucket by bucket; any other format is one unit, loaded whole, then bucketed (its loader settles
repeats across files).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from toolkit.io import STREAMED, Rejects, Streamed, detect_format, expand_paths, load_source
from toolkit.io.stream import pushed_chunks
from toolkit.store.corpus import CorpusStore, StoreBuild, bucket_count, read_store, store_directory

if TYPE_CHECKING:  # settings import the analyses, which import the store
    from toolkit.settings import DatasetSettings

CHUNK_ROWS = 200_000  # rows of a loaded frame handed to the store at a time


@dataclass
class CorpusSource:
    """How a dataset becomes a corpus store (:class:`StoreBuild`): its ingest units and the loader's steps
    per unit and per bucket. A streamed format (``toolkit.io.STREAMED``) has one unit per input path when it
    says so (a glob's monthly files ingest in parallel); other formats are one unit."""

    dataset: DatasetSettings
    format: str  # the format name (given or detected)
    units: list[Path]
    streamed: Streamed | None
    build: StoreBuild
    meta: dict[str, Any]  # what the sealed store's meta.json says of its inputs

    @classmethod
    def of(cls, dataset: DatasetSettings, data_path: Path, cache_dir: Path) -> CorpusSource:
        options = dict(dataset.options)
        name = dataset.format or detect_format(data_path)
        streamed = STREAMED.get(name)
        units = expand_paths(data_path) if streamed and streamed.per_file(options) else [data_path]
        key = {"format": dataset.format, "strict": dataset.strict, **options}
        n = dataset.buckets or bucket_count([data_path], dataset.bucket_mb << 20)
        directory = store_directory([data_path], key, n, cache_dir)
        return cls(dataset, name, units, streamed, StoreBuild(directory, n, len(units)),
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
                options.update(self.streamed.unit_options(self.units))
                span = 0  # source positions this unit used: the next unit's start, so stream order holds
                for chunk in pushed_chunks(lambda sink: keep(load_source(self.units[unit], self.format, sink=sink, **options))):
                    span = max(span, (chunk["source_position"].max() or 0) + 1)
                    meta["positions"] = span
                    yield chunk
                return
            loaded = load_source(self.units[unit], self.dataset.format, **options)
            keep(loaded)
            for start in range(0, max(loaded.frame.height, 1), CHUNK_ROWS):
                yield loaded.frame.slice(start, CHUNK_ROWS)

        self.build.ingest(unit, chunks(), lambda: meta, lambda: tables)

    def thread_step(self, bucket: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any], pl.DataFrame | None]:
        """A streamed format's whole-thread steps on one bucket: each unit's file indices and source positions
        follow the previous units', as if the inputs were one stream."""
        assert self.streamed is not None
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
        frame = self.streamed.finish(bucket, files, later, dict(self.dataset.options), stats)
        stats.update(rows_kept=frame.height, posts=int(frame["is_post"].sum()), rows_rejected=len(later.rows))
        return frame, stats, later.frame() if later.rows else None

    def finish_bucket(self, bucket: int) -> None:
        """Build one bucket's threads (tree columns; a streamed format's whole-thread steps first)."""
        self.build.finish(bucket, self.thread_step if self.streamed else None)

    def open(self) -> CorpusStore:
        """The store: reused when sealed before (by this or another process), else built (:meth:`store`)."""
        try:
            return read_store(self.build.directory) or self.store()
        except OSError:
            found = read_store(self.build.directory)  # sealed meanwhile by another process (parallel runs)
            if found is None:
                raise
            return found

    def store(self) -> CorpusStore:
        """The sealed store: units not ingested and buckets not finished yet are done here."""
        for unit in self.build.missing_units():
            self.ingest(unit)
        return self.build.seal(self.meta, self.thread_step if self.streamed else None)


def open_corpus(dataset: DatasetSettings, data_path: Path, cache_dir: Path) -> CorpusStore:
    """The corpus store of the dataset (thread buckets with tree columns): reused from ``cache_dir`` when built
    before from the same inputs and options, else built (see :class:`CorpusSource`). The loader's rejects are
    kept with it (``store.table("rejects")``), its counts in ``store.meta``.

    >>> import tempfile
    >>> from toolkit.settings import DatasetSettings
    >>> store = open_corpus(DatasetSettings(), Path("data/seed_thread.txt"), Path(tempfile.mkdtemp()))
    >>> store.n_buckets, store.meta["rows"]
    (1, 13)
    """
    return CorpusSource.of(dataset, data_path, cache_dir).open()
