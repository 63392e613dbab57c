"""Mastodon statuses -> one frame: ``/api/v1/statuses/<id>`` (a ``Status``) and ``/api/v1/statuses/<id>/context``
(``{"ancestors": [...], "descendants": [...]}``) responses as any tool saved them (a file, a folder such as a
``toolkit-fetch mastodon`` archive, a glob), also lists of Statuses (timelines) and NDJSON of them.

- Ids: a status id belongs to the instance that served it, so ``comment_id`` is ``<instance>/<id>`` (unique
  across instances and platforms), ``parent_id`` the same of ``in_reply_to_id``, ``native_id`` the bare id.
  The serving instance (``served_by``) comes from the archive's ``index.jsonl``, else ``instance=``, else the
  URL of the first local account's status (``acct`` without ``@``) in the files loaded (one for all of them).
- ``thread_id`` is the top of the chain of ``in_reply_to_id`` links among the loaded statuses; a parent not
  loaded is the root. A ``/context`` response on its own: its focus status (absent from it) is the root when
  it has no ancestors, so its direct replies have depth 1; with ancestors, the first ancestor is the root and
  the focus' replies are orphans whose depth (``source_reply_depth``) still counts the missing focus.
- ``text`` is ``content`` as plain text (an HTML parser: paragraphs, line breaks, links' visible text);
  ``spoiler_text`` (the content warning) and ``sensitive`` are kept. ``author`` is ``user@home``; ``instance``
  is where the status was written (host of its ``uri``), ``home_instance`` the account's home server.
  ``score`` is ``favourites_count``; ``replies_count``, ``reblogs_count``, ``favourites_count`` kept.
- Deleted since fetching: a saved 404 (``{"error": "Record not found"}``) for ``statuses/<id>`` (the id from
  the archive index's URL or the file name) marks that status ``deleted`` with null text; a status known only
  from such a response is a text-null row of its own (its parent unknown). The same status in several
  responses is one row (the later response wins; each other copy is a reject counted in ``duplicates``).

>>> result = read_mastodon("data/mastodon_synthetic")  # SYNTHETIC archive (data/build_platform_archives.py)
>>> result.frame.height, int(result.frame["deleted"].sum())
(40, 2)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from toolkit.io.api_archive import (
    WHERE_SCHEMA,
    archive_urls,
    finish_frame,
    folder_looks_like,
    head,
    iter_responses,
    response_files,
    thread_roots,
)
from toolkit.io.base import LoadError, LoadResult, Rejects
from toolkit.io.fields import FieldError, host, opt_bool, opt_dict, opt_str, parse_id, parse_int, parse_time
from toolkit.io.html_text import html_to_text

PLATFORM = "mastodon"

MASTODON_EXTRA_SCHEMA: dict[str, pl.DataType] = {
    "native_id": pl.String(),  # the status id on the serving instance
    "spoiler_text": pl.String(),  # the content warning ("" when none)
    "sensitive": pl.Boolean(),
    "visibility": pl.String(),
    "language": pl.String(),
    "instance": pl.String(),  # where the status was written (host of its uri)
    "home_instance": pl.String(),  # the account's home server
    "served_by": pl.String(),  # the instance whose API gave the data (its ids)
    "replies_count": pl.Int64(),
    "reblogs_count": pl.Int64(),
    "favourites_count": pl.Int64(),
    "edited_at": pl.Datetime("us", "UTC"),
    "url": pl.String(),
    "uri": pl.String(),
    "source_reply_depth": pl.Int32(),
    **WHERE_SCHEMA,
}


def _status_id(file: Path, url: str | None) -> str | None:
    """The status id a response answered: ``.../statuses/<id>`` in its URL, else the digits ending the file name."""
    parts = [part for part in urlsplit(url).path.split("/") if part] if url else []
    if "statuses" in parts and parts.index("statuses") + 1 < len(parts):
        return parts[parts.index("statuses") + 1]
    digits = file.stem.rsplit("-", 1)[-1]
    return digits if digits.isdigit() else None


def status_row(status: Any, served_by: str | None) -> dict[str, Any]:
    """One ``Status`` -> a row (ids as ``<served_by>/<id>``; see the module docstring).

    >>> row = status_row({"id": "2", "in_reply_to_id": "1", "created_at": "2024-05-01T10:00:00.000Z",
    ...     "content": "<p>Hi <span class='h-card'>@<span>ann</span></span></p>", "spoiler_text": "",
    ...     "sensitive": False, "uri": "https://b.example/users/bo/statuses/9",
    ...     "account": {"acct": "bo@b.example", "username": "bo"}}, "a.example")
    >>> row["comment_id"], row["parent_id"], row["text"], row["author"], row["home_instance"], row["instance"]
    ('a.example/2', 'a.example/1', 'Hi @ann', 'bo@b.example', 'b.example', 'b.example')
    """
    if not isinstance(status, dict):
        raise FieldError("status", f"expected a Status object, got {type(status).__name__}")
    prefix = f"{served_by or PLATFORM}/"
    own = parse_id(status.get("id"), "id") or ""
    parent = parse_id(status.get("in_reply_to_id"), "in_reply_to_id", required=False)
    account = opt_dict(status, "account", "account") or {}
    acct = opt_str(account, "acct", "account.acct")
    home = acct.split("@", 1)[1] if acct and "@" in acct else served_by or host(account.get("url"))
    username = opt_str(account, "username", "account.username") or (acct.split("@", 1)[0] if acct else None)
    uri = opt_str(status, "uri", "uri")
    favourites = parse_int(status.get("favourites_count"), "favourites_count")
    return {
        "thread_id": None,
        "comment_id": prefix + own,
        "parent_id": prefix + parent if parent else None,
        "is_post": parent is None,
        "author": f"{username}@{home}" if username and home else username,
        "text": html_to_text(opt_str(status, "content", "content")),
        "created_at": parse_time(status.get("created_at"), "created_at"),
        "score": favourites,
        "removed": False,
        "deleted": False,
        "platform": PLATFORM,
        "native_id": own,
        "spoiler_text": opt_str(status, "spoiler_text", "spoiler_text"),
        "sensitive": opt_bool(status, "sensitive", "sensitive"),
        "visibility": opt_str(status, "visibility", "visibility"),
        "language": opt_str(status, "language", "language"),
        "instance": host(uri) or home,
        "home_instance": home,
        "served_by": served_by,
        "replies_count": parse_int(status.get("replies_count"), "replies_count"),
        "reblogs_count": parse_int(status.get("reblogs_count"), "reblogs_count"),
        "favourites_count": favourites,
        "edited_at": parse_time(status.get("edited_at"), "edited_at"),
        "url": opt_str(status, "url", "url"),
        "uri": uri,
    }


def _served_by(value: Any) -> str | None:
    """The serving instance told by a local account's status (``acct`` without ``@``): its URL's host."""
    statuses = value if isinstance(value, list) else (
        [*value.get("ancestors", []), *value.get("descendants", [])] if isinstance(value, dict)
        and "descendants" in value else [value])
    for status in statuses:
        account = status.get("account") if isinstance(status, dict) else None
        if isinstance(account, dict) and isinstance(account.get("acct"), str) and "@" not in account["acct"]:
            return host(status.get("url")) or host(account.get("url"))
    return None


def _is_status(value: Any) -> bool:
    return isinstance(value, dict) and "id" in value and "content" in value and "account" in value


def looks_like_mastodon(path: Path) -> bool:
    """A Status, a context (ancestors/descendants), a list of Statuses, or a folder whose first JSON files are.

    >>> looks_like_mastodon(Path("data/mastodon_synthetic")), looks_like_mastodon(Path("data/hackernews_synthetic"))
    (True, False)
    """
    path = Path(path)
    if path.is_dir() and (path / "index.jsonl").is_file() and b"/api/v1/statuses/" in head(path / "index.jsonl"):
        return True
    if (found := folder_looks_like(path, looks_like_mastodon)) is not None:
        return found
    start = head(path)
    if b'"ancestors"' in start and b'"descendants"' in start:
        return True
    return all(key in start for key in (b'"in_reply_to_id"', b'"content"', b'"account"', b'"acct"'))


def read_mastodon(path: str | Path | Sequence[str | Path], *, strict: bool = False,
                  instance: str | None = None) -> LoadResult:
    """Load Mastodon statuses and contexts (see the module docstring): one row per distinct status.

    ``instance``: the serving instance when neither an archive index nor a local account tells it.
    ``stats``: ``statuses`` (entries read), ``contexts``, ``deleted_since`` (404s for statuses),
    ``duplicates``, ``files``.
    """
    files = response_files(path, "Mastodon responses")
    urls = archive_urls(files)
    rejects = Rejects(strict=strict)
    stats: dict[str, Any] = {"files": len(files), "statuses": 0, "contexts": 0, "deleted_since": 0}
    rows: list[dict[str, Any]] = []
    gone: set[str] = set()
    hints: dict[str, str] = {}  # a context's missing focus -> its last ancestor (for the thread and depths)
    values = list(iter_responses(files, rejects))  # a bad NDJSON line is rejected here
    # one serving instance for files no index names (their ids must match): the first a local account tells
    told = instance or next((found for _, _, value, _ in values if (found := _served_by(value)) is not None),
                            None)
    for file, line, value, where in values:
        url = urls.get(file)
        served = host(url) or told
        prefix = f"{served or PLATFORM}/"
        if isinstance(value, dict) and set(value) == {"error"} or (isinstance(value, dict) and "error" in value
                                                                      and "id" not in value):
            own = _status_id(file, url)
            if own is None:
                raise LoadError(file, f"an error response ({value.get('error')!r:.60}) for no status id the "
                                      "file name or the archive index tells", line=line)
            gone.add(prefix + own)
            stats["deleted_since"] += 1
            rows.append({"comment_id": prefix + own, "is_post": False, "removed": False, "deleted": True,
                         "platform": PLATFORM,
                         "native_id": own, "served_by": served, "_weak": True, **where})
            continue
        if isinstance(value, dict) and "descendants" in value:
            stats["contexts"] += 1
            ancestors, descendants = value.get("ancestors") or [], value.get("descendants")
            if not isinstance(ancestors, list) or not isinstance(descendants, list):
                raise LoadError(file, "a context whose ancestors or descendants is not a list", line=line)
            known = {str(s.get("id")) for s in [*ancestors, *descendants] if isinstance(s, dict)}
            focus = next((str(s["in_reply_to_id"]) for s in descendants if isinstance(s, dict)
                          and s.get("in_reply_to_id") is not None and str(s["in_reply_to_id"]) not in known),
                         _status_id(file, url))
            if focus is not None and ancestors and isinstance(ancestors[-1], dict):
                hints[prefix + focus] = prefix + str(ancestors[-1].get("id"))
            statuses = [*ancestors, *descendants]
        elif isinstance(value, list):
            statuses = value
        elif _is_status(value):
            statuses = [value]
        else:
            raise LoadError(file, "not a Mastodon response: expected a Status, a context {\"ancestors\": [...], "
                                  "\"descendants\": [...]} or a list of Statuses", line=line)
        for status in statuses:
            stats["statuses"] += 1
            try:
                rows.append({**status_row(status, served), "_weak": False, **where})
            except FieldError as failure:
                who = status.get("id") if isinstance(status, dict) else None
                rejects.add(file, line, failure.field, f"status {who}: {failure}")
    # threads: the chain of parents among the statuses (and a missing context focus' last ancestor)
    parents: dict[str, str | None] = {row["comment_id"]: row.get("parent_id") for row in rows if not row["_weak"]}
    for row in rows:
        parents.setdefault(row["comment_id"], None)
    parents.update({focus: above for focus, above in hints.items() if focus not in parents})
    roots = thread_roots(parents)
    for row in rows:
        root, hops = roots[row["comment_id"]]
        row["thread_id"] = root
        row["source_reply_depth"] = hops
        if row["comment_id"] in gone:
            row.update(text=None, deleted=True)
    schema = {**MASTODON_EXTRA_SCHEMA, "_weak": pl.Boolean()}
    frame, stats["duplicates"] = finish_frame(rows, schema, files, rejects, weak="_weak")
    stats["rows_rejected"] = len(rejects.rows)
    return LoadResult(frame=frame.drop("_weak"), rejects=rejects.frame(), stats=stats, files=files)
