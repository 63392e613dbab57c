"""Lemmy API responses -> one frame: a file, a list of files or an archive folder (``toolkit-fetch lemmy``).

Responses read: comment-list pages (``GetCommentsResponse``), post responses and post lists (``PostView``s),
person details and search results (their comments and posts), single ``comment_view``s, JSON lists of any of
these, NDJSON of ``CommentView``s. All files of one load are read together: one row per distinct comment (the
newest ``updated``/``published`` wins, then the later page; each older copy is a reject, counted in
``stats["duplicates"]``) and one post row per post (a post response's view over the copies embedded in
comments). An archive folder's ``modlog*.json`` files (or ``modlog=<file or folder>``) are put on the
comments by :func:`toolkit.io.lemmy_modlog.apply_modlog` (removal reason, time, moderator, restorations).

Counts and times in either shape: 0.17-0.19 (``counts{score, upvotes, downvotes, child_count}`` beside the comment,
timestamps ``published``/``updated``) and 1.0 (the counts inside ``Comment``, timestamps
``published_at``/``updated_at``; paged responses may call the list ``items``).

- Reply links come from ``Comment.path`` ("0.<ancestor ids>.<own id>"): the parent is the second-to-last
  element, ``0`` meaning the post; ``source_reply_depth`` is the number of ids in the path (top-level 1),
  so a comment whose parent was not fetched still gets its depth.
- ``removed`` (by a moderator/admin) and ``deleted`` (by the author) come from the flags. A deleted comment's
  (or post's) text is null: its author withdrew it (Lemmy 0.18 still sends it). Non-admin views send removed
  comments with empty ``content``: that becomes null text; an admin's view keeps the text, and so do we.
  ``"*Permanently Deleted*"`` (what Lemmy writes over the comments of a deleted account) means deleted.
- The post row comes from a post response (``PostView``: author and counts) or else from the ``post`` object
  embedded in the CommentViews (which name only the creator's id: ``author`` null, ``creator_id`` set); one
  row per post id, placed where the post first appears: title, then a blank line and the body when there is one.
- ``thread_id`` is the post id as a string; ``comment_id`` the comment id as a string.
- Federation: ``instance`` is the host of the row's ``ap_id`` (where it was written), ``community_instance``
  the host of the community's ``actor_id`` (1.0: ``ap_id``).
- Timestamps: 0.17/0.18 send them without a zone (UTC), 0.19 with ``Z``, others with offsets: all become UTC.

>>> result = read_lemmy("tests/fixtures/lemmy/get_comments_0.19.json")
>>> result.frame.height, result.stats["posts"]
(7, 1)
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.io.api_archive import ARCHIVE_INDEX, folder_looks_like, head, json_lines_file, response_files
from toolkit.io.base import LoadError, LoadResult, Rejects
from toolkit.io.dedupe import dedupe_versions
from toolkit.io.fields import FieldError, host, opt_bool, opt_dict, opt_str, parse_id, parse_int, parse_time
from toolkit.io.stream import iter_json_lines, parse_json_document, read_bytes
from toolkit.schema import OPTIONAL_EXTRAS, SOURCE_SCHEMA, conform, is_comment

PLATFORM = "lemmy"
#: What Lemmy writes over the content of every comment of a deleted account.
PERMANENTLY_DELETED = "*Permanently Deleted*"
_VIEW_LISTS = ("comments", "posts", "items", "results")  # lists of CommentViews/PostViews in a response
_SINGLE_VIEWS = ("comment_view", "post_view")
_OTHER_RESPONSES = ("community_view", "person_view")  # responses that may hold no comment or post
_MODLOG_KEYS = ("removed_comments", "mod_remove_comment", "mod_remove_post", "mod_ban_from_community")

#: Extra columns after the canonical source columns.
LEMMY_EXTRA_SCHEMA: dict[str, pl.DataType] = {
    "upvotes": pl.Int64(),
    "downvotes": pl.Int64(),
    "child_count": pl.Int64(),  # Lemmy's own count of all descendants (not only those in the export)
    "language_id": pl.Int64(),
    "distinguished": pl.Boolean(),  # a moderator marked the comment as speaking officially
    "edited_at": pl.Datetime("us", "UTC"),  # Comment.updated / updated_at
    "creator_id": pl.Int64(),
    "ap_id": pl.String(),  # the federated URL of the comment/post
    "source_reply_depth": pl.Int32(),  # depth from the path (post 0, top-level 1)
    "source_line": pl.Int64(),  # line (NDJSON) or record number (JSON document) the row came from
    "source_file": pl.String(),  # the file's name (one load may read many)
    **OPTIONAL_EXTRAS,  # community, instance, community_instance and the modlog's removal columns
}


def community_host(community: dict[str, Any] | None) -> str | None:
    """The host of a community's federated id (``actor_id`` in 0.19, ``ap_id`` in 1.0)."""
    return host((community or {}).get("actor_id") or (community or {}).get("ap_id"))


def parse_path(path_value: Any, comment_id: str, post_id: str) -> tuple[str, int]:
    """``(parent_id, depth)`` from a Lemmy ``path`` like ``"0.12.34"`` for comment 34 of post ``post_id``.

    >>> parse_path("0.12.34", "34", "7"), parse_path("0.12", "12", "7")
    (('12', 2), ('7', 1))
    """
    if path_value is None:
        raise FieldError("comment.path", "missing path (the reply link)")
    if not isinstance(path_value, str):
        raise FieldError("comment.path", f"expected a string, got {type(path_value).__name__} {path_value!r:.40}")
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


def _count(counts: dict[str, Any] | None, item: dict[str, Any], key: str, prefix: str) -> int | None:
    """A count from the view's ``counts`` (0.19) or from the comment/post itself (1.0)."""
    if counts is not None and key in counts:
        return parse_int(counts.get(key), f"counts.{key}")
    return parse_int(item.get(key), f"{prefix}.{key}")


def _time(data: dict[str, Any], name: str, prefix: str) -> Any:
    """``published``/``published_at`` (whichever the record has)."""
    value = data.get(name)
    if value is None:
        value = data.get(f"{name}_at")
        name = f"{name}_at"
    return parse_time(value, f"{prefix}.{name}")


def _shared(view: dict[str, Any], item: dict[str, Any], prefix: str, counts: dict[str, Any] | None,
            children: str, ap_id: str | None) -> dict[str, Any]:
    """The columns a post (``prefix`` "post") and a comment read alike from the item, the view's ``counts``
    (``children``: the key of the descendants' count) and the view's community (its name and instance)."""
    return {
        "created_at": _time(item, "published", prefix),
        "score": _count(counts, item, "score", prefix),
        "upvotes": _count(counts, item, "upvotes", prefix),
        "downvotes": _count(counts, item, "downvotes", prefix),
        "child_count": _count(counts, item, children, prefix),
        "language_id": parse_int(item.get("language_id"), f"{prefix}.language_id"),
        "distinguished": opt_bool(item, "distinguished", "comment.distinguished")
        if prefix == "comment" else None,
        "edited_at": _time(item, "updated", prefix),
        "creator_id": parse_int(item.get("creator_id"), f"{prefix}.creator_id"),
        "ap_id": ap_id,
        "instance": host(ap_id),
        **_community(opt_dict(view, "community")),
    }


def _community(data: dict[str, Any] | None) -> dict[str, Any]:
    return {"community": opt_str(data, "name", "community.name") if data else None,
            "community_instance": community_host(data)}


def _post_row(view: dict[str, Any], post_id: str | None = None) -> dict[str, Any] | None:
    """The post row of a PostView (``post_id`` None: author and counts from the view) or of the post object
    embedded in a CommentView of post ``post_id`` (author unknown; None when the view has none or another's)."""
    post = opt_dict(view, "post")
    if post is None:
        return None
    own_id = parse_id(post.get("id"), "post.id", required=post_id is None)
    if post_id is not None and own_id != post_id:
        return None
    title = opt_str(post, "name", "post.name")
    body = opt_str(post, "body", "post.body")
    removed = bool(opt_bool(post, "removed", "post.removed"))
    deleted = bool(opt_bool(post, "deleted", "post.deleted"))
    if body is not None and (body == PERMANENTLY_DELETED or ((removed or deleted) and not body.strip())):
        deleted = deleted or body == PERMANENTLY_DELETED
        body = None
    parts = [part for part in (title, body) if part]
    counts = opt_dict(view, "counts") if post_id is None else None  # a CommentView's counts are the comment's
    creator = opt_dict(view, "creator") if post_id is None else None
    ap_id = opt_str(post, "ap_id", "post.ap_id")
    return {
        "thread_id": own_id,
        "comment_id": own_id,
        "parent_id": None,
        "is_post": True,
        "author": (opt_str(creator, "name", "creator.name") or None) if creator else None,
        "text": "\n\n".join(parts) if parts and not deleted else None,  # deleted: its author withdrew it
        **_shared(view, post, "post", counts, "comments", ap_id),
        "removed": removed,
        "deleted": deleted,
        "platform": PLATFORM,
        "source_reply_depth": 0,
    }


def normalize_lemmy_view(view: Any, comment_prefix: str = "") -> tuple[dict[str, Any], dict[str, Any] | None]:
    """One CommentView -> (comment row, post row or None); raises :class:`FieldError` on a bad field.

    ``comment_prefix`` is put before comment ids (own and parent, never the post's): Lemmy numbers posts and
    comments separately, so a comment can share its post's id; a prefix such as ``"c"`` keeps both.

    >>> row, post = normalize_lemmy_view({"comment": {"id": 9, "post_id": 1, "path": "0.8.9", "content": "x",
    ...     "deleted": True, "ap_id": "https://lemmy.world/comment/9"}})
    >>> row["parent_id"], row["source_reply_depth"], row["text"], row["deleted"], row["instance"], post
    ('8', 2, None, True, 'lemmy.world', None)
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
    deleted = bool(opt_bool(comment, "deleted", "comment.deleted")) or content == PERMANENTLY_DELETED
    text = None if deleted or (removed and (content is None or not content.strip())) else content
    creator = opt_dict(view, "creator")
    author = opt_str(creator, "name", "creator.name") if creator else None
    counts = opt_dict(view, "counts")
    ap_id = opt_str(comment, "ap_id", "comment.ap_id")
    row = {
        "thread_id": post_id,
        "comment_id": comment_id,
        "parent_id": parent_id,
        "is_post": False,
        "author": author or None,
        "text": text,
        **_shared(view, comment, "comment", counts, "child_count", ap_id),
        "removed": removed,
        "deleted": deleted,
        "platform": PLATFORM,
        "source_reply_depth": depth,
    }
    try:
        post_row = _post_row(view, post_id)
    except FieldError:
        post_row = None  # a malformed embedded post loses only the post row, never the comment
    return row, post_row


# --------------------------------------------------------------------------------------------------
# the containers


def _views_of(value: Any) -> list[Any] | None:
    """The CommentViews and PostViews of a response (any of the shapes above), or [value] for a bare view;
    None when ``value`` is not Lemmy-shaped."""
    if not isinstance(value, dict):
        return None
    views = [item for key in _VIEW_LISTS if isinstance(value.get(key), list) for item in value[key]]
    views += [value[key] for key in _SINGLE_VIEWS if isinstance(value.get(key), dict)]
    if views or any(key in value for key in (*_VIEW_LISTS, *_SINGLE_VIEWS, *_OTHER_RESPONSES)):
        return views
    return [value] if "comment" in value or "post" in value else None


def _views_or_self(value: Any) -> list[Any]:
    """The views of a response (none for an empty page); anything else is one record, for the loader to judge."""
    views = _views_of(value)
    return [value] if views is None else views


def _iter_records(path: Path) -> Iterator[tuple[int, Any, str | None]]:
    """``(line or record number, view, error)`` for every record of the file, in file order."""
    if json_lines_file(path):
        for line in iter_json_lines(path):
            if line.error is not None:
                yield line.number, None, line.error
                continue
            for view in _views_or_self(line.value):
                yield line.number, view, None
        return
    document = parse_json_document(path, read_bytes(path))
    views = _views_of(document)
    if views is None and isinstance(document, list):
        views = [view for item in document for view in _views_or_self(item)]
    if views is None:
        raise LoadError(
            path,
            'not a Lemmy response: expected a GetCommentsResponse {"comments": [...]}, a post, person or search '
            "response, a list of them, a list of CommentViews or NDJSON of CommentViews",
        )
    for number, view in enumerate(views, start=1):
        yield number, view, None


def _empty_page(head: bytes) -> bool:
    """A whole small document like ``{"comments": []}``: the last, empty page of a listing the fetcher saves."""
    try:
        document = json.loads(head)
    except ValueError:
        return False
    return isinstance(document, dict) and bool(set(document) & {*_VIEW_LISTS, "removed_comments"}) and all(
        value in ([], None) for value in document.values())


def looks_like_lemmy(path: Path) -> bool:
    """A Lemmy response file (the keys of a CommentView, a post/community response, an empty page), the
    archive's index, or a folder whose index or first files are such."""
    path = Path(path)
    if path.is_dir() and (path / ARCHIVE_INDEX).is_file() and looks_like_lemmy(path / ARCHIVE_INDEX):
        return True
    if (found := folder_looks_like(path, looks_like_lemmy)) is not None:
        return found
    start = head(path)
    if path.name == ARCHIVE_INDEX:
        return b"/api/v3/" in start or b"/api/v4/" in start
    comment = all(key in start for key in (b'"comment"', b'"path"', b'"post_id"', b'"creator_id"'))
    keys = (*_SINGLE_VIEWS, *_OTHER_RESPONSES, *_MODLOG_KEYS)
    return comment or any(f'"{key}"'.encode() in start for key in keys) or (
        len(start) < 4096 and _empty_page(start))


def _label(view: Any) -> str:
    """The label of a reject's reason: ``comment <id>`` when the record has a usable id, else ``comment``."""
    comment = view.get("comment") if isinstance(view, dict) else None
    who = comment.get("id") if isinstance(comment, dict) else None
    return f"comment {who}" if isinstance(who, (str, int)) and not isinstance(who, bool) else "comment"


def lemmy_files(path: str | Path | Sequence[str | Path]) -> tuple[list[Path], list[Path]]:
    """``(response files, modlog files)`` of a file, a folder (its .json/.jsonl/.ndjson files) or a list of
    them; the archive's ``index.jsonl`` is neither, ``modlog*`` files are the modlog.

    >>> pages, modlogs = lemmy_files("data/lemmy_archive")
    >>> len(pages), [file.name for file in modlogs]
    (9, ['modlog-remove_comment-0001.json', 'modlog-remove_comment-0002.json'])
    """
    files = response_files(path, "Lemmy comment or post responses")
    modlogs = [file for file in files if file.name.startswith("modlog")]
    pages = [file for file in files if not file.name.startswith("modlog")]
    if not pages:
        raise LoadError(path if isinstance(path, (str, Path)) else path[0],
                        "no Lemmy comment or post responses here (only the archive's index or modlog files)")
    return pages, modlogs


def read_lemmy(path: str | Path | Sequence[str | Path], *, strict: bool = False, comment_prefix: str = "",
               modlog: str | Path | None = None) -> LoadResult:
    """Load Lemmy responses (see the module docstring): one row per distinct comment plus one per post.

    ``path``: a file, an archive folder or a list of files, read together. Input records are CommentViews:
    ``stats["records"] == stats["comments"] + rejects.height`` (post rows come from the records and the
    PostViews, counted in ``stats["posts"]``). Rejects name the file and the line (NDJSON) or record number.
    ``comment_prefix`` (e.g. ``"c"``) is put before comment ids, for exports where a comment shares its
    post's id. ``modlog``: a modlog file or folder besides the archive's own ``modlog*`` files.

    >>> result = read_lemmy("data/lemmy_archive")  # synthetic: 2 posts, pages overlapping, a modlog
    >>> result.stats["comments"], result.stats["duplicates"], result.stats["modlog_events_unmatched"]
    (209, 9, 1)
    """
    from toolkit.io.lemmy_modlog import apply_modlog, read_modlog  # the modlog reader builds on this module

    pages, modlogs = lemmy_files(path)
    rejects = Rejects(strict=strict)
    rows: list[dict[str, Any]] = []
    posts: dict[str, dict[str, Any]] = {}  # post id -> its row; a PostView's row replaces an embedded copy
    stats: dict[str, Any] = {"files": len(pages), "records": 0, "post_views": 0}
    for file_number, file in enumerate(pages):
        for number, view, error in _iter_records(file):
            where = {"source_line": number, "source_file": file.name, "_file": file_number}
            if isinstance(view, dict) and "comment" not in view and isinstance(view.get("post"), dict):
                stats["post_views"] += 1
                try:
                    post_row = _post_row(view)
                except FieldError as failure:
                    rejects.add(file, number, failure.field, f"post: {failure}")
                    continue
                if post_row["thread_id"] not in posts:
                    rows.append({"thread_id": post_row["thread_id"], "is_post": True})
                posts[post_row["thread_id"]] = {**post_row, **where}
                continue
            stats["records"] += 1
            if error is not None:
                rejects.add(file, number, None, error)
                continue
            try:
                row, post_row = normalize_lemmy_view(view, comment_prefix)
            except FieldError as failure:
                rejects.add(file, number, failure.field, f"{_label(view)}: {failure}")
                continue
            if post_row is not None and row["thread_id"] not in posts:
                rows.append({"thread_id": row["thread_id"], "is_post": True})
                posts[row["thread_id"]] = {**post_row, **where}
            rows.append({**row, **where})
    rows = [posts[row["thread_id"]] if row["is_post"] else row for row in rows]
    schema = {**SOURCE_SCHEMA, **LEMMY_EXTRA_SCHEMA, "_file": pl.Int64()}
    frame = conform(pl.DataFrame(rows, schema=schema) if rows else pl.DataFrame(schema=schema), schema)
    frame = frame.with_columns(source_position=pl.int_range(pl.len(), dtype=pl.Int64),
                               _line=pl.col("source_line"), _retrieved=pl.coalesce("edited_at", "created_at"))
    frame, stats["duplicates"] = dedupe_versions(frame, pages, rejects)
    frame = frame.drop("_file", "_line", "_retrieved")
    stats["posts"] = int(frame["is_post"].sum())
    stats["posts_missing"] = len(set(frame.filter(is_comment())["thread_id"].to_list()) - set(posts))
    stats["comments"] = frame.height - stats["posts"]
    if modlogs or modlog is not None:
        events = read_modlog([*modlogs, *([Path(modlog)] if modlog is not None else [])],
                             comment_prefix=comment_prefix, strict=strict)
        frame, applied = apply_modlog(frame, events.frame)
        for row in events.rejects.iter_rows(named=True):
            rejects.add(row["file"], row["line"], row["field"], row["reason"])
        stats.update({f"modlog_{key}": value for key, value in applied.items()})
        pages = [*pages, *events.files]
    stats["rows_rejected"] = len(rejects.rows)
    return LoadResult(frame=frame, rejects=rejects.frame(), stats=stats, files=pages)
