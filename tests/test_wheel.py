"""A plain install works anywhere: the wheel holds the code, configs, experiments, bundled data and styles, and
its commands run from a directory that is not the checkout (the toolkit coming from the wheel only).

The wheel is built from a copy of the sources (no network: no build isolation) and installed, without its
dependencies, into a fresh virtual environment that sees this interpreter's site-packages for them.
"""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.wheel, pytest.mark.xdist_group("wheel")]  # one worker builds the wheel once

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "toolkit", "conf", "experiments", "data")
SEED_SHA256 = "766d184ff6fc8e9201a579caa24c884d79263459988506dc23fcb6d1d6c290f9"  # data/seed_thread.txt


def run(args: list[str | Path], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{args}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a clean copy of the sources (no stale build/ or egg-info from the checkout)."""
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, src / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, src / name)
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--no-index",
         "-w", tmp / "dist", src], cwd=tmp)
    (built,) = (tmp / "dist").glob("toolkit-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A fresh venv holding the wheel (its bin/ directory) and the environment to run it in."""
    root = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", root / "env"], cwd=root)
    purelib = Path(sysconfig.get_paths(vars={"base": str(root / "env"), "platbase": str(root / "env")})["purelib"])
    # the dependencies (and pip) from this interpreter's site-packages, read after the venv's own
    (purelib / "_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    bin_dir = root / "env" / ("Scripts" if os.name == "nt" else "bin")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "MPLBACKEND")}
    env.update(TOOLKIT_CACHE_DIR=str(root / "score-cache"), TORCH_HOME=str(root / "torch-home"))
    # --ignore-installed: pip sees the checkout's own (editable) toolkit on the path and must leave it alone
    run([bin_dir / "python", "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--ignore-installed",
         wheel], cwd=root, env=env)
    return bin_dir, env


def test_wheel_holds_every_module_config_and_dataset(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"toolkit/{p.relative_to(REPO_ROOT / 'toolkit').as_posix()}"
                for p in (REPO_ROOT / "toolkit").rglob("*") if p.suffix in (".py", ".mplstyle", ".txt", ".json", ".tsv")}
    expected |= {f"toolkit/conf/{p.relative_to(REPO_ROOT / 'conf').as_posix()}"
                 for p in (REPO_ROOT / "conf").rglob("*.yaml") if p.parent.name != "experiment"}
    expected |= {f"toolkit/conf/experiment/{p.name}" for p in (REPO_ROOT / "experiments").glob("*.yaml")}
    expected |= {f"toolkit/data/{p.relative_to(REPO_ROOT / 'data').as_posix()}"
                 for p in (REPO_ROOT / "data").rglob("*") if p.is_file() and p.suffix != ".py"}
    assert "toolkit/conf/experiment/escalation.yaml" in expected and "toolkit/data/seed_thread.txt" in expected
    assert "toolkit/data/lemmy_archive/index.jsonl" in expected  # the bundled archive folder
    assert sorted(expected - names) == []
    assert "toolkit/scoring/cards.json" in names  # the scorer cards (data/build_scorer_cards.py)
    assert wheel.stat().st_size < 5 * 2**20  # about 2.3 MB: the bundled data, compressed


def test_installed_commands_run_from_any_directory(venv: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    bin_dir, env = venv
    where = run([bin_dir / "python", "-c", "import toolkit; print(toolkit.__file__)"], cwd=tmp_path, env=env)
    assert Path(where.stdout.strip()).is_relative_to(bin_dir.parent), where.stdout  # the wheel, not the checkout

    demo = run([bin_dir / "toolkit", f"hydra.run.dir={tmp_path / 'demo'}"], cwd=tmp_path, env=env)
    assert "demo: 13 rows kept, 0 rejected" in demo.stdout
    manifest = json.loads((tmp_path / "demo" / "manifest.json").read_text())
    assert list(manifest["inputs"]["sha256"].values()) == [SEED_SHA256]  # the bundled seed thread
    assert Path(manifest["inputs"]["path"]).is_relative_to(bin_dir.parent)

    run([bin_dir / "toolkit", "+experiment=escalation", f"hydra.run.dir={tmp_path / 'esc'}"], cwd=tmp_path, env=env)
    manifest = json.loads((tmp_path / "esc" / "manifest.json").read_text())
    assert (manifest["experiment"], manifest["counts"]["rows_kept"]) == ("escalation", 146)
    assert (tmp_path / "esc" / "tables" / "escalation.csv").is_file()

    figures = run([bin_dir / "toolkit-figures", tmp_path / "esc", "--formats", "png", "--dpi", "40"],
                  cwd=tmp_path, env=env)  # with the paper style shipped in the wheel
    assert figures.stdout.splitlines() == [
        str(tmp_path / "esc" / "figures" / f"{name}.png") for name in ("escalation", "thread_summary", "thread_tree")
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo", "esc"]  # nothing written into the cwd


COMPOSE_ALL = """
import json
from pathlib import Path
from hydra import compose, initialize_config_dir
from toolkit.cli.app import CONFIG_DIR, to_settings
from toolkit.pipeline import resolve_data_path

found = {}
for name in sorted(p.stem for p in (Path(CONFIG_DIR) / "experiment").glob("*.yaml")):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        settings = to_settings(compose(config_name="config", overrides=[f"+experiment={name}"]))
    found[name] = [settings.experiment, resolve_data_path(settings.dataset.path).exists()]  # a file or folder
print(json.dumps(found))
"""


def test_every_installed_experiment_composes_with_its_bundled_data(venv: tuple[Path, dict[str, str]],
                                                                   tmp_path: Path) -> None:
    bin_dir, env = venv
    found = json.loads(run([bin_dir / "python", "-c", COMPOSE_ALL], cwd=tmp_path, env=env).stdout)
    assert found == {p.stem: [p.stem, True] for p in (REPO_ROOT / "experiments").glob("*.yaml")}


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_an_installed_copy_inside_a_repository_reports_no_commit(tmp_path: Path) -> None:
    """The manifest's commit is the checkout that tracks the code; a repository around an (ignored) virtual
    environment holding the wheel says nothing about the code, so no commit is reported."""
    from toolkit.report import git_commit

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("x = 1\n")
    (tmp_path / ".venv" / "toolkit").mkdir(parents=True)
    (tmp_path / ".gitignore").write_text(".venv/\n")
    git = ["git", "-c", "user.email=t@example.org", "-c", "user.name=t", "-c", "commit.gpgsign=false"]
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "first"]):
        run([*git, *args], cwd=tmp_path)
    head = run(["git", "rev-parse", "HEAD"], cwd=tmp_path).stdout.strip()
    assert git_commit(tmp_path / "src") == {"commit": head, "dirty": False}
    assert git_commit(tmp_path / ".venv" / "toolkit") == {"commit": None, "dirty": None}
