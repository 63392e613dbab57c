"""Writing tables (CSV + Markdown + LaTeX) and the provenance manifest of a run."""

from __future__ import annotations

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
    """A GitHub-flavoured Markdown rendering of the whole table."""
    with pl.Config(
        tbl_formatting="ASCII_MARKDOWN", tbl_hide_column_data_types=True, tbl_hide_dataframe_shape=True,
        tbl_rows=-1, tbl_cols=-1, fmt_str_lengths=10_000, tbl_width_chars=65535, float_precision=float_precision,
    ):
        return str(table) + "\n"


def latex_table(table: pl.DataFrame, float_precision: int = 3) -> str:
    """A booktabs LaTeX tabular of the table (strings escaped)."""

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


def write_table(table: pl.DataFrame, out_dir: str | Path, name: str) -> list[Path]:
    """Write ``name``.csv, .md and .tex under ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.csv", out_dir / f"{name}.md", out_dir / f"{name}.tex"]
    table.write_csv(paths[0])
    paths[1].write_text(markdown_table(table))
    paths[2].write_text(latex_table(table))
    return paths


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that shape the results."""
    versions: dict[str, str | None] = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(cwd: str | Path | None = None) -> dict[str, Any]:
    """The source tree's commit and whether it had uncommitted changes (None outside a git checkout)."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}
    if commit.returncode != 0:
        return {"commit": None, "dirty": None}
    return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}


def write_json(path: str | Path, payload: dict[str, Any]) -> Path:
    """Pretty JSON with stable key order (so two runs' manifests diff cleanly)."""
    path = Path(path)
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, default=str) + "\n")
    return path
