"""Download a Lemmy post, community or user, with the community's modlog, into a raw archive folder.

The archive holds one JSON file per response and ``index.jsonl``: one line per saved response with the URL
(never the login token), the query parameters, the file, the time, the HTTP status, sha256 and size.

- Paths, parameters and shapes follow lemmy-js-client: ``/api/v3`` is Lemmy 0.19 (``page`` numbers, paged
  until a page comes back empty), ``/api/v4`` is Lemmy 1.0 (``page_cursor``/``next_page``). Comments are
  asked ``sort=Old`` so that pages do not shift while new comments arrive, and ``type_=All``.
- Resumable: a response whose file and index line exist and whose sha256 matches is read from disk, not
  asked again, so a rerun after an interruption asks only for the pages still missing.
- Polite: at most ``rate`` requests a second, a User-Agent naming the toolkit and its version, ``Retry-After``
  honoured on 429, doubling backoff on 5xx and dropped connections, a :class:`FetchError` on other 4xx.
- A login token (moderators see more) is read from the environment variable ``token_env`` and sent as
  ``Authorization: Bearer``; it is never written to the archive, the index or a message.
"""

from __future__ import annotations

import email.utils
import hashlib
import itertools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from toolkit.errors import ConfigError, ToolkitError
from toolkit.settings import FetchSettings

INDEX_FILE = "index.jsonl"
#: Statuses worth another try (after ``Retry-After`` or the backoff); any other non-200 status is final.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
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


class FetchError(ToolkitError):
    """A request that failed for good (a 4xx other than 429, retries used up, not JSON); names the URL."""


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


def user_agent() -> str:
    """``toolkit/<version>`` plus what it is, so an instance's admins can tell who is asking.

    >>> user_agent().startswith("toolkit/")
    True
    """
    try:
        version = metadata.version("toolkit")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"toolkit/{version} (discussion research fetcher; httpx/{httpx.__version__})"


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date); None when absent or unreadable.

    >>> retry_after("7")
    7.0
    >>> retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=datetime(2015, 10, 21, 7, 28, tzinfo=timezone.utc))
    10.0
    """
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


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


class _Archive:
    """The archive folder: saved responses and their index; a response is reused when its sha256 matches."""

    def __init__(self, out: Path):
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.index = out / INDEX_FILE
        self.entries: dict[str, dict[str, Any]] = {}
        text = self.index.read_text(encoding="utf-8") if self.index.is_file() else ""
        self.needs_newline = bool(text) and not text.endswith("\n")  # a line cut by a kill
        for line in text.splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("file"), str):
                self.entries[entry["file"]] = entry

    def cached(self, name: str) -> bytes | None:
        """The saved body of ``name`` when its index line exists and the file's sha256 matches it."""
        entry, path = self.entries.get(name), self.out / name
        if entry is None or not path.is_file():
            return None
        body = path.read_bytes()
        return body if hashlib.sha256(body).hexdigest() == entry.get("sha256") else None

    def save(self, name: str, response: httpx.Response, params: dict[str, Any]) -> None:
        """Write the body (atomically), then its index line."""
        body = response.content
        partial = self.out / f"{name}.part"
        partial.write_bytes(body)
        os.replace(partial, self.out / name)
        entry = {
            "url": str(response.request.url),
            "params": params,
            "file": name,
            "fetched_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "status": response.status_code,
            "sha256": hashlib.sha256(body).hexdigest(),
            "bytes": len(body),
        }
        with self.index.open("a", encoding="utf-8") as handle:
            handle.write(("\n" if self.needs_newline else "") + json.dumps(entry) + "\n")
        self.needs_newline = False
        self.entries[name] = entry


class _Session:
    """One fetch: an httpx client with pacing and retries over an :class:`_Archive`."""

    def __init__(self, base: str, out: Path, settings: FetchSettings, sleep: Callable[[float], None],
                 clock: Callable[[], float], transport: httpx.BaseTransport | None):
        headers = {"User-Agent": user_agent(), "Accept": "application/json"}
        token = os.environ.get(settings.token_env)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.http = httpx.Client(base_url=f"{base}/api/{settings.api}", headers=headers,
                                 timeout=settings.timeout, transport=transport, follow_redirects=True)
        self.archive = _Archive(out)
        self.settings, self.sleep, self.clock = settings, sleep, clock
        self.interval = 1.0 / settings.rate if settings.rate > 0 else 0.0
        self.last_request: float | None = None
        self.stats = {"requests": 0, "saved": 0, "reused": 0, "retries": 0}

    def _pace(self) -> None:
        if self.interval and self.last_request is not None:
            wait = self.last_request + self.interval - self.clock()
            if wait > 0:
                self.sleep(wait)
        self.last_request = self.clock()

    def get(self, endpoint: str, params: dict[str, Any]) -> httpx.Response:
        """GET with pacing; retries 429 (after ``Retry-After``), 5xx and dropped connections (doubling backoff)."""
        settings = self.settings
        url = f"{self.http.base_url}{endpoint.lstrip('/')}"
        for attempt in range(settings.retries + 1):
            self._pace()
            self.stats["requests"] += 1
            wait = min(settings.backoff * 2**attempt, settings.max_wait)
            try:
                response = self.http.get(endpoint, params=params)
            except httpx.TransportError as error:  # refused, dropped, timed out
                failure = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200:
                    return response
                failure = f"HTTP {response.status_code} {response.text[:200]!r}"
                if response.status_code not in RETRY_STATUSES:
                    raise FetchError(
                        f"{url} {params}: {failure}; check the URL, the API version (api=v3 for Lemmy 0.19, "
                        f"v4 for 1.0) and, for 401/403, the login token in ${settings.token_env}"
                    )
                told = retry_after(response.headers.get("Retry-After"))  # 429, and some 503s
                wait = min(told, settings.max_wait) if told is not None else wait
            if attempt < settings.retries:
                self.stats["retries"] += 1
                self.sleep(wait)
        raise FetchError(f"{url} {params}: gave up after {settings.retries + 1} tries ({failure}); rerun later, "
                         "the archive keeps what was fetched")

    def document(self, name: str, endpoint: str, params: dict[str, Any]) -> Any:
        """The JSON of one response: from the archive when saved intact, else fetched and saved as ``name``."""
        body = self.archive.cached(name)
        if body is not None:
            self.stats["reused"] += 1
            return json.loads(body)
        response = self.get(endpoint, params)
        try:
            document = response.json()
        except ValueError as error:
            raise FetchError(f"{response.request.url}: not JSON ({error}); is this a Lemmy instance?") from None
        self.archive.save(name, response, params)
        self.stats["saved"] += 1
        return document

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
            for stem, endpoint, keys in (("posts", "/post/list", ("posts", "items")),
                                         ("comments", "/comment/list", ("comments", "items"))):
                session.pages(stem, endpoint, by_community, keys)
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
    return {"target": kind, "name": name, **session.stats, "files": sorted(session.archive.entries)}
