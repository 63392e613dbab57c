"""Where a dataset path is looked for: the working directory first, then the bundled data, so the shipped
configs' and README's ``data/seed_thread.txt`` work from any directory, on the command line and in Python.

>>> resolve_data_path("data/seed_thread.txt").is_file()
True
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parents[1]
#: Where conf/, experiments/ and data/ are: inside the installed package (a wheel ships them there, see
#: pyproject.toml), else the source checkout's top level (an editable install or PYTHONPATH).
PROJECT_ROOT = _PACKAGE_DIR if (_PACKAGE_DIR / "conf").is_dir() else _PACKAGE_DIR.parent


def resolve_data_path(path: str | Path) -> Path:
    """A relative dataset path (or glob pattern) from the working directory, else from the bundled data
    (``data/NAME``); a path found nowhere is returned as given, for the loader to report
    (:func:`where_looked`).

    >>> sorted(p.name for p in resolve_data_path("data/reddit_sample_*.json").parent.glob("reddit_sample_*.json"))
    ['reddit_sample_1j7g9uj.json', 'reddit_sample_57dw9a.json']
    """
    path = Path(path).expanduser()
    if path.is_absolute() or path.exists() or any(Path().glob(str(path))):
        return path
    candidate = PROJECT_ROOT / path
    return candidate if candidate.exists() or any(PROJECT_ROOT.glob(str(path))) else path


def where_looked(path: str | Path) -> str:
    """The places :func:`resolve_data_path` tried for ``path``, for a "no such file" message.

    >>> where_looked("/abs/file.csv")
    ''
    >>> where_looked("mine.csv").startswith(" (looked in ")
    True
    """
    path = Path(path).expanduser()
    if path.is_absolute():
        return ""
    return f" (looked in {Path.cwd() / path} and in the bundled data, {PROJECT_ROOT / path})"
