"""Writing tables (CSV + Markdown + LaTeX) and the provenance manifest of a run."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl

PACKAGES = ("toolkit", "polars", "torch", "transformers", "detoxify", "alt-profanity-check", "scikit-learn",
            "statsmodels", "numpy", "matplotlib", "hydra-core", "omegaconf")


def markdown_table(table: pl.DataFrame, float_precision: int = 4) -> str:
    """A GitHub-flavoured Markdown rendering of the whole table (every row and column, full strings).

    >>> import polars as pl
    >>> from toolkit.report import markdown_table
    >>> print(markdown_table(pl.DataFrame({"label": ["toxicity"], "auc": [0.6412]})), end="")
    | label    | auc    |
    |----------|--------|
    | toxicity | 0.6412 |
    """
    with pl.Config(
        tbl_formatting="ASCII_MARKDOWN", tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True,
        tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=10_000, tbl_width_chars=65535, float_precision=float_precision,
    ):
        return str(table) + "\n"


def latex_table(table: pl.DataFrame, float_precision: int = 3) -> str:
    """A booktabs LaTeX tabular of the table: strings escaped, numbers right-aligned, null and NaN as ``--``.

    >>> import polars as pl
    >>> from toolkit.report import latex_table
    >>> print(latex_table(pl.DataFrame({"label": ["toxicity"], "auc": [0.6412]})).splitlines()[4])
    toxicity & 0.641 \\\\
    """

    def cell(value: Any) -> str:
        if value is None:
            return "--"
        if isinstance(value, float):
            return "--" if value != value else f"{value:.{float_precision}f}"
        text = str(value)
        for char, escaped in (("\\", r"\textbackslash{}"), ("&", r"\&"), ("%", r"\%"), ("$", r"\$"),
                              ("#", r"\#"), ("_", r"\_"), ("{", r"\{"), ("}", r"\}")):
            text = text.replace(char, escaped)
        return text

    align = "".join("r" if table[c].dtype.is_numeric() else "l" for c in table.columns)
    lines = [rf"\begin{{tabular}}{{{align}}}", r"\toprule", " & ".join(cell(c) for c in table.columns) + r" \\",
             r"\midrule"]
    lines += [" & ".join(cell(v) for v in row) + r" \\" for row in table.iter_rows()]
    lines += [r"\bottomrule", r"\end{tabular}", ""]
    return "\n".join(lines)


def write_table(table: pl.DataFrame, out_dir: str | Path, name: str, note: str = "") -> list[Path]:
    """Write ``name``.csv, .md and .tex under ``out_dir`` (created if needed); returns the three paths.
    ``note`` (e.g. a small-sample warning) follows the Markdown table and heads the LaTeX one as a comment.

    >>> import tempfile
    >>> import polars as pl
    >>> from toolkit.report import write_table
    >>> [p.name for p in write_table(pl.DataFrame({"n": [1]}), tempfile.mkdtemp(), "counts")]
    ['counts.csv', 'counts.md', 'counts.tex']
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.csv", out_dir / f"{name}.md", out_dir / f"{name}.tex"]
    table.write_csv(paths[0])
    paths[1].write_text(markdown_table(table) + (f"\n*{note}*\n" if note else ""))
    paths[2].write_text((f"% {note}\n" if note else "") + latex_table(table))
    return paths


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, streamed (the manifest's input hashes).

    >>> import tempfile
    >>> from pathlib import Path
    >>> from toolkit.report import sha256_file
    >>> path = Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = path.write_bytes(b"abc")
    >>> sha256_file(path)
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict[str, str | None]:
    """Installed versions of Python, the platform and the packages that shape the results (None: not installed).

    >>> from toolkit.report import PACKAGES, package_versions
    >>> sorted(package_versions()) == sorted(["python", "platform", *PACKAGES])
    True
    """
    versions: dict[str, str | None] = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(cwd: str | Path | None = None) -> dict[str, Any]:
    """The commit of the git checkout that tracks ``cwd`` (default: this package) and whether it had
    uncommitted changes; None for both when git does not track it, e.g. an installed wheel (even one in a
    virtual environment inside some repository, whose commit says nothing about this code).

    >>> import tempfile
    >>> from toolkit.report import git_commit
    >>> git_commit(tempfile.mkdtemp())
    {'commit': None, 'dirty': None}
    """
    cwd = cwd or Path(__file__).resolve().parent
    commands = (["ls-files", "--error-unmatch", "--", "."], ["rev-parse", "HEAD"],
                ["status", "--porcelain", "--untracked-files=no"])
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        tracked, commit, dirty = (subprocess.run(["git", *c], cwd=cwd, capture_output=True, text=True, timeout=5)
                                  for c in commands)
        if tracked.returncode == 0 and commit.returncode == 0:
            return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    return {"commit": None, "dirty": None}


def write_json(path: str | Path, payload: dict[str, Any]) -> Path:
    """Pretty JSON with stable key order (so two runs' manifests diff cleanly); returns the path.

    >>> import tempfile
    >>> from pathlib import Path
    >>> from toolkit.report import write_json
    >>> print(write_json(Path(tempfile.mkdtemp()) / "m.json", {"b": 1, "a": "x"}).read_text(), end="")
    {
      "a": "x",
      "b": 1
    }
    """
    path = Path(path)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
    return path


def write_file(directory: str | Path, relative: str, contents: bytes | str) -> Path:
    """``contents`` written to ``directory/relative`` (folders made); a path that would leave ``directory``
    (absolute, or through ``..``) is an error. For an analysis' other outputs (``AnalysisOutput.files``).

    >>> import tempfile
    >>> from pathlib import Path
    >>> root = Path(tempfile.mkdtemp())
    >>> write_file(root, "annotation/key.csv", "item_id\\n").relative_to(root).as_posix()
    'annotation/key.csv'
    >>> write_file(root, "../x.csv", "")
    Traceback (most recent call last):
    ValueError: output file '../x.csv' must be a relative path inside the run directory
    """
    path = Path(relative)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ValueError(f"output file {relative!r} must be a relative path inside the run directory")
    target = Path(directory) / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(contents.encode("utf-8") if isinstance(contents, str) else contents)
    return target
