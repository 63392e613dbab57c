"""Loopback fakes of the Bluesky AppView, a Mastodon instance and the Hacker News API (http.server in a thread
on 127.0.0.1), answering in each API's real response shapes, and the documents they serve.

Shapes (looked up in the APIs' references): ``app.bsky.feed.getPostThread`` ->
``{"thread": threadViewPost}`` with ``parent``/``replies`` members ``threadViewPost | notFoundPost |
blockedPost`` (``$type`` ``app.bsky.feed.defs#...``), a 400 ``{"error": "NotFound", "message": ...}`` for a
missing post, ``com.atproto.identity.resolveHandle`` -> ``{"did"}``; Mastodon ``Status`` and ``Context``
(``ancestors``/``descendants``), 404 ``{"error": "Record not found"}``; HN ``/v0/item/<id>.json`` -> the item
or ``null``. Every server records the requests and plays scripted faults per path (``"429"``, ``"500"``,
``"drop"``, ``"junk"`` (not JSON), ``"empty"`` (``{}``), ``"hold"`` (wait until released: a fetch in a subprocess can be killed there).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

MOD = "did:plc:moderation"
POST = "app.bsky.feed.post"


def connection_fault(handler: BaseHTTPRequestHandler, fault: str | None, held: threading.Event,
                     release: threading.Event) -> bool:
    """Play a fault that answers nothing: ``"drop"`` closes the connection, ``"hold"`` sets ``held`` and waits
    (up to 30 s) for ``release`` first. True when the request was such a fault (the handler returns)."""
    if fault not in ("drop", "hold"):
        return False
    if fault == "hold":
        held.set()
        release.wait(30)
    handler.close_connection = True
    return True


class FakeServer:
    """The loopback server: ``answer(path, params)`` -> (status, body) is what a subclass serves."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.faults: dict[str, list[str]] = {}
        self.held = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query))
                with fake.lock:
                    fake.requests.append((parts.path, params, dict(self.headers)))
                    key = parts.path + ("?uri=" + params["uri"] if "uri" in params else "")
                    queue = fake.faults.get(key, [])
                    fault = queue.pop(0) if queue else None
                if connection_fault(self, fault, fake.held, fake.release):
                    return
                headers = {"Content-Type": "application/json"}
                if fault == "429":
                    status, raw = 429, b'{"error": "RateLimitExceeded"}'
                    headers["Retry-After"] = "3"
                elif fault == "500":
                    status, raw = 500, b'{"error": "InternalServerError"}'
                elif fault == "junk":
                    status, raw = 200, b"<html>not json"
                elif fault == "empty":
                    status, raw = 200, b"{}"
                else:
                    status, body = fake.answer(parts.path, params)
                    raw = json.dumps(body).encode()
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(raw))}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, Any]:
        raise NotImplementedError

    def start(self) -> FakeServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def paths(self) -> list[str]:
        return [path + (f"?uri={params['uri']}" if "uri" in params else "") for path, params, _ in self.requests]


# ------------------------------------------------------------------------------------------------- Bluesky

def bsky_uri(name: str, rkey: str) -> str:
    return f"at://did:plc:{name}/{POST}/{rkey}"


def bsky_post(name: str, rkey: str, text: str, parent: str | None = None, root: str | None = None,
              labels: list[dict[str, Any]] | None = None, author_labels: list[dict[str, Any]] | None = None,
              minute: int = 0) -> dict[str, Any]:
    """A ``PostView`` (``replyCount`` filled in by :class:`FakeAppView`)."""
    record: dict[str, Any] = {"$type": POST, "createdAt": f"2024-05-01T10:{minute:02d}:00.000Z", "text": text,
                              "langs": ["en"]}
    if parent:
        record["reply"] = {"root": {"uri": root, "cid": "bafyroot"}, "parent": {"uri": parent, "cid": "bafyparent"}}
    uri = bsky_uri(name, rkey)
    return {"uri": uri, "cid": f"bafy{rkey}",
            "author": {"did": f"did:plc:{name}", "handle": f"{name}.test", "displayName": name.title(),
                       "labels": author_labels or []},
            "record": record, "replyCount": 0, "repostCount": 1, "likeCount": 2, "quoteCount": 0,
            "indexedAt": record["createdAt"], "labels": labels or []}


class FakeAppView(FakeServer):
    """A public AppView over ``posts`` (PostViews); replies are served ``max_depth`` levels deep (then left
    out, as a real AppView cuts them); URIs in ``not_found``/``blocked`` are shown as such placeholders
    inside threads, and a getPostThread for a URI in ``gone`` (or unknown) answers 400 NotFound."""

    def __init__(self, posts: list[dict[str, Any]], max_depth: int = 2, not_found: frozenset[str] = frozenset(),
                 blocked: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.posts = {post["uri"]: post for post in posts}
        self.children: dict[str, list[str]] = {}
        for post in posts:
            reply = post["record"].get("reply")
            if reply:
                self.children.setdefault(reply["parent"]["uri"], []).append(post["uri"])
                self.posts[reply["parent"]["uri"]]["replyCount"] += 1
        self.max_depth, self.not_found, self.blocked = max_depth, set(not_found), set(blocked)
        self.gone: set[str] = set()

    def node(self, uri: str, depth: int, height: int, with_replies: bool = True) -> dict[str, Any]:
        if uri in self.not_found or uri in self.gone:
            return {"$type": "app.bsky.feed.defs#notFoundPost", "uri": uri, "notFound": True}
        if uri in self.blocked:
            return {"$type": "app.bsky.feed.defs#blockedPost", "uri": uri, "blocked": True,
                    "author": {"did": self.posts[uri]["author"]["did"], "viewer": {"blockedBy": True}}}
        post = self.posts[uri]
        node: dict[str, Any] = {"$type": "app.bsky.feed.defs#threadViewPost", "post": post}
        reply = post["record"].get("reply")
        if reply and height > 0:
            node["parent"] = self.node(reply["parent"]["uri"], 0, height - 1, with_replies=False)
        if with_replies and depth > 0:
            node["replies"] = [self.node(child, depth - 1, 0) for child in self.children.get(uri, [])]
        return node

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, Any]:
        if path == "/xrpc/com.atproto.identity.resolveHandle":
            return 200, {"did": f"did:plc:{params['handle'].removesuffix('.test')}"}
        if path == "/xrpc/app.bsky.feed.getPostThread":
            uri = params["uri"]
            if uri not in self.posts or uri in self.gone or uri in self.not_found:
                return 400, {"error": "NotFound", "message": f"Post not found: {uri}"}
            depth = min(int(params.get("depth", 6)), self.max_depth)
            return 200, {"thread": self.node(uri, depth, int(params.get("parentHeight", 80)))}
        return 404, {"error": "MethodNotImplemented"}


# ------------------------------------------------------------------------------------------------ Mastodon

def toot(own: int, parent: int | None, text: str, user: str = "ann", remote: str | None = None,
         host: str = "127.0.0.1", **extra: Any) -> dict[str, Any]:
    """A Mastodon ``Status`` (``replies_count`` filled in by :class:`FakeMastodon`)."""
    home = remote or host
    return {"id": str(own), "created_at": f"2024-05-01T10:{own % 60:02d}:00.000Z",
            "in_reply_to_id": str(parent) if parent else None, "in_reply_to_account_id": None,
            "sensitive": False, "spoiler_text": "", "visibility": "public", "language": "en",
            "uri": f"https://{home}/users/{user}/statuses/{own}", "url": f"https://{home}/@{user}/{own}",
            "replies_count": 0, "reblogs_count": 0, "favourites_count": 1, "edited_at": None,
            "content": f"<p>{text}</p>", "reblog": None,
            "account": {"id": str(len(user)), "username": user, "acct": f"{user}@{remote}" if remote else user,
                        "display_name": user.title(), "url": f"https://{home}/@{user}"},
            "media_attachments": [], "mentions": [], "tags": [], "emojis": [], "card": None, "poll": None, **extra}


class FakeMastodon(FakeServer):
    """An instance: ``/api/v1/statuses/<id>`` and ``/context``; a visitor's context holds descendants only
    ``max_depth`` levels below the status (as instances cap them); ids in ``gone`` answer 404."""

    def __init__(self, statuses: list[dict[str, Any]], max_depth: int = 2) -> None:
        super().__init__()
        self.statuses = {s["id"]: s for s in statuses}
        self.children: dict[str, list[str]] = {}
        for status in statuses:
            if status["in_reply_to_id"]:
                self.children.setdefault(status["in_reply_to_id"], []).append(status["id"])
                self.statuses[status["in_reply_to_id"]]["replies_count"] += 1
        self.max_depth = max_depth
        self.gone: set[str] = set()

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        if parts[:3] != ["api", "v1", "statuses"] or len(parts) < 4 or parts[3] not in self.statuses \
                or parts[3] in self.gone:
            return 404, {"error": "Record not found"}
        own = parts[3]
        if len(parts) == 4:
            return 200, self.statuses[own]
        ancestors, node = [], self.statuses[own]["in_reply_to_id"]
        while node:
            if node not in self.gone:
                ancestors.insert(0, self.statuses[node])
            node = self.statuses[node]["in_reply_to_id"]
        descendants: list[dict[str, Any]] = []

        def walk(status: str, depth: int) -> None:
            for child in self.children.get(status, []):
                if child in self.gone:
                    continue
                descendants.append(self.statuses[child])
                if depth + 1 < self.max_depth:
                    walk(child, depth + 1)
        walk(own, 0)
        return 200, {"ancestors": ancestors, "descendants": descendants}


# --------------------------------------------------------------------------------------------- Hacker News

class FakeHackerNews(FakeServer):
    """The HN API: ``/v0/item/<id>.json`` -> the item, or ``null`` for an id it does not have."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        super().__init__()
        self.items = {item["id"]: item for item in items}

    def answer(self, path: str, params: dict[str, str]) -> tuple[int, Any]:
        name = path.rsplit("/", 1)[-1]
        if not path.startswith("/v0/item/") or not name.endswith(".json"):
            return 404, {"error": "Permission denied"}
        return 200, self.items.get(int(name.removesuffix(".json")))


# ------------------------------------------------------------------------------- the threads the tests use

R, A, A1, A2, A3 = (bsky_uri("ann", "r1"), bsky_uri("bob", "a"), bsky_uri("cat", "a1"), bsky_uri("dan", "a2"),
                    bsky_uri("eve", "a3"))
N, K, K1, B = bsky_uri("fay", "n"), bsky_uri("gus", "k"), bsky_uri("ivy", "k1"), bsky_uri("hal", "b")
R0 = bsky_uri("ann", "r0")


def bluesky_thread() -> list[dict[str, Any]]:
    """Root R; A (labelled ``!hide`` and ``rude`` by the moderation service) -> A1 (its author labelled
    ``spam``; a self-applied ``!hide``, which does not count) -> A2 -> A3; N (not found), K (blocked, with a
    reply K1 hidden under it), B (``!warn``, and a negated ``!hide``)."""
    return [
        bsky_post("ann", "r1", "Bike lanes are coming to Main Street.", minute=0),
        bsky_post("bob", "a", "You are an idiot.", R, R, minute=1,
                  labels=[{"src": MOD, "uri": A, "val": "!hide", "cts": "2024-05-01T11:00:00Z"},
                          {"src": MOD, "uri": A, "val": "rude", "cts": "2024-05-01T11:00:00Z"}]),
        bsky_post("cat", "a1", "Calm down, please.", A, R, minute=2,
                  labels=[{"src": "did:plc:cat", "uri": A1, "val": "!hide"}],
                  author_labels=[{"src": MOD, "uri": "did:plc:cat", "val": "spam"}]),
        bsky_post("dan", "a2", "Agreed with cat.", A1, R, minute=3),
        bsky_post("eve", "a3", "Deep down the thread.", A2, R, minute=4),
        bsky_post("fay", "n", "(deleted)", R, R, minute=5),
        bsky_post("gus", "k", "(blocked)", R, R, minute=6),
        bsky_post("ivy", "k1", "(under the blocked one)", K, R, minute=7),
        bsky_post("hal", "b", "Finally some good news.", R, R, minute=8,
                  labels=[{"src": MOD, "uri": B, "val": "!warn"}, {"src": MOD, "uri": B, "val": "!hide", "neg": True}]),
    ]


def mastodon_thread(host: str = "mastodon.test") -> list[dict[str, Any]]:
    """100 (root) -> 101 (remote, HTML with a mention and a link) -> 102 (content warning) -> 103 -> 105;
    100 -> 104."""
    link = ('<a href="https://news.test/bike" rel="nofollow noopener" target="_blank"><span class="invisible">'
            'https://</span><span class="">news.test/bike</span><span class="invisible"></span></a>')
    mention = '<span class="h-card"><a href="https://mastodon.test/@ann" class="u-url mention">@<span>ann</span></a></span>'
    return [
        toot(100, None, "Council votes tonight.", "ann", host=host),
        toot(101, 100, f"{mention} good news &amp; about time: {link}", "bob", remote="other.test", host=host),
        toot(102, 101, "You are an idiot.", "cat", host=host, spoiler_text="rude", sensitive=True),
        toot(103, 102, "No need for that.", "dan", host=host),
        toot(104, 100, "Which street?<br>Main?", "eve", host=host),
        toot(105, 103, "Thanks.", "fay", host=host),
    ]


def hackernews_thread() -> list[dict[str, Any]]:
    """Story 1 -> 2 (-> 5, and 6 which the API does not have), 3 (dead), 4 (deleted)."""
    return [
        {"by": "ann", "descendants": 3, "id": 1, "kids": [2, 3, 4], "score": 10, "time": 1714557600,
         "title": "Ask HN: Bike lanes?", "text": "Do they work?<p>Data welcome.", "type": "story"},
        {"by": "bob", "id": 2, "kids": [5, 6], "parent": 1, "text": "Good point &amp; more<p>Second para",
         "time": 1714557660, "type": "comment"},
        {"by": "cat", "dead": True, "id": 3, "parent": 1, "text": "You idiot.", "time": 1714557720, "type": "comment"},
        {"deleted": True, "id": 4, "parent": 1, "time": 1714557780, "type": "comment"},
        {"by": "dan", "id": 5, "parent": 2, "text": "<i>Agree</i> with <a href=\"https://x.test\">this</a>",
         "time": 1714557840, "type": "comment"},
    ]
