"""Persistent score cache: Parquet part files keyed by the scorer's identity and each text's hash.

Layout::

    <cache_dir>/<identity_key>/identity.json         the identity (and labels) this directory holds
    <cache_dir>/<identity_key>/part-<uuid>.parquet    columns: text_hash, then one Float64 per label
    <cache_dir>/<identity_key>/quarantine/            unreadable part files moved aside
    <cache_dir>/checkpoint_hashes.json                sha256 memo of local checkpoints (see file_sha256)

Every file is written to a temporary name in the same directory, flushed to disk and then atomically
renamed, so a reader never sees a partial file and several processes can add parts at once (each writes
its own uniquely named parts). A process killed mid-write leaves at most a hidden ``.part-*.tmp`` file,
which readers ignore and ``compact`` removes once stale. Part files are never rewritten, only added;
``compact`` (``toolkit-cache compact``) writes merged, de-duplicated parts (one per 250,000 texts, split by
hash, so it runs in bounded memory) before removing the parts it merged, under a lock so two compactions do
not race. A reader that finds a part gone (compacted meanwhile) lists the directory again and reads the new
parts. Several parts may hold the same text (two processes scored it at once): lookups keep one row per text.

A part that cannot be read (truncated, not Parquet, a column missing or of the wrong type) is moved to
``quarantine/`` with a warning; its texts then count as misses and are scored again.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.report import sha256_file

CACHE_ENV = "TOOLKIT_CACHE_DIR"
HASH_COLUMN = "text_hash"
HASH_MEMO = "checkpoint_hashes.json"
STALE_TMP_SECONDS = 3600  # temporary files older than this are left over from killed writers


def default_cache_dir() -> Path:
    """The score cache directory: ``$TOOLKIT_CACHE_DIR`` if set, else ``~/.cache/toolkit/scores``."""
    return Path(os.environ.get(CACHE_ENV) or "~/.cache/toolkit/scores").expanduser()


def resolve_cache_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    """``cache_dir`` as a Path, or the default one when None."""
    return default_cache_dir() if cache_dir is None else Path(cache_dir).expanduser()


def text_hash(text: str) -> str:
    """blake2b-128 hex digest of the UTF-8 text: the per-text cache key.

    >>> text_hash("hello")
    '46fb7408d4f285228f4af516ea25851b'
    """
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def files_digest(paths: Iterable[Path]) -> str:
    """sha256 (first 16 hex) over each file's name and bytes, in the order given: a scorer's bundled model
    files in its identity."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def identity_key(identity: dict[str, str]) -> str:
    """A readable, stable directory name for an identity: ``<name>-<model>-<16 hex of its hash>``.

    >>> identity_key({"name": "profanity", "model": "alt-profanity-check"})  # doctest: +ELLIPSIS
    'profanity-alt_profanity_check-...'
    """
    blob = json.dumps(identity, sort_keys=True, ensure_ascii=True).encode("utf-8")
    digest = hashlib.blake2b(blob, digest_size=8).hexdigest()
    parts = [identity.get("name", "scorer"), identity.get("model", "")]
    slug = "-".join(_slug(p) for p in parts if p)
    return f"{slug}-{digest}"


def _slug(value: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._" else "_" for c in value)
    return cleaned.strip("._")[:40] or "x"


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """``write(tmp)`` to a hidden temporary file beside ``path``, fsync it, then ``os.replace`` it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _write_json(path: Path, payload: Any, indent: int) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(payload, indent=indent, sort_keys=True), "utf-8"))


def empty_scores(labels: Sequence[str]) -> pl.DataFrame:
    """No scores, in a part file's columns: ``text_hash`` then one Float64 per label."""
    return pl.DataFrame(schema={HASH_COLUMN: pl.String(), **{label: pl.Float64() for label in labels}})


SCATTER_ROWS = 250_000  # rows gathered before they are scattered into partition files
COMPACT_ROWS = 250_000  # rows per merged part of a compaction, which holds one part's rows at a time


def shard_expr(hashes: pl.Expr, num_shards: int) -> pl.Expr:
    """The slice (0..num_shards-1) each text hash falls in: its first 16 hex digits modulo ``num_shards``;
    deterministic and evenly spread (shards, the partitions of a corpus' cache look-up and of a compaction).

    >>> pl.select(shard_expr(pl.lit(text_hash("hello")), 4)).item()
    2
    """
    number = hashes.str.slice(0, 16).str.to_integer(base=16, dtype=pl.UInt64, strict=False).fill_null(0)
    return (number % num_shards).cast(pl.Int64)  # a key that is not hex (made by hand) goes to slice 0


def row_count(paths: Iterable[Path]) -> int:
    """Rows of Parquet files, from their footers (an unreadable one counts 0: a size estimate)."""
    total = 0
    for path in paths:
        try:
            total += pl.scan_parquet(path).select(pl.len()).collect().item()
        except Exception:  # noqa: BLE001, S112 - whoever reads it quarantines it
            continue
    return total


def scatter_by_hash(tables: Iterable[pl.DataFrame], directory: Path, n_parts: int) -> int:
    """Write the rows of ``tables`` into ``n_parts`` partitions by text hash (``directory/p=<p>/<seq>.parquet``,
    see :func:`shard_expr`), keeping their order, ``SCATTER_ROWS`` at a time; returns the rows written.

    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> scatter_by_hash([pl.DataFrame({"text_hash": [text_hash("a"), text_hash("b")]})], folder, 2)
    2
    >>> sum(t.height for p in range(2) for t in read_partition(folder / f"p={p}"))
    2
    """
    pending: list[pl.DataFrame] = []
    rows, seq, total = 0, 0, 0
    for table in itertools.chain(tables, [None]):  # None: the end, flush
        if table is not None:
            pending.append(table)
            rows += table.height
        if pending and (table is None or rows >= SCATTER_ROWS):
            chunk = pl.concat(pending).with_columns(shard_expr(pl.col(HASH_COLUMN), n_parts).alias("_p"))
            for (p,), part in chunk.partition_by("_p", as_dict=True, include_key=False, maintain_order=True).items():
                (directory / f"p={p}").mkdir(parents=True, exist_ok=True)
                part.write_parquet(directory / f"p={p}" / f"{seq:08d}.parquet")
            total += rows
            pending, rows, seq = [], 0, seq + 1
    return total


def read_partition(directory: Path) -> list[pl.DataFrame]:
    """A partition's files (see :func:`scatter_by_hash`), in the order they were written."""
    return [pl.read_parquet(f) for f in sorted(directory.glob("*.parquet"))]


def one_per_text(tables: list[pl.DataFrame], labels: Sequence[str]) -> pl.DataFrame:
    """The complete rows of ``tables`` (part files' rows, in part order), the first one per text: several
    parts may hold the same text.

    >>> one_per_text([pl.DataFrame({"text_hash": ["a", "a"], "toxicity": [0.1, 0.2]})], ["toxicity"]).rows()
    [('a', 0.1)]
    """
    if not tables:
        return empty_scores(labels)
    return pl.concat(tables, how="vertical").drop_nulls().unique(subset=HASH_COLUMN, keep="first", maintain_order=True)


def file_sha256(path: str | os.PathLike[str], memo_dir: Path | None = None) -> str:
    """sha256 hex of a file, memoised by (absolute path, size, mtime) in ``memo_dir/checkpoint_hashes.json``.

    Hashing a 400 MB checkpoint takes about a second; the memo makes ``identity()`` free on later runs.
    The memo is only an optimisation: any problem reading or writing it just means hashing again.
    """
    sha = read_memo_entry(memo_dir, path).get("sha256")
    if isinstance(sha, str) and len(sha) == 64:
        return sha
    sha = sha256_file(Path(path).expanduser(), chunk=1 << 22)
    update_memo(memo_dir, path, {"sha256": sha})
    return sha


def read_memo_entry(memo_dir: Path | None, path: str | os.PathLike[str]) -> dict[str, Any]:
    """The memo entry for a file if it is still current (same size and mtime), else ``{}``."""
    real, stamp = _stamp(path)
    entry = _read_memo(memo_dir).get(str(real))
    if stamp is not None and isinstance(entry, dict) and all(entry.get(k) == v for k, v in stamp.items()):
        return entry
    return {}


def update_memo(memo_dir: Path | None, path: str | os.PathLike[str], values: dict[str, Any]) -> None:
    """Merge ``values`` into the memo entry of ``path`` (best effort; a stale entry is replaced)."""
    real, stamp = _stamp(path)
    if memo_dir is None or stamp is None:
        return
    memo = _read_memo(memo_dir)
    memo[str(real)] = {**(read_memo_entry(memo_dir, real) or stamp), **values}
    with contextlib.suppress(OSError):
        _write_json(memo_dir / HASH_MEMO, memo, indent=1)


def _stamp(path: str | os.PathLike[str]) -> tuple[Path, dict[str, int] | None]:
    """A file's resolved path and what says it is unchanged (size, mtime); None when it cannot be read."""
    real = Path(path).expanduser().resolve()
    try:
        stat = real.stat()
    except OSError:
        return real, None
    return real, {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}


def _read_memo(memo_dir: Path | None) -> dict[str, Any]:
    if memo_dir is None:
        return {}
    try:
        data = json.loads((memo_dir / HASH_MEMO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


class ScoreCache:
    """The cached scores of one scorer identity: look texts up by hash, add newly scored ones as parts."""

    def __init__(self, root: str | os.PathLike[str] | None, identity: dict[str, str], labels: Sequence[str]):
        self.root = resolve_cache_dir(root)
        self.identity = dict(identity)
        self.labels = list(labels)
        self.key = identity_key(self.identity)
        self.dir = self.root / self.key
        self.quarantined: list[Path] = []

    def schema(self) -> dict[str, pl.DataType]:
        """Columns of a part file."""
        return dict(empty_scores(self.labels).schema)

    def part_files(self) -> list[Path]:
        """The complete part files now present (temporary files are never listed)."""
        if not self.dir.is_dir():
            return []
        return sorted(self.dir.glob("part-*.parquet"))

    def _read_part(self, part: Path, keep: pl.Expr | None, batch_rows: int | None) -> Iterator[pl.DataFrame]:
        """A part's rows in the cache schema (filtered by ``keep``; in slices of ``batch_rows`` when given, so
        a compacted part of the whole cache need not fit in memory); nothing more once it proves unreadable
        (it is quarantined: slices already given stay valid rows).

        Raises FileNotFoundError when the part vanished (compacted by another process meanwhile).
        """
        try:
            scan = pl.scan_parquet(part)
            missing = [c for c in self.schema() if c not in scan.collect_schema().names()]
            if missing:
                raise ValueError(f"missing columns {missing}")
            scan = scan.select(pl.col(c).cast(t, strict=True) for c, t in self.schema().items())
            scan = scan.filter(keep) if keep is not None else scan
            if batch_rows is None:
                yield scan.collect()
                return
            rows = pl.scan_parquet(part).select(pl.len()).collect().item()
            for offset in range(0, rows, batch_rows):
                yield scan.slice(offset, batch_rows).collect()
        except FileNotFoundError:
            raise
        except Exception as exc:  # noqa: BLE001 - any unreadable part is quarantined, whatever the error
            if not part.exists():
                raise FileNotFoundError(part) from exc
            self._quarantine(part, exc)

    def rows(self, keep: pl.Expr | None = None, batch_rows: int | None = None) -> Iterator[tuple[Path, pl.DataFrame]]:
        """Every readable part's rows as ``(part, table)``, in part order (filtered by ``keep``, in slices of
        at most ``batch_rows``): one pass over the whole cache, whatever its size, in bounded memory.

        Parts that vanish while reading (another process compacted them into a new part) make us list the
        directory again and read the parts not seen yet, so no cached row is missed.

        >>> import tempfile
        >>> cache = ScoreCache(tempfile.mkdtemp(), {"name": "x"}, ["toxicity"])
        >>> _ = cache.write(pl.DataFrame({"text_hash": ["a", "b", "c"], "toxicity": [0.1, 0.2, 0.3]}))
        >>> [table.height for _, table in cache.rows(batch_rows=2)]
        [2, 1]
        """
        seen: set[Path] = set()
        while True:
            vanished = False
            for part in self.part_files():
                if part in seen:
                    continue
                seen.add(part)
                try:
                    yield from ((part, table) for table in self._read_part(part, keep, batch_rows))
                except FileNotFoundError:
                    vanished = True
            if not vanished:
                return

    def lookup(self, hashes: Iterable[str]) -> pl.DataFrame:
        """Cached rows (``text_hash`` + labels, one per hash) for those of ``hashes`` that are cached.

        A part file that cannot be read, or lacks a column, is moved to ``quarantine/`` with a warning, so
        its texts count as misses and get scored again.
        """
        wanted = pl.Series(HASH_COLUMN, list(hashes), dtype=pl.String())
        if wanted.len() == 0:
            return empty_scores(self.labels)
        return one_per_text([t for _, t in self.rows(pl.col(HASH_COLUMN).is_in(wanted.implode()))], self.labels)

    def write(self, scores: pl.DataFrame) -> Path | None:
        """Add one part file holding ``scores`` (``text_hash`` + label columns); returns its path.

        Written to a hidden temporary file, fsynced, then atomically renamed into place.
        """
        if scores.height == 0:
            return None
        table = scores.select(pl.col(c).cast(t) for c, t in self.schema().items())
        if not (self.dir / "identity.json").exists():
            _write_json(self.dir / "identity.json", {"key": self.key, "identity": self.identity, "labels": self.labels},
                        indent=2)
        path = self.dir / f"part-{uuid.uuid4().hex}.parquet"
        atomic_write(path, table.write_parquet)
        _fsync_dir(self.dir)
        return path

    def compact(self) -> dict[str, Any]:
        """Merge every readable part into parts of at most ``COMPACT_ROWS`` distinct texts (split by hash, so
        memory stays bounded whatever the cache's size), one row per text; remove stale temporary files.

        Safe while other processes read and write: the merged parts are in place before the merged parts are
        removed, parts added meanwhile are left alone, and a second compaction at the same time is skipped.
        """
        result: dict[str, Any] = {"key": self.key, "skipped": None, "parts_before": 0, "rows_before": 0,
                                  "entries": 0, "duplicates_removed": 0, "stale_tmp_removed": 0}
        if not self.dir.is_dir():
            return result
        with _exclusive_lock(self.dir / ".compact.lock") as locked:
            if not locked:
                result["skipped"] = "another compaction is running"
                return result
            read: list[Path] = []

            def tables() -> Iterator[pl.DataFrame]:
                for part, table in self.rows(batch_rows=COMPACT_ROWS):
                    if not read or read[-1] != part:
                        read.append(part)
                    yield table

            n_parts = max(1, -(-row_count(self.part_files()) // COMPACT_ROWS))
            with tempfile.TemporaryDirectory(prefix=".compact-", dir=self.dir) as tmp:
                rows = scatter_by_hash(tables(), Path(tmp) / "in", n_parts)
                merged: list[Path] = []
                for p in range(n_parts):
                    table = one_per_text(read_partition(Path(tmp) / "in" / f"p={p}"), self.labels)
                    result["entries"] += table.height
                    if table.height:
                        merged.append(Path(tmp) / f"merged-{p}.parquet")
                        table.write_parquet(merged[-1])
                result.update(parts_before=len(read), rows_before=rows, duplicates_removed=rows - result["entries"])
                if len(read) > n_parts or rows != result["entries"]:  # else it is compact already
                    for path in merged:  # one partition at a time
                        self.write(pl.read_parquet(path))
                    for part in read:
                        with contextlib.suppress(FileNotFoundError):
                            part.unlink()
                    _fsync_dir(self.dir)
            result["stale_tmp_removed"] = self._remove_stale_tmp()
        return result

    def _remove_stale_tmp(self, older_than: float = STALE_TMP_SECONDS) -> int:
        """Temporary files and compaction folders left by killed processes (older than ``older_than`` s)."""
        removed = 0
        now = time.time()
        for tmp in [*self.dir.glob(".part-*.tmp"), *self.dir.glob(".compact-*")]:
            with contextlib.suppress(OSError):
                if now - tmp.stat().st_mtime > older_than:
                    shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
                    removed += 1
        return removed

    def remove(self) -> None:
        """Delete this identity's cache (its directory: parts, quarantined and temporary files, identity.json):
        its texts are scored again by the next run. Not for a cache a running job is writing to.

        >>> import tempfile
        >>> cache = ScoreCache(tempfile.mkdtemp(), {"name": "x"}, ["toxicity"])
        >>> _ = cache.write(pl.DataFrame({"text_hash": ["a"], "toxicity": [0.1]}))
        >>> cache.remove(); cache.dir.exists(), list_caches(cache.root)
        (False, [])
        """
        shutil.rmtree(self.dir, ignore_errors=not self.dir.exists())

    def info(self) -> dict[str, Any]:
        """Parts, rows, distinct entries, bytes on disk, quarantined and temporary files (reads the hashes)."""
        parts = self.part_files()
        entries: set[str] = set()
        rows = 0
        for part in parts:
            with contextlib.suppress(Exception):
                hashes = pl.read_parquet(part, columns=[HASH_COLUMN])[HASH_COLUMN]
                rows += hashes.len()
                entries.update(hashes.drop_nulls().to_list())
        files = [p for p in self.dir.rglob("*") if p.is_file()]
        return {
            "key": self.key,
            "identity": self.identity,
            "labels": self.labels,
            "parts": len(parts),
            "rows": rows,
            "entries": len(entries),
            "bytes": sum(p.stat().st_size for p in files),
            "quarantined": len(list((self.dir / "quarantine").glob("*"))),  # none when the directory is not there
            "tmp_files": len(list(self.dir.glob(".part-*.tmp"))),
        }

    @classmethod
    def open_existing(cls, directory: Path) -> ScoreCache:
        """The cache of an existing identity directory (from its ``identity.json``)."""
        payload = json.loads((directory / "identity.json").read_text(encoding="utf-8"))
        cache = cls(directory.parent, payload["identity"], payload["labels"])
        if cache.dir != directory:  # a key computed differently: keep the directory we were given
            cache.dir, cache.key = directory, directory.name
        return cache

    def _quarantine(self, part: Path, exc: BaseException) -> None:
        qdir = self.dir / "quarantine"
        qdir.mkdir(parents=True, exist_ok=True)
        target = qdir / f"{part.name}.{uuid.uuid4().hex[:8]}"
        try:
            os.replace(part, target)
        except FileNotFoundError:
            return  # another process got there first
        self.quarantined.append(target)
        warnings.warn(
            f"score cache: unreadable part file {part} ({type(exc).__name__}: {exc}); "
            f"moved to {target}, its texts will be scored again",
            RuntimeWarning,
            stacklevel=3,
        )


def list_caches(root: str | os.PathLike[str] | None = None) -> list[ScoreCache]:
    """The identity directories under the cache root (those with an ``identity.json``).

    >>> import tempfile
    >>> list_caches(tempfile.mkdtemp())
    []
    """
    out = []
    for directory in sorted(p.parent for p in resolve_cache_dir(root).glob("*/identity.json") if p.is_file()):
        with contextlib.suppress(OSError, ValueError, KeyError):
            out.append(ScoreCache.open_existing(directory))
    return out


def _fsync_dir(directory: Path) -> None:
    """Persist a rename (best effort; not possible on every platform)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _exclusive_lock(path: Path):  # type: ignore[no-untyped-def]
    """Yield True holding an exclusive advisory lock on ``path``, False if another process holds it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no advisory locks, compaction still safe for readers
        yield True
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            yield False
            return
        yield True  # closing the file releases the lock
