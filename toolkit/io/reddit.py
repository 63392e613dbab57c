"""Reddit loaders: one comment/post record -> canonical row, and the API's comment page -> frame.

The record normalisers (:func:`normalize_reddit_comment`, :func:`normalize_reddit_post`) know nothing
about where a record came from, so the page loader here and the later dump / API-export loaders share
one set of rules for ids, removal and deletion signals, timestamps and HTML escaping.

HTML escaping (``html_unescape``): Reddit's API without ``raw_json=1`` escapes ``&``, ``<`` and ``>`` in
``body``/``title``/``selftext`` (``&amp;``, ``&lt;``, ``&gt;``); with ``raw_json=1`` it does not. Unescaping
raw text would corrupt text that legitimately contains ``&amp;``, so ``"auto"`` (the default) decides per
record: when the record carries ``body_html``/``selftext_html``, that field tells for certain (escaped
pages send it as ``&lt;div class=&quot;md&quot;&gt;...``, raw pages as ``<div class="md">...``); when it
does not (dumps), the text is unescaped only if it contains ``&amp;``, ``&lt;`` or ``&gt;``. ``True`` and
``False`` force the choice. Unescaping uses :func:`html.unescape`.
"""

from __future__ import annotations

import html
import json
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import polars as pl

from toolkit.io._records import INT64_MAX, parse_int
from toolkit.io._records import FieldError as _FieldError
from toolkit.io._records import parse_time as parse_timestamp
from toolkit.io.base import LoadError, LoadResult, Rejects, register
from toolkit.schema import SOURCE_SCHEMA, conform

HtmlUnescape = bool | Literal["auto"]

PLATFORM = "reddit"
REMOVED_BODY = "[removed]"
DELETED_BODY = "[deleted]"
DELETED_AUTHOR = "[deleted]"
# ``removed_by_category`` values that mean the author deleted the post, not a moderator/admin removal.
AUTHOR_DELETION_CATEGORIES = frozenset({"deleted", "author"})

#: Extra columns the Reddit loaders add after the canonical source columns.
REDDIT_EXTRA_SCHEMA: dict[str, pl.DataType] = {
    "subreddit": pl.String(),
    "edited": pl.Boolean(),  # null when the record does not say
    "edited_at": pl.Datetime("us", "UTC"),  # null when not edited or edited without a timestamp (true)
    "removal_source": pl.String(),  # which signal marked the row removed (see REMOVAL_SOURCES), or null
    "distinguished": pl.String(),  # "moderator", "admin", ... or null
    "stickied": pl.Boolean(),
    "source_reply_depth": pl.Int32(),  # depth from the page's nesting (post 0); null for sources without
    "deletion_source": pl.String(),  # which signal marked the row deleted (see DELETION_SOURCES), or null
}
REDDIT_SCHEMA: dict[str, pl.DataType] = {**SOURCE_SCHEMA, **REDDIT_EXTRA_SCHEMA}
REMOVAL_SOURCES = (
    "body", "removed_by_category", "banned_by", "removal_reason", "removed_flag", "_meta.removal_type",
)  # fmt: skip
DELETION_SOURCES = ("body", "removed_by_category", "_meta.removal_type", "_meta.was_deleted_later")

_ESCAPE_SIGNS = ("&amp;", "&lt;", "&gt;")
_INT64_MAX = INT64_MAX


# --------------------------------------------------------------------------------------------------
# field parsers (raise _FieldError)


def strip_fullname(value: Any, field: str) -> str | None:
    """``"t1_abc"``/``"t3_abc"`` -> ``"abc"`` (other ``tN_`` prefixes too); None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise _FieldError(field, f"expected a string id, got {type(value).__name__} {value!r:.40}")
    if len(value) > 3 and value[0] == "t" and value[1] in "0123456789" and value[2] == "_":
        value = value[3:]
    return value or None


def parse_edited(value: Any) -> tuple[bool | None, datetime | None]:
    """Reddit's ``edited``: false, true (old records) or the edit's epoch timestamp -> (edited, edited_at)."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return value, None
    stamp = parse_timestamp(value, "edited")
    return True, stamp


def _optional_str(data: dict[str, Any], field: str) -> str | None:
    value = data.get(field)
    if value is None or isinstance(value, str):
        return value
    raise _FieldError(field, f"expected a string, got {type(value).__name__} {value!r:.40}")


def _optional_bool(data: dict[str, Any], field: str) -> bool | None:
    value = data.get(field)
    if value is None or isinstance(value, bool):
        return value
    raise _FieldError(field, f"expected true/false, got {type(value).__name__} {value!r:.40}")


def _is_set(value: Any) -> bool:
    """A removal signal counts when present and not null/false/empty."""
    return value is not None and value is not False and value != "" and value != {} and value != []


def _looks_escaped(text: str | None, html_field: Any) -> bool:
    """The ``"auto"`` rule: the ``*_html`` field when there is one, else entity signs in the text."""
    if isinstance(html_field, str) and html_field:
        return "&lt;" in html_field and "<" not in html_field
    return text is not None and any(sign in text for sign in _ESCAPE_SIGNS)


def _unescape(text: str | None, mode: HtmlUnescape, html_field: Any) -> str | None:
    if text is None or "&" not in text:
        return text
    if mode == "auto":
        mode = _looks_escaped(text, html_field)
    return html.unescape(text) if mode else text


def unescape_comment(body: str | None, body_html: Any, mode: HtmlUnescape) -> str | None:
    """A comment body after the ``html_unescape`` rule (``body_html`` decides in ``"auto"`` mode when set)."""
    return _unescape(body, mode, body_html)


def unescape_post(
    title: str | None, selftext: str | None, selftext_html: Any, mode: HtmlUnescape
) -> tuple[str | None, str | None]:
    """A post's title and selftext after the ``html_unescape`` rule (one decision for both).

    The title has no ``*_html`` twin: on an escaped page ``selftext_html`` tells, else the texts' entities.
    """
    if mode == "auto" and not (isinstance(selftext_html, str) and selftext_html):
        mode = _looks_escaped(title, None) or _looks_escaped(selftext, None)
    elif mode == "auto":
        mode = _looks_escaped(None, selftext_html)
    return _unescape(title, mode, None), _unescape(selftext, mode, None)


def _removal(data: dict[str, Any], body_removed: bool, body_deleted: bool) -> tuple[str | None, str | None]:
    """(removal_source, deletion_source) from the record's moderation fields; None where not removed/deleted.

    Removal, first signal wins: body ``[removed]``, ``removed_by_category`` (its values "deleted"/"author"
    mean the author deleted it, and stop the search), ``banned_by``, ``removal_reason``, ``removed`` true,
    Arctic Shift's ``_meta.removal_type`` other than "deleted". Deletion: body ``[deleted]``, a
    "deleted"/"author" category, ``_meta.removal_type`` "deleted", or ``_meta.was_deleted_later`` when
    nothing says the row was removed.
    """
    meta = data.get("_meta")
    if meta is not None and not isinstance(meta, dict):
        raise _FieldError("_meta", f"expected an object, got {type(meta).__name__} {meta!r:.40}")
    meta_type = meta.get("removal_type") if meta else None
    category = data.get("removed_by_category")
    category_set = _is_set(category)
    category_deleted = category_set and isinstance(category, str) and category in AUTHOR_DELETION_CATEGORIES
    removal: str | None = None
    if body_removed:
        removal = "body"
    elif category_set:
        removal = None if category_deleted else "removed_by_category"
    elif _is_set(data.get("banned_by")):
        removal = "banned_by"
    elif _is_set(data.get("removal_reason")):
        removal = "removal_reason"
    else:
        removed = data.get("removed")
        if removed is not None and not isinstance(removed, bool):
            raise _FieldError("removed", f"expected true/false, got {type(removed).__name__} {removed!r:.40}")
        if removed:
            removal = "removed_flag"
        elif meta_type is not None and meta_type != "" and meta_type != "deleted":
            removal = "_meta.removal_type"
    deletion: str | None = None
    if body_deleted:
        deletion = "body"
    elif category_deleted:
        deletion = "removed_by_category"
    elif meta_type == "deleted":
        deletion = "_meta.removal_type"
    elif meta and meta.get("was_deleted_later") is True and removal is None and meta_type is None:
        deletion = "_meta.was_deleted_later"
    return removal, deletion


def _common(data: dict[str, Any]) -> dict[str, Any]:
    """Fields comments and posts share: author, time, score and the extras."""
    author = _optional_str(data, "author")
    if author == DELETED_AUTHOR or author == "":
        author = None
    edited, edited_at = parse_edited(data.get("edited"))
    return {
        "author": author,
        "created_at": parse_timestamp(data.get("created_utc"), "created_utc"),
        "score": parse_int(data.get("score"), "score"),
        "platform": PLATFORM,
        "source_position": None,
        "subreddit": _optional_str(data, "subreddit"),
        "edited": edited,
        "edited_at": edited_at,
        "distinguished": _optional_str(data, "distinguished"),
        "stickied": _optional_bool(data, "stickied"),
    }


def _record_id(data: dict[str, Any]) -> str:
    raw = data.get("id")
    if raw is None and isinstance(data.get("name"), str):
        raw = data["name"]
    record_id = strip_fullname(raw, "id")
    if record_id is None:
        raise _FieldError("id", "missing id")
    return record_id


def _reject(
    rejects: Rejects, path: str | Path, line: int | None, data: Any, error: _FieldError, kind: str
) -> None:
    who = data.get("id") if isinstance(data, dict) else None
    label = f"{kind} {who}" if isinstance(who, str) and who else kind
    rejects.add(path, line, error.field, f"{label}: {error}")


# --------------------------------------------------------------------------------------------------
# record normalisers


def normalize_reddit_comment(
    data: dict[str, Any],
    *,
    path: str | Path,
    line: int | None,
    rejects: Rejects,
    html_unescape: HtmlUnescape = "auto",
    thread_id: str | None = None,
) -> dict[str, Any] | None:
    """One Reddit comment (a t1 ``data`` object, API or dump) -> a canonical row dict, or None if rejected.

    The dict has the :data:`~toolkit.schema.SOURCE_SCHEMA` columns (``source_position`` left None for the
    caller) plus the :data:`REDDIT_EXTRA_SCHEMA` extras except ``source_reply_depth``. A field with a wrong
    type is reported through ``rejects`` (file, ``line`` = line or record number, field) instead of raising;
    ``thread_id`` is the fallback when the record has no ``link_id`` and its parent is not the post.
    """
    if not isinstance(data, dict):
        rejects.add(path, line, None, f"comment: expected a JSON object, got {type(data).__name__}")
        return None
    try:
        comment_id = _record_id(data)
        parent_id = strip_fullname(data.get("parent_id"), "parent_id")
        link_id = strip_fullname(data.get("link_id"), "link_id")
        if link_id is None:
            parent_raw = data.get("parent_id")
            link_id = parent_id if isinstance(parent_raw, str) and parent_raw.startswith("t3_") else thread_id
        body = _optional_str(data, "body")
        body_removed = body == REMOVED_BODY
        deleted = body == DELETED_BODY
        removal_source, deletion_source = _removal(data, body_removed, deleted)
        text = None if body_removed or deleted else _unescape(body, html_unescape, data.get("body_html"))
        row = {
            "thread_id": link_id,
            "comment_id": comment_id,
            "parent_id": parent_id,
            "is_post": False,
            "text": text,
            "removed": removal_source is not None,
            "deleted": deletion_source is not None,
            "removal_source": removal_source,
            "deletion_source": deletion_source,
            **_common(data),
        }
    except _FieldError as error:
        _reject(rejects, path, line, data, error, "comment")
        return None
    return row


def normalize_reddit_post(
    data: dict[str, Any],
    *,
    path: str | Path,
    line: int | None,
    rejects: Rejects,
    html_unescape: HtmlUnescape = "auto",
) -> dict[str, Any] | None:
    """One Reddit post (a t3 ``data`` object) -> a canonical row dict (``is_post`` True), or None if rejected.

    ``comment_id == thread_id == id`` and ``parent_id`` is None. The text is ``title + "\\n\\n" + selftext``
    (the title alone for link posts); a ``[removed]``/``[deleted]`` selftext sets the flag and the title
    stays as the text. ``removed_by_category`` "deleted"/"author" means the author deleted the post.
    """
    if not isinstance(data, dict):
        rejects.add(path, line, None, f"post: expected a JSON object, got {type(data).__name__}")
        return None
    try:
        post_id = _record_id(data)
        title = _optional_str(data, "title")
        selftext = _optional_str(data, "selftext")
        body_removed = selftext == REMOVED_BODY
        deleted = selftext == DELETED_BODY
        removal_source, deletion_source = _removal(data, body_removed, deleted)
        if body_removed or deleted:
            selftext = None
        title, selftext = unescape_post(title, selftext, data.get("selftext_html"), html_unescape)
        parts = [part for part in (title, selftext) if part]
        row = {
            "thread_id": post_id,
            "comment_id": post_id,
            "parent_id": None,
            "is_post": True,
            "text": "\n\n".join(parts) if parts else None,
            "removed": removal_source is not None,
            "deleted": deletion_source is not None,
            "removal_source": removal_source,
            "deletion_source": deletion_source,
            **_common(data),
        }
    except _FieldError as error:
        _reject(rejects, path, line, data, error, "post")
        return None
    return row


def rows_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Row dicts from the normalisers -> a conformed frame (canonical columns first, Reddit extras after)."""
    frame = pl.DataFrame(rows, schema=REDDIT_SCHEMA) if rows else pl.DataFrame(schema=REDDIT_SCHEMA)
    return conform(frame)


# --------------------------------------------------------------------------------------------------
# the comment page


def _listing_children(listing: Any) -> list[Any] | None:
    """The ``children`` of a ``{"kind": "Listing", "data": {"children": [...]}}``, or None if not one."""
    if not isinstance(listing, dict) or listing.get("kind") != "Listing":
        return None
    data = listing.get("data")
    children = data.get("children") if isinstance(data, dict) else None
    return children if isinstance(children, list) else None


def _iter_forest(children: list[Any]) -> Iterator[tuple[Any, int]]:
    """(child, nesting depth) in depth-first page order, iteratively (threads can be thousands deep)."""
    stack: list[tuple[Any, int]] = [(child, 1) for child in reversed(children)]
    while stack:
        child, depth = stack.pop()
        yield child, depth
        if isinstance(child, dict) and child.get("kind") == "t1" and isinstance(child.get("data"), dict):
            replies = child["data"].get("replies")
            nested = _listing_children(replies)
            if nested:
                stack.extend((grandchild, depth + 1) for grandchild in reversed(nested))


def _looks_like_reddit_page(path: Path) -> bool:
    """A ``.json`` whose top level is a 2-element array of Listings, the first holding a t3 post."""
    try:
        path = Path(path)
        if path.suffix.lower() != ".json" or not path.is_file():
            return False
        if path.stat().st_size > 256 * 2**20:  # a comment page is kilobytes; never parse a dump to detect
            return False
        with path.open("rb") as handle:
            head = handle.read(4096).lstrip()
        if not head.startswith(b"[") or b'"Listing"' not in head:
            return False
        document = _loads_deep(path.read_bytes().decode("utf-8-sig"))
        if not isinstance(document, list) or len(document) != 2:
            return False
        posts = _listing_children(document[0])
        return bool(posts) and _listing_children(document[1]) is not None and posts[0].get("kind") == "t3"
    except (OSError, ValueError, AttributeError, TypeError, RecursionError, MemoryError):
        return False


def _loads_deep(text: str) -> Any:
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
        old_limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old_limit, levels))
        try:
            outcome["value"] = json.loads(text)
        except BaseException as error:  # handed to the calling thread
            outcome["error"] = error
        finally:
            sys.setrecursionlimit(old_limit)

    old_stack = threading.stack_size(min(2**31 - 2**20, max(2**24, levels * 1024)))
    try:
        worker = threading.Thread(target=work, name="json-deep-parse")
        worker.start()
    finally:
        threading.stack_size(old_stack)
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _parse_page(path: Path) -> tuple[list[Any], list[Any]]:
    """Read and check the page's shape; every problem is a :class:`LoadError` naming the file."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LoadError(path, "file not found") from None
    except OSError as error:
        raise LoadError(path, f"cannot read file: {error.strerror or error}") from None
    try:
        document = _loads_deep(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise LoadError(path, f"not valid UTF-8 at byte {error.start}") from None
    except json.JSONDecodeError as error:
        raise LoadError(
            path, f"malformed JSON: {error.msg} (column {error.colno})", line=error.lineno
        ) from None
    except RecursionError:
        raise LoadError(path, "JSON nested too deeply for the parser") from None
    if not isinstance(document, list) or len(document) != 2:
        raise LoadError(path, "not a Reddit comment page: expected a JSON array of two Listings")
    posts, comments = _listing_children(document[0]), _listing_children(document[1])
    if posts is None or comments is None:
        raise LoadError(path, "not a Reddit comment page: expected a JSON array of two Listings")
    return posts, comments


def page_stats() -> dict[str, Any]:
    """The counters :func:`page_rows` updates (the page loader's ``stats``)."""
    return {
        "records": 0,
        "more_stubs": 0,
        "more_children_ids": 0,
        "continue_thread_stubs": 0,
        "depth_fields": 0,
        "depth_mismatches": 0,
        "parent_mismatches": 0,
    }


def page_rows(
    posts: list[Any],
    forest: list[Any],
    *,
    path: Path,
    rejects: Rejects,
    stats: dict[str, Any],
    html_unescape: HtmlUnescape = "auto",
    start: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """A parsed comment page (the two Listings' children) -> (row dicts in page order, next position).

    Positions (``source_position`` and the record numbers of rejects, 1-based) count from ``start``.
    """
    rows: list[dict[str, Any]] = []
    position = start

    def take(row: dict[str, Any] | None, depth: int) -> None:
        if row is not None:
            row["source_position"] = position
            row["source_reply_depth"] = depth
            rows.append(row)

    thread_id: str | None = None
    for child in posts:
        kind = child.get("kind") if isinstance(child, dict) else None
        stats["records"] += 1
        if kind != "t3":
            rejects.add(path, position + 1, "kind", f"expected a t3 post in the first Listing, got {kind!r}")
        else:
            row = normalize_reddit_post(
                child.get("data"), path=path, line=position + 1, rejects=rejects, html_unescape=html_unescape
            )
            if row is not None and thread_id is None:
                thread_id = row["thread_id"]
            take(row, 0)
        position += 1

    # fullname of the row at each nesting depth on the current path, to check parent_id against nesting
    path_ids: list[str | None] = [None if thread_id is None else f"t3_{thread_id}"]
    for child, depth in _iter_forest(forest):
        kind = child.get("kind") if isinstance(child, dict) else None
        data = child.get("data") if isinstance(child, dict) else None
        del path_ids[depth:]
        if kind == "more":
            stats["more_stubs"] += 1
            more_children = data.get("children") if isinstance(data, dict) else None
            stats["more_children_ids"] += len(more_children) if isinstance(more_children, list) else 0
            if isinstance(data, dict) and data.get("id") == "_":
                stats["continue_thread_stubs"] += 1
            continue
        stats["records"] += 1
        if kind != "t1":
            rejects.add(path, position + 1, "kind", f"expected a t1 comment or a more stub, got {kind!r:.40}")
            path_ids.append(None)
            position += 1
            continue
        row = normalize_reddit_comment(
            data,
            path=path,
            line=position + 1,
            rejects=rejects,
            html_unescape=html_unescape,
            thread_id=thread_id,
        )
        if row is not None:
            if isinstance(data.get("depth"), int) and not isinstance(data["depth"], bool):
                stats["depth_fields"] += 1
                if data["depth"] + 1 != depth:
                    stats["depth_mismatches"] += 1
            expected_parent = path_ids[depth - 1] if depth - 1 < len(path_ids) else None
            if expected_parent is not None and data.get("parent_id") != expected_parent:
                stats["parent_mismatches"] += 1
            replies = data.get("replies")
            if replies not in (None, "") and _listing_children(replies) is None:
                # the replies are lost: one rejected record, so records == kept + rejected still holds
                stats["records"] += 1
                rejects.add(
                    path, position + 1, "replies", f"comment {row['comment_id']}: replies is not a Listing"
                )
        take(row, depth)
        path_ids.append(f"t1_{row['comment_id']}" if row is not None else None)
        position += 1

    return rows, position


@register("reddit_page", detect=_looks_like_reddit_page)
def read_reddit_page(
    path: str | Path, *, strict: bool = False, html_unescape: HtmlUnescape = "auto"
) -> LoadResult:
    """Load one API comment page (``/comments/<id>.json``): the post, then the comment forest in page order.

    Depth comes from the nesting (column ``source_reply_depth``, post 0); a comment's own ``depth`` field,
    when present, is only checked against it (``stats["depth_mismatches"]``), as is its ``parent_id``
    (``stats["parent_mismatches"]``). ``more`` stubs are counted (``more_stubs``, ``more_children_ids``,
    ``continue_thread_stubs``), never turned into rows. Rejected records are reported with their record
    number (1-based page order, post first; ``source_position`` keeps page order, gaps where rejected).
    """
    path = Path(path)
    posts, forest = _parse_page(path)
    rejects = Rejects(strict=strict)
    stats = page_stats()
    rows, _ = page_rows(posts, forest, path=path, rejects=rejects, stats=stats, html_unescape=html_unescape)
    frame = rows_frame(rows)
    stats["rows_kept"] = frame.height
    stats["rows_rejected"] = len(rejects.rows)
    return LoadResult(frame=frame, rejects=rejects.frame(), stats=stats, files=[path])
