"""``scorer=llm``: an open-weight language model asked one yes/no question per label, through any server that
speaks the OpenAI chat-completions protocol (vLLM, llama.cpp's server, Ollama, TGI), scored from the first
answer token's log-probabilities.

Each request: temperature 0, a fixed ``seed``, one output token, ``logprobs`` with ``top_logprobs``. The score
is P(yes) normalised over the yes/no variants among the first token's top log-probabilities (``Yes``,
`` yes``, ``YES``, ``▁Yes``...): sum of exp(logprob) of the yes variants over that of the yes and no variants.
A server that gives no log-probabilities is an error unless ``scorer.allow_parsed=true``, which accepts the
parsed answer as 1 (yes) or 0 (no); that is part of the identity and shown in the manifest and captions.

The prompt is a template (a bundled one by name, ``judge`` or ``judge_context``, or a file) with ``{text}``,
``{question}`` and, in a context prompt, ``{parent}`` (the comment replied to). The questions per label are
bundled (``prompts/questions.json``: Perspective's attribute definitions) or given as ``scorer.questions``.

Identity (the cache key): the model name, the server's own description of it (its ``/v1/models`` entry, less
the fields servers make afresh on every call: a changed revision or digest there is a new identity), the
sha256 of the prompt template and questions, and the request settings. Not the base URL (the same model on
another host is the same scorer) and never the API key, which is read from the environment variable named by
``scorer.api_key_env`` when the client starts and is never written anywhere (errors redact it).

The client is asynchronous (httpx), in a thread of its own (so it also runs under Jupyter's event loop), with
at most ``concurrency`` requests in flight; 429, 5xx, dropped connections and timeouts are retried with
exponential backoff (``Retry-After`` honoured, each wait capped at ``max_wait``); any other 4xx is an error
naming the URL and status. Results stream back in groups as they finish, so they reach the cache early and
memory stays bounded whatever the number of texts.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Coroutine, Iterator, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import polars as pl

from toolkit.errors import ConfigError, ScorerUnavailableError, ScoringError
from toolkit.retry import retry_after
from toolkit.scoring.base import StreamingScorer, check_texts
from toolkit.scoring.engine import progress_bar
from toolkit.settings import ScorerSettings

log = logging.getLogger(__name__)
if logging.getLogger("httpx").level == logging.NOTSET:  # one INFO line per request would flood run logs
    logging.getLogger("httpx").setLevel(logging.WARNING)

PROMPT_DIR = Path(__file__).with_name("prompts")
QUESTIONS_FILE = PROMPT_DIR / "questions.json"
PROTOCOL = "openai-chat-completions"
VOLATILE_FIELDS = ("permission",)  # vLLM: fresh random ids on every call; they do not change the model
NOW_WINDOW_S = 600.0  # a ``created`` this close to now is the time of the request (vLLM, llama.cpp), not the model's
GROUP_SECONDS = 1.0  # results are handed over at least this often (progress, early cache writes)
LOG_SECONDS = 60.0  # without a progress bar (a batch job's log), a progress line this often
_PLACEHOLDER = re.compile(r"\{(text|parent|question)\}")
_TOKEN_JUNK = " \t\r\n\u2581\u0120\u010a.,;:!?\"'`*_()[]<>"  # spaces, SentencePiece/BPE space marks, punctuation
T = TypeVar("T")


# -- prompts ------------------------------------------------------------------------------------------------


def bundled_prompts() -> list[str]:
    """The names of the bundled prompt templates.

    >>> bundled_prompts()
    ['judge', 'judge_context']
    """
    return sorted(p.stem for p in PROMPT_DIR.glob("*.txt"))


def load_prompt(prompt: str) -> tuple[str, str]:
    """``(name, template)`` of a bundled prompt (by name) or of a template file (its path).

    >>> name, template = load_prompt("judge")
    >>> name, "{text}" in template and "{question}" in template
    ('judge', True)
    """
    bundled = PROMPT_DIR / f"{prompt}.txt"
    path = bundled if bundled.is_file() else Path(prompt).expanduser()
    if not path.is_file():
        raise ConfigError("scorer.prompt", f"{prompt!r} is neither a bundled prompt ({', '.join(bundled_prompts())}) "
                          "nor a file")
    template = path.read_text(encoding="utf-8")
    missing = [p for p in ("{text}", "{question}") if p not in template]
    if missing:
        raise ConfigError("scorer.prompt", f"{path} lacks the placeholder(s) {', '.join(missing)} (a template holds "
                          "{text}, {question} and, to show the comment replied to, {parent})")
    return (prompt if path == bundled else path.name), template


@lru_cache(maxsize=1)
def bundled_questions() -> dict[str, str]:
    """The bundled yes/no question per label (Perspective's attribute definitions)."""
    return json.loads(QUESTIONS_FILE.read_text(encoding="utf-8"))


def questions_for(labels: Sequence[str], overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The question asked for each label: ``overrides`` first, else the bundled one.

    >>> questions_for(["toxicity"])["toxicity"][:40]
    'Is this comment toxic, that is, a rude, '
    """
    if not labels or len(set(labels)) != len(labels):
        raise ConfigError("scorer.labels", f"give one or more distinct labels, got {list(labels)}")
    known = {**bundled_questions(), **(overrides or {})}
    missing = [label for label in labels if not known.get(label)]
    if missing:
        raise ConfigError("scorer.questions", f"no question for label(s) {missing}; give one, e.g. "
                          f"scorer.questions.{missing[0]}='Is this comment ...?' (bundled: {', '.join(bundled_questions())})")
    return {label: known[label] for label in labels}


def render(template: str, text: str, question: str, parent: str | None = None) -> str:
    """The prompt for one text: each placeholder replaced in one pass (so braces inside a comment stay as written).

    >>> render("Q: {question} T: {text}", "a {question} b", "Rude?")
    'Q: Rude? T: a {question} b'
    """
    values = {"text": text, "question": question, "parent": NO_PARENT if parent is None else parent}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


NO_PARENT = "(none: this comment starts the discussion)"
CONTEXT_COLUMN = "__toolkit_context_item"  # the (parent, reply) pairs a context prompt scores, while scoring


def prompt_sha256(template: str, questions: dict[str, str]) -> str:
    """sha256 over the template and the questions asked (both change what the model is asked).

    >>> len(prompt_sha256("{text} {question}", {"toxicity": "Rude?"}))
    64
    """
    blob = json.dumps({"template": template, "questions": questions}, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


# -- context items ------------------------------------------------------------------------------------------


def context_item(parent: str | None, text: str) -> str:
    """One (parent, reply) pair as the text a context prompt scores (the cache keys the pair, not the reply).

    >>> context_item(None, "hi")
    '{"parent":null,"text":"hi"}'
    """
    return json.dumps({"parent": parent, "text": text}, ensure_ascii=False, separators=(",", ":"))


def context_items(frame: pl.DataFrame, text_column: str = "text") -> pl.Series:
    """Each row's (parent text, text) pair as a :func:`context_item` string, null where the text is null; the
    parent is the row whose ``comment_id`` is this row's ``parent_id`` in the same ``thread_id`` (when the frame
    has no ``thread_id``, in the whole frame).

    >>> frame = pl.DataFrame({"comment_id": ["a", "b"], "parent_id": [None, "a"], "text": ["Hi", "Bye"]})
    >>> context_items(frame).to_list()
    ['{"parent":null,"text":"Hi"}', '{"parent":"Hi","text":"Bye"}']
    """
    missing = [c for c in ("comment_id", "parent_id", text_column) if c not in frame.columns]
    if missing:
        raise ConfigError("scorer.prompt", f"a context prompt shows the comment replied to: the frame needs columns "
                          f"{missing} (has {frame.columns})")
    keys = ["thread_id"] if "thread_id" in frame.columns else []
    rows = frame.select(*keys, "comment_id", "parent_id", pl.col(text_column).alias("_text")).with_row_index("_row")
    parents = rows.select(*keys, pl.col("comment_id").alias("parent_id"), pl.col("_text").alias("_parent"))
    parents = parents.unique(subset=[*keys, "parent_id"], keep="first", maintain_order=True)
    joined = rows.join(parents, on=[*keys, "parent_id"], how="left").sort("_row")
    items = [None if text is None else context_item(parent, text)
             for parent, text in zip(joined["_parent"].to_list(), joined["_text"].to_list(), strict=True)]
    return pl.Series(text_column, items, dtype=pl.String)


def _split_item(item: str) -> tuple[str | None, str]:
    try:
        pair = json.loads(item)
        return pair["parent"], pair["text"]
    except (ValueError, KeyError, TypeError):
        raise ScoringError("scorer=llm: a context prompt scores (parent, reply) pairs, not bare texts: build them "
                           "with toolkit.scoring.llm.context_items(frame) (the pipeline does this itself)") from None


# -- answers ------------------------------------------------------------------------------------------------


def answer_word(token: str) -> str | None:
    """``yes`` or ``no`` for a yes/no variant of an answer token (case, spaces, SentencePiece/BPE space marks
    and punctuation aside), else None.

    >>> [answer_word(t) for t in ["Yes", " yes", "YES", "\u2581No", "no.", "Maybe", "yesterday"]]
    ['yes', 'yes', 'yes', 'no', 'no', None, None]
    """
    word = token.strip(_TOKEN_JUNK).lower()
    return word if word in ("yes", "no") else None


def p_yes(top_logprobs: Sequence[dict[str, Any]]) -> float | None:
    """P(yes) normalised over the yes/no variants among a token's top log-probabilities; None when none is there.

    >>> round(p_yes([{"token": " Yes", "logprob": math.log(0.6)}, {"token": "yes", "logprob": math.log(0.2)},
    ...              {"token": "No", "logprob": math.log(0.1)}, {"token": "Maybe", "logprob": math.log(0.1)}]), 6)
    0.888889
    >>> round(p_yes([{"token": "Yes", "logprob": -800.0}, {"token": "No", "logprob": -800.0 - math.log(3)}]), 9)
    0.75
    """
    found: list[tuple[str, float]] = []
    for entry in top_logprobs:
        word = answer_word(str(entry.get("token", "")))
        logprob = entry.get("logprob")
        if word is not None and isinstance(logprob, int | float) and not math.isnan(logprob):
            found.append((word, float(logprob)))
    if not found:
        return None
    yes = sum(math.exp(lp) for word, lp in found if word == "yes")
    no = sum(math.exp(lp) for word, lp in found if word == "no")
    if yes + no == 0.0:  # every variant below exp's range: the same ratio, shifted by the largest
        top = max(lp for _, lp in found)
        if top == -math.inf:
            return None
        yes = sum(math.exp(lp - top) for word, lp in found if word == "yes")
        no = sum(math.exp(lp - top) for word, lp in found if word == "no")
    return yes / (yes + no)


def parsed_answer(content: str | None) -> float | None:
    """1.0 for an answer that starts with yes, 0.0 for no, else None.

    >>> parsed_answer(" Yes."), parsed_answer("no"), parsed_answer("It depends")
    (1.0, 0.0, None)
    """
    words = (content or "").split()
    word = answer_word(words[0]) if words else None
    return None if word is None else float(word == "yes")


def first_token_top_logprobs(logprobs: Any) -> list[dict[str, Any]] | None:
    """The first answer token's top log-probabilities as ``[{"token", "logprob"}]``: from the chat shape
    (``content[0].top_logprobs``) or the older completions shape (``top_logprobs[0]``, token -> logprob).

    >>> first_token_top_logprobs({"content": [{"token": "No", "top_logprobs": [{"token": "No", "logprob": -0.1}]}]})
    [{'token': 'No', 'logprob': -0.1}]
    >>> first_token_top_logprobs({"tokens": ["No"], "top_logprobs": [{"No": -0.1, "Yes": -2.4}]})
    [{'token': 'No', 'logprob': -0.1}, {'token': 'Yes', 'logprob': -2.4}]
    >>> first_token_top_logprobs(None) is None
    True
    """
    if not isinstance(logprobs, dict):
        return None
    content = logprobs.get("content")
    if isinstance(content, list) and content and isinstance(content[0], dict):
        top = content[0].get("top_logprobs")
        return top if isinstance(top, list) and top else None
    legacy = logprobs.get("top_logprobs")
    if isinstance(legacy, list) and legacy and isinstance(legacy[0], dict) and legacy[0]:
        return [{"token": token, "logprob": logprob} for token, logprob in legacy[0].items()]
    return None


# -- the server's description of the model ------------------------------------------------------------------


def model_description(entry: dict[str, Any], now: float | None = None,
                      again: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ``/v1/models`` entry less what servers make afresh on every call: ``permission`` (vLLM: random ids),
    any number within ``NOW_WINDOW_S`` of now, in seconds or milliseconds (the time of the request, as vLLM's and
    llama.cpp's ``created``; Ollama's ``created`` is the model's modification time and stays), and any field
    that differs in ``again`` (the same entry fetched a second time).

    >>> model_description({"id": "m", "created": 1700000000, "permission": [{"id": "x"}]}, now=1700000005)
    {'id': 'm'}
    >>> model_description({"id": "m", "created": 1600000000, "revision": "r2", "req": "a"}, now=1700000005,
    ...                   again={"id": "m", "created": 1600000000, "revision": "r2", "req": "b"})
    {'id': 'm', 'created': 1600000000, 'revision': 'r2'}
    """
    now = time.time() if now is None else now

    def per_call(key: str, value: Any) -> bool:
        if key in VOLATILE_FIELDS or (again is not None and again.get(key) != value):
            return True
        return (isinstance(value, int | float) and not isinstance(value, bool)
                and (abs(value - now) < NOW_WINDOW_S or abs(value - now * 1000) < NOW_WINDOW_S * 1000))

    return {k: v for k, v in entry.items() if not per_call(k, v)}


def revision_of(description: dict[str, Any]) -> str:
    """The field that pins the weights, for the scorer card: digest, revision, sha, root or created.

    >>> revision_of({"id": "m", "revision": "abc"})
    'revision=abc'
    """
    for key in ("digest", "revision", "sha", "model_sha", "root", "created"):
        if description.get(key) not in (None, ""):
            return f"{key}={description[key]}"
    return "not given by the server"


# -- the event loop thread and the stream of requests -------------------------------------------------------


class _LoopThread:
    """An asyncio event loop running in a daemon thread: coroutines are submitted from the caller's thread,
    which may itself be inside a running loop (Jupyter)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="toolkit-llm-client", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` in the loop and wait for its result (its exception is raised here; interrupted, it is
        cancelled)."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()
            raise

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


class _Pump:
    """``concurrency`` workers in the loop, each asking for the next text as soon as its last one is answered;
    finished texts wait in ``done`` (at most ``buffer``: the workers pause when it is full) until taken."""

    def __init__(self, ask: Any, texts: Sequence[str], concurrency: int, group: int) -> None:
        self.ask, self.texts, self.group = ask, texts, group
        self.buffer = 2 * group + concurrency
        self.next = 0
        self.done: list[tuple[int, list[float]]] = []
        self.error: BaseException | None = None
        self.eager = False  # hand over as soon as anything finishes (the group deadline passed with nothing)
        self.wakeup, self.room = asyncio.Event(), asyncio.Event()
        self.room.set()
        loop = asyncio.get_running_loop()
        self.workers = [loop.create_task(self._work()) for _ in range(min(concurrency, len(texts)))]
        self.idle = 0

    async def _work(self) -> None:
        try:
            while self.error is None and self.next < len(self.texts):
                if len(self.done) >= self.buffer:
                    self.room.clear()
                    await self.room.wait()
                    continue
                position = self.next
                self.next += 1
                try:
                    row = await self.ask(self.texts[position])
                except Exception as exc:  # noqa: BLE001 - handed to the consumer, which raises it
                    self.error = self.error or exc
                    return
                self.done.append((position, row))
                if self.eager or len(self.done) >= self.group:
                    self.wakeup.set()
        finally:
            self.idle += 1
            if self.error is not None or self.idle == len(self.workers):
                self.wakeup.set()

    def _ready(self) -> bool:
        return self.error is not None or len(self.done) >= self.group or self.idle == len(self.workers)

    def _deadline(self) -> None:
        if self.done:
            self.wakeup.set()
        else:
            self.eager = True

    async def take(self) -> list[tuple[int, list[float]]]:
        """The texts finished since the last call: at least ``group`` (or all that are left), or whatever
        finished within ``GROUP_SECONDS`` (at least one); the first failure is raised, everything else cancelled."""
        if not self._ready():
            self.wakeup.clear()
            self.eager = False
            timer = asyncio.get_running_loop().call_later(GROUP_SECONDS, self._deadline)
            try:
                await self.wakeup.wait()
            finally:
                timer.cancel()
        if self.error is not None:
            await self.cancel()
            raise self.error
        out, self.done = self.done, []
        self.room.set()
        return out

    async def cancel(self) -> None:
        """Cancel the workers and wait for them to end."""
        for worker in self.workers:
            worker.cancel()
        await asyncio.gather(*self.workers, return_exceptions=True)


# -- the scorer ---------------------------------------------------------------------------------------------


class LLMScorer(StreamingScorer):
    """An LLM judge behind an OpenAI-compatible ``/v1`` (see the module docstring); one column per label.

    >>> scorer = LLMScorer(ScorerSettings(name="llm", base_url="http://127.0.0.1:8000/v1", model="m"))
    >>> scorer.labels(), scorer.prompt_name, len(scorer.prompt_sha256)
    (['toxicity'], 'judge', 64)
    """

    name = "llm"

    def __init__(self, settings: ScorerSettings) -> None:
        if not settings.base_url:
            raise ConfigError("scorer.base_url", "scorer=llm needs the server's OpenAI-compatible address, e.g. "
                              "scorer.base_url=http://127.0.0.1:8000/v1 (vLLM) or http://127.0.0.1:11434/v1 (Ollama)")
        if not settings.model or settings.model == ScorerSettings.model:
            raise ConfigError("scorer.model", "scorer=llm needs the model's name as the server lists it at "
                              "<base_url>/models, e.g. scorer.model=llama3.1:8b")
        for key in ("concurrency", "top_logprobs"):
            if int(getattr(settings, key)) < 1:
                raise ConfigError(f"scorer.{key}", f"must be 1 or more, got {getattr(settings, key)}")
        if int(settings.retries) < 0 or float(settings.timeout) <= 0:
            raise ConfigError("scorer.retries" if int(settings.retries) < 0 else "scorer.timeout",
                              "retries must be 0 or more and timeout more than 0 seconds")
        self.settings = settings
        self.base_url = settings.base_url.rstrip("/")
        self.model = settings.model
        self.prompt_name, self.template = load_prompt(settings.prompt)
        self.questions = questions_for(list(settings.labels), dict(settings.questions or {}))
        self.prompt_sha256 = prompt_sha256(self.template, self.questions)
        self.needs_parent = "{parent}" in self.template
        self.loads = 0
        self._description: dict[str, Any] | None = None
        self._key: str | None = None
        self.stats: dict[str, Any] = {"texts": 0, "requests": 0, "retries": Counter(), "waited_s": 0.0, "parsed": 0,
                                      "seconds": 0.0}

    # -- identity -------------------------------------------------------------------------------------

    def request_settings(self) -> dict[str, Any]:
        """What every request fixes beside the prompt (part of the identity)."""
        return {"temperature": 0, "seed": int(self.settings.seed), "max_tokens": 1, "logprobs": True,
                "top_logprobs": int(self.settings.top_logprobs)}

    def score_source(self) -> str:
        """How a score is read from an answer (part of the identity; shown in captions)."""
        return "p_yes_logprobs_or_parsed" if self.settings.allow_parsed else "p_yes_logprobs"

    def server_model(self) -> dict[str, Any]:
        """The server's ``/models`` entry for the model (less its per-call fields), fetched once per scorer."""
        if self._description is None:
            loop = _LoopThread()
            try:
                first, again = loop.run(self._get_models())  # twice: what differs is made per call
            finally:
                loop.close()
            self._description = model_description(self._model_entry(first), again=self._model_entry(again))
        return self._description

    def _model_entry(self, listing: Any) -> dict[str, Any]:
        """The model's entry in a ``/models`` answer; a clear error when the answer or the model is not there."""
        entries = listing.get("data") if isinstance(listing, dict) else None
        if not isinstance(entries, list):
            raise ScorerUnavailableError(f"scorer=llm: GET {self.base_url}/models did not answer an OpenAI model "
                                         "list ({'data': [...]}); is scorer.base_url the server's /v1 address?")
        served = [str(e.get("id")) for e in entries if isinstance(e, dict)]
        entry = next((e for e in entries if isinstance(e, dict) and e.get("id") == self.model), None)
        if entry is None:
            raise ScorerUnavailableError(f"scorer=llm: {self.base_url}/models does not list model {self.model!r} "
                                         f"(scorer.model); it serves: {', '.join(served) or 'nothing'}")
        return entry

    def identity(self) -> dict[str, str]:
        """Model, the server's description of it, prompt and its hash, request settings (no base URL, no key)."""
        description = self.server_model()
        return {
            "name": self.name,
            "model": self.model,
            "server_model": json.dumps(description, sort_keys=True, separators=(",", ":"), default=str),
            "prompt": self.prompt_name,
            "prompt_sha256": self.prompt_sha256,
            "request": json.dumps(self.request_settings(), sort_keys=True, separators=(",", ":")),
            "score": self.score_source(),
            "protocol": PROTOCOL,
        }

    def labels(self) -> list[str]:
        """The labels asked about, in the order given."""
        return list(self.questions)

    def card(self) -> dict[str, Any]:
        """The scorer card for the manifest: model, its revision/digest, prompt and hash, engine, score."""
        description = self.server_model()
        return {"model": self.model, "revision": revision_of(description), "server_model": description,
                "prompt": self.prompt_name, "prompt_sha256": self.prompt_sha256, "questions": self.questions,
                "engine": f"{PROTOCOL} ({description.get('owned_by', 'unknown server')})",
                "request": self.request_settings(), "score": self.score_source()}

    def run_settings(self) -> dict[str, Any]:
        """The scorer card and the client's settings (no key: only the name of its environment variable)."""
        s = self.settings
        return {"card": self.card(), "base_url": self.base_url, "concurrency": int(s.concurrency),
                "timeout": float(s.timeout), "retries": int(s.retries), "api_key_env": s.api_key_env}

    def run_stats(self) -> dict[str, Any]:
        """Texts, requests, retries by reason, parsed answers, seconds and texts/s of the runs so far."""
        stats = dict(self.stats)
        stats["retries"] = dict(stats["retries"])
        stats["texts_per_s"] = round(stats["texts"] / stats["seconds"], 2) if stats["seconds"] > 0 else None
        stats["seconds"], stats["waited_s"] = round(stats["seconds"], 3), round(stats["waited_s"], 3)
        return stats
    # -- requests -------------------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        self._key = os.environ.get(self.settings.api_key_env) or None
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        n = int(self.settings.concurrency)
        return httpx.AsyncClient(base_url=self.base_url + "/", headers=headers, timeout=float(self.settings.timeout),
                                 limits=httpx.Limits(max_connections=n, max_keepalive_connections=n))

    def _redact(self, message: str) -> str:
        return message.replace(self._key, "***") if self._key else message

    async def _get_models(self) -> tuple[Any, Any]:
        async with self._client() as client:
            return (await self._request(client, "GET", "models", None),
                    await self._request(client, "GET", "models", None))

    async def _request(self, client: httpx.AsyncClient, method: str, path: str, body: dict[str, Any] | None) -> Any:
        """The answer's JSON; 429, 5xx, dropped connections and timeouts retried (backoff, Retry-After)."""
        s = self.settings
        url = f"{self.base_url}/{path}"
        for attempt in range(int(s.retries) + 1):
            wait = float(s.backoff) * 2 ** attempt
            try:
                response = await client.request(method, path, json=body)
            except httpx.TransportError as exc:  # dropped connection, refused, timeout
                reason = "timeout" if isinstance(exc, httpx.TimeoutException) else "connection"
                detail = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            else:
                status = response.status_code
                if status == 200:
                    try:
                        return response.json()
                    except ValueError:  # cut short or garbled: asked again
                        reason, detail = "bad_json", f"200 with no JSON: {response.text[:200]!r}"
                elif status != 429 and status < 500:
                    raise ScoringError(self._client_error(method, url, response))
                else:
                    reason, detail = str(status), f"{status} {response.reason_phrase}"
                    wait = retry_after(response.headers.get("retry-after")) or wait
            if attempt == int(s.retries):
                hint = "; is the server running there? (scorer.base_url)" if reason == "connection" else ""
                raise ScoringError(f"scorer=llm: {method} {url} failed {attempt + 1} times, the last with "
                                   f"{self._redact(detail)} (scorer.retries={s.retries}, scorer.timeout={s.timeout})"
                                   + hint)
            self.stats["retries"][reason] += 1
            log.debug("scorer=llm: %s %s: %s; retrying in %.2f s", method, url, reason, min(wait, s.max_wait))
            await self._wait(min(wait, float(s.max_wait)))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _wait(self, seconds: float) -> None:
        """Sleep before a retry (its length is added to the run's statistics)."""
        self.stats["waited_s"] += seconds
        await asyncio.sleep(seconds)

    def _client_error(self, method: str, url: str, response: httpx.Response) -> str:
        """A 4xx other than 429: the URL, the status, the server's message (key redacted) and a hint."""
        try:
            error = response.json().get("error", response.text)
            message = error.get("message", error) if isinstance(error, dict) else error
        except (ValueError, AttributeError):
            message = response.text
        hint = {401: f"check the key in ${self.settings.api_key_env} (scorer.api_key_env)",
                403: f"check the key in ${self.settings.api_key_env} (scorer.api_key_env)",
                404: f"check scorer.base_url (the /v1 address) and scorer.model ({self.model!r})"}.get(
                    response.status_code, f"check scorer.model ({self.model!r}) and the server's log")
        return self._redact(f"scorer=llm: {method} {url} answered {response.status_code} {response.reason_phrase}: "
                            f"{str(message)[:300]} ({hint})")

    def request_body(self, content: str) -> dict[str, Any]:
        """One chat-completions request: the rendered prompt as the user's message, the fixed settings.

        >>> LLMScorer(ScorerSettings(name="llm", base_url="http://h/v1", model="m")).request_body("hi")["max_tokens"]
        1
        """
        return {"model": self.model, "messages": [{"role": "user", "content": content}], **self.request_settings()}

    async def _ask(self, client: httpx.AsyncClient, item: str) -> list[float]:
        """The scores (one per label) of one text, or one (parent, reply) pair for a context prompt."""
        parent, text = _split_item(item) if self.needs_parent else (None, item)
        row = []
        for label, question in self.questions.items():
            answer = await self._request(client, "POST", "chat/completions",
                                         self.request_body(render(self.template, text, question, parent)))
            self.stats["requests"] += 1
            row.append(self.read_score(answer, label))
        return row

    def read_score(self, answer: Any, label: str = "toxicity") -> float:
        """P(yes) from a chat-completions answer (see :func:`p_yes`), or its parsed yes/no with ``allow_parsed``.

        >>> scorer = LLMScorer(ScorerSettings(name="llm", base_url="http://h/v1", model="m"))
        >>> top = [{"token": "No", "logprob": math.log(0.75)}, {"token": " Yes", "logprob": math.log(0.25)}]
        >>> scorer.read_score({"choices": [{"logprobs": {"content": [{"token": "No", "top_logprobs": top}]}}]})
        0.25
        """
        try:
            choice = answer["choices"][0]
        except (KeyError, IndexError, TypeError):
            raise ScoringError(f"scorer=llm: {self.base_url}/chat/completions answered without choices: "
                               f"{self._redact(json.dumps(answer)[:200])}") from None
        top = first_token_top_logprobs(choice.get("logprobs"))
        content = (choice.get("message") or {}).get("content")
        if top:
            score = p_yes(top)
            if score is not None:
                return score
            if not self.settings.allow_parsed:
                shown = ", ".join(repr(t.get("token")) for t in top[:8])
                raise ScoringError(f"scorer=llm: label {label!r}: no yes/no variant among the first answer token's top "
                                   f"{len(top)} log-probabilities ({shown}); the model does not answer Yes or No to "
                                   f"prompt {self.prompt_name!r}: check scorer.prompt and scorer.model")
        elif not self.settings.allow_parsed:
            raise ScoringError(f"scorer=llm: {self.base_url}/chat/completions gave no log-probabilities for model "
                               f"{self.model!r} (the score is P(yes) from them); use a server that returns logprobs "
                               "with top_logprobs (vLLM, llama.cpp's server, recent Ollama), or accept a parsed yes/no "
                               "as 0/1 with scorer.allow_parsed=true (marked in the manifest and captions)")
        score = parsed_answer(content)
        if score is None:
            raise ScoringError(f"scorer=llm: label {label!r}: the answer {str(content)[:80]!r} is neither yes nor no "
                               "(scorer.allow_parsed=true reads only a yes/no answer)")
        self.stats["parsed"] += 1
        return score

    # -- scoring --------------------------------------------------------------------------------------

    def iter_predict(self, texts: Sequence[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(positions, scores)`` as requests finish (any order), at most ``concurrency`` in flight."""
        texts = check_texts(texts)
        if not texts:
            return
        concurrency = int(self.settings.concurrency)
        loop = _LoopThread()
        bar = progress_bar(len(texts), self.settings.progress, "llm judge")
        started = time.perf_counter()
        client = pump = None
        received = 0
        logged = time.monotonic()
        try:
            client = self._client()
            self.loads += 1
            pump = loop.run(_make_pump(lambda item: self._ask(client, item), texts, concurrency,
                                       max(64, 4 * concurrency)))
            while received < len(texts):
                finished = loop.run(pump.take())
                positions = np.fromiter((p for p, _ in finished), dtype=np.int64, count=len(finished))
                scores = np.asarray([row for _, row in finished], dtype=np.float64).reshape(len(finished), -1)
                received += len(finished)
                self.stats["texts"] += len(finished)
                if bar is not None:
                    bar.update(len(finished))
                elif time.monotonic() - logged >= LOG_SECONDS:
                    logged = time.monotonic()
                    log.info("scorer=llm: %d of %d texts, %.1f texts/s, retries %s", received, len(texts),
                             received / (time.perf_counter() - started), dict(self.stats["retries"]) or "none")
                yield positions, scores
        finally:
            try:
                if pump is not None:
                    loop.run(pump.cancel())
                if client is not None:
                    loop.run(client.aclose())
            finally:
                loop.close()
                self.stats["seconds"] += time.perf_counter() - started
                if bar is not None:
                    bar.close()
            stats = self.run_stats()
            log.info("scorer=llm: %d texts, %d requests, retries %s, %.1f texts/s", received, stats["requests"],
                     stats["retries"] or "none", stats["texts_per_s"] or 0.0)


async def _make_pump(ask: Any, texts: Sequence[str], concurrency: int, group: int) -> _Pump:
    return _Pump(ask, texts, concurrency, group)  # made inside the loop: its Event belongs there

