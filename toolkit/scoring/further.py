"""Further scorers beside a run's own, for the analyses that compare scorers: their scores added to the corpus'
buckets through each scorer's cache (robustness) or to a sample of a frame (scorer_agreement), and their scorer
cards for the manifest."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.scoring.buckets import score_buckets
from toolkit.scoring.cards import card_for
from toolkit.scoring.resolve import SCORERS
from toolkit.scoring.score import score_frame, scorer_spec
from toolkit.settings import AnalysisSettings, ScorerSettings
from toolkit.store import Corpus

log = logging.getLogger(__name__)


def further_cards(a: AnalysisSettings, base: ScorerSettings) -> list[dict[str, Any]]:
    """Scorer cards of the further scorers scorer_agreement and robustness list (``role`` names the analysis),
    from each scorer's identity (no model loaded); one that cannot be built here is left out (its analysis'
    ``*_scorers`` table says why)."""
    cards: dict[str, dict[str, Any]] = {}
    for name in ("scorer_agreement", "robustness"):
        if name not in a.run:
            continue
        for entry in getattr(a.params, name).scorers:
            try:
                spec = scorer_spec(entry, f"analysis.params.{name}.scorers", base)
                card = card_for(SCORERS[spec.name](spec).identity())
            except Exception:  # noqa: BLE001, S112 - a scorer that cannot be built has no identity to describe
                continue
            cards.setdefault(card["key"], {**card, "role": name})
    return list(cards.values())


def with_further_scores(corpus: Corpus, scorers: list[Any], base: ScorerSettings,
                        scratch: Path) -> tuple[Corpus, list[dict[str, Any]]]:
    """The buckets with the scores of further ``scorers`` (robustness' ``analysis.params.robustness.scorers``:
    names or ``{name: ..., ...}``) added as ``<scorer>[:<model>].<label>`` (bucket by bucket, through each
    scorer's cache, written under ``scratch``), and one status row per scorer (``scorer, used, columns, note,
    robustness``). A scorer that cannot run here is reported in its row, not fatal; one that gives the run's own
    scores is not repeated."""
    if not scorers:
        return corpus, []
    paths = []
    for i, part in enumerate(corpus.parts):  # laid out as store buckets (.../bucket=<i>/data.parquet)
        paths.append(scratch / "in" / f"bucket={i}" / "data.parquet")
        paths[-1].parent.mkdir(parents=True, exist_ok=True)
        if isinstance(part, pl.DataFrame):
            part.write_parquet(paths[-1])
        else:
            paths[-1].symlink_to(Path(part).resolve())
    added: list[dict[str, pl.Series]] = [{} for _ in paths]
    status = []
    for k, entry in enumerate(scorers):
        sc = scorer_spec(entry, "analysis.params.robustness.scorers", base)
        try:
            scored, (report,) = score_buckets(paths, [sc], scratch / f"scorer-{k}")
        except Exception as err:  # noqa: BLE001 - any failure to load a scorer is reported, not fatal
            log.warning("robustness: scorer %s skipped: %s", sc.name, err)
            status.append({"scorer": sc.name, "used": False, "columns": "", "note": str(err).splitlines()[0][:300],
                           "robustness": True})
            continue
        prefix = _prefix(report.scorer, report.identity.get("model"))
        frames = [pl.read_parquet(p, columns=report.labels) for p in scored]
        if all(lab in corpus.schema for lab in report.labels) and all(
                f.equals(pl.read_parquet(p, columns=report.labels)) for f, p in zip(frames, paths, strict=True)):
            status.append({"scorer": prefix, "used": False, "columns": "", "robustness": True,
                           "note": f"same scores as the run's scorer ({', '.join(report.labels)}): not repeated"})
            continue
        for bucket, f in zip(added, frames, strict=True):
            bucket.update({f"{prefix}.{lab}": f[lab].alias(f"{prefix}.{lab}") for lab in report.labels})
        status.append({"scorer": prefix, "used": True, "columns": ", ".join(f"{prefix}.{lab}" for lab in report.labels),
                       "note": report.fallback_reason or "", "robustness": True})
    out = []
    for i, (path, columns) in enumerate(zip(paths, added, strict=True)):
        out.append(scratch / f"bucket={i}.parquet")
        pl.read_parquet(path).with_columns(list(columns.values())).write_parquet(out[-1])
    return Corpus(tuple(out)), status


def with_sample_scores(frame: pl.DataFrame, sample: Callable[[pl.DataFrame], pl.DataFrame], scorers: list[Any],
                       base: ScorerSettings) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """The frame with the scores of further ``scorers`` (scorer_agreement's) on the rows ``sample(frame)`` picks,
    named ``<scorer>[:<model>].<label>``, and one status row per scorer. A scorer that cannot run here (no
    weights offline) is reported in its row, not fatal; one that gives the run's own scores is not repeated."""
    frame = frame.with_row_index("_frame_row")
    rows = sample(frame)
    scored_rows = rows.select("_frame_row")
    status = []
    for entry in scorers:
        sc = scorer_spec(entry, "analysis.params.scorer_agreement.scorers", base)
        try:
            scored = score_frame(rows.select("text"), sc)
        except Exception as err:  # noqa: BLE001 - any failure to load a scorer is reported, not fatal
            prefix = _prefix(sc.name, sc.model)
            log.warning("scorer_agreement: scorer %s skipped: %s", prefix, err)
            status.append({"scorer": prefix, "used": False, "columns": "", "note": str(err).splitlines()[0][:300]})
            continue
        report = scored.report
        prefix = _prefix(report.scorer, report.identity.get("model"))
        same = [lab for lab in report.labels if lab in rows.columns and scored.frame[lab].equals(rows[lab])]
        if same and len(same) == len(report.labels):
            status.append({"scorer": prefix, "used": False, "columns": "",
                           "note": f"same scores as the run's scorer ({', '.join(same)}): not repeated"})
            continue
        cols = {lab: f"{prefix}.{lab}" for lab in report.labels}
        scored_rows = scored_rows.with_columns(scored.frame.select([pl.col(k).alias(v) for k, v in cols.items()]))
        status.append({"scorer": prefix, "used": True, "columns": ", ".join(cols.values()),
                       "note": report.fallback_reason or ""})
    frame = frame.join(scored_rows, on="_frame_row", how="left", maintain_order="left").drop("_frame_row")
    return frame, status


def _prefix(scorer: str, model: Any) -> str:
    """A further scorer's column prefix: ``<scorer>:<model>`` (``profanity`` alone: it has one model)."""
    return scorer if scorer == "profanity" else f"{scorer}:{model}"
