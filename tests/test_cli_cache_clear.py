"""toolkit-cache clear: one scorer's cached scores, or everything, after a confirmation (issue 18 #12)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from toolkit.cli.cache import main
from toolkit.scoring.cache import ScoreCache, list_caches


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Three identities: detoxify original and unbiased (2 texts each), profanity (3 texts)."""
    for identity, n in (({"name": "detoxify", "model": "original"}, 2), ({"name": "detoxify", "model": "unbiased"}, 2),
                        ({"name": "profanity", "model": "alt-profanity-check"}, 3)):
        ScoreCache(tmp_path, identity, ["toxicity"]).write(
            pl.DataFrame({"text_hash": [f"h{i}" for i in range(n)], "toxicity": [0.5] * n}))
    return tmp_path


def names(root: Path) -> list[tuple[str, str]]:
    return sorted((c.identity["name"], c.identity["model"]) for c in list_caches(root))


def test_clear_one_scorer_with_yes(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--cache-dir", str(root), "clear", "detoxify", "--yes"]) == 0
    assert names(root) == [("profanity", "alt-profanity-check")]
    assert "deleted 2 cache(s): 4 texts" in capsys.readouterr().out


def test_clear_asks_first_and_no_keeps_everything(root: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    asked: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "n")
    assert main(["--cache-dir", str(root), "clear"]) == 1
    assert len(names(root)) == 3 and "nothing deleted" in capsys.readouterr().out
    [prompt] = asked
    assert prompt.startswith("Delete the cached scores of every scorer (3 identities, 7 texts, ")
    assert prompt.endswith(f" in {root}? [y/N] ")
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    assert main(["--cache-dir", str(root), "clear"]) == 0
    assert names(root) == []


def test_clear_without_a_terminal_needs_yes(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def eof(prompt: str) -> str:
        raise EOFError

    monkeypatch.setattr("builtins.input", eof)
    assert main(["--cache-dir", str(root), "clear", "profanity"]) == 1
    assert len(names(root)) == 3


def test_clear_an_unknown_scorer_names_the_cached_ones(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--cache-dir", str(root), "clear", "hf", "--yes"]) == 0
    out = capsys.readouterr().out
    assert out == f"no cache of scorer 'hf' in {root} (cached scorers: detoxify, profanity)\n"
    assert len(names(root)) == 3
