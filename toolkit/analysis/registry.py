"""The analyses a run can name in ``analysis.run``, derived from the declarations beside their code.

Every module of ``toolkit.analysis`` may list :class:`~toolkit.analysis.declare.Analysis` declarations in
``DECLARED``; this module finds them all. From them come :data:`ANALYSES` (name -> declaration, callable as
``ANALYSES[name](data, ctx)``), :class:`AnalysisParams` (the typed ``analysis.params`` config: one field per
analysis with options) and :func:`columns_for` (what a run hands each analysis). Adding an analysis is adding
its module; nothing here names one.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping, Sequence
from dataclasses import field, make_dataclass
from pathlib import Path

import polars as pl

from toolkit.analysis.declare import Analysis, AnalysisContext  # noqa: F401 - AnalysisContext re-exported
from toolkit.schema import COMMENT_SCHEMA, OPTIONAL_EXTRAS

CANONICAL = frozenset(COMMENT_SCHEMA) | frozenset(OPTIONAL_EXTRAS)


def declared() -> dict[str, Analysis]:
    """Every analysis declared in the package's modules (``DECLARED``), by name; a name declared twice is an
    error naming both modules."""
    found: dict[str, tuple[str, Analysis]] = {}
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):  # this package's modules
        module = importlib.import_module(f"toolkit.analysis.{info.name}")
        for analysis in getattr(module, "DECLARED", ()):
            if analysis.name in found:
                raise RuntimeError(f"analysis {analysis.name!r} declared in {found[analysis.name][0]} and "
                                   f"{module.__name__}")
            found[analysis.name] = (module.__name__, analysis)
    return {name: found[name][1] for name in sorted(found)}


ANALYSES: dict[str, Analysis] = declared()

#: Each analysis' options (``analysis.params.<name>.<option>``), one field per analysis that has options: a
#: misspelt one fails at compose time.
AnalysisParams = make_dataclass(
    "AnalysisParams",
    [(name, a.options, field(default_factory=a.options)) for name, a in ANALYSES.items() if a.options])
AnalysisParams.__module__ = __name__
AnalysisParams.__doc__ = "Each analysis' options (``analysis.params.<name>.<option>``), derived from the declarations."


def columns_for(names: Sequence[str], schema: Mapping[str, pl.DataType], params: object = None) -> list[str]:
    """Of ``schema`` (a bucket's), the columns the analyses ``names`` read, in schema order: the canonical
    ones each declares (``reads``), the columns their options name (``named``), ``source_position`` (rows
    collected from several buckets are put back in input order by it), and every numeric or boolean column
    outside the canonical schema (scores, strategy markers, 0/1 labels).

    >>> schema = {"thread_id": pl.String, "text": pl.String, "removed": pl.Boolean, "subreddit": pl.String,
    ...           "toxicity": pl.Float64, "toxic": pl.String}
    >>> columns_for(["removal_prediction"], schema)
    ['thread_id', 'removed', 'toxicity']
    """
    params = params if params is not None else AnalysisParams()
    wanted = {"source_position"}
    for name in names:
        analysis = ANALYSES[name]
        wanted |= set(analysis.reads)
        if analysis.options is not None:
            wanted |= set(analysis.named(getattr(params, name)))
    return [c for c, dtype in schema.items() if c in wanted or (
        c not in CANONICAL and (dtype.is_numeric() or dtype == pl.Boolean))]
