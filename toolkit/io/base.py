"""What every loader returns: the frame, the rejected rows (file, line, field, reason) and counts.

>>> rejects = Rejects()
>>> rejects.add("t.csv", 3, "score", "not a number")
>>> rejects.frame()["reason"].to_list()
['not a number']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.errors import LoadError
from toolkit.schema import REJECTS_SCHEMA, empty_rejects

__all__ = ["LoadError", "LoadResult", "Rejects"]


@dataclass
class LoadResult:
    """A loader's output: the source columns of the canonical frame, the rejected rows, and counts.

    ``stats`` holds loader-specific counts for the manifest (e.g. ``more_stubs`` for Reddit pages).
    The invariant ``rows_in == frame.height + rejects.height`` always holds.
    """

    frame: pl.DataFrame
    rejects: pl.DataFrame = field(default_factory=empty_rejects)
    stats: dict[str, Any] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)

    @property
    def rows_in(self) -> int:
        return self.frame.height + self.rejects.height


class Rejects:
    """Collects rejected rows; with ``strict=True`` the first rejection raises :class:`LoadError`."""

    def __init__(self, strict: bool = False):
        self.strict = strict
        self.rows: list[dict[str, Any]] = []

    def add(self, path: str | Path, line: int | None, field: str | None, reason: str) -> None:
        if self.strict:
            raise LoadError(path, reason, line=line, field=field)
        self.rows.append({"file": str(path), "line": line, "field": field, "reason": reason})

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows, schema=REJECTS_SCHEMA) if self.rows else empty_rejects()

