"""Lemmy's public modlog: responses -> a frame of moderation events; :func:`apply_modlog` puts them on comments.

Three shapes load (checked against lemmy-js-client's types):

- 0.19 ``GetModlogResponse``: one list per action (``removed_comments``, ``removed_posts``,
  ``banned_from_community``, ...), each entry a view holding the action's record (``mod_remove_comment``:
  ``comment_id``, ``reason``, ``removed``, ``when_``) beside ``moderator``, ``comment``, ``post``, ``community``.
- 1.0 pre-releases: ``items`` of those views, each tagged ``type_: "mod_remove_comment"`` (times ``published_at``).
- 1.0 ``ModlogView``: ``items`` of ``{modlog: {kind, is_revert, reason, published_at}, moderator,
  target_comment, target_post, target_community, target_person}``; a revert (``is_revert``) is a restore.

Comment removals, post removals and bans from a community become events; other actions (locks, features,
site bans...) are counted in ``stats["skipped"]``. ``comment_id`` is formed as :mod:`toolkit.io.lemmy` forms it
(the id as a string, after ``comment_prefix``), ``post_id`` is the post's id: the keys of the comment frame.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.io.api_archive import iter_values
from toolkit.io.base import LoadError, LoadResult, Rejects
from toolkit.io.fields import FieldError, opt_bool, opt_dict, opt_str, parse_id, parse_time
from toolkit.io.lemmy import PERMANENTLY_DELETED, community_host
from toolkit.schema import OPTIONAL_EXTRAS

#: One row per moderation event.
MODLOG_SCHEMA: dict[str, pl.DataType] = {
    "event_id": pl.String(),  # the modlog entry's id (unique per action in 0.19, per instance in 1.0)
    "action": pl.String(),  # remove_comment | remove_post | ban_from_community
    "comment_id": pl.String(),  # the removed comment (with comment_prefix); null for posts and bans
    "post_id": pl.String(),  # the removed post, or the removed comment's post
    "community": pl.String(),  # the community's name
    "moderator": pl.String(),  # null when the instance hides moderators' names
    "target_person": pl.String(),  # the comment's or post's author, or the banned person
    "reason": pl.String(),
    "when": pl.Datetime("us", "UTC"),
    "removed": pl.Boolean(),  # false = restored (or unbanned): the action was reverted
    "expires_at": pl.Datetime("us", "UTC"),  # bans only
    "content": pl.String(),  # the removed comment's text, when the modlog carries it
    "instance": pl.String(),  # the community's host (from its actor id), else the instance given
}

#: action -> (0.19 list name, the record's key in a view; also 1.0's ModlogKind and pre-release ``type_``)
ACTIONS = {
    "remove_comment": ("removed_comments", "mod_remove_comment"),
    "remove_post": ("removed_posts", "mod_remove_post"),
    "ban_from_community": ("banned_from_community", "mod_ban_from_community"),
}
_BY_KIND = {kind: action for action, (_, kind) in ACTIONS.items()}
_LIST_KEYS = ("items", "modlog")  # 1.0's paged list; "modlog" in some pre-releases


def _entries(document: Any) -> Iterator[tuple[str | None, Any]]:
    """``(action or None for an action not kept, view)`` for every entry of a response (or list of them)."""
    if isinstance(document, list):
        for item in document:
            yield from _entries(item)
        return
    if not isinstance(document, dict):
        raise FieldError("modlog", f"expected a GetModlogResponse object, got {type(document).__name__}")
    modlog = document.get("modlog")
    kind = document.get("type_") or (modlog.get("kind") if isinstance(modlog, dict) else None)
    kind = kind or next((key for key in _BY_KIND if isinstance(document.get(key), dict)), None)
    if kind is not None:  # a single view, not a response
        yield _BY_KIND.get(kind), document
        return
    kept = {name: action for action, (name, _) in ACTIONS.items()}
    for key, value in document.items():
        if not isinstance(value, list):
            continue
        if key in _LIST_KEYS:
            yield from _entries(value)
        else:
            for view in value:
                yield kept.get(key), view


def _name(view: dict[str, Any], *keys: str) -> str | None:
    """``view[key]["name"]`` for the first of ``keys`` present."""
    for key in keys:
        person = opt_dict(view, key)
        if person is not None:
            return opt_str(person, "name", f"{key}.name")
    return None


def normalize_modlog_entry(action: str, view: Any, instance: str | None = None,
                           comment_prefix: str = "") -> dict[str, Any]:
    """One modlog view (any shape) -> an event row; raises :class:`FieldError` on a bad field.

    >>> view = {"mod_remove_comment": {"id": 5, "comment_id": 41, "reason": "spam", "removed": True,
    ...         "when_": "2024-03-01T10:00:00Z"}, "comment": {"id": 41, "post_id": 7, "content": "buy now"}}
    >>> row = normalize_modlog_entry("remove_comment", view)
    >>> row["comment_id"], row["post_id"], row["reason"], row["removed"], row["content"]
    ('41', '7', 'spam', True, 'buy now')
    """
    if not isinstance(view, dict):
        raise FieldError("modlog", f"expected a modlog view object, got {type(view).__name__}")
    kind = ACTIONS[action][1]
    final = isinstance(view.get("modlog"), dict)  # 1.0's ModlogView
    record = opt_dict(view, "modlog" if final else kind)
    if record is None:
        raise FieldError(kind, "missing the modlog record")
    comment = opt_dict(view, "target_comment") or opt_dict(view, "comment")
    post = opt_dict(view, "target_post") or opt_dict(view, "post")
    community = opt_dict(view, "target_community") or opt_dict(view, "community")
    label = "modlog" if final else kind
    if final:
        removed = not opt_bool(record, "is_revert", "modlog.is_revert")
    else:
        flag = "banned" if action == "ban_from_community" else "removed"
        removed = opt_bool(record, flag, f"{kind}.{flag}")
        if removed is None:
            raise FieldError(f"{kind}.{flag}", "missing (was it a removal or a restore?)")
    comment_id = parse_id(record.get("comment_id") or (comment or {}).get("id"), f"{label}.comment_id",
                          required=action == "remove_comment")
    post_id = parse_id(record.get("post_id") or (post or {}).get("id") or (comment or {}).get("post_id"),
                       f"{label}.post_id", required=action == "remove_post")
    stamp = next((name for name in ("when_", "published_at", "published") if record.get(name)), "when_")
    when = parse_time(record.get(stamp), f"{label}.{stamp}")
    if when is None:
        raise FieldError(f"{label}.{stamp}", "missing the time of the action")
    content = opt_str(comment, "content", "comment.content") if comment and action == "remove_comment" else None
    if content in ("", PERMANENTLY_DELETED) or (comment and opt_bool(comment, "deleted", "comment.deleted")):
        content = None
    return {
        "event_id": parse_id(record.get("id"), f"{label}.id", required=False),
        "action": action,
        "comment_id": comment_prefix + comment_id if comment_id is not None else None,
        "post_id": post_id,
        "community": opt_str(community, "name", "community.name") if community else None,
        "moderator": _name(view, "moderator"),
        "target_person": _name(view, "target_person", "commenter", "banned_person", "other_person", "creator"),
        "reason": opt_str(record, "reason", f"{label}.reason") or None,
        "when": when,
        "removed": removed,
        "expires_at": parse_time(record.get("expires_at") or record.get("expires"), f"{label}.expires"),
        "content": content,
        "instance": community_host(community) or instance,
    }


def read_modlog(path: str | Path | Sequence[str | Path], *, instance: str | None = None, comment_prefix: str = "",
                strict: bool = False) -> LoadResult:
    """Load modlog responses from a file (a response, a list of them, JSON lines), an archive folder (its
    ``modlog*.json`` files, as ``toolkit-fetch lemmy`` writes them) or a list of those into a
    :data:`MODLOG_SCHEMA` frame.

    Rejects name the file and the entry's number in it. An event listed twice (pages that overlap, two
    archives) is kept once (``duplicates_dropped``). ``instance`` is used when a community has no actor id.

    >>> import json, tempfile
    >>> path = Path(tempfile.mkdtemp()) / "modlog.json"
    >>> _ = path.write_text(json.dumps({"removed_comments": [{"mod_remove_comment": {
    ...     "id": 1, "comment_id": 41, "removed": False, "when_": "2024-03-01T10:00:00Z"}}], "banned": []}))
    >>> read_modlog(path).frame.select("action", "comment_id", "removed").rows()
    [('remove_comment', '41', False)]
    """
    files: list[Path] = []
    for item in map(Path, [path] if isinstance(path, (str, Path)) else path):
        found = sorted(item.glob("modlog*.json")) if item.is_dir() else [item]
        if not found or not all(file.is_file() for file in found):
            raise LoadError(item, "no modlog*.json files in this folder" if item.is_dir() else "no such file")
        files += found
    rejects = Rejects(strict=strict)
    rows: list[dict[str, Any]] = []
    stats = {"files": len(files), "entries": 0, "skipped": 0}
    for file in files:
        number = 0
        for _, document, error in iter_values(file):
            if error is not None:
                number += 1
                rejects.add(file, number, None, error)
                continue
            try:
                entries = list(_entries(document))
            except FieldError as failure:
                number += 1
                rejects.add(file, number, failure.field, str(failure))
                continue
            for action, view in entries:
                number += 1
                stats["entries"] += 1
                if action is None:
                    stats["skipped"] += 1
                    continue
                try:
                    rows.append(normalize_modlog_entry(action, view, instance, comment_prefix))
                except FieldError as failure:
                    rejects.add(file, number, failure.field, f"modlog entry: {failure}")
    frame = pl.DataFrame(rows, schema=MODLOG_SCHEMA)
    unique = frame.unique(["action", "event_id"], keep="first", maintain_order=True)
    stats.update(events=unique.height, duplicates_dropped=frame.height - unique.height,
                 rows_rejected=len(rejects.rows))
    return LoadResult(frame=unique, rejects=rejects.frame(), stats=stats, files=files)


#: The columns :func:`apply_modlog` adds to the comment frame.
MODLOG_COLUMNS: dict[str, pl.DataType] = {
    name: OPTIONAL_EXTRAS[name] for name in ("removal_reason", "removed_at", "removed_by", "removal_source", "text_source")
}


def _kept(frame: pl.DataFrame, name: str) -> pl.Expr:
    """The frame's own ``name`` column, or nulls of the column's type when it has none."""
    return pl.col(name) if name in frame.columns else pl.lit(None, dtype=MODLOG_COLUMNS[name])


def apply_modlog(comments: pl.DataFrame, events: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, int]]:
    """Put the modlog's comment and post removals on a Lemmy comment frame; returns ``(frame, stats)``.

    The latest event per comment (per post, for the post's row) wins: removed then restored is not removed.
    Removed rows get ``removal_reason``, ``removed_at``, ``removed_by`` and ``removal_source="modlog"``; a
    removed comment with no text gets the modlog's copy (``text_source="modlog"``), unless its author
    deleted it (deleted stays text-null). Events whose comment or post is not in the frame are counted in
    ``events_unmatched`` (``targets_unmatched`` distinct ones); bans are counted, not applied.

    >>> from datetime import datetime, timezone
    >>> comments = pl.DataFrame({"comment_id": ["41", "42"], "is_post": [False, False],
    ...     "text": [None, "fine"], "removed": [True, False], "deleted": [False, False]})
    >>> events = pl.DataFrame([{"event_id": "5", "action": "remove_comment", "comment_id": "41",
    ...     "reason": "spam", "moderator": "mod", "when": datetime(2024, 3, 1, tzinfo=timezone.utc),
    ...     "removed": True, "content": "buy now"}], schema=MODLOG_SCHEMA)
    >>> frame, stats = apply_modlog(comments, events)
    >>> frame.select("comment_id", "text", "text_source", "removal_reason", "removed_by").rows()
    [('41', 'buy now', 'modlog', 'spam', 'mod'), ('42', 'fine', None, None, None)]
    >>> stats["text_from_modlog"], stats["events_unmatched"]
    (1, 0)
    """
    targeted = events.filter(pl.col("action").is_in(["remove_comment", "remove_post"])).with_columns(
        is_post=pl.col("action") == "remove_post",
        comment_id=pl.when(pl.col("action") == "remove_post").then("post_id").otherwise("comment_id"),
    )
    latest = (
        targeted.sort("when", pl.col("event_id").cast(pl.Int64, strict=False), maintain_order=True)
        .group_by("is_post", "comment_id", maintain_order=True)
        .agg(
            pl.col("removed", "reason", "when", "moderator").last().name.prefix("_event_"),
            pl.col("content").filter(pl.col("removed")).drop_nulls().last().alias("_event_content"),
            pl.len().alias("_events"),
        )
    )
    unmatched = targeted.join(comments.select("is_post", "comment_id"), on=["is_post", "comment_id"], how="anti")
    joined = comments.join(latest, on=["is_post", "comment_id"], how="left", maintain_order="left")
    hit = pl.col("_events").is_not_null()
    now_removed = hit & pl.col("_event_removed")
    deleted = pl.col("deleted").fill_null(False)
    no_text = pl.col("text").is_null() & pl.col("_event_content").is_not_null()
    fill_text = now_removed & no_text & ~deleted
    counts = joined.select(
        rows_removed=now_removed.sum(),
        rows_restored=(hit & ~pl.col("_event_removed")).sum(),
        newly_removed=(now_removed & ~pl.col("removed").fill_null(False)).sum(),
        no_longer_removed=(hit & ~pl.col("_event_removed") & pl.col("removed").fill_null(False)).sum(),
        text_from_modlog=fill_text.sum(),
        text_withheld_deleted=(now_removed & no_text & deleted).sum(),
    ).row(0, named=True)
    removal = {
        "removal_reason": pl.col("_event_reason"),
        "removed_at": pl.col("_event_when"),
        "removed_by": pl.col("_event_moderator"),
        "removal_source": pl.lit("modlog"),
    }
    frame = joined.with_columns(
        pl.when(hit).then(pl.col("_event_removed")).otherwise(pl.col("removed")).alias("removed"),
        *(
            pl.when(now_removed).then(value).when(hit).then(None).otherwise(_kept(comments, name)).alias(name)
            for name, value in removal.items()
        ),
        pl.when(fill_text).then(pl.col("_event_content")).otherwise(pl.col("text")).alias("text"),
        pl.when(fill_text).then(pl.lit("modlog")).otherwise(_kept(comments, "text_source")).alias("text_source"),
    ).drop(name for name in latest.columns if name.startswith("_"))
    stats = {
        "events": events.height,
        "bans": int((events["action"] == "ban_from_community").sum()),
        "events_matched": targeted.height - unmatched.height,
        "events_unmatched": unmatched.height,
        "targets_unmatched": unmatched.select("is_post", "comment_id").unique().height,
        **{key: int(value or 0) for key, value in counts.items()},
    }
    return frame, stats
