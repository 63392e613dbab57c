"""``toolkit-inspect [OVERRIDES]``: a dry run. Load the data as ``toolkit OVERRIDES`` would, score nothing.

Prints the mapped frame's first rows, the counts (rows in / kept / rejected, threads, posts, comments, removed,
deleted, text null, tree structure) and, for each analysis in ``analysis.run``, whether the data holds what
it needs. Takes the same overrides as ``toolkit`` (``dataset=file dataset.path=mine.csv
'+dataset.options.columns={text: body}'``, ``+experiment=NAME``, ...). It builds the same corpus store a run
builds (under the cache directory, reused by the run); it writes no run directory and loads no model.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from toolkit.schema import is_comment
from toolkit.settings import RunSettings


@dataclass
class Facts:
    """What the checks look at: the store's columns and counts over its rows."""

    columns: set[str]
    counts: dict[str, int]
    structure: dict[str, int] = field(default_factory=dict)


Check = Callable[[Facts, RunSettings], tuple[bool, str]]


def _scorer_names(settings: RunSettings) -> list[str]:
    extra = [s if isinstance(s, str) else dict(s).get("name", "") for s in settings.extra_scorers]
    return [settings.scorer.name, *extra]


def _scores(f: Facts, s: RunSettings) -> tuple[bool, str]:
    if s.scorer.name == "column":
        wanted = list(s.scorer.columns.values())
        missing = [c for c in wanted if c not in f.columns]
        if not wanted:
            return False, "scorer=column names no score column (+scorer.columns.toxicity=COLUMN)"
        return not missing, f"score columns {wanted}" + (f": {missing} not in the data" if missing else " present")
    n = f.counts["comments_with_text"]
    return n > 0, f"{n:,} comments with text to score (scorer={s.scorer.name})"


def _some(count: str, what: str) -> Check:
    """The check that the data holds one or more of the facts' ``count`` (``what``: how the line names them)."""
    return lambda f, s: (f.counts[count] > 0, f"{f.counts[count]:,} {what}")


def _removed_and_kept(f: Facts, s: RunSettings) -> tuple[bool, str]:
    removed, kept = f.counts["removed"], f.counts["comments"] - f.counts["removed"]
    if s.scorer.name == "column":
        return removed > 0 and kept > 0, f"{removed:,} removed and {kept:,} kept comments"
    removed_text = f.counts["removed_with_text"]
    kept_text = f.counts["comments_with_text"] - removed_text
    return removed_text > 0 and kept_text > 0, (f"{removed:,} removed ({removed_text:,} with text to score) and "
                                                f"{kept:,} kept comments ({kept_text:,} with text)")


def _truth(f: Facts, s: RunSettings) -> tuple[bool, str]:
    truth = s.analysis.params.scorer_validation.truth
    return truth in f.columns, f"truth column {truth!r} " + ("present" if truth in f.columns else "not in the data")


def _politeness(f: Facts, s: RunSettings) -> tuple[bool, str]:
    from toolkit.analysis.civility import strategy_columns

    in_data = strategy_columns(pl.DataFrame(schema={c: pl.Int8 for c in f.columns}))
    if in_data:
        return True, f"{len(in_data)} politeness marker columns in the data"
    scorer = "politeness" in _scorer_names(s)
    return scorer, ("politeness markers from the politeness scorer" if scorer else
                    "politeness markers: none in the data; add extra_scorers=[politeness] (or scorer=politeness)")


def _outcome(f: Facts, s: RunSettings) -> tuple[bool, str]:
    ok, why = _scores(f, s)
    return ok or f.counts["removed"] > 0, f"an outcome: {f.counts['removed']:,} removed comments; {why}"


#: What each analysis needs from the data before scoring (the check's name -> a function of the facts).
CHECKS: dict[str, Check] = {
    "scores": _scores, "text": _some("comments_with_text", "comments with text"),
    "removed_and_kept": _removed_and_kept,
    "replies": _some("replies_to_comments", "replies to a comment in the data (parent -> reply pairs)"),
    "removal_reason": _some("removal_reasons",
                            "stated removal reasons (removal_reason column, from a Lemmy modlog)"),
    "truth": _truth, "politeness": _politeness, "outcome": _outcome,
}

def declared_columns(name: str, f: Facts, s: RunSettings) -> tuple[bool, str]:
    """The columns the analysis' options name (its declaration's ``named``: a truth or reference column, ...)
    are in the data, or are scores the run's scorers will write."""
    from toolkit.analysis.registry import ANALYSES
    from toolkit.vocab import SCORE_LABELS

    analysis = ANALYSES[name]
    options = getattr(s.analysis.params, name, None)
    named = [c for c in analysis.named(options) if c] if options is not None else []
    written = {*SCORE_LABELS, *s.scorer.columns}
    missing = [c for c in named if c not in f.columns and c not in written]
    if not named:
        return True, "names no column of its own"
    return not missing, f"columns its options name {named}" + (f": {missing} not in the data" if missing else
                                                                 " present (or scored)")


#: analysis name -> the finer checks it needs before scoring; an analysis not listed gets its declared columns
#: checked (:func:`declared_columns`), so a new analysis needs no line here.
NEEDS: dict[str, tuple[str, ...]] = {
    "depth_profile": ("scores",),
    "removal_context": ("scores", "removed_and_kept"),
    "removal_prediction": ("scores", "removed_and_kept"),
    "removal_reasons": ("removal_reason",),
    "escalation": ("scores", "replies"),
    "thread_summary": (),
    "thread_length": ("scores",),
    "scorer_agreement": ("text",),
    "scorer_validation": ("scores", "truth"),
    "score_distribution": ("scores",),
    "thread_view": (),
    "thread_tree": (),
    "civility_profile": ("politeness",),
    "derailment": ("politeness", "outcome"),
}


def facts(scan: pl.LazyFrame) -> Facts:
    """Counts over the loaded rows (one lazy pass), for the report and the checks.

    >>> from toolkit.analysis.synthetic import example_threads
    >>> f = facts(example_threads().lazy())
    >>> f.counts["threads"], f.counts["comments"], f.counts["removed"], f.counts["replies_to_comments"]
    (2, 6, 2, 3)
    """
    columns = set(scan.collect_schema().names()) - {"bucket"}
    comment = is_comment()
    reason = pl.col("removal_reason").is_not_null().sum() if "removal_reason" in columns else pl.lit(0)
    row = scan.select(
        pl.len().alias("rows_kept"), pl.col("thread_id").n_unique().alias("threads"),
        pl.col("is_post").fill_null(False).sum().alias("posts"), comment.sum().alias("comments"),
        (comment & pl.col("removed").fill_null(False)).sum().alias("removed"),
        (comment & pl.col("deleted").fill_null(False)).sum().alias("deleted"),
        pl.col("text").is_null().sum().alias("text_null"),
        (comment & pl.col("text").is_not_null()).sum().alias("comments_with_text"),
        (comment & pl.col("removed").fill_null(False) & pl.col("text").is_not_null()).sum().alias("removed_with_text"),
        (comment & (pl.col("structure").cast(pl.String) == "tree") & (pl.col("reply_depth") >= 2)).sum()
        .alias("replies_to_comments"),
        (comment & pl.col("created_at").is_not_null()).sum().alias("with_time"),
        reason.alias("removal_reasons"),
    ).collect().row(0, named=True)
    structure = scan.group_by(pl.col("structure").cast(pl.String)).len().collect()
    return Facts(columns, {k: int(v or 0) for k, v in row.items()},
                 {str(k): int(v) for k, v in sorted(structure.rows(), key=lambda r: str(r[0]))})


def analysis_checks(settings: RunSettings, f: Facts) -> list[tuple[str, bool, list[str]]]:
    """Per analysis of ``analysis.run``: whether the data holds all it needs, and each check's line."""
    out = []
    for name in settings.analysis.run:
        checks = ([CHECKS[check](f, settings) for check in NEEDS[name]] if name in NEEDS
                  else [declared_columns(name, f, settings)])
        results = [(ok, f"{'ok' if ok else 'MISSING'}: {why}") for ok, why in checks]
        out.append((name, all(ok for ok, _ in results), [line for _, line in results] or ["ok: needs only threads"]))
    return out


#: The columns the first rows show (then any column the loader added beyond the canonical ones).
SHOWN = ("thread_id", "comment_id", "parent_id", "is_post", "reply_depth", "structure", "created_at", "author",
         "removed", "deleted", "text")


def head(scan: pl.LazyFrame, rows: int, text_width: int = 40) -> pl.DataFrame:
    """The first ``rows`` rows, in the columns a user checks a mapping by (text cut to ``text_width``)."""
    from toolkit.schema import COMMENT_SCHEMA

    names = scan.collect_schema().names()
    extras = [c for c in names if c not in COMMENT_SCHEMA and c != "bucket"]
    return scan.head(rows).select(
        *[c for c in SHOWN if c in names and c != "text"], *extras,
        pl.col("text").str.slice(0, text_width).str.replace_all(r"\s+", " "),
    ).collect()


def inspect_run(settings: RunSettings, rows: int = 5) -> dict[str, Any]:
    """Load ``settings``' data as a run would (the corpus store, no scoring) and gather the dry-run report.

    Raises:
        ConfigError: an unknown analysis in ``analysis.run``.
        LoadError: the data cannot be loaded (as the run would).
    """
    from toolkit.analysis.registry import ANALYSES
    from toolkit.errors import ConfigError
    from toolkit.io.paths import resolve_data_path
    from toolkit.scoring.cache import resolve_cache_dir
    from toolkit.store import open_corpus

    unknown = sorted(set(settings.analysis.run) - set(ANALYSES))
    if unknown:
        raise ConfigError("analysis.run", f"unknown analyses {unknown}; known: {', '.join(sorted(ANALYSES))}")
    data_path = resolve_data_path(settings.dataset.path)
    store = open_corpus(settings.dataset, data_path, resolve_cache_dir(settings.scorer.cache_dir))
    rejects = store.table("rejects")
    rejects = rejects if rejects is not None else pl.DataFrame()
    scan = store.scan()
    f = facts(scan)
    counts = {"rows_in": f.counts["rows_kept"] + rejects.height, "rows_kept": f.counts["rows_kept"],
              "rows_rejected": rejects.height, **{k: v for k, v in f.counts.items() if k != "rows_kept"}}
    return {"experiment": settings.experiment, "data": str(data_path), "format": settings.dataset.format,
            "counts": counts, "structure": f.structure, "head": head(scan, rows),
            "rejects": rejects.head(rows), "analyses": analysis_checks(settings, f)}


def render(report: dict[str, Any]) -> str:
    """The dry-run report as text."""
    c = report["counts"]
    lines = [
        f"{report['experiment']}: {report['data']} (format {report['format'] or 'auto'}); dry run: nothing scored",
        f"rows: {c['rows_in']:,} in, {c['rows_kept']:,} kept, {c['rows_rejected']:,} rejected",
        f"threads {c['threads']:,}, posts {c['posts']:,}, comments {c['comments']:,}: removed {c['removed']:,}, "
        f"deleted {c['deleted']:,}; text null {c['text_null']:,} rows (comments with text {c['comments_with_text']:,})",
        "structure: " + ", ".join(f"{k} {v:,}" for k, v in report["structure"].items()),
    ]
    if report["rejects"].height:
        lines += ["rejected rows (first):", str(report["rejects"])]
    with pl.Config(tbl_cols=-1, tbl_width_chars=400, fmt_str_lengths=60, tbl_hide_dataframe_shape=True,
                   tbl_hide_column_data_types=True, tbl_formatting="ASCII_MARKDOWN"):
        lines += [f"first {report['head'].height} rows:", str(report["head"])]
    lines.append("analyses (analysis.run):")
    for name, ok, checks in report["analyses"]:
        lines.append(f"  {name}: {'ready' if ok else 'would be skipped'}")
        lines += [f"    {line}" for line in checks]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``toolkit-inspect``; returns the exit status."""
    parser = argparse.ArgumentParser(prog="toolkit-inspect", description=__doc__.split("\n\n")[0],
                                     epilog="e.g. toolkit-inspect dataset=file dataset.path=mine.csv "
                                            "'+dataset.options.columns={text: body, removed: was_removed}'")
    parser.add_argument("overrides", nargs="*", help="config overrides, as for toolkit")
    parser.add_argument("--rows", type=int, default=5, help="how many first rows to print (default: 5)")
    args = parser.parse_intermixed_args(argv)
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from toolkit.cli.app import compose_config, to_settings
    from toolkit.errors import ToolkitError

    try:
        print(render(inspect_run(to_settings(compose_config(args.overrides)), rows=args.rows)))
    except (ToolkitError, HydraException, OmegaConfBaseException) as err:
        print(f"toolkit-inspect: error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
