"""Robustness to the instrument: does a conclusion survive a change of scorer?

Each analysis in ``analyses`` is run once per score column: the run's own label (the main scorer) and the
columns of the further ``scorers`` (names or ``{name: ..., ...}`` entries, ``column`` scorers included, so human
labels and archived scores take part), which the pipeline scores from the cache and adds to the buckets as
``<scorer>.<label>`` before this analysis sees them (``toolkit.scoring.further.with_further_scores``). Each run is
exactly the plain analysis with that column as ``analysis.label``. One row per (analysis, estimate, scorer)
says whether the estimate agrees with the main scorer's in sign (against the estimate's null) and in
significance (p < ``alpha``), and a specification-curve figure shows them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import polars as pl

from toolkit.analysis.agreement import SCORERS_SCHEMA
from toolkit.analysis.common import Corpus, Frames
from toolkit.analysis.declare import Analysis, AnalysisContext
from toolkit.errors import ConfigError
from toolkit.outputs import AnalysisOutput, FigureSpec

ROBUSTNESS_SCHEMA = {
    "analysis": pl.String, "estimate": pl.String, "scorer": pl.String, "column": pl.String, "main": pl.Boolean,
    "value": pl.Float64, "low": pl.Float64, "high": pl.Float64, "p_value": pl.Float64, "null": pl.Float64,
    "n": pl.Int64, "same_sign": pl.Boolean, "same_significance": pl.Boolean, "agrees": pl.Boolean,
}

# analysis -> where its estimates are: (table, estimate-name column, value, low, high, p-value, null value).
# A null of None reads it from the estimate's name (1 for ratios, else 0).
ESTIMATES: dict[str, tuple[str, str, str, str, str, str, float | None]] = {
    "escalation": ("escalation", "measure", "estimate", "low", "high", "p_value", None),
    "removal_prediction": ("removal_auc", "label", "roc_auc", "roc_low", "roc_high", "roc_p_value", 0.5),
}
KEY = "analysis.params.robustness"


@dataclass
class RobustnessOptions:
    """``scorers``: further scorers (names or ``{name: ..., ...}``, e.g. ``{name: column, columns: {toxicity:
    offensive}}`` for human labels); ``analyses``: which analyses to repeat per scorer (those of
    ``ESTIMATES``); ``alpha``: the significance level of the agreement; ``label``: which label of a further
    scorer stands in for the run's (null: the run's ``analysis.label``)."""

    scorers: list[Any] = field(default_factory=list)
    analyses: list[str] = field(default_factory=lambda: ["escalation"])
    alpha: float = 0.05
    label: str | None = None


def estimates_of(name: str, output: AnalysisOutput) -> pl.DataFrame:
    """An analysis' estimates as ``estimate, value, low, high, p_value, null, n`` (empty when skipped).

    >>> out = AnalysisOutput({"escalation": pl.DataFrame({"measure": ["risk ratio (a / b)"], "estimate": [2.0],
    ...     "low": [1.5], "high": [3.0], "p_value": [0.01], "n": [40]})})
    >>> estimates_of("escalation", out).row(0)
    ('risk ratio (a / b)', 2.0, 1.5, 3.0, 0.01, 1.0, 40)
    """
    table_name, key, value, low, high, p, null = ESTIMATES[name]
    schema = {k: ROBUSTNESS_SCHEMA[k] for k in ("estimate", "value", "low", "high", "p_value", "null", "n")}
    table = output.tables.get(table_name)
    if table is None or table.height == 0:
        return pl.DataFrame(schema=schema)
    rows = [{"estimate": str(r[key]), "value": r[value], "low": r[low], "high": r[high], "p_value": r[p],
             "null": float("ratio" in str(r[key])) if null is None else null, "n": r.get("n")}
            for r in table.iter_rows(named=True)]
    return pl.DataFrame(rows, schema=schema)


def run_once(name: str, data: Frames, ctx: AnalysisContext, column: str) -> AnalysisOutput:
    """``name`` run as the pipeline runs it, with ``column`` as the score label: a bucketed analysis on the
    buckets with its columns, another on one frame of them in input order."""
    from toolkit.analysis.registry import ANALYSES, columns_for

    analysis = ANALYSES[name]
    corpus = data if isinstance(data, Corpus) else Corpus((data,))
    selected = corpus.select(columns_for([name], corpus.schema, ctx.params))
    if not analysis.bucketed:
        selected = pl.concat(list(selected.buckets())).sort("source_position", "thread_id", maintain_order=True,
                                                            nulls_last=True)
    return analysis(selected, replace(ctx, label=column, labels=[column]))


def agreement_with_main(table: pl.DataFrame, alpha: float) -> pl.DataFrame:
    """``same_sign``, ``same_significance`` and ``agrees`` (both) of each row against the main scorer's row
    for the same (analysis, estimate); null where either has no p-value (a rate, not a test).

    >>> t = pl.DataFrame({"analysis": ["e"] * 3, "estimate": ["rd"] * 3, "main": [True, False, False],
    ...     "value": [0.2, 0.1, -0.1], "p_value": [0.01, 0.2, 0.01], "null": [0.0] * 3})
    >>> agreement_with_main(t, 0.05)["agrees"].to_list()
    [True, False, False]
    """
    main = table.filter(pl.col("main")).select(
        "analysis", "estimate", pl.col("value").alias("_mv"), pl.col("p_value").alias("_mp"))
    t = table.join(main, on=["analysis", "estimate"], how="left", maintain_order="left")
    testable = (pl.col("p_value").is_not_nan() & pl.col("_mp").is_not_nan() & pl.col("value").is_not_nan()
                & pl.col("_mv").is_not_nan())
    sign = ((pl.col("value") - pl.col("null")).sign() == (pl.col("_mv") - pl.col("null")).sign())
    sig = (pl.col("p_value") < alpha) == (pl.col("_mp") < alpha)
    return t.with_columns(
        pl.when(testable).then(sign).alias("same_sign"), pl.when(testable).then(sig).alias("same_significance"),
        pl.when(testable).then(sign & sig).alias("agrees")).drop("_mv", "_mp")


def verdict(table: pl.DataFrame) -> str:
    """The run summary's line: how many of the other scorers' testable estimates agree with the main's.

    >>> verdict(pl.DataFrame({"main": [True, False, False], "agrees": [True, True, False]}))
    'robustness: 1 of 2 estimates agree with the main scorer (in sign and significance)'
    """
    others = table.filter(~pl.col("main") & pl.col("agrees").is_not_null())
    return (f"robustness: {int(others['agrees'].sum())} of {others.height} estimates agree with the main scorer "
            "(in sign and significance)")


def run_robustness(data: Frames, ctx: AnalysisContext) -> AnalysisOutput:
    """Each of ``analyses`` once per score column (main first), their estimates side by side."""
    o = ctx.params.robustness
    unknown = [n for n in o.analyses if n not in ESTIMATES]
    if unknown:
        raise ConfigError(f"{KEY}.analyses", f"{unknown}: robustness reads the estimates of "
                                             f"{', '.join(ESTIMATES)}")
    schema = (data if isinstance(data, Corpus) else Corpus((data,))).schema
    further = [s for s in ctx.scorers if s.get("used") and s.get("robustness")]
    label = o.label or ctx.label
    main = f"run scorer ({ctx.label})"
    columns = [(main, ctx.label, True)]
    for s in further:
        wanted = [c for c in s["columns"].split(", ") if c.endswith(f".{label}")] or s["columns"].split(", ")[:1]
        columns += [(s["scorer"], c, False) for c in wanted if c in schema]
    rows = []
    for name in o.analyses:
        for scorer, column, main in columns:
            est = estimates_of(name, run_once(name, data, ctx, column))
            rows.append(est.with_columns(pl.lit(name).alias("analysis"), pl.lit(scorer).alias("scorer"),
                                         pl.lit(column).alias("column"), pl.lit(main).alias("main")))
    empty = pl.DataFrame(schema={k: v for k, v in ROBUSTNESS_SCHEMA.items()
                                 if k not in ("same_sign", "same_significance", "agrees")})
    table = pl.concat([empty, *(r.select(empty.columns) for r in rows)], how="vertical_relaxed")
    if table.filter(pl.col("main")).height == 0:
        return AnalysisOutput(skipped=f"the main scorer gave no estimate for {', '.join(o.analyses)}")
    table = agreement_with_main(table, o.alpha).select(list(ROBUSTNESS_SCHEMA))
    status = [s for s in ctx.scorers if s.get("robustness")]
    not_used = [f"{s['scorer']} ({s['note']})" for s in status if not s["used"]]
    spec = FigureSpec("robustness", "specification_curve", "Estimates by scorer",
                      ctx.caption(verdict(table), f"agreement: same sign vs the null and same significance at "
                                  f"p < {o.alpha:g}", f"not used: {'; '.join(not_used)}" if not_used else ""),
                      {"main": main, "min_width": "double"})
    tables = {"robustness": table}
    if status:
        tables["robustness_scorers"] = pl.DataFrame(status, schema=SCORERS_SCHEMA)
    return AnalysisOutput(tables, [(spec, table)])


def _reads(options: RobustnessOptions) -> list[str]:
    """The columns the repeated analyses read (and their options name)."""
    from toolkit.analysis.registry import ANALYSES, AnalysisParams

    params = AnalysisParams()
    out: list[str] = []
    for name in options.analyses:
        a = ANALYSES.get(name)
        if a is not None:
            out += [*a.reads, *(a.named(getattr(params, name)) if a.options else ())]
    return list(dict.fromkeys(out))


DECLARED = (
    Analysis("robustness", run_robustness, RobustnessOptions, bucketed=True, reads=("thread_id", "is_post"),
             named=_reads, tables=("robustness", "robustness_scorers"), figures=("robustness",)),
)
