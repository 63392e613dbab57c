"""Figures: tree layout by hand, every drawer from its saved table, re-rendering, the toolkit-figures CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from helpers import REPO
from PIL import Image

from toolkit.analysis.agreement import ScorerAgreementOptions
from toolkit.analysis.crosswalk import CrosswalkOptions
from toolkit.analysis.registry import ANALYSES, AnalysisContext, AnalysisParams
from toolkit.analysis.synthetic import random_threads
from toolkit.cli.figures import main as figures_main
from toolkit.outputs import FigureSpec
from toolkit.plots.figures import DRAWERS, load_figure, render_run, save_figure
from toolkit.threads.layout import tree_layout


def test_tree_layout_by_hand() -> None:
    """R has children a (children a1, a2) and b: leaves a1, a2, b at 0, 1, 2; a over its children at 0.5;
    R over a and b at (0.5 + 2) / 2 = 1.25."""
    x, depth, parent, attached = tree_layout(["R", "a", "b", "a1", "a2"], [None, "R", "R", "a", "a"])
    assert x.tolist() == [1.25, 0.5, 2.0, 0.0, 1.0]
    assert depth.tolist() == [0, 1, 1, 2, 2] and parent.tolist() == [-1, 0, 0, 1, 1]
    assert not attached.any()


def test_tree_layout_children_in_time_order_and_missing_parents() -> None:
    """Children are ordered by ``order`` (b before a); a comment with no parent link (flat source) hangs
    from the root, as does a parent cycle (y <-> z), both flagged as attached."""
    ids = ["R", "a", "b", "f", "y", "z"]
    parents = [None, "R", "R", None, "z", "y"]
    x, depth, parent, attached = tree_layout(ids, parents, order=[0, 2, 1, 3, 4, 5])
    assert x[2] < x[1]  # b (earlier) left of a
    assert parent.tolist() == [-1, 0, 0, 0, 0, 0]
    assert attached.tolist() == [False, False, False, True, True, True]
    assert depth.tolist() == [0, 1, 1, 1, 1, 1]


def test_tree_layout_of_thousands_of_nodes_spaces_the_leaves() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    parents = [None] + [f"n{rng.integers(max(0, i - 50), i)}" for i in range(1, n)]
    x, depth, _, _ = tree_layout([f"n{i}" for i in range(n)], parents)
    leaves = np.sort(x[np.isin(np.arange(n), [int(p[1:]) for p in parents if p], invert=True)])
    assert leaves.tolist() == list(range(leaves.size))  # leaves evenly spaced, no two on one spot


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory holding one figure of each kind the analyses draw (low resolution, PNG only: fast)."""
    run = tmp_path_factory.mktemp("run")
    frame = random_threads(20, seed=5)
    kinds: set[str] = set()
    params = AnalysisParams(scorer_agreement=ScorerAgreementOptions(columns=["toxicity", "other"]),
                            crosswalk=CrosswalkOptions(reference="other"))
    for fn in ANALYSES.values():
        out = fn(frame, AnalysisContext(n_boot=30, params=params, footer="Scorer: test · n = 1"))
        for spec, table in out.figures:
            if spec.kind not in kinds:
                kinds.add(spec.kind)
                save_figure(table, spec, run / "figures", formats=("png",), dpi=40)
    return run


@pytest.mark.slow
def test_every_drawer_has_a_figure(run_dir: Path) -> None:
    kinds = {json.loads(p.read_text())["kind"] for p in (run_dir / "figures").glob("*.json")}
    assert kinds == set(DRAWERS)


@pytest.mark.slow
def test_rerender_with_width_style_and_formats(tmp_path: Path) -> None:
    """A run's figures redrawn from their saved tables alone: two columns wide, another style, PNG + PDF."""
    table = pl.DataFrame({"bin_low": [0.0, 0.5], "bin_high": [0.5, 1.0], "count": [3, 1]})
    for name in ("h1", "h2"):
        save_figure(table, FigureSpec(name, "histogram", name, "Scorer: x"), tmp_path / "figures", formats=("png",),
                    dpi=40)
    before = Image.open(tmp_path / "figures" / "h1.png").size
    paths = render_run(tmp_path, width="double", style="fast", formats=("png", "pdf"), dpi=40)
    assert sorted(p.name for p in paths) == ["h1.pdf", "h1.png", "h2.pdf", "h2.png"]
    after = Image.open(tmp_path / "figures" / "h1.png").size
    assert after[0] > 1.6 * before[0]
    assert (tmp_path / "figures" / "h1.pdf").read_bytes().startswith(b"%PDF")


@pytest.mark.slow
def test_saved_figure_is_300_dpi_png_and_pdf_and_repeatable(tmp_path: Path) -> None:
    table = pl.DataFrame({"bin_low": [0.0, 0.5], "bin_high": [0.5, 1.0], "count": [3, 1]})
    spec = FigureSpec("hist", "histogram", "Histogram", "Scorer: x · n = 4", {"threshold": 0.5})
    paths = save_figure(table, spec, tmp_path)
    assert sorted(p.suffix for p in paths) == [".csv", ".json", ".pdf", ".png"]
    png = Image.open(tmp_path / "hist.png")
    assert round(png.info["dpi"][0]) == 300
    first = {p.suffix: p.read_bytes() for p in paths}
    second = {p.suffix: p.read_bytes() for p in save_figure(table, spec, tmp_path)}
    assert first == second  # no timestamps in the files: same table and style, same bytes


def test_text_columns_stay_text(tmp_path: Path) -> None:
    table = pl.DataFrame({"comment_id": ["007", "1"], "parent_id": [None, "007"], "is_post": [True, False],
                          "position": [0, 1], "score": [0.1, None], "removed": [False, True],
                          "deleted": [False, False]})
    save_figure(table, FigureSpec("tree", "thread_tree", "t", "f"), tmp_path, formats=("png",), dpi=30)
    _, loaded = load_figure(tmp_path, "tree")
    assert loaded["comment_id"].to_list() == ["007", "1"] and loaded["parent_id"].dtype == pl.String


@pytest.mark.slow
def test_toolkit_figures_cli(run_dir: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert figures_main([str(run_dir), "--formats", "png", "--dpi", "30", "--only", "thread_tree"]) == 0
    out = capsys.readouterr()
    assert out.out.strip().endswith("thread_tree.png") and "redrawn" in out.err
    assert figures_main([str(run_dir), "--width", "huge"]) == 2
    assert figures_main([str(tmp_path / "nowhere")]) == 1
    assert "no figures directory" in capsys.readouterr().err


def test_drawing_leaves_matplotlib_global_state_alone(tmp_path: Path) -> None:
    """A one-panel figure, a tree (figure built apart, with a colour bar) and another style: rcParams (backend
    included) as before and no figure left open in pyplot."""
    import matplotlib
    import matplotlib.pyplot as plt

    before, open_before = dict(matplotlib.rcParams), plt.get_fignums()
    histogram = pl.DataFrame({"bin_low": [0.0, 0.5], "bin_high": [0.5, 1.0], "count": [3, 1]})
    save_figure(histogram, FigureSpec("h", "histogram", "h", "f"), tmp_path, formats=("png",), dpi=20, style="fast")
    tree = pl.DataFrame({"comment_id": ["p", "a"], "parent_id": [None, "p"], "is_post": [True, False],
                         "position": [0, 1], "score": [0.1, 0.9], "removed": [False, True], "deleted": [False, False]})
    save_figure(tree, FigureSpec("t", "thread_tree", "t", "f"), tmp_path, formats=("png",), dpi=20)
    assert dict(matplotlib.rcParams) == before and plt.get_fignums() == open_before


@pytest.mark.slow
def test_importing_and_drawing_selects_no_backend(tmp_path: Path) -> None:
    """A fresh interpreter with no MPLBACKEND: drawing and saving neither imports pyplot nor picks a backend,
    so a notebook's (or GUI's) backend choice is still open afterwards."""
    script = (
        "import sys, matplotlib, polars as pl\n"
        "from matplotlib import rcsetup\n"
        "from toolkit.outputs import FigureSpec\n"
        "from toolkit.plots.figures import save_figure\n"
        "table = pl.DataFrame({'bin_low': [0.0, 0.5], 'bin_high': [0.5, 1.0], 'count': [3, 1]})\n"
        f"save_figure(table, FigureSpec('h', 'histogram', 'h', 'f'), {str(tmp_path)!r}, dpi=20)\n"
        "print('matplotlib.pyplot' in sys.modules, "
        "matplotlib.rcParams._get('backend') is rcsetup._auto_backend_sentinel)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
    assert (tmp_path / "h.png").stat().st_size > 0 and (tmp_path / "h.pdf").stat().st_size > 0
