"""Reddit API JSON beyond one comment page: directories of pages, single objects, arrays, Listings, JSON lines.

What ``format="reddit_api"`` reads (a file, or a directory of ``.json``/``.jsonl``/``.ndjson`` files, sorted):

- comment pages (``/comments/<id>.json``: two Listings), through the page loader's own walker, so depth,
  ``more`` stubs and checks are the page loader's;
- single objects, wrapped (``{"kind": "t1", "data": {...}}``, ``t3`` for posts, ``more`` stubs counted)
  or bare (a comment's or post's ``data`` object alone), with any nested ``replies``;
- a Listing (``{"kind": "Listing", "data": {"children": [...]}}``, e.g. ``/r/sub/comments.json``);
- JSON arrays of any of these, and JSON lines (``.jsonl``/``.ndjson``) holding one per line.

Records go through the rules of :mod:`toolkit.io.reddit_rules` (removal:
body ``[removed]``, ``removed_by_category``, ``banned_by``, ``removal_reason``, ``removed`` true; deletion:
body ``[deleted]``; author ``[deleted]`` with text only means the account is gone). A comment's depth
(``source_reply_depth``, post 0) comes from the page nesting, else from its own ``depth`` field + 1 (and
nesting below it); it is used for comments whose parent is not in the data. The same comment or post
met twice (a thread fetched twice, a page and a single object) keeps the last version read; earlier
copies are rejected as duplicates and counted in ``stats["duplicates"]``. Rejects carry the record number
(1-based, in file order) for JSON documents and the line number for JSON lines.

>>> result = read_reddit_api("data/reddit_sample_57dw9a.json")  # one page; a directory of them reads the same
>>> result.frame.height, result.stats["pages"], result.stats["duplicates"]
(146, 1, 0)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.io.api_archive import JSON_SUFFIXES, NDJSON_SUFFIXES
from toolkit.io.base import LoadError, LoadResult, Rejects
from toolkit.io.dedupe import dedupe_versions
from toolkit.io.reddit import RecordWalk, is_page, iter_forest, listing_children, page_stats
from toolkit.io.reddit_rules import PRIVATE, REDDIT_SCHEMA, HtmlUnescape, record_kind, resolve_threads
from toolkit.io.stream import (
    files_in,
    iter_json_lines,
    loads_deep,
    looks_like_json_lines,
    parse_json_document,
    read_bytes,
)

_MAX_DETECT_BYTES = 256 * 2**20


def _object_kind(value: Any) -> str | None:
    """``"t1"``, ``"t3"``, ``"more"``, ``"Listing"``, ``"page"`` for the Reddit shapes this loader reads, else None."""
    if is_page(value):
        return "page"
    if not isinstance(value, dict):
        return None
    kind = value.get("kind")
    if kind in ("t1", "t3", "more") and isinstance(value.get("data"), dict):
        return kind
    if kind == "Listing" and listing_children(value) is not None:
        return "Listing"
    return {"comments": "t1", "submissions": "t3"}.get(record_kind(value) or "")


def looks_like_api(path: Path) -> bool:
    """Reddit API JSON that is not a single comment page (that one is ``reddit_page``'s)."""
    if path.is_dir():
        files = [p for p in sorted(path.iterdir()) if p.is_file() and p.suffix.lower() in JSON_SUFFIXES]
        if not files:
            return False
        others = [p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and p not in files]
        return not others and all(_file_is_api(p, in_directory=True) for p in files[:8])
    return path.is_file() and _file_is_api(path, in_directory=False)


def _file_is_api(path: Path, *, in_directory: bool) -> bool:
    """One file: wrapped objects as JSON lines, or a JSON document of the shapes read (a lone page only in a directory)."""
    suffix = path.suffix.lower()
    if suffix not in JSON_SUFFIXES or path.stat().st_size > _MAX_DETECT_BYTES:
        return False
    if suffix in NDJSON_SUFFIXES:
        with path.open("rb") as handle:
            for raw in handle:
                if raw.strip():
                    try:
                        value = json.loads(raw)
                    except ValueError:
                        return False
                    # bare objects, one per line, are a dump (reddit_dump); wrapped ones are API objects
                    return isinstance(value, dict) and _object_kind(value) in ("t1", "t3", "more", "Listing") and (
                        "data" in value
                    )
        return False
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    if head.removeprefix(b"\xef\xbb\xbf").lstrip()[:1] not in (b"[", b"{") or looks_like_json_lines(head):
        return False
    try:
        value = loads_deep(path.read_bytes().decode("utf-8-sig"))
    except (ValueError, RecursionError, MemoryError):
        return False
    kind = _object_kind(value)
    if kind == "page":
        return in_directory  # a lone page file is reddit_page's; a directory of them is ours
    if kind is not None:
        return True
    return isinstance(value, list) and bool(value) and all(_object_kind(item) is not None for item in value[:50])


class _ApiLoad:
    """One ``reddit_api`` load: walks every file into its records (positions counted across files)."""

    def __init__(self, strict: bool, html_unescape: HtmlUnescape):
        self.rejects = Rejects(strict=strict)
        self.html_unescape = html_unescape
        self.frames: list[pl.DataFrame] = []
        self.files: list[Path] = []
        self.stats: dict[str, Any] = {**page_stats(), "pages": 0, "objects": 0}
        self.position = 0

    def read_file(self, path: Path) -> None:
        """One file: JSON lines record by record, else one JSON document (broken documents are LoadErrors)."""
        self.walk = RecordWalk(path, len(self.files), self.rejects, self.stats, self.html_unescape)
        self.files.append(path)
        if path.suffix.lower() in NDJSON_SUFFIXES:
            self._read_lines(path)
        else:
            value = parse_json_document(path, read_bytes(path))
            try:
                self._read_value(value, path, [0], top=True)
            except RecursionError:
                raise LoadError(path, "arrays or Listings nested too deeply to be Reddit API JSON") from None
        self.frames.append(self.walk.finish())

    def _read_lines(self, path: Path) -> None:
        """JSON lines: a line that is not JSON is one rejected record, numbered by its line."""
        for line in iter_json_lines(path, all_bad_is_error=False):
            if line.error is not None:
                self._reject_record(path, line.number, None, line.error)
                continue
            try:
                self._read_value(line.value, path, [line.number - 1], top=True, fixed_line=line.number)
            except RecursionError:
                self._reject_record(path, line.number, None, "arrays or Listings nested too deeply")

    def _reject_record(self, path: Path, line: int, field: str | None, reason: str) -> None:
        """A record that never reached the rules: counted and rejected."""
        self.stats["records"] += 1
        self.walk.reject(line, field, reason)
        self.position += 1

    def _read_value(
        self, value: Any, path: Path, counter: list[int], *, top: bool = False, fixed_line: int | None = None
    ) -> None:
        """One JSON value: a page, a Listing, an object, or an array of them."""
        kind = _object_kind(value)
        if kind == "page":
            self.stats["pages"] += 1
            posts, forest = value[0]["data"]["children"], value[1]["data"]["children"]
            end = self.walk.walk_page(posts, forest, counter[0], fixed_line, offset=self.position - counter[0])
            self.position, counter[0] = self.position + end - counter[0], end
            return
        if kind == "Listing":
            for child in value["data"]["children"]:
                self._read_value(child, path, counter, fixed_line=fixed_line)
            return
        if kind in ("t1", "t3", "more"):
            self._read_object(value, kind, path, counter, fixed_line)
            return
        if isinstance(value, list) and (top or fixed_line is None):
            for item in value:
                self._read_value(item, path, counter, fixed_line=fixed_line)
            return
        counter[0] += 1
        what = type(value).__name__ if not isinstance(value, dict) else f"object with kind {value.get('kind')!r:.30}"
        self._reject_record(path, fixed_line or counter[0], "kind", f"not a Reddit comment, post or Listing: {what}")

    def _read_object(self, value: dict[str, Any], kind: str, path: Path, counter: list[int], fixed: int | None) -> None:
        """A t1 (with its nested replies), t3 or more object, wrapped or bare."""
        if kind == "t3":
            counter[0] += 1
            self.stats["records"] += 1
            self.stats["objects"] += 1
            data = value["data"] if "data" in value and "kind" in value else value
            self.walk.add("submissions", data, fixed or counter[0], self.position, 0)
            self.position += 1
            return
        wrapped = value if "kind" in value and "data" in value else {"kind": "t1", "data": value}
        base: int | None = None
        if kind == "t1":
            depth_field = wrapped["data"].get("depth")
            if isinstance(depth_field, int) and not isinstance(depth_field, bool):
                base = depth_field + 1
        for child, nesting in iter_forest([wrapped]):
            child_kind = child.get("kind") if isinstance(child, dict) else None
            data = child.get("data") if isinstance(child, dict) else None
            if child_kind == "more":
                self.walk.count_more(data)
                continue
            counter[0] += 1
            line = fixed or counter[0]
            if child_kind != "t1":
                self._reject_record(path, line, "kind", f"expected a t1 comment or a more stub, got {child_kind!r:.40}")
                continue
            self.stats["records"] += 1
            self.stats["objects"] += 1
            own = data.get("depth") if isinstance(data, dict) else None
            if isinstance(own, int) and not isinstance(own, bool):
                depth: int | None = own + 1
            else:
                depth = None if base is None else base + nesting - 1
            self.walk.add("comments", data, line, self.position, depth)
            self.position += 1


def read_reddit_api(path: str | Path, *, strict: bool = False, html_unescape: HtmlUnescape = "auto") -> LoadResult:
    """Load Reddit API JSON: a directory of comment pages, single comment/post objects, arrays, Listings, JSON lines.

    See the module docstring for the shapes and rules; ``stats`` counts records, pages, ``more`` stubs,
    depth checks (as the page loader) and ``duplicates``.
    """
    path = Path(path)
    if not path.exists():
        raise LoadError(path, "no such file or directory")
    if html_unescape not in (True, False, "auto"):
        raise LoadError(path, f"html_unescape must be true, false or 'auto', got {html_unescape!r}", field="html_unescape")
    load = _ApiLoad(strict, html_unescape)
    for file in files_in(path, JSON_SUFFIXES, "no .json/.jsonl/.ndjson files in this directory"):
        load.read_file(file)
    frame = pl.concat(load.frames) if load.frames else pl.DataFrame(schema={**REDDIT_SCHEMA, **PRIVATE})
    frame, load.stats["duplicates"] = dedupe_versions(frame, load.files, load.rejects)
    frame, load.stats["thread_unknown"] = resolve_threads(frame)
    frame = frame.drop(list(PRIVATE))
    load.stats.update(files=[str(p) for p in load.files], rows_kept=frame.height,
                      rows_rejected=len(load.rejects.rows))
    return LoadResult(frame=frame, rejects=load.rejects.frame(), stats=load.stats, files=list(load.files))
