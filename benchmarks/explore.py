"""Explorer benchmark, measured in the browser: JupyterLab in headless Chromium (tests/lab_browser.py) opens the
explorer on one 3,000-comment thread and moves its threshold slider.

The thread: 3,000 comments hung by a seeded random recursive tree (each comment answers a uniformly chosen earlier
one), their texts the bundled real Reddit comments in turn, scored by the profanity scorer (a real scorer, no
download). Printed, each the median of its runs with the target beside it:

- ``open``: from the cell's run command to the 3,000 nodes drawn in the page (Python builds the widget, the
  kernel sends it, Plotly.js draws it), in a kernel that has opened an explorer before; and ``open, first in a
  fresh kernel``, which adds the one-time imports (Plotly, and through it nbformat and jsonschema); and with
  ``static_fallback=False`` (no static figure drawn after the widget is sent);
- ``recolour``: from the key press on the slider (Home / End: threshold 0 / 1, every node changes) to the
  tree's first change (the nodes faded in the browser); ``counts updated``: to the counts line's change (the
  kernel's answer); ``settled``: to the last change of the tree (the kernel's restyle, the same opacities);
- ``search``: from the Enter key in the search box (``author:user1``, 31 comments, then the empty search) to
  the counts' change: the kernel round trip with little to draw, for comparison.

    .venv/bin/python benchmarks/explore.py            # needs chromium and chromium-driver (.ci/browser/install.sh)
    .venv/bin/python benchmarks/explore.py --n 3000 --runs 5 --json /tmp/explore.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

TARGETS_MS = {"open": 2000.0, "recolour": 200.0}

SETUP_CELL = """
import numpy as np
import polars as pl

import toolkit
from toolkit import notebook as nb
from toolkit.schema import conform
from toolkit.scoring import score_frame
from toolkit.threads import build_tree

nb.setup()
N = {n}
pages = [toolkit.load(nb.data_path(p), format="reddit_page") for p in ("reddit_sample_57dw9a.json",
                                                                        "reddit_sample_1j7g9uj.json")]
texts = pl.concat([p.filter(~pl.col("is_post"))["text"] for p in pages]).drop_nulls().to_list()
rng = np.random.default_rng(0)
parents = [None, "c0"] + [f"c{{rng.integers(0, i)}}" for i in range(2, N + 1)]
frame = conform(pl.DataFrame({{
    "thread_id": ["big"] * (N + 1), "comment_id": [f"c{{i}}" for i in range(N + 1)], "parent_id": parents,
    "is_post": [True] + [False] * N, "author": [f"user{{i % 97}}" for i in range(N + 1)],
    "text": ["A thread of {n} comments"] + [texts[i % len(texts)] for i in range(N)],
    "removed": [False] * (N + 1), "deleted": [False] * (N + 1), "platform": ["reddit"] * (N + 1),
    "source_position": list(range(N + 1)),
}}))
scored = score_frame(build_tree(frame).frame, "profanity").frame
print(scored.height, "rows")
"""

EXPLORE_CELL = "nb.explore(scored, threshold=0.5)"
NO_FALLBACK_CELL = "nb.explore(scored, threshold=0.5, static_fallback=False)"


def write_notebook(folder: Path, n: int) -> Path:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}}
    nb.cells = [nbformat.v4.new_code_cell(SETUP_CELL.format(n=n).strip()), nbformat.v4.new_code_cell(EXPLORE_CELL),
                nbformat.v4.new_code_cell(NO_FALLBACK_CELL)]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "explore_benchmark.ipynb"
    nbformat.write(nb, path)
    return path


def measure(n: int, runs: int) -> dict[str, list[float]]:
    from lab_browser import LabPage, browser_missing, chromium, jupyter_lab
    from selenium.webdriver.common.keys import Keys

    missing = browser_missing()
    if missing:
        raise SystemExit(f"cannot run: {missing}")
    scratch = Path(tempfile.mkdtemp(prefix="explore-bench-"))
    path = write_notebook(scratch / "root", n)
    out: dict[str, list[float]] = {"open, first in a fresh kernel": [], "open": [],
                                   "open without the static fallback": [], "recolour": [],
                                   "counts updated": [], "settled (kernel's restyle)": [],
                                   "search (round trip, few marks)": []}
    with jupyter_lab(path.parent, scratch / "lab") as url:
        driver = chromium()
        try:
            page = LabPage(driver, url, path.name, timeout_s=300)
            for _ in range(max(1, runs // 2)):
                page.restart_and_run_until(1)
                out["open, first in a fresh kernel"].append(page.run_cell_until_tree(1, n + 1))
                page.wait_idle(2)
            for _ in range(runs):
                out["open"].append(page.run_cell_until_tree(1, n + 1))
                page.wait_idle(2)
                out["open without the static fallback"].append(page.run_cell_until_tree(2, n + 1))
                page.wait_idle(3)
            for i in range(2 * runs):
                timing = page.slider_key(Keys.HOME if i % 2 == 0 else Keys.END)
                out["recolour"].append(timing["recolour_ms"])
                out["counts updated"].append(timing["counts_ms"])
                out["settled (kernel's restyle)"].append(timing["settled_ms"])
            for _ in range(runs):
                for query in ("author:user1", ""):  # 31 comments ringed, then none
                    out["search (round trip, few marks)"].append(page.search(query)["counts_ms"])
        finally:
            driver.quit()
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="comments in the thread")
    parser.add_argument("--runs", type=int, default=5, help="opens and slider moves (each way) measured")
    parser.add_argument("--json", type=Path, help="also write the raw timings here")
    args = parser.parse_args(argv)
    timings = measure(args.n, args.runs)
    print(f"explorer in headless Chromium + JupyterLab, one thread of {args.n:,} comments (ms, median of runs)")
    print(f"{'step':32} {'median':>8} {'min':>8} {'max':>8} {'target':>8} {'target/median':>14}")
    for step, values in timings.items():
        target = TARGETS_MS.get(step.split(",")[0])
        median = statistics.median(values)
        ratio = f"{target / median:13.2f}x" if target else ""
        print(f"{step:32} {median:8.0f} {min(values):8.0f} {max(values):8.0f} "
              f"{target if target else '':>8} {ratio:>14}")
    if args.json:
        args.json.write_text(json.dumps({"n": args.n, "timings_ms": timings}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
