"""Tables (CSV, TSV, Parquet, JSON lines) with a column mapping: one row per comment.

``columns`` maps canonical fields to the table's columns, e.g. ``{text: BODY, comment_id: X, removed:
REMOVED}``; a field left out of the mapping uses a column of its own name when there is one, and ``null``
switches it off. Every field but ``text`` may be missing:

- no ``text`` column: an error naming the file's columns and the ``columns:``
  mapping to write (``text: null`` loads without text on purpose);
- no ``parent_id`` column: parents unknown, every comment ``structure="flat"`` at depth 1; in a file with a
  parent column, a blank parent means top-level (the parent is the thread);
- no ``thread_id`` column: one thread per file, named after the file stem (or ``thread_id=``), with no post
  row;
- no ``comment_id`` column: ids are the 1-based record numbers ("1", "2", ...);
- ``is_post``: a mapped column, else a row whose id equals its thread id and has no parent.

Values: ids are trimmed strings; ``removed``/``deleted``/``is_post`` accept 1/0, true/false, yes/no, t/f,
y/n (any case; empty = unknown); ``created_at`` epoch seconds or ISO-8601 strings (no offset = UTC);
``score`` integers. ``"[removed]"``/``"[deleted]"`` (and the other placeholders of the text loader) in the
text become flags with null text; ``author`` ``"[deleted]"`` becomes null. ``html_unescape`` decodes HTML
entities (``&gt;``) in the text; ``normalize_newlines`` (default on) turns CRLF inside texts into LF.
A value that cannot be parsed rejects its row, naming the file, the line the record starts on, the field
and the value. Columns the mapping does not use are kept (an unnamed column becomes ``column_<n>``; a name
that clashes with a canonical column gets the prefix ``src_``).

Reading: Polars' readers (lazy scans for Parquet and JSON lines); CSV/TSV bytes are decoded with
``encoding`` first when it is not UTF-8 (e.g. ``latin-1``). A CSV whose records do not all have the
header's number of fields, or that Polars cannot parse (bad quoting, invalid UTF-8), is re-read record by
record with Python's csv module, so that each bad record is rejected on its own and the rest kept.

>>> result = read_table("data/rscience_removal.csv", columns={"text": "BODY", "comment_id": "X", "removed": "REMOVED"})
>>> result.stats["records"] == result.frame.height + result.rejects.height
True
"""

from __future__ import annotations

import codecs
import csv
import functools
import html
import io
import json
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import polars as pl

from toolkit import scoped
from toolkit.io.base import LoadError, LoadResult, Rejects
from toolkit.io.dedupe import drop_duplicates
from toolkit.io.fields import parse_times
from toolkit.io.stream import iter_json_lines, read_bytes
from toolkit.io.text_thread import DELETED_PLACEHOLDERS, REMOVED_PLACEHOLDERS
from toolkit.schema import SOURCE_SCHEMA, conform
from toolkit.vocab import DELETED_AUTHOR, truth_value

FileType = Literal["csv", "tsv", "parquet", "jsonl"]
FIELDS = (
    "comment_id",
    "thread_id",
    "parent_id",
    "is_post",
    "author",
    "text",
    "created_at",
    "score",
    "removed",
    "deleted",
)
# Column names a user's own table often has for each field: the error for a table without text suggests them.
_USUAL_NAMES: dict[str, tuple[str, ...]] = {
    "text": ("text", "body", "comment", "comment_text", "content", "message", "selftext", "utterance"),
    "thread_id": ("thread_id", "thread", "post_id", "link_id", "submission_id", "conversation_id", "root"),
    "parent_id": ("parent_id", "parent", "reply_to", "in_reply_to", "parent_comment_id"),
    "comment_id": ("comment_id", "id", "utterance_id", "message_id"),
    "author": ("author", "user", "username", "speaker"),
    "created_at": ("created_at", "created_utc", "created", "timestamp", "time", "date"),
    "removed": ("removed", "was_removed", "is_removed"),
    "deleted": ("deleted", "was_deleted", "is_deleted"),
    "score": ("score", "votes", "upvotes"),
}
SUFFIXES: dict[str, FileType] = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_ENTITY = r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
_QUOTED = r'"(?:[^"]|"")*"'
_RECORD = "__record__"
_SRC = "__source__:"


@dataclass
class _Raw:
    """The table as read: every column, ``_record`` (0-based record number), and what reading rejected."""

    frame: pl.DataFrame
    rejected: list[tuple[int | None, str | None, str]] = field(default_factory=list)  # (line, field, reason)
    blank_lines: int = 0
    records: int = 0  # data records read, good or bad (blank lines excluded)
    record_lines: list[int] | None = None  # 1-based line each kept record starts on, when already known


# --------------------------------------------------------------------------------------------------
# reading CSV/TSV


def _decode(path: Path, raw: bytes, encoding: str) -> tuple[str, bool]:
    """The file's text, and whether some bytes were not valid in ``encoding`` (replaced by U+FFFD)."""
    try:
        codec = codecs.lookup(encoding).name
    except LookupError:
        raise LoadError(path, f"unknown encoding {encoding!r}", field="encoding") from None
    if codec == "utf-8":
        codec = "utf-8-sig"  # drop a byte-order mark, as spreadsheet exports often have one
    try:
        return raw.decode(codec), False
    except UnicodeDecodeError:
        return raw.decode(codec, errors="replace"), True


def _bad_byte_rows(raw: bytes, encoding: str) -> set[int]:
    """1-based physical lines holding bytes that are not valid in ``encoding``."""
    bad: set[int] = set()
    codec = codecs.lookup(encoding).name
    for number, line in enumerate(raw.split(b"\n"), start=1):
        try:
            line.decode("utf-8-sig" if codec == "utf-8" and number == 1 else codec)
        except UnicodeDecodeError:
            bad.add(number)
    return bad


def _fast_csv_ok(text: str, separator: str, n_fields: int) -> bool:
    """Whether every record of ``text`` has ``n_fields`` fields and no line is blank (vectorised check).

    Quoted fields (which may hold separators and line breaks) are collapsed to one character, after which
    each line is one record whose separators can be counted.
    """
    lines = (
        pl.Series([text], dtype=pl.String())
        .str.replace_all(_QUOTED, "Q")
        .str.split("\n")
        .explode()
        .str.strip_suffix("\r")
    )
    if lines.len() and lines[-1] == "":
        lines = lines.head(-1)
    if lines.len() <= 1:
        return True
    body = lines.slice(1)
    if (body == "").any():
        return False
    return bool((body.str.count_matches(separator, literal=True) == n_fields - 1).all())


_CSV_FIELD_LIMIT = min(sys.maxsize, 2**31 - 1)  # lifts csv's 128 KiB field limit: huge comments are real


def _csv_records(text: str, separator: str) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """``(start line, fields or None, error)`` for each record, continuing past a malformed one."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            message = str(error)
            if "unexpected end of data" in message:
                message = "unterminated quoted field (the file may be truncated)"
            yield start, None, f"malformed CSV: {message}"
            if reader.line_num < start:  # no progress: stop rather than loop
                return
            continue
        yield start, record, None


def _header_names(names: list[str]) -> list[str]:
    """Unique, non-empty column names (an unnamed column n -> ``column_<n>``, repeats -> ``name_<k>``)."""
    out: list[str] = []
    for position, name in enumerate(names, start=1):
        name = name.strip() or f"column_{position}"
        candidate, k = name, 1
        while candidate in out:
            k += 1
            candidate = f"{name}_{k}"
        out.append(candidate)
    return out


def _read_csv_slow(path: Path, text: str, separator: str, bad_lines: set[int]) -> _Raw:
    """Record-by-record read with the csv module: bad records are rejected, the rest kept."""
    rejected: list[tuple[int | None, str | None, str]] = []
    header: list[str] | None = None
    columns: list[list[str]] = []
    lines: list[int] = []
    numbers: list[int] = []
    blank = records = 0
    with scoped.csv_field_limit.at_least(_CSV_FIELD_LIMIT):
        for start, record, error in _csv_records(text, separator):
            if record is not None and not record:
                blank += 1
                continue
            if header is None:
                if error is not None:
                    raise LoadError(path, f"cannot read the header: {error}", line=start)
                header = _header_names(record)
                columns = [[] for _ in header]
                continue
            records += 1
            if error is not None:
                rejected.append((start, None, error))
                continue
            assert record is not None
            end = start + sum(value.count("\n") for value in record)
            if any(line in bad_lines for line in range(start, end + 1)):
                rejected.append((start, None, "not valid text in the file's encoding (bytes replaced)"))
                continue
            if len(record) != len(header):
                rejected.append((start, None, f"record has {len(record)} fields, the header {len(header)}"))
                continue
            for values, value in zip(columns, record, strict=True):
                values.append(value)
            lines.append(start)
            numbers.append(records - 1)
    if header is None:
        raise LoadError(path, "empty file: no header")
    frame = pl.DataFrame(dict(zip(header, columns, strict=True)), schema=dict.fromkeys(header, pl.String()))
    frame = frame.with_columns(pl.Series(_RECORD, numbers, dtype=pl.Int64()))
    return _Raw(frame, rejected, blank_lines=blank, records=records, record_lines=lines)


def _whole(frame: pl.DataFrame) -> _Raw:
    """A table read in one go: its column names made unique and non-empty, its records numbered."""
    frame = frame.rename(dict(zip(frame.columns, _header_names(frame.columns), strict=True)))
    frame = frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64()).alias(_RECORD))
    return _Raw(frame, records=frame.height)


def _read_delimited(path: Path, separator: str, encoding: str) -> _Raw:
    raw = read_bytes(path)
    if not raw.strip():
        raise LoadError(path, "empty file")
    text, had_bad_bytes = _decode(path, raw, encoding)
    if not text.strip():
        raise LoadError(path, "empty file")
    if not had_bad_bytes:
        try:
            frame = pl.read_csv(
                text.encode("utf-8"),
                separator=separator,
                infer_schema=False,
                empty_string_is_null=False,
                raise_if_empty=False,
            )
        except (pl.exceptions.PolarsError, ValueError, OSError):  # OSError: a header like "x^2" looks like zlib to Polars
            frame = None
        if frame is not None and _fast_csv_ok(text, separator, frame.width):
            return _whole(frame)
    bad_lines = _bad_byte_rows(raw, encoding) if had_bad_bytes else set()
    return _read_csv_slow(path, text, separator, bad_lines)


def _csv_lines(path: Path, encoding: str, separator: str) -> list[int]:
    """1-based line each data record starts on (blank lines skipped): only to describe rejects."""
    text, _ = _decode(path, read_bytes(path), encoding)
    with scoped.csv_field_limit.at_least(_CSV_FIELD_LIMIT):  # the header is the first non-blank record
        return [start for start, record, _ in _csv_records(text, separator) if record != []][1:]


# --------------------------------------------------------------------------------------------------
# reading JSON lines and Parquet


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _read_jsonl(path: Path) -> _Raw:
    raw = read_bytes(path)
    if not raw.strip():
        raise LoadError(path, "empty file")
    try:
        names = list(pl.scan_ndjson(path, infer_schema_length=None).collect_schema())
        frame = pl.scan_ndjson(path, schema=dict.fromkeys(names, pl.String())).collect()
        frame = frame.with_columns(pl.int_range(pl.len(), dtype=pl.Int64()).alias(_RECORD))
        return _Raw(frame, records=frame.height)
    except (pl.exceptions.PolarsError, ValueError, OSError):
        pass
    rows: list[dict[str, str | None]] = []
    lines: list[int] = []
    numbers: list[int] = []
    rejected: list[tuple[int | None, str | None, str]] = []
    keys: dict[str, None] = {}
    records = 0
    for line in iter_json_lines(path):
        records += 1
        if line.error is not None:
            rejected.append((line.number, None, line.error))
        elif not isinstance(line.value, dict):
            rejected.append((line.number, None, f"expected a JSON object, got {type(line.value).__name__}"))
        else:
            rows.append({str(k): _json_text(v) for k, v in line.value.items()})
            keys.update(dict.fromkeys(rows[-1]))
            lines.append(line.number)
            numbers.append(records - 1)
    if rows == [] and rejected and len(rejected) == records:
        first_line, _, reason = rejected[0]
        raise LoadError(path, f"not JSON lines: {reason}", line=first_line)
    schema = dict.fromkeys(keys, pl.String())
    frame = pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema)
    frame = frame.with_columns(pl.Series(_RECORD, numbers, dtype=pl.Int64()))
    return _Raw(frame, rejected, records=records, record_lines=lines)


def _read_parquet(path: Path) -> _Raw:
    try:
        frame = pl.scan_parquet(path).collect()
    except (pl.exceptions.PolarsError, OSError, ValueError) as error:
        raise LoadError(path, f"cannot read as Parquet: {str(error).splitlines()[0][:200]}") from None
    return _whole(frame)


# --------------------------------------------------------------------------------------------------
# parsing the mapped columns (vectorised)


def _as_text(column: pl.Series) -> pl.Series:
    """A column as trimmed text (whatever its type), empty -> null."""
    text = column if column.dtype == pl.String else column.cast(pl.String, strict=False)
    text = text.str.strip_chars()
    return text.set(text == "", None)  # type: ignore[arg-type]


def _parse_only(target: pl.Series, todo: pl.Series, parse: Any) -> pl.Series:
    """``target`` with the ``todo`` rows filled by ``parse(rows)`` (so costly parsers see only what is left)."""
    if not todo.any():
        return target
    positions = todo.arg_true()
    return target.scatter(positions, parse(positions))


def _bool_like(column: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(parsed Boolean, invalid) for a boolean-like column."""
    if column.dtype == pl.Boolean:
        return column, pl.Series([False] * column.len(), dtype=pl.Boolean())
    key = _as_text(column).str.to_lowercase()
    parsed = pl.select(truth_value(pl.lit(key))).to_series()
    return parsed, key.is_not_null() & parsed.is_null()


def _score(column: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(Int64 score, invalid): integers, or integral floats/strings like "12.0"."""
    if column.dtype.is_integer():
        value = column.cast(pl.Int64, strict=False)
        return value, column.is_not_null() & value.is_null()
    text = _as_text(column)
    value = text.cast(pl.Int64, strict=False)

    def integral(positions: pl.Series) -> pl.Series:
        as_float = text.gather(positions).cast(pl.Float64, strict=False)
        ok = as_float.is_finite() & (as_float == as_float.round(0)) & (as_float.abs() < 2.0**63)
        return as_float.set(~ok.fill_null(False), None).cast(pl.Int64, strict=False)  # type: ignore[arg-type]

    value = _parse_only(value, value.is_null() & text.is_not_null(), integral)
    return value, text.is_not_null() & value.is_null()


def _created_at(column: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(UTC datetime, invalid) from epoch seconds or ISO-8601 text (or a Parquet datetime/date/number)."""
    dtype = column.dtype
    if isinstance(dtype, (pl.Datetime, pl.Date)):
        if isinstance(dtype, pl.Date) or dtype.time_zone is None:
            value = column.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
        else:
            value = column.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
        return value, pl.Series([False] * column.len(), dtype=pl.Boolean())
    text = _as_text(column)
    value = parse_times(text, "created_at")[0].cast(pl.Datetime("us", "UTC"))
    return value, text.is_not_null() & value.is_null()


def _unescape_html(text: pl.Series) -> pl.Series:
    """HTML entities decoded (``&gt;`` -> ``>``); only values holding an entity go through :func:`html.unescape`."""
    mask = text.str.contains(_ENTITY).fill_null(False)
    return _parse_only(text, mask,
                       lambda rows: text.gather(rows).map_elements(html.unescape, return_dtype=pl.String))


#: The typed fields' column parsers, in the order a row's first bad field is reported.
_PARSERS = {"is_post": _bool_like, "removed": _bool_like, "deleted": _bool_like, "created_at": _created_at,
            "score": _score}


def _resolve_mapping(path: Path, names: list[str], columns: Mapping[str, Any] | None) -> dict[str, str]:
    """field -> source column: the mapping first, then a column named like the field."""
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(FIELDS))
    if unknown:
        raise LoadError(
            path, f"unknown field(s) {unknown} in columns; known: {', '.join(FIELDS)}", field="columns"
        )
    mapping: dict[str, str] = {}
    for name in FIELDS:
        if name in columns:
            source = columns[name]
            if source is None:
                continue
            if not isinstance(source, str) or source not in names:
                raise LoadError(
                    path,
                    f"column {source!r} (for {name}) is not in the file; its columns: {names}",
                    field=f"columns.{name}",
                )
            mapping[name] = source
        elif name in names:
            mapping[name] = name
    if len(set(mapping.values())) != len(mapping):
        raise LoadError(path, f"one column mapped to two fields: {mapping}", field="columns")
    return mapping


def _require_text(path: Path, names: list[str], mapping: dict[str, str],
                  columns: Mapping[str, Any] | None) -> None:
    """Stop a table without text (every analysis reads it; loading it would leave text null in every row)
    unless ``text: null`` switched it off on purpose; the error lists the file's columns and the ``columns:``
    mapping to write, with the usual names guessed."""
    if "text" in mapping or "text" in (columns or {}):
        return
    used = set(mapping.values())
    suggested: dict[str, str] = {}
    for name, usual in _USUAL_NAMES.items():
        if name in mapping:
            suggested[name] = mapping[name]
            continue
        lowered = {c.lower(): c for c in names if c not in used}
        guess = next((lowered[u] for u in usual if u in lowered), None)
        if guess is not None:
            suggested[name] = guess
            used.add(guess)
        elif name in ("text", "thread_id", "parent_id", "comment_id"):
            suggested[name] = "<column>"
    lines = "".join(f"\n    {name}: {source}" for name, source in suggested.items())
    raise LoadError(path, f"no text column among the file's columns {names}. Map them in the dataset's "
                          f"options (a field left out uses a column of its own name), e.g.\n  columns:{lines}"
                          "\nor set text: null to load the table without text on purpose", field="columns.text")


def _canonical(
    raw: pl.DataFrame,
    mapping: dict[str, str],
    *,
    thread_id: str,
    platform: str,
    html_unescape: bool,
    normalize_newlines: bool,
) -> pl.DataFrame:
    """The canonical columns plus ``_error_field``/``_error_value`` (null when the row parsed).

    Each field is parsed once, eagerly, as a Series; costly parsers (ISO timestamps, float scores) only see
    the values the cheap ones could not read.
    """
    n = raw.height
    out = {name: _as_text(raw[mapping[name]]) for name in ("comment_id", "thread_id", "parent_id", "author")
           if name in mapping}
    # (field, invalid) in the order fields are reported: a mapped id must be there
    errors = [(name, out[name].is_null()) for name in ("comment_id", "thread_id") if name in out]
    out.setdefault("comment_id", (raw[_RECORD] + 1).cast(pl.String))
    out.setdefault("thread_id", pl.Series([thread_id] * n, dtype=pl.String()))
    if "author" in out:
        out["author"] = out["author"].set(out["author"] == DELETED_AUTHOR, None)  # type: ignore[arg-type]
    for name, parse in _PARSERS.items():
        if name in mapping:
            out[name], invalid = parse(raw[mapping[name]])
            errors.append((name, invalid))

    error_field = pl.Series([None] * n, dtype=pl.String())
    error_value = pl.Series([None] * n, dtype=pl.String())
    for name, invalid in reversed(errors):  # the first failing field wins
        invalid = invalid.fill_null(False)
        if invalid.any():
            error_field = error_field.set(invalid, name)  # type: ignore[arg-type]
            source = raw[mapping[name]].cast(pl.String, strict=False)
            error_value = error_value.zip_with(~invalid, source)

    false = pl.Series([False] * n, dtype=pl.Boolean())
    placeholder_removed = placeholder_deleted = false
    text = pl.Series([None] * n, dtype=pl.String())
    if "text" in mapping:
        text = raw[mapping["text"]].cast(pl.String, strict=False)
        if normalize_newlines:
            text = text.str.replace_all("\r\n", "\n", literal=True)
        if html_unescape:
            text = _unescape_html(text)
        key = text.str.strip_chars().str.to_lowercase()
        placeholder_removed = key.is_in(sorted(REMOVED_PLACEHOLDERS)).fill_null(False)
        placeholder_deleted = key.is_in(sorted(DELETED_PLACEHOLDERS)).fill_null(False)
        text = text.set(placeholder_removed | placeholder_deleted, None)  # type: ignore[arg-type]
    removed = out.get("removed", false).set(placeholder_removed, True)  # type: ignore[arg-type]
    deleted = out.get("deleted", false).set(placeholder_deleted, True)  # type: ignore[arg-type]
    if "is_post" in out:
        is_post = out["is_post"].fill_null(False)
    elif "thread_id" in mapping:  # the row whose id is its thread's (with no parent, when the file has parents)
        no_parent = out["parent_id"].is_null() if "parent_id" in out else ~false
        is_post = ((out["comment_id"] == out["thread_id"]) & no_parent).fill_null(False)
    else:
        is_post = false
    if "parent_id" in out:  # the file has reply links: a comment with a blank parent answers the post
        not_the_post = (out["comment_id"] != out["thread_id"]).fill_null(False)
        top_level = out["parent_id"].is_null() & ~is_post & not_the_post
        out["parent_id"] = out["thread_id"].zip_with(top_level, out["parent_id"])
    columns = {
        **out,
        "text": text,
        "removed": removed,
        "deleted": deleted,
        "is_post": is_post,
        "platform": pl.Series([platform] * n, dtype=pl.String()),
        "source_position": raw[_RECORD],
        "_error_field": error_field,
        "_error_value": error_value,
    }
    return raw.with_columns(series.alias(name) for name, series in columns.items())


# --------------------------------------------------------------------------------------------------
# the loader


def _file_type(path: Path, file_type: str | None) -> FileType:
    if file_type is not None:
        if file_type not in ("csv", "tsv", "parquet", "jsonl"):
            raise LoadError(
                path, f"file_type must be csv, tsv, parquet or jsonl, got {file_type!r}", field="file_type"
            )
        return file_type  # type: ignore[return-value]
    suffix = path.suffix.lower()
    if suffix in SUFFIXES:
        return SUFFIXES[suffix]
    raise LoadError(
        path,
        f"cannot tell the table type from {suffix!r}; pass file_type=csv|tsv|parquet|jsonl",
        field="file_type",
    )


def read_table(
    path: str | Path,
    *,
    columns: Mapping[str, str | None] | None = None,
    file_type: FileType | None = None,
    separator: str | None = None,
    encoding: str = "utf-8",
    html_unescape: bool = False,
    normalize_newlines: bool = True,
    thread_id: str | None = None,
    platform: str = "table",
    keep_columns: bool = True,
    strict: bool = False,
) -> LoadResult:
    """Load one table (see the module docstring); ``stats["records"] == frame.height + rejects.height``.

    ``file_type`` defaults from the suffix (.csv, .tsv/.tab, .parquet/.pq, .jsonl/.ndjson); ``separator``
    defaults to "," for CSV and a tab for TSV; ``encoding`` applies to CSV/TSV. Repeated ids keep the last
    version (``stats["duplicates"]``, one reject each).
    """
    path = Path(path)
    if path.is_dir():
        raise LoadError(path, "expected a table file, got a directory")
    if not path.is_file():
        raise LoadError(path, "no such file")
    kind = _file_type(path, file_type)
    raw, line_of = _read_raw(path, kind, separator, encoding)
    names = [c for c in raw.frame.columns if c != _RECORD]
    mapping = _resolve_mapping(path, names, columns)
    _require_text(path, names, mapping, columns)
    # the source columns live under private names while the canonical ones are built beside them
    frame = _canonical(
        raw.frame.rename({c: _SRC + c for c in names}),
        {name: _SRC + source for name, source in mapping.items()},
        thread_id=thread_id or path.stem,
        platform=platform,
        html_unescape=html_unescape,
        normalize_newlines=normalize_newlines,
    )
    pending: list[tuple[int | None, str | None, str]] = list(raw.rejected)
    frame, duplicates = _settle_rows(frame, mapping, line_of, pending)
    rejects = Rejects(strict=strict)
    for line, name, reason in sorted(pending, key=lambda item: (item[0] is None, item[0] or 0)):
        rejects.add(path, line, name, reason)
    extras = [c for c in names if c not in mapping.values()] if keep_columns else []
    renamed = {_SRC + c: (f"src_{c}" if c in SOURCE_SCHEMA else c) for c in extras}
    frame = conform(
        frame.select(
            *[c for c in SOURCE_SCHEMA if c in frame.columns],
            *[pl.col(source).alias(name) for source, name in renamed.items()],
        )
    )
    stats = {
        "records": raw.records,
        "rows_kept": frame.height,
        "rows_rejected": len(rejects.rows),
        "blank_lines": raw.blank_lines,
        "duplicates": duplicates,
        "columns": mapping,
        "file_type": kind,
    }
    return LoadResult(frame=frame, rejects=rejects.frame(), stats=stats, files=[path])


def _read_raw(path: Path, kind: FileType, separator: str | None, encoding: str
              ) -> tuple[_Raw, Callable[[int], int | None]]:
    """The table as read, and the 1-based line of a record (by its position among those read), found only
    when a reject needs it."""
    sep = ""
    if kind in ("csv", "tsv"):
        sep = separator if separator is not None else ("," if kind == "csv" else "\t")
        if len(sep) != 1:
            raise LoadError(path, f"separator must be one character, got {sep!r}", field="separator")
        raw = _read_delimited(path, sep, encoding)
    elif kind == "parquet":
        raw = _read_parquet(path)
    else:
        raw = _read_jsonl(path)

    @functools.cache
    def record_lines() -> list[int]:
        """1-based line of every record read (kept ones), computed only when a reject needs it."""
        if raw.record_lines is not None:
            return raw.record_lines
        if kind in ("csv", "tsv"):
            return _csv_lines(path, encoding, sep)
        if kind == "jsonl":  # a JSON-lines record is a non-blank line
            return [line.number for line in iter_json_lines(path)]
        return list(range(1, raw.frame.height + 1))

    def line_of(position_in_raw: int) -> int | None:
        lines = record_lines()
        return lines[position_in_raw] if position_in_raw < len(lines) else None

    return raw, line_of


def _settle_rows(frame: pl.DataFrame, mapping: dict[str, str], line_of: Callable[[int], int | None],
                 pending: list[tuple[int | None, str | None, str]]) -> tuple[pl.DataFrame, int]:
    """The rows that parsed, repeated ids settled (the last version kept); each row left out is added to
    ``pending`` as (line, field, reason). Returns (rows, repeats dropped)."""
    frame = frame.with_row_index("_raw_row")
    bad = frame.filter(pl.col("_error_field").is_not_null())
    for raw_row, name, value in bad.select("_raw_row", "_error_field", "_error_value").iter_rows():
        source = mapping[name]
        reason = (
            f"missing value in column {source!r}"
            if value in (None, "")
            else f"cannot parse {value!r:.60} (column {source!r})"
        )
        pending.append((line_of(raw_row), name, reason))
    frame = frame.filter(pl.col("_error_field").is_null())
    return drop_duplicates(
        frame, lambda row, reason: pending.append((line_of(row["_raw_row"]), "comment_id", reason))
    )


def has_suffix(path: Path, suffixes: tuple[str, ...]) -> bool:
    """A file whose suffix is one of ``suffixes`` (the table formats are told by their suffix)."""
    return path.is_file() and path.suffix.lower() in suffixes
