"""``scorer=column``: scores that came with the data (e.g. Perspective API scores in older datasets).

No model and no cache: each label is copied from a column of the frame, e.g.
``scorer.columns={toxicity: perspective_toxicity}``, so the analyses (and the scorer-agreement analysis,
against Detoxify) can use them like any other scorer's. Values must be numbers in [0, 1]; nulls stay null
(also where a row has text). The identity names the source columns, so tables and figures say where the
scores came from.
"""

from __future__ import annotations

import polars as pl

from toolkit.errors import ConfigError
from toolkit.scoring.base import BaseScorer
from toolkit.settings import ScorerSettings


class ColumnScorer(BaseScorer):
    """Scores read from the frame's own columns; ``settings.columns`` maps each label to its source column.

    >>> scorer = ColumnScorer(ScorerSettings(name="column", columns={"toxicity": "perspective"}))
    >>> scorer.read_scores(pl.DataFrame({"perspective": [0.25, None]}))["toxicity"].to_list()
    [0.25, None]
    """

    name = "column"

    def __init__(self, settings: ScorerSettings) -> None:
        columns = dict(settings.columns or {})
        if not columns:
            raise ConfigError("scorer.columns", "scorer=column needs the source columns, label -> column: "
                              "scorer.columns={toxicity: perspective_toxicity} (Python: columns={'toxicity': '...'})")
        if not all(isinstance(k, str) and isinstance(v, str) and k and v for k, v in columns.items()):
            raise ConfigError("scorer.columns", f"must map label names to column names, got {columns}")
        self.columns = columns
        self.model = None

    def identity(self) -> dict[str, str]:
        """Name and the source columns (label=column, ...)."""
        return {
            "name": self.name,
            "model": ",".join(self.columns.values()),
            "columns": ",".join(f"{label}={source}" for label, source in self.columns.items()),
        }

    def labels(self) -> list[str]:
        """The labels, in the order given."""
        return list(self.columns)

    def predict(self, texts: list[str]) -> dict[str, list[float]]:
        """Not available: these scores belong to rows, not texts (``score_frame`` reads the columns)."""
        raise TypeError("scorer=column has no model: its scores come from the frame (use score_frame)")

    def read_scores(self, frame: pl.DataFrame) -> dict[str, pl.Series]:
        """Each label's scores as Float64, checked to lie in [0, 1]."""
        out: dict[str, pl.Series] = {}
        for label, source in self.columns.items():
            if source not in frame.columns:
                raise ConfigError("scorer.columns", f"no column {source!r} in the data (columns: "
                                  f"{', '.join(frame.columns)})")
            series = frame.get_column(source)
            try:
                values = series.cast(pl.Float64, strict=True)
            except Exception as exc:  # noqa: BLE001 - polars raises several types for bad casts
                raise ConfigError("scorer.columns", f"column {source!r} ({series.dtype}) is not numeric: {exc}") from exc
            values = values.fill_nan(None)
            low, high = values.min(), values.max()
            if low is not None and (low < 0 or high > 1):  # type: ignore[operator]
                raise ConfigError("scorer.columns", f"column {source!r} has values outside [0, 1] (min {low}, max "
                                  f"{high}); rescale it first (e.g. percentages / 100)")
            out[label] = values.alias(label)
        return out
