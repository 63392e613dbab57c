"""Score-cache look-ups at scale (issue 12): the score stage's time per bucket, early vs late in a run, for the
old route (``ScoreCache.lookup`` per bucket: every bucket reads the whole cache, so a run costs buckets x cache)
and the new one (``score_buckets``: one partitioned look-up for all buckets, then each bucket its own hits).

Synthetic stores of ``--buckets`` buckets (default 20 and 80) of ``--rows`` comments (default 20,000; 10% of
them common repeated texts), the profanity scorer (fast), ``flush_every`` as by default. Each size runs four
times, each route into its own fresh cache: a cold run (every text new: the cache fills as the run goes) and a
warm rerun (every text cached: nothing is scored, only looked up). Prints, per route, the mean seconds of the
first and last ``--window`` buckets, their ratio (flat = 1), and for the new route the one-off look-up.

Usage: ``python benchmarks/cache_scale.py [--buckets 20 80] [--rows 20000] [--window 5]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from toolkit.scoring import buckets as scoring_buckets  # noqa: E402 - after the path set-up
from toolkit.scoring.resolve import resolve_scorer  # noqa: E402
from toolkit.scoring.score import score_resolved  # noqa: E402
from toolkit.settings import ScorerSettings  # noqa: E402

WORDS = ["you", "are", "an", "idiot", "great", "day", "thanks", "what", "a", "mess", "people", "think", "this", "is", "wrong", "right", "so"]


def make_store(directory: Path, n_buckets: int, rows: int, seed: int = 0) -> list[Path]:
    """``n_buckets`` bucket files of ``rows`` texts: 90% distinct, 10% from 500 common texts."""
    rng = np.random.default_rng(seed)
    common = [" ".join(rng.choice(WORDS, size=3)) + "!" for _ in range(500)]
    paths = []
    for b in range(n_buckets):
        texts = [common[int(rng.integers(500))] if rng.random() < 0.1 else
                 " ".join(rng.choice(WORDS, size=int(rng.integers(3, 20)))) + f" #{b}-{i}" for i in range(rows)]
        path = directory / f"bucket={b}" / "data.parquet"
        path.parent.mkdir(parents=True)
        pl.DataFrame({"text": texts}).write_parquet(path)
        paths.append(path)
    return paths


def old_route(paths: list[Path], settings: ScorerSettings, out: Path) -> tuple[list[float], float]:
    """The loop before the look-up pass: each bucket scored with a cache look-up of its own."""
    choice = resolve_scorer(settings)
    out.mkdir(parents=True)
    seconds = []
    for path in paths:
        frame = pl.read_parquet(path)
        start = time.perf_counter()
        scored, choice = score_resolved(frame, choice, settings)
        seconds.append(time.perf_counter() - start)
        scored.frame.write_parquet(out / f"{path.parent.name}.parquet")
    return seconds, 0.0


def new_route(paths: list[Path], settings: ScorerSettings, out: Path) -> tuple[list[float], float]:
    """score_buckets, its per-bucket scoring timed; the rest of its time is the one-off look-up."""
    seconds: list[float] = []
    inner: Callable[..., Any] = scoring_buckets.score_resolved

    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        result = inner(*args, **kwargs)
        seconds.append(time.perf_counter() - start)
        return result

    scoring_buckets.score_resolved = timed  # a benchmark, not a test: restored below
    try:
        start = time.perf_counter()
        scoring_buckets.score_buckets(paths, [settings], out)
        total = time.perf_counter() - start
    finally:
        scoring_buckets.score_resolved = inner
    return seconds, total - sum(seconds)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buckets", type=int, nargs="+", default=[20, 80])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=5)
    args = parser.parse_args(argv)
    resolve_scorer(ScorerSettings(name="profanity"))[0].load()  # the model's import, out of every timing
    w = args.window
    print(f"{'buckets':>7} {'run':>4} {'route':>5} {'first s/bucket':>14} {'last s/bucket':>13} {'last/first':>10}"
          f" {'look-up s':>9} {'total s':>8}")
    rows: dict[tuple[int, str, str], float] = {}
    for n_buckets in args.buckets:
        with tempfile.TemporaryDirectory(prefix="toolkit-cache-scale-") as tmp:
            paths = make_store(Path(tmp) / "store", n_buckets, args.rows)
            for name, route in (("old", old_route), ("new", new_route)):
                settings = ScorerSettings(name="profanity", cache_dir=str(Path(tmp) / f"cache-{name}"))
                for run in ("cold", "warm"):
                    seconds, lookup = route(paths, settings, Path(tmp) / f"out-{name}-{run}")
                    first, last = float(np.mean(seconds[:w])), float(np.mean(seconds[-w:]))
                    rows[n_buckets, run, name] = sum(seconds) + lookup
                    print(f"{n_buckets:>7} {run:>4} {name:>5} {first:>14.3f} {last:>13.3f} {last / first:>10.2f}"
                          f" {lookup:>9.2f} {sum(seconds) + lookup:>8.1f}", flush=True)
    for n_buckets in args.buckets:
        for run in ("cold", "warm"):
            print(f"{n_buckets} buckets, {run}: old/new total time {rows[n_buckets, run, 'old'] / rows[n_buckets, run, 'new']:.2f}")
    small, large = args.buckets[0], args.buckets[-1]
    for run in ("cold", "warm"):
        growth = {name: rows[large, run, name] / rows[small, run, name] for name in ("old", "new")}
        print(f"{run}: total time {large} / {small} buckets: old {growth['old']:.2f}, new {growth['new']:.2f}"
              f" (linear: {large / small:.2f})")


if __name__ == "__main__":
    main()
