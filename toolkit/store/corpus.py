"""A corpus store: the canonical frame as B hive-partitioned Parquet buckets, each holding whole threads.

Rows go to bucket ``crc32(thread_id) % B`` (a fixed algorithm, unlike Polars' ``hash``, so a store written
by one version reads the same under another), hence every thread lives whole in one bucket even when its
comments span several input files. Repeated comment ids are settled per bucket, where all their versions
meet (the last one streamed wins), then the tree columns are computed bucket by bucket. A store is keyed
by its inputs' identity (path, size, mtime) and the loader options, like the score cache, and reused.

Layout: ``<cache>/corpus/<key>/bucket=<b>/data.parquet`` plus ``meta.json``; written into a temporary
sibling directory and renamed into place when complete, so a killed run never leaves a half store.
"""

from __future__ import annotations

import glob
import hashlib
import json
import math
import os
import shutil
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.errors import ConfigError
from toolkit.threads import build_tree, dedupe_comments

BUCKET = "bucket"
META = "meta.json"
BUCKET_BYTES = 64 << 20  # raw input bytes per bucket by default: a bucket's frame stays ~100 MB
FLUSH_ROWS = 200_000  # rows buffered across buckets before their parts are written
# Bytes of raw text per byte on disk, to size buckets from compressed inputs (synthetic dumps: zst ~12x).
EXPANSION = {".zst": 10, ".gz": 5, ".bz2": 6, ".xz": 8}


def bucket_count(paths: Iterable[str | os.PathLike[str]], bucket_bytes: int = BUCKET_BYTES) -> int:
    """How many buckets inputs need so that one holds about ``bucket_bytes`` of raw input (at least 1).

    >>> bucket_count([], 1 << 20)
    1
    """
    if bucket_bytes < 1:
        raise ConfigError("dataset.bucket_bytes", f"must be positive, got {bucket_bytes}")
    total = sum(f.stat().st_size * EXPANSION.get(f.suffix, 1) for f in input_files(paths))
    return max(1, math.ceil(total / bucket_bytes))


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


@dataclass(frozen=True)
class CorpusStore:
    """An opened store: its directory, bucket count and the counts written at build time (``meta``)."""

    root: Path
    n_buckets: int
    meta: dict[str, Any]

    def bucket_paths(self) -> list[Path]:
        """The bucket files in bucket order (empty buckets have none)."""
        return sorted(self.root.glob(f"{BUCKET}=*/data.parquet"), key=lambda p: int(p.parent.name.split("=")[1]))

    def buckets(self, columns: list[str] | None = None) -> Iterator[pl.DataFrame]:
        """Each non-empty bucket's frame (tree columns included), one at a time."""
        for path in self.bucket_paths():
            yield pl.read_parquet(path, columns=columns)

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


Finish = Callable[[pl.DataFrame], pl.DataFrame]


def _finish_bucket(folder: Path, finish: Finish | None) -> dict[str, int]:
    """Merge a bucket's parts in stream order, ``finish`` them (a loader's whole-thread steps), keep the last
    version of each repeated comment, add the tree columns, write ``data.parquet``; returns its counts."""
    parts = sorted(folder.glob("part-*.parquet"))
    frame = pl.concat([pl.read_parquet(p) for p in parts], how="vertical")
    frame, superseded = dedupe_comments(finish(frame) if finish else frame)
    tree = build_tree(frame)
    tree.frame.write_parquet(folder / "data.parquet")
    for part in parts:
        part.unlink()
    return {"rows": tree.frame.height, "duplicates": superseded.height, "orphans": tree.n_orphans,
            "in_cycles": tree.n_in_cycles, "threads": tree.frame["thread_id"].n_unique()}


def write_store(chunks: Iterable[pl.DataFrame], directory: str | os.PathLike[str], n_buckets: int,
                meta: dict[str, Any] | None = None, tables: dict[str, pl.DataFrame] | None = None,
                finish: Finish | None = None) -> CorpusStore:
    """Stream canonical frame ``chunks`` into a new store at ``directory`` (a complete store already there,
    written meanwhile by another process from the same inputs, is kept and returned). ``meta``
    (JSON) and ``tables`` (e.g. the loader's rejects, read back with :meth:`CorpusStore.table`) are saved
    with it; both are read once the chunks are consumed, so the loader may fill them as it streams.
    ``finish``: the loader's steps that need whole threads (e.g. the newest of repeated ids), per bucket.

    >>> import tempfile
    >>> from toolkit.analysis.synthetic import random_threads
    >>> frame = random_threads(5, seed=1)  # 121 rows in 5 threads
    >>> store = write_store([frame.head(60), frame.tail(61)], Path(tempfile.mkdtemp()) / "s", 2)
    >>> store.meta["rows"], store.meta["threads"], store.scan().select(pl.len()).collect().item()
    (121, 5, 121)
    """
    directory = Path(directory)
    if n_buckets < 1:
        raise ConfigError("dataset.buckets", f"must be at least 1, got {n_buckets}")
    work = directory.with_name(f".{directory.name}.tmp-{uuid.uuid4().hex[:8]}")
    work.mkdir(parents=True)
    try:
        rows_in = _write_parts(chunks, work, n_buckets)
        counts = [_finish_bucket(folder, finish) for folder in sorted(work.glob(f"{BUCKET}=*"))]
        totals = {k: sum(c[k] for c in counts) for k in ("rows", "duplicates", "orphans", "in_cycles", "threads")}
        info = {**(meta or {}), "n_buckets": n_buckets, "rows_in": rows_in, **totals}
        for name, table in (tables or {}).items():
            table.write_parquet(work / f"{name}.parquet")
        (work / META).write_text(json.dumps(info, indent=1, default=str))
        if directory.exists() and read_store(directory) is None:
            shutil.rmtree(directory)  # an incomplete store (older layout): ours replaces it
        os.replace(work, directory)
    except OSError:
        found = read_store(directory)  # another process put the same store there first: use that one
        shutil.rmtree(work, ignore_errors=True)
        if found is None:
            raise
        return found
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return CorpusStore(directory, n_buckets, info)


def read_store(directory: str | os.PathLike[str]) -> CorpusStore | None:
    """The complete store at ``directory``, or None when there is none."""
    meta_path = Path(directory) / META
    if not meta_path.is_file():
        return None
    meta = json.loads(meta_path.read_text())
    return CorpusStore(Path(directory), int(meta["n_buckets"]), meta)


def open_store(paths: list[str | os.PathLike[str]], options: dict[str, Any],
               chunks: Callable[[], Iterable[pl.DataFrame]], cache_dir: str | os.PathLike[str],
               n_buckets: int | None = None, bucket_bytes: int = BUCKET_BYTES, meta: dict[str, Any] | None = None,
               tables: dict[str, pl.DataFrame] | None = None, finish: Finish | None = None) -> CorpusStore:
    """The store of ``paths`` read with ``options``: reused from ``<cache_dir>/corpus/<key>`` when built
    before, else built from ``chunks()`` (canonical frames, streamed once). ``n_buckets`` defaults to
    :func:`bucket_count` of the inputs; it is part of the key. ``meta``, ``tables``, ``finish``: as in
    :func:`write_store`.

    >>> import tempfile
    >>> from toolkit.analysis.synthetic import random_threads
    >>> cache = tempfile.mkdtemp()
    >>> first = open_store([], {"format": "x"}, lambda: [random_threads(5, seed=1)], cache)
    >>> open_store([], {"format": "x"}, lambda: [], cache).meta["rows"]  # reused: chunks not read again
    121
    """
    n = n_buckets or bucket_count(paths, bucket_bytes)
    key = store_key(paths, {**options, "n_buckets": n})
    directory = Path(cache_dir).expanduser() / "corpus" / key
    found = read_store(directory)
    if found is not None:
        return found
    info = meta if meta is not None else {}
    info.update(inputs=[str(p) for p in paths], options=options)
    return write_store(chunks(), directory, n, info, tables, finish)
