"""A fitted calibration map (``toolkit +experiment=calibrate_scorer``) applied to a scorer's scores:
``scorer.calibration=PATH``.

The map turns a raw score into the probability of the human label it was fitted on (isotonic: piecewise
linear through the fitted steps, flat outside them; Platt: a logistic curve on the score's log-odds). It is
applied after the cache (the cache keeps raw scores): the calibrated score takes the label's name, the raw one
is kept beside it as ``<label>_raw``, and the report (manifest, captions) names the file by its sha256.

This module holds the one rule for evaluating a map (:func:`map_scores`); the fitting is the analysis'
(``toolkit.analysis.calibration``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from toolkit.errors import ConfigError
from toolkit.scoring.base import Scored

FORMAT = "toolkit.calibration/1"
METHODS = ("isotonic", "platt")
KEY = "scorer.calibration"
EPS = 1e-6  # scores are clipped to [EPS, 1 - EPS] before Platt's log-odds


def logit(scores: np.ndarray) -> np.ndarray:
    """Log-odds of scores clipped to [EPS, 1 - EPS] (Platt's input).

    >>> logit(np.array([0.5])).tolist()
    [0.0]
    """
    s = np.clip(np.asarray(scores, dtype=np.float64), EPS, 1 - EPS)
    return np.log(s / (1 - s))


def map_scores(mapping: dict[str, Any], scores: np.ndarray) -> np.ndarray:
    """Raw ``scores`` through a fitted map: ``{"method": "isotonic", "x": [...], "y": [...]}`` (linear between
    the fitted points, flat beyond the ends: what sklearn's IsotonicRegression predicts with
    ``out_of_bounds="clip"``) or ``{"method": "platt", "coef": a, "intercept": b}`` (``1 / (1 + exp(-(a *
    logit(s) + b)))``). NaN stays NaN.

    >>> map_scores({"method": "isotonic", "x": [0.0, 0.5], "y": [0.0, 0.25]}, np.array([-1.0, 0.2, 0.9])).tolist()
    [0.0, 0.1, 0.25]
    >>> map_scores({"method": "platt", "coef": 1.0, "intercept": 0.0}, np.array([0.25])).round(6).tolist()
    [0.25]
    """
    s = np.asarray(scores, dtype=np.float64)
    method = mapping.get("method")
    if method == "isotonic":
        out = np.interp(s, np.asarray(mapping["x"], np.float64), np.asarray(mapping["y"], np.float64))
    elif method == "platt":
        out = 1.0 / (1.0 + np.exp(-(float(mapping["coef"]) * logit(s) + float(mapping["intercept"]))))
    else:
        raise ConfigError(KEY, f"unknown calibration method {method!r}; known: {', '.join(METHODS)}")
    return np.where(np.isnan(s), np.nan, out)


@dataclass(frozen=True)
class Calibration:
    """A calibration file read and checked: its path, sha256 (of the file's bytes), the label it maps, the
    scorer identity it was fitted for, and the map."""

    path: str
    sha256: str
    label: str
    scorer: dict[str, Any]
    mapping: dict[str, Any]
    labels_sha256: str

    @property
    def method(self) -> str:
        return str(self.mapping["method"])

    def describe(self, identity: dict[str, Any]) -> dict[str, Any]:
        """What the manifest records: file, hash, label, method, raw column, and whether it was fitted on this
        scorer's exact identity."""
        return {"path": self.path, "sha256": self.sha256, "label": self.label, "method": self.method,
                "raw_column": f"{self.label}_raw", "labels_sha256": self.labels_sha256,
                "fitted_for": self.scorer, "same_identity": _same(self.scorer, identity)}


def _same(fitted: dict[str, Any], identity: dict[str, Any]) -> bool:
    return {k: str(v) for k, v in fitted.items()} == {k: str(v) for k, v in identity.items()}


def read_calibration(path: str | Path) -> Calibration:
    """The calibration file at ``path`` (written by the calibrate_scorer analysis), checked.

    Raises:
        ConfigError: no such file, not JSON, another format, or a map missing its parts (key
            ``scorer.calibration``, naming the file).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise ConfigError(KEY, f"no calibration file {str(path)!r} (write one with +experiment=calibrate_scorer: "
                          "<run>/calibration/<label>.json)")
    raw = path.read_bytes()
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as err:
        raise ConfigError(KEY, f"{path}: not JSON ({err})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ConfigError(KEY, f"{path}: not a calibration file (format {FORMAT!r} expected)")
    mapping = doc.get("map") or {}
    need = {"isotonic": ("x", "y"), "platt": ("coef", "intercept")}.get(mapping.get("method"))
    if need is None or any(k not in mapping for k in need):
        raise ConfigError(KEY, f"{path}: map must be isotonic (x, y) or platt (coef, intercept); got "
                          f"{sorted(mapping)}")
    return Calibration(str(path), hashlib.sha256(raw).hexdigest(), str(doc["label"]), dict(doc.get("scorer") or {}),
                       dict(mapping), str(doc.get("labels_sha256", "")))


def calibrate_scored(scored: Scored, path: str | Path | None) -> Scored:
    """``scored`` with the calibration at ``path`` applied (None: as it is): the label's column replaced by the
    calibrated score, the raw score kept as ``<label>_raw``, and the report's ``extra["calibration"]``
    naming the file and its sha256 (the caption says it too).

    Raises:
        ConfigError: the file's label is not one of the scorer's, or it was fitted for another scorer (by
            name); a different model or version of the same scorer is allowed and recorded
            (``same_identity: false``).

    >>> from toolkit.scoring.base import ScoreReport
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "toxicity.json"
    >>> _ = path.write_text(json.dumps({"format": FORMAT, "label": "toxicity", "scorer": {"name": "column"},
    ...     "map": {"method": "isotonic", "x": [0.0, 1.0], "y": [0.0, 0.5]}}))
    >>> report = ScoreReport("column", {"name": "column"}, ["toxicity"])
    >>> out = calibrate_scored(Scored(pl.DataFrame({"toxicity": [0.2, None]}), report), path)
    >>> out.frame.rows(), out.report.extra["calibration"]["method"]
    ([(0.1, 0.2), (None, None)], 'isotonic')
    """
    if path is None:
        return scored
    cal = read_calibration(path)
    report = scored.report
    if cal.label not in report.labels:
        raise ConfigError(KEY, f"{cal.path} calibrates {cal.label!r}, which scorer {report.scorer!r} does not "
                          f"write (it writes {', '.join(report.labels)})")
    fitted = str(cal.scorer.get("name", ""))
    if fitted and fitted != report.scorer and fitted != str(report.identity.get("name", "")):
        raise ConfigError(KEY, f"{cal.path} was fitted for scorer {fitted!r}; this run's scorer is "
                          f"{report.scorer!r}: fit one for it (+experiment=calibrate_scorer scorer={report.scorer})")
    raw = scored.frame.get_column(cal.label).cast(pl.Float64)
    values = map_scores(cal.mapping, raw.fill_null(np.nan).to_numpy())
    calibrated = pl.Series(cal.label, values, dtype=pl.Float64).fill_nan(None)  # NaN only where raw is null or NaN
    frame = scored.frame.with_columns(raw.alias(f"{cal.label}_raw"), calibrated)
    extra = {**report.extra, "calibration": cal.describe(report.identity)}
    return Scored(frame=frame, report=replace(report, extra=extra))
