"""Download a Lemmy post, community or user, with the community's modlog, into a raw archive folder.

The archive (:mod:`toolkit.fetch.archive`, shared by every fetcher) holds one JSON file per response and
``index.jsonl``: one line per saved response with the URL (never the login token), the query parameters, the
file, the time, the HTTP status, sha256 and size.

- Paths, parameters and shapes follow lemmy-js-client: ``/api/v3`` is Lemmy 0.19 (``page`` numbers, paged
  until a page comes back empty), ``/api/v4`` is Lemmy 1.0 (``page_cursor``/``next_page``). Comments are
  asked ``sort=Old`` so that pages do not shift while new comments arrive, and ``type_=All``.
- Resumable: a response whose file and index line exist and whose sha256 matches is read from disk, not
  asked again, so a rerun after an interruption asks only for the pages still missing.
- Polite: at most ``rate`` requests a second, a User-Agent naming the toolkit and its version, ``Retry-After``
  honoured on 429, doubling backoff on 5xx and dropped connections, a :class:`FetchError` on other 4xx.
- A login token (moderators see more) is read from the environment variable ``token_env`` (default
  ``LEMMY_JWT``) and sent as ``Authorization: Bearer``; it is never written to the archive, the index or a
  message.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from toolkit.errors import ConfigError
from toolkit.fetch.archive import INDEX_FILE, RETRY_STATUSES, FetchError, Session, retry_after, user_agent
from toolkit.settings import FetchSettings

__all__ = ["INDEX_FILE", "RETRY_STATUSES", "FetchError", "FetchSettings", "Target", "fetch_lemmy", "parse_target",
           "retry_after", "user_agent"]

#: The environment variable holding a Lemmy login token (JWT) unless ``FetchSettings.token_env`` names another.
TOKEN_ENV = "LEMMY_JWT"
#: The modlog's action filter (``GetModlog.type_``) per API version: comment and post removals, community bans.
MODLOG_TYPES = {
    "v3": {"remove_comment": "ModRemoveComment", "remove_post": "ModRemovePost",
           "ban_from_community": "ModBanFromCommunity"},
    "v4": {"remove_comment": "mod_remove_comment", "remove_post": "mod_remove_post",
           "ban_from_community": "mod_ban_from_community"},
}
#: The parameter that names a community in ``GetComments``/``GetPosts`` per API version.
COMMUNITY_PARAM = {"v3": "community_id", "v4": "community_name_or_id"}
_URL_KINDS = {"post": "post", "comment": "comment", "c": "community", "u": "user"}


@dataclass(frozen=True)
class Target:
    """What a Lemmy URL points at: the instance's base URL, ``post|comment|community|user`` and the id or name."""

    base: str
    kind: str
    name: str


def parse_target(url: str) -> Target:
    """The :class:`Target` of a post, comment, community or user URL; :class:`ConfigError` otherwise.

    >>> parse_target("https://lemmy.world/c/news@lemmy.ml")
    Target(base='https://lemmy.world', kind='community', name='news@lemmy.ml')
    >>> parse_target("https://lemmy.world/post/123").kind
    'post'
    """
    parts = urlsplit(url.strip())
    segments = [segment for segment in parts.path.split("/") if segment]
    kind = _URL_KINDS.get(segments[0]) if len(segments) == 2 else None
    if parts.scheme not in ("http", "https") or not parts.netloc or kind is None or (
        kind in ("post", "comment") and not segments[1].isdigit()
    ):
        raise ConfigError(
            "url",
            f"{url!r} is not a Lemmy post, comment, community or user URL "
            "(e.g. https://lemmy.world/post/123, /comment/456, /c/name, /c/name@instance, /u/name)",
        )
    return Target(f"{parts.scheme}://{parts.netloc}", kind, segments[1])


def _has_items(document: Any, keys: tuple[str, ...] | None) -> bool:
    """Whether a page holds anything: a non-empty list under ``keys`` (any list when None)."""
    if not isinstance(document, dict):
        return False
    lists = document.values() if keys is None else (document.get(key) for key in keys)
    return any(isinstance(value, list) and value for value in lists)


def _dig(document: Any, *keys: str) -> Any:
    """``document[k1][k2]...`` or None when a level is missing."""
    for key in keys:
        document = document.get(key) if isinstance(document, dict) else None
    return document


class _Session(Session):
    """A Lemmy fetch: the shared :class:`~toolkit.fetch.archive.Session` on ``/api/<version>``, plus paging."""

    def __init__(self, base: str, out: Path, settings: FetchSettings, sleep: Callable[[float], None],
                 clock: Callable[[], float], transport: httpx.BaseTransport | None):
        super().__init__(f"{base}/api/{settings.api}", out, settings, token_env=settings.token_env or TOKEN_ENV,
                         hint="check the URL, the API version (api=v3 for Lemmy 0.19, v4 for 1.0)",
                         what="a Lemmy instance", sleep=sleep, clock=clock, transport=transport)

    def pages(self, stem: str, endpoint: str, params: dict[str, Any],
              keys: tuple[str, ...] | None = None) -> Any:
        """Fetch every page of a listing as ``<stem>-0001.json``...; returns the first page.

        Page numbers until a page comes back empty (v3), or ``next_page`` cursors until there is none (v4);
        ``keys`` name the lists that make a page non-empty (any list when None).
        """
        params, first = {**params, "limit": self.settings.limit}, None
        for number in itertools.count(1):
            if self.settings.api == "v3":
                params["page"] = number
            document = self.document(f"{stem}-{number:04d}.json", endpoint, dict(params))
            first = first if number > 1 else document
            cursor = _dig(document, "next_page")
            if not _has_items(document, keys) or (self.settings.api == "v4" and not cursor):
                return first
            if self.settings.api == "v4":
                params["page_cursor"] = cursor


def _require(value: Any, what: str, name: str) -> Any:
    if value is None:
        raise FetchError(f"{name}: the response has no {what}; is the API version right (api=v3 or v4)?")
    return value


def fetch_lemmy(url: str, out: str | Path, settings: FetchSettings | None = None, *,
                sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """Fetch what ``url`` names into the archive folder ``out``; returns counts and the files.

    ``sleep`` and ``clock`` (the pacing and backoff waits) and ``transport`` (httpx's) are there for tests.

    A post (or a comment's post): ``post-<id>.json``, ``comments-<id>-NNNN.json``. A community:
    ``community.json``, ``posts-NNNN.json``, ``comments-NNNN.json``. A user: ``user-NNNN.json`` (their
    comments and posts; ``/user`` in 0.19, ``/person/content`` in 1.0). Then the modlog of the community (of
    the user, for a user), one listing per action: ``modlog-remove_comment-NNNN.json``,
    ``modlog-remove_post-NNNN.json``, ``modlog-ban_from_community-NNNN.json``.

    >>> fetch_lemmy("ftp://lemmy.world/post/1", "/tmp/never")
    Traceback (most recent call last):
    ...
    toolkit.errors.ConfigError: url: 'ftp://lemmy.world/post/1' is not a Lemmy post, comment, community or user URL (e.g. https://lemmy.world/post/123, /comment/456, /c/name, /c/name@instance, /u/name)
    """
    target = parse_target(url)
    settings = settings or FetchSettings()
    session = _Session(target.base, Path(out), settings, sleep, clock, transport)
    api, kind, name = settings.api, target.kind, target.name
    with session.http:
        if kind == "comment":
            document = session.document(f"comment-{name}.json", "/comment", {"id": name})
            kind, name = "post", str(_require(_dig(document, "comment_view", "comment", "post_id"), "post id", url))
        listing = {"sort": "Old", "type_": "All"}
        if kind == "post":
            document = session.document(f"post-{name}.json", "/post", {"id": name})
            community_id = _require(_dig(document, "post_view", "community", "id"), "community id", url)
            session.pages(f"comments-{name}", "/comment/list", {**listing, "post_id": name}, ("comments", "items"))
            modlog_filter = {"community_id": community_id}
        elif kind == "community":
            document = session.document("community.json", "/community", {"name": name})
            community_id = _require(_dig(document, "community_view", "community", "id"), "community id", url)
            by_community = {**listing, COMMUNITY_PARAM[api]: community_id}
            session.pages("posts", "/post/list", by_community, ("posts", "items"))
            session.pages("comments", "/comment/list", by_community, ("comments", "items"))
            modlog_filter = {"community_id": community_id}
        elif api == "v3":
            document = session.pages("user", "/user", {"username": name, "sort": "Old"}, ("comments", "posts"))
            modlog_filter = {"other_person_id": _require(_dig(document, "person_view", "person", "id"),
                                                         "person id", url)}
        else:  # 1.0 lists a person's content newest first, with no sort parameter
            document = session.pages("user", "/person/content", {"person_name_or_id": name}, ("items",))
            person_id = _dig((_dig(document, "items") or [{}])[0], "creator", "id")
            modlog_filter = {"other_person_id": person_id} if person_id is not None else None
        if settings.modlog and modlog_filter:
            for action, type_ in MODLOG_TYPES[api].items():
                session.pages(f"modlog-{action}", "/modlog", {**modlog_filter, "type_": type_})
    return {"target": kind, "name": name, **session.summary()}
