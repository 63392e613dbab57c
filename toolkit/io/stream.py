r"""Getting records out of files: decompression, whole-line chunks from a reader thread, NDJSON chunks parsed
by Polars (bad lines found by bisection), JSON lines and JSON documents; every problem names the file/line.

>>> from toolkit.io.stream import looks_like_json_lines
>>> looks_like_json_lines(b'{"a": 1}\n{"a": 2}\n'), looks_like_json_lines(b'[1, 2]')
(True, False)
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import json
import lzma
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import polars as pl

from toolkit import scoped
from toolkit.io.base import LoadError, Rejects

ZSTD_MAX_WINDOW = 2**31  # Pushshift / Arctic Shift dumps are compressed with --long=31
DEFAULT_CHUNK_BYTES = 8 * 2**20  # measured: larger chunks parse slower here (memory traffic), smaller ones pay per call
CHUNKS_IN_FLIGHT = 2  # decompressed chunks waiting to be parsed (bounds memory)
T = TypeVar("T")
_READ_BYTES = 2**18  # compressed bytes per read (bounds one decompression step's output)
_MAGIC = {
    b"\x28\xb5\x2f\xfd": "zst",
    b"\x1f\x8b": "gz",
    b"\xfd7zXZ\x00": "xz",
    b"BZh": "bz2",
}


# --------------------------------------------------------------------------------------------------
# decompression in a reader thread, whole-line chunks out


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


class TruncatedStream(Exception):
    """The compressed stream ended inside a frame."""


def iter_decompressed(path: Path, read_bytes: int = _READ_BYTES) -> Iterator[bytes]:
    """Decompressed blocks of ``path``, streamed (bounded memory); raises :class:`TruncatedStream` at a cut-off end.

    zstd: ``max_window_size=2**31`` and every frame in turn (like ``read_across_frames=True``), through
    ``decompressobj`` so that a frame cut short is noticed rather than silently ending the text.
    """
    compression = compression_of(path)
    if compression == "zst":
        import zstandard

        dctx = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        with open(path, "rb") as handle:
            obj = dctx.decompressobj()
            for data in iter(partial(handle.read, read_bytes), b""):
                while data:
                    if obj.eof:
                        obj = dctx.decompressobj()
                    try:
                        out = obj.decompress(data)
                    except zstandard.ZstdError as error:
                        raise LoadError(path, f"zstd: {error}") from None
                    if out:
                        yield out
                    data = obj.unused_data if obj.eof else b""
            if not obj.eof:  # the file (at least its magic number) ends inside a frame
                raise TruncatedStream()
        return
    opener = {"gz": gzip.open, "xz": lzma.open, "bz2": bz2.open}.get(compression or "", open)
    try:
        with opener(path, "rb") as handle:  # type: ignore[operator]
            yield from iter(partial(handle.read, 4 * read_bytes), b"")
    except (EOFError, gzip.BadGzipFile, lzma.LZMAError, OSError) as error:
        if isinstance(error, EOFError):
            raise TruncatedStream() from None
        if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise LoadError(path, f"{compression}: {error}") from None


def _split(data: bytes, chunk_bytes: int) -> Iterator[bytes]:
    """``data`` (whole lines) in pieces of about ``chunk_bytes``, cut after a newline; long lines stay whole."""
    start = 0
    while len(data) - start > 2 * chunk_bytes:
        cut = data.rfind(b"\n", start, start + chunk_bytes) + 1
        if cut <= start:
            cut = data.find(b"\n", start + chunk_bytes) + 1
        yield data[start:cut]
        start = cut
    yield data[start:]


@dataclass
class LineChunk:
    data: bytes  # whole lines, the last one ending in b"\n"
    first_line: int  # 1-based number of the chunk's first line in its file
    n_lines: int


@dataclass
class StreamEnd:
    truncated: bool = False
    error: BaseException | None = None


def iter_line_chunks(path: Path, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[LineChunk | StreamEnd]:
    """Whole-line chunks of ``path`` from a reader thread (two in flight at most, :func:`pushed_chunks`),
    then one :class:`StreamEnd`.

    A UTF-8 byte-order mark at the start is dropped; a last line without a newline gets one.
    """

    def load(sink: Callable[[LineChunk | StreamEnd], None]) -> None:
        """The reader thread: decompress, cut into whole-line chunks, end with an :class:`StreamEnd`."""
        carry = b""  # the unfinished last line so far
        line = 1
        pending: list[bytes] = []
        pending_size = 0
        end = StreamEnd()

        def emit(data: bytes) -> None:
            nonlocal line
            n = int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == 10))  # twice bytes.count's speed
            sink(LineChunk(data, line, n))
            line += n

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
                    emit(piece)
        except TruncatedStream:
            end.truncated = True
        except StreamClosed:  # the consumer stopped: end quietly
            raise
        except BaseException as error:  # handed to the consumer in the StreamEnd
            end.error = error
        if end.error is None:
            data = b"".join([carry, *pending])
            if data.strip():
                for piece in _split(data if data.endswith(b"\n") else data + b"\n", chunk_bytes):
                    emit(piece)
        sink(end)

    return pushed_chunks(load, name=f"dump-reader:{path.name}")


class StreamClosed(Exception):
    """Raised in a push-style loader's sink once the consumer of :func:`pushed_chunks` has stopped: the loader
    unwinds (its ``with`` blocks close its files) and its thread ends."""


def pushed_chunks(load: Callable[[Callable[[T], None]], None], *, in_flight: int = CHUNKS_IN_FLIGHT,
                  name: str = "pushed-chunks") -> Iterator[T]:
    """The chunks a push-style loader hands its sink, as an iterator: ``load(sink)`` runs in a thread started
    at the first ``next()``, at most ``in_flight`` chunks wait (memory stays bounded), and its error is
    raised here.

    Stopping early (``close()``, ``break`` out of a ``for`` over it, an error in the consumer) stops the
    loader: its next ``sink(chunk)`` raises :class:`StreamClosed`, and ``close()`` returns once its thread
    has ended, so no thread, open file or chunk is left behind.

    >>> def load(sink):
    ...     for i in range(1_000_000):
    ...         sink(i)
    >>> chunks = pushed_chunks(load)
    >>> [next(chunks), next(chunks)]
    [0, 1]
    >>> chunks.close()  # the loader stops at its next sink(): no thread left blocked
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=in_flight)
    stop = threading.Event()
    done = object()

    def sink(item: Any) -> None:
        while not stop.is_set():
            with contextlib.suppress(queue.Full):
                slots.put(item, timeout=0.1)
                return
        raise StreamClosed("the consumer stopped reading")

    def produce() -> None:
        try:
            load(sink)
            sink(done)
        except StreamClosed:
            pass
        except BaseException as error:  # handed to the consumer, which raises it
            with contextlib.suppress(StreamClosed):
                sink(error)

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while (item := slots.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def head_lines(path: Path, max_bytes: int = 1 << 16) -> list[bytes]:
    """The first complete non-blank lines within ``max_bytes`` of decompressed text (for sniffing)."""
    buffer = b""
    try:
        for block in iter_decompressed(path, read_bytes=1 << 16):
            buffer += block
            if len(buffer) >= max_bytes:
                break
    except TruncatedStream:
        pass
    buffer = buffer.removeprefix(b"\xef\xbb\xbf")
    lines = buffer.split(b"\n")
    if len(buffer) >= max_bytes and len(lines) > 1:
        lines = lines[:-1]  # the last one may be cut
    return [line for line in lines if line.strip()]



# --------------------------------------------------------------------------------------------------
# parsing one NDJSON chunk: Polars first, Python only for chunks with bad lines


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
    parsed = _json_line(0, line, "utf-8", "JSON nested too deeply")
    if parsed.error is not None:
        return None, parsed.error
    record = parsed.value
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
    chunk: LineChunk, schema: dict[str, pl.DataType], path: Path, rejects: Rejects
) -> tuple[pl.DataFrame, np.ndarray]:
    """The chunk's records as a frame of ``schema`` and each row's line number; bad lines go to ``rejects``."""
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
    good = [good[i] for i in keep]
    numbers = [numbers[i] for i in keep]
    frame = _read_frame(b"".join(good), schema) if good else pl.DataFrame(schema=schema)
    if frame.height != len(good):  # Polars and the line check disagree on what a line is: one at a time
        parts = [_read_frame(line, schema) for line in good]
        numbers = [n for n, part in zip(numbers, parts, strict=True) for _ in range(part.height)]
        frame = pl.concat(parts) if parts else frame
    return frame, np.asarray(numbers, dtype=np.int64)



# --------------------------------------------------------------------------------------------------
# JSON documents and JSON lines


def files_in(path: Path, suffixes: tuple[str, ...], none_found: str) -> list[Path]:
    """``path`` itself, or the files directly inside a directory with one of ``suffixes`` (sorted, hidden skipped)."""
    if not path.is_dir():
        return [path]
    files = [p for p in sorted(path.iterdir()) if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in suffixes]
    if not files:
        raise LoadError(path, none_found)
    return files


def read_bytes(path: Path) -> bytes:
    """The file's bytes; a :class:`LoadError` naming the file when it cannot be read."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise LoadError(path, "no such file") from None
    except IsADirectoryError:
        raise LoadError(path, "expected a file, got a directory") from None
    except OSError as error:
        raise LoadError(path, f"cannot read file: {error.strerror or error}") from None


@dataclass
class JsonLine:
    """One non-blank line of a JSON-lines file: its 1-based number and either the value or the parse error."""

    number: int
    value: Any = None
    error: str | None = None


def _json_line(number: int, raw: bytes, codec: str, too_deep: str) -> JsonLine:
    """One line decoded and parsed: its value, or why it is not JSON (``too_deep``: the nesting message)."""
    try:
        return JsonLine(number, value=json.loads(raw.decode(codec)))
    except UnicodeDecodeError as error:
        return JsonLine(number, error=f"not valid UTF-8 at byte {error.start}")
    except json.JSONDecodeError as error:
        return JsonLine(number, error=f"malformed JSON: {error.msg} (column {error.colno})")
    except RecursionError:
        return JsonLine(number, error=too_deep)


def iter_json_lines(path: Path, *, all_bad_is_error: bool = True) -> Iterator[JsonLine]:
    """Stream the non-blank lines of a JSON-lines file; a bad line yields an error, never an exception.

    Blank lines are skipped. A line that is not valid UTF-8 or not JSON yields ``JsonLine(error=...)``; when
    no line parses at all, the file is not JSON lines: a :class:`LoadError` naming the first bad line, at the
    end (unless ``all_bad_is_error`` is false).
    """
    try:
        handle = path.open("rb")
    except OSError as error:
        raise LoadError(path, f"cannot read file: {error.strerror or error}") from None
    parsed, first_bad = False, None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            line = _json_line(number, raw.rstrip(b"\r\n"), "utf-8-sig" if number == 1 else "utf-8",
                              "JSON nested too deeply for the parser")
            parsed = parsed or line.error is None
            first_bad = first_bad or (line if line.error else None)
            yield line
    if all_bad_is_error and not parsed and first_bad is not None:
        raise LoadError(path, f"not JSON lines: {first_bad.error}", line=first_bad.number)


def parse_json_document(path: Path, raw: bytes) -> Any:
    """A whole JSON document; every problem is a :class:`LoadError` naming the file (and line)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LoadError(path, f"not valid UTF-8 at byte {error.start}") from None
    if not text.strip():
        raise LoadError(path, "empty file")
    try:
        return loads_deep(text)
    except json.JSONDecodeError as error:
        raise LoadError(
            path, f"malformed JSON: {error.msg} (column {error.colno})", line=error.lineno
        ) from None
    except RecursionError:
        raise LoadError(path, "JSON nested too deeply for the parser") from None


def looks_like_json_lines(raw_head: bytes) -> bool:
    """Whether the start of a file holds two or more JSON values on separate lines (NDJSON), not one document."""
    lines = [line for line in raw_head.splitlines() if line.strip()]
    if len(lines) < 2:
        return False
    try:
        json.loads(lines[0])
    except (ValueError, RecursionError):
        return False
    return True


def loads_deep(text: str) -> Any:
    """:func:`json.loads` that also parses documents nested deeper than the interpreter's recursion limit.

    The C decoder recurses once per nesting level (five levels per reply on a comment page, so ~200 replies
    deep already fails); on RecursionError the parse is retried in a thread with a stack and a recursion
    limit sized to the document.
    """
    try:
        return json.loads(text)
    except RecursionError:
        pass
    levels = min(len(text) // 2, 2_000_000) + 1000
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            with scoped.recursion_limit.at_least(levels):  # process-wide: restored as soon as parsed
                outcome["value"] = json.loads(text)
        except BaseException as error:  # handed to the calling thread
            outcome["error"] = error

    scoped.start_thread(work, stack_size=min(2**31 - 2**20, max(2**24, levels * 1024)),
                        name="json-deep-parse").join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


