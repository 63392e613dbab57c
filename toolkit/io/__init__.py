"""Loaders: one module per source format, each returning a :class:`LoadResult` of canonical source columns.

``LOADERS`` maps each ``format=`` name to its loader and ``DETECTORS`` each auto-detected format to the test
that recognises its files: a new loader is one module plus one line in each.

>>> detect_format("data/seed_thread.txt")
'text'
>>> load_source("data/seed_thread.txt").frame.height
13
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from toolkit.io import convokit, lemmy, reddit, reddit_api, reddit_dump, table, text_thread
from toolkit.io.base import LoadError, LoadResult, Rejects

__all__ = ["DETECTORS", "LOADERS", "LoadError", "LoadResult", "Rejects", "detect_format", "formats", "load_source"]

LOADERS: dict[str, Callable[..., LoadResult]] = {
    "convokit": convokit.read_convokit,
    "lemmy": lemmy.read_lemmy,
    "reddit_page": reddit.read_reddit_page,
    "reddit_api": reddit_api.read_reddit_api,
    "reddit_dump": reddit_dump.read_reddit_dump,
    "table": table.read_table,
    "csv": partial(table.read_table, file_type="csv"),
    "tsv": partial(table.read_table, file_type="tsv"),
    "parquet": partial(table.read_table, file_type="parquet"),
    "jsonl": partial(table.read_table, file_type="jsonl"),
    "text": text_thread.read_text_thread,
}
DETECTORS: dict[str, Callable[[Path], bool]] = {
    "convokit": convokit.looks_like_convokit,
    "lemmy": lemmy.looks_like_lemmy,
    "reddit_page": reddit.looks_like_reddit_page,
    "reddit_api": reddit_api.looks_like_api,
    "reddit_dump": reddit_dump.looks_like_dump,
    "csv": partial(table.has_suffix, suffixes=(".csv",)),
    "tsv": partial(table.has_suffix, suffixes=(".tsv", ".tab")),
    "parquet": partial(table.has_suffix, suffixes=(".parquet", ".pq")),
    "text": text_thread.looks_like_text,
}


def formats() -> list[str]:
    """The names accepted as ``format=``."""
    return sorted(LOADERS)


def detect_format(path: str | Path) -> str:
    """The single format whose detector accepts ``path``; an error naming the candidates otherwise."""
    path = Path(path)
    if not path.exists():
        raise LoadError(path, "no such file or directory")
    matches = []
    for name, detect in DETECTORS.items():
        try:
            if detect(path):
                matches.append(name)
        except (OSError, ValueError):
            continue
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise LoadError(path, f"cannot tell the format; pass format=... (one of: {', '.join(formats())})")
    raise LoadError(path, f"ambiguous format ({', '.join(matches)}); pass format=...")


def load_source(path: str | Path, format: str | None = None, **options: Any) -> LoadResult:
    """Run the loader for ``format`` (auto-detected when None) on ``path``."""
    name = format or detect_format(path)
    if name not in LOADERS:
        raise LoadError(path, f"unknown format {name!r}; known formats: {', '.join(formats())}", field="format")
    if not Path(path).exists():
        raise LoadError(path, "no such file or directory")
    try:
        return LOADERS[name](path, **options)
    except TypeError as err:
        if "keyword argument" in str(err):
            raise LoadError(path, f"loader {name!r} does not take that option: {err}", field="options") from err
        raise
