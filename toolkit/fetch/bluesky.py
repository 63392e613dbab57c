"""Download a Bluesky thread (the whole reply tree) from a public AppView into a raw archive folder.

``app.bsky.feed.getPostThread`` needs no login on a public AppView (``service``, default
``https://public.api.bsky.app``). Files: ``handle-<handle>.json`` (``com.atproto.identity.resolveHandle``,
when the URL names a handle), ``thread-<did>-<rkey>.json`` per getPostThread response (``:`` in the DID
written ``_``), and ``index.jsonl`` (:mod:`toolkit.fetch.archive`: resumable, polite, sha256-checked).

- The first call asks the depth and parent height the lexicon allows (1000 each); when the post is a reply
  the thread's root is asked too (``parentHeight=0``), so the whole tree is there, not only the branch.
- An AppView returns replies to a limited depth: a post it cuts off has ``replyCount > 0`` and no
  ``replies``. Each such post is asked again (``parentHeight=0``) until no branch is cut off.
- A further call for a post deleted since its thread was fetched answers 400 ``NotFound``: saved as it is
  (the loader marks the post deleted); on the first call it is a :class:`FetchError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from toolkit.errors import ConfigError
from toolkit.fetch.archive import FetchError, Session
from toolkit.settings import FetchSettings

PUBLIC_APPVIEW = "https://public.api.bsky.app"
MAX_DEPTH = 1000  # app.bsky.feed.getPostThread: depth <= 1000
MAX_PARENT_HEIGHT = 1000  # parentHeight <= 1000
POST = "app.bsky.feed.post"


@dataclass(frozen=True)
class PostRef:
    """A Bluesky post: its author (a DID or a handle) and its record key."""

    authority: str
    rkey: str

    def uri(self, did: str | None = None) -> str:
        return f"at://{did or self.authority}/{POST}/{self.rkey}"


def parse_post(url: str) -> PostRef:
    """The :class:`PostRef` of a ``bsky.app/profile/<handle or did>/post/<rkey>`` URL or an ``at://`` URI.

    >>> parse_post("https://bsky.app/profile/alice.bsky.social/post/3kabc")
    PostRef(authority='alice.bsky.social', rkey='3kabc')
    >>> parse_post("at://did:plc:abc/app.bsky.feed.post/3kxyz").authority
    'did:plc:abc'
    """
    text = url.strip()
    if text.startswith("at://"):
        parts = text[5:].split("/")
        if len(parts) == 3 and parts[1] == POST and parts[0] and parts[2]:
            return PostRef(parts[0], parts[2])
    else:
        split = urlsplit(text)
        parts = [part for part in split.path.split("/") if part]
        if split.scheme in ("http", "https") and len(parts) == 4 and parts[0] == "profile" and parts[2] == "post":
            return PostRef(parts[1], parts[3])
    raise ConfigError("url", f"{url!r} is not a Bluesky post URL (https://bsky.app/profile/<handle>/post/<rkey>) "
                             f"or an at:// post URI (at://<did>/{POST}/<rkey>)")


def thread_file(uri: str) -> str:
    """The archive file of a getPostThread response for ``uri``.

    >>> thread_file("at://did:plc:abc/app.bsky.feed.post/3kxyz")
    'thread-did_plc_abc-3kxyz.json'
    """
    did, _, rkey = uri[5:].partition(f"/{POST}/")
    return f"thread-{did.replace(':', '_')}-{rkey}.json"


def _not_found(response: httpx.Response) -> bool:
    """A 400 ``NotFound`` (the post is gone): a fact to save for a further call."""
    if response.status_code != 400:
        return False
    try:
        return response.json().get("error") == "NotFound"
    except (ValueError, AttributeError):
        return False


def cut_off(node: Any) -> list[str]:
    """The URIs of the posts below a thread view whose replies the AppView left out (``replyCount > 0`` and
    no ``replies``), depth first (iterative: any depth).

    >>> cut_off({"post": {"uri": "at://a/app.bsky.feed.post/1", "replyCount": 1}, "replies": [
    ...     {"post": {"uri": "at://b/app.bsky.feed.post/2", "replyCount": 3}}]})
    ['at://b/app.bsky.feed.post/2']
    """
    found, stack = [], [node]
    while stack:
        item = stack.pop()
        if not isinstance(item, dict) or not isinstance(item.get("post"), dict):
            continue  # notFoundPost, blockedPost
        replies = item.get("replies")
        if replies is None:
            count = item["post"].get("replyCount")
            if isinstance(count, int) and count > 0 and isinstance(item["post"].get("uri"), str):
                found.append(item["post"]["uri"])
        elif isinstance(replies, list):
            stack += reversed(replies)
    return found


def fetch_bluesky(url: str, out: str | Path, settings: FetchSettings | None = None, *,
                  sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                  transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """Fetch the thread of the post ``url`` names into the archive folder ``out``; returns counts and files.

    >>> fetch_bluesky("https://bsky.app/profile/alice.test/feed/x", "/tmp/never")
    Traceback (most recent call last):
    ...
    toolkit.errors.ConfigError: url: 'https://bsky.app/profile/alice.test/feed/x' is not a Bluesky post URL (https://bsky.app/profile/<handle>/post/<rkey>) or an at:// post URI (at://<did>/app.bsky.feed.post/<rkey>)
    """
    ref = parse_post(url)
    settings = settings or FetchSettings()
    service = (settings.service or PUBLIC_APPVIEW).rstrip("/")
    session = Session(f"{service}/xrpc", Path(out), settings, token_env=settings.token_env,
                      hint="check the post URL (and fetch.service: a Bluesky AppView)",
                      what="a Bluesky AppView (fetch.service)", sleep=sleep, clock=clock, transport=transport)

    def thread_view(uri: str, parent_height: int, gone: Callable[[httpx.Response], bool] | None) -> Any:
        """The ``thread`` of a getPostThread response for ``uri`` (saved as :func:`thread_file`), or None."""
        document = session.document(thread_file(uri), "/app.bsky.feed.getPostThread",
                                    {"uri": uri, "depth": MAX_DEPTH, "parentHeight": parent_height}, gone)
        return document.get("thread") if isinstance(document, dict) else None

    with session.http:
        did = ref.authority
        if not did.startswith("did:"):
            answer = session.document(f"handle-{did}.json", "/com.atproto.identity.resolveHandle",
                                      {"handle": did})
            did = answer.get("did") if isinstance(answer, dict) else None
            if not isinstance(did, str):
                raise FetchError(f"{url}: the handle {ref.authority!r} did not resolve to a DID")
        focus = ref.uri(did)
        thread = thread_view(focus, MAX_PARENT_HEIGHT, None)
        if not isinstance(thread, dict) or not isinstance(thread.get("post"), dict):
            raise FetchError(f"{session.archive.out / thread_file(focus)}: not a thread view of {focus} "
                             "(expected {\"thread\": {\"post\": ...}})")
        record = thread["post"].get("record") or {}
        root = ((record.get("reply") or {}).get("root") or {}).get("uri") if isinstance(record, dict) else None
        pending = [thread]
        asked = {focus}
        if isinstance(root, str) and root != focus:
            asked.add(root)
            pending.append(thread_view(root, 0, _not_found))
        branches = 0
        while pending:
            for uri in cut_off(pending.pop(0)):
                if uri in asked:
                    continue
                asked.add(uri)
                branches += 1
                pending.append(thread_view(uri, 0, _not_found))
    return {"target": "thread", "name": focus, "root": root or focus, "branches": branches, **session.summary()}
