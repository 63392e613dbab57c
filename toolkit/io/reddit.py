"""Reddit API comment pages (``/comments/<id>.json``), and the walk over API JSON shared with ``reddit_api``:
records are gathered with where they sit (line, position, depth), then normalised per file by the rules of
:mod:`toolkit.io.reddit_rules` and checked against the page's nesting.

>>> result = read_reddit_page("data/reddit_sample_57dw9a.json")
>>> result.frame.height, result.stats["more_stubs"]
(146, 1)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.io.api_archive import head
from toolkit.io.base import LoadError, LoadResult, Rejects
from toolkit.io.reddit_rules import (
    PRIVATE,
    REDDIT_EXTRA_SCHEMA,
    REDDIT_SCHEMA,
    HtmlUnescape,
    Kind,
    check_types,
    normalize_records,
    normalize_reddit_comment,
    normalize_reddit_post,
)
from toolkit.io.stream import loads_deep, parse_json_document, read_bytes
from toolkit.schema import conform

__all__ = [
    "REDDIT_EXTRA_SCHEMA", "REDDIT_SCHEMA", "RecordWalk", "normalize_reddit_comment", "normalize_reddit_post",
    "read_reddit_page",
]  # fmt: skip


def listing_children(listing: Any) -> list[Any] | None:
    """The ``children`` of a ``{"kind": "Listing", "data": {"children": [...]}}``, or None if not one."""
    if not isinstance(listing, dict) or listing.get("kind") != "Listing":
        return None
    data = listing.get("data")
    children = data.get("children") if isinstance(data, dict) else None
    return children if isinstance(children, list) else None


def iter_forest(children: list[Any]) -> Iterator[tuple[Any, int]]:
    """(child, nesting depth) in depth-first page order, iteratively (threads can be thousands deep)."""
    stack: list[tuple[Any, int]] = [(child, 1) for child in reversed(children)]
    while stack:
        child, depth = stack.pop()
        yield child, depth
        if isinstance(child, dict) and child.get("kind") == "t1" and isinstance(child.get("data"), dict):
            nested = listing_children(child["data"].get("replies"))
            if nested:
                stack.extend((grandchild, depth + 1) for grandchild in reversed(nested))


def is_page(value: Any) -> bool:
    """A comment page: a two-element array of Listings, the first holding a t3 post."""
    if not isinstance(value, list) or len(value) != 2:
        return False
    posts = listing_children(value[0])
    first = posts[0] if posts else None
    return isinstance(first, dict) and first.get("kind") == "t3" and listing_children(value[1]) is not None


def looks_like_reddit_page(path: Path) -> bool:
    """A ``.json`` whose top level is a 2-element array of Listings, the first holding a t3 post."""
    try:
        if path.suffix.lower() != ".json" or not path.is_file():
            return False
        if path.stat().st_size > 256 * 2**20:  # a comment page is kilobytes; never parse a dump to detect
            return False
        start = head(path, 4096).lstrip()
        if not start.startswith(b"[") or b'"Listing"' not in start:
            return False
        return is_page(loads_deep(path.read_bytes().decode("utf-8-sig")))
    except (OSError, ValueError, AttributeError, TypeError, RecursionError, MemoryError):
        return False


def page_stats() -> dict[str, Any]:
    """The counters a walk over pages updates (the page loader's ``stats``)."""
    names = ("records", "more_stubs", "more_children_ids", "continue_thread_stubs", "depth_fields",
             "depth_mismatches", "parent_mismatches")  # fmt: skip
    return dict.fromkeys(names, 0)


@dataclass
class _PageComment:
    """What the page's nesting says about one comment, checked once the comment is normalised."""

    order: int  # the record's place in the walk
    position: int
    depth: int
    depth_field: Any
    parent: int | None  # position of the enclosing comment; None at depth 1 (the post)
    page: int  # index of the page (its posts' positions) in RecordWalk.pages
    parent_id: Any
    replies_bad: bool


@dataclass
class RecordWalk:
    """Reddit records of one file met while walking its JSON, with where they sit; :meth:`finish` normalises them.

    ``line`` is the record number (or JSON line) a reject names; ``row_line`` (default ``line``) the one the
    duplicate check reports; ``position`` the row's ``source_position``. Rejects are handed on in walk order.
    """

    path: Path
    file_index: int
    rejects: Rejects
    stats: dict[str, Any]
    html_unescape: HtmlUnescape = "auto"
    records: dict[Kind, list[dict[str, Any]]] = field(default_factory=lambda: {"comments": [], "submissions": []})
    where: dict[Kind, dict[str, list[Any]]] = field(
        default_factory=lambda: {k: {"_line": [], "_position": [], "_depth": []} for k in ("comments", "submissions")}
    )
    found: list[tuple[float, int | None, str | None, str]] = field(default_factory=list)  # (order, line, field, reason)
    lines: list[tuple[int, int]] = field(default_factory=list)  # per walk order: (reject line, row line)
    page_of: list[int | None] = field(default_factory=list)  # per comment: its page (the thread fallback)
    pages: list[list[int]] = field(default_factory=list)  # per page: its posts' positions
    checks: list[_PageComment] = field(default_factory=list)

    def reject(self, line: int | None, field: str | None, reason: str) -> None:
        """A record rejected while walking."""
        self.found.append((len(self.lines), line, field, reason))
        self.lines.append((line or 0, line or 0))

    def add(self, kind: Kind, data: Any, line: int, position: int, depth: int | None,
            row_line: int | None = None, page: int | None = None) -> bool:  # fmt: skip
        """Keep a record for :meth:`finish`, or reject it now when its types are wrong; whether it was kept."""
        problem = check_types(data, kind)
        if problem is not None:
            self.reject(line, *problem)
            return False
        self.records[kind].append(data)
        for name, value in (("_line", len(self.lines)), ("_position", position), ("_depth", depth)):
            self.where[kind][name].append(value)
        self.lines.append((line, row_line or line))
        if kind == "comments":
            self.page_of.append(page)
        return True

    def walk_page(
        self, posts: list[Any], forest: list[Any], start: int, row_line: int | None = None, offset: int = 0
    ) -> int:
        """A comment page (its two Listings' children) from record ``start`` (0-based); returns the next one.

        Rejects name record numbers (record + 1), rows get ``source_position`` record + ``offset``; ``more``
        stubs are counted, never records.
        """
        stats, position, page = self.stats, start, len(self.pages)
        self.pages.append([])
        for child in posts:
            kind = child.get("kind") if isinstance(child, dict) else None
            stats["records"] += 1
            if kind != "t3":
                self.reject(position + 1, "kind", f"expected a t3 post in the first Listing, got {kind!r}")
            elif self.add("submissions", child.get("data"), position + 1, position + offset, 0, row_line):
                self.pages[page].append(position + offset)
            position += 1
        path_positions: list[int | None] = [None]  # position of the row at each nesting depth on the current path
        for child, depth in iter_forest(forest):
            kind = child.get("kind") if isinstance(child, dict) else None
            data = child.get("data") if isinstance(child, dict) else None
            del path_positions[depth:]
            if kind == "more":
                self.count_more(data)
                continue
            stats["records"] += 1
            kept = kind == "t1" and self.add("comments", data, position + 1, position + offset, depth, row_line, page)
            if kind != "t1":
                self.reject(position + 1, "kind", f"expected a t1 comment or a more stub, got {kind!r:.40}")
            elif kept:
                replies = data.get("replies")
                self.checks.append(_PageComment(
                    len(self.lines) - 1, position + offset, depth, data.get("depth"),
                    path_positions[depth - 1] if depth > 1 else None, page, data.get("parent_id"),
                    replies not in (None, "") and listing_children(replies) is None,
                ))  # fmt: skip
            path_positions.append(position + offset if kept else None)
            position += 1
        return position

    def count_more(self, data: Any) -> None:
        """A ``more`` stub: counted (with the ids it stands for), never a row."""
        self.stats["more_stubs"] += 1
        more = data.get("children") if isinstance(data, dict) else None
        self.stats["more_children_ids"] += len(more) if isinstance(more, list) else 0
        self.stats["continue_thread_stubs"] += isinstance(data, dict) and data.get("id") == "_"

    def finish(self) -> pl.DataFrame:
        """Normalise the records gathered (posts first: they are the comments' thread fallback), check the pages,
        hand the rejects on in walk order. The frame keeps the private columns for the duplicate check.
        """
        posts = self._normalize("submissions", None)
        post_ids = dict(zip(posts["source_position"].to_list(), posts["comment_id"].to_list(), strict=True))
        page_thread = [next((post_ids[p] for p in page if p in post_ids), None) for page in self.pages]
        comments = self._normalize("comments", [None if p is None else page_thread[p] for p in self.page_of])
        kept = dict(zip(comments["source_position"].to_list(), comments["comment_id"].to_list(), strict=True))
        for check in self.checks:
            comment_id = kept.get(check.position)
            if comment_id is None:
                continue
            if isinstance(check.depth_field, int) and not isinstance(check.depth_field, bool):
                self.stats["depth_fields"] += 1
                self.stats["depth_mismatches"] += check.depth_field + 1 != check.depth
            if check.parent is None:
                thread = page_thread[check.page]
                expected = None if thread is None else f"t3_{thread}"
            else:
                expected = f"t1_{kept[check.parent]}" if check.parent in kept else None
            if expected is not None and check.parent_id != expected:
                self.stats["parent_mismatches"] += 1
            if check.replies_bad:  # the replies are lost: one rejected record, so records == kept + rejected
                self.stats["records"] += 1
                line = self.lines[check.order][0]
                self.found.append((check.order + 0.5, line, "replies", f"comment {comment_id}: replies is not a Listing"))
        for _, line, field_name, reason in sorted(self.found, key=lambda item: item[0]):
            self.rejects.add(self.path, line, field_name, reason)
        return pl.concat([posts, comments]).sort("source_position")

    def _normalize(self, kind: Kind, threads: list[str | None] | None) -> pl.DataFrame:
        """One kind's records through the rules; their rejects join ``found`` at their walk order."""
        where = dict(self.where[kind])  # "_line" holds walk orders here, so that rejects come back with theirs
        if threads is not None:
            where["_thread"] = threads
        found = Rejects()
        frame = normalize_records(self.records[kind], where, kind=kind, path=self.path, file_index=self.file_index,
                                  rejects=found, html_unescape=self.html_unescape)  # fmt: skip
        self.found.extend((r["line"], self.lines[r["line"]][0], r["field"], r["reason"]) for r in found.rows)
        row_lines = pl.Series([row_line for _, row_line in self.lines], dtype=pl.Int64)
        return frame.with_columns(row_lines.gather(frame["_line"]).alias("_line"))


def read_reddit_page(path: str | Path, *, strict: bool = False, html_unescape: HtmlUnescape = "auto") -> LoadResult:
    """Load one API comment page (``/comments/<id>.json``): the post, then the comment forest in page order.

    Depth comes from the nesting (column ``source_reply_depth``, post 0); a comment's own ``depth`` field,
    when present, is only checked against it (``stats["depth_mismatches"]``), as is its ``parent_id``
    (``stats["parent_mismatches"]``). ``more`` stubs are counted (``more_stubs``, ``more_children_ids``,
    ``continue_thread_stubs``), never turned into rows. Rejected records are reported with their record
    number (1-based page order, post first; ``source_position`` keeps page order, gaps where rejected).
    """
    path = Path(path)
    document = parse_json_document(path, read_bytes(path))
    pair = document if isinstance(document, list) and len(document) == 2 else [None, None]
    posts, comments = listing_children(pair[0]), listing_children(pair[1])
    if posts is None or comments is None:
        raise LoadError(path, "not a Reddit comment page: expected a JSON array of two Listings")
    walk = RecordWalk(path, 0, Rejects(strict=strict), page_stats(), html_unescape)
    walk.walk_page(posts, comments, 0)
    frame = conform(walk.finish().drop(list(PRIVATE)))
    walk.stats.update(rows_kept=frame.height, rows_rejected=len(walk.rejects.rows))
    return LoadResult(frame=frame, rejects=walk.rejects.frame(), stats=walk.stats, files=[path])
