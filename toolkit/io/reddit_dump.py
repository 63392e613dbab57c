"""Reddit dumps (Pushshift / Arctic Shift): NDJSON of comment or submission objects, streamed, vectorised.

Input: a file (plain, ``.zst``, ``.gz``, ``.xz``, ``.bz2``; the compression is told by the magic bytes, not
the name) or a directory of such files; each file holds comments (``RC_*``) or submissions (``RS_*``), told
apart by its first record, and ``submissions=`` adds a submissions file (or several) for the posts.

How it streams: a reader thread decompresses (zstd with ``max_window_size=2**31``, the dumps' 2 GiB window,
frame after frame) and cuts the text into chunks of whole lines (``chunk_bytes``); the calling thread parses
each chunk with :func:`polars.read_ndjson` into an all-string frame, and a third thread normalises parsed
chunks with Polars expressions, applying the filters (Polars releases the GIL, so all three overlap). Only the
kept rows of the canonical frame stay in memory (plus the zstd window and a few chunks in flight).

Normalisation follows the record rules of :mod:`toolkit.io.reddit` (same removal/deletion signals, ids,
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
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import queue
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from toolkit.io._records import _MAX_TS, _MIN_TS, INT64_MAX, parse_int
from toolkit.io._records import EPOCH as _EPOCH
from toolkit.io._records import FieldError as _FieldError
from toolkit.io._records import parse_time as parse_timestamp
from toolkit.io.base import LoadError, LoadResult, Rejects, register
from toolkit.io.reddit import (
    AUTHOR_DELETION_CATEGORIES,
    DELETED_AUTHOR,
    DELETED_BODY,
    PLATFORM,
    REDDIT_SCHEMA,
    REMOVED_BODY,
    HtmlUnescape,
    unescape_comment,
    unescape_post,
)

ZSTD_MAX_WINDOW = 2**31  # Pushshift / Arctic Shift dumps are compressed with --long=31
DEFAULT_CHUNK_BYTES = 8 * 2**20  # measured: larger chunks parse slower here (memory traffic), smaller ones pay per call
NORMALIZE_ROWS = 150_000  # parsed rows normalised in one go (each call has a fixed cost)
CHUNKS_IN_FLIGHT = 2  # decompressed chunks waiting to be parsed (bounds memory)
_READ_BYTES = 2**18  # compressed bytes per read (bounds one decompression step's output)
_INT64_MAX = INT64_MAX
_MAGIC = {
    b"\x28\xb5\x2f\xfd": "zst",
    b"\x1f\x8b": "gz",
    b"\xfd7zXZ\x00": "xz",
    b"BZh": "bz2",
}
DUMP_SUFFIXES = (".zst", ".gz", ".xz", ".bz2", ".ndjson", ".jsonl", ".json", ".txt", "")
_UNSET = ["false", "", "{}", "[]"]

Kind = Literal["comments", "submissions"]

_META = pl.Struct({"removal_type": pl.String(), "was_deleted_later": pl.String(), "retrieved_2nd_on": pl.String()})
_COMMON_FIELDS = (
    "id", "name", "author", "score", "created_utc", "edited", "subreddit", "removed_by_category",
    "banned_by", "removal_reason", "removed", "distinguished", "stickied", "retrieved_on", "retrieved_utc",
)  # fmt: skip
RAW_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "comments": {
        **{name: pl.String() for name in (*_COMMON_FIELDS, "parent_id", "link_id", "body", "body_html")},
        "_meta": _META,
    },
    "submissions": {
        **{name: pl.String() for name in (*_COMMON_FIELDS, "title", "selftext", "selftext_html")},
        "_meta": _META,
    },
}
#: Columns of the loaded frame: the canonical source columns, the Reddit extras, then ``deletion_source``.
DUMP_SCHEMA: dict[str, pl.DataType] = dict(REDDIT_SCHEMA)
_PRIVATE = {"_retrieved": pl.Float64(), "_line": pl.Int64(), "_file": pl.Int32()}


# --------------------------------------------------------------------------------------------------
# streaming: decompression in a reader thread, whole-line chunks out


def compression_of(path: Path) -> str | None:
    """``"zst"``, ``"gz"``, ``"xz"``, ``"bz2"`` by the file's magic bytes, or None for plain text."""
    with open(path, "rb") as handle:
        head = handle.read(10)
    for magic, name in _MAGIC.items():
        if head.startswith(magic):
            if name == "bz2" and not (head[3:4].isdigit() and head[4:10] == b"1AY&SY"):
                continue  # "BZh" alone is too weak a sign: also require the block header
            return name
    return None


class _Truncated(Exception):
    """The compressed stream ended inside a frame."""


def iter_decompressed(path: Path, read_bytes: int = _READ_BYTES) -> Iterator[bytes]:
    """Decompressed blocks of ``path``, streamed (bounded memory); raises :class:`_Truncated` at a cut-off end.

    zstd: ``max_window_size=2**31`` and every frame in turn (like ``read_across_frames=True``), through
    ``decompressobj`` so that a frame cut short is noticed rather than silently ending the text.
    """
    compression = compression_of(path)
    if compression == "zst":
        import zstandard

        dctx = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        with open(path, "rb") as handle:
            obj = dctx.decompressobj()
            in_frame = False
            while True:
                data = handle.read(read_bytes)
                if not data:
                    break
                while data:
                    if obj.eof:
                        obj = dctx.decompressobj()
                    in_frame = True
                    try:
                        out = obj.decompress(data)
                    except zstandard.ZstdError as error:
                        raise LoadError(path, f"zstd: {error}") from None
                    if out:
                        yield out
                    data = obj.unused_data if obj.eof else b""
                    if obj.eof:
                        in_frame = False
            if in_frame and not obj.eof:
                raise _Truncated()
        return
    opener = {"gz": gzip.open, "xz": lzma.open, "bz2": bz2.open}.get(compression or "", open)
    try:
        with opener(path, "rb") as handle:  # type: ignore[operator]
            while True:
                data = handle.read(4 * read_bytes)
                if not data:
                    return
                yield data
    except (EOFError, gzip.BadGzipFile, lzma.LZMAError, OSError) as error:
        if isinstance(error, EOFError):
            raise _Truncated() from None
        if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise LoadError(path, f"{compression}: {error}") from None


def _split(data: bytes, chunk_bytes: int) -> Iterator[bytes]:
    """``data`` (whole lines) in pieces of about ``chunk_bytes``, cut after a newline; long lines stay whole."""
    if len(data) <= 2 * chunk_bytes:
        yield data
        return
    start = 0
    while len(data) - start > 2 * chunk_bytes:
        cut = data.rfind(b"\n", start, start + chunk_bytes) + 1
        if cut <= start:
            cut = data.find(b"\n", start + chunk_bytes) + 1
        yield data[start:cut]
        start = cut
    yield data[start:]


@dataclass
class _Chunk:
    data: bytes  # whole lines, the last one ending in b"\n"
    first_line: int  # 1-based number of the chunk's first line in its file
    n_lines: int


@dataclass
class _End:
    truncated: bool = False
    error: BaseException | None = None


def iter_line_chunks(path: Path, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[_Chunk | _End]:
    """Whole-line chunks of ``path`` from a reader thread (two in flight at most), then one :class:`_End`.

    A UTF-8 byte-order mark at the start is dropped; a last line without a newline gets one.
    """
    slots: queue.Queue[_Chunk | _End] = queue.Queue(maxsize=CHUNKS_IN_FLIGHT)
    stop = threading.Event()

    def put(item: _Chunk | _End) -> bool:
        """Hand an item to the consumer; False when it has stopped listening."""
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        """The reader thread: decompress, cut into whole-line chunks, end with an :class:`_End`."""
        carry = b""  # the unfinished last line so far
        line = 1
        pending: list[bytes] = []
        pending_size = 0
        end = _End()

        def emit(data: bytes) -> bool:
            nonlocal line
            n = int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == 10))  # twice bytes.count's speed
            ok = put(_Chunk(data, line, n))
            line += n
            return ok

        try:
            for block in iter_decompressed(path):
                if line == 1 and not carry and not pending and block.startswith(b"\xef\xbb\xbf"):
                    block = block[3:]
                pending.append(block)
                pending_size += len(block)
                if pending_size < chunk_bytes:
                    continue
                cut = block.rfind(b"\n") + 1
                if cut == 0:  # no line ends in this block: keep collecting
                    continue
                # one copy: the pending blocks up to the last newline (the rest starts the next chunk)
                data = b"".join([carry, *pending[:-1], block[:cut] if cut < len(block) else block])
                carry = block[cut:]
                pending, pending_size = [], len(carry)
                for piece in _split(data, chunk_bytes):
                    if not emit(piece):
                        return
        except _Truncated:
            end.truncated = True
        except BaseException as error:  # handed to the consumer, which raises it
            end.error = error
        if end.error is None:
            data = b"".join([carry, *pending])
            if data.strip():
                for piece in _split(data if data.endswith(b"\n") else data + b"\n", chunk_bytes):
                    if not emit(piece):
                        return
        put(end)

    worker = threading.Thread(target=produce, name=f"dump-reader:{path.name}", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            yield item
            if isinstance(item, _End):
                return
    finally:
        stop.set()
        worker.join()


# --------------------------------------------------------------------------------------------------
# parsing one chunk: Polars first, Python only for chunks with bad lines


# Polars takes bytes that begin like a gzip, zstd or zlib stream for compressed data (even a text line
# ``x^...``: zlib): a chunk starting so gets a blank first line, which Polars skips.
_SNIFFED_BY_POLARS = (b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"\x78\x01", b"\x78\x5e", b"\x78\x9c", b"\x78\xda")


def _read_frame(data: bytes, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """NDJSON bytes -> frame with exactly ``schema`` (values that are not strings come as their JSON text)."""
    if data.startswith(_SNIFFED_BY_POLARS):
        data = b"\n" + data
    return pl.read_ndjson(data, schema=schema, infer_schema_length=None)


def _check_line(line: bytes) -> tuple[str | None, str] | None:
    """Why one non-blank line cannot be a record, as (field, reason), or None when it is a JSON object."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, f"not valid UTF-8 at byte {error.start}"
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"malformed JSON: {error.msg} (column {error.colno})"
    except RecursionError:
        return None, "JSON nested too deeply"
    if not isinstance(record, dict):
        return None, f"expected a JSON object, got {type(record).__name__}"
    meta = record.get("_meta")
    if meta is not None and not isinstance(meta, dict):
        return "_meta", f"expected an object, got {type(meta).__name__} {meta!r:.40}"
    return None


def _polars_failures(
    lines: list[bytes], numbers: list[int], schema: dict[str, pl.DataType], out: list[tuple[int, str]]
) -> list[int]:
    """Bisect ``lines`` with Polars: indices it parses, appending (line, message) for each it refuses."""
    try:
        _read_frame(b"".join(lines), schema)
        return list(range(len(lines)))
    except pl.exceptions.PolarsError as error:
        if len(lines) == 1:
            out.append((numbers[0], str(error).splitlines()[0][:200]))
            return []
    half = len(lines) // 2
    left = _polars_failures(lines[:half], numbers[:half], schema, out)
    right = _polars_failures(lines[half:], numbers[half:], schema, out)
    return left + [half + i for i in right]


def parse_chunk(
    chunk: _Chunk, kind: str, path: Path, rejects: Rejects
) -> tuple[pl.DataFrame, np.ndarray]:
    """The chunk's records as an all-string frame and each row's line number; bad lines go to ``rejects``."""
    schema = RAW_SCHEMAS[kind]
    try:
        frame = _read_frame(chunk.data, schema)
        if frame.height == chunk.n_lines:
            return frame, np.arange(chunk.first_line, chunk.first_line + frame.height, dtype=np.int64)
        # blank lines (Polars skips them): number the others
        numbers = [
            chunk.first_line + offset
            for offset, line in enumerate(chunk.data.split(b"\n")[: chunk.n_lines])
            if line.strip()
        ]
        if len(numbers) == frame.height:
            return frame, np.asarray(numbers, dtype=np.int64)
    except pl.exceptions.PolarsError:
        pass
    # slow path: find the bad lines one by one
    good: list[bytes] = []
    numbers: list[int] = []
    for offset, line in enumerate(chunk.data.split(b"\n")[: chunk.n_lines]):
        if not line.strip():
            continue
        number = chunk.first_line + offset
        problem = _check_line(line)
        if problem is None:
            good.append(line + b"\n")
            numbers.append(number)
        else:
            rejects.add(path, number, problem[0], problem[1])
    failures: list[tuple[int, str]] = []
    keep = _polars_failures(good, numbers, schema, failures) if good else []
    for number, message in failures:
        rejects.add(path, number, None, f"unreadable record: {message}")
    if len(keep) != len(good):
        good = [good[i] for i in keep]
        numbers = [numbers[i] for i in keep]
    frame = _read_frame(b"".join(good), schema) if good else pl.DataFrame(schema=schema)
    if frame.height != len(good):  # Polars and the line check disagree on what a line is: one at a time
        parts = [_read_frame(line, schema) for line in good]
        numbers = [n for n, part in zip(numbers, parts, strict=True) for _ in range(part.height)]
        frame = pl.concat(parts) if parts else frame
    return frame, np.asarray(numbers, dtype=np.int64)


# --------------------------------------------------------------------------------------------------
# vectorised normalisation (the rules of toolkit.io.reddit's record normalisers, as expressions)


def _strip_fullname(values: pl.Series) -> pl.Series:
    """``t1_abc`` -> ``abc`` (any ``tN_`` prefix followed by something); empty -> null.

    Dumps are uniform (every ``parent_id`` prefixed, no ``id`` prefixed): those cases cost one check.
    """
    if values.null_count() == values.len():
        return values
    prefixed = values.str.contains(r"(?s)^t[0-9]_.").fill_null(False)
    count = int(prefixed.sum())
    if count == 0:
        out = values
    elif count == values.len() - values.null_count():
        out = values.str.slice(3)
    else:
        out = pl.select(pl.when(prefixed).then(values.str.slice(3)).otherwise(values)).to_series()
    if count < out.len() and (out == "").any():
        out = pl.select(pl.when(out != "").then(out)).to_series()
    return out.alias(values.name)


def _is_set(name: str) -> pl.Expr:
    """A removal signal counts when present and not null/false/empty (as read: text)."""
    return (pl.col(name).is_not_null() & ~pl.col(name).is_in(_UNSET)).fill_null(False)


def _bool_text(name: str) -> pl.Expr:
    """JSON true/false (read as text) -> Boolean; anything else null."""
    col = pl.col(name)
    return pl.when(col == "true").then(True).when(col == "false").then(False)


def _micros(stamp: datetime) -> int:
    """An aware datetime -> epoch microseconds, exactly."""
    delta = stamp - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


Errors = dict[int, str]  # row -> reason, for the few bad rows of a chunk


def _timestamps(values: pl.Series, field_name: str) -> tuple[pl.Series, Errors]:
    """Epoch seconds as read (int, float or numeric text; ISO text) -> microseconds (Int64), and errors.

    Integers (the dumps' usual ``created_utc``) are one cast; floats are rounded half to even like the record
    normaliser; what neither cast reads (ISO text, padding, garbage) goes to its Python parser, row by row.
    """
    as_int = values.cast(pl.Int64, strict=False)
    micros = pl.select(pl.when(as_int.is_between(int(_MIN_TS), int(_MAX_TS))).then(as_int * 1_000_000)).to_series()
    rest = pl.select((values.is_not_null() & (values != "") & micros.is_null()).arg_true()).to_series()
    errors: Errors = {}
    if rest.len() == 0:
        return micros, errors
    floats = values.gather(rest).cast(pl.Float64, strict=False)
    fixed = pl.select(
        pl.when(floats.is_between(_MIN_TS, _MAX_TS)).then((floats * 1_000_000).round(0, mode="half_to_even"))
    ).to_series().cast(pl.Int64)
    slow = pl.select(fixed.is_null().arg_true()).to_series()
    if slow.len():
        patched: list[int | None] = fixed.to_list()
        for i, value in zip(slow.to_list(), values.gather(rest.gather(slow)).to_list(), strict=True):
            try:
                stamp = parse_timestamp(value, field_name)
            except _FieldError as problem:
                errors[int(rest[i])] = str(problem)
                continue
            patched[i] = None if stamp is None else _micros(stamp)
        fixed = pl.Series(patched, dtype=pl.Int64)
    return micros.scatter(rest, fixed), errors


def _integers(values: pl.Series, field_name: str) -> tuple[pl.Series, Errors]:
    """Integers as read (``12``, ``"12"``; floats that are whole numbers come as their digits) and errors."""
    ints = values.cast(pl.Int64, strict=False)
    rest = pl.select((values.is_not_null() & ints.is_null()).arg_true()).to_series()
    errors: Errors = {}
    if rest.len() == 0:
        return ints, errors
    patched: list[int | None] = []
    for i, value in zip(rest.to_list(), values.gather(rest).to_list(), strict=True):
        try:
            patched.append(parse_int(value, field_name))
        except _FieldError as problem:
            patched.append(None)
            errors[i] = str(problem)
    return ints.scatter(rest, pl.Series(patched, dtype=pl.Int64)), errors


_SIGNS = ["&amp;", "&lt;", "&gt;"]
_UNESCAPED = ["&", "<", ">"]


def _unescape_texts(frame: pl.DataFrame, kind: str, mode: HtmlUnescape) -> pl.DataFrame:
    """Apply the ``html_unescape`` rule (see :mod:`toolkit.io.reddit`) to the texts holding an ``&``.

    Texts whose only ``&`` are Reddit's three escapes (``&amp;``, ``&lt;``, ``&gt;``), with no ``*_html``
    field to consult, are unescaped vectorised (:func:`html.unescape` gives the same there); the rest go
    through the record normaliser's own Python helpers, one call each.
    """
    if mode is False:
        return frame
    is_post = kind == "submissions"
    texts = ["_title", "_text"] if is_post else ["_text"]
    html_name = "selftext_html" if is_post else "body_html"
    amp = pl.any_horizontal(*(pl.col(c).str.contains("&", literal=True) for c in texts)).fill_null(False)
    rows = frame.select(amp.arg_true()).to_series()
    if rows.len() == 0:
        return frame
    subset = frame.select(*texts, html_name).gather(rows)
    stray = pl.any_horizontal(
        *(pl.col(c).str.replace_many(_SIGNS, [""] * 3).str.contains("&", literal=True) for c in texts)
    ).fill_null(False)
    html_set = (pl.col(html_name).is_not_null() & (pl.col(html_name) != "")).fill_null(False)
    fast = ~stray & ~html_set
    subset = subset.with_columns(
        *(pl.when(fast).then(pl.col(c).str.replace_many(_SIGNS, _UNESCAPED)).otherwise(pl.col(c)).alias(c) for c in texts),
        fast.alias("_fast"),
    )
    slow = subset.select((~pl.col("_fast")).arg_true()).to_series()
    if slow.len():
        bodies = subset["_text"].gather(slow).to_list()
        htmls = subset[html_name].gather(slow).to_list()
        if is_post:
            titles = subset["_title"].gather(slow).to_list()
            pairs = [unescape_post(t, x, h, mode) for t, x, h in zip(titles, bodies, htmls, strict=True)]
            subset = subset.with_columns(
                subset["_title"].scatter(slow, pl.Series([p[0] for p in pairs], dtype=pl.String)),
                subset["_text"].scatter(slow, pl.Series([p[1] for p in pairs], dtype=pl.String)),
            )
        else:
            values = [unescape_comment(t, h, mode) for t, h in zip(bodies, htmls, strict=True)]
            subset = subset.with_columns(subset["_text"].scatter(slow, pl.Series(values, dtype=pl.String)))
    return frame.with_columns(frame[c].scatter(rows, subset[c]) for c in texts)


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

        def names(values: Iterable[str] | str | None, prefix: str, lower: bool) -> frozenset[str] | None:
            if values is None:
                return None
            if isinstance(values, str):
                values = [values]
            out = set()
            for value in values:
                value = str(value).strip()
                value = value.lower() if lower else value
                out.add(value.removeprefix(prefix).removeprefix("/r/") if lower else value.removeprefix(prefix))
            return frozenset(out)

        return cls(
            subreddits=names(subreddits, "r/", True),
            link_ids=names(link_ids, "t3_", False),
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
    """A time bound (datetime, date, ISO text or epoch seconds) -> epoch microseconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    elif isinstance(value, date):
        stamp = datetime(value.year, value.month, value.day, tzinfo=timezone.utc)
    else:
        try:
            stamp = parse_timestamp(value, name)
        except _FieldError as error:
            raise LoadError("options", f"{name}: {error}", field=name) from None
        if stamp is None:
            return None
    delta = stamp - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def normalize_chunk(
    raw: pl.DataFrame,
    lines: np.ndarray,
    *,
    kind: str,
    path: Path,
    file_index: int,
    position_offset: int,
    rejects: Rejects,
    filters: Filters,
    html_unescape: HtmlUnescape = "auto",
) -> tuple[pl.DataFrame, int]:
    """An all-string chunk frame -> (canonical rows kept, number filtered out); bad rows go to ``rejects``.

    The common shapes are whole-column operations; unusual values (ISO times, scores as text, escaped
    texts, bad values) are handled on the few rows that have them, by the record normaliser's own parsers.
    """
    is_post = kind == "submissions"
    body = "selftext" if is_post else "body"
    n = raw.height

    # ids, threads, times, scores: Series with fast paths; errors as {row: reason}
    comment_id = _strip_fullname(raw["id"])
    if comment_id.null_count():
        comment_id = pl.select(pl.coalesce(comment_id, _strip_fullname(raw["name"]))).to_series()
    if is_post:
        parent, thread = pl.repeat(None, n, dtype=pl.String, eager=True), comment_id
    else:
        parent = _strip_fullname(raw["parent_id"])
        thread = _strip_fullname(raw["link_id"])
        if thread.null_count():
            to_post = raw["parent_id"].str.starts_with("t3_").fill_null(False)
            thread = pl.select(pl.coalesce(thread, pl.when(to_post).then(parent))).to_series()
    created, created_errors = _timestamps(raw["created_utc"], "created_utc")
    edited_raw = raw["edited"]
    stamp_rows = pl.select(
        (edited_raw.is_not_null() & (edited_raw != "true") & (edited_raw != "false")).arg_true()
    ).to_series()
    edited_at = pl.repeat(None, n, dtype=pl.Int64, eager=True)
    edited_errors: Errors = {}
    if stamp_rows.len():
        stamps, sub_errors = _timestamps(edited_raw.gather(stamp_rows), "edited")
        edited_at = edited_at.scatter(stamp_rows, stamps)
        edited_errors = {int(stamp_rows[i]): reason for i, reason in sub_errors.items()}
    score, score_errors = _integers(raw["score"], "score")

    # removal and deletion signals, in the record normaliser's order (see toolkit.io.reddit._removal)
    meta_type = pl.col("_meta").struct.field("removal_type")
    body_removed = (pl.col(body) == REMOVED_BODY).fill_null(False)
    body_deleted = (pl.col(body) == DELETED_BODY).fill_null(False)
    category_set = _is_set("removed_by_category")
    category_deleted = category_set & pl.col("removed_by_category").is_in(list(AUTHOR_DELETION_CATEGORIES))
    flag = _bool_text("removed")
    flag_reached = ~(body_removed | category_set | _is_set("banned_by") | _is_set("removal_reason"))
    meta_removed = (meta_type.is_not_null() & (meta_type != "") & (meta_type != "deleted")).fill_null(False)
    removal_source = (
        pl.when(body_removed).then(pl.lit("body"))
        .when(category_set).then(pl.when(~category_deleted).then(pl.lit("removed_by_category")))
        .when(_is_set("banned_by")).then(pl.lit("banned_by"))
        .when(_is_set("removal_reason")).then(pl.lit("removal_reason"))
        .when(flag.fill_null(False)).then(pl.lit("removed_flag"))
        .when(meta_removed).then(pl.lit("_meta.removal_type"))
    )  # fmt: skip
    was_deleted_later = (pl.col("_meta").struct.field("was_deleted_later") == "true").fill_null(False)
    deletion_source = (
        pl.when(body_deleted).then(pl.lit("body"))
        .when(category_deleted).then(pl.lit("removed_by_category"))
        .when((meta_type == "deleted").fill_null(False)).then(pl.lit("_meta.removal_type"))
        .when(was_deleted_later & removal_source.is_null() & meta_type.is_null())
        .then(pl.lit("_meta.was_deleted_later"))
    )  # fmt: skip
    retrieved = pl.coalesce(
        *(
            c.cast(pl.Float64, strict=False)
            for c in (pl.col("_meta").struct.field("retrieved_2nd_on"), pl.col("retrieved_on"), pl.col("retrieved_utc"))
        )
    )
    author = pl.col("author")
    edited = pl.col("edited")
    frame = raw.select(
        thread.alias("thread_id"),
        comment_id.alias("comment_id"),
        parent.alias("parent_id"),
        pl.lit(is_post).alias("is_post"),
        pl.when((author != DELETED_AUTHOR) & (author != "")).then(author).alias("author"),
        pl.when(~(body_removed | body_deleted)).then(pl.col(body)).alias("_text"),
        *([pl.col("title").alias("_title"), pl.col("selftext_html")] if is_post else [pl.col("body_html")]),
        created.alias("_created_us"),
        score.alias("score"),
        removal_source.alias("removal_source"),
        deletion_source.alias("deletion_source"),
        pl.col("subreddit"),
        pl.when(edited == "false").then(False).when(edited.is_not_null()).then(True).alias("edited"),
        edited_at.alias("_edited_us"),
        pl.col("distinguished"),
        _bool_text("stickied").alias("stickied"),
        retrieved.alias("_retrieved"),
        pl.Series("_line", lines, dtype=pl.Int64),
        # checked here, reported below
        (flag_reached & pl.col("removed").is_not_null() & flag.is_null()).fill_null(False).alias("_bad_removed"),
        (pl.col("stickied").is_not_null() & _bool_text("stickied").is_null()).alias("_bad_stickied"),
        pl.col("removed").alias("_removed_raw"),
        pl.col("stickied").alias("_stickied_raw"),
    )
    errors = _collect_errors(frame, kind, created_errors, score_errors, edited_errors)

    # filters first: rows outside them are not checked further
    keep = np.ones(n, dtype=bool)
    if filters.active:
        conditions = []
        if filters.subreddits is not None:
            conditions.append(pl.col("subreddit").str.to_lowercase().is_in(list(filters.subreddits)).fill_null(False))
        if filters.link_ids is not None:
            conditions.append(pl.col("thread_id").is_in(list(filters.link_ids)).fill_null(True))
        if filters.since_us is not None or filters.until_us is not None:
            in_time = filters.in_time(pl.col("_created_us"))
            if is_post and filters.post_threads is not None:
                in_time = in_time | pl.col("thread_id").is_in(filters.post_threads.implode()).fill_null(False)
            conditions.append(in_time)
        keep = frame.select(pl.all_horizontal(conditions)).to_series().to_numpy().copy()
        for row, (field_name, _) in errors.items():
            if field_name == "created_utc":
                keep[row] = keep[row] or filters.since_us is not None or filters.until_us is not None
    filtered = int(n - keep.sum())
    for row in sorted(errors):
        if keep[row]:
            field_name, reason = errors[row]
            rejects.add(path, int(lines[row]), field_name, reason)
            keep[row] = False
    if not keep.all():
        frame = frame.filter(pl.Series(keep))

    frame = _unescape_texts(frame, kind, html_unescape)
    if is_post:
        title = pl.when(pl.col("_title") != "").then(pl.col("_title"))
        selftext = pl.when(pl.col("_text") != "").then(pl.col("_text"))
        text = pl.when(title.is_not_null() & selftext.is_not_null()).then(
            pl.concat_str(title, pl.lit("\n\n"), selftext)
        ).otherwise(pl.coalesce(title, selftext))
    else:
        text = pl.col("_text")
    out = frame.select(
        "thread_id",
        "comment_id",
        "parent_id",
        "is_post",
        "author",
        text.alias("text"),
        pl.col("_created_us").cast(pl.Datetime("us", "UTC")).alias("created_at"),
        "score",
        pl.col("removal_source").is_not_null().alias("removed"),
        pl.col("deletion_source").is_not_null().alias("deleted"),
        pl.lit(PLATFORM).alias("platform"),
        (pl.col("_line") + (position_offset - 1)).alias("source_position"),
        "subreddit",
        "edited",
        pl.col("_edited_us").cast(pl.Datetime("us", "UTC")).alias("edited_at"),
        "removal_source",
        "distinguished",
        "stickied",
        pl.lit(None, dtype=pl.Int32).alias("source_reply_depth"),
        "deletion_source",
        "_retrieved",
        "_line",
        pl.lit(file_index, dtype=pl.Int32).alias("_file"),
    )
    return out, filtered


def _collect_errors(
    frame: pl.DataFrame, kind: str, created: Errors, score: Errors, edited: Errors
) -> dict[int, tuple[str, str]]:
    """{row: (field, reason)} for the first bad field of each bad row, in the record normaliser's order."""
    label = "post" if kind == "submissions" else "comment"
    flagged = frame.select(
        pl.col("comment_id").is_null().arg_true().alias("id"),
    ).to_series()
    bad_removed = frame.select(pl.col("_bad_removed").arg_true()).to_series()
    bad_stickied = frame.select(pl.col("_bad_stickied").arg_true()).to_series()
    if not (flagged.len() or created or score or edited or bad_removed.len() or bad_stickied.len()):
        return {}
    out: dict[int, tuple[str, str]] = {}
    ids = frame["comment_id"]

    def who(row: int) -> str:
        value = ids[row]
        return f"{label} {value}" if value else label

    for row in flagged.to_list():
        out.setdefault(row, ("id", f"{label}: missing id"))
    for field_name, found in (("created_utc", created), ("score", score), ("edited", edited)):
        for row, reason in found.items():
            out.setdefault(row, (field_name, f"{who(row)}: {reason}"))
    for field_name, rows, raw in (("removed", bad_removed, "_removed_raw"), ("stickied", bad_stickied, "_stickied_raw")):
        for row in rows.to_list():
            out.setdefault(row, (field_name, f"{who(row)}: expected true/false, got {frame[raw][row]!r:.40}"))
    return out


# --------------------------------------------------------------------------------------------------
# files, kinds, the loader


def dump_files(path: Path) -> list[Path]:
    """``path`` itself, or the dump files directly inside a directory (sorted; hidden files skipped)."""
    if path.is_dir():
        files = [
            p
            for p in sorted(path.iterdir())
            if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in DUMP_SUFFIXES
        ]
        if not files:
            raise LoadError(path, "no dump files (.zst, .gz, .ndjson, .jsonl, ...) in this directory")
        return files
    return [path]


def head_lines(path: Path, max_bytes: int = 1 << 16) -> list[bytes]:
    """The first complete non-blank lines within ``max_bytes`` of decompressed text (for sniffing)."""
    buffer = b""
    try:
        for block in iter_decompressed(path, read_bytes=1 << 16):
            buffer += block
            if len(buffer) >= max_bytes:
                break
    except _Truncated:
        pass
    buffer = buffer.removeprefix(b"\xef\xbb\xbf")
    lines = buffer.split(b"\n")
    if len(buffer) >= max_bytes and len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut
    return [line for line in lines if line.strip()]


def record_kind(record: Any) -> Kind | None:
    """``"comments"`` or ``"submissions"`` for a bare Reddit dump record, None for anything else."""
    if not isinstance(record, dict) or "kind" in record and "data" in record:
        return None
    if "id" not in record and "name" not in record:
        return None
    if "body" in record and ("parent_id" in record or "link_id" in record):
        return "comments"
    if "title" in record and ("selftext" in record or "subreddit" in record or "url" in record):
        return "submissions"
    return None


def sniff_kind(path: Path) -> Kind | None:
    """The kind of the first parseable record of a dump file (None: empty or not a Reddit dump)."""
    for line in head_lines(path)[:20]:
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            continue
        return record_kind(record)
    return None


def _looks_like_dump(path: Path) -> bool:
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
class _Run:
    rejects: Rejects
    filters: Filters
    html_unescape: HtmlUnescape
    chunk_bytes: int
    files: list[Path] = field(default_factory=list)
    frames: dict[str, list[pl.DataFrame]] = field(default_factory=lambda: {"comments": [], "submissions": []})
    position: int = 0
    stats: dict[str, Any] = field(default_factory=dict)


def _load_file(path: Path, kind: Kind | None, run: _Run) -> None:
    """Stream one dump file into ``run`` (its frames, rejects and counts).

    Three stages overlap: the reader thread decompresses, this thread parses, and a normalising thread
    turns parsed chunks into canonical rows (Polars releases the GIL, so the two cores stay busy; one
    normalising job waits at most, which bounds memory). With ``strict`` everything after reading runs
    here, chunk by chunk, so that the first rejection raised is the first in the file.
    """
    if kind is None:
        kind = sniff_kind(path)
        if kind is None:
            if not head_lines(path):
                run.stats["empty_files"].append(str(path))
                kind = "comments"
            else:
                run.stats["unknown_kind_files"].append(str(path))
                kind = "comments"
    file_index = len(run.files)
    run.files.append(path)
    stats = run.stats
    strict = run.rejects.strict
    last_line = 0
    group: list[tuple[pl.DataFrame, np.ndarray]] = []  # parsed chunks waiting to be normalised together
    pending: deque[Future[tuple[pl.DataFrame, int, list[dict[str, Any]]]]] = deque()
    position = run.position

    def normalize(raw: pl.DataFrame, lines: np.ndarray) -> tuple[pl.DataFrame, int, list[dict[str, Any]]]:
        found = Rejects(strict=strict)
        frame, filtered = normalize_chunk(
            raw,
            lines,
            kind=kind,
            path=path,
            file_index=file_index,
            position_offset=position,
            rejects=found,
            filters=run.filters,
            html_unescape=run.html_unescape,
        )
        return frame, filtered, found.rows

    def keep(result: tuple[pl.DataFrame, int, list[dict[str, Any]]]) -> None:
        frame, filtered, rejected = result
        stats["rows_filtered"] += filtered
        run.rejects.rows.extend(rejected)
        if frame.height:
            run.frames[kind].append(frame)

    def flush(pool: ThreadPoolExecutor | None) -> None:
        if not group:
            return
        raw = pl.concat([g[0] for g in group]) if len(group) > 1 else group[0][0]
        lines = np.concatenate([g[1] for g in group]) if len(group) > 1 else group[0][1]
        group.clear()
        if pool is None:
            keep(normalize(raw, lines))
            return
        pending.append(pool.submit(normalize, raw, lines))
        while len(pending) > 1:
            keep(pending.popleft().result())

    pool = None if strict else ThreadPoolExecutor(1, thread_name_prefix=f"dump-normalize:{path.name}")
    chunks = iter_line_chunks(path, run.chunk_bytes)
    try:
        for item in chunks:
            if isinstance(item, _End):
                if item.error is not None:
                    if isinstance(item.error, LoadError):
                        raise item.error
                    if isinstance(item.error, OSError):
                        raise LoadError(path, f"cannot read: {item.error.strerror or item.error}") from None
                    raise item.error
                flush(pool)
                while pending:
                    keep(pending.popleft().result())
                if item.truncated:
                    stats["truncated_files"].append(str(path))
                    if strict:
                        raise LoadError(path, "compressed stream ends in the middle of a frame (truncated file?)")
                break
            stats["chunks"] += 1
            found = Rejects(strict=strict)
            raw, lines = parse_chunk(item, kind, path, found)
            run.rejects.rows.extend(found.rows)
            stats["records"] += raw.height + len(found.rows)
            group.append((raw, lines))
            # normalising costs a fixed ~10 ms a call: several parsed chunks go together (strict: one by one)
            if strict or sum(g[0].height for g in group) >= NORMALIZE_ROWS:
                flush(pool)
            last_line = item.first_line + item.n_lines - 1
    finally:  # on any error too: stop the reader thread and the normalising thread now
        chunks.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    run.position += last_line


def dedupe_versions(frame: pl.DataFrame, files: Sequence[Path], rejects: Rejects) -> tuple[pl.DataFrame, int]:
    """Keep the newest version of each (is_post, comment_id); each older copy becomes a reject.

    Newest: largest ``_retrieved`` (nulls oldest), then the later row. ``frame`` carries the private
    columns ``_retrieved``, ``_line`` and ``_file`` (an index into ``files``). Returns (frame, copies dropped).
    """
    key = ["is_post", "comment_id"]
    if frame.height < 2:
        return frame, 0
    # distinct 64-bit hashes prove there is no repeat (cheap); equal hashes get the exact check below
    hashed = frame.select((pl.col("comment_id").hash(7) ^ pl.col("is_post").cast(pl.UInt64)).n_unique()).item()
    if hashed == frame.height:
        return frame, 0
    indexed = frame.with_row_index("_row")
    dup = indexed.select(pl.struct(key).is_duplicated()).to_series()
    copies = (
        indexed.filter(dup)
        .sort(["_retrieved", "_row"], nulls_last=False)
        .with_columns(
            pl.col("_row").last().over(key).alias("_winner"),
            pl.col("_line").last().over(key).alias("_wline"),
            pl.col("_file").last().over(key).alias("_wfile"),
        )
    )
    losers = copies.filter(pl.col("_row") != pl.col("_winner")).sort("_row")
    for row in losers.select("comment_id", "is_post", "_line", "_file", "_wline", "_wfile").iter_rows(named=True):
        label = "post" if row["is_post"] else "comment"
        where = f"line {row['_wline']}"
        if row["_wfile"] != row["_file"]:
            where += f" of {files[row['_wfile']].name}"
        rejects.add(
            files[row["_file"]],
            row["_line"],
            "id",
            f"{label} {row['comment_id']}: duplicate, superseded by the newer version at {where}",
        )
    drop = np.zeros(frame.height, dtype=bool)
    drop[losers["_row"].to_numpy()] = True
    return frame.filter(pl.Series(~drop)), losers.height


def resolve_threads(frame: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """Comments without a thread (no ``link_id``, parent not the post) take their nearest ancestor's thread.

    Reddit comment ids are unique across threads, so parents are found by id alone; the climb is pointer
    doubling (:func:`toolkit.threads.tree._climb`), so long chains of such comments cost a few rounds, not
    one join per level. Returns (frame, comments whose thread is still unknown: no ancestor knows it).
    """
    from toolkit.threads.tree import _climb

    unknown = pl.col("thread_id").is_null() & ~pl.col("is_post")
    if not frame.select(unknown.any()).item():
        return frame, 0
    n = frame.height
    rows = frame.select(pl.int_range(n, dtype=pl.Int64).alias("_row"), "comment_id", "parent_id", "is_post", unknown.alias("_unknown"))
    owners = (
        rows.filter(~pl.col("is_post") & pl.col("comment_id").is_not_null())
        .select(pl.col("comment_id").alias("parent_id"), pl.col("_row").alias("_parent_row"))
        .unique("parent_id", keep="last")
    )
    links = rows.filter(pl.col("_unknown")).join(owners, on="parent_id", how="inner").select("_row", "_parent_row")
    jump = np.arange(n, dtype=np.int64)
    anchor = np.ones(n, dtype=bool)
    child = links["_row"].to_numpy()
    jump[child] = links["_parent_row"].to_numpy()
    anchor[child] = False
    root, _, reached = _climb(jump, anchor)
    root[~reached] = np.arange(n)[~reached]  # cycles keep their own (unknown) thread
    resolved = frame["thread_id"].gather(root)
    frame = frame.with_columns(
        pl.when(unknown).then(resolved).otherwise(pl.col("thread_id")).alias("thread_id")
    )
    return frame, int(frame.select(unknown.sum()).item())


@register("reddit_dump", detect=_looks_like_dump)
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
) -> LoadResult:
    """Load a Pushshift / Arctic Shift dump (file or directory), streamed, filtered while streaming.

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
    run = _Run(
        rejects=Rejects(strict=strict),
        filters=Filters.build(subreddits, link_ids, since, until),
        html_unescape=html_unescape,
        chunk_bytes=int(chunk_bytes),
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
    forced: Kind | None = None if kind == "auto" else kind  # type: ignore[assignment]
    for file in dump_files(path):
        _load_file(file, forced, run)
    if extra and run.frames["comments"]:  # posts outside the time range still come when they have comments
        run.filters.post_threads = pl.concat([f.select("thread_id") for f in run.frames["comments"]])[
            "thread_id"
        ].drop_nulls().unique()
    for file in extra:
        _load_file(file, "submissions", run)

    schema = {**DUMP_SCHEMA, **_PRIVATE}
    posts = pl.concat(run.frames["submissions"]) if run.frames["submissions"] else pl.DataFrame(schema=schema)
    comments = pl.concat(run.frames["comments"]) if run.frames["comments"] else pl.DataFrame(schema=schema)
    frame = pl.concat([posts, comments], how="vertical")
    frame, run.stats["duplicates"] = dedupe_versions(frame, run.files, run.rejects)
    frame, run.stats["thread_unknown"] = resolve_threads(frame)
    if run.filters.link_ids is not None:
        keep = pl.col("thread_id").is_in(list(run.filters.link_ids)).fill_null(False)
        run.stats["rows_filtered"] += frame.height - frame.filter(keep).height
        frame = frame.filter(keep)
    frame = frame.drop(list(_PRIVATE))
    order = {str(p): i for i, p in enumerate(run.files)}
    run.rejects.rows.sort(key=lambda r: (order.get(r["file"], len(order)), r["line"] or 0))
    stats = run.stats
    stats["files"] = [str(p) for p in run.files]
    stats["rows_kept"] = frame.height
    stats["rows_rejected"] = len(run.rejects.rows)
    stats["posts"] = int(frame["is_post"].sum())
    return LoadResult(frame=frame, rejects=run.rejects.frame(), stats=stats, files=list(run.files))


__all__ = [
    "DUMP_SCHEMA",
    "Filters",
    "ZSTD_MAX_WINDOW",
    "compression_of",
    "iter_decompressed",
    "iter_line_chunks",
    "read_reddit_dump",
    "record_kind",
    "sniff_kind",
]
