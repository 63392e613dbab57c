"""A fake Lemmy on the loopback interface (http.server in a thread), as the ``lemmy`` fixture: used by
test_fetch_lemmy.py and test_io_lemmy_threads.py (conftest.py makes the fixture visible to every test module).

It builds 0.19 (``/api/v3``, page numbers) and 1.0 (``/api/v4``, cursors) responses, records every request,
and plays scripted faults: a 429 with Retry-After, a 500, a dropped connection, a 404, and a request it holds.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import pytest
from platform_fakes import connection_fault

from toolkit.fetch.lemmy import FetchSettings

POST, COMMUNITY, PERSON = 1042, 3, 13
N_COMMENTS, LIMIT = 7, 3  # three pages of comments (3, 3, 1) and then an empty one
FAST = FetchSettings(rate=0, limit=LIMIT, retries=3, backoff=0.01)


def _comment_view(number: int) -> dict:
    comment_id = 5000 + number
    return {
        "comment": {"id": comment_id, "creator_id": PERSON, "post_id": POST, "content": f"comment {number}",
                    "removed": False, "deleted": False, "path": f"0.{comment_id}",
                    "published": f"2024-05-01T10:{number:02d}:00Z"},
        "creator": {"id": PERSON, "name": "carol"},
        "post": {"id": POST, "name": "Bike lanes", "published": "2024-05-01T09:00:00Z"},
        "community": {"id": COMMUNITY, "name": "news", "actor_id": "https://lemmy.example/c/news"},
        "counts": {"score": 1, "upvotes": 1, "downvotes": 0, "child_count": 0},
    }


COMMENTS = [_comment_view(number) for number in range(1, N_COMMENTS + 1)]
REMOVAL = {"mod_remove_comment": {"id": 301, "mod_person_id": 90, "comment_id": 5002, "reason": "rude",
                                  "removed": True, "when_": "2024-05-02T10:00:00Z"},
           "moderator": {"name": "newsmod"},
           "comment": {"id": 5002, "post_id": POST, "content": "comment 2"},
           "community": {"id": COMMUNITY, "name": "news", "actor_id": "https://lemmy.example/c/news"}}
REMOVAL_V4 = {"modlog": {"id": 9, "kind": "mod_remove_comment", "is_revert": False, "reason": "rude",
                         "published_at": "2024-05-02T10:00:00Z"},
              "target_comment": {"id": 5002, "post_id": POST, "content": "comment 2"}}


class FakeLemmy:
    """A Lemmy instance on 127.0.0.1: answers the fetcher's GETs; ``faults[(path, page)]`` is a queue of
    ``"429"``, ``"500"``, ``"404"``, ``"drop"`` or ``"hold"`` played before the real answer."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.faults: dict[tuple[str, str], list[str]] = {}
        self.held = threading.Event()  # set when a "hold" request arrives
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query))
                fake.requests.append((parts.path, params, dict(self.headers)))
                page = params.get("page") or params.get("page_cursor") or ""
                queue = fake.faults.get((parts.path, page), [])
                fault = queue.pop(0) if queue else None
                if connection_fault(self, fault, fake.held, fake.release):
                    return
                status, body, headers = {"429": (429, {"error": "rate_limit"}, {"Retry-After": "2"}),
                                         "500": (500, {"error": "oops"}, {}),
                                         "404": (404, {"error": "couldnt_find_post"}, {})}.get(
                    fault, (200, None, {}))
                if body is None:
                    body = fake.answer(parts.path, params)
                    status = 200 if body is not None else 404
                    body = body if body is not None else {"error": "not_found"}
                raw = json.dumps(body).encode()
                self.send_response(status)
                for key, value in {**headers, "Content-Type": "application/json",
                                   "Content-Length": str(len(raw))}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str, params: dict[str, str]) -> dict | None:
        """The response body for a path (0.19 and 1.0 shapes), None for an unknown path (-> 404)."""
        version, _, endpoint = path.removeprefix("/api/").partition("/")
        limit = int(params.get("limit", 10))
        if version == "v3":
            start = (int(params.get("page", 1)) - 1) * limit
        else:  # cursors "p<offset>"
            start = int(params.get("page_cursor", "p0")[1:])

        def paged(items: list, key: str) -> dict:
            chunk = items[start:start + limit]
            if version == "v3":
                return {key: chunk}
            more = start + limit < len(items)
            return {"items": chunk, "next_page": f"p{start + limit}" if more else None, "prev_page": None}

        community = {"community": {"id": COMMUNITY, "name": "news"}}
        if endpoint == "post":
            return {"post_view": {"post": {"id": POST}, **community}, "moderators": [], "cross_posts": []}
        if endpoint == "comment":
            return {"comment_view": COMMENTS[0]}
        if endpoint == "community":
            return {"community_view": community, "moderators": []}
        if endpoint == "comment/list":
            return paged(COMMENTS, "comments")
        if endpoint == "post/list":
            return paged([{"post": {"id": POST}}], "posts")
        if endpoint == "user":
            return {"person_view": {"person": {"id": PERSON, "name": "carol"}}, "moderates": [{"x": 1}],
                    **paged(COMMENTS, "comments"), "posts": []}
        if endpoint == "person/content":
            return paged(COMMENTS, "items")
        if endpoint == "modlog":
            removals = params.get("type_") in ("ModRemoveComment", "mod_remove_comment")
            entries = ([REMOVAL] if version == "v3" else [REMOVAL_V4]) if removals else []
            if version == "v4":
                return paged(entries, "items")
            return {**paged(entries, "removed_comments"), "removed_posts": [], "banned_from_community": []}
        return None

    def seen(self) -> list[tuple[str, str]]:
        """``(endpoint, page)`` of every request so far."""
        return [(path.split("/", 3)[3], params.get("page") or params.get("page_cursor") or "")
                for path, params, _ in self.requests]


@pytest.fixture
def lemmy(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeLemmy]:
    monkeypatch.delenv("LEMMY_JWT", raising=False)
    fake = FakeLemmy()
    fake.thread.start()
    yield fake
    fake.release.set()
    fake.server.shutdown()
    fake.server.server_close()
