"""Download a Mastodon thread (``https://<instance>/@user/<id>``) into a raw archive folder.

Files: ``status-<id>.json`` (``/api/v1/statuses/<id>``), ``context-<id>.json`` (``.../context``: ancestors and
descendants) and ``index.jsonl`` (:mod:`toolkit.fetch.archive`: resumable, polite, sha256-checked).

- The status and its context; when it is a reply, the thread's root (the first ancestor) and its context,
  so the whole tree is there.
- Instances cap a context for visitors (e.g. 60 descendants, 20 levels): a status whose ``replies_count``
  is more than the replies present gets its own context asked, until none is short (each status once).
- A further call for a status deleted since answers 404: saved as it is (the loader marks it deleted); on
  the first call it is a :class:`FetchError`.
- An optional bearer token is read from ``$MASTODON_TOKEN`` (``token_env`` names another), never written.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from toolkit.errors import ConfigError
from toolkit.fetch.archive import FetchError, Session
from toolkit.settings import FetchSettings

TOKEN_ENV = "MASTODON_TOKEN"


def parse_status(url: str) -> tuple[str, str]:
    """``(base URL, status id)`` of ``https://<instance>/@user/<id>`` (also ``/@user@domain/<id>``,
    ``/users/<user>/statuses/<id>``); :class:`ConfigError` otherwise.

    >>> parse_status("https://mastodon.social/@Gargron/103270115826048975")
    ('https://mastodon.social', '103270115826048975')
    """
    parts = urlsplit(url.strip())
    segments = [segment for segment in parts.path.split("/") if segment]
    status = None
    if len(segments) == 2 and segments[0].startswith("@") and segments[1].isdigit():
        status = segments[1]
    elif len(segments) == 4 and segments[0] == "users" and segments[2] == "statuses" and segments[3].isdigit():
        status = segments[3]
    if parts.scheme not in ("http", "https") or not parts.netloc or status is None:
        raise ConfigError("url", f"{url!r} is not a Mastodon status URL (https://<instance>/@user/<id>)")
    return f"{parts.scheme}://{parts.netloc}", status


def _gone(response: httpx.Response) -> bool:
    return response.status_code == 404


def _statuses(context: Any) -> list[dict[str, Any]]:
    if not isinstance(context, dict):
        return []
    return [s for s in [*(context.get("ancestors") or []), *(context.get("descendants") or [])] if isinstance(s, dict)]


def short_of_replies(statuses: list[dict[str, Any]]) -> list[str]:
    """Ids of the statuses whose ``replies_count`` is more than the replies among ``statuses``.

    >>> short_of_replies([{"id": "1", "replies_count": 2}, {"id": "2", "in_reply_to_id": "1", "replies_count": 0}])
    ['1']
    """
    present = Counter(str(s["in_reply_to_id"]) for s in statuses if s.get("in_reply_to_id") is not None)
    counts: dict[str, Any] = {}  # each id's first copy decides
    for status in statuses:
        counts.setdefault(str(status.get("id")), status.get("replies_count"))
    return [own for own, count in counts.items() if isinstance(count, int) and count > present[own]]


def fetch_mastodon(url: str, out: str | Path, settings: FetchSettings | None = None, *,
                   sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                   transport: httpx.BaseTransport | None = None) -> dict[str, Any]:
    """Fetch the thread of the status ``url`` names into the archive folder ``out``; returns counts and files.

    >>> fetch_mastodon("https://mastodon.social/about", "/tmp/never")
    Traceback (most recent call last):
    ...
    toolkit.errors.ConfigError: url: 'https://mastodon.social/about' is not a Mastodon status URL (https://<instance>/@user/<id>)
    """
    base, focus = parse_status(url)
    settings = settings or FetchSettings()
    session = Session(f"{base}/api/v1", Path(out), settings, token_env=settings.token_env or TOKEN_ENV,
                      hint="check the status URL", what="a Mastodon instance", sleep=sleep, clock=clock,
                      transport=transport)
    with session.http:
        status = session.document(f"status-{focus}.json", f"/statuses/{focus}", {})
        if not isinstance(status, dict) or "id" not in status:
            raise FetchError(f"{session.archive.out / f'status-{focus}.json'}: not a Mastodon Status")
        context = session.document(f"context-{focus}.json", f"/statuses/{focus}/context", {})
        if not isinstance(context, dict) or "descendants" not in context:
            raise FetchError(f"{session.archive.out / f'context-{focus}.json'}: not a Mastodon context "
                             '({"ancestors": [...], "descendants": [...]})')
        root = focus
        ancestors = context.get("ancestors") or []
        known = [status, *_statuses(context)]
        if ancestors and isinstance(ancestors[0], dict) and ancestors[0].get("id") is not None:
            root = str(ancestors[0]["id"])
            top = session.document(f"status-{root}.json", f"/statuses/{root}", {}, _gone)
            known += [top] if isinstance(top, dict) and "id" in top else []
            known += _statuses(session.document(f"context-{root}.json", f"/statuses/{root}/context", {},
                                                _gone))
        expanded = {focus, root}
        branches = 0
        while True:
            todo = [own for own in short_of_replies(known) if own not in expanded]
            if not todo:
                break
            for own in todo:
                expanded.add(own)
                branches += 1
                known += _statuses(session.document(f"context-{own}.json", f"/statuses/{own}/context", {},
                                                    _gone))
    return {"target": "thread", "name": focus, "root": root, "branches": branches, **session.summary()}
