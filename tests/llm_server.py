"""A loopback server in the OpenAI chat-completions shape, for the LLM-judge tests and benchmark.

It answers ``GET /v1/models`` and ``POST /v1/chat/completions`` on 127.0.0.1 only (HTTP/1.1, keep-alive),
from an asyncio loop in a thread of its own (or as a process: ``python tests/llm_server.py`` prints the port).
The comment is read from the prompt (the last ``<<<`` ... ``>>>`` block, as the bundled prompts write it) and
its P(yes) is :func:`expected_p` of the text and the model's revision, so tests know every score by hand.
Faults are injected per text (``faults``: 429 with Retry-After, 500, a dropped connection, a garbled body, a slow answer) or
for every request after the first ``stall_after`` answers (held, then dropped: a client killed meanwhile).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import math
import sys
import threading
import time
import uuid
from collections import Counter
from typing import Any

REASONS = {200: "OK", 401: "Unauthorized", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}
OTHER_MASS = 0.1  # probability of the non-answer token in the top log-probabilities


def expected_p(text: str, revision: str = "r1") -> float:
    """The server's P(yes) for a comment under a revision: in (0, 1), from a hash (never 0 or 1)."""
    number = int(hashlib.blake2b(f"{revision}\0{text}".encode(), digest_size=8).hexdigest(), 16)
    return (number % 997 + 1) / 999


def comment_of(prompt: str) -> str:
    """The comment inside a rendered prompt: the last ``<<<`` ... ``>>>`` block (the whole prompt if none)."""
    start, end = prompt.rfind("<<<\n"), prompt.rfind("\n>>>")
    return prompt[start + 4 : end] if 0 <= start < end else prompt


def top_logprobs(p: float, style: str) -> list[dict[str, Any]]:
    """Yes/no variants carrying ``(1 - OTHER_MASS)`` of the mass in proportion p : 1-p, plus one other token,
    most likely first; ``style="leading_space"`` spells them as SentencePiece/BPE tokenizers do."""
    if style == "leading_space":
        pairs = [(" Yes", p * 0.6), ("\u2581yes", p * 0.3), (" No", (1 - p) * 0.6), ("\u2581no", (1 - p) * 0.3)]
    else:
        pairs = [("Yes", p * 0.7), (" yes", p * 0.1), ("YES", p * 0.1), ("No", (1 - p) * 0.8), ("no", (1 - p) * 0.1)]
    pairs.append(("Maybe", OTHER_MASS))
    pairs.sort(key=lambda kv: -kv[1])
    return [{"token": token, "logprob": math.log(mass), "bytes": list(token.encode())} for token, mass in pairs]


class LoopbackLLM:
    """The server and its knobs; ``asked`` counts the comments answered with a score (faults not counted)."""

    def __init__(self, model: str = "judge-1", revision: str = "r1", api_key: str | None = None) -> None:
        self.model = model
        self.revision = revision
        self.api_key = api_key
        self.style = "logprobs"  # logprobs | leading_space | none (no log-probabilities: the answer word only)
        self.answers: dict[str, list[dict[str, Any]]] = {}  # comment -> top_logprobs given as they are
        self.faults: dict[str, list[str]] = {}  # comment -> faults to inject, in order: 429, 500, drop, garbage, slow
        self.retry_after = "0"
        self.slow_seconds = 2.0
        self.delay = 0.0  # seconds every answer takes (0: at once)
        self.stall_after: int | None = None
        self.asked: Counter[str] = Counter()
        self.requests = 0
        self.inflight = 0
        self.max_inflight = 0  # the most chat completions being answered at once
        self.model_gets = 0
        self.bodies: list[dict[str, Any]] = []  # the last requests' bodies (at most 100)
        self.authorizations: set[str] = set()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._release: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def entry(self) -> dict[str, Any]:
        """The model's /v1/models entry, vLLM-like: ``created`` and ``permission`` are made afresh per call."""
        return {"id": self.model, "object": "model", "created": int(time.time()), "owned_by": "loopback",
                "revision": self.revision, "permission": [{"id": f"modelperm-{uuid.uuid4().hex}"}]}

    # -- lifecycle ----------------------------------------------------------------------------------------

    def start(self) -> LoopbackLLM:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            self._release = asyncio.Event()
            self._server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", self.port))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="loopback-llm", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def release(self) -> None:
        """Stop stalling: held requests are dropped, later ones answered."""
        self.stall_after = None
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    def stop(self) -> None:
        if self._loop is None:
            return
        self.release()

        async def close() -> None:
            assert self._server is not None
            self._server.close()
            handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    # -- HTTP ---------------------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (header := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    key, _, value = header.decode("latin-1").partition(":")
                    headers[key.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                reply = await self._respond(method, path, headers, body)
                if reply is None:  # drop the connection without answering
                    writer.transport.abort()
                    return
                status, extra, payload = reply
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                head = f"HTTP/1.1 {status} {REASONS.get(status, 'Error')}\r\nContent-Type: application/json\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in extra.items())
                writer.write(f"{head}Content-Length: {len(data)}\r\n\r\n".encode() + data)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, ValueError, asyncio.CancelledError):
            return
        finally:
            with contextlib.suppress(RuntimeError):
                writer.close()

    async def _respond(self, method: str, path: str, headers: dict[str, str],
                       body: bytes) -> tuple[int, dict[str, str], Any] | None:
        self.authorizations.add(headers.get("authorization", ""))
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            given = headers.get("authorization", "").removeprefix("Bearer ")
            return 401, {}, {"error": {"message": f"Incorrect API key provided: {given}", "code": "invalid_api_key"}}
        if method == "GET" and path == "/v1/models":
            self.model_gets += 1
            return 200, {}, {"object": "list", "data": [self.entry()]}
        if method != "POST" or path != "/v1/chat/completions":
            return 404, {}, {"error": {"message": f"no route {method} {path}"}}
        self.requests += 1
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            return await self._complete(json.loads(body))
        finally:
            self.inflight -= 1

    async def _complete(self, request: dict[str, Any]) -> tuple[int, dict[str, str], Any] | None:
        self.bodies = [*self.bodies[-99:], request]
        if request.get("model") != self.model:
            return 404, {}, {"error": {"message": f"The model `{request.get('model')}` does not exist."}}
        text = comment_of(request["messages"][-1]["content"])
        fault = self.faults[text].pop(0) if self.faults.get(text) else None
        if fault == "429":
            return 429, {"Retry-After": self.retry_after}, {"error": {"message": "rate limited"}}
        if fault == "500":
            return 500, {}, {"error": {"message": "internal error"}}
        if fault == "drop":
            return None
        if fault == "garbage":
            return 200, {}, b'{"choices": [{"mess'  # a body cut short
        if fault == "slow":
            await asyncio.sleep(self.slow_seconds)
        await asyncio.sleep(self.delay)
        if self.stall_after is not None and sum(self.asked.values()) >= self.stall_after:
            assert self._release is not None
            await self._release.wait()
            return None
        self.asked[text] += 1
        return 200, {}, self.completion(text, request)

    def completion(self, text: str, request: dict[str, Any]) -> dict[str, Any]:
        """The chat-completions answer for a comment, in the configured style."""
        p = expected_p(text, self.revision)
        word = "Yes" if p >= 0.5 else "No"
        top = self.answers.get(text) or top_logprobs(p, self.style)
        logprobs = None
        if self.style != "none" and request.get("logprobs"):
            top = top[: int(request.get("top_logprobs") or 0)]
            word = str(top[0]["token"]) if top else word
            logprobs = {"content": [{"token": word, "logprob": top[0]["logprob"] if top else 0.0, "top_logprobs": top}]}
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:12]}", "object": "chat.completion", "created": int(time.time()),
                "model": self.model, "choices": [{"index": 0, "message": {"role": "assistant", "content": word},
                                                  "logprobs": logprobs, "finish_reason": "length"}],
                "usage": {"prompt_tokens": 50, "completion_tokens": 1, "total_tokens": 51}}


if __name__ == "__main__":  # a server for the benchmark: prints the port, serves until killed
    server = LoopbackLLM(model=sys.argv[1] if len(sys.argv) > 1 else "judge-1").start()
    print(server.port, flush=True)
    threading.Event().wait()
