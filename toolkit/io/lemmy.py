"""Lemmy API exports: ``GetCommentsResponse`` documents, JSON lists of them, or NDJSON of ``CommentView``s.

Both API shapes load: 0.19 (``counts{score, upvotes, downvotes, child_count}`` beside the comment,
timestamps ``published``/``updated``) and 1.0 (the counts inside ``Comment``, timestamps
``published_at``/``updated_at``; paged responses may call the list ``items``).

- Reply links come from ``Comment.path`` ("0.<ancestor ids>.<own id>"): the parent is the second-to-last
  element, ``0`` meaning the post; ``source_reply_depth`` is the number of ids in the path (top-level 1),
  so a comment whose parent was not fetched still gets its depth.
- ``removed`` (by a moderator/admin) and ``deleted`` (by the author) come from the flags. Non-admin views
  send removed/deleted comments with empty ``content``: that becomes null text; an admin's view keeps the
  text, and so do we. ``"*Permanently Deleted*"`` (what Lemmy writes over the comments of an account that
  was deleted) means deleted, text null.
- The post row comes from the ``post`` object embedded in each CommentView, one row per post id, emitted
  just before the first comment of its thread: title, then a blank line and the body when there is one.
  The CommentView names only the post creator's id, so the post's ``author`` is null (``creator_id`` set).
- ``thread_id`` is the post id as a string; ``comment_id`` the comment id as a string.

>>> result = read_lemmy("tests/fixtures/lemmy/get_comments_0.19.json")
>>> result.frame.height, result.stats["posts"]
(7, 1)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.io.base import LoadError, LoadResult, Rejects
from toolkit.io.dedupe import drop_duplicates
from toolkit.io.fields import FieldError, opt_bool, opt_dict, opt_str, parse_id, parse_int, parse_time
from toolkit.io.stream import iter_json_lines, looks_like_json_lines, parse_json_document, read_bytes
from toolkit.schema import SOURCE_SCHEMA, conform

PLATFORM = "lemmy"
#: What Lemmy writes over the content of every comment of a deleted account.
PERMANENTLY_DELETED = "*Permanently Deleted*"
_NDJSON_SUFFIXES = (".jsonl", ".ndjson")
_LIST_KEYS = ("comments", "items")

#: Extra columns after the canonical source columns.
LEMMY_EXTRA_SCHEMA: dict[str, pl.DataType] = {
    "upvotes": pl.Int64(),
    "downvotes": pl.Int64(),
    "child_count": pl.Int64(),  # Lemmy's own count of all descendants (not only those in the export)
    "language_id": pl.Int64(),
    "distinguished": pl.Boolean(),  # a moderator marked the comment as speaking officially
    "edited_at": pl.Datetime("us", "UTC"),  # Comment.updated / updated_at
    "creator_id": pl.Int64(),
    "community": pl.String(),  # the community's name (e.g. "news")
    "ap_id": pl.String(),  # the federated URL of the comment/post
    "source_reply_depth": pl.Int32(),  # depth from the path (post 0, top-level 1)
    "source_line": pl.Int64(),  # line (NDJSON) or record number (JSON document) the row came from
}


class _Skip(Exception):
    """A record that is not a CommentView at all."""


def parse_path(path_value: Any, comment_id: str, post_id: str) -> tuple[str, int]:
    """``(parent_id, depth)`` from a Lemmy ``path`` like ``"0.12.34"`` for comment 34 of post ``post_id``."""
    if not isinstance(path_value, str):
        if path_value is None:
            raise FieldError("comment.path", "missing path (the reply link)")
        raise FieldError(
            "comment.path", f"expected a string, got {type(path_value).__name__} {path_value!r:.40}"
        )
    parts = path_value.strip().split(".")
    if len(parts) < 2 or parts[0] != "0" or not all(part.isdigit() for part in parts):
        raise FieldError(
            "comment.path", f"not a Lemmy path ('0.<ancestor ids>.<own id>'): {path_value!r:.60}"
        )
    if parts[-1] != comment_id:
        raise FieldError(
            "comment.path", f"path {path_value!r:.60} does not end with the comment's id {comment_id}"
        )
    parent = parts[-2]
    return (post_id if parent == "0" else parent), len(parts) - 1


def _count(view: dict[str, Any], comment: dict[str, Any], name: str) -> int | None:
    """A count from ``counts`` (0.19) or from the comment itself (1.0)."""
    counts = opt_dict(view, "counts")
    if counts is not None and name in counts:
        return parse_int(counts.get(name), f"counts.{name}")
    return parse_int(comment.get(name), f"comment.{name}")


def _time(data: dict[str, Any], name: str, prefix: str) -> Any:
    """``published``/``published_at`` (whichever the record has)."""
    value = data.get(name)
    if value is None:
        value = data.get(f"{name}_at")
        name = f"{name}_at"
    return parse_time(value, f"{prefix}.{name}")


def _post_row(view: dict[str, Any], post_id: str, community: str | None) -> dict[str, Any] | None:
    """The post row from the embedded ``post`` object; None when the view has none (or another post's)."""
    post = opt_dict(view, "post")
    if post is None:
        return None
    if parse_id(post.get("id"), "post.id", required=False) != post_id:
        return None
    title = opt_str(post, "name", "post.name")
    body = opt_str(post, "body", "post.body")
    removed = bool(opt_bool(post, "removed", "post.removed"))
    deleted = bool(opt_bool(post, "deleted", "post.deleted"))
    if body is not None and (body == PERMANENTLY_DELETED or ((removed or deleted) and not body.strip())):
        deleted = deleted or body == PERMANENTLY_DELETED
        body = None
    parts = [part for part in (title, body) if part]
    return {
        "thread_id": post_id,
        "comment_id": post_id,
        "parent_id": None,
        "is_post": True,
        "author": None,
        "text": "\n\n".join(parts) if parts else None,
        "created_at": _time(post, "published", "post"),
        "score": parse_int(post.get("score"), "post.score"),
        "removed": removed,
        "deleted": deleted,
        "platform": PLATFORM,
        "upvotes": parse_int(post.get("upvotes"), "post.upvotes"),
        "downvotes": parse_int(post.get("downvotes"), "post.downvotes"),
        "child_count": parse_int(post.get("comments"), "post.comments"),
        "language_id": parse_int(post.get("language_id"), "post.language_id"),
        "distinguished": None,
        "edited_at": _time(post, "updated", "post"),
        "creator_id": parse_int(post.get("creator_id"), "post.creator_id"),
        "community": community,
        "ap_id": opt_str(post, "ap_id", "post.ap_id"),
        "source_reply_depth": 0,
    }


def normalize_lemmy_view(view: Any, comment_prefix: str = "") -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One CommentView -> (comment row, post row or None); raises :class:`FieldError` on a bad field.

    ``comment_prefix`` is put before comment ids (own and parent, never the post's): Lemmy numbers posts and
    comments separately, so a comment can share its post's id; a prefix such as ``"c"`` keeps both.
    """
    if not isinstance(view, dict):
        raise FieldError("comment", f"expected a CommentView object, got {type(view).__name__}")
    comment = view.get("comment")
    if not isinstance(comment, dict):
        raise FieldError("comment", "expected a CommentView with a 'comment' object")
    comment_id = parse_id(comment.get("id"), "comment.id") or ""
    post_id = parse_id(comment.get("post_id"), "comment.post_id", required=False)
    if post_id is None:
        post = opt_dict(view, "post")
        post_id = parse_id(post.get("id") if post else None, "comment.post_id") or ""
    parent_id, depth = parse_path(comment.get("path"), comment_id, post_id)
    if depth > 1:
        parent_id = comment_prefix + parent_id
    comment_id = comment_prefix + comment_id
    if comment_id == post_id:
        raise FieldError(
            "comment.id",
            f"comment id {comment_id} equals its post's id (Lemmy numbers posts and comments separately); "
            "load with comment_prefix='c' to keep both",
        )
    content = opt_str(comment, "content", "comment.content")
    removed = bool(opt_bool(comment, "removed", "comment.removed"))
    deleted = bool(opt_bool(comment, "deleted", "comment.deleted"))
    text = content
    if content == PERMANENTLY_DELETED:
        deleted, text = True, None
    elif (removed or deleted) and (content is None or not content.strip()):
        text = None
    creator = opt_dict(view, "creator")
    author = opt_str(creator, "name", "creator.name") if creator else None
    community_data = opt_dict(view, "community")
    community = opt_str(community_data, "name", "community.name") if community_data else None
    row = {
        "thread_id": post_id,
        "comment_id": comment_id,
        "parent_id": parent_id,
        "is_post": False,
        "author": author or None,
        "text": text,
        "created_at": _time(comment, "published", "comment"),
        "score": _count(view, comment, "score"),
        "removed": removed,
        "deleted": deleted,
        "platform": PLATFORM,
        "upvotes": _count(view, comment, "upvotes"),
        "downvotes": _count(view, comment, "downvotes"),
        "child_count": _count(view, comment, "child_count"),
        "language_id": parse_int(comment.get("language_id"), "comment.language_id"),
        "distinguished": opt_bool(comment, "distinguished", "comment.distinguished"),
        "edited_at": _time(comment, "updated", "comment"),
        "creator_id": parse_int(comment.get("creator_id"), "comment.creator_id"),
        "community": community,
        "ap_id": opt_str(comment, "ap_id", "comment.ap_id"),
        "source_reply_depth": depth,
    }
    try:
        post_row = _post_row(view, post_id, community)
    except FieldError:
        post_row = None  # a malformed embedded post loses only the post row, never the comment
    return row, post_row


# --------------------------------------------------------------------------------------------------
# the containers


def _views_of(value: Any) -> list[Any] | None:
    """The CommentViews of a GetCommentsResponse-like object (``comments`` or 1.0's ``items``), else None."""
    if isinstance(value, dict):
        for key in _LIST_KEYS:
            if isinstance(value.get(key), list):
                return value[key]
        if isinstance(value.get("comment_view"), dict):
            return [value["comment_view"]]
        if "comment" in value:
            return [value]
    return None


def _iter_records(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    """``(line or record number, CommentView, error)`` for every record of the file, in file order."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    if not head.strip():
        raise LoadError(path, "empty file")
    if path.suffix.lower() in _NDJSON_SUFFIXES or looks_like_json_lines(head):
        for line in iter_json_lines(path):
            if line.error is not None:
                yield line.number, None, line.error
                continue
            views = _views_of(line.value)
            if views is None:
                yield line.number, line.value, None
            else:
                for view in views:
                    yield line.number, view, None
        return
    document = parse_json_document(path, read_bytes(path))
    views = _views_of(document)
    if views is None and isinstance(document, list):
        number = 0
        for item in document:
            nested = _views_of(item) if isinstance(item, dict) and "comment" not in item else None
            for view in nested if nested is not None else [item]:
                number += 1
                yield number, view, None
        return
    if views is None:
        raise LoadError(
            path,
            'not a Lemmy export: expected a GetCommentsResponse {"comments": [...]}, a list of them, '
            "a list of CommentViews or NDJSON of CommentViews",
        )
    for number, view in enumerate(views, start=1):
        yield number, view, None


def looks_like_lemmy(path: Path) -> bool:
    """A .json/.jsonl/.ndjson file whose start has the keys of a Lemmy CommentView."""
    path = Path(path)
    if not path.is_file() or path.suffix.lower() not in (".json", *_NDJSON_SUFFIXES):
        return False
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    return all(key in head for key in (b'"comment"', b'"path"', b'"post_id"', b'"creator_id"'))


def _label(view: Any) -> str:
    """The label of a reject's reason: ``comment <id>`` when the record has a usable id, else ``comment``."""
    comment = view.get("comment") if isinstance(view, dict) else None
    who = comment.get("id") if isinstance(comment, dict) else None
    return f"comment {who}" if isinstance(who, (str, int)) and not isinstance(who, bool) else "comment"


def read_lemmy(path: str | Path, *, strict: bool = False, comment_prefix: str = "") -> LoadResult:
    """Load a Lemmy export (see the module docstring); one row per comment plus one per post.

    Input records are CommentViews: ``stats["records"] == stats["comments"] + rejects.height`` (the post rows
    are derived from the records, counted in ``stats["posts"]``). Rejects name the line (NDJSON) or the
    record number (JSON documents). Repeated comment ids keep the last version (``stats["duplicates"]``).
    ``comment_prefix`` (e.g. ``"c"``) is put before comment ids, for exports where a comment shares its post's id.
    """
    path = Path(path)
    if path.is_dir():
        raise LoadError(path, "expected a Lemmy JSON/NDJSON file, got a directory")
    if not path.is_file():
        raise LoadError(path, "no such file")
    rejects = Rejects(strict=strict)
    rows: list[dict[str, Any]] = []
    seen_posts: set[str] = set()
    stats: dict[str, Any] = {"records": 0, "posts": 0, "posts_missing": 0}
    position = 0
    for number, view, error in _iter_records(path):
        stats["records"] += 1
        if error is not None:
            rejects.add(path, number, None, error)
            position += 1
            continue
        try:
            row, post_row = normalize_lemmy_view(view, comment_prefix)
        except FieldError as failure:
            rejects.add(path, number, failure.field, f"{_label(view)}: {failure}")
            position += 1
            continue
        if row["thread_id"] not in seen_posts and post_row is not None:
            seen_posts.add(row["thread_id"])
            post_row["source_position"] = position
            post_row["source_line"] = number
            rows.append(post_row)
            position += 1
        row["source_position"] = position
        row["source_line"] = number
        rows.append(row)
        position += 1
    schema = {**SOURCE_SCHEMA, **LEMMY_EXTRA_SCHEMA}
    frame = conform(pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema))
    frame, duplicates = drop_duplicates(
        frame, lambda row, reason: rejects.add(path, row["source_line"], "comment_id", reason)
    )
    threads = set(frame["thread_id"].unique().to_list()) if frame.height else set()
    stats["posts"] = int(frame["is_post"].sum()) if frame.height else 0
    stats["posts_missing"] = len(threads - seen_posts)
    stats["comments"] = frame.height - stats["posts"]
    stats["duplicates"] = duplicates
    stats["rows_rejected"] = len(rejects.rows)
    return LoadResult(frame=frame, rejects=rejects.frame(), stats=stats, files=[path])
