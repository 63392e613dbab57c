r"""Reddit dumps (Pushshift / Arctic Shift): NDJSON of comment or submission objects, streamed, vectorised.

Input: a file (plain, ``.zst``, ``.gz``, ``.xz``, ``.bz2``; the compression is told by the magic bytes, not
the name) or a directory of such files; each file holds comments (``RC_*``) or submissions (``RS_*``), told
apart by its first record, and ``submissions=`` adds a submissions file (or several) for the posts.

How it streams: a reader thread decompresses (zstd with ``max_window_size=2**31``, the dumps' 2 GiB window,
frame after frame) and cuts the text into chunks of whole lines (``chunk_bytes``); the calling thread parses
each chunk with :func:`polars.read_ndjson` into an all-string frame, and a third thread normalises parsed
chunks with Polars expressions, applying the filters (Polars releases the GIL, so all three overlap). Only the
kept rows of the canonical frame stay in memory (plus the zstd window and a few chunks in flight).

Normalisation is :mod:`toolkit.io.reddit_rules` (the removal/deletion signals, ids,
timestamps, ``edited``, HTML unescaping), with these dump specifics:

- fields go missing row to row: a missing field is null (a missing ``link_id`` is taken from a ``t3_``
  parent, else from the nearest ancestor's thread once everything is read);
- ``source_position`` is the record's line - 1, counted on across the files of one load;
- JSON values are read as text: a number or boolean where a string is expected is taken as its JSON text
  (an id ``123`` is ``"123"``); a value that cannot be what the field needs (a score ``"abc"``, a
  ``created_utc`` of ``true``) rejects the row, naming the field;
- Arctic Shift's ``_meta`` (from a second fetch): ``removal_type`` ``"deleted"`` marks the row deleted,
  any other value (``"removed"``, ``"removed by reddit"``) removed; ``was_deleted_later`` marks it deleted
  when nothing says it was removed. The text stays. ``removal_source``/``deletion_source`` name the signal;
- repeated ids keep the newest version (largest ``_meta.retrieved_2nd_on``/``retrieved_on``/
  ``retrieved_utc``, then the later line); each older copy is a rejected row (reason ``duplicate``) and
  is counted in ``stats["duplicates"]``;
- lines that are not JSON objects (malformed, invalid UTF-8, truncated) are rejected with file, line and
  reason; a truncated compressed file is also reported in ``stats["truncated_files"]``.

Every non-blank line is a record: ``records == rows kept + rows rejected + rows filtered`` (``stats``), and
``strict=True`` raises :class:`LoadError` at the first rejection (duplicates included).

>>> import json, pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "RC_tiny.ndjson"
>>> record = {"id": "c1", "parent_id": "t3_p", "body": "[removed]", "created_utc": 0, "subreddit": "science"}
>>> _ = path.write_text(json.dumps(record) + "\n")
>>> read_reddit_dump(path).frame.select("thread_id", "comment_id", "removed", "removal_source").rows()
[('p', 'c1', True, 'body')]
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from toolkit.io.base import LoadError, LoadResult, Rejects
from toolkit.io.dedupe import dedupe_versions
from toolkit.io.fields import FieldError, micros, parse_time
from toolkit.io.reddit_rules import (
    PRIVATE,
    RAW_SCHEMAS,
    REDDIT_SCHEMA,
    HtmlUnescape,
    Kind,
    normalize_chunk,
    record_kind,
    resolve_threads,
)
from toolkit.io.stream import (
    DEFAULT_CHUNK_BYTES,
    StreamEnd,
    files_in,
    head_lines,
    iter_line_chunks,
    parse_chunk,
)

# Parsed rows normalised in one go: each call has a fixed cost (~10 ms), and what waits or is being normalised is
# the largest part of a load's memory besides the zstd window (150,000: ~0.15 GB more at the peak, measured on
# 1M-4M comments; the parts written are the same).
NORMALIZE_ROWS = 40_000
DUMP_SUFFIXES = (".zst", ".gz", ".xz", ".bz2", ".ndjson", ".jsonl", ".json", ".txt", "")


@dataclass
class Filters:
    """Filters applied while streaming (rows outside them are counted in ``stats["rows_filtered"]``)."""

    subreddits: frozenset[str] | None = None  # lower-case names, no "r/"
    link_ids: frozenset[str] | None = None  # thread ids, no "t3_"
    since_us: int | None = None  # created_at >= since
    until_us: int | None = None  # created_at < until
    post_threads: pl.Series | None = None  # posts of these threads pass the time filter (they have comments)

    @classmethod
    def build(
        cls,
        subreddits: Iterable[str] | str | None,
        link_ids: Iterable[str] | str | None,
        since: Any,
        until: Any,
    ) -> Filters:
        """Filters from loader options (names normalised, time bounds to epoch microseconds)."""

        def names(values: Iterable[str] | str | None, clean: Callable[[str], str]) -> frozenset[str] | None:
            if values is None:
                return None
            return frozenset(clean(str(v).strip()) for v in ([values] if isinstance(values, str) else values))

        return cls(
            subreddits=names(subreddits, lambda name: name.lower().removeprefix("r/").removeprefix("/r/")),
            link_ids=names(link_ids, lambda name: name.removeprefix("t3_")),
            since_us=_bound_micros(since, "since"),
            until_us=_bound_micros(until, "until"),
        )

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any(v is not None for v in (self.subreddits, self.link_ids, self.since_us, self.until_us))

    def in_time(self, micros: pl.Expr) -> pl.Expr:
        """``since <= created < until`` on epoch microseconds; a missing time is out of range."""
        keep = pl.lit(True)
        if self.since_us is not None:
            keep = keep & (micros >= self.since_us)
        if self.until_us is not None:
            keep = keep & (micros < self.until_us)
        return keep.fill_null(False)


def _bound_micros(value: Any, name: str) -> int | None:
    """A time bound (datetime, date, ISO text or epoch seconds) -> epoch microseconds (:class:`FieldError`)."""
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    elif isinstance(value, date):
        stamp = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    else:
        stamp = parse_time(value, name)  # None (or "") stays None: no bound
    return None if stamp is None else micros(stamp)


def dump_files(path: Path) -> list[Path]:
    """``path`` itself, or the dump files directly inside a directory (sorted; hidden files skipped)."""
    return files_in(path, DUMP_SUFFIXES, "no dump files (.zst, .gz, .ndjson, .jsonl, ...) in this directory")


def sniff_kind(path: Path) -> Kind | None:
    """The kind of the first parseable record of a dump file (None: empty or not a Reddit dump)."""
    for line in head_lines(path)[:20]:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        return record_kind(record)
    return None


def looks_like_dump(path: Path) -> bool:
    """A dump file or a directory of them, by the first record(s).

    ``.json`` files are API objects (``reddit_api``) unless they hold JSON lines: two or more lines that
    are each a bare Reddit record.
    """
    path = Path(path)
    if path.is_dir():
        files = [p for p in sorted(path.iterdir()) if p.is_file() and p.suffix.lower() in DUMP_SUFFIXES]
        return bool(files) and all(_file_is_dump(p) for p in files[:8])
    return path.is_file() and _file_is_dump(path)


def _file_is_dump(path: Path) -> bool:
    """One file: a dump by its first record (``.json`` only when it holds JSON lines)."""
    if path.suffix.lower() not in DUMP_SUFFIXES:
        return False
    if path.suffix.lower() != ".json":
        return sniff_kind(path) is not None
    lines = head_lines(path)[:2]
    if len(lines) < 2:
        return False
    try:
        return all(record_kind(json.loads(line)) is not None for line in lines)
    except (ValueError, RecursionError):
        return False


@dataclass
class _DumpLoad:
    """The state of one dump load across its files: rows, rejects, counts, where positions go on."""

    rejects: Rejects
    filters: Filters
    html_unescape: HtmlUnescape
    chunk_bytes: int
    files: list[Path] = field(default_factory=list)
    frames: dict[str, list[pl.DataFrame]] = field(default_factory=lambda: {"comments": [], "submissions": []})
    position: int = 0
    stats: dict[str, Any] = field(default_factory=dict)
    sink: Callable[[pl.DataFrame], None] | None = None  # streamed rows go here instead of ``frames``
    streamed_threads: list[pl.Series] | None = None  # thread ids of streamed comments, kept for submissions only


def _load_file(path: Path, kind: Kind | None, run: _DumpLoad) -> None:
    """Stream one dump file into ``run`` (its frames, rejects and counts).

    Three stages overlap: the reader thread decompresses, this thread parses, and a normalising thread
    turns parsed chunks into canonical rows (:class:`_Normalizer`). With ``strict`` everything after reading
    runs here, chunk by chunk, so that the first rejection raised is the first in the file.
    """
    kind = kind or _file_kind(path, run.stats)
    normalizer = _Normalizer(run, path, kind)
    stats, last_line = run.stats, 0
    chunks = iter_line_chunks(path, run.chunk_bytes)
    try:
        for item in chunks:
            if isinstance(item, StreamEnd):
                _raise_read_error(item, path)
                normalizer.drain()
                if item.truncated:
                    stats["truncated_files"].append(str(path))
                    if normalizer.strict:
                        raise LoadError(path, "compressed stream ends in the middle of a frame (truncated file?)")
                break
            stats["chunks"] += 1
            found = Rejects(strict=normalizer.strict)
            raw, lines = parse_chunk(item, RAW_SCHEMAS[kind], path, found)
            run.rejects.rows.extend(found.rows)
            stats["records"] += raw.height + len(found.rows)
            normalizer.add(raw, lines)
            last_line = item.first_line + item.n_lines - 1
    finally:  # on any error too: stop the reader thread and the normalising thread now
        chunks.close()
        normalizer.close()
    run.position += last_line


def _file_kind(path: Path, stats: dict[str, Any]) -> Kind:
    """Comments or submissions, sniffed from the first records; an empty or unrecognised file is read as
    comments and counted (``empty_files``, ``unknown_kind_files``)."""
    kind = sniff_kind(path)
    if kind is None:
        stats["empty_files" if not head_lines(path) else "unknown_kind_files"].append(str(path))
        kind = "comments"
    return kind


def _raise_read_error(end: StreamEnd, path: Path) -> None:
    """The reader's error, if any, as a :class:`LoadError` naming the file (other errors as they are)."""
    if end.error is None:
        return
    if isinstance(end.error, LoadError):
        raise end.error
    if isinstance(end.error, OSError):
        raise LoadError(path, f"cannot read: {end.error.strerror or end.error}") from None
    raise end.error


Normalized = tuple[pl.DataFrame, int, list[dict[str, Any]]]  # (rows, filtered out, rejects)


class _Normalizer:
    """Parsed chunks of one file -> canonical rows in ``run``, in file order. Chunks are normalised in groups
    (a call costs a fixed ~10 ms) on one worker thread (Polars releases the GIL, so the two cores stay busy;
    one job waits at most, which bounds memory); with ``strict``, here, one chunk at a time."""

    def __init__(self, run: _DumpLoad, path: Path, kind: Kind):
        self.run, self.path, self.kind = run, path, kind
        self.file_index, self.position = len(run.files), run.position
        run.files.append(path)
        self.strict = run.rejects.strict
        self.group: list[tuple[pl.DataFrame, np.ndarray]] = []  # parsed chunks waiting to be normalised
        self.pending: deque[Future[Normalized]] = deque()
        self.pool = (None if self.strict
                     else ThreadPoolExecutor(1, thread_name_prefix=f"dump-normalize:{path.name}"))

    def normalize(self, raw: pl.DataFrame, lines: np.ndarray) -> Normalized:
        found = Rejects(strict=self.strict)
        frame, filtered = normalize_chunk(
            raw,
            lines,
            kind=self.kind,
            path=self.path,
            file_index=self.file_index,
            position_offset=self.position,
            rejects=found,
            filters=self.run.filters,
            html_unescape=self.run.html_unescape,
        )
        return frame, filtered, found.rows

    def keep(self, result: Normalized) -> None:
        frame, filtered, rejected = result
        run = self.run
        run.stats["rows_filtered"] += filtered
        run.rejects.rows.extend(rejected)
        if frame.height and run.sink is not None:
            run.sink(frame)
            if self.kind == "comments" and run.streamed_threads is not None:  # the submissions' filter needs them
                run.streamed_threads.append(frame.get_column("thread_id").unique())
        elif frame.height:
            run.frames[self.kind].append(frame)

    def add(self, raw: pl.DataFrame, lines: np.ndarray) -> None:
        self.group.append((raw, lines))
        if self.strict or sum(g[0].height for g in self.group) >= NORMALIZE_ROWS:
            self.flush()

    def flush(self) -> None:
        group = self.group
        if not group:
            return
        raw = pl.concat([g[0] for g in group]) if len(group) > 1 else group[0][0]
        lines = np.concatenate([g[1] for g in group]) if len(group) > 1 else group[0][1]
        group.clear()
        if self.pool is None:
            self.keep(self.normalize(raw, lines))
            return
        self.pending.append(self.pool.submit(self.normalize, raw, lines))
        while len(self.pending) > 1:
            self.keep(self.pending.popleft().result())

    def drain(self) -> None:
        """Everything added normalised and kept (at the end of the file)."""
        self.flush()
        while self.pending:
            self.keep(self.pending.popleft().result())

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)


def finish_threads(frame: pl.DataFrame, files: Sequence[Path], rejects: Rejects, filters: Filters,
                   stats: dict[str, Any]) -> pl.DataFrame:
    """What needs every version of a comment and its ancestors at once: keep the newest version of repeated
    ids, give thread-less comments their ancestor's thread, apply ``link_ids`` then, drop the private
    columns. Counts go into ``stats`` (added, so it may run bucket by bucket)."""
    frame, duplicates = dedupe_versions(frame, files, rejects)
    frame, unknown = resolve_threads(frame)
    stats["duplicates"] = stats.get("duplicates", 0) + duplicates
    stats["thread_unknown"] = stats.get("thread_unknown", 0) + unknown
    if filters.link_ids is not None:
        keep = pl.col("thread_id").is_in(list(filters.link_ids)).fill_null(False)
        stats["rows_filtered"] = stats.get("rows_filtered", 0) + frame.height - frame.filter(keep).height
        frame = frame.filter(keep)
    return frame.drop(list(PRIVATE))


def finish_bucket(frame: pl.DataFrame, files: Sequence[Path], rejects: Rejects, options: dict[str, Any],
                  stats: dict[str, Any]) -> pl.DataFrame:
    """:func:`finish_threads` with the loader's filter options (``subreddits``, ``link_ids``, ``since``,
    ``until``): what the corpus store runs per bucket of a streamed dump."""
    filters = Filters.build(options.get("subreddits"), options.get("link_ids"), options.get("since"),
                            options.get("until"))
    return finish_threads(frame, files, rejects, filters, stats)


def read_reddit_dump(
    path: str | Path,
    *,
    submissions: str | Path | Sequence[str | Path] | None = None,
    subreddits: Iterable[str] | str | None = None,
    since: Any = None,
    until: Any = None,
    link_ids: Iterable[str] | str | None = None,
    kind: Literal["auto", "comments", "submissions"] = "auto",
    strict: bool = False,
    html_unescape: HtmlUnescape = "auto",
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    sink: Callable[[pl.DataFrame], None] | None = None,
) -> LoadResult:
    """Load a Pushshift / Arctic Shift dump (file or directory), streamed, filtered while streaming.

    ``sink``: hand each normalised chunk (private columns included) to ``sink`` instead of keeping it; the
    result's frame is then empty, and each whole thread's rows go through :func:`finish_threads` later
    (a corpus store does this bucket by bucket). Only the comments' thread ids are kept, for ``submissions``.

    ``submissions``: the dump's submissions file(s) or directory, for the posts (kept when they pass the
    subreddit and link filters and either fall in the time range or have comments kept); a relative path
    not found from the working directory is looked up beside ``path``. ``subreddits`` (names, any case,
    ``r/`` optional), ``since``/``until`` (datetime, date, ISO text or epoch seconds; ``since <= created <
    until``) and ``link_ids`` (thread ids, ``t3_`` optional) filter rows as they stream. ``kind`` forces
    what ``path`` holds (default: told by each file's first record). See the module docstring for the rules.

    ``stats``: ``records`` (non-blank lines) = ``rows_kept`` + ``rows_rejected`` + ``rows_filtered``;
    ``duplicates``, ``posts``, ``thread_unknown`` (comments whose thread nothing tells), ``chunks``,
    ``files``, ``truncated_files``, ``empty_files``, ``unknown_kind_files`` (read as comments).
    """
    path = Path(path)
    if not path.exists():
        raise LoadError(path, "no such file or directory")
    if kind not in ("auto", "comments", "submissions"):
        raise LoadError(path, f"kind must be 'auto', 'comments' or 'submissions', got {kind!r}", field="kind")
    if chunk_bytes < 1:
        raise LoadError(path, "chunk_bytes must be positive", field="chunk_bytes")
    if html_unescape not in (True, False, "auto"):
        raise LoadError(path, f"html_unescape must be true, false or 'auto', got {html_unescape!r}", field="html_unescape")
    try:
        filters = Filters.build(subreddits, link_ids, since, until)
    except FieldError as error:
        hint = "give a datetime, a date, ISO-8601 text or epoch seconds"
        raise LoadError(path, f"{error}; {hint}", field=error.field) from None
    run = _DumpLoad(
        rejects=Rejects(strict=strict),
        filters=filters,
        html_unescape=html_unescape,
        chunk_bytes=int(chunk_bytes),
        sink=sink,
    )
    run.stats.update(
        records=0, rows_filtered=0, duplicates=0, chunks=0, truncated_files=[], empty_files=[],
        unknown_kind_files=[], thread_unknown=0,
    )  # fmt: skip
    extra: list[Path] = []
    if submissions is not None:
        listed = [submissions] if isinstance(submissions, (str, Path)) else list(submissions)
        for item in listed:
            item = Path(item).expanduser()
            if not item.exists() and not item.is_absolute() and (path.parent / item).exists():
                item = path.parent / item  # relative to the comments file (handy in dataset configs)
            if not item.exists():
                raise LoadError(item, "no such file or directory", field="submissions")
            extra.extend(dump_files(item))
    if extra and sink is not None:
        run.streamed_threads = []  # held across the stream only when the posts' filter needs them
    forced: Kind | None = None if kind == "auto" else kind  # type: ignore[assignment]
    for file in dump_files(path):
        _load_file(file, forced, run)
    threads = [f.get_column("thread_id") for f in run.frames["comments"]] + (run.streamed_threads or [])
    if extra and threads:  # posts outside the time range still come when they have comments
        run.filters.post_threads = pl.concat(threads).drop_nulls().unique()
    for file in extra:
        _load_file(file, "submissions", run)

    frames = [*run.frames["submissions"], *run.frames["comments"]] or [
        pl.DataFrame(schema={**REDDIT_SCHEMA, **PRIVATE})]
    frame = finish_threads(pl.concat(frames, how="vertical"), run.files, run.rejects, run.filters, run.stats)
    order = {str(p): i for i, p in enumerate(run.files)}
    run.rejects.rows.sort(key=lambda r: (order.get(r["file"], len(order)), r["line"] or 0))
    run.stats.update(files=[str(p) for p in run.files], rows_kept=frame.height,
                     rows_rejected=len(run.rejects.rows), posts=int(frame["is_post"].sum()))
    return LoadResult(frame=frame, rejects=run.rejects.frame(), stats=run.stats, files=list(run.files))

