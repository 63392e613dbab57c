"""A corpus store: the canonical frame as B hive-partitioned Parquet buckets, each holding whole threads.

Rows go to bucket ``crc32(thread_id) % B`` (a fixed algorithm, unlike Polars' ``hash``, so a store written
by one version reads the same under another), hence every thread lives whole in one bucket even when its
comments span several input files. Repeated comment ids are settled per bucket, where all their versions
meet (the last one streamed wins), then the tree columns are computed bucket by bucket. A store is keyed
by its inputs' identity (path, size, mtime) and the loader options, like the score cache, and reused.

Layout: ``<cache>/corpus/<key>/bucket=<b>/data.parquet`` plus ``meta.json`` and ``rejects.parquet``. It is
built in ``<key>.build/`` (see :class:`StoreBuild`: ingest units, then buckets, each step complete or absent,
so several jobs can share the work and a killed one is run again) and renamed into place when sealed, so a
reader never sees a half store.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import hashlib
import json
import math
import os
import shutil
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.errors import ConfigError
from toolkit.schema import REJECTS_SCHEMA
from toolkit.threads import build_tree, dedupe_comments

BUCKET = "bucket"
META = "meta.json"
BUCKET_BYTES = 64 << 20  # raw input bytes per bucket by default: a bucket's frame stays ~100 MB
FLUSH_ROWS = 200_000  # rows buffered across buckets before their parts are written
# Bytes of raw text per byte on disk, to size buckets from compressed inputs (synthetic dumps: zst ~12x).
EXPANSION = {".zst": 10, ".gz": 5, ".bz2": 6, ".xz": 8}


def bucket_count(paths: Iterable[str | os.PathLike[str]], bucket_bytes: int = BUCKET_BYTES) -> int:
    """How many buckets inputs need so that one holds about ``bucket_bytes`` of raw input (at least 1;
    ``dataset.bucket_mb`` MB in a run).

    >>> bucket_count([], 1 << 20)
    1
    """
    if bucket_bytes < 1:
        raise ConfigError("dataset.bucket_mb", f"must be positive, got {bucket_bytes / (1 << 20):g} MB")
    total = sum(f.stat().st_size * EXPANSION.get(f.suffix, 1) for f in input_files(paths))
    return max(1, math.ceil(total / bucket_bytes))


def bucket_path(root: Path, bucket: int) -> Path:
    """Where bucket ``bucket``'s finished rows live under a store (or build) directory ``root``.

    >>> bucket_path(Path("s"), 3), bucket_number(bucket_path(Path("s"), 3))
    (PosixPath('s/bucket=3/data.parquet'), 3)
    """
    return root / f"{BUCKET}={bucket}" / "data.parquet"


def bucket_number(path: Path) -> int:
    """The bucket of a path made by :func:`bucket_path`."""
    return int(path.parent.name.split("=")[1])


def input_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files behind ``paths``: a file itself, a directory's files (recursively), a glob pattern's
    matches; sorted, missing ones left out (the loader reports them).

    >>> input_files(["no/such/file.txt"])
    []
    """
    found: set[Path] = set()
    for path in map(Path, paths):
        for match in [path] if path.exists() else map(Path, glob.glob(str(path))):
            found.update(f for f in match.rglob("*") if f.is_file()) if match.is_dir() else found.add(match)
    return sorted(found)


def bucket_of(thread_ids: pl.Series, n_buckets: int) -> pl.Series:
    """The bucket (0..n_buckets-1) of each thread id: crc32 of its UTF-8 bytes mod ``n_buckets``; stable
    across Polars and Python versions. A null thread id goes to bucket 0.

    >>> bucket_of(pl.Series(["t1", "t2", "t1", None]), 4).to_list()
    [3, 1, 3, 0]
    """
    distinct = thread_ids.drop_nulls().unique()
    table = {t: zlib.crc32(t.encode("utf-8")) % n_buckets for t in distinct.to_list()}
    return thread_ids.replace_strict(table, default=0, return_dtype=pl.Int32).alias(BUCKET)


def store_key(paths: Iterable[str | os.PathLike[str]], options: dict[str, Any]) -> str:
    """The store's directory name: a hash of the paths as given, each input file's (path, size, mtime) (see
    :func:`input_files`) and the loader options.

    >>> len(store_key([], {"format": "text"}))
    32
    """
    ident = [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in input_files(paths)]
    blob = json.dumps({"inputs": ident, "paths": [str(p) for p in paths], "options": options}, sort_keys=True,
                      default=str)
    return hashlib.blake2b(blob.encode("utf-8"), digest_size=16).hexdigest()


def store_directory(paths: Iterable[str | os.PathLike[str]], options: dict[str, Any], n_buckets: int,
                    cache_dir: str | os.PathLike[str]) -> Path:
    """Where the store of ``paths`` read with ``options`` into ``n_buckets`` lives: ``<cache_dir>/corpus/<key>``
    (see :func:`store_key`).

    >>> store_directory([], {"format": "text"}, 2, "/c").parent
    PosixPath('/c/corpus')
    """
    return Path(cache_dir).expanduser() / "corpus" / store_key(paths, {**options, "n_buckets": n_buckets})


@dataclass(frozen=True)
class Corpus:
    """Buckets of whole threads (a store's parquet files, or frames in memory), handed out with only the
    ``columns`` an analysis reads (None: all). Threads never span two buckets, so per-thread parts add up.

    Example:
        >>> frame = pl.DataFrame({"thread_id": ["a", "a", "b"], "comment_id": ["a", "a1", "b"]})
        >>> corpus = Corpus((frame.head(2), frame.tail(1)), ("comment_id",))
        >>> [b.width for b in corpus.buckets()], corpus.schema
        ([1, 1], Schema([('comment_id', String)]))
    """

    parts: tuple[Path | pl.DataFrame, ...]
    columns: tuple[str, ...] | None = None

    def buckets(self) -> Iterator[pl.DataFrame]:
        """Each bucket, read with the corpus' columns."""
        for part in self.parts:
            if isinstance(part, pl.DataFrame):
                yield part if self.columns is None else part.select(self.columns)
            else:
                yield pl.read_parquet(part, columns=None if self.columns is None else list(self.columns))

    @property
    def schema(self) -> pl.Schema:
        """The columns handed out and their types (every bucket has the same)."""
        first = self.parts[0]
        schema = first.schema if isinstance(first, pl.DataFrame) else pl.read_parquet_schema(first)
        return pl.Schema({c: schema[c] for c in (self.columns or schema)})

    def select(self, columns: Sequence[str]) -> Corpus:
        """The same buckets with only ``columns``."""
        return Corpus(self.parts, tuple(columns))


@dataclass(frozen=True)
class CorpusStore:
    """An opened store: its directory, bucket count and the counts written at build time (``meta``)."""

    root: Path
    n_buckets: int
    meta: dict[str, Any]

    def bucket_paths(self) -> list[Path]:
        """The bucket files in bucket order (empty buckets have none)."""
        return sorted(self.root.glob(f"{BUCKET}=*/data.parquet"), key=bucket_number)

    def buckets(self, columns: list[str] | None = None) -> Iterator[pl.DataFrame]:
        """Each non-empty bucket's frame (tree columns included), one at a time."""
        for path in self.bucket_paths():
            yield pl.read_parquet(path, columns=columns)

    def corpus(self, columns: Sequence[str] | None = None) -> Corpus:
        """The buckets as a :class:`Corpus` (what bucket-wise analyses take), read with ``columns``."""
        return Corpus(tuple(self.bucket_paths()), None if columns is None else tuple(columns))

    def scan(self) -> pl.LazyFrame:
        """All buckets as one lazy frame (the ``bucket`` column comes from the folder names)."""
        return pl.scan_parquet(self.root / f"{BUCKET}=*" / "data.parquet", hive_partitioning=True)

    def table(self, name: str) -> pl.DataFrame | None:
        """A side table saved with the store (``write_store(tables=...)``), or None."""
        path = self.root / f"{name}.parquet"
        return pl.read_parquet(path) if path.is_file() else None

    def frame(self) -> pl.DataFrame:
        """The whole corpus in memory, bucket by bucket (for notebooks on inputs that fit)."""
        frames = list(self.buckets())
        return pl.concat(frames, how="vertical") if frames else pl.DataFrame()


def _write_parts(chunks: Iterable[pl.DataFrame], directory: Path, n_buckets: int) -> int:
    """Partition each chunk by bucket; write buffered rows as ``bucket=<b>/part-<k>.parquet``. Returns rows."""
    buffered: dict[int, list[pl.DataFrame]] = {}
    pending = rows = flushes = 0
    empty: pl.DataFrame | None = None  # the columns, for a store of no rows (one empty bucket)

    def flush() -> None:
        nonlocal pending, flushes
        for b, parts in buffered.items():
            folder = directory / f"{BUCKET}={b}"
            folder.mkdir(exist_ok=True)
            pl.concat(parts, how="vertical").write_parquet(folder / f"part-{flushes:06d}.parquet")
        buffered.clear()
        pending, flushes = 0, flushes + 1

    for chunk in chunks:
        empty = chunk.clear() if empty is None else empty
        if chunk.height == 0:
            continue
        keyed = chunk.with_columns(bucket_of(chunk["thread_id"], n_buckets))
        for (b,), part in keyed.partition_by(BUCKET, as_dict=True, include_key=False).items():
            buffered.setdefault(int(b), []).append(part)
        pending += chunk.height
        rows += chunk.height
        if pending >= FLUSH_ROWS:
            flush()
    if rows == 0 and empty is not None:
        buffered[0] = [empty]
    flush()
    return rows


# A loader's steps that need whole threads, run per bucket: (the bucket's rows in stream order, with ``_unit``:
# the ingest unit each came from) -> (rows, counts to add to the loader's stats, further rejects or None).
ThreadStep = Callable[[pl.DataFrame], tuple[pl.DataFrame, dict[str, Any], pl.DataFrame | None]]
UNIT = "unit"


def merge_stats(*stats: dict[str, Any]) -> dict[str, Any]:
    """Loader counts added up: numbers summed, lists joined, anything else kept from the first.

    >>> merge_stats({"rows": 2, "files": ["a"], "kind": "x"}, {"rows": 3, "files": ["b"], "kind": "y"})
    {'rows': 5, 'files': ['a', 'b'], 'kind': 'x'}
    """
    out: dict[str, Any] = {}
    for part in stats:
        for key, value in part.items():
            if key not in out:
                out[key] = list(value) if isinstance(value, list) else value
            elif isinstance(value, list):
                out[key] = [*out[key], *value]
            elif isinstance(value, int | float) and not isinstance(value, bool):
                out[key] += value
    return out


@dataclass(frozen=True)
class StoreBuild:
    """A store being built, possibly by several jobs at once (see ``MapSettings``): ``<store>.build/`` beside
    where the store goes. Each ingest unit (an input path) streams into ``unit=<u>/bucket=<b>/part-*.parquet``
    (complete once its ``meta.json`` is there); each bucket is then finished (merged in stream order, the
    loader's ``thread_step``, repeated ids settled, tree columns) into ``bucket=<b>/data.parquet``;
    :meth:`seal` sums the counts and renames the directory into the store. Every step is skipped when already done, so
    a killed job is simply run again.
    """

    directory: Path
    n_buckets: int
    n_units: int = 1

    def __post_init__(self) -> None:
        if self.n_buckets < 1:
            raise ConfigError("dataset.buckets", f"must be at least 1, got {self.n_buckets}")

    @property
    def root(self) -> Path:
        """The build directory."""
        return self.directory.with_name(f"{self.directory.name}.build")

    def unit_meta(self, unit: int) -> dict[str, Any] | None:
        """What an ingested unit's loader reported (``rows_in``, ``meta``), or None when not ingested yet."""
        path = self.root / f"{UNIT}={unit}" / META
        return json.loads(path.read_text()) if path.is_file() else None

    def missing_units(self) -> list[int]:
        """The units not ingested yet."""
        return [u for u in range(self.n_units) if self.unit_meta(u) is None]

    def ingest(self, unit: int, chunks: Iterable[pl.DataFrame], meta: Callable[[], dict[str, Any]],
               tables: Callable[[], dict[str, pl.DataFrame]]) -> None:
        """Stream one unit's canonical ``chunks`` into its bucket parts; ``meta()`` (JSON) and ``tables()`` are
        read once the chunks are consumed (the loader fills them as it streams). Done once per unit."""
        target = self.root / f"{UNIT}={unit}"
        if self.unit_meta(unit) is not None:
            return
        work = _scratch(target)
        try:
            rows = _write_parts(chunks, work, self.n_buckets)
            for name, table in tables().items():
                table.write_parquet(work / f"{name}.parquet")
            (work / META).write_text(json.dumps({"rows_in": rows, "meta": meta()}, indent=1, default=str))
            _publish(work, target, lambda: self.unit_meta(unit) is not None)
        finally:
            shutil.rmtree(work, ignore_errors=True)  # failed, or another process published the unit first
            with contextlib.suppress(OSError):
                self.root.rmdir()  # only when empty: a failed first unit leaves nothing behind

    def bucket_numbers(self) -> list[int]:
        """The buckets some unit wrote rows to (all units ingested); an empty input has one empty bucket 0."""
        missing = self.missing_units()
        if missing:
            raise ConfigError("map.step", f"input units {missing} of {self.n_units} of {self.directory.name} are not "
                              "ingested yet: run map.step=ingest for them first (or map.step=all)")
        return sorted({int(d.name.split("=")[1]) for d in self.root.glob(f"{UNIT}=*/{BUCKET}=*") if d.is_dir()})

    def finish(self, bucket: int, thread_step: ThreadStep | None = None) -> dict[str, Any]:
        """Finish one bucket (see the class); returns its counts. Done once per bucket."""
        target = self.root / f"{BUCKET}={bucket}"
        counts_path = target / "counts.json"
        if counts_path.is_file():
            return json.loads(counts_path.read_text())
        frames = [pl.read_parquet(part).with_columns(pl.lit(u, pl.Int32).alias("_unit")) for u in range(self.n_units)
                  for part in sorted((self.root / f"{UNIT}={u}" / f"{BUCKET}={bucket}").glob("part-*.parquet"))]
        frame = pl.concat(frames, how="vertical")
        added: dict[str, Any] = {}
        rejects = None
        if thread_step is not None:
            frame, added, rejects = thread_step(frame)
        frame, superseded = dedupe_comments(frame.drop("_unit", strict=False))
        if superseded.height:  # repeats the loader left (it settles its own): rejects, never a silent drop
            repeats = superseded.select(
                pl.lit(str(self.directory)).alias("file"), pl.lit(None, pl.Int64).alias("line"),
                pl.lit("comment_id").alias("field"),
                pl.format("comment {} of thread {}: repeated, superseded by its later row in the corpus store",
                          "comment_id", "thread_id").alias("reason")).cast(REJECTS_SCHEMA)
            rejects = repeats if rejects is None else pl.concat([rejects, repeats], how="vertical")
        tree = build_tree(frame)
        work = _scratch(target)
        try:
            tree.frame.write_parquet(work / "data.parquet")
            if rejects is not None and rejects.height:
                rejects.write_parquet(work / "rejects.parquet")
            counts = {"rows": tree.frame.height, "duplicates": superseded.height, "orphans": tree.n_orphans,
                      "in_cycles": tree.n_in_cycles, "threads": tree.frame["thread_id"].n_unique(), "added": added}
            (work / "counts.json").write_text(json.dumps(counts, default=str))
            _publish(work, target, counts_path.is_file)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return counts

    def seal(self, meta: dict[str, Any] | None = None, thread_step: ThreadStep | None = None) -> CorpusStore:
        """Finish the buckets not finished yet, write the store's ``meta.json`` (``meta`` plus the summed
        counts; ``loader_stats``: the units' plus what ``thread_step`` added) and side tables (``rejects``:
        the units' then the buckets', in file and line order), and rename the build into the store. One process
        seals at a time (a lock file beside the store); a store sealed meanwhile by another one is returned."""
        with open(self.directory.with_name(f"{self.directory.name}.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            return read_store(self.directory) or self._seal(meta, thread_step)

    def _seal(self, meta: dict[str, Any] | None, thread_step: ThreadStep | None) -> CorpusStore:
        numbers = self.bucket_numbers()
        counts = [self.finish(b, thread_step) for b in numbers]
        units = [self.unit_meta(u) or {} for u in range(self.n_units)]
        totals = {k: sum(c[k] for c in counts) for k in ("rows", "duplicates", "orphans", "in_cycles", "threads")}
        info = {**(meta or {}), "n_buckets": self.n_buckets, "rows_in": sum(u["rows_in"] for u in units), **totals}
        if any("loader_stats" in u["meta"] for u in units):
            info.update(loader_stats=merge_stats(*(u["meta"].get("loader_stats", {}) for u in units),
                                                 *(c["added"] for c in counts)),
                        files=[f for u in units for f in u["meta"].get("files", [])])
        rejects = [pl.read_parquet(p) for u in range(self.n_units)
                   if (p := self.root / f"{UNIT}={u}" / "rejects.parquet").is_file()]
        later = [pl.read_parquet(p) for b in numbers if (p := self.root / f"{BUCKET}={b}" / "rejects.parquet").is_file()]
        if rejects or later:
            table = pl.concat([*rejects, *later], how="vertical")
            table = table.sort("file", "line", maintain_order=True) if later else table  # the loader's order
            table.write_parquet(self.root / "rejects.parquet")
        (self.root / META).write_text(json.dumps(info, indent=1, default=str))
        for unit in range(self.n_units):
            shutil.rmtree(self.root / f"{UNIT}={unit}", ignore_errors=True)
        for b in numbers:
            (self.root / f"{BUCKET}={b}" / "counts.json").unlink(missing_ok=True)
            (self.root / f"{BUCKET}={b}" / "rejects.parquet").unlink(missing_ok=True)
        if self.directory.exists():
            shutil.rmtree(self.directory)  # an incomplete store (older layout): ours replaces it
        os.replace(self.root, self.directory)
        return CorpusStore(self.directory, self.n_buckets, info)


def _publish(work: Path, target: Path, done: Callable[[], bool]) -> None:
    """Rename the complete ``work`` into ``target``, unless another process published it first (kept)."""
    if done():
        return
    shutil.rmtree(target, ignore_errors=True)  # a leftover without its completion file
    try:
        os.replace(work, target)
    except OSError:
        if not done():
            raise


def _scratch(target: Path) -> Path:
    """A fresh temporary sibling of ``target``, renamed into place when complete."""
    work = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex[:8]}")
    work.mkdir(parents=True)
    return work


def write_store(chunks: Iterable[pl.DataFrame], directory: str | os.PathLike[str], n_buckets: int,
                meta: dict[str, Any] | None = None, tables: dict[str, pl.DataFrame] | None = None,
                thread_step: ThreadStep | None = None) -> CorpusStore:
    """Stream canonical frame ``chunks`` into a new store at ``directory``: one ingest unit, then every
    bucket finished and the store sealed (see :class:`StoreBuild`). ``meta`` (JSON) and ``tables`` (e.g. the
    loader's rejects, read back with :meth:`CorpusStore.table`) are saved with it; both are read once the
    chunks are consumed, so the loader may fill them as it streams.

    >>> import tempfile
    >>> from toolkit.analysis.synthetic import random_threads
    >>> frame = random_threads(5, seed=1)  # 121 rows in 5 threads
    >>> store = write_store([frame.head(60), frame.tail(61)], Path(tempfile.mkdtemp()) / "s", 2)
    >>> store.meta["rows"], store.meta["threads"], store.scan().select(pl.len()).collect().item()
    (121, 5, 121)
    """
    build = StoreBuild(Path(directory), n_buckets)
    build.root.mkdir(parents=True, exist_ok=True)
    build.ingest(0, chunks, lambda: meta or {}, lambda: tables or {})
    return build.seal(meta, thread_step)


def read_store(directory: str | os.PathLike[str]) -> CorpusStore | None:
    """The complete store at ``directory``, or None when there is none."""
    meta_path = Path(directory) / META
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    return CorpusStore(Path(directory), int(meta["n_buckets"]), meta)
