"""A researcher's own CSV, in their own column names: the dry run (toolkit-inspect) and the README recipe."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from toolkit.analysis.registry import ANALYSES
from toolkit.cli.inspect_data import NEEDS
from toolkit.cli.inspect_data import main as inspect_main
from toolkit.scoring.cache import list_caches

# Three threads (p1, p2, p3) of a comment-only export: no post rows; a top-level comment's parent is the post.
# p1: c1 > c2 > c3 > c4 (depth 4), c5; p2: d1 (removed) > d2, d3; p3: e1 > e2 (removed, text gone), e3 (deleted).
# Replies to a comment: c2, c3, c4, d2, e2.
ROWS = [
    ("p1", "c1", "p1", "first comment", 0, 1700000000),
    ("p1", "c2", "c1", "a reply", 0, 1700000060),
    ("p1", "c3", "c2", "you idiot", 0, 1700000120),
    ("p1", "c4", "c3", "calm down please", 0, 1700000180),
    ("p1", "c5", "p1", "another top-level one", 0, 1700000240),
    ("p2", "d1", "p2", "this is garbage, moron", 1, 1700001000),
    ("p2", "d2", "d1", "agreed", 0, 1700001060),
    ("p2", "d3", "p2", "thanks for sharing", 0, 1700001120),
    ("p3", "e1", "p3", "nice", 0, 1700002000),
    ("p3", "e2", "e1", "[removed]", 1, 1700002060),
    ("p3", "e3", "p3", "[deleted]", 0, 1700002120),
]
MAPPING = "+dataset.options.columns={thread_id: post_id, parent_id: parent, text: body, removed: was_removed, created_at: created_utc}"


def write_csv(path: Path) -> Path:
    lines = ["post_id,comment_id,parent,body,was_removed,created_utc"]
    lines += [",".join([p, c, par, f'"{body}"', str(r), str(t)]) for p, c, par, body, r, t in ROWS]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder holding mine.csv, as the working directory, with its own score cache."""
    write_csv(tmp_path / "mine.csv")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOOLKIT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path


def test_an_analysis_without_listed_needs_gets_its_declared_columns_checked(project: Path,
                                                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert set(NEEDS) <= set(ANALYSES) and "crosswalk" not in NEEDS
    assert inspect_main(["dataset=file", "dataset.path=mine.csv", MAPPING, "analysis.run=[crosswalk]"]) == 0
    sections = capsys.readouterr().out.split("analyses (analysis.run):\n")[1].splitlines()
    assert sections[0] == "  crosswalk: would be skipped"
    assert sections[1].startswith("    MISSING: columns its options name ['perspective_toxicity'")


def test_inspect_prints_rows_counts_and_what_each_analysis_needs(project: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    status = inspect_main(["dataset=file", "dataset.path=mine.csv", MAPPING, "--rows", "3",
                           "analysis.run=[depth_profile,removal_context,escalation,scorer_validation,thread_tree]"])
    out, err = capsys.readouterr()
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("mine: ") and "dry run: nothing scored" in lines[0]
    assert lines[1] == "rows: 11 in, 11 kept, 0 rejected"
    # e2's "[removed]" and e3's "[deleted]" placeholders: flags with null text
    assert lines[2] == ("threads 3, posts 0, comments 11: removed 2, deleted 1; text null 2 rows "
                        "(comments with text 9)")
    assert lines[3] == "structure: tree 11"
    assert "first 3 rows:" in out and "| p1 " in out and "first comment" in out and "a reply" in out
    assert "another top-level" not in out  # only 3 rows
    sections = out.split("analyses (analysis.run):\n")[1]
    assert sections.splitlines() == [
        "  depth_profile: ready",
        "    ok: 9 comments with text to score (scorer=auto)",
        "  removal_context: ready",
        "    ok: 9 comments with text to score (scorer=auto)",
        "    ok: 2 removed (1 with text to score) and 9 kept comments (8 with text)",
        "  escalation: ready",
        "    ok: 9 comments with text to score (scorer=auto)",
        "    ok: 5 replies to a comment in the data (parent -> reply pairs)",
        "  scorer_validation: would be skipped",
        "    ok: 9 comments with text to score (scorer=auto)",
        "    MISSING: truth column 'toxic' not in the data",
        "  thread_tree: ready",
        "    ok: needs only threads",
    ]
    assert list_caches(project / "cache") == []  # nothing scored: no score cache written
    assert not (project / "outputs").exists()  # no run directory


def test_inspect_errors_are_one_line(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert inspect_main(["dataset=file", "dataset.path=mine.csv", "analysis.run=[depth_profil]"]) == 1
    assert capsys.readouterr().err.startswith("toolkit-inspect: error: analysis.run: unknown analyses ['depth_profil']")
    assert inspect_main(["+analysis.treshold=0.9"]) == 1
    assert "did you mean threshold?" in capsys.readouterr().err


def readme_recipe() -> tuple[list[str], str]:
    """The README's "Your own data" section: its shell commands in order, and the experiment file it shows."""
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Your own data\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", section, flags=re.S)
    commands = [line for lang, body in blocks if lang == "bash" for line in body.splitlines() if line.strip()]
    [experiment] = [body for lang, body in blocks if lang == "yaml"]
    return commands, experiment


ENTRY_POINTS = {"toolkit": "toolkit.cli.app", "toolkit-inspect": "toolkit.cli.inspect_data"}


@pytest.mark.slow
def test_readme_own_data_recipe_runs_as_written(tmp_path: Path) -> None:
    """Issue 18 #11: the recipe, command by command, from a fresh project folder (a subprocess each, as a
    user's shell would run them), then the frame in Python."""
    commands, experiment = readme_recipe()
    assert [shlex.split(c)[0] for c in commands] == ["toolkit-inspect", "toolkit", "toolkit"]
    write_csv(tmp_path / "mine.csv")
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "mystudy.yaml").write_text(experiment, encoding="utf-8")
    env = {**{k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"},
           "TOOLKIT_CACHE_DIR": str(tmp_path / "cache"), "TORCH_HOME": str(tmp_path / "torch")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    outputs = []
    for command in commands:
        program, *args = shlex.split(command)
        done = subprocess.run([sys.executable, "-m", ENTRY_POINTS[program], *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, (command, done.stderr[-3000:])
        outputs.append(done.stdout)
    assert "rows: 11 in, 11 kept, 0 rejected" in outputs[0] and "would be skipped" not in outputs[0]
    [run] = (tmp_path / "outputs" / "mine").iterdir()
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["experiment"] == "mine" and manifest["counts"]["rows_kept"] == 11
    assert manifest["counts"]["threads"] == 3 and manifest["counts"]["removed"] == 2
    [study] = (tmp_path / "outputs" / "mystudy").iterdir()
    figures = {p.stem for p in (study / "figures").glob("*.json")}
    assert "thread_tree" in figures
    assert "mystudy" in json.loads((study / "figures" / "thread_tree.json").read_text())["footer"]
    assert sorted(p.name for p in (tmp_path / "outputs").iterdir()) == ["mine", "mystudy"]  # never demo/


def test_readme_own_data_python_line(project: Path) -> None:
    """The section's Python equivalent gives the same rows."""
    import toolkit

    columns = {"thread_id": "post_id", "parent_id": "parent", "text": "body", "removed": "was_removed",
               "created_at": "created_utc"}
    frame = toolkit.load("mine.csv", columns=columns)
    assert frame.height == 11 and frame["thread_id"].n_unique() == 3
    assert dict(zip(frame["comment_id"], frame["reply_depth"], strict=True))["c4"] == 4


PUBLIC = ("toolkit", "toolkit.notebook")


def test_notebooks_import_nothing_private() -> None:
    """Issue 18 #11: a notebook uses `toolkit` and `toolkit.notebook` only (no toolkit.scoring, .pipeline,
    .cli, .analysis.registry, ...), so the library's inside can change under them."""
    import ast

    import nbformat

    private = []
    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            for node in ast.walk(ast.parse(cell.source)):
                names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                if isinstance(node, ast.ImportFrom) and node.module == "toolkit":
                    names = [f"toolkit.{a.name}" for a in node.names]
                private += [f"{path.stem}: {n}" for n in names if n.split(".")[0] == "toolkit" and n not in PUBLIC]
    assert private == []


def test_top_level_api_has_the_notebook_analyses() -> None:
    import toolkit
    from toolkit.analysis.synthetic import example_threads

    frame = example_threads()
    for name in ("escalation", "removal_logit", "classification_metrics", "thread_tree_table", "thread_summary",
                 "score_with_report"):
        assert name in toolkit.__all__ and callable(getattr(toolkit, name))
    table, _ = toolkit.thread_tree_table(frame, pick="most_removed")
    assert table["comment_id"].to_list() == ["a", "a1", "a2", "a3", "a4"]
    assert toolkit.escalation(frame, n_boot=20).height > 0
