"""The public API's docstring examples run and print what they show (``>>>`` blocks, via doctest).

One entry per module: add yours to MODULES.
"""

from __future__ import annotations

import doctest
import importlib
import tempfile

import pytest

MODULES = ["toolkit.errors", "toolkit.notebook", "toolkit.pipeline", "toolkit.report"]

MODULES += [
    "toolkit.analysis.agreement", "toolkit.analysis.common", "toolkit.analysis.depth", "toolkit.analysis.distribution",
    "toolkit.analysis.escalation", "toolkit.analysis.prediction", "toolkit.analysis.removal", "toolkit.analysis.stats",
    "toolkit.analysis.summary", "toolkit.analysis.thread_length", "toolkit.analysis.validation",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # examples find the bundled data from any directory
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # their temporary run directories
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name}: no examples"
    assert result.failed == 0, f"{name}: {result.failed} of {result.attempted} examples failed (output above)"
