"""Analyses as pure functions over the canonical (scored) comment frame, usable from notebooks.

Every confidence interval resamples whole threads (``stats``). Each module declares the analyses a run can
name (``DECLARED``, see ``declare``); ``registry.ANALYSES`` is derived from those declarations.
"""

from toolkit.analysis.agreement import scorer_agreement
from toolkit.analysis.civility import (
    civility_by_depth,
    civility_by_parent,
    civility_by_removal,
    strategy_columns,
)
from toolkit.analysis.depth import depth_profile, position_profile, thread_size_profile
from toolkit.analysis.derailment import derailment_log_odds, derailment_prediction, derailment_threads
from toolkit.analysis.distribution import score_distribution
from toolkit.analysis.escalation import escalation, reply_by_parent_bin
from toolkit.analysis.prediction import classification_curves, classification_metrics, removal_logit
from toolkit.analysis.removal import (
    calm_down,
    context_scores,
    matched_context,
    removal_auc,
    removal_by_parent,
    removal_context,
    removal_parent_test,
)
from toolkit.analysis.stats import bootstrap_difference, bootstrap_mean, cluster_bootstrap
from toolkit.analysis.summary import thread_summary
from toolkit.analysis.thread_length import (
    log_size_bins,
    toxicity_by_relative_position,
    toxicity_by_thread_length,
)
from toolkit.analysis.thread_tables import thread_tree_table, thread_view_table
from toolkit.analysis.validation import calibration_table, scorer_validation, threshold_metrics

__all__ = [
    "bootstrap_difference", "bootstrap_mean", "calibration_table", "calm_down", "civility_by_depth",
    "civility_by_parent", "civility_by_removal", "classification_curves", "classification_metrics",
    "cluster_bootstrap", "context_scores", "depth_profile", "derailment_log_odds",
    "derailment_prediction", "derailment_threads", "escalation", "log_size_bins", "matched_context",
    "position_profile", "removal_auc", "removal_by_parent", "removal_context", "removal_logit",
    "removal_parent_test", "reply_by_parent_bin", "score_distribution", "scorer_agreement",
    "scorer_validation", "strategy_columns", "thread_size_profile", "thread_summary", "thread_tree_table",
    "thread_view_table", "threshold_metrics", "toxicity_by_relative_position",
    "toxicity_by_thread_length",
]
