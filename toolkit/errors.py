"""The toolkit's errors: one hierarchy, so a script or the command line can catch ``ToolkitError``.

Every message names where the problem is (the file and row/line and field, or the config key) and, where
one helps, a hint. The command line prints that message alone (``HYDRA_FULL_ERROR=1`` for the traceback).

>>> from toolkit.errors import LoadError, ToolkitError
>>> err = LoadError("threads.csv", "not a number", line=3, field="score")
>>> str(err)
"threads.csv, line 3, field 'score': not a number"
>>> isinstance(err, ToolkitError)
True
"""

from __future__ import annotations

from pathlib import Path


class ToolkitError(Exception):
    """Base of every error the toolkit raises on purpose (bad input, bad config, a scorer that cannot run)."""


class LoadError(ToolkitError, ValueError):
    """Bad input a user can act on: the message names the file, the line/row and the field."""

    def __init__(self, path: str | Path, reason: str, line: int | None = None, field: str | None = None):
        where = str(path)
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {reason}")
        self.path, self.line, self.field, self.reason = str(path), line, field, reason


class ConfigError(ToolkitError, ValueError):
    """A setting that cannot work: the message names the config key (e.g. ``scorer.shard``) and a hint."""

    def __init__(self, key: str, reason: str):
        super().__init__(f"{key}: {reason}")
        self.key, self.reason = key, reason


class ScoringError(ToolkitError, RuntimeError):
    """Scoring failed for a reason the user can act on."""


class ScorerUnavailableError(ScoringError):
    """A scorer's weights or configuration cannot be found, downloaded or loaded (``auto`` falls back).

    ``summary`` (a short cause) and ``fix`` (the settings that solve it, one line) make ``auto``'s fallback
    warning short; the message itself keeps the full explanation (recorded as the run's fallback reason).
    """

    def __init__(self, message: str, *, summary: str | None = None, fix: str | None = None):
        super().__init__(message)
        self.summary, self.fix = summary, fix
