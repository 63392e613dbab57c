"""Scale benchmark (issue 12): the full pipeline on synthetic Pushshift-style dumps of growing size.

Each size runs ``toolkit dataset=reddit_dump dataset.path=<dump> scorer=profanity
'analysis.run=[thread_length,depth_profile]'`` in a fresh process with a fresh cache (so the corpus store is
built and every text scored), and reports wall time, the manifest's stage times and the peak RSS (``wait4``).
Beside it, the decompression floor: the peak RSS of only decompressing the dump with ``zstd -dc --long=31 FILE
> /dev/null`` (a zstd stream keeps min(content, window) of output in memory, whatever reads it; without the
``zstd`` command, :func:`toolkit.io.stream.iter_decompressed` in a bare Python process), and the peak above it:
what the toolkit itself holds.

The same lines are compressed with two windows (``--window-logs``): 2**27 bytes (128 MiB, what ``zstd --long``
writes) and 2**31 (2 GiB, Pushshift's ``zstd --long=31``). With the 2 GiB window the floor grows with the dump up
to 2 GiB (0.81 GB at 1M comments, 2.10 GB at 4M), so the memory goals are judged on the 128 MiB rows, and on the
2 GiB rows above the floor (goal: the part above the floor at the largest size <= 1.25x the smallest's).

Usage: ``python benchmarks/scale.py --sizes 1000000 4000000 [--baseline DIR]`` (dumps cached in ``--cache-dir``;
``--baseline`` compares the first size's tables with a saved run's, points to 1e-6).
Goals: peak at the largest size <= 1.25x the smallest's and < 1.5 GB; time <= 1.125x the size ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from load import cached_dump  # noqa: E402 - the benchmarks' shared dump generator

PYTHON_FLOOR = ("from pathlib import Path; import sys; from toolkit.io.stream import iter_decompressed\n"
                "print(sum(len(b) for b in iter_decompressed(Path(sys.argv[1]))))")


def floor_command(dump: Path) -> list[str]:
    """Only decompressing ``dump``: the zstd command when installed, else the toolkit's decompressor alone."""
    if shutil.which("zstd"):
        return ["zstd", "-dc", "--long=31", "-q", "-o", os.devnull, str(dump)]
    return [sys.executable, "-c", PYTHON_FLOOR, str(dump)]


def measured(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise RuntimeError(f"{command[:4]}... failed: {child.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1e6


def run_size(dump: Path, runs: Path) -> dict:
    """One pipeline run on ``dump`` (fresh cache) and its decompression floor."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory(prefix="toolkit-scale-cache-") as cache:
        run_dir = runs / dump.stem
        seconds, peak = measured(
            [sys.executable, "-m", "toolkit.cli.app", "dataset=reddit_dump", f"dataset.path={dump}", "scorer=profanity",
             "analysis.run=[thread_length,depth_profile]", f"hydra.run.dir={run_dir}"],
            {**env, "TOOLKIT_CACHE_DIR": cache})
    floor_cmd = floor_command(dump)
    _, floor = measured(floor_cmd, env)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    return {"dump": str(dump), "run_dir": str(run_dir), "seconds": seconds, "peak_gb": peak, "floor_gb": floor,
            "floor_command": " ".join(floor_cmd[:4] if floor_cmd[0] == "zstd" else ["python", "-c", "iter_decompressed"]),
            "stages": manifest["stage_seconds"], "stage_peaks": manifest["stage_peak_rss_mb"], "rows": manifest["counts"]["rows_kept"],
            "buckets": manifest["store"]["buckets"]}


def same_tables(baseline: Path, run_dir: Path) -> int:
    """Differences between two runs' table CSVs (numbers to 1e-6 relative, text exactly)."""
    import polars as pl

    bad = 0
    for theirs in sorted((baseline / "tables").glob("*.csv")):
        ours = run_dir / "tables" / theirs.name
        a, b = pl.read_csv(theirs), pl.read_csv(ours) if ours.exists() else None
        if b is None or a.columns != b.columns or a.height != b.height:
            print(f"  {theirs.name}: missing or different shape")
            bad += 1
            continue
        for column in a.columns:
            x, y = a[column], b[column]
            if x.dtype.is_numeric():
                gap = ((x.cast(pl.Float64) - y.cast(pl.Float64)).abs() / x.cast(pl.Float64).abs().clip(1.0, None)).max()
                if gap is not None and gap > 1e-6:
                    print(f"  {theirs.name}:{column} differs by {gap:.3g}")
                    bad += 1
            elif x.to_list() != y.to_list():
                print(f"  {theirs.name}:{column} text differs")
                bad += 1
    return bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 4_000_000])
    parser.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "toolkit-bench")
    parser.add_argument("--runs", type=Path, default=Path(tempfile.gettempdir()) / "toolkit-scale-runs")
    parser.add_argument("--baseline", type=Path, default=None, help="a saved run directory to compare tables with")
    parser.add_argument("--window-logs", type=int, nargs="+", default=[27, 31],
                        help="zstd window sizes (log2 bytes) to compress the dumps with")
    args = parser.parse_args()
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    results = {w: [run_size(cached_dump(args.cache_dir, n, 0, w), args.runs) for n in args.sizes]
               for w in args.window_logs}
    print("| zstd window | comments | buckets | wall s | load s | score s | analyses s | peak GB | decompression floor GB "
          "| above the floor GB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for w, rows in results.items():
        for r in rows:
            s = r["stages"]
            print(f"| {2**w / 2**20:,.0f} MiB | {r['rows']:,} | {r['buckets']} | {r['seconds']:.1f} | {s.get('load', 0):.1f} "
                  f"| {s.get('score', 0):.1f} | {s.get('analyses', 0):.1f} | {r['peak_gb']:.2f} | {r['floor_gb']:.2f} "
                  f"| {r['peak_gb'] - r['floor_gb']:.2f} |")
    print(f"floor: peak RSS of `{rows[0]['floor_command']} DUMP` (decompression alone); above the floor = peak - floor")
    for w, rows in results.items():
        small, large = rows[0], rows[-1]
        size = large["rows"] / small["rows"]
        above = [(r["peak_gb"] - r["floor_gb"]) for r in (small, large)]
        print(f"window {2**w / 2**20:,.0f} MiB, size x{size:.2f}: time x{large['seconds'] / small['seconds']:.2f} "
              f"(goal <= {1.125 * size:.1f}), peak x{large['peak_gb'] / small['peak_gb']:.2f} and {large['peak_gb']:.2f} "
              f"GB (goal <= 1.25x and < 1.5 GB); decompression floor {small['floor_gb']:.2f} -> {large['floor_gb']:.2f} "
              f"GB, peak above it {above[0]:.2f} -> {above[1]:.2f} GB: x{above[1] / above[0]:.2f} (goal <= 1.25x)")
        for r in rows:
            print(f"  {r['rows']:,} comments: peak RSS (MB) at the end of each stage {r['stage_peaks']}")
        if args.baseline is not None:
            print(f"  tables of {small['rows']:,} comments vs {args.baseline}: "
                  f"{same_tables(args.baseline, Path(small['run_dir']))} differences")
    (args.runs / "scale.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
