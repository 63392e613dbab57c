"""Write the project's notebooks from this script, so that they are reviewed as code and stay reproducible.

    .venv/bin/python notebooks/build_notebooks.py          # (re)write notebooks/*.ipynb, without outputs
    .venv/bin/python notebooks/build_notebooks.py --check  # exit 1 if a notebook differs from this script

Edit the cells here, not in JupyterLab (or copy what you changed back here): tests/test_notebooks.py fails
when a committed notebook differs from what this script writes, or has outputs. Each notebook has one cell
tagged ``parameters`` (papermill's convention); the tests inject a cell after it to run offline and fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.notebooknode import NotebookNode

HERE = Path(__file__).resolve().parent
# Jupyter's standard kernel, so nbconvert, VS Code and JupyterHub run them; `make lab` offers "Python (toolkit)" too.
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def _md(text: str) -> tuple[str, str]:
    return ("markdown", text.strip("\n"))


def _code(text: str) -> tuple[str, str]:
    return ("code", text.strip("\n"))


def _params(text: str) -> tuple[str, str]:
    return ("parameters", text.strip("\n"))


def notebook(stem: str, cells: list[tuple[str, str]]) -> NotebookNode:
    """A notebook with stable cell ids (``<stem>-<n>``), the project's kernel and no outputs."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": dict(KERNELSPEC), "language_info": {"name": "python"}}
    for i, (kind, source) in enumerate(cells):
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(source)
        else:
            cell = nbformat.v4.new_code_cell(source)
            if kind == "parameters":
                cell.metadata["tags"] = ["parameters"]
        cell.id = f"{stem.split('_')[0]}-{i:02d}"
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


SETUP = """
import warnings

import polars as pl

import toolkit
from toolkit import notebook as nb

nb.setup()  # readable tables (long text, 3 decimals), matplotlib inline
"""

EXPLORE = [
    _md("""
# 01 · Explore a thread

Load a thread into the canonical comment frame, look at it, score it, draw it as a tree, read the most toxic
comments in their context, and slice by depth and removal. Everything here is the library's public API
(`toolkit.load`, `toolkit.score`, `toolkit.depth_profile`, ...) plus the display helpers of `toolkit.notebook`.

Runs offline: with `SCORER = "auto"` the toolkit uses Detoxify when its weights are on this machine (or can be
downloaded) and otherwise the embedded profanity scorer, with a warning saying why.
"""),
    _params("""
SCORER = "auto"  # "auto", "detoxify" or "profanity"
N_TOP = 5  # how many of the most toxic comments to list
N_BOOT = 500  # bootstrap replicates for confidence intervals
"""),
    _code(SETUP),
    _md("""
## Two threads

`data/seed_thread.txt` is the Lemmy news thread the project started from: plain text, one comment per line,
no reply links (every comment is `structure == "flat"` at depth 1); the "Removed by mod" lines are comments
removed by a moderator, so their text is null and `removed` is true. `load_with_report` also returns what was
rejected while loading (nothing, here).
"""),
    _code("""
seed, report = toolkit.load_with_report(nb.data_path("seed_thread.txt"), format="text", post_lines=6)
print(f"{seed.height} rows kept, {report.rejects.height} rejected")
seed.head(6)
"""),
    _md("""
`data/reddit_sample_57dw9a.json` is a real Reddit API comment page (an AMA) with nested replies, so the tree
columns are filled in: `reply_depth`, `root_id`, `n_replies`, `subtree_size`, `parent_removed`. `nb.view` shows
the columns one reads (ids, depth, author, flags, scores, one line of text).
"""),
    _code("""
reddit = toolkit.load(nb.data_path("reddit_sample_57dw9a.json"), format="reddit_page")
print(reddit.height, "rows;", dict(reddit["structure"].value_counts().iter_rows()))
nb.view(reddit).head(8)
"""),
    _code("""
reddit.group_by("reply_depth").agg(
    comments=pl.len(), deleted=pl.col("deleted").sum(), replies=pl.col("n_replies").sum()
).sort("reply_depth")
"""),
    _md("""
## Score

`toolkit.score` adds one column per label (`toxicity`, plus Detoxify's other labels when Detoxify is used).
Comments without text get null scores, never 0. Scores are cached on disk, so a second run scores nothing.
"""),
    _code("""
scored, report = toolkit.score_with_report(reddit, SCORER)  # toolkit.score, and what scored it
print("scorer:", report.caption(), "| labels:", report.labels)
print(f"{report.n_texts} texts, {report.cache_hits} from the cache, {report.cache_misses} scored now")
seed_scored = toolkit.score(seed, scorer=report.scorer)  # the same scorer for the demo thread
toolkit.score_distribution(scored, bins=10)
"""),
    _md("""
## The thread as a tree

Depth runs down the page, each node is a comment coloured by its score, the post is the square at the top;
removed comments are marked with a cross, deleted ones circled, comments without text are white.
"""),
    _code("""
nb.draw_thread_tree(scored)
"""),
    _md("""
The demo thread has no reply links, so every comment hangs from the post (dotted: parent unknown); its three
removed comments carry the crosses.
"""),
    _code("""
nb.draw_thread_tree(seed_scored)
"""),
    _md("""
## The most toxic comments, in context

Each comment with its parent above and its direct replies below. In a flat thread the parent is unknown, so
the neighbouring comments in page order are shown instead (`before` / `after`).
"""),
    _code("""
top = nb.most_toxic_with_context(scored, n=N_TOP)
print(nb.format_context(top))
"""),
    _code("""
top  # the same rows as a table
"""),
    _code("""
answered = scored.filter(~pl.col("is_post") & (pl.col("n_replies") > 0)).sort("toxicity", descending=True,
                                                                             nulls_last=True)
nb.context(scored, answered["comment_id"][0])  # the most toxic comment that got replies, and its replies
"""),
    _code("""
print(nb.format_context(nb.most_toxic_with_context(seed_scored, n=3)))
"""),
    _md("""
## Slice by depth and removal

`nb.filter_comments` is a shorthand for the usual Polars filters (`scored.filter(pl.col("reply_depth") >= 5)`
does the same); the frames stay ordinary Polars frames.
"""),
    _code("""
deep = nb.filter_comments(scored, min_depth=5)
print(f"{deep.height} comments at depth >= 5, mean toxicity {deep['toxicity'].mean():.3f} "
      f"vs {nb.filter_comments(scored, max_depth=4)['toxicity'].mean():.3f} above")
nb.view(deep).head(5)
"""),
    _code("""
profile = toolkit.depth_profile(scored, n_boot=N_BOOT)  # mean score and share above the threshold per depth
print("CIs:", profile["ci_method"][0])
profile.drop("ci_method")
"""),
    _code("""
removed = nb.filter_comments(seed_scored, removed=True)
print(f"{removed.height} removed comments in the demo thread; what was around them:")
print(nb.format_context(nb.contexts(seed_scored, removed["comment_id"], around=1)))
"""),
    _code("""
nb.filter_comments(scored, deleted=True).pipe(nb.view)  # deleted by their authors: no text, no score
"""),
    _md("""
Next: `02_reproduce_figures.ipynb` runs this as a configured experiment and works with its run directory.
"""),
]

REPRODUCE = [
    _md("""
# 02 · Reproduce and compare runs

An experiment is a composed Hydra config (`conf/` + `experiments/`) turned into typed settings and run by
`nb.run`, exactly what the `toolkit` command does. This notebook runs two variants of
the demo experiment into a temporary folder, opens a run directory, reads its manifest, redraws its figures in
another style and size, and puts the two runs side by side.

The same runs from a shell: `.venv/bin/toolkit scorer=profanity analysis.threshold=0.3 hydra.run.dir=/tmp/run`.
"""),
    _params("""
SCORER = "auto"  # for both runs; compare scorers by putting scorer=... into RUNS instead
N_BOOT = 200  # bootstrap replicates (raise for the paper)
# the Reddit sample (conf/dataset/reddit_sample.yaml) from its bundled copy; [] = the demo thread
DATASET = ["dataset=reddit_sample", "dataset.path=data/reddit_sample_57dw9a.json"]
RUNS = {  # name -> Hydra overrides on top of the default experiment
    "threshold 0.5": ["analysis.threshold=0.5"],
    "threshold 0.3": ["analysis.threshold=0.3"],
}
# e.g. two scorers, when Detoxify's weights are available:
# RUNS = {"detoxify": ["scorer=detoxify"], "profanity": ["scorer=profanity"]}
"""),
    _code(SETUP + """
import shutil
import tempfile
from pathlib import Path

from IPython.display import Image, display
"""),
    _md("""
## Compose and run

`nb.run` builds the same config as the command line would (defaults, experiment file, overrides), checks it
against the typed schemas and runs it into a directory; `nb.settings` shows the typed settings it ran. PNG only at 150 dpi keeps this quick
(the paper style writes PNG at 300 dpi and PDF).
"""),
    _code("""
common = [f"scorer={SCORER}", f"analysis.n_boot={N_BOOT}", "plot.formats=[png]", "plot.dpi=150", *DATASET]
root = Path(tempfile.mkdtemp(prefix="toolkit-runs-"))
run_dirs = {}
for name, overrides in RUNS.items():
    run_dirs[name] = root / name.replace(" ", "_")
    manifest = nb.run(common + overrides, run_dirs[name])
    print(f"{name}: {run_dirs[name]} ({manifest['wall_seconds']} s, scorer {manifest['scorer']['scorer']})")
print(nb.settings(common).dataset)
"""),
    _md("""
## Open a run directory

`manifest.json` records what produced the run: the resolved config, input file hashes, loader statistics,
counts, the scorer actually used (and why, if `auto` fell back), package versions, git commit, timings, outputs.
"""),
    _code("""
run = run_dirs[next(iter(RUNS))]
print(sorted(p.name for p in run.iterdir()))
for sub in ("tables", "figures"):
    files = sorted((run / sub).iterdir())
    print(f"{sub}/ ({', '.join(sorted({p.suffix for p in files}))}):", sorted({p.stem for p in files}))
"""),
    _code("""
manifest = nb.read_manifest(run)
nb.manifest_summary(manifest)
"""),
    _code("""
print(sorted(manifest))
manifest["scorer"]
"""),
    _code("""
comments = pl.read_parquet(run / "comments.parquet")  # the scored frame the analyses saw
nb.view(comments).head(5)
"""),
    _md("""
## The saved figures, and re-rendered

Every figure is saved with its data table (CSV) and spec (JSON), so it can be redrawn without the data or the
model: `nb.figure_from_run` draws one in memory with another style or width; `nb.render_run` rewrites all of a
run's figure files (here on a copy, so the original run stays as it was).
"""),
    _code("""
names = nb.figure_names(run)
print(names)
display(Image(filename=str(run / "figures" / f"{names[0]}.png"), width=420))
"""),
    _code("""
nb.figure_from_run(run, names[0], style="ggplot", width="double")
"""),
    _code("""
copy = root / "restyled"
shutil.copytree(run, copy, dirs_exist_ok=True)
written = nb.render_run(copy, style="seaborn-v0_8-colorblind", width="double", formats=("png",), dpi=100)
print(len(written), "files rewritten, e.g.", written[0].relative_to(root))
Image(filename=str(written[0]), width=640)
"""),
    _md("""
## Two runs side by side

What differs between the runs (config, scorer, counts), the same table from both, and each figure whose data
differs next to its counterpart.
"""),
    _code("""
nb.compare_manifests(list(run_dirs.values()), names=list(run_dirs))
"""),
    _code("""
tables = sorted(p.stem for p in (run / "tables").glob("*.csv"))
print(tables)
if "depth_profile" in tables:  # joined on the depth bin: each run's columns side by side
    joined = nb.compare_tables(list(run_dirs.values()), "depth_profile", names=list(run_dirs), on=["depth_bin"])
    display(joined.select("depth_bin", pl.col("^(mean|share_above)_.*$")))
else:  # stacked, with a run column
    display(nb.compare_tables(list(run_dirs.values()), tables[0], names=list(run_dirs)))
"""),
    _code("""
shared = [n for n in names if all((d / "figures" / f"{n}.json").exists() for d in run_dirs.values())]
differ = [n for n in shared if len({(d / "figures" / f"{n}.csv").read_bytes() for d in run_dirs.values()}) > 1]
print("same data in every run:", sorted(set(shared) - set(differ)))
for name in differ:
    display(nb.side_by_side([nb.figure_from_run(d, name) for d in run_dirs.values()], titles=list(run_dirs)))
"""),
]

VALIDATE = [
    _md("""
# 03 · Validate the scorer against human labels

`data/toxic_spans_labelled.csv`: 16,100 Civil Comments, each judged by annotators (ToxicSpans, CC0); `toxic` is
the majority label (see `conf/dataset/toxic_spans.yaml` and `data/build_toxic_spans.py`). How well does the
scorer's toxicity separate what people called toxic (ROC and PR AUC), how good is the threshold, and are its
scores calibrated? The same analysis as the experiment `toolkit +experiment=validate_scorer scorer=profanity`.

With `SCORER = "auto"` this validates Detoxify when its weights are available (16,100 texts take a few minutes
on a CPU the first time; scores are cached) and otherwise the embedded profanity scorer.
"""),
    _params("""
SCORER = "auto"
SAMPLE = None  # e.g. 2000 for a quick look at a random subset; None = all rows
THRESHOLD = 0.5
N_BOOT = 200  # bootstrap replicates (raise for the paper)
"""),
    _code(SETUP + """
from IPython.display import display
"""),
    _md("""
## Load the labelled set with the dataset config

The same config a run would use (`dataset=toxic_spans`): the loader options come from the YAML file.
"""),
    _code("""
dataset = nb.settings(["dataset=toxic_spans"]).dataset
print(dataset)
labelled, report = nb.load_dataset(dataset)
# the loader keeps extra columns as text: the majority label as a boolean, the counts as integers
labelled = labelled.with_columns(
    pl.col("toxic").cast(pl.String).str.to_lowercase() == "true",
    pl.col("n_annotators", "n_toxic", "n_all_toxic").cast(pl.Int64),
)
if SAMPLE:
    labelled = labelled.sample(SAMPLE, seed=0)
print(f"{labelled.height} comments, {report.rejects.height} rejected; {labelled['toxic'].mean():.1%} toxic by majority")
nb.view(labelled, ["comment_id", "n_annotators", "n_toxic", "toxic"]).head(5)
"""),
    _md("""
## Score
"""),
    _code("""
scored, score_report = toolkit.score_with_report(labelled, SCORER)
labels = score_report.labels
print("scorer:", score_report.caption(), "| labels:", labels)
scored.group_by("n_toxic").agg(n=pl.len(), **{label: pl.col(label).mean() for label in labels}).sort("n_toxic")
"""),
    _md("""
## Validation metrics

ROC AUC and PR AUC, precision/recall/F1 at the threshold, Brier score and expected calibration error, with
bootstrap CIs. The comments are independent (one flat "thread"), so the bootstrap resamples comments.
"""),
    _code("""
validation = nb.run_analysis(  # truth: the 'toxic' column (the default)
    "scorer_validation", scored, label=labels[0], threshold=THRESHOLD, n_boot=N_BOOT, seed=0, labels=labels,
    footer=f"Scorer: {score_report.caption()} · ToxicSpans (Civil Comments), n = {scored.height:,}")
print(sorted(validation.tables))
validation.tables["scorer_validation"]
"""),
    _code("""
for spec, table in validation.figures:
    display(nb.draw_figure(spec, table))
"""),
    _code("""
validation.tables["validation_calibration"]
"""),
    _md("""
## Where the scorer and the annotators disagree

High scores on comments the annotators did not call toxic, and low scores on comments they did.
"""),
    _code("""
label = labels[0]
false_alarms = scored.filter(~pl.col("toxic")).sort(label, descending=True, nulls_last=True)
misses = scored.filter(pl.col("toxic") & (pl.col("n_toxic") == pl.col("n_annotators"))).sort(label, nulls_last=True)
print("Scored toxic, but not by the annotators:")
display(nb.view(false_alarms, ["comment_id", "n_toxic", label]).head(5))
print("Every annotator said toxic, the scorer did not:")
nb.view(misses, ["comment_id", "n_toxic", label]).head(5)
"""),
]

EXPLORE_INTERACTIVELY = [
    _md("""
# 04 · Explore threads interactively

`nb.explore(frame)` (or `nb.explore(run_dir)`) opens one widget to read scored, moderated threads as a tree and
as text at once:

- **threads** (left): every thread with its size (`c`), deepest reply (`d`), toxic share, removals (`r`) and
  deletions (`d`); sort by any of them, filter by id or title, pick one to show;
- **the tree**: the static thread tree's layout, nodes coloured by the chosen score column (`colour by`: every
  scorer the frame has), the post a square, removed comments crossed, deleted ones ringed; hover a node for its
  author, depth, scores and first line; **click** it to read the whole comment with its parent and replies;
- **threshold**: nodes below it fade, the counts above the tree follow; **search** rings the comments whose text
  or author matches (`author:NAME` for an author only);
- **table** (below right): the clicked comment's sub-thread (or a box/lasso selection), linked both ways with the
  tree: pick a row to read it and mark it in the tree;
- **export**: the current view as the paper-style figure (PNG, PDF, redrawable by `toolkit-figures`) and the
  selection as a CSV; `explorer.selection_frame()` gives it as a Polars frame.

In a notebook exported with `nbconvert` (or any front end without widgets) the cell shows the static thread tree.
"""),
    _params("""
SCORER = "auto"  # "auto", "detoxify" or "profanity"
PAGES = ["reddit_sample_57dw9a.json", "reddit_sample_1j7g9uj.json"]  # bundled real Reddit comment pages
THRESHOLD = 0.5  # the slider's start
"""),
    _code(SETUP + """
import tempfile
from pathlib import Path

from IPython.display import Image, display
"""),
    _md("""
## Two real threads, scored twice

The bundled Reddit API pages: an AMA with 145 comments in nested replies and a smaller test thread. Two scorers
give the tree two colourings to switch between: toxicity (`SCORER`) and politeness (no download needed).
"""),
    _code("""
threads = pl.concat([toolkit.load(nb.data_path(page), format="reddit_page") for page in PAGES], how="diagonal_relaxed")
toxicity, report = toolkit.score_with_report(threads, SCORER)
scored = toolkit.score(toxicity, scorer="politeness")
print("scorer:", report.caption(), "| politeness added:", "politeness" in scored.columns)
print(threads.height, "rows in", threads["thread_id"].n_unique(), "threads")
"""),
    _md("""
## The explorer

Click a node, move the threshold, type a word in the search box, pick another thread on the left.
"""),
    _code("""
export_dir = Path(tempfile.mkdtemp(prefix="toolkit-explore-"))
explorer = nb.explore(scored, threshold=THRESHOLD, export_dir=export_dir)
explorer
"""),
    _md("""
## The same from code

Every control has a method (`click_comment`, `set_threshold`, `set_search`, `show_thread`, `select`,
`export_figure`, `export_selection`), and `explorer.state` holds what is shown, so a view can be scripted and
reproduced. Here: the most toxic comment that got replies, its sub-thread and the counts at a lower threshold.
"""),
    _code("""
answered = scored.filter(~pl.col("is_post") & (pl.col("n_replies") > 0)).sort("toxicity", descending=True, nulls_last=True)
explorer.click_comment(answered["comment_id"][0])
print(nb.format_context(explorer.state.detail().with_columns(rank=pl.lit(1))))
explorer.state.table()
"""),
    _code("""
for threshold in (THRESHOLD, 0.2):
    explorer.set_threshold(threshold)
    print(explorer.counts.value.removeprefix("<b>").removesuffix("</b>"))
explorer.set_search("vote")
print(explorer.state.counts()["matches"], "comments mention voting")
"""),
    _code("""
paths = explorer.export_figure(formats=("png",), dpi=110)  # the shown thread, paper style
display(Image(filename=str(next(p for p in paths if p.suffix == ".png"))))
selection = explorer.selection_frame()  # every column of the selected rows, as a Polars frame
print(selection.height, "rows selected;", explorer.export_selection().name, "written")
"""),
    _md("""
A run directory works the same way: `nb.explore("outputs/2026-.../...")` reads its `comments.parquet` (every
scorer the run had) and starts the slider at the run's `analysis.threshold`.
"""),
]


NOTEBOOKS = {
    "01_explore_thread": EXPLORE,
    "02_reproduce_figures": REPRODUCE,
    "03_validate_scorer": VALIDATE,
    "04_explore_interactively": EXPLORE_INTERACTIVELY,
}


def build() -> dict[Path, str]:
    """Every notebook's path and its JSON text (nbformat 4, no outputs)."""
    return {HERE / f"{stem}.ipynb": nbformat.writes(notebook(stem, cells)) + "\n"
            for stem, cells in NOTEBOOKS.items()}


def main(argv: list[str]) -> int:
    """Write the notebooks, or with ``--check`` report the ones that differ from this script."""
    stale = []
    for path, text in build().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path.name)
        if "--check" not in argv:
            path.write_text(text)
            print(f"wrote {path.relative_to(HERE.parent)}")
    if "--check" in argv and stale:
        print(f"out of date (run notebooks/build_notebooks.py): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
