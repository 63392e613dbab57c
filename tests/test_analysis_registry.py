"""The analysis registry: typed options fail at compose time, the literal mappings cover every analysis and
figure kind, an analysis that cannot apply says why (and writes nothing empty), and the same config + data +
seed give byte-identical tables (also across processes)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from helpers import compose_settings
from hydra.errors import ConfigCompositionException

from toolkit.analysis.agreement import ScorerAgreementOptions
from toolkit.analysis.derailment import DerailmentOptions
from toolkit.analysis.registry import ANALYSES, AnalysisContext, AnalysisParams
from toolkit.analysis.synthetic import make_frame, random_threads
from toolkit.errors import ConfigError
from toolkit.pipeline import run_analyses, run_experiment
from toolkit.plots.figures import DRAWERS
from toolkit.report import write_table
from toolkit.settings import AnalysisSettings, PlotSettings

REPO = Path(__file__).resolve().parents[1]
# a second score column to compare; derailment on a dozen threads (2-fold CV)
PAIR = AnalysisParams(scorer_agreement=ScorerAgreementOptions(columns=["toxicity", "other"]),
                      derailment=DerailmentOptions(min_threads=5, folds=2))


def test_misspelt_analysis_option_fails_at_compose_time() -> None:
    with pytest.raises(ConfigCompositionException) as err:
        compose_settings(["analysis.params.depth_profile.depth_binz=[1,2]"])
    assert "Key 'depth_binz' not in 'DepthProfileOptions'" in str(err.value.__cause__)


def test_options_override_and_keep_their_defaults() -> None:
    settings = compose_settings(["analysis.params.thread_length.n_bins=15", "+experiment=scorer_agreement"])
    tl, sa = settings.analysis.params.thread_length, settings.analysis.params.scorer_agreement
    assert (tl.n_bins, tl.threshold, tl.min_threads_last_bin) == (15, 0.6, 50)
    assert sa.scorers == ["profanity", {"name": "detoxify", "model": "original"},
                          {"name": "detoxify", "model": "unbiased"}]
    assert settings.analysis.params.removal_context.parent_bins == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]


@pytest.mark.slow
def test_params_and_figure_kinds_follow_the_declarations() -> None:
    """AnalysisParams has a field for each analysis declaring options; every figure kind an analysis emits (on
    data where all apply) has a drawer."""
    assert {f.name for f in dataclasses.fields(AnalysisParams)} == {n for n, a in ANALYSES.items() if a.options}
    frame = random_threads(12, seed=4)
    kinds = {spec.kind for fn in ANALYSES.values()
             for spec, _ in fn(frame, AnalysisContext(n_boot=20, params=PAIR)).figures}
    assert kinds <= set(DRAWERS)


def _flat_untimed() -> pl.DataFrame:
    """Like the seed thread: one flat thread (no reply links), no timestamps, a removed comment without text."""
    return make_frame([{"thread": "S", "id": "S", "score": 0.2, "toxic": False}] + [
        {"thread": "S", "id": f"c{i}", "score": None if i == 3 else s, "removed": i == 3, "toxic": s > 0.5}
        for i, s in enumerate([0.1, 0.7, 0.2, 0.9, 0.4])])


def _unscored() -> pl.DataFrame:
    return make_frame([{"thread": "U", "id": "U", "score": None, "toxic": False},
                       {"thread": "U", "id": "a", "parent": "U", "score": None, "toxic": True}])


def _run_all(frame: pl.DataFrame, params: AnalysisParams | None = None) -> dict[str, tuple[list[str], list[str], str]]:
    out = {}
    for name, fn in ANALYSES.items():
        result = fn(frame, AnalysisContext(n_boot=20, params=params or AnalysisParams(), footer="test"))
        assert all(spec.footer.startswith("test") for spec, _ in result.figures if spec.kind != "thread")
        out[name] = (sorted(result.tables), sorted(spec.name for spec, _ in result.figures), result.skipped)
        declared = ANALYSES[name]  # what it wrote is what it declares it can write
        assert set(out[name][0]) <= set(declared.tables) and set(out[name][1]) <= set(declared.figures), name
    return out


# The analyses whose behaviour on the frames below these tests pin (a new analysis brings its own test).
THREAD_ANALYSES = ("civility_profile", "depth_profile", "derailment", "escalation", "removal_context",
                   "removal_prediction", "removal_reasons", "score_distribution", "scorer_agreement",
                   "scorer_validation", "thread_length", "thread_summary", "thread_tree", "thread_view")


def test_every_analysis_applies_to_ordinary_threads() -> None:
    out = _run_all(random_threads(12, seed=4), PAIR)
    assert {name: out[name][2] for name in THREAD_ANALYSES if out[name][2]} == {}
    assert out["removal_context"][0] == ["removal_by_parent", "removal_calm_down", "removal_context",
                                         "removal_matched", "removal_tests"]
    assert out["scorer_agreement"][0] == ["scorer_agreement"]  # no further scorers: no empty status table


def test_flat_untimed_thread_skips_with_reasons() -> None:
    """One flat thread, no timestamps, the one removed comment without text: the removal comparisons, the
    reply-based analyses and removal prediction cannot apply; the kept side of removed-vs-kept can."""
    out = _run_all(_flat_untimed())
    tables, figures, skipped = out["removal_context"]
    assert (tables, figures) == (["removal_context"], [])
    assert skipped.split("; ") == [
        "removal_tests not written: no comparison has scored comments on both sides (0 of the 1 removed "
        "comments have a score)",
        "removal_matched not written: no (thread, reply depth) stratum holds both a scored removed and a scored "
        "kept comment",
        "removal_by_parent not written: no comment's parent is in the data (flat threads, or top-level comments "
        "whose post is missing)",
        "removal_calm_down not written: no removed comment has a timestamp (created_at)",
    ]
    assert out["removal_prediction"] == ([], [], "needs scored removed and kept comments; found 0 removed and "
                                                 "4 kept")
    assert out["escalation"][2].startswith("no reply whose parent comment is in the data with a score")
    assert out["scorer_agreement"][2] == "fewer than two score columns to compare (toxicity)"
    assert out["civility_profile"] == out["derailment"] == ([], [], "no politeness strategy columns: run with "
                                                                    "scorer=politeness")
    assert out["removal_reasons"][2] == "no removal_reason column (stated reasons come from a Lemmy modlog)"
    assert {name for name in THREAD_ANALYSES if out[name][2]} == {
        "removal_context", "removal_prediction", "escalation", "scorer_agreement", "civility_profile", "derailment",
        "removal_reasons"}


def test_unscored_frame_skips_what_needs_scores() -> None:
    out = _run_all(_unscored())
    written = {name for name in THREAD_ANALYSES if out[name][0] or out[name][1]}
    assert written == {"thread_summary", "thread_view", "thread_tree"}  # structure only
    assert out["removal_context"][2] == "no comment in the data is removed by a moderator"
    assert out["score_distribution"][2] == "no scored comment"
    assert out["scorer_validation"][2] == "no scored comment with a 'toxic' label"


def test_missing_truth_column_is_a_skip() -> None:
    result = ANALYSES["scorer_validation"](random_threads(3, truth=False), AnalysisContext(n_boot=10))
    assert (result.tables, result.figures) == ({}, [])
    assert result.skipped.startswith("no truth column 'toxic' in the data")


@pytest.mark.slow
def test_demo_run_records_skips_in_the_manifest_and_writes_no_empty_file(tmp_path: Path) -> None:
    settings = compose_settings(["scorer=profanity", "analysis.n_boot=50", "plot.formats=[png]", "plot.dpi=40"])
    manifest = run_experiment(settings, tmp_path)
    assert list(manifest["skipped"]) == ["removal_context"]
    assert "removal_calm_down not written: no removed comment has a timestamp" in manifest["skipped"]["removal_context"]
    assert json.loads((tmp_path / "manifest.json").read_text())["skipped"] == manifest["skipped"]
    assert sorted(p.stem for p in (tmp_path / "tables").glob("*.csv")) == [
        "depth_profile", "removal_context", "score_distribution", "toxicity_by_position", "toxicity_by_thread_size"]
    assert not list((tmp_path / "figures").glob("removal*"))


def write_all_tables(out_dir: Path, seed: int = 7) -> None:
    """Every analysis on the same synthetic frame, every table written as CSV, Markdown and LaTeX."""
    frame = random_threads(25, seed=11)
    for fn in ANALYSES.values():
        out = fn(frame, AnalysisContext(n_boot=60, seed=seed, params=PAIR, footer="f"))
        for table_name, table in out.tables.items():
            write_table(table, out_dir, table_name)
        for spec, table in out.figures:
            table.write_csv(out_dir / f"figure_{spec.name}.csv")


def _bytes(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


@pytest.mark.slow
def test_same_config_data_and_seed_give_byte_identical_tables(tmp_path: Path) -> None:
    first, second, other_process, other_seed = (tmp_path / n for n in ("a", "b", "c", "d"))
    write_all_tables(first)
    write_all_tables(second)
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
            f"from test_analysis_registry import write_all_tables; from pathlib import Path; "
            f"write_all_tables(Path({str(other_process)!r}))")
    blas = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS")}  # same BLAS kernels, same sums
    env = {**blas, "PYTHONHASHSEED": "12345", "PATH": "/usr/bin:/bin", "MPLBACKEND": "Agg", "PYTHONPATH": str(REPO)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=REPO, timeout=300)
    write_all_tables(other_seed, seed=8)
    a = _bytes(first)
    assert len(a) > 60
    assert a == _bytes(second)
    assert a == _bytes(other_process)
    assert a != _bytes(other_seed)  # the seed matters (so the check above is not vacuous)


def _agreement_settings(scorers: list) -> AnalysisSettings:
    options = ScorerAgreementOptions(scorers=scorers, max_comments=20)
    return AnalysisSettings(run=["scorer_agreement"], n_boot=20, params=AnalysisParams(scorer_agreement=options))


def test_pipeline_runs_the_further_scorers_on_the_sample(tmp_path: Path) -> None:
    """The pipeline scores the 20 sampled comments with profanity (its scores differ from the synthetic
    ``toxicity``), names the new column ``profanity.toxicity`` and the analysis compares the two."""
    frame = random_threads(4, seed=1)
    outputs, skipped = run_analyses(frame, _agreement_settings(["profanity"]), PlotSettings(formats=[]), tmp_path,
                                    "f", ["toxicity"])
    assert skipped == {}
    scorers = pl.read_csv(tmp_path / "tables" / "scorer_agreement_scorers.csv")
    assert scorers.rows() == [("profanity", True, "profanity.toxicity", "")]
    pairs = pl.read_csv(tmp_path / "tables" / "scorer_agreement.csv")
    assert pairs.select("a", "b", "n").rows() == [("toxicity", "profanity.toxicity", 20)]


def test_misspelt_further_scorer_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"analysis.params.scorer_agreement.scorers: \{'name': 'profanity', "
                                          r"'modle': 'x'\}: unknown scorer option \['modle'\]"):
        run_analyses(random_threads(2, seed=1), _agreement_settings([{"name": "profanity", "modle": "x"}]),
                     PlotSettings(formats=[]), tmp_path, "f", ["toxicity"])
