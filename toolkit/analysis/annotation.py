"""A sample of the corpus to label by hand, and the labels read back: validate a scorer on your own labels.

``annotation_sample`` draws a seeded, stratified sample: strata are the score quantiles of each scorer (column)
jointly, so the cells where scorers disagree (one high, the other low) are strata of their own and get as many
comments as any other; within a stratum each comment is drawn independently (Poisson sampling) with a known
inclusion probability, lowered for comments of big threads so that no thread contributes more than
``max_per_thread`` comments per stratum in expectation. It writes a blinded sheet (``annotation/sample.csv``:
item id, text, parent text, one empty label column per annotator; no scores, items in random order) and a key
(``annotation/key.csv``: item -> comment, thread, stratum, inclusion probability, weight = 1 / probability).

The filled-in sheet comes back through :func:`read_annotations` (one or several annotators, in one or several
CSV files), feeding ``scorer_validation`` (``analysis.params.scorer_validation.annotations=DIR``) with the
inverse-probability weights, so its AUC, precision and recall estimate the corpus, not the sample; agreement
between annotators is Krippendorff's alpha (the ``krippendorff`` package) with an item-bootstrap CI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from toolkit.analysis.common import comments_only
from toolkit.analysis.declare import Analysis, AnalysisContext, applicable
from toolkit.analysis.stats import percentile_ci
from toolkit.errors import ConfigError
from toolkit.outputs import AnalysisOutput, FigureSpec
from toolkit.vocab import FALSE_WORDS, TRUE_WORDS

LABEL_PREFIX = "label_"  # the sheet's label columns: label_<annotator>
ITEM = "item_id"
KEY_FILE, SHEET_FILE = "key.csv", "sample.csv"

STRATA_SCHEMA = {
    "stratum": pl.String, "cell": pl.String, "disagreement": pl.Int64, "n": pl.Int64, "n_expected": pl.Float64, "n_sampled": pl.Int64,
    "inclusion_mean": pl.Float64, "inclusion_low": pl.Float64, "inclusion_high": pl.Float64,
}
AGREEMENT_SCHEMA = {
    "annotators": pl.String, "n_items": pl.Int64, "n_labels": pl.Int64, "alpha": pl.Float64,
    "alpha_low": pl.Float64, "alpha_high": pl.Float64, "ci_method": pl.String,
}


@dataclass
class AnnotationSampleOptions:
    """``n``: expected sample size; ``columns``: score columns whose quantiles make the strata (null: the run's
    label); ``quantiles`` per column; ``max_per_thread``: expected comments of one thread per stratum at most
    (comments of a flat source are each their own unit); ``annotators``: one empty label column each."""

    n: int = 200
    columns: list[str] | None = None
    quantiles: int = 4
    max_per_thread: int = 2
    annotators: list[str] = field(default_factory=lambda: ["annotator_1", "annotator_2"])


def quantile_bins(values: pl.Series, q: int) -> pl.Series:
    """Each value's quantile bin 0..q-1 by rank (ties share the lowest rank, so a tied value never straddles
    two bins).

    >>> quantile_bins(pl.Series([0.1, 0.1, 0.1, 0.5, 0.9, 0.7, 0.3, 0.2]), 4).to_list()
    [0, 0, 0, 2, 3, 3, 2, 1]
    """
    n = values.len()
    ranks = values.rank("min").cast(pl.Int64) - 1
    return ((ranks * q) // max(n, 1)).clip(0, q - 1).alias(values.name)


def water_level(caps: np.ndarray, target: float) -> np.ndarray:
    """Inclusion probabilities ``min(level, cap)`` summing to ``target`` (at most ``caps.sum()``): equal
    probabilities, lowered where a comment's cap (its thread's share) is lower.

    >>> water_level(np.array([1.0, 1.0, 0.25, 0.25]), 1.5).tolist()
    [0.5, 0.5, 0.25, 0.25]
    """
    caps = np.asarray(caps, np.float64)
    if target >= caps.sum():
        return caps.copy()
    ordered = np.sort(caps)
    before = np.r_[0.0, np.cumsum(ordered)]  # the smallest k caps taken whole, the rest at the level
    for k in range(ordered.size):
        level = (target - before[k]) / (ordered.size - k)
        if level <= ordered[k]:
            return np.minimum(level, caps)
    return caps.copy()  # pragma: no cover - target < caps.sum() ends the loop


def allocate(capacity: np.ndarray, n: float) -> np.ndarray:
    """Equal allocation of ``n`` over strata, none given more than its capacity (the rest shared by the others).

    >>> allocate(np.array([2.0, 50.0, 50.0]), 32).tolist()
    [2.0, 15.0, 15.0]
    """
    out = np.zeros(capacity.size)
    left, remaining = n, list(np.argsort(capacity, kind="stable"))
    while remaining:
        share = left / len(remaining)
        h = remaining.pop(0)
        out[h] = min(capacity[h], share)
        left -= out[h]
    return out


def sampling_units(rows: pl.DataFrame) -> pl.Series:
    """The unit a comment counts against for ``max_per_thread``: its thread, or itself where the source is flat
    (independent comments with no reply tree)."""
    if "structure" in rows.columns:
        return rows.select(pl.when(pl.col("structure").cast(pl.String) == "flat").then(pl.col("comment_id"))
                           .otherwise(pl.col("thread_id")).alias("unit")).to_series()
    return rows["thread_id"].alias("unit")


def annotation_sample(frame: pl.DataFrame, columns: list[str], *, n: int = 200, quantiles: int = 4,
                      max_per_thread: int = 2, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A seeded stratified Poisson sample of the comments with text and every score in ``columns``.

    Returns:
        ``(sample, strata)``: the sampled comments (``item_id`` in random order, ``comment_id``, ``thread_id``,
        ``text``, ``parent_text``, ``stratum``, ``disagreement`` (largest gap between the columns' quantile
        bins), ``inclusion_probability``, ``weight`` = 1 / probability, and the scores), sorted by item; and one
        row per stratum (``cell``: its quantile of each column, e.g. ``1·4``; comments, expected and drawn
        sample, inclusion probabilities).

    Example:
        Two scorers that disagree on half the comments; 40 expected of 400:

        >>> from toolkit.analysis.synthetic import make_frame
        >>> rng = np.random.default_rng(0)
        >>> a = rng.uniform(size=400)
        >>> b = np.where(np.arange(400) % 2 == 0, a, 1 - a)
        >>> frame = make_frame([{"thread": f"t{i // 4}", "id": f"c{i}", "parent": f"t{i // 4}", "score": a[i],
        ...                      "other": b[i]} for i in range(400)])
        >>> sample, strata = annotation_sample(frame, ["toxicity", "other"], n=40, quantiles=2)
        >>> strata.select("stratum", "n", pl.col("n_expected").round(6)).rows()  # doctest: +NORMALIZE_WHITESPACE
        [('toxicity q1 · other q1', 102, 10.0), ('toxicity q1 · other q2', 98, 10.0),
         ('toxicity q2 · other q1', 98, 10.0), ('toxicity q2 · other q2', 102, 10.0)]
        >>> sample.height == strata["n_sampled"].sum(), sorted(set(sample["weight"].round(2)))  # 102 / 10, 98 / 10
        (True, [9.8, 10.2])
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing or not columns:
        raise ConfigError("analysis.params.annotation_sample.columns", f"score columns {missing or columns} not "
                          f"in the data (columns: {frame.columns}); name two or more scorers' columns")
    rows = comments_only(frame).filter(pl.col("text").is_not_null(), *[
        pl.col(c).is_not_null() & pl.col(c).is_not_nan() for c in columns])
    bins = pl.DataFrame([quantile_bins(rows[c].cast(pl.Float64), quantiles) for c in columns])
    rows = rows.with_columns(
        pl.concat_str([pl.lit(f"{c} q") + (bins[c] + 1).cast(pl.String) for c in columns], separator=" · ")
        .alias("stratum"),
        pl.concat_str([(bins[c] + 1).cast(pl.String) for c in columns], separator="·").alias("cell"),
        (pl.max_horizontal(bins) - pl.min_horizontal(bins)).cast(pl.Int64).alias("disagreement"),
        sampling_units(rows))
    per_unit = pl.len().over("stratum", "unit")
    rows = rows.with_columns(pl.min_horizontal(pl.lit(1.0), max_per_thread / per_unit).alias("_cap"))
    strata = rows.group_by("stratum", maintain_order=True).agg(
        pl.first("cell"), pl.first("disagreement"), pl.len().cast(pl.Int64).alias("n"), pl.col("_cap").sum().alias("_capacity")
    ).sort("stratum")
    targets = dict(zip(strata["stratum"], allocate(strata["_capacity"].to_numpy(), float(n)), strict=True))
    code = rows["stratum"].to_numpy()
    caps = rows["_cap"].to_numpy()
    probability = np.zeros(rows.height)
    for stratum, target in targets.items():
        inside = code == stratum
        probability[inside] = water_level(caps[inside], target)
    rng = np.random.default_rng(seed)
    drawn = rng.uniform(size=rows.height) < probability
    parents = frame.select(pl.col("comment_id").alias("parent_id"), pl.col("text").alias("parent_text"))
    sample = (rows.with_columns(pl.Series("inclusion_probability", probability))
              .filter(pl.Series(drawn)).join(parents, on="parent_id", how="left", maintain_order="left"))
    order = rng.permutation(sample.height)  # item ids in random order: the sheet says nothing of the strata
    width = max(4, len(str(sample.height)))
    sample = sample.with_columns(
        pl.Series(ITEM, [f"item-{k + 1:0{width}d}" for k in np.argsort(order)]),
        (1.0 / pl.col("inclusion_probability")).alias("weight"),
    ).select(ITEM, "comment_id", "thread_id", "text", "parent_text", "stratum", "disagreement",
             "inclusion_probability", "weight", *columns).sort(ITEM)
    summary = rows.with_columns(pl.Series("p", probability), pl.Series("drawn", drawn)).group_by("stratum").agg(
        pl.col("p").sum().alias("n_expected"), pl.col("drawn").sum().cast(pl.Int64).alias("n_sampled"),
        pl.col("p").mean().alias("inclusion_mean"), pl.col("p").min().alias("inclusion_low"),
        pl.col("p").max().alias("inclusion_high"))
    strata = strata.join(summary, on="stratum", maintain_order="left").select(list(STRATA_SCHEMA)).cast(STRATA_SCHEMA)  # type: ignore[arg-type]
    return sample, strata


def blinded_sheet(sample: pl.DataFrame, annotators: list[str]) -> pl.DataFrame:
    """The sheet annotators fill in: item id, text, parent text and an empty ``label_<annotator>`` column each.

    >>> blinded_sheet(pl.DataFrame({"item_id": ["item-0001"], "text": ["hi"], "parent_text": [None],
    ...                             "toxicity": [0.2]}), ["ann"]).columns
    ['item_id', 'text', 'parent_text', 'label_ann']
    """
    if not annotators or len(set(annotators)) != len(annotators):
        raise ConfigError("analysis.params.annotation_sample.annotators", f"give distinct annotator names, got "
                          f"{annotators}")
    return sample.select(ITEM, "text", "parent_text", *[pl.lit(None, pl.String).alias(f"{LABEL_PREFIX}{a}")
                                                        for a in annotators])


def run_annotation_sample(frame: pl.DataFrame, ctx: AnalysisContext) -> AnalysisOutput:
    """The blinded sheet and key under ``annotation/``, and the strata table and figure."""
    o = ctx.params.annotation_sample
    columns = list(o.columns or [ctx.label])
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        return AnalysisOutput(skipped=f"score columns {absent} not in the data (analysis.params.annotation_sample"
                                      ".columns)")
    sample, strata = annotation_sample(frame, columns, n=o.n, quantiles=o.quantiles,
                                       max_per_thread=o.max_per_thread, seed=ctx.seed)
    if sample.height == 0:
        return AnalysisOutput(skipped=f"no comment with text and scores in {', '.join(columns)} to sample")
    key = sample.drop("text", "parent_text")
    files = {f"annotation/{SHEET_FILE}": blinded_sheet(sample, list(o.annotators)).write_csv(),
             f"annotation/{KEY_FILE}": key.write_csv()}
    left_out = comments_only(frame).height - int(strata["n"].sum())
    spec = FigureSpec("annotation_strata", "rate_bars", "Sample to label: inclusion probability by stratum",
                      ctx.caption(f"{sample.height:,} comments drawn of {int(strata['n'].sum()):,} (expected "
                                  f"{o.n}), seed {ctx.seed}", f"{left_out:,} comments without text or a score in "
                                  f"{', '.join(columns)} not in the sampling frame" if left_out else "",
                                  "bars: mean probability; whiskers: its range "
                                  f"within the stratum (threads capped at {o.max_per_thread} per stratum)"),
                      {"x": "cell", "y": "inclusion_mean", "low": "inclusion_low", "high": "inclusion_high",
                       "xlabel": f"stratum: quantile of {' · '.join(columns)}", "ylabel": "inclusion probability",
                       "min_width": "double"})
    out = applicable({"annotation_strata": strata}, [(spec, strata)], {})
    out.files = files
    return out


# ------------------------------------------------------------------------------------------- labels back


def parse_labels(values: pl.Series) -> pl.Series:
    """A label column as 1.0 / 0.0 / null: true/false, yes/no, 1/0 (any case); empty = not labelled.

    >>> parse_labels(pl.Series("label_a", ["1", "no", "", None, "Yes"])).to_list()
    [1.0, 0.0, None, None, 1.0]
    >>> parse_labels(pl.Series("label_a", ["maybe"]))
    Traceback (most recent call last):
    toolkit.errors.ConfigError: label_a: 'maybe' is not a label; use 1/0, yes/no or true/false (empty: not labelled)
    """
    text = values.cast(pl.String).str.strip_chars().str.to_lowercase()
    out = pl.select(pl.when(text.is_in(TRUE_WORDS)).then(1.0).when(text.is_in(FALSE_WORDS)).then(0.0)
                    .otherwise(None)).to_series().alias(values.name)
    bad = values.filter(out.is_null() & text.is_not_null() & (text != ""))
    if bad.len():
        raise ConfigError(values.name, f"{bad[0]!r} is not a label; use 1/0, yes/no or true/false (empty: not "
                                       "labelled)")
    return out


def read_annotations(directory: str | Path) -> tuple[pl.DataFrame, list[str]]:
    """The labels in an annotation directory joined to its key: every CSV there but ``key.csv`` holding
    ``item_id`` and ``label_<annotator>`` columns (one sheet with all annotators, or one file each; the same
    annotator's label in two files must agree).

    Returns:
        ``(labels, annotators)``: the key's rows with one 1/0/null column per annotator (``label_<name>``).

    Raises:
        ConfigError: no key, no labels, an item not in the key, a label that is not one, or two files giving
        one annotator different labels for an item (naming the file and item).
    """
    directory = Path(directory).expanduser()
    key_path = directory / KEY_FILE
    if not key_path.is_file():
        raise ConfigError("annotations", f"no {KEY_FILE} in {directory} (the annotation_sample run's annotation/)")
    key = pl.read_csv(key_path, infer_schema_length=0)  # ids stay text as written (leading zeros too)
    key = key.with_columns(pl.col(c).cast(pl.Float64) for c in ("inclusion_probability", "weight") if c in key.columns)
    labels = key.select(ITEM)
    for path in sorted(p for p in directory.glob("*.csv") if p.name != KEY_FILE):
        sheet = pl.read_csv(path, infer_schema_length=0)  # every column as text
        columns = [c for c in sheet.columns if c.startswith(LABEL_PREFIX)]
        if ITEM not in sheet.columns or not columns:
            continue
        unknown = sheet.join(key, on=ITEM, how="anti")
        if unknown.height:
            raise ConfigError("annotations", f"{path}: item {unknown[ITEM][0]!r} is not in {key_path}")
        try:
            parsed = sheet.select(ITEM, *[parse_labels(sheet[c]) for c in columns])
        except ConfigError as err:
            raise ConfigError("annotations", f"{path}: {err}") from None
        for c in columns:
            if c not in labels.columns:
                labels = labels.with_columns(pl.lit(None, pl.Float64).alias(c))
            both = labels.join(parsed.select(ITEM, pl.col(c).alias("_new")), on=ITEM, how="left")
            clash = both.filter(pl.col(c).is_not_null() & pl.col("_new").is_not_null() & (pl.col(c) != pl.col("_new")))
            if clash.height:
                raise ConfigError("annotations", f"{path}: {c} labels item {clash[ITEM][0]!r} differently from an "
                                  "earlier file")
            labels = both.with_columns(pl.coalesce(c, "_new").alias(c)).drop("_new")
    annotators = [c for c in labels.columns if c.startswith(LABEL_PREFIX)]
    if not annotators:
        raise ConfigError("annotations", f"no sheet with {ITEM} and {LABEL_PREFIX}<annotator> columns in {directory}")
    return key.join(labels, on=ITEM, how="left", maintain_order="left"), annotators


def majority(labels: pl.DataFrame, annotators: list[str], name: str = "human") -> pl.DataFrame:
    """``labels`` with ``name``: True when most annotators who labelled the item said 1, False when most said
    0, null on a tie or no label; and ``n_labels``.

    >>> t = pl.DataFrame({"label_a": [1.0, 1.0, None, 0.0], "label_b": [1.0, 0.0, None, None]})
    >>> majority(t, ["label_a", "label_b"])["human"].to_list()
    [True, None, None, False]
    """
    votes = pl.sum_horizontal(annotators)
    count = pl.sum_horizontal([pl.col(a).is_not_null().cast(pl.Int64) for a in annotators])
    return labels.with_columns(
        pl.when(count == 0).then(None).when(votes * 2 > count).then(True).when(votes * 2 < count).then(False)
        .otherwise(None).alias(name), count.alias("n_labels"))


def krippendorff_alpha(labels: pl.DataFrame, annotators: list[str], *, n_boot: int = 1000,
                       seed: int = 0) -> pl.DataFrame:
    """Krippendorff's alpha (nominal; the ``krippendorff`` package) between ``annotators`` over the items at
    least two of them labelled, with a percentile CI from resampling items.

    Example:
        Two annotators agree on 4 of 5 items (values 1, 1, 0, 0 and 1 vs 0):

        >>> t = pl.DataFrame({"label_a": [1.0, 1.0, 0.0, 0.0, 1.0], "label_b": [1.0, 1.0, 0.0, 0.0, 0.0]})
        >>> krippendorff_alpha(t, ["label_a", "label_b"], n_boot=100).select("n_items", pl.col("alpha").round(3)).rows()
        [(5, 0.64)]
    """
    import krippendorff

    data = labels.select(annotators).to_numpy().astype(np.float64).T  # annotators x items
    pairable = (~np.isnan(data)).sum(axis=0) >= 2
    data = data[:, pairable]
    n_items = int(data.shape[1])

    def alpha(d: np.ndarray) -> float:
        values = d[~np.isnan(d)]
        if d.shape[1] == 0 or np.unique(values).size < 2:
            return float("nan")  # one value everywhere: alpha is undefined
        return float(krippendorff.alpha(reliability_data=d, level_of_measurement="nominal"))

    estimate = alpha(data) if len(annotators) >= 2 else float("nan")
    rng = np.random.default_rng(seed)
    reps = np.array([alpha(data[:, rng.integers(0, n_items, n_items)]) for _ in range(n_boot)]) if (
        n_items and not np.isnan(estimate)) else np.full(0, np.nan)
    low, high = percentile_ci(reps)
    names = ", ".join(a[len(LABEL_PREFIX):] for a in annotators)
    return pl.DataFrame([{"annotators": names, "n_items": n_items, "n_labels": int((~np.isnan(data)).sum()),
                          "alpha": estimate, "alpha_low": float(low), "alpha_high": float(high),
                          "ci_method": f"item bootstrap ({n_boot} replicates, seed {seed})"}], schema=AGREEMENT_SCHEMA)


DECLARED = (
    Analysis("annotation_sample", run_annotation_sample, AnnotationSampleOptions,
             reads=("thread_id", "comment_id", "parent_id", "is_post", "text", "structure"),
             named=lambda o: list(o.columns or ()), tables=("annotation_strata",), figures=("annotation_strata",)),
)
