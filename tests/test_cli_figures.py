"""toolkit-figures: --out, the conf/plot presets as --style (draft), --help listing them (issue 18 #9)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from PIL import Image

from toolkit.cli.figures import main as figures_main
from toolkit.outputs import FigureSpec
from toolkit.plots.figures import save_figure


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    table = pl.DataFrame({"bin_low": [0.0, 0.5], "bin_high": [0.5, 1.0], "count": [3, 1]})
    save_figure(table, FigureSpec("hist", "histogram", "Histogram", "Scorer: x"), tmp_path / "run" / "figures",
                formats=("png",), dpi=40)
    return tmp_path / "run"


def test_out_writes_elsewhere_and_leaves_the_run_alone(run_dir: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    before = {p.name: p.read_bytes() for p in (run_dir / "figures").iterdir()}
    assert figures_main([str(run_dir), "--out", str(tmp_path / "redrawn"), "--formats", "png,svg"]) == 0
    assert sorted(p.name for p in (tmp_path / "redrawn").iterdir()) == ["hist.png", "hist.svg"]
    assert {p.name: p.read_bytes() for p in (run_dir / "figures").iterdir()} == before
    assert capsys.readouterr().out.split() == [str(tmp_path / "redrawn" / f"hist.{f}") for f in ("png", "svg")]
    assert figures_main([str(run_dir), "--only", "hist", "--out", str(tmp_path / "one"), "--formats", "png"]) == 0
    assert (tmp_path / "one" / "hist.png").is_file()


def test_style_draft_is_the_plot_preset(run_dir: Path, tmp_path: Path) -> None:
    """conf/plot/draft.yaml: PNG only at 150 dpi, paper's look; a flag given overrides the preset's value."""
    assert figures_main([str(run_dir), "--style", "draft", "--out", str(tmp_path / "d")]) == 0
    assert [p.name for p in (tmp_path / "d").iterdir()] == ["hist.png"]
    assert round(Image.open(tmp_path / "d" / "hist.png").info["dpi"][0]) == 150
    assert figures_main([str(run_dir), "--style", "draft", "--dpi", "72", "--out", str(tmp_path / "e")]) == 0
    assert round(Image.open(tmp_path / "e" / "hist.png").info["dpi"][0]) == 72
    assert figures_main([str(run_dir), "--style", "double", "--formats", "png", "--out", str(tmp_path / "w")]) == 0
    assert Image.open(tmp_path / "w" / "hist.png").width > Image.open(tmp_path / "e" / "hist.png").width


def test_help_lists_the_styles_and_a_wrong_one_is_named(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        figures_main(["--help"])
    out = capsys.readouterr().out
    for line in ("draft    single width, png at 150 dpi", "paper    single width, png+pdf at 300 dpi",
                 "double   double width, png+pdf at 300 dpi", "--out OUT"):
        assert line in out
    assert figures_main([str(run_dir), "--style", "drafty"]) == 2
    assert "--style: 'drafty': no such style; choose double, draft, paper" in capsys.readouterr().err
