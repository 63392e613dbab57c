"""Discussion toxicity and civility research toolkit: the small public API for notebooks and scripts.

``load`` a thread into the canonical comment frame, ``score`` it, then call the analyses on the frame: depth,
removal (context, AUC, the logistic regression ``removal_logit``, ``classification_metrics``), escalation down
reply chains, per-thread summaries and a thread's tree (``thread_tree_table``; ``toolkit.notebook`` draws it).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from toolkit.analysis.depth import depth_profile
from toolkit.analysis.distribution import score_distribution
from toolkit.analysis.escalation import escalation, reply_by_parent_bin
from toolkit.analysis.prediction import classification_metrics, removal_logit
from toolkit.analysis.removal import removal_auc, removal_context
from toolkit.analysis.stats import bootstrap_difference, bootstrap_mean
from toolkit.analysis.summary import thread_summary
from toolkit.analysis.thread_tables import thread_tree_table, thread_view_table

if TYPE_CHECKING:
    from toolkit.scoring import Scorer, ScoreReport
    from toolkit.settings import ScorerSettings
    from toolkit.store import CorpusStore

__all__ = [
    "load", "load_with_report", "open_corpus", "score", "depth_profile", "removal_context", "removal_auc", "score_distribution",
    "thread_view_table", "bootstrap_mean", "bootstrap_difference",
    # the analyses a notebook reaches for beyond the first ones, and scoring with its report
    "escalation", "reply_by_parent_bin", "removal_logit", "classification_metrics", "thread_summary",
    "thread_tree_table", "score_with_report",
]


def load_with_report(path: str | Path, format: str | None = None, **options: Any):
    """Load ``path`` (format auto-detected when None) and add tree columns; returns ``(frame, LoadResult)``."""
    from toolkit.io import load_source
    from toolkit.threads import build_tree

    result = load_source(path, format, **options)
    return build_tree(result.frame).frame, result


def open_corpus(path: str | Path, format: str | None = None, *, cache_dir: str | None = None, bucket_mb: int = 64,
                **options: Any) -> CorpusStore:
    """``path`` as a corpus store (for inputs larger than memory): thread buckets with tree columns, built once
    under the cache directory and reused; ``.scan()`` is a LazyFrame over all of it, ``.buckets()`` yields one
    bucket's frame at a time, and the analyses (README: "Analyses at scale") take ``store.corpus()`` in place of
    a frame.

    >>> corpus = open_corpus("data/seed_thread.txt", cache_dir=__import__("tempfile").mkdtemp())
    >>> corpus.n_buckets, corpus.scan().select(pl.len()).collect().item()
    (1, 13)
    """
    from toolkit.io.paths import resolve_data_path
    from toolkit.scoring.cache import resolve_cache_dir
    from toolkit.settings import DatasetSettings
    from toolkit.store import open_corpus as open_store

    dataset = DatasetSettings(path=str(path), format=format, options=options, bucket_mb=bucket_mb)
    return open_store(dataset, resolve_data_path(path), resolve_cache_dir(cache_dir))


def load(path: str | Path, format: str | None = None, **options: Any) -> pl.DataFrame:
    """The canonical comment frame (with tree columns) of ``path``; warns when rows were rejected. A relative
    path not found from the working directory is looked for in the bundled data (as on the command line).

    >>> load("data/seed_thread.txt").height
    13
    """
    frame, result = load_with_report(path, format, **options)
    if result.rejects.height:
        warnings.warn(
            f"{result.rejects.height} of {result.rows_in} rows rejected while loading {path}; "
            "use toolkit.load_with_report(...) to see them (file, line, field, reason)",
            stacklevel=2,
        )
    return frame


def score(frame: pl.DataFrame, scorer: str | ScorerSettings | Scorer = "auto", **overrides: Any) -> pl.DataFrame:
    """``frame`` with one score column per label of ``scorer`` (cached on disk; null text -> null score);
    ``scorer`` and ``overrides`` as in ``toolkit.scoring.score_frame``.

    >>> score(pl.DataFrame({"text": ["hello", None]}), "profanity", use_cache=False)["toxicity"].is_null().to_list()
    [False, True]
    """
    return score_with_report(frame, scorer, **overrides)[0]


def score_with_report(frame: pl.DataFrame, scorer: str | ScorerSettings | Scorer = "auto",
                      **overrides: Any) -> tuple[pl.DataFrame, ScoreReport]:
    """:func:`score`, and the report of what scored it: the scorer actually used (and why, when ``auto`` fell
    back), its labels, the cache hits and misses; ``report.caption()`` is the figure caption's scorer line.

    >>> scored, report = score_with_report(pl.DataFrame({"text": ["hello", None]}), "profanity", use_cache=False)
    >>> report.scorer, report.labels, scored["toxicity"].is_null().to_list()
    ('profanity', ['toxicity'], [False, True])
    """
    from toolkit.scoring import score_frame

    result = score_frame(frame, scorer, **overrides)
    return result.frame, result.report
