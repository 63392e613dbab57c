"""The notebooks: committed without outputs, in sync with notebooks/build_notebooks.py, and each one runs top
to bottom offline (nbclient, a kernel on this interpreter, the notebook's folder as working directory)."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.notebooks

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = ["01_explore_thread", "02_reproduce_figures", "03_validate_scorer", "04_explore_interactively"]

# Injected after each notebook's `parameters` cell: offline scorer (never a model download in CI), few
# bootstrap replicates.
PARAMETERS: dict[str, dict[str, object]] = {
    "01_explore_thread": {"SCORER": "profanity", "N_BOOT": 50},
    "02_reproduce_figures": {"SCORER": "profanity", "N_BOOT": 50},
    "03_validate_scorer": {"SCORER": "profanity", "N_BOOT": 50},
    "04_explore_interactively": {"SCORER": "profanity"},
}
CELL_TIMEOUT_S = 300


def _builder():
    spec = importlib.util.spec_from_file_location("build_notebooks", NOTEBOOK_DIR / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_the_notebooks_exist() -> None:
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, (f"{path.name}: cells {dirty} have outputs or execution counts; "
                       "rewrite it with .venv/bin/python notebooks/build_notebooks.py")
    assert nb.metadata["kernelspec"]["name"] == "python3"  # Jupyter's standard kernel: runs anywhere
    assert sum("parameters" in c.metadata.get("tags", []) for c in nb.cells) == 1


def test_notebooks_match_their_generator() -> None:
    built = _builder().build()
    assert sorted(p.name for p in built) == [p.name for p in NOTEBOOKS]
    stale = [p.name for p, text in built.items() if p.read_text() != text]
    assert not stale, f"{stale} differ from notebooks/build_notebooks.py; run it and commit the result"


def inject_parameters(nb: nbformat.NotebookNode, values: dict[str, object]) -> nbformat.NotebookNode:
    """A cell setting ``values`` after the cell tagged ``parameters`` (as papermill does)."""
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    source = "\n".join(f"{k} = {v!r}" for k, v in values.items())
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    cell.id = "injected-parameters"
    nb.cells.insert(index + 1, cell)
    return nb


def kernel_env(tmp: Path) -> dict[str, str]:
    """This process' environment for the kernel: a kernelspec running this interpreter, the repository first
    on the path (the checkout under test, whatever is installed), matplotlib's inline backend allowed."""
    kernels = tmp / "jupyter" / "kernels" / "toolkit-test"
    kernels.mkdir(parents=True, exist_ok=True)
    (kernels / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "toolkit (tests)", "language": "python",
    }))
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # conftest sets Agg for the tests
    env["JUPYTER_PATH"] = os.pathsep.join([str(tmp / "jupyter"), *filter(None, [env.get("JUPYTER_PATH")])])
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


def execute(path: Path, tmp: Path, parameters: dict[str, object] | None = None) -> nbformat.NotebookNode:
    """Run a notebook top to bottom in a fresh kernel; raises nbclient's CellExecutionError on any error."""
    nb = nbformat.read(path, as_version=4)
    if parameters:
        inject_parameters(nb, parameters)
    env = kernel_env(tmp)
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = env["JUPYTER_PATH"]  # where this process finds the kernelspec
    try:
        client = NotebookClient(nb, kernel_name="toolkit-test", timeout=CELL_TIMEOUT_S, startup_timeout=120,
                                resources={"metadata": {"path": str(path.parent)}})
        client.execute(env=env)
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = saved
    return nb


def _outputs(nb: nbformat.NotebookNode, kind: str) -> list[dict]:
    return [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if kind in o.get("data", {})]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_offline(path: Path, tmp_path: Path) -> None:
    nb = execute(path, tmp_path, PARAMETERS.get(path.stem))
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    images = _outputs(nb, "image/png")
    assert images, f"{path.name}: no inline figure"
    if path.stem == "01_explore_thread":
        # the thread-tree figures render inline, as images, not as '<Figure size ...>' text
        tree_cells = [c for c in nb.cells if c.cell_type == "code" and "draw_thread_tree" in c.source]
        assert len(tree_cells) == 2
        for cell in tree_cells:
            assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.source
        text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
        assert "● comment" in text and "↑ parent" in text  # the most toxic comments, with context
        assert "scorer: profanity" in text
    if path.stem == "02_reproduce_figures":
        assert _outputs(nb, "text/html"), "no tables / side-by-side figures"
    if path.stem == "04_explore_interactively":
        check_explorer_notebook(nb)


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def check_explorer_notebook(nb: nbformat.NotebookNode) -> None:
    """The explorer cell shows the widget, with the static tree as its PNG fallback; nbconvert's HTML of the
    notebook as JupyterLab saves it (no widget state) shows that figure, not an empty widget."""
    from nbconvert import HTMLExporter

    cell = next(c for c in nb.cells if c.cell_type == "code" and "nb.explore(scored" in c.source)
    bundles = [o["data"] for o in cell.outputs if "data" in o]
    assert len(bundles) == 2 and all(WIDGET_VIEW in b for b in bundles)  # the explorer, a hidden widget
    assert bundles[0]["text/plain"].startswith("Explorer(thread '57dw9a', 146 nodes, 2 threads")
    assert "image/png" not in bundles[0] and "image/png" in bundles[1]
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "● comment" in text and "with toxicity ≥ 0.50" in text and "with toxicity ≥ 0.20" in text
    saved = nbformat.from_dict(nb)
    saved.metadata.pop("widgets", None)  # JupyterLab does not save widget state by default
    html, _ = HTMLExporter().from_notebook_node(saved)
    png = bundles[1]["image/png"].strip()
    assert f"data:image/png;base64,{png}" in html.replace("\n", "")
    assert f'<script type="{WIDGET_VIEW}">' not in html  # no empty widget placeholder
    assert "Explorer(thread" in html  # the widget's output as text, above the figure


# ------------------------------------------------------------------------------ toolkit.notebook helpers


@pytest.fixture(scope="module")
def small_thread():
    """A post, two top-level comments, replies at depth 2 and 3, one removed and one deleted comment."""
    import polars as pl

    from toolkit.threads import build_tree

    rows = [  # comment_id, parent_id, text, removed, deleted, toxicity
        ("p", None, "the post", False, False, 0.1),
        ("a", "p", "first", False, False, 0.2),
        ("b", "p", None, True, False, None),
        ("a1", "a", "you idiot", False, False, 0.9),
        ("a2", "a", "calm reply", False, False, 0.05),
        ("a11", "a1", None, False, True, None),
        ("b1", "b", "reply to removed", False, False, 0.4),
    ]
    frame = pl.DataFrame({
        "thread_id": ["t"] * len(rows), "comment_id": [r[0] for r in rows], "parent_id": [r[1] for r in rows],
        "is_post": [r[0] == "p" for r in rows], "author": ["u"] * len(rows), "text": [r[2] for r in rows],
        "removed": [r[3] for r in rows], "deleted": [r[4] for r in rows], "platform": ["test"] * len(rows),
        "source_position": list(range(len(rows))),
    })
    from toolkit.schema import conform

    tree = build_tree(conform(frame)).frame
    return tree.with_columns(toxicity=pl.Series([r[5] for r in rows], dtype=pl.Float64))


def test_context_parent_comment_replies(small_thread) -> None:
    from toolkit import notebook as nb

    ctx = nb.context(small_thread, "a1")
    assert ctx["role"].to_list() == ["parent", "comment", "reply"]
    assert ctx["comment_id"].to_list() == ["a", "a1", "a11"]
    assert ctx.columns[0] == "role" and "toxicity" in ctx.columns and ctx.columns[-1] == "text"
    top_level = nb.context(small_thread, "a")
    assert top_level["comment_id"].to_list() == ["p", "a", "a1", "a2"]
    with pytest.raises(KeyError):
        nb.context(small_thread, "nope")


def test_context_around_for_flat_comments(small_thread) -> None:
    import polars as pl

    from toolkit import notebook as nb

    flat = small_thread.with_columns(parent_id=pl.lit(None, pl.String))
    ctx = nb.context(flat, "a1")  # no parent known: one neighbour each side in page order
    assert ctx.select("role", "comment_id").rows() == [("before", "b"), ("comment", "a1"), ("after", "a2")]
    assert nb.context(small_thread, "a1", around=1)["role"].to_list() == ["parent", "before", "comment", "reply",
                                                                          "after"]


def test_most_toxic_with_context_and_text(small_thread) -> None:
    from toolkit import notebook as nb

    top = nb.most_toxic(small_thread, n=2)
    assert top["comment_id"].to_list() == ["a1", "b1"]  # the post and unscored rows are left out
    table = nb.most_toxic_with_context(small_thread, n=2)
    assert table.select("rank", "role", "comment_id").rows() == [
        (1, "parent", "a"), (1, "comment", "a1"), (1, "reply", "a11"),
        (2, "parent", "b"), (2, "comment", "b1"),
    ]
    text = nb.format_context(table)
    assert "#1" in text and "#2" in text and "0.900" in text
    assert "[removed]: (no text)" in text and "[deleted]: (no text)" in text
    assert nb.most_toxic_with_context(small_thread.head(1), n=3).height == 0


def test_filter_view_and_shorten(small_thread) -> None:
    import polars as pl

    from toolkit import notebook as nb

    assert nb.filter_comments(small_thread, min_depth=2)["comment_id"].to_list() == ["a1", "a2", "a11", "b1"]
    assert nb.filter_comments(small_thread, max_depth=1, removed=False)["comment_id"].to_list() == ["a"]
    assert nb.filter_comments(small_thread, has_text=False)["comment_id"].to_list() == ["b", "a11"]
    assert nb.filter_comments(small_thread, max_depth=0, include_post=True)["comment_id"].to_list() == ["p"]
    shown = nb.view(small_thread)
    assert shown.columns == ["comment_id", "parent_id", "reply_depth", "author", "removed", "deleted", "toxicity",
                             "text"]
    short = pl.DataFrame({"text": ["a  b\n c " + "x" * 100, None]}).select(nb.shorten("text", 10))["text"]
    assert short.to_list() == ["a b c xxx…", None]


def test_thread_tree_figure_and_side_by_side(small_thread) -> None:
    from toolkit import notebook as nb
    from toolkit.errors import ConfigError

    fig = nb.draw_thread_tree(small_thread)
    assert fig.axes[0].get_title() == "Thread t as a tree"
    html = nb.side_by_side([fig, fig], titles=["a", "b"])._repr_html_()
    assert html.count("data:image/png;base64,") == 2 and ">a<" in html
    with pytest.raises(ConfigError, match="label: no score column 'toxicity'; score the frame first"):
        nb.draw_thread_tree(small_thread.drop("toxicity"))


def test_run_directory_helpers(tmp_path: Path, small_thread) -> None:
    from toolkit import notebook as nb
    from toolkit.analysis.distribution import score_distribution
    from toolkit.errors import LoadError
    from toolkit.plots.base import figure_width
    from toolkit.plots.figures import FigureSpec, save_figure

    runs = []
    for name, threshold in (("a", 0.5), ("b", 0.3)):
        run = tmp_path / name
        (run / "tables").mkdir(parents=True)
        (run / "manifest.json").write_text(json.dumps({
            "experiment": "demo", "config": {"analysis": {"threshold": threshold, "run": ["x"]}},
            "scorer": {"scorer": "profanity"}, "counts": {"rows_kept": 7},
        }))
        nb.view(small_thread, ["comment_id", "toxicity"]).write_csv(run / "tables" / "scores.csv")
        spec = FigureSpec("hist", "histogram", "Scores", "footer", {"label": "toxicity", "threshold": threshold})
        save_figure(score_distribution(small_thread, bins=5), spec, run / "figures", formats=("png",), dpi=50)
        runs.append(run)
    assert nb.compare_manifests(runs, names=["a", "b"]).rows() == [("config.analysis.threshold", "0.5", "0.3")]
    summary = dict(nb.manifest_summary(runs[0]).rows())
    assert summary["scorer"] == "profanity" and summary["threshold"] == "0.5"
    stacked = nb.compare_tables(runs, "scores", names=["a", "b"])
    assert stacked.height == 2 * small_thread.height and stacked.columns[0] == "run"
    joined = nb.compare_tables(runs, "scores", names=["a", "b"], on=["comment_id"])
    assert joined.columns == ["comment_id", "toxicity_a", "text_a", "toxicity_b", "text_b"]
    assert joined.height == small_thread.height
    assert nb.figure_names(runs[0]) == ["hist"]
    before = (runs[0] / "figures" / "hist.png").read_bytes()
    redrawn = nb.figure_from_run(runs[0], "hist", style="ggplot", width="double")
    assert (redrawn.get_size_inches()[0], redrawn.axes[0].get_title()) == (figure_width("double"), "Scores")
    assert (runs[0] / "figures" / "hist.png").read_bytes() == before  # nothing rewritten
    with pytest.raises(LoadError, match=r"missing.csv: no such table; this run has \['scores'\]"):
        nb.run_table(runs[0], "missing")
