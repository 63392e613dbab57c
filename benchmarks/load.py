"""Loader benchmark: a synthetic Pushshift-style ``.zst`` dump, loaded three ways, with the ratios.

Routes, each measured in its own subprocess (wall time and peak RSS from ``ru_maxrss``):

- ``ours``: :func:`toolkit.io.load_source` (``format="reddit_dump"``, streamed) + :func:`toolkit.threads.build_tree`;
- ``naive``: what a researcher writes: decompress to a file, ``pandas.read_json(lines=True)``, then a Python
  dict walk for each comment's depth;
- ``floor``: ``zstd -dc --long=31 FILE | wc -l`` (decompression alone).

Usage: ``python benchmarks/load.py --n 1000000`` (the generated file is cached under ``--cache-dir``).
Goals (issue 3): ours >= 5x naive, within 3x of the floor, peak memory < 2 GB for 1M comments.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
GENERATOR_VERSION = 2
WORDS = (  # noqa: SIM905
    "the of and to a in is that it for you this was on with not are but be have they what just "
    "like if so people can all your there would more about think one get do an or my from me no "
    "because don know at their who by just how time even really only when any good post comment "
    "source study data thread reply mod removed toxic civil argument evidence claim wrong right "
    "actually literally probably agree disagree point paper science reddit karma upvote downvote"
).split()


# --------------------------------------------------------------------------------------------------
# the synthetic dump


def _thread_parents(rng: np.random.Generator, size: int) -> np.ndarray:
    """Parent index within a thread for comments 0..size-1 (-1: the post); parents always come earlier.

    Mix of top-level comments (30%), replies to a uniformly chosen earlier comment (55%: a random recursive
    tree, depth ~ log n) and replies to the previous comment (15%: back-and-forth chains).
    """
    k = np.arange(size)
    choice = rng.random(size)
    uniform = (rng.random(size) * np.maximum(k, 1)).astype(np.int64)
    parents = np.where(choice < 0.30, -1, np.where(choice < 0.85, uniform, k - 1))
    parents[0] = -1
    return parents


def generate_dump(path: Path, n: int, seed: int = 0, window_log: int = 31) -> dict[str, int]:
    """Write ``n`` Pushshift-style comment lines in realistic threads, zstd-compressed with a ``2**window_log``
    byte window (31, 2 GiB, as Pushshift's ``zstd --long=31``; 27, 128 MiB, is plain ``zstd --long``).

    Thread sizes are heavy-tailed (Pareto), one thread holds a 3,000-deep reply chain, comments of all
    threads interleave in time order as in a monthly dump. Records carry ~35 fields like real dumps (~740 bytes a line),
    ``created_utc`` mostly int (some float or string), ``edited`` false or a timestamp, some ``[removed]``
    / ``[deleted]`` bodies and ``[deleted]`` authors, HTML-escaped quotes (``&gt;``).
    """
    import zstandard

    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    chain = min(3000, max(n // 10, 1))
    sizes.append(chain)
    left = n - chain
    while left > 0:
        size = int(min(left, max(1, rng.pareto(1.1) * 8)))
        size = min(size, 40_000)
        sizes.append(size)
        left -= size
    n_threads = len(sizes)
    thread_of = np.repeat(np.arange(n_threads), sizes)
    local_parent = np.concatenate(
        [np.full(sizes[0], 0) + np.arange(sizes[0]) - 1] + [_thread_parents(rng, s) for s in sizes[1:]]
    )
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    global_parent = np.where(local_parent < 0, -1, local_parent + offsets[thread_of])
    # times: each thread starts somewhere in a 30-day month; comments follow within ~2 days
    start = 1_700_000_000
    thread_start = start + rng.integers(0, 30 * 86400, n_threads)
    gaps = rng.exponential(600.0, n).astype(np.int64) + 1
    created = np.empty(n, dtype=np.int64)
    for t, (off, size) in enumerate(zip(offsets, sizes, strict=True)):
        created[off : off + size] = thread_start[t] + np.cumsum(gaps[off : off + size])
    order = np.argsort(created, kind="stable")
    comment_ids = np.arange(n) + 36**5  # base36 ids of 6+ chars
    post_ids = np.arange(n_threads) + 36**4

    def b36(value: int) -> str:
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"
        out = []
        while value:
            value, rem = divmod(value, 36)
            out.append(digits[rem])
        return "".join(reversed(out)) or "0"

    word_count = np.clip(rng.lognormal(2.3, 1.0, n).astype(np.int64), 1, 400)
    kind = rng.random(n)
    authors = rng.integers(0, max(n // 20, 10), n)
    scores = rng.integers(-20, 500, n)
    subs = ["science", "politics", "AskReddit", "worldnews", "news"]
    template = (
        '{{"all_awardings":[],"associated_award":null,"author":{author},"author_created_utc":{acreated},'
        '"author_flair_css_class":null,"author_flair_text":null,"author_flair_type":"text",'
        '"author_fullname":"t2_{aid}","awarders":[],"banned_by":null,"body":{body},"can_gild":true,'
        '"collapsed":false,"comment_type":null,"controversiality":0,"created_utc":{created},'
        '"distinguished":null,"edited":{edited},"gilded":0,"gildings":{{}},"id":"{cid}","is_submitter":false,'
        '"link_id":"t3_{pid}","locked":false,"no_follow":true,"parent_id":"{parent}",'
        '"permalink":"/r/{sub}/comments/{pid}/_/{cid}/","retrieved_on":{retrieved},"score":{score},'
        '"send_replies":true,"stickied":false,"subreddit":"{sub}","subreddit_id":"t5_2qh{subn}",'
        '"subreddit_type":"public","total_awards_received":0}}\n'
    )
    words = np.array(WORDS)
    word_idx = rng.integers(0, len(words), int(word_count.sum()))
    word_off = np.concatenate([[0], np.cumsum(word_count)])
    compressor = zstandard.ZstdCompressor(
        compression_params=zstandard.ZstdCompressionParameters.from_level(
            3, window_log=window_log, enable_ldm=True, threads=-1
        )
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    with tmp.open("wb") as raw, compressor.stream_writer(raw, closefd=False) as out:
        batch: list[str] = []
        for i in order.tolist():
            t = int(thread_of[i])
            sub = subs[t % len(subs)]
            k = kind[i]
            if k < 0.03:
                body = '"[deleted]"'
            elif k < 0.06:
                body = '"[removed]"'
            else:
                text = " ".join(words[word_idx[word_off[i] : word_off[i + 1]]].tolist())
                if k > 0.95:
                    text = "&gt; " + text + "\n\nreally &amp; truly"
                body = json.dumps(text)
            p = int(global_parent[i])
            parent = f"t3_{b36(int(post_ids[t]))}" if p < 0 else f"t1_{b36(int(comment_ids[p]))}"
            c = int(created[i])
            created_field = str(c) if k % 0.01 > 0.0002 else (f"{c}.0" if k < 0.5 else f'"{c}"')
            batch.append(
                template.format(
                    author='"[deleted]"' if 0.02 < k < 0.05 else f'"user_{authors[i]}"',
                    acreated=1_500_000_000 + int(authors[i]),
                    aid=b36(int(authors[i]) + 1000),
                    body=body,
                    created=created_field,
                    edited=str(c + 3600) if 0.10 < k < 0.13 else "false",
                    cid=b36(int(comment_ids[i])),
                    pid=b36(int(post_ids[t])),
                    parent=parent,
                    sub=sub,
                    subn=t % 10,
                    retrieved=c + 86400,
                    score=int(scores[i]),
                )
            )
            if len(batch) >= 20_000:
                out.write("".join(batch).encode())
                batch.clear()
        out.write("".join(batch).encode())
    tmp.replace(path)
    return {"comments": n, "threads": n_threads, "max_chain": chain}


def cached_dump(cache_dir: Path, n: int, seed: int, window_log: int = 31) -> Path:
    """The synthetic dump for (n, seed), generated once and kept under ``cache_dir``; the same lines whatever
    the window (``window_log``, see :func:`generate_dump`)."""
    window = "" if window_log == 31 else f"_w{window_log}"
    path = cache_dir / f"RC_synthetic_n{n}_s{seed}_v{GENERATOR_VERSION}{window}.zst"
    if not path.exists():
        t0 = time.perf_counter()
        info = generate_dump(path, n, seed, window_log)
        print(f"generated {path} ({info['threads']} threads) in {time.perf_counter() - t0:.1f} s", flush=True)
    return path


# --------------------------------------------------------------------------------------------------
# the routes, each run in a fresh subprocess (peak memory = that process's ru_maxrss)


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _route_ours(path: Path, chunk_bytes: int | None) -> dict[str, float]:
    from toolkit.io import formats, load_source
    from toolkit.threads import build_tree

    formats()  # import every loader module now, not inside the timing
    c0 = _cpu()
    t0 = time.perf_counter()
    options = {"chunk_bytes": chunk_bytes} if chunk_bytes else {}
    loaded = load_source(path, format="reddit_dump", **options)
    t1 = time.perf_counter()
    tree = build_tree(loaded.frame)
    t2 = time.perf_counter()
    frame = tree.frame
    return {
        "seconds": t2 - t0,
        "cpu_seconds": _cpu() - c0,
        "load_seconds": t1 - t0,
        "tree_seconds": t2 - t1,
        "rows": frame.height,
        "max_depth": int(frame["reply_depth"].max() or 0),
        "rejected": loaded.rejects.height,
    }


def _route_naive(path: Path) -> dict[str, float]:
    """What a researcher writes: pandas on the decompressed file, then a dict walk up the parents."""
    import pandas as pd

    c0 = _cpu()
    t0 = time.perf_counter()
    df = pd.read_json(path, lines=True)
    parent = dict(zip(df["id"], df["parent_id"], strict=True))
    depth: dict[str, int] = {}
    for cid in df["id"]:
        chain = []
        node = cid
        while node not in depth:
            chain.append(node)
            up = parent.get(node, "")
            if not up.startswith("t1_") or up[3:] not in parent:
                depth[node] = 1 if up.startswith("t3_") else 0
                chain.pop()
                break
            node = up[3:]
        base = depth[node]
        for offset, item in enumerate(reversed(chain), start=1):
            depth[item] = base + offset
    df["depth"] = df["id"].map(depth)
    return {
        "seconds": time.perf_counter() - t0,
        "cpu_seconds": _cpu() - c0,
        "rows": len(df),
        "max_depth": int(df["depth"].max()),
    }


def _route_floor(path: Path) -> dict[str, float]:
    c0 = _cpu(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(
        f"zstd -dc --long=31 '{path}' | wc -l", shell=True, check=True, capture_output=True, text=True
    )
    seconds = time.perf_counter() - t0
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {
        "seconds": seconds,
        "cpu_seconds": _cpu(resource.RUSAGE_CHILDREN) - c0,
        "rows": int(out.stdout.strip()),
        "child_maxrss_kb": child,
    }


def _run_route(route: str, path: Path, chunk_bytes: int | None = None) -> dict[str, float]:
    """Run one route in a fresh interpreter; its JSON result plus the peak RSS of that process (MB)."""
    command = [sys.executable, __file__, "--route", route, "--path", str(path)]
    if chunk_bytes:
        command += ["--chunk-bytes", str(chunk_bytes)]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"route {route} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child_main(route: str, path: Path, chunk_bytes: int | None) -> None:
    if route == "ours":
        result = _route_ours(path, chunk_bytes)
    elif route == "naive":
        result = _route_naive(path)
    else:
        result = _route_floor(path)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if route == "floor":
        peak_kb = max(peak_kb, int(result.pop("child_maxrss_kb")))
    result["peak_mb"] = peak_kb / 1024
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1_000_000, help="comments in the synthetic dump")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "toolkit-benchmark")
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours and the floor (best is reported)")
    parser.add_argument("--skip-naive", action="store_true", help="skip the (slow, ~10 GB) pandas route")
    parser.add_argument("--chunk-bytes", type=int, default=None, help="decompressed bytes per parsed chunk")
    parser.add_argument("--route", choices=["ours", "naive", "floor"], help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.route:
        _child_main(args.route, args.path, args.chunk_bytes)
        return 0
    if shutil.which("zstd") is None:
        print("the zstd command is needed for the floor and the naive route (apt-get install zstd)", file=sys.stderr)
        return 2

    dump = cached_dump(args.cache_dir, args.n, args.seed)
    size = os.path.getsize(dump)
    print(f"dump: {dump} ({size / 2**20:.0f} MiB compressed, {args.n:,} comments, 2 GiB zstd window)")
    print(f"machine: {os.cpu_count()} CPUs; each route in its own process\n", flush=True)

    results: dict[str, list[dict[str, float]]] = {"floor": [], "ours": []}
    for _ in range(args.repeat):  # interleaved, so that a busy spell hits both alike
        results["floor"].append(_run_route("floor", dump))
        results["ours"].append(_run_route("ours", dump, args.chunk_bytes))
        print(f"  load {os.getloadavg()[0]:.1f}   floor {results['floor'][-1]['seconds']:.2f} s   "
              f"ours {results['ours'][-1]['seconds']:.2f} s "
              f"(load {results['ours'][-1]['load_seconds']:.2f} + tree {results['ours'][-1]['tree_seconds']:.2f})",
              flush=True)  # fmt: skip
    if not args.skip_naive:
        plain = args.cache_dir / (dump.stem + ".ndjson")
        if not plain.exists():
            subprocess.run(f"zstd -dc --long=31 -q '{dump}' > '{plain}.part'", shell=True, check=True)
            Path(f"{plain}.part").replace(plain)
        results["naive"] = [_run_route("naive", plain)]
        print(f"  naive {results['naive'][0]['seconds']:.2f} s (decompressed file given: decompression not counted)")

    best = {route: min(runs, key=lambda r: r["seconds"]) for route, runs in results.items()}
    for route in ("ours", "naive"):
        if route in best and best[route]["rows"] != args.n:
            print(f"warning: route {route} saw {best[route]['rows']} rows, expected {args.n}", file=sys.stderr)
    print(f"\n{'route':<8}{'seconds':>10}{'comments/s':>14}{'CPU s':>9}{'peak MB':>10}")
    for route in ("floor", "ours", "naive"):
        if route in best:
            r = best[route]
            print(f"{route:<8}{r['seconds']:>10.2f}{args.n / r['seconds']:>14,.0f}{r['cpu_seconds']:>9.2f}"
                  f"{r['peak_mb']:>10,.0f}")  # fmt: skip
    ours = best["ours"]
    print(f"\nours: load {ours['load_seconds']:.2f} s + tree {ours['tree_seconds']:.2f} s; max depth {ours['max_depth']}")
    floor_ratio = ours["seconds"] / best["floor"]["seconds"]
    print(f"ours / floor    = {floor_ratio:.2f}x   (goal <= 3x: {'met' if floor_ratio <= 3 else 'NOT met'})")
    if "naive" in best:
        speedup = best["naive"]["seconds"] / ours["seconds"]
        print(f"naive / ours    = {speedup:.1f}x   (goal >= 5x: {'met' if speedup >= 5 else 'NOT met'})")
    pairs = sorted(o["seconds"] / f["seconds"] for o, f in zip(results["ours"], results["floor"], strict=True))
    print(f"ours / floor, run by run: {', '.join(f'{r:.2f}x' for r in pairs)} (median {pairs[len(pairs) // 2]:.2f}x)")
    cpus = os.cpu_count() or 1
    bound = ours["cpu_seconds"] / cpus
    print(f"CPU-bound limit: ours' {ours['cpu_seconds']:.2f} CPU s on {cpus} CPUs take >= {bound:.2f} s "
          f"= {bound / best['floor']['seconds']:.2f}x the floor even with perfect overlap "
          f"(ours keeps {ours['cpu_seconds'] / ours['seconds']:.2f} CPUs busy)")  # fmt: skip
    print(f"CPU seconds: ours / floor = {ours['cpu_seconds'] / best['floor']['cpu_seconds']:.2f}x"
          + (f", naive / ours = {best['naive']['cpu_seconds'] / ours['cpu_seconds']:.1f}x" if "naive" in best else ""))
    load = os.getloadavg()[0]
    print(f"load average (1 min) at the end: {load:.1f} on {os.cpu_count()} CPUs (other work inflates wall times)")
    print(f"ours peak       = {ours['peak_mb']:,.0f} MB (goal < 2000 MB: {'met' if ours['peak_mb'] < 2000 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
