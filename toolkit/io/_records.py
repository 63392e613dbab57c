"""Shared pieces of the JSON and table loaders (Lemmy, ConvoKit, tables): field parsers, a JSON-lines reader
that never raises on a bad line, and the common finish (dedupe, conform, count).

Field parsers raise :class:`FieldError` naming the field; the loaders turn it into one reject per record.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.io.base import LoadError, Rejects
from toolkit.schema import SOURCE_SCHEMA, conform
from toolkit.threads import dedupe_comments

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MIN_TS = (datetime(1, 1, 2, tzinfo=timezone.utc) - EPOCH).total_seconds()
_MAX_TS = (datetime(9999, 12, 30, tzinfo=timezone.utc) - EPOCH).total_seconds()
_INT_RE = re.compile(r"[+-]?\d+")
INT64_MAX = 2**63 - 1
DUPLICATE_REASON = "duplicate id (older version)"


class FieldError(ValueError):
    """One field of one record has the wrong type or an unusable value."""

    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field


def parse_time(value: Any, field: str) -> datetime | None:
    """Epoch seconds (int, float or numeric string) or an ISO-8601 string -> aware UTC datetime; None stays None.

    ISO strings without an offset are taken as UTC (Lemmy before 0.19 sends naive UTC timestamps).
    """
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise FieldError(field, f"expected a timestamp, got boolean {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                raise FieldError(field, f"not a timestamp: {value!r:.60}") from None
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
            return parsed.astimezone(timezone.utc)
    elif isinstance(value, (int, float)):
        seconds = float(value)
    else:
        raise FieldError(field, f"expected a timestamp, got {type(value).__name__} {value!r:.40}")
    if not math.isfinite(seconds) or not _MIN_TS <= seconds <= _MAX_TS:
        raise FieldError(field, f"timestamp out of range: {value!r:.40}")
    if isinstance(value, int):
        return EPOCH + timedelta(seconds=value)
    return EPOCH + timedelta(microseconds=round(seconds * 1_000_000))


def parse_int(value: Any, field: str) -> int | None:
    """An integer given as int, integral float or integer string; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise FieldError(field, f"expected an integer, got boolean {value!r}")
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, str) and len(value) < 40 and _INT_RE.fullmatch(value.strip()):
        result = int(value.strip())
    else:
        raise FieldError(field, f"expected an integer, got {type(value).__name__} {value!r:.40}")
    if abs(result) > INT64_MAX:
        raise FieldError(field, f"integer out of range: {value!r:.40}")
    return result


def parse_id(value: Any, field: str, *, required: bool = True) -> str | None:
    """An id given as a non-empty string or an integer -> string."""
    if value is None or value == "":
        if required:
            raise FieldError(field, "missing id")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise FieldError(field, f"expected a string or integer id, got {type(value).__name__} {value!r:.40}")
    return str(value)


def opt_str(data: dict[str, Any], field: str, label: str | None = None) -> str | None:
    """``data[field]`` when it is a string or missing/null; a :class:`FieldError` otherwise."""
    value = data.get(field)
    if value is None or isinstance(value, str):
        return value
    raise FieldError(label or field, f"expected a string, got {type(value).__name__} {value!r:.40}")


def opt_bool(data: dict[str, Any], field: str, label: str | None = None) -> bool | None:
    """``data[field]`` when it is true/false or missing/null; a :class:`FieldError` otherwise."""
    value = data.get(field)
    if value is None or isinstance(value, bool):
        return value
    raise FieldError(label or field, f"expected true/false, got {type(value).__name__} {value!r:.40}")


def opt_dict(data: dict[str, Any], field: str, label: str | None = None) -> dict[str, Any] | None:
    """``data[field]`` when it is an object or missing/null; a :class:`FieldError` otherwise."""
    value = data.get(field)
    if value is None or isinstance(value, dict):
        return value
    raise FieldError(label or field, f"expected an object, got {type(value).__name__} {value!r:.40}")


# --------------------------------------------------------------------------------------------------
# reading


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


def iter_json_lines(path: Path) -> Iterator[JsonLine]:
    """Stream the non-blank lines of a JSON-lines file; a bad line yields an error, never an exception.

    Blank lines are skipped. A line that is not valid UTF-8 or not JSON yields ``JsonLine(error=...)``.
    """
    try:
        handle = path.open("rb")
    except OSError as error:
        raise LoadError(path, f"cannot read file: {error.strerror or error}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as error:
                yield JsonLine(number, error=f"not valid UTF-8 at byte {error.start}")
                continue
            try:
                yield JsonLine(number, value=json.loads(text.rstrip("\r\n")))
            except json.JSONDecodeError as error:
                yield JsonLine(number, error=f"malformed JSON: {error.msg} (column {error.colno})")
            except RecursionError:
                yield JsonLine(number, error="JSON nested too deeply for the parser")


def parse_json_document(path: Path, raw: bytes) -> Any:
    """A whole JSON document; every problem is a :class:`LoadError` naming the file (and line)."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise LoadError(path, f"not valid UTF-8 at byte {error.start}") from None
    if not text.strip():
        raise LoadError(path, "empty file")
    try:
        return json.loads(text)
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


# --------------------------------------------------------------------------------------------------
# the common finish


def drop_duplicates(
    frame: pl.DataFrame, rejects: Rejects, path: str | Path, line_column: str | None
) -> tuple[pl.DataFrame, int]:
    """Keep the last version of each (thread_id, comment_id) and add one reject per older version dropped."""
    if frame.height == 0:
        return frame, 0
    counts = frame.group_by("thread_id", "comment_id").len()
    if counts.height == frame.height:
        return frame, 0
    indexed = frame.with_row_index("_dedupe_row")
    kept, dropped_count = dedupe_comments(indexed)
    dropped = indexed.join(kept.select("_dedupe_row"), on="_dedupe_row", how="anti").sort("_dedupe_row")
    for row in dropped.iter_rows(named=True):
        line = row.get(line_column) if line_column else None
        rejects.add(path, line, "comment_id", f"{DUPLICATE_REASON}: {row['thread_id']}/{row['comment_id']}")
    return kept.drop("_dedupe_row"), dropped_count


def frame_from_rows(rows: list[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Row dicts -> a conformed frame (canonical columns first, then ``schema``'s extras in order)."""
    full = {**SOURCE_SCHEMA, **schema}
    frame = pl.DataFrame(rows, schema=full) if rows else pl.DataFrame(schema=full)
    return conform(frame)
