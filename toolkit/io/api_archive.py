"""What the loaders of saved API responses share (Bluesky, Mastodon, Hacker News): the response files of a
file, folder or list (the fetchers' ``index.jsonl`` is not one, but says which URL each file answered), each
file's JSON values, thread roots from parent links, and the final frame (one row per id, repeats rejected).

>>> thread_roots({"c": "b", "b": "a", "a": None, "x": "gone"})
{'c': ('a', 2), 'b': ('a', 1), 'a': ('a', 0), 'x': ('gone', 1)}
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.io.base import LoadError, Rejects
from toolkit.io.dedupe import drop_duplicates
from toolkit.io.stream import iter_json_lines, looks_like_json_lines, parse_json_document, read_bytes
from toolkit.schema import SOURCE_SCHEMA, conform

#: The fetchers' list of saved responses (``toolkit.fetch.archive.INDEX_FILE``): not a response itself.
ARCHIVE_INDEX = "index.jsonl"
JSON_SUFFIXES = (".json", ".jsonl", ".ndjson")
NDJSON_SUFFIXES = (".jsonl", ".ndjson")
#: Private columns every row carries until :func:`finish_frame`: its file (an index) and line.
WHERE_SCHEMA: dict[str, pl.DataType] = {"source_line": pl.Int64(), "source_file": pl.String()}


def response_files(path: str | Path | Sequence[str | Path], what: str,
                   suffixes: Sequence[str] = JSON_SUFFIXES) -> list[Path]:
    """The response files of a file, a folder (its files ending in ``suffixes``, sorted) or a list of them;
    the archive index is left out. ``what`` names the files in the error when none is left.

    >>> [file.name for file in response_files("data/mastodon_synthetic", "Mastodon")][:2]
    ['context-112000000000000000.json', 'context-112000000001000003.json']
    """
    files: list[Path] = []
    for item in [path] if isinstance(path, (str, Path)) else path:
        item = Path(item)
        if not item.exists():
            raise LoadError(item, "no such file or directory")
        files += sorted(f for f in item.iterdir() if f.is_file() and not f.name.startswith(".")
                        and f.suffix.lower() in suffixes) if item.is_dir() else [item]
    files = [file for file in files if file.name != ARCHIVE_INDEX]
    if not files:
        raise LoadError(path if isinstance(path, (str, Path)) else path[0], f"no {what} here")
    return files


def folder_looks_like(path: Path, looks_like: Callable[[Path], bool]) -> bool | None:
    """Format detection shared by the API loaders: for a folder, whether one of its first 20 response files
    looks like the format; for a file that is not JSON, False; for a JSON file, None (the caller decides).

    >>> folder_looks_like(Path("data/seed_thread.txt"), lambda file: True)
    False
    """
    if path.is_dir():
        files = [f for f in sorted(path.iterdir()) if f.suffix.lower() in JSON_SUFFIXES and f.name != ARCHIVE_INDEX]
        return any(looks_like(file) for file in files[:20])
    if not path.is_file() or path.suffix.lower() not in JSON_SUFFIXES:
        return False
    return None


def index_entries(text: str) -> Iterator[dict[str, Any]]:
    """The entries of an archive index (its text) that name a file; a line cut by a killed fetch is skipped."""
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and isinstance(entry.get("file"), str):
            yield entry


def archive_urls(files: Sequence[Path]) -> dict[Path, str]:
    """The URL each file answered, from the ``index.jsonl`` beside it (when there is one)."""
    urls: dict[Path, str] = {}
    for folder in {file.parent for file in files}:
        index = folder / ARCHIVE_INDEX
        if index.is_file():
            for entry in index_entries(index.read_text(encoding="utf-8", errors="replace")):
                if isinstance(entry.get("url"), str):
                    urls[folder / entry["file"]] = entry["url"]
    return urls


def head(path: Path, size: int = 1 << 16) -> bytes:
    """The first bytes of a file (for format detection)."""
    with path.open("rb") as handle:
        return handle.read(size)


def json_lines_file(path: Path) -> bool:
    """Whether a file holds JSON lines (by its suffix or its first lines), not one JSON document; an empty
    file is a :class:`LoadError`."""
    start = head(path)
    if not start.strip():
        raise LoadError(path, "empty file")
    return path.suffix.lower() in NDJSON_SUFFIXES or looks_like_json_lines(start)


def iter_values(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    """``(line or 1, value, error)`` for a JSON document (one value; a malformed document is a
    :class:`LoadError` naming the file) or each line of NDJSON (a bad line yields its error)."""
    if json_lines_file(path):
        for line in iter_json_lines(path):
            yield line.number, line.value, line.error
        return
    yield 1, parse_json_document(path, read_bytes(path)), None


def iter_responses(files: Sequence[Path],
                   rejects: Rejects) -> Iterator[tuple[Path, int, Any, dict[str, Any]]]:
    """``(file, line, value, where)`` for each JSON value of ``files`` (:func:`iter_values`), a bad NDJSON
    line rejected; ``where`` holds the private columns of the rows the value gives (``source_line``, ...)."""
    for number, file in enumerate(files):
        for line, value, error in iter_values(file):
            if error is not None:
                rejects.add(file, line, None, error)
                continue
            yield file, line, value, {"source_line": line, "source_file": file.name, "_file": number}


def thread_roots(parents: dict[str, str | None]) -> dict[str, tuple[str, int]]:
    """``id -> (root, hops)``: the top of each id's chain of parents, following links while the parent is
    known; a parent missing from ``parents`` is the root (the thread's post, not in the data). A cycle ends
    where it closes."""
    roots: dict[str, tuple[str, int]] = {}
    for start in parents:
        chain: list[str] = []
        seen: set[str] = set()
        node: str | None = start
        while node in parents and node not in roots and node not in seen:
            chain.append(node)
            seen.add(node)
            if parents[node] is None:
                break
            node = parents[node]
        if node in roots:
            (root, base), tail = roots[node], chain
        elif node in seen:  # the top (no parent), or where a cycle closes
            root, base, tail = node, 0, chain[:chain.index(node)]
            roots[node] = (node, 0)
        else:  # a parent not in the data
            root, base, tail = str(node), 0, chain
        for hops, item in enumerate(reversed(tail), start=1):
            roots[item] = (root, base + hops)
    return {key: roots[key] for key in parents}


def finish_frame(rows: list[dict[str, Any]], extra: dict[str, pl.DataType], files: Sequence[Path],
                 rejects: Rejects, weak: str | None = None) -> tuple[pl.DataFrame, int]:
    """The canonical frame of ``rows`` (source columns, then ``extra``): ``source_position`` in row order,
    one row per (thread_id, comment_id) (the later row wins, except that a row whose ``weak`` column is
    true loses to one where it is not; each copy dropped is a reject naming its file and line). Rows carry
    ``_file`` (an index into ``files``). Returns (frame, copies dropped)."""
    schema = {**SOURCE_SCHEMA, **extra, "_file": pl.Int64()}
    frame = conform(pl.DataFrame(rows, schema=schema, strict=False) if rows else pl.DataFrame(schema=schema), schema)
    frame = frame.with_columns(source_position=pl.int_range(pl.len(), dtype=pl.Int64))
    if weak is not None:
        frame = frame.sort(pl.col(weak).fill_null(False).not_(), maintain_order=True)
    frame, copies = drop_duplicates(frame, lambda row, reason: rejects.add(files[row["_file"]], row["source_line"],
                                                                           "id", reason))
    return frame.drop("_file").sort("source_position"), copies
