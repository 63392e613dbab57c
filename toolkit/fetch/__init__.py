"""Downloaders that write raw archives (one file per response, plus an index) for the loaders to read.

:func:`fetch_url` picks the fetcher by the URL (:func:`platform_of`); :data:`FETCHERS` maps each platform to
its fetcher (the ``toolkit-fetch`` sub-commands).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from toolkit.fetch.archive import FetchError
from toolkit.fetch.bluesky import fetch_bluesky
from toolkit.fetch.hackernews import fetch_hackernews
from toolkit.fetch.lemmy import Target, fetch_lemmy, parse_target
from toolkit.fetch.mastodon import fetch_mastodon
from toolkit.settings import FetchSettings

__all__ = ["FETCHERS", "FetchError", "FetchSettings", "Target", "fetch_bluesky", "fetch_hackernews", "fetch_lemmy",
           "fetch_mastodon", "fetch_url", "parse_target", "platform_of"]

FETCHERS: dict[str, Callable[..., dict[str, Any]]] = {
    "bluesky": fetch_bluesky,
    "hackernews": fetch_hackernews,
    "lemmy": fetch_lemmy,
    "mastodon": fetch_mastodon,
}


def platform_of(url: str) -> str:
    """The platform a URL belongs to: ``at://`` and ``bsky.app`` -> bluesky, ``news.ycombinator.com`` ->
    hackernews, a ``/@user/<id>`` (or ``/users/<user>/statuses/<id>``) path -> mastodon, else lemmy (whose
    fetcher says what it accepts).

    >>> [platform_of(u) for u in ("at://did:plc:a/app.bsky.feed.post/1", "https://bsky.app/profile/a.b/post/1",
    ...  "https://news.ycombinator.com/item?id=1", "https://mastodon.social/@a/1", "https://lemmy.world/post/1")]
    ['bluesky', 'bluesky', 'hackernews', 'mastodon', 'lemmy']
    """
    text = url.strip()
    if text.startswith("at://"):
        return "bluesky"
    parts = urlsplit(text)
    host = parts.netloc.lower()
    segments = [segment for segment in parts.path.split("/") if segment]
    if host == "bsky.app" or host.endswith(".bsky.app"):
        return "bluesky"
    if host == "news.ycombinator.com":
        return "hackernews"
    if (len(segments) == 2 and segments[0].startswith("@") and segments[1].isdigit()) or (
            len(segments) == 4 and segments[0] == "users" and segments[2] == "statuses"):
        return "mastodon"
    return "lemmy"


def fetch_url(url: str, out: str | Path, settings: FetchSettings | None = None, **kwargs: Any) -> dict[str, Any]:
    """Fetch what ``url`` names into the archive folder ``out`` with its platform's fetcher (``kwargs``: the
    fetchers' test hooks ``sleep``, ``clock``, ``transport``); returns the fetcher's counts and files.

    >>> fetch_url("https://news.ycombinator.com/newest", "/tmp/never")
    Traceback (most recent call last):
    ...
    toolkit.errors.ConfigError: url: 'https://news.ycombinator.com/newest' is not a Hacker News item URL (https://news.ycombinator.com/item?id=<id>)
    """
    return FETCHERS[platform_of(url)](url, out, settings, **kwargs)
