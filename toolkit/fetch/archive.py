"""What every fetcher shares: the archive folder and a polite, resumable HTTP session.

The archive holds one file per response and ``index.jsonl``: one line per saved response with the URL (never
a token), the query parameters, the file, the time, the HTTP status, sha256 and size.

- Resumable: a response whose file and index line exist and whose sha256 matches is read from disk, not
  asked again, so a rerun after an interruption asks only for what is still missing (a file torn by a kill,
  or an index line cut short, is fetched again).
- Polite: at most ``rate`` requests a second (shared by concurrent workers), a User-Agent naming the toolkit
  and its version, ``Retry-After`` honoured on 429 (and 503), doubling backoff on 5xx and dropped
  connections, a :class:`FetchError` naming the URL on any other 4xx, unless the fetcher declares that
  answer a saved fact (``gone``: a status deleted since, a post not found).
- A token, when the platform takes one, is read from an environment variable and sent as
  ``Authorization: Bearer``; it is never written to the archive, the index or a message.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from toolkit.errors import ToolkitError
from toolkit.io.api_archive import index_entries
from toolkit.retry import retry_after
from toolkit.settings import FetchSettings

INDEX_FILE = "index.jsonl"
#: Statuses worth another try (after ``Retry-After`` or the backoff); any other non-200 status is final.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class FetchError(ToolkitError):
    """A request that failed for good (a 4xx other than 429, retries used up, not JSON); names the URL."""


def user_agent() -> str:
    """``toolkit/<version>`` plus what it is, so a server's admins can tell who is asking.

    >>> user_agent().startswith("toolkit/")
    True
    """
    try:
        version = metadata.version("toolkit")
    except metadata.PackageNotFoundError:
        version = "unknown"
    return f"toolkit/{version} (discussion research fetcher; httpx/{httpx.__version__})"


class Archive:
    """The archive folder: saved responses and their index; a response is reused when its sha256 matches."""

    def __init__(self, out: Path):
        self.out = out
        out.mkdir(parents=True, exist_ok=True)
        self.index = out / INDEX_FILE
        self.lock = threading.Lock()
        text = self.index.read_text(encoding="utf-8") if self.index.is_file() else ""
        self.needs_newline = bool(text) and not text.endswith("\n")  # a line cut by a kill
        self.entries: dict[str, dict[str, Any]] = {entry["file"]: entry for entry in index_entries(text)}

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
        with self.lock:
            with self.index.open("a", encoding="utf-8") as handle:
                handle.write(("\n" if self.needs_newline else "") + json.dumps(entry) + "\n")
            self.needs_newline = False
            self.entries[name] = entry


class Session:
    """One fetch: an httpx client on ``base_url`` with pacing and retries over an :class:`Archive`.

    ``token_env``: the environment variable whose token is sent as a bearer token (None: none);
    ``hint``: what a final 4xx message suggests checking; ``what``: the service a response that is not JSON
    should have come from (named in that error); ``sleep``, ``clock`` and ``transport`` (httpx's)
    are there for tests. Safe to use from several threads (the pacing and the index are locked).
    """

    def __init__(self, base_url: str, out: Path, settings: FetchSettings, *, token_env: str | None = None,
                 hint: str = "check the URL", what: str = "the API", sleep: Callable[[float], None],
                 clock: Callable[[], float], transport: httpx.BaseTransport | None):
        headers = {"User-Agent": user_agent(), "Accept": "application/json"}
        token = os.environ.get(token_env) if token_env else None
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.token_env = token_env
        self.http = httpx.Client(base_url=base_url, headers=headers, timeout=settings.timeout, transport=transport,
                                 follow_redirects=True)
        self.archive = Archive(out)
        self.settings, self.sleep, self.clock, self.hint, self.what = settings, sleep, clock, hint, what
        self.interval = 1.0 / settings.rate if settings.rate > 0 else 0.0
        self.last_request: float | None = None
        self.pacing = threading.Lock()
        self.stats = {"requests": 0, "saved": 0, "reused": 0, "retries": 0}

    def _pace(self) -> None:
        with self.pacing:
            if self.interval and self.last_request is not None:
                wait = self.last_request + self.interval - self.clock()
                if wait > 0:
                    self.sleep(wait)
            self.last_request = self.clock()
            self.stats["requests"] += 1

    def get(self, endpoint: str, params: dict[str, Any],
            gone: Callable[[httpx.Response], bool] | None = None) -> httpx.Response:
        """GET with pacing; retries 429 (after ``Retry-After``), 5xx and dropped connections (doubling backoff).
        A response ``gone`` accepts (e.g. a 404 for a status deleted since) is returned like a 200."""
        settings = self.settings
        url = f"{self.http.base_url}{endpoint.lstrip('/')}"
        for attempt in range(settings.retries + 1):
            self._pace()
            wait = min(settings.backoff * 2**attempt, settings.max_wait)
            try:
                response = self.http.get(endpoint, params=params)
            except httpx.TransportError as error:  # refused, dropped, timed out
                failure = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 200 or (gone is not None and gone(response)):
                    return response
                failure = f"HTTP {response.status_code} {response.text[:200]!r}"
                if response.status_code not in RETRY_STATUSES:
                    token = f" and, for 401/403, the token in ${self.token_env}" if self.token_env else ""
                    raise FetchError(f"{url} {params}: {failure}; {self.hint}{token}")
                told = retry_after(response.headers.get("Retry-After"))  # 429, and some 503s
                wait = min(told, settings.max_wait) if told is not None else wait
            if attempt < settings.retries:
                with self.pacing:
                    self.stats["retries"] += 1
                self.sleep(wait)
        raise FetchError(f"{url} {params}: gave up after {settings.retries + 1} tries ({failure}); rerun later, "
                         "the archive keeps what was fetched")

    def document(self, name: str, endpoint: str, params: dict[str, Any],
                 gone: Callable[[httpx.Response], bool] | None = None) -> Any:
        """The JSON of one response: from the archive when saved intact, else fetched and saved as ``name``
        (``gone``: see :meth:`get`; such answers are saved too, so a rerun does not ask again)."""
        body = self.archive.cached(name)
        if body is not None:
            with self.pacing:
                self.stats["reused"] += 1
            try:
                return json.loads(body)
            except ValueError as error:
                raise FetchError(f"{self.archive.out / name}: the saved response is not JSON ({error})") from None
        response = self.get(endpoint, params, gone)
        try:
            document = response.json()
        except ValueError as error:
            raise FetchError(f"{response.request.url}: not JSON ({error}); is this {self.what}?") from None
        self.archive.save(name, response, params)
        with self.pacing:
            self.stats["saved"] += 1
        return document

    def summary(self) -> dict[str, Any]:
        """The counts and the archive's files."""
        return {**self.stats, "files": sorted(self.archive.entries)}
