"""Field parsing, one parser per kind of field: timestamps, integers, ids, typed optional values; per record
(raising :class:`FieldError` naming the field) and per column (a Series in, values and {row: reason} out).

>>> parse_time("2024-01-02T03:04:05Z", "created_utc")
datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
>>> parse_int("12", "score")
12
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

import polars as pl

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MIN_TS = (datetime(1, 1, 2, tzinfo=timezone.utc) - EPOCH).total_seconds()
_MAX_TS = (datetime(9999, 12, 30, tzinfo=timezone.utc) - EPOCH).total_seconds()
_INT_RE = re.compile(r"[+-]?\d+")
INT64_MAX = 2**63 - 1


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


def _optional(data: dict[str, Any], field: str, label: str | None, kind: type, expected: str) -> Any:
    """``data[field]`` when it is a ``kind`` or missing/null; a :class:`FieldError` naming ``label``
    otherwise."""
    value = data.get(field)
    if value is None or isinstance(value, kind):
        return value
    raise FieldError(label or field, f"expected {expected}, got {type(value).__name__} {value!r:.40}")


def opt_str(data: dict[str, Any], field: str, label: str | None = None) -> str | None:
    """``data[field]`` when it is a string or missing/null; a :class:`FieldError` otherwise."""
    return _optional(data, field, label, str, "a string")


def opt_bool(data: dict[str, Any], field: str, label: str | None = None) -> bool | None:
    """``data[field]`` when it is true/false or missing/null; a :class:`FieldError` otherwise."""
    return _optional(data, field, label, bool, "true/false")


def opt_dict(data: dict[str, Any], field: str, label: str | None = None) -> dict[str, Any] | None:
    """``data[field]`` when it is an object or missing/null; a :class:`FieldError` otherwise."""
    return _optional(data, field, label, dict, "an object")



def host(url: Any) -> str | None:
    """The host of a URL (a federated id): ``https://lemmy.world/comment/1`` -> ``lemmy.world``; None
    otherwise.

    >>> host("https://lemmy.world/comment/123"), host(None)
    ('lemmy.world', None)
    """
    return (urlsplit(url).netloc or None) if isinstance(url, str) else None


# --------------------------------------------------------------------------------------------------
# whole columns (values read as text): fast casts, the per-record parsers for the few rows left


def micros(stamp: datetime) -> int:
    """An aware datetime -> epoch microseconds, exactly.

    >>> micros(datetime(1970, 1, 1, 0, 0, 1, 5, tzinfo=timezone.utc))
    1000005
    """
    delta = stamp - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


_ISO_FORMATS = (
    ("%Y-%m-%dT%H:%M:%S%.f%#z", True),
    ("%Y-%m-%d %H:%M:%S%.f%#z", True),
    ("%Y-%m-%dT%H:%M:%S%.f", False),
    ("%Y-%m-%d %H:%M:%S%.f", False),
    ("%Y-%m-%dT%H:%M", False),
    ("%Y-%m-%d %H:%M", False),
    ("%Y-%m-%d", False),
)
RowErrors = dict[int, str]  # row -> reason, for the few bad rows of a chunk


def parse_times(values: pl.Series, field_name: str) -> tuple[pl.Series, RowErrors]:
    """Epoch seconds as read (int, float or numeric text; ISO text) -> microseconds (Int64), and errors.

    Integers (the dumps' usual ``created_utc``) are one cast; floats are rounded half to even like
    :func:`parse_time`; the usual ISO-8601 shapes are Polars' formats; what is left (other ISO text, padding,
    garbage) goes to :func:`parse_time`, row by row. Null and empty values stay null.

    >>> us, errors = parse_times(pl.Series(["1", "0.5", "1970-01-01T00:00:02Z", "soon", None]), "created_utc")
    >>> us.to_list(), errors
    ([1000000, 500000, 2000000, None, None], {3: "not a timestamp: 'soon'"})
    """
    as_int = values.cast(pl.Int64, strict=False)
    out = pl.select(pl.when(as_int.is_between(int(_MIN_TS), int(_MAX_TS))).then(as_int * 1_000_000)).to_series()
    rest = pl.select((values.is_not_null() & (values != "") & out.is_null()).arg_true()).to_series()
    errors: RowErrors = {}
    if rest.len() == 0:
        return out, errors
    floats = values.gather(rest).cast(pl.Float64, strict=False)
    fixed = pl.select(
        pl.when(floats.is_between(_MIN_TS, _MAX_TS)).then((floats * 1_000_000).round(0, mode="half_to_even"))
    ).to_series().cast(pl.Int64)
    texts = values.gather(rest)
    for fmt, aware in _ISO_FORMATS:  # the usual ISO shapes, vectorised; the per-record parser takes the rest
        todo = fixed.is_null()
        if not todo.any():
            break
        positions = todo.arg_true()
        parsed = texts.gather(positions).str.to_datetime(fmt, strict=False, time_unit="us", time_zone="UTC" if aware else None)
        fixed = fixed.scatter(positions, (parsed if aware else parsed.dt.replace_time_zone("UTC")).dt.epoch("us"))
    slow = pl.select(fixed.is_null().arg_true()).to_series()
    if slow.len():
        patched: list[int | None] = fixed.to_list()
        for i, value in zip(slow.to_list(), values.gather(rest.gather(slow)).to_list(), strict=True):
            try:
                stamp = parse_time(value, field_name)
            except FieldError as problem:
                errors[int(rest[i])] = str(problem)
                continue
            patched[i] = None if stamp is None else micros(stamp)
        fixed = pl.Series(patched, dtype=pl.Int64)
    return out.scatter(rest, fixed), errors


def parse_ints(values: pl.Series, field_name: str) -> tuple[pl.Series, RowErrors]:
    """Integers as read (``12``, ``"12"``; floats that are whole numbers come as their digits) and errors."""
    ints = values.cast(pl.Int64, strict=False)
    rest = pl.select((values.is_not_null() & ints.is_null()).arg_true()).to_series()
    errors: RowErrors = {}
    if rest.len() == 0:
        return ints, errors
    patched: list[int | None] = []
    for i, value in zip(rest.to_list(), values.gather(rest).to_list(), strict=True):
        try:
            patched.append(parse_int(value, field_name))
        except FieldError as problem:
            patched.append(None)
            errors[i] = str(problem)
    return ints.scatter(rest, pl.Series(patched, dtype=pl.Int64)), errors


