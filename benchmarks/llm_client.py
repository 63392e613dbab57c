"""The LLM judge's client against a bare asyncio client, on the same loopback server, in the same run.

A loopback server in the OpenAI chat-completions shape (tests/llm_server.py, run as a separate process so it
does not share our interpreter lock) answers at once; the bare client (httpx.AsyncClient, a semaphore of
``--concurrency``, the same request bodies, JSON decoded, nothing else) measures what the server allows. The
toolkit's ``score_frame(..., "llm")`` then scores as many distinct texts at the same concurrency, through the
whole path: prompt rendering, log-probability reading, the client's retry machinery and the score cache (a
fresh one each round). Rounds alternate which side goes first; the best of each side is compared. Target: toolkit >= 0.7x bare, so
a GPU server, not the client, sets the pace.

    PYTHONPATH=. python benchmarks/llm_client.py [--texts 3000] [--concurrency 8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import polars as pl

from toolkit.scoring import score_frame
from toolkit.scoring.llm import load_prompt, questions_for, render

ROOT = Path(__file__).resolve().parents[1]
MODEL = "judge-1"
TARGET = 0.7


def start_server() -> tuple[subprocess.Popen[str], str]:
    """The loopback server as a process; its /v1 address."""
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "llm_server.py"), MODEL], stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}/v1"


async def bare_client(base_url: str, texts: list[str], concurrency: int) -> float:
    """Requests/s of a plain asyncio client posting the same bodies (the first token's top log-probs read)."""
    _, template = load_prompt("judge")
    question = questions_for(["toxicity"])["toxicity"]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    queue = iter(texts)
    async with httpx.AsyncClient(base_url=base_url + "/", limits=limits, timeout=60) as client:
        async def worker() -> None:  # `concurrency` workers pulling texts: the leanest way to keep N in flight
            for text in queue:
                body = {"model": MODEL, "messages": [{"role": "user", "content": render(template, text, question)}],
                        "temperature": 0, "seed": 0, "max_tokens": 1, "logprobs": True, "top_logprobs": 20}
                response = await client.post("chat/completions", json=body)
                response.raise_for_status()
                response.json()["choices"][0]["logprobs"]["content"][0]["top_logprobs"]

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(texts) / (time.perf_counter() - started)


def toolkit_client(base_url: str, texts: list[str], concurrency: int) -> float:
    """Texts/s of score_frame(..., "llm") on distinct texts, with a fresh score cache."""
    frame = pl.DataFrame({"text": texts})
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        scored = score_frame(frame, "llm", base_url=base_url, model=MODEL, concurrency=concurrency, cache_dir=cache,
                             progress=False)
        seconds = time.perf_counter() - started
    assert scored.report.cache_misses == len(texts) and scored.frame["toxicity"].null_count() == 0
    return len(texts) / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    proc, base_url = start_server()
    try:
        bare, ours = [], []
        for r in range(args.rounds):
            texts = [f"round {r} comment {i}: you make a fair point, but the source says otherwise"
                     for i in range(args.texts)]
            for side in ("bare", "toolkit") if r % 2 == 0 else ("toolkit", "bare"):  # alternate who goes first
                if side == "bare":
                    bare.append(asyncio.run(bare_client(base_url, [f"bare {t}" for t in texts], args.concurrency)))
                else:
                    ours.append(toolkit_client(base_url, texts, args.concurrency))
            print(f"round {r}: bare client {bare[-1]:8.1f} requests/s   toolkit scorer=llm {ours[-1]:8.1f} texts/s   "
                  f"ratio {ours[-1] / bare[-1]:.2f}")
    finally:
        proc.terminate()
        proc.wait(10)
    ratio = max(ours) / max(bare)
    print(f"{args.texts} texts, concurrency {args.concurrency}, {os.cpu_count()} CPUs: best bare {max(bare):.1f} "
          f"requests/s, best toolkit {max(ours):.1f} texts/s, ratio {ratio:.2f} (target >= {TARGET})")
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
