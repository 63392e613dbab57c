"""Derailment forecasting on ToxiChat's dev split (issue 19): ROC AUC of each model, both prefix settings.

The bundled ``data/toxichat.parquet`` (1,700 Reddit threads, every turn labelled by people) scored offline by
the embedded profanity model (toxicity) and the politeness scorer (strategy markers); the outcome is the
human ``offensive`` label, the post is the first turn. Two settings: ``k=2`` (the first exchange: the post and
the first reply; a thread derails when its third turn is offensive, threads with an offensive first exchange
left out) and ``k=null`` (every turn before the first offensive one; civil threads a matched prefix length).

Per model and setting it prints two AUCs with thread-bootstrap 95% CIs:
- ``train->dev``: the model fitted on the train split's threads (standardised logistic regression, as the
  analysis fits), its predictions for the dev split's threads scored against their outcome;
- ``dev CV``: the analysis' own cross-validated AUC on the dev split alone (``derailment_prediction``).

Usage: ``python benchmarks/derailment.py [--n-boot 1000] [--folds 5]`` (about a minute; scores are cached).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import toolkit  # noqa: E402 - after the path set-up
from toolkit.analysis.civility import strategy_columns  # noqa: E402
from toolkit.analysis.derailment import derailment_prediction, derailment_threads, feature_sets  # noqa: E402
from toolkit.analysis.stats import RankedScores, bootstrap_replicates, percentile_ci  # noqa: E402

COLUMNS = {"thread_id": "thread_id", "comment_id": "comment_id", "parent_id": "parent_id", "is_post": "is_post",
           "text": "text"}


def scored_toxichat() -> pl.DataFrame:
    """The bundled ToxiChat turns with profanity toxicity and the politeness markers (offline scorers)."""
    frame = toolkit.load(REPO / "data" / "toxichat.parquet", "parquet", columns=COLUMNS, html_unescape=True,
                         platform="reddit")
    return toolkit.score(toolkit.score(frame, "profanity"), "politeness")


def train_to_dev(threads: pl.DataFrame, features: list[str], n_boot: int) -> tuple[float, float, float]:
    """Fit on the train threads, ROC AUC on the dev threads with a thread-bootstrap CI."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = threads.filter(~pl.col("thread_id").str.starts_with("toxichat-dev-"))
    dev = threads.filter(pl.col("thread_id").str.starts_with("toxichat-dev-"))
    means = train.select(pl.col(c).cast(pl.Float64).mean() for c in features).row(0)
    matrix = [part.select(pl.col(c).cast(pl.Float64).fill_null(m).fill_null(0.0) for c, m in
                          zip(features, means, strict=True)).to_numpy() for part in (train, dev)]
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(matrix[0], train["derails"].to_numpy())
        p = model.predict_proba(matrix[1])[:, 1]
    ranked = RankedScores(dev["derails"].to_numpy().astype(bool), p)
    est, reps, _, _ = bootstrap_replicates(ranked.auc, dev["thread_id"], n_boot=n_boot, seed=0)
    low, high = percentile_ci(reps)
    return float(est), float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    frame = scored_toxichat()
    strategies = strategy_columns(frame)
    print("ToxiChat dev split, outcome: offensive (human label); scorers: profanity (toxicity), politeness")
    for k in (2, None):
        threads, sample = derailment_threads(frame, strategies, k=k, outcome="label", label_column="offensive",
                                             include_post=True)
        dev = threads.filter(pl.col("thread_id").str.starts_with("toxichat-dev-"))
        train = threads.height - dev.height
        print(f"\nk={'null' if k is None else k}: {threads.height} threads ({train} train, {dev.height} dev; "
              f"{int(dev['derails'].sum())} dev threads derail); sample: {dict(sample.iter_rows())}")
        sets = feature_sets(threads, strategies, "politeness", "toxicity")
        cv = derailment_prediction(dev, sets, folds=args.folds, n_boot=args.n_boot)
        cv_auc = {r["model"]: r for r in cv.iter_rows(named=True)}
        print(f"  {'model':<40} {'train->dev ROC AUC [95% CI]':<30} dev CV ROC AUC [95% CI]")
        for model, features in sets.items():
            est, low, high = train_to_dev(threads, features, args.n_boot)
            c = cv_auc[model]
            print(f"  {model[:40]:<40} {est:.3f} [{low:.3f}, {high:.3f}]{'':<9} "
                  f"{c['roc_auc']:.3f} [{c['roc_low']:.3f}, {c['roc_high']:.3f}]")
    print("\nfeatures: " + "; ".join(f"{m}: {', '.join(f)}" for m, f in sets.items() if m != "all"))
    print(f"(the dev split's {int(frame['thread_id'].str.starts_with('toxichat-dev-').sum())} turns; "
          "thread-bootstrap CIs, seed 0)")


if __name__ == "__main__":
    main()
