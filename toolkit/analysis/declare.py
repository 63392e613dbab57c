"""How an analysis is declared: one :class:`Analysis` beside its code, listed in its module's ``DECLARED``.

The registry (``toolkit.analysis.registry``) finds every declaration in the package and derives from them
the analyses a run can name, the typed ``analysis.params`` config and which analyses reduce bucket by bucket.
Adding an analysis is adding its module (and its test): no list elsewhere names it.

An analysis is a function ``(data, ctx) -> AnalysisOutput``: ``data`` is one frame of the columns it reads
(collected, the safe default); or, when it declares a per-bucket step ``per_bucket(bucket, ctx) -> rows``, those
rows of every bucket concatenated (each bucket read once, in one pass); or, when it says
``bucketed=True`` and needs several passes, a :class:`Corpus` of buckets (whole threads each). ``ctx`` carries
the run's score column, threshold, bootstrap settings, caption footer and every analysis' options
(``ctx.params.<name>``).
The output is data: the pipeline writes the tables and ``toolkit.plots`` draws the specs. An analysis that
cannot apply to the data says why in ``AnalysisOutput.skipped`` and leaves out every table that would be empty
or all-NaN (and its figure).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from toolkit.analysis.common import Frames, ci_methods, comments_only, each_bucket, gather
from toolkit.outputs import AnalysisOutput, FigureSpec


@dataclass
class AnalysisContext:
    """What every analysis may use: the score column, threshold, bootstrap settings, caption footer, options.

    ``params``: every analysis' options (the registry's ``AnalysisParams``; defaults when not given).
    ``scorers``: one status row per further scorer of scorer_agreement (``scorer, used, columns, note``);
    the pipeline runs those scorers and adds their columns to the frame before the analysis sees it.
    ``identities``: each of ``labels``' scorer identity (name, model, weights...), for outputs that record it.

    >>> AnalysisContext(n_boot=10).params.depth_profile.position_bins
    10
    """

    label: str = "toxicity"
    threshold: float = 0.5
    n_boot: int = 1000
    seed: int = 0
    footer: str = ""
    params: Any = None
    labels: list[str] = field(default_factory=list)  # every score column the run's scorer wrote
    scorers: list[dict[str, Any]] = field(default_factory=list)
    identities: dict[str, dict[str, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.params is None:
            from toolkit.analysis.registry import AnalysisParams  # derived from the declarations

            self.params = AnalysisParams()

    @property
    def boot(self) -> dict[str, int]:
        return {"n_boot": self.n_boot, "seed": self.seed}

    def ci_note(self, method: str) -> str:
        """Caption words for a CI: method, replicates and seed."""
        return f"95% CI: {method} ({self.n_boot} replicates, seed {self.seed})"

    def caption(self, *parts: str) -> str:
        """The run footer followed by figure-specific parts."""
        return " · ".join(p for p in (self.footer, *parts) if p)


def _no_columns(options: Any) -> Sequence[str]:
    return ()


@dataclass(frozen=True)
class Analysis:
    """One analysis, declared once beside its code.

    ``run(data, ctx)`` computes it; ``options`` is its options dataclass (``analysis.params.<name>``; None: it
    takes none); ``reads`` the canonical columns it reads besides the numeric and boolean columns scorers and
    data add (scores, markers, labels), which every analysis is handed; ``named(options)`` further columns its
    options name (e.g. a truth column). How it meets a corpus larger than memory:

    - collected (the safe default): ``run`` is handed one frame of the columns it reads, from every bucket;
    - ``per_bucket``: its per-bucket step (bucket, ctx) -> rows (per-thread sums, reply pairs...; threads never
      span two buckets, so they add up); ``run`` is then the combine step, handed those rows of every bucket
      concatenated in bucket order, so memory grows with what the step keeps;
    - ``bucketed=True`` without a per-bucket step: ``run`` is handed the :class:`Corpus` and reads its buckets
      in as many passes as it needs (a second pass that depends on the first's result).

    ``tables`` and ``figures`` name what it can write.

    >>> from toolkit.store.corpus import Corpus
    >>> def run(data, ctx): return AnalysisOutput({"n": data})
    >>> def per_bucket(bucket, ctx): return bucket.select(pl.len())
    >>> counted = Analysis("counted", run, per_bucket=per_bucket)
    >>> counted.bucketed, counted(Corpus((pl.DataFrame({"a": [1, 2]}), pl.DataFrame({"a": [3]}))),
    ...                             AnalysisContext()).tables["n"]["len"].to_list()
    (True, [2, 1])
    """

    name: str
    run: Callable[[Any, AnalysisContext], AnalysisOutput]
    options: type | None = None
    reads: tuple[str, ...] = ()
    named: Callable[[Any], Sequence[str]] = _no_columns
    bucketed: bool = False
    tables: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()
    per_bucket: Callable[[pl.DataFrame, AnalysisContext], pl.DataFrame] | None = None

    def __post_init__(self) -> None:
        if self.per_bucket is not None:  # a per-bucket step is a way of reducing bucket by bucket
            object.__setattr__(self, "bucketed", True)

    def __call__(self, data: Frames, ctx: AnalysisContext) -> AnalysisOutput:
        """The analysis of a frame or a corpus: its per-bucket step on every bucket, if declared, then ``run``."""
        if self.per_bucket is not None:
            return self.run(gather(data, lambda bucket: self.per_bucket(bucket, ctx)), ctx)
        return self.run(data, ctx)


def shown(n: int, threads: int | None = None, what: str = "comments") -> str:
    """``shown: n = 1,234 comments in 56 threads`` for captions.

    >>> shown(1234, 56)
    'shown: n = 1,234 comments in 56 threads'
    """
    where = "" if threads is None else f" in {threads:,} thread{'' if threads == 1 else 's'}"
    return f"shown: n = {n:,} {what}{where}"


def count_threads(data: Frames) -> int:
    """Threads with comments, counted bucket by bucket (threads never span two)."""
    return sum(comments_only(part)["thread_id"].n_unique() for part in each_bucket(data))


def applicable(tables: dict[str, pl.DataFrame], figures: list[tuple[FigureSpec, pl.DataFrame]],
               empty: dict[str, str]) -> AnalysisOutput:
    """The output less the tables named in ``empty`` (table -> why it would be empty or all-NaN) and the
    figures drawn from them; ``skipped`` names what was left out and why."""
    dropped = [tables[name] for name in empty]
    kept = {name: t for name, t in tables.items() if name not in empty}
    figures = [(spec, t) for spec, t in figures if not any(t is d for d in dropped)]
    reasons = set(empty.values())
    if not kept and not figures and len(reasons) == 1:
        return AnalysisOutput(skipped=reasons.pop())
    return AnalysisOutput(kept, figures, "; ".join(f"{name} not written: {why}" for name, why in empty.items()))


def forest(name: str, title: str, table: pl.DataFrame, ctx: AnalysisContext, *notes: str) -> tuple[
        FigureSpec, pl.DataFrame]:
    """A log-odds forest figure (a vs b per strategy, +0.5 smoothing) from a compare_groups table."""
    return (FigureSpec(name, "log_odds_forest", title,
                       ctx.caption(*notes, "log odds ratio with +0.5 per cell", ctx.ci_note(ci_methods(table)))),
            table)
