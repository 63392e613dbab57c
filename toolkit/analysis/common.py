"""Helpers shared by the analyses: comment rows, time order, parent scores, binned profiles with CIs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np
import polars as pl

from toolkit.analysis.stats import COMMENT_BOOTSTRAP, THREAD_BOOTSTRAP, GroupIntervals, cell_means
from toolkit.errors import ConfigError
from toolkit.schema import is_comment, scored
from toolkit.store.corpus import Corpus
from toolkit.vocab import SCORE_LABELS, truth_value

PARENT_BINS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # parent-toxicity bins of removal_context and escalation

KNOWN_LABELS = SCORE_LABELS  # the labels toolkit scorers write: found as score columns when none are named

PROFILE_SCHEMA: dict[str, pl.DataType] = {
    "bin": pl.String(), "bin_order": pl.Float64(), "n": pl.Int64(), "n_unscored": pl.Int64(),
    "n_threads": pl.Int64(), "mean": pl.Float64(), "mean_low": pl.Float64(), "mean_high": pl.Float64(),
    "share_above": pl.Float64(), "share_low": pl.Float64(), "share_high": pl.Float64(),
    "threshold": pl.Float64(), "ci_method": pl.String(),
}


def comments_only(frame: pl.DataFrame) -> pl.DataFrame:
    """The comment rows (the post left out): every per-comment statistic counts replies, not the post.

    Example:
        >>> from toolkit.analysis.synthetic import make_frame
        >>> frame = make_frame([{"thread": "t", "id": "t"}, {"thread": "t", "id": "c1", "parent": "t"}])
        >>> comments_only(frame)["comment_id"].to_list()
        ['c1']
    """
    return frame.filter(is_comment())


def require_truth(frame: pl.DataFrame, truth: str, key: str) -> None:
    """A ConfigError under ``key`` unless ``frame`` has the ``truth`` column."""
    if truth not in frame.columns:
        raise ConfigError(key, f"needs a boolean truth column {truth!r} (e.g. human labels); columns: {frame.columns}")


def labelled_rows(frame: pl.DataFrame, truth: str, label: str, *, key: str = "truth",
                  weight: str | None = None) -> pl.DataFrame:
    """The rows every prediction and validation metric is computed on: comments with a score in ``label``
    and a known ``truth`` (parsed as Boolean by :func:`truth_column`), and a ``weight`` where one is named.

    Raises:
        ConfigError: no ``truth`` column (under ``key``, the option that names it).

    Example:
        >>> from toolkit.analysis.synthetic import example_threads
        >>> labelled_rows(example_threads(), "removed", "toxicity").height  # the six comments
        6
    """
    require_truth(frame, truth, key)
    return truth_column(comments_only(frame), truth).filter(
        scored(label), pl.col(truth).is_not_null(), *([pl.col(weight).is_not_null()] if weight is not None else []))


def score_columns(frame: pl.DataFrame, labels: Sequence[str] | None = None) -> list[str]:
    """The names of the score columns: ``labels`` as given (checked), else the known labels in ``frame``.

    Args:
        frame: a scored comment frame.
        labels: the columns wanted; None or empty = every known label (``toxicity``, ``insult``, ...)
            present as a float column.

    Returns:
        The column names, in the order given (else in ``KNOWN_LABELS`` order).

    Raises:
        ConfigError: a named column is not in the frame (key ``labels``).

    Example:
        >>> from toolkit.analysis.synthetic import make_frame
        >>> frame = make_frame([{"thread": "t", "id": "t", "score": 0.2}])
        >>> score_columns(frame)
        ['toxicity']
        >>> score_columns(frame, ["insult"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        toolkit.errors.ConfigError: labels: score columns ['insult'] not in the frame ...
    """
    if labels:
        return named_columns(frame, labels, "labels", "score columns", "the scorer")
    return [c for c in KNOWN_LABELS if c in frame.columns and frame[c].dtype.is_float()]


def named_columns(frame: pl.DataFrame, names: Sequence[str], key: str, what: str, writer: str) -> list[str]:
    """``names`` as a list once every one is a column of ``frame``; else a ConfigError under ``key`` naming
    the missing ones (``what``, e.g. "score columns") and who writes such columns (``writer``)."""
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise ConfigError(key, f"{what} {missing} not in the frame (columns: {frame.columns}); name columns "
                               f"{writer} wrote, or null for all of them")
    return list(names)


def truth_column(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """``frame`` with ``column`` as Boolean: booleans as they are, numbers 0/1, text true/false/yes/no/1/0
    (any case; an empty cell is null: no label). Anything else is an error naming the column and an offending
    value.

    Args:
        frame: any frame.
        column: the truth column (human labels, ``removed``, ...); nulls stay null.

    Returns:
        ``frame`` with ``column`` cast to Boolean.

    Raises:
        ValueError: no such column, or a value that is not a truth value.

    Example:
        >>> import polars as pl
        >>> truth_column(pl.DataFrame({"toxic": ["Yes", "no", None, " 1 ", ""]}), "toxic")["toxic"].to_list()
        [True, False, None, True, None]
        >>> truth_column(pl.DataFrame({"toxic": [0, 2]}), "toxic")
        Traceback (most recent call last):
        ValueError: truth column 'toxic' must be boolean (true/false, 1/0); found 2
    """
    if column not in frame.columns:
        raise ValueError(f"no truth column {column!r} in the frame; columns: {frame.columns}")
    col = frame[column]
    if col.dtype == pl.Boolean:
        return frame
    if col.dtype.is_numeric():
        bad = col.drop_nulls().filter(~col.drop_nulls().is_in([0, 1]))
        parsed = col.cast(pl.Boolean)
    else:
        text = col.cast(pl.String).str.strip_chars().str.to_lowercase()
        parsed = pl.select(truth_value(pl.lit(text))).to_series()
        bad = col.filter(parsed.is_null() & (text != ""))  # an empty cell is a missing label, like a null
    if bad.len():
        raise ValueError(f"truth column {column!r} must be boolean (true/false, 1/0); found {bad[0]!r}")
    return frame.with_columns(parsed.alias(column))


def time_order_key() -> list[pl.Expr]:
    """Sort key for 'order in the thread': creation time where known, page order to break ties / fill gaps.

    Example:
        >>> from toolkit.analysis.synthetic import make_frame
        >>> frame = make_frame([{"thread": "t", "id": "t", "minute": 0},
        ...                     {"thread": "t", "id": "late", "minute": 9},
        ...                     {"thread": "t", "id": "early", "minute": 2}])
        >>> frame.sort(time_order_key())["comment_id"].to_list()
        ['t', 'early', 'late']
    """
    return [pl.col("created_at"), pl.col("source_position")]


def with_thread_position(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``position`` (0-based rank of each comment in its thread by time, then page order),
    ``thread_size`` (comments in the thread, post excluded) and ``relative_position`` in [0, 1].

    The post is dropped; rows come sorted by thread, then time. A thread of one comment sits at 0.

    Example:
        >>> from toolkit.analysis.synthetic import make_frame
        >>> frame = make_frame([{"thread": "t", "id": i} for i in ("t", "c0", "c1", "c2")])
        >>> rows = with_thread_position(frame)
        >>> rows.select("comment_id", "position", "thread_size", "relative_position").rows()
        [('c0', 0, 3, 0.0), ('c1', 1, 3, 0.5), ('c2', 2, 3, 1.0)]
    """
    return comments_only(frame).sort(["thread_id", *time_order_key()], nulls_last=True).with_columns(
        pl.int_range(pl.len()).over("thread_id").cast(pl.Int64).alias("position"),
        pl.len().over("thread_id").cast(pl.Int64).alias("thread_size"),
    ).with_columns(
        pl.when(pl.col("thread_size") > 1)
        .then(pl.col("position") / (pl.col("thread_size") - 1))
        .otherwise(0.0)
        .alias("relative_position")
    )


def replies(frame: pl.DataFrame, label: str, include_post_parent: bool, *known: pl.Expr) -> pl.DataFrame:
    """The comments of reply-linked threads (``structure == "tree"``) with their parent's ``label`` score
    (``parent_score``: null when the parent is unknown, missing or unscored) and ``parent_is_post``, where
    every ``known`` holds; replies to the post only with ``include_post_parent``.

    Example:
        >>> from toolkit.analysis.synthetic import example_threads, make_frame
        >>> replies(example_threads(), "toxicity", False)["comment_id"].to_list()  # a1, a4, b1 answer posts
        ['a2', 'a3', 'b2']
        >>> frame = make_frame([{"thread": "t", "id": "t", "score": 0.1},
        ...                     {"thread": "t", "id": "c1", "parent": "t", "score": 0.9},
        ...                     {"thread": "t", "id": "c2", "parent": "c1", "score": 0.4}])
        >>> replies(frame, "toxicity", True).select("comment_id", "parent_score", "parent_is_post").rows()
        [('c1', 0.1, True), ('c2', 0.9, False)]
    """
    parents = frame.select(pl.col("thread_id"), pl.col("comment_id").alias("parent_id"),
                           pl.col(label).alias("parent_score"), pl.col("is_post").alias("parent_is_post"))
    rows = comments_only(frame.join(parents, on=["thread_id", "parent_id"], how="left", maintain_order="left"))
    rows = rows.filter(pl.col("structure") == "tree", *known)
    return rows if include_post_parent else rows.filter(~pl.col("parent_is_post"))


def edge_labels(edges: Sequence[float], closed_last: bool = True, fmt: str = "{:g}") -> list[str]:
    """``[a, b)`` labels for consecutive edges; the last bin is closed (``[a, b]``) when ``closed_last``.

    Example:
        >>> edge_labels([0, 0.5, 1])
        ['[0, 0.5)', '[0.5, 1]']
    """
    last = len(edges) - 2
    return [f"[{fmt.format(lo)}, {fmt.format(hi)}{']' if closed_last and i == last else ')'}"
            for i, (lo, hi) in enumerate(zip(edges, edges[1:], strict=False))]


def assign_bins(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Bin index of each value for ``edges`` (last bin closed); -1 outside the edges or NaN.

    Example:
        >>> import numpy as np
        >>> assign_bins(np.array([0.2, 0.5, 1.0, 1.5, np.nan]), [0, 0.5, 1]).tolist()
        [0, 1, 1, -1, -1]
    """
    edges = np.asarray(edges, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    idx = np.searchsorted(edges, v, side="right") - 1
    idx[v == edges[-1]] = edges.size - 2
    idx[(v < edges[0]) | (v > edges[-1]) | np.isnan(v)] = -1
    return idx


Frames = pl.DataFrame | Corpus  # a frame, or a corpus of buckets (whole threads each)


def each_bucket(data: Frames) -> Iterable[pl.DataFrame]:
    """The frame itself, or each bucket of a corpus."""
    return [data] if isinstance(data, pl.DataFrame) else data.buckets()


def gather(data: Frames, part: Callable[[pl.DataFrame], pl.DataFrame]) -> pl.DataFrame:
    """``part`` of every bucket, concatenated: threads never span two buckets, so per-thread parts add up.

    Example:
        >>> from toolkit.analysis.synthetic import example_threads
        >>> frame = example_threads()
        >>> gather(Corpus((frame.head(2), frame.tail(3))), lambda b: b.select("comment_id")).height
        5
    """
    return pl.concat([part(b) for b in each_bucket(data)], how="vertical")


def columns_of(data: Frames) -> pl.DataFrame:
    """An empty frame with the columns of ``data`` (every bucket has the same)."""
    return data.head(0) if isinstance(data, pl.DataFrame) else pl.DataFrame(schema=data.schema)


def unit_expr(by_row: bool) -> pl.Expr:
    """The resampling unit of each row: its thread id (as text, null as ""), or the row itself (``by_row``)."""
    return (pl.int_range(pl.len(), dtype=pl.Int64) if by_row
            else pl.col("thread_id").cast(pl.String).fill_null("")).alias("unit")


def gather_cells(data: Frames, cells: Callable[[pl.DataFrame, bool], pl.DataFrame]) -> tuple[pl.DataFrame, str]:
    """``cells(bucket, by_row)`` of every bucket, concatenated, and the bootstrap method: units are threads,
    or the rows of the only thread when the data hold one (a second pass, over that thread's bucket)."""
    found = gather(data, lambda b: cells(b, False))
    if found["unit"].n_unique() == 1:
        return gather(data, lambda b: cells(b, True)), COMMENT_BOOTSTRAP
    return found, THREAD_BOOTSTRAP


def unit_sums(data: Frames, sums: Sequence[pl.Expr],
              prepare: Callable[[pl.DataFrame], pl.DataFrame] | None = None) -> tuple[np.ndarray, int, str]:
    """The aggregations ``sums`` per resampling unit of the rows ``prepare(bucket)``, bucket by bucket: units
    x sums, units in the order :func:`toolkit.analysis.stats.cluster_codes` gives (threads by id, or the
    rows of the only thread); with the number of threads and the bootstrap method.

    Example:
        >>> import polars as pl
        >>> rows = pl.DataFrame({"thread_id": ["b", "a", "b"], "v": [1.0, 2.0, 3.0]})
        >>> matrix, n_threads, method = unit_sums(rows, [pl.col("v").sum()])
        >>> matrix.tolist(), n_threads, method
        ([[2.0], [4.0]], 2, 'thread bootstrap')
    """
    def cells(bucket: pl.DataFrame, by_row: bool) -> pl.DataFrame:
        rows = prepare(bucket) if prepare else bucket
        return rows.group_by(unit_expr(by_row)).agg(e.cast(pl.Float64).alias(f"x{i}") for i, e in enumerate(sums))

    found, method = gather_cells(data, cells)
    matrix = found.sort("unit").drop("unit").to_numpy().astype(np.float64).reshape(found.height, len(sums))
    return matrix, found.height if method == THREAD_BOOTSTRAP else 1, method


def value_cells(rows: pl.DataFrame, *, bin_col: str, order_col: str, values: Sequence[pl.Expr],
                by_row: bool = False) -> pl.DataFrame:
    """Per (thread, bin) of ``rows`` (or per row, ``by_row``): rows ``n``, the least ``order_col``, and the
    sum ``s<j>`` and count ``c<j>`` of each value expression (null = no value): all a bootstrap of per-bin
    means needs (:func:`bin_means`), so a corpus is reduced bucket by bucket to memory that grows with threads.

    Example:
        >>> import polars as pl
        >>> rows = pl.DataFrame({"thread_id": ["a", "a"], "bin": ["x", "x"], "o": [2, 1], "v": [1.0, None]})
        >>> value_cells(rows, bin_col="bin", order_col="o", values=[pl.col("v")]).rows()
        [('a', 'x', 2, 1.0, 1.0, 1.0)]
    """
    return rows.group_by(unit_expr(by_row), pl.col(bin_col).alias("bin")).agg(
        pl.len().cast(pl.Int64).alias("n"), pl.col(order_col).cast(pl.Float64).min().alias("order"),
        *(e for j, v in enumerate(values)
          for e in (v.cast(pl.Float64).sum().alias(f"s{j}"), v.count().cast(pl.Float64).alias(f"c{j}"))),
    )


def bin_means(cells: pl.DataFrame, method: str, k: int, *, n_boot: int,
              seed: int) -> tuple[pl.DataFrame, pl.DataFrame, GroupIntervals]:
    """From :func:`value_cells` of the whole data: the bins (``bin``, least ``order``, ``group``: their rank
    by order, then bin), the cells with units and groups coded, and the means of the first ``k`` values per
    bin with CIs from one thread bootstrap (:func:`toolkit.analysis.stats.cell_means`)."""
    keys = cells.group_by("bin").agg(pl.col("order").min()).sort("order", "bin").with_row_index("group")
    coded = cells.join(keys.select("bin", "group"), on="bin").with_columns(
        (pl.col("unit").rank("dense") - 1).cast(pl.Int64).alias("unit"), pl.col("group").cast(pl.Int64),
    ).sort("unit", "group")  # a fixed order: the same sums, bit for bit, whatever order group_by gave
    n_units = int(coded["unit"].max()) + 1
    ci = cell_means(coded.select("unit", "group", *(f"{x}{j}" for j in range(k) for x in "sc")), n_units,
                    keys.height, method, n_boot=n_boot, seed=seed)
    return keys, coded, ci


def binned_profile(
    rows: Frames,
    *,
    bin_col: str,
    order_col: str,
    label: str,
    threshold: float,
    n_boot: int,
    seed: int,
    value_col: str | None = None,
    prepare: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> pl.DataFrame:
    """Per bin of ``bin_col``: n, threads, mean of ``value_col`` (default ``label``) and share >= threshold,
    each with a CI from one thread bootstrap of the whole data (:func:`bin_means`). Rows whose value is
    null are counted in ``n_unscored``. Sorted by ``order_col`` (one number per bin).

    Args:
        rows: the rows to profile, with ``thread_id``, ``bin_col``, ``order_col`` and the value column; or a
            corpus store's buckets (``store.buckets``), each reduced to per-thread sums on its own.
        bin_col: the bin of each row (any type; shown as text).
        order_col: a number per row; each bin is ordered by its smallest.
        label: the score column (and the default value column).
        threshold: the "toxic" cut for ``share_above``.
        n_boot, seed: bootstrap replicates and random seed.
        value_col: the column averaged, when not ``label``.
        prepare: turns each frame (or bucket) into the rows binned (default: as they are).

    Returns:
        ``bin``, ``bin_order``, ``n`` (rows with a value), ``n_unscored``, ``n_threads``, ``mean``,
        ``mean_low``, ``mean_high``, ``share_above``, ``share_low``, ``share_high`` (share >= ``threshold``),
        ``threshold`` and ``ci_method`` (thread bootstrap; no CI for a bin held by one thread).

    Example:
        >>> import polars as pl
        >>> from toolkit.analysis.synthetic import make_frame
        >>> frame = make_frame([{"thread": "a", "id": "a1", "parent": None, "score": 0.9},
        ...                     {"thread": "a", "id": "a2", "parent": None, "score": 0.3},
        ...                     {"thread": "b", "id": "b1", "parent": None, "score": 0.2},
        ...                     {"thread": "b", "id": "b2", "parent": None, "score": None}])
        >>> rows = frame.with_columns(place=pl.col("source_position").cast(pl.String))  # 1st / 2nd comment
        >>> table = binned_profile(rows, bin_col="place", order_col="source_position", label="toxicity",
        ...                        threshold=0.5, n_boot=50, seed=0)
        >>> table.select("bin", "n", "n_unscored", "n_threads", pl.col("mean").round(3), "share_above").rows()
        [('0', 2, 0, 2, 0.55, 0.5), ('1', 1, 1, 1, 0.3, 0.0)]
    """
    v = pl.col(value_col or label).cast(pl.Float64).fill_nan(None)

    def cells(frame: pl.DataFrame, by_row: bool) -> pl.DataFrame:
        return value_cells(prepare(frame) if prepare else frame, bin_col=bin_col, order_col=order_col,
                           values=[v, (v >= threshold).cast(pl.Float64)], by_row=by_row)

    found, method = gather_cells(rows, cells)
    if found.height == 0:
        return pl.DataFrame(schema=PROFILE_SCHEMA)
    keys, coded, ci = bin_means(found, method, 2, n_boot=n_boot, seed=seed)
    total = np.bincount(coded["group"].to_numpy(), weights=coded["n"].to_numpy(), minlength=keys.height)
    return pl.DataFrame({
        "bin": [str(b) for b in keys["bin"]], "bin_order": keys["order"], "n": ci.n[:, 0],
        "n_unscored": total.astype(np.int64) - ci.n[:, 0], "n_threads": ci.n_clusters,
        "mean": ci.estimate[:, 0], "mean_low": ci.low[:, 0], "mean_high": ci.high[:, 0],
        "share_above": ci.estimate[:, 1], "share_low": ci.low[:, 1], "share_high": ci.high[:, 1],
        "threshold": float(threshold), "ci_method": ci.method,
    }, schema=PROFILE_SCHEMA)


def ci_methods(table: pl.DataFrame, column: str = "ci_method") -> str:
    """The distinct CI methods named in a table, for captions (``n/a`` when empty).

    Example:
        >>> import polars as pl
        >>> ci_methods(pl.DataFrame({"ci_method": ["thread bootstrap", "thread bootstrap", None]}))
        'thread bootstrap'
        >>> ci_methods(pl.DataFrame())
        'n/a'
    """
    used = table[column].drop_nulls().to_list() if column in table.columns else []
    return "; ".join(sorted(set(used))) or "n/a"
