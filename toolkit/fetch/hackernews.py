"""Download a Hacker News thread (``https://news.ycombinator.com/item?id=<id>``) from the official API.

Files: ``item-<id>.json`` per ``/v0/item/<id>.json`` response and ``index.jsonl`` (:mod:`toolkit.fetch.archive`:
resumable, polite, sha256-checked). From the item named, up its ``parent`` links to the story, then down every
``kids`` list, level by level, ``concurrency`` requests at a time (all paced together by ``rate``). The API is
``service`` (default ``https://hacker-news.firebaseio.com``); an id that does not exist answers ``null``
(saved; the loader counts it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from toolkit.errors import ConfigError
from toolkit.fetch.archive import FetchError, Session
from toolkit.settings import FetchSettings

API = "https://hacker-news.firebaseio.com"


def parse_item(url: str) -> int:
    """The item id of ``news.ycombinator.com/item?id=<id>``; :class:`ConfigError` otherwise.

    >>> parse_item("https://news.ycombinator.com/item?id=8863")
    8863
    """
    parts = urlsplit(url.strip())
    ids = parse_qs(parts.query).get("id", [])
    if parts.scheme not in ("http", "https") or parts.path.rstrip("/") != "/item" or len(ids) != 1 \
            or not ids[0].isdigit():
        raise ConfigError("url", f"{url!r} is not a Hacker News item URL (https://news.ycombinator.com/item?id=<id>)")
    return int(ids[0])


def fetch_hackernews(url: str, out: str | Path, settings: FetchSettings | None = None, *,
                     sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                     transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """Fetch the thread of the item ``url`` names into the archive folder ``out``; returns counts and files.

    >>> fetch_hackernews("https://news.ycombinator.com/news", "/tmp/never")
    Traceback (most recent call last):
    ...
    toolkit.errors.ConfigError: url: 'https://news.ycombinator.com/news' is not a Hacker News item URL (https://news.ycombinator.com/item?id=<id>)
    """
    start = parse_item(url)
    settings = settings or FetchSettings()
    service = (settings.service or API).rstrip("/")
    session = Session(f"{service}/v0", Path(out), settings, token_env=settings.token_env,
                      hint="check the item URL (and fetch.service: the HN API)", what="the Hacker News API",
                      sleep=sleep, clock=clock, transport=transport)

    def item(number: int) -> dict[str, Any] | None:
        document = session.document(f"item-{number}.json", f"/item/{number}.json", {})
        if document is not None and not isinstance(document, dict):
            raise FetchError(f"{session.archive.out / f'item-{number}.json'}: not an item object")
        return document

    with session.http, ThreadPoolExecutor(settings.concurrency) as pool:
        found = item(start)
        if found is None:
            raise FetchError(f"{url}: the API has no item {start} (it answered null)")
        have: dict[int, dict[str, Any] | None] = {start: found}
        story = found
        while story.get("parent") is not None:  # climb to the story
            parent = int(story["parent"])
            if parent in have:
                raise FetchError(f"{url}: item {parent} is its own ancestor")
            story = have[parent] = item(parent)
            if story is None:
                raise FetchError(f"{url}: an ancestor, item {parent}, does not exist (null)")
        level, visited = [story], {int(story["id"])}
        while level:  # down the kids, a level at a time; items already fetched on the way up are not asked again
            kids = [int(kid) for node in level if node for kid in node.get("kids") or [] if int(kid) not in visited]
            visited.update(kids)
            level = list(pool.map(lambda kid: have[kid] if kid in have else item(kid), kids))
    return {"target": "thread", "name": str(start), "root": str(story["id"]), "items": len(visited),
            **session.summary()}
