"""Hacker News items -> one frame: the official API's ``/v0/item/<id>.json`` responses as any tool saved them
(a file, a folder such as a ``toolkit-fetch hackernews`` archive, a glob), lists of items, NDJSON of them.

- One row per item (story, comment, poll, job, poll option): ``comment_id`` is ``hn:<id>`` (unique across
  platforms; ``native_id`` the bare id), ``parent_id`` the same of ``parent``, ``thread_id`` the top of the
  chain of parents among the loaded items (the story; a parent not loaded is taken as the root).
- ``dead`` -> ``removed`` (killed by moderators or by users' flags: ``removal_source`` is
  ``dead: killed by moderators or flags``); the text stays when the API sends it. ``deleted`` -> ``deleted``
  (the API sends no text or author then: both null).
- ``text`` is the HTML ``text`` as plain text (an HTML parser; HN separates paragraphs with ``<p>``); a
  story's row is its title, then a blank line and its text when there is one. ``author`` is ``by``,
  ``created_at`` ``time``, ``score`` the story's points (comments have none), ``descendants`` the story's
  comment count, ``kids_count`` the direct replies the item lists.
- A ``null`` response (an id that does not exist) is counted in ``stats["null_items"]``, not a row.
  The same item in several files is one row (the later wins; each other copy a reject, ``duplicates``).

>>> result = read_hackernews("data/hackernews_synthetic")  # SYNTHETIC archive (data/build_platform_archives.py)
>>> result.frame.height, int(result.frame["removed"].sum()), int(result.frame["deleted"].sum())
(40, 3, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.io.api_archive import (
    WHERE_SCHEMA,
    finish_frame,
    folder_looks_like,
    head,
    iter_responses,
    response_files,
    thread_roots,
)
from toolkit.io.base import LoadError, LoadResult, Rejects
from toolkit.io.fields import FieldError, opt_bool, opt_str, parse_id, parse_int, parse_time
from toolkit.io.html_text import html_to_text

PLATFORM = "hackernews"
PREFIX = "hn:"
DEAD = "dead: killed by moderators or flags"
ITEM_TYPES = ("story", "comment", "poll", "pollopt", "job")

HACKERNEWS_EXTRA_SCHEMA: dict[str, pl.DataType] = {
    "native_id": pl.Int64(),
    "item_type": pl.String(),
    "title": pl.String(),
    "url": pl.String(),
    "descendants": pl.Int64(),
    "kids_count": pl.Int32(),
    "removal_source": pl.String(),
    "source_reply_depth": pl.Int32(),
    **WHERE_SCHEMA,
}


def item_row(item: Any) -> dict[str, Any]:
    """One item -> a row (see the module docstring); :class:`FieldError` on a bad field.

    >>> row = item_row({"id": 3, "parent": 1, "type": "comment", "dead": True, "by": "x", "time": 1700000000,
    ...     "text": "Rude &amp; loud<p>second"})
    >>> row["comment_id"], row["parent_id"], row["removed"], row["text"]
    ('hn:3', 'hn:1', True, 'Rude & loud\\n\\nsecond')
    """
    if not isinstance(item, dict):
        raise FieldError("item", f"expected an item object, got {type(item).__name__}")
    own = parse_int(item.get("id"), "id")
    if own is None:
        raise FieldError("id", "missing id")
    kind = opt_str(item, "type", "type")
    if kind is not None and kind not in ITEM_TYPES:
        raise FieldError("type", f"unknown item type {kind!r:.30} (expected one of {', '.join(ITEM_TYPES)})")
    parent = parse_id(item.get("parent"), "parent", required=False)
    if parent is None:
        parent = parse_id(item.get("poll"), "poll", required=False)  # a poll option's poll
    kids = item.get("kids")
    if kids is not None and not isinstance(kids, list):
        raise FieldError("kids", f"expected a list of ids, got {type(kids).__name__}")
    dead = bool(opt_bool(item, "dead", "dead"))
    deleted = bool(opt_bool(item, "deleted", "deleted"))
    title = opt_str(item, "title", "title")
    body = html_to_text(opt_str(item, "text", "text"))
    parts = [part for part in (title, body) if part]
    return {
        "thread_id": None,
        "comment_id": f"{PREFIX}{own}",
        "parent_id": f"{PREFIX}{parent}" if parent else None,
        "is_post": parent is None,
        "author": opt_str(item, "by", "by") or None,
        "text": None if deleted or not parts else "\n\n".join(parts),
        "created_at": parse_time(item.get("time"), "time"),
        "score": parse_int(item.get("score"), "score"),
        "removed": dead,
        "deleted": deleted,
        "platform": PLATFORM,
        "native_id": own,
        "item_type": kind,
        "title": title,
        "url": opt_str(item, "url", "url"),
        "descendants": parse_int(item.get("descendants"), "descendants"),
        "kids_count": len(kids) if kids is not None else 0,
        "removal_source": DEAD if dead else None,
    }


def looks_like_hackernews(path: Path) -> bool:
    """An HN item (``"type"`` one of the item types, ``"by"``/``"kids"``/``"parent"``/``"time"`` keys), or a
    folder whose first JSON files are.

    >>> looks_like_hackernews(Path("data/hackernews_synthetic/item-40100000.json"))
    True
    """
    path = Path(path)
    if (found := folder_looks_like(path, looks_like_hackernews)) is not None:
        return found
    start = head(path)
    typed = any(f'"type": "{kind}"'.encode() in start or f'"type":"{kind}"'.encode() in start for kind in ITEM_TYPES)
    return typed and b'"time"' in start and b'"id"' in start and (
        b'"kids"' in start or b'"parent"' in start or b'"by"' in start or b'"deleted"' in start)


def read_hackernews(path: str | Path | Sequence[str | Path], *, strict: bool = False) -> LoadResult:
    """Load Hacker News items (see the module docstring): one row per distinct item.

    ``stats``: ``items`` (entries read), ``null_items``, ``dead``, ``deleted``, ``duplicates``, ``files``.
    """
    files = response_files(path, "Hacker News responses")
    rejects = Rejects(strict=strict)
    stats: dict[str, Any] = {"files": len(files), "items": 0, "null_items": 0}
    rows: list[dict[str, Any]] = []
    for file, line, value, where in iter_responses(files, rejects):
        if value is None:
            stats["null_items"] += 1
            continue
        items = value if isinstance(value, list) else [value]
        if isinstance(value, dict) and "id" not in value:
            raise LoadError(file, "not a Hacker News item: expected an object with an 'id' (/v0/item/<id>.json), "
                                  "a list of them, or null", line=line)
        for item in items:
            stats["items"] += 1
            try:
                rows.append({**item_row(item), **where})
            except FieldError as failure:
                who = item.get("id") if isinstance(item, dict) else None
                rejects.add(file, line, failure.field, f"item {who}: {failure}")
    roots = thread_roots({row["comment_id"]: row["parent_id"] for row in rows})
    for row in rows:
        row["thread_id"], row["source_reply_depth"] = roots[row["comment_id"]]
    frame, stats["duplicates"] = finish_frame(rows, HACKERNEWS_EXTRA_SCHEMA, files, rejects)
    stats.update(dead=int(frame["removed"].sum()), deleted=int(frame["deleted"].sum()),
                 rows_rejected=len(rejects.rows))
    return LoadResult(frame=frame, rejects=rejects.frame(), stats=stats, files=files)
