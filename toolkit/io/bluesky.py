"""Bluesky (AT Protocol) thread views -> one frame: ``app.bsky.feed.getPostThread`` responses as any tool saved
them (a file, a folder such as a ``toolkit-fetch bluesky`` archive, a glob, NDJSON of them), also
``getPosts`` (``{"posts": [PostView]}``) and feed pages (``{"feed": [{"post": PostView}]}``).

- One row per post: ``comment_id`` is the post's ``at://`` URI (unique across platforms), ``parent_id`` its
  ``record.reply.parent.uri``, ``thread_id`` its ``record.reply.root.uri`` (its own URI for a thread's post).
  ``author`` is the handle, ``author_did`` the DID; ``score`` is ``likeCount``; ``reply_count``,
  ``repost_count``, ``like_count``, ``quote_count`` as the AppView counted them.
- ``notFoundPost`` and ``blockedPost`` entries are rows too, never dropped: text null, ``unavailable`` says
  why (``not_found``: deleted by its author or taken down, so ``deleted`` is true; ``blocked``: hidden from
  the viewer by a block, neither removed nor deleted). Their parent is the post whose ``replies`` list holds
  them; one met as a ``parent`` has no known parent (the AppView stops climbing there) unless it is the
  thread's root post. A real view of a post wins over a placeholder of it in another response.
- Deleted since: a saved ``{"error": "NotFound"}`` answer to a later getPostThread call (the post's URI from
  the archive index's URL or the message) marks that post ``deleted``, its text null.
- Moderation labels: ``labels``/``label_sources`` (``labels[].val``/``.src`` of the post; negations
  dropped) and ``author_labels``/``author_label_sources`` (the account's). **Removed rule**: a post is
  ``removed`` when a label in ``removal_labels`` (default ``!hide`` and ``!takedown``: the global labels a
  moderation service uses to hide content from everyone) is on the post or its author, applied by someone
  other than the author; ``removal_source`` is ``label:<val>`` (``author_label:<val>``) and ``removed_by``
  the labeller's DID (Bluesky's own moderation service is ``did:plc:ar7c4by46qjdydhdevvrndac``). Labels such
  as ``!warn``, ``spam`` or ``rude`` only warn or filter per user: kept as columns, not ``removed``
  (pass ``removal_labels=[...]`` to count more). The text stays (the AppView still sends it).

>>> result = read_bluesky("data/bluesky_synthetic")  # SYNTHETIC archive (data/build_platform_archives.py)
>>> result.frame.height, int(result.frame["removed"].sum()), result.stats["not_found"], result.stats["blocked"]
(37, 2, 2, 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import polars as pl

from toolkit.io.api_archive import (
    WHERE_SCHEMA,
    archive_urls,
    finish_frame,
    folder_looks_like,
    head,
    iter_responses,
    response_files,
)
from toolkit.io.base import LoadError, LoadResult, Rejects
from toolkit.io.fields import FieldError, opt_dict, opt_str, parse_int, parse_time

PLATFORM = "bluesky"
REMOVAL_LABELS = ("!hide", "!takedown")
_THREAD_VIEW, _NOT_FOUND, _BLOCKED = ("app.bsky.feed.defs#threadViewPost", "app.bsky.feed.defs#notFoundPost",
                                      "app.bsky.feed.defs#blockedPost")
_STRINGS = pl.List(pl.String())

BLUESKY_EXTRA_SCHEMA: dict[str, pl.DataType] = {
    "author_did": pl.String(),
    "cid": pl.String(),
    "reply_count": pl.Int64(),
    "repost_count": pl.Int64(),
    "like_count": pl.Int64(),
    "quote_count": pl.Int64(),
    "langs": _STRINGS,
    "labels": _STRINGS,  # labels[].val on the post (negated labels dropped)
    "label_sources": _STRINGS,  # labels[].src: who labelled, same order
    "author_labels": _STRINGS,
    "author_label_sources": _STRINGS,
    "unavailable": pl.String(),  # "not_found" | "blocked" for placeholder rows, else null
    "removed_by": pl.String(),  # the labeller (DID) whose label hid the post
    "removal_source": pl.String(),  # "label:<val>" or "author_label:<val>"
    "indexed_at": pl.Datetime("us", "UTC"),
    **WHERE_SCHEMA,
}


def _kind(node: Any) -> str | None:
    """``thread``, ``not_found``, ``blocked`` or None: what a thread-view union member is."""
    if not isinstance(node, dict):
        return None
    kind = node.get("$type")
    if kind == _NOT_FOUND or node.get("notFound") is True:
        return "not_found"
    if kind == _BLOCKED or node.get("blocked") is True:
        return "blocked"
    if kind == _THREAD_VIEW or isinstance(node.get("post"), dict):
        return "thread"
    return None


def _labels(data: dict[str, Any] | None, prefix: str) -> tuple[list[str], list[str]]:
    """(vals, srcs) of a ``labels`` list, negated labels left out."""
    labels = (data or {}).get("labels")
    if labels is None:
        return [], []
    if not isinstance(labels, list):
        raise FieldError(f"{prefix}.labels", f"expected a list, got {type(labels).__name__}")
    vals, srcs = [], []
    for label in labels:
        if not isinstance(label, dict) or not isinstance(label.get("val"), str):
            raise FieldError(f"{prefix}.labels", f"not a label object with a 'val': {label!r:.60}")
        if label.get("neg") is True:
            continue
        vals.append(label["val"])
        srcs.append(label.get("src") if isinstance(label.get("src"), str) else None)
    return vals, srcs


def _uri(data: dict[str, Any] | None, label: str) -> str | None:
    value = opt_str(data or {}, "uri", label)
    if value is not None and not value.startswith("at://"):
        raise FieldError(label, f"not an at:// URI: {value!r:.60}")
    return value


def reply_links(record: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None, str | None]:
    """``(reply, parent URI, root URI)`` of a post record (AppView or Jetstream); a reply must name its
    parent."""
    reply = opt_dict(record, "reply", "record.reply")
    parent, root = (_uri(opt_dict(reply or {}, key, f"record.reply.{key}"), f"record.reply.{key}.uri")
                    for key in ("parent", "root"))
    if reply is not None and parent is None:
        raise FieldError("record.reply.parent.uri", "a reply without its parent's uri")
    return reply, parent, root


def post_row(post: Any, removal_labels: Iterable[str] = REMOVAL_LABELS) -> dict[str, Any]:
    """One ``PostView`` -> a row (see the module docstring); :class:`FieldError` on a bad field.

    >>> row = post_row({"uri": "at://did:plc:b/app.bsky.feed.post/2", "author": {"did": "did:plc:b",
    ...     "handle": "bob.test"}, "record": {"text": "hi", "createdAt": "2024-05-01T10:00:00Z", "reply": {
    ...     "root": {"uri": "at://did:plc:a/app.bsky.feed.post/1"}, "parent": {"uri": "at://did:plc:a/app.bsky.feed.post/1"}}},
    ...     "labels": [{"src": "did:plc:mod", "val": "!hide"}]})
    >>> row["thread_id"], row["author"], row["removed"], row["removal_source"], row["removed_by"]
    ('at://did:plc:a/app.bsky.feed.post/1', 'bob.test', True, 'label:!hide', 'did:plc:mod')
    """
    if not isinstance(post, dict):
        raise FieldError("post", f"expected a PostView object, got {type(post).__name__}")
    uri = _uri(post, "post.uri")
    if uri is None:
        raise FieldError("post.uri", "missing uri")
    author = opt_dict(post, "author", "post.author") or {}
    record = opt_dict(post, "record", "post.record") or {}
    reply, parent, root = reply_links(record)
    did = opt_str(author, "did", "author.did")
    vals, srcs = _labels(post, "post")
    author_vals, author_srcs = _labels(author, "author")
    hidden = set(removal_labels)
    candidates = [*(("label", v, s) for v, s in zip(vals, srcs, strict=True)),
                  *(("author_label", v, s) for v, s in zip(author_vals, author_srcs, strict=True))]
    removal = next((c for c in candidates if c[1] in hidden and c[2] != did), None)
    langs = record.get("langs")
    likes = parse_int(post.get("likeCount"), "post.likeCount")
    return {
        "thread_id": root or uri,
        "comment_id": uri,
        "parent_id": parent,
        "is_post": reply is None,
        "author": opt_str(author, "handle", "author.handle") or None,
        "text": opt_str(record, "text", "record.text"),
        "created_at": parse_time(record.get("createdAt"), "record.createdAt"),
        "score": likes,
        "removed": removal is not None,
        "deleted": False,
        "platform": PLATFORM,
        "author_did": did,
        "cid": opt_str(post, "cid", "post.cid"),
        "reply_count": parse_int(post.get("replyCount"), "post.replyCount"),
        "repost_count": parse_int(post.get("repostCount"), "post.repostCount"),
        "like_count": likes,
        "quote_count": parse_int(post.get("quoteCount"), "post.quoteCount"),
        "langs": [lang for lang in langs if isinstance(lang, str)] if isinstance(langs, list) else None,
        "labels": vals,
        "label_sources": srcs,
        "author_labels": author_vals,
        "author_label_sources": author_srcs,
        "unavailable": None,
        "removed_by": removal[2] if removal else None,
        "removal_source": f"{removal[0]}:{removal[1]}" if removal else None,
        "indexed_at": parse_time(post.get("indexedAt"), "post.indexedAt"),
    }


def placeholder_row(node: dict[str, Any], kind: str, parent: str | None, thread: str | None) -> dict[str, Any]:
    """A ``notFoundPost``/``blockedPost`` -> a text-null row under ``parent`` in ``thread`` (see the docstring)."""
    uri = _uri(node, "uri")
    if uri is None:
        raise FieldError("uri", f"a {kind} entry without its uri")
    author = opt_dict(node, "author", "author") or {}
    return {
        "thread_id": thread or uri, "comment_id": uri, "parent_id": parent, "is_post": parent is None and uri == (thread or uri),
        "author": None, "text": None, "created_at": None, "score": None, "removed": False,
        "deleted": kind == "not_found", "platform": PLATFORM, "author_did": opt_str(author, "did", "author.did"),
        "labels": [], "label_sources": [], "author_labels": [], "author_label_sources": [], "unavailable": kind,
    }


class _Walk:
    """Rows of every post in the thread views of one file, in document order (parents above, then the focus,
    then replies depth first); iterative, so threads deeper than Python's recursion limit load too."""

    def __init__(self, removal_labels: Iterable[str], rejects: Rejects, stats: dict[str, int]):
        self.removal_labels, self.rejects, self.stats = tuple(removal_labels), rejects, stats
        self.rows: list[dict[str, Any]] = []

    def _row(self, node: Any, where: dict[str, Any], file: Path, parent: str | None,
             thread: str | None) -> dict[str, Any] | None:
        """The row of one thread-view node (a placeholder's ``parent``/``thread`` from where it was met), or
        None when it is rejected."""
        kind = _kind(node)
        try:
            if kind is None:
                raise FieldError("thread", f"not a threadViewPost, notFoundPost or blockedPost: {node!r:.80}")
            row = post_row(node["post"], self.removal_labels) if kind == "thread" else \
                placeholder_row(node, kind, parent, thread)
        except FieldError as failure:
            self.rejects.add(file, where["source_line"], failure.field, f"post {_label(node)}: {failure}")
            return None
        self.stats["posts" if kind == "thread" else kind] += 1
        return {**row, **where}

    def _replies(self, node: Any, row: dict[str, Any] | None, where: dict[str, Any],
                 file: Path) -> list[tuple[Any, str | None, str | None]]:
        """``(reply, parent uri, thread uri)`` for the replies of a node (also of one that was rejected: its
        replies still load, their own records name their parent)."""
        replies = node.get("replies") if isinstance(node, dict) else None
        if replies is None:
            return []
        uri = row["comment_id"] if row else _label(node)
        if not isinstance(replies, list):
            self.rejects.add(file, where["source_line"], "replies", f"post {uri}: replies is not a list")
            return []
        return [(reply, uri, row["thread_id"] if row else None) for reply in replies]

    def node(self, top: Any, where: dict[str, Any], file: Path) -> None:
        """A thread view: the chain of parents above it (top first), itself, then its replies depth first."""
        row = self._row(top, where, file, None, None)
        chain, child, up = [], row, top.get("parent") if isinstance(top, dict) else None
        while up is not None and child is not None:  # climbing: a placeholder is the root, or its parent unknown
            above = self._row(up, where, file, None, child["thread_id"])
            if above is not None:
                chain.append(above)
            child, up = above, up.get("parent") if isinstance(up, dict) and _kind(up) == "thread" else None
        self.rows += [*reversed(chain), *([row] if row else [])]
        stack = list(reversed(self._replies(top, row, where, file)))
        while stack:
            node, parent, thread = stack.pop()
            reply = self._row(node, where, file, parent, thread)
            if reply is not None:
                self.rows.append(reply)
            stack += reversed(self._replies(node, reply, where, file))


def _label(node: Any) -> str:
    uri = node.get("uri") or (node.get("post") or {}).get("uri") if isinstance(node, dict) else None
    return str(uri) if isinstance(uri, str) else "(no uri)"


def _views(value: Any) -> tuple[str, list[Any]] | None:
    """("thread", [root nodes]) or ("posts", [PostViews]) of one response; None when it is not Bluesky's."""
    if not isinstance(value, dict):
        return None
    if "thread" in value:
        return "thread", [value["thread"]]
    if _kind(value) is not None:
        return "thread", [value]
    if isinstance(value.get("posts"), list):
        return "posts", list(value["posts"])
    if isinstance(value.get("feed"), list):
        return "posts", [item.get("post") if isinstance(item, dict) else item for item in value["feed"]]
    return None


def looks_like_bluesky(path: Path) -> bool:
    """A getPostThread/getPosts/feed response (``app.bsky.`` types or thread-view keys with ``at://`` URIs),
    or a folder whose first JSON files are.

    >>> looks_like_bluesky(Path("data/bluesky_synthetic")), looks_like_bluesky(Path("data/mastodon_synthetic"))
    (True, False)
    """
    path = Path(path)
    if (found := folder_looks_like(path, looks_like_bluesky)) is not None:
        return found
    start = head(path)
    if b'"kind"' in start and b'"commit"' in start and b'"time_us"' in start:
        return False  # Jetstream events
    return b"at://" in start and (b'"thread"' in start or b"app.bsky.feed.defs#" in start or (
        b'"posts"' in start and b'"record"' in start) or (b'"feed"' in start and b'"record"' in start))


def read_bluesky(path: str | Path | Sequence[str | Path], *, strict: bool = False,
                 removal_labels: Sequence[str] = REMOVAL_LABELS) -> LoadResult:
    """Load Bluesky thread views (see the module docstring): one row per distinct post.

    ``stats``: ``posts`` (post views read), ``not_found``, ``blocked``, ``duplicates`` (the same post in
    several responses: each extra copy is a reject), ``files``; every entry read is a row kept or rejected.
    A file that is not a Bluesky response is a :class:`LoadError` naming it.
    """
    files = response_files(path, "Bluesky responses")
    rejects = Rejects(strict=strict)
    stats: dict[str, Any] = {"files": len(files), "posts": 0, "not_found": 0, "blocked": 0,
                             "not_found_since": 0}
    walk = _Walk(removal_labels, rejects, stats)
    urls = archive_urls(files)
    gone: set[str] = set()
    for file, line, value, where in iter_responses(files, rejects):
        views = _views(value)
        if views is None and isinstance(value, dict) and value.get("error") == "NotFound":
            asked = parse_qs(urlsplit(urls.get(file, "")).query).get("uri", [])
            message = str(value.get("message") or "")
            uri = asked[0] if asked else message[message.find("at://"):] if "at://" in message else None
            if uri is None:
                raise LoadError(file, "a NotFound answer that names no post (no uri in the archive index or "
                                      "the message)", line=line)
            gone.add(uri)
            stats["not_found_since"] += 1
            continue
        if views is None:
            if isinstance(value, dict) and isinstance(value.get("did"), str) and len(value) <= 2:
                continue  # com.atproto.identity.resolveHandle, saved by the fetcher beside the threads
            raise LoadError(file, 'not a Bluesky response: expected getPostThread {"thread": ...}, a thread '
                            'view, getPosts {"posts": [...]} or a feed {"feed": [...]}', line=line)
        kind, items = views
        for item in items:
            if kind == "thread":
                walk.node(item, where, file)
                continue
            try:
                walk.rows.append({**post_row(item, removal_labels), **where})
                stats["posts"] += 1
            except FieldError as failure:
                rejects.add(file, line, failure.field, f"post {_label(item)}: {failure}")
    for row in walk.rows:
        if row["comment_id"] in gone:
            row.update(text=None, deleted=True, unavailable="not_found")
    rows = [{**row, "_weak": row.get("unavailable") is not None} for row in walk.rows]  # real views win
    frame, stats["duplicates"] = finish_frame(rows, {**BLUESKY_EXTRA_SCHEMA, "_weak": pl.Boolean()}, files, rejects,
                                              weak="_weak")
    stats["rows_rejected"] = len(rejects.rows)
    return LoadResult(frame=frame.drop("_weak"), rejects=rejects.frame(), stats=stats, files=files)
