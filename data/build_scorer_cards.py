"""Build toolkit/scoring/cards.json: one card per scorer the toolkit ships or reads, with the validity the
toolkit measured on its bundled labelled sets (ROC AUC and PR AUC against the human labels, scikit-learn).

    PYTHONPATH=. python data/build_scorer_cards.py

What a card says of provenance (licence, training data, what the model measures well and badly) is written
below once, from the models' own documentation; every number comes from scoring the bundled data here. A
scorer that cannot run on this machine (Detoxify without its weights, offline) gets a card saying its validity
was not measured, and why. Rerun after a model, its weights or a bundled labelled set changes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import polars as pl
from sklearn.metrics import average_precision_score, roc_auc_score

from toolkit.analysis.common import truth_column
from toolkit.scoring import score_frame
from toolkit.scoring.detoxify_backend import checkpoint_filename
from toolkit.settings import ScorerSettings

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "toolkit" / "scoring" / "cards.json"
# bundled labelled sets: (name, file, truth column)
LABELLED = [("cat_gn", "data/cat_gn.parquet", "toxic"), ("toxic_spans", "data/toxic_spans_labelled.csv", "toxic"),
            ("toxichat", "data/toxichat.parquet", "offensive")]

PROVENANCE: dict[str, dict[str, Any]] = {
    "profanity": {
        "name": "profanity", "model": "alt-profanity-check",
        "summary": "a profanity model, not a toxicity model: the embedded offline fallback of scorer=auto",
        "licence": "MIT (alt-profanity-check; model shipped in its wheel)",
        "training_data": "about 200k short English texts labelled profane/offensive or not (the Davidson et al. "
                         "2017 hate-speech tweets and Wikipedia comments of the Jigsaw Toxic Comment challenge); "
                         "a linear SVM on bag-of-words, calibrated",
        "measures_well": "swearing, slurs and insults written with offensive words, in English",
        "measures_badly": "toxicity without offensive words (condescension, threats, identity attacks in polite "
                          "words, sarcasm), context (a reply to a parent), quoted or friendly swearing (false "
                          "positives), misspellings and any language other than English; scores words, not meaning",
    },
    "detoxify:original": {
        "name": "detoxify", "model": "original",
        "summary": "Detoxify 'original': BERT fine-tuned on Wikipedia talk comments (Jigsaw toxic challenge)",
        "licence": "Apache-2.0 (code and released checkpoints, unitaryai/detoxify)",
        "training_data": "Jigsaw Toxic Comment Classification Challenge (2018): ~160k Wikipedia talk-page "
                         "comments, six crowd-sourced labels",
        "measures_well": "explicit toxicity and insults in English Wikipedia-style comments",
        "measures_badly": "identity-term bias (mentions of identities score higher), implicit toxicity, other "
                          "languages and domains far from Wikipedia",
    },
    "detoxify:unbiased": {
        "name": "detoxify", "model": "unbiased",
        "summary": "Detoxify 'unbiased': RoBERTa fine-tuned on Civil Comments with identity labels",
        "licence": "Apache-2.0 (code and released checkpoints, unitaryai/detoxify)",
        "training_data": "Jigsaw Unintended Bias in Toxicity Classification (2019): ~1.8M Civil Comments with "
                         "toxicity and identity annotations",
        "measures_well": "toxicity in English news comments, with less identity-term bias than 'original'",
        "measures_badly": "implicit toxicity, context, other languages",
    },
    "detoxify:multilingual": {
        "name": "detoxify", "model": "multilingual",
        "summary": "Detoxify 'multilingual': XLM-RoBERTa fine-tuned on Jigsaw multilingual data",
        "licence": "Apache-2.0 (code and released checkpoints, unitaryai/detoxify)",
        "training_data": "Jigsaw Multilingual Toxic Comment Classification (2020): English training data with "
                         "translations; validation in 7 languages",
        "measures_well": "toxicity in the seven languages of the challenge",
        "measures_badly": "languages outside them, implicit toxicity, context",
    },
    "column:perspective_toxicity": {
        "name": "column", "model": "perspective_toxicity",
        "summary": "archived Google Perspective API TOXICITY scores read from the data (scorer=column)",
        "licence": "proprietary service (Perspective API terms); the archived scores come with their dataset",
        "training_data": "not public (Jigsaw/Google); the model changed under the same name without notice, so "
                         "scores archived at different dates are different instruments",
        "measures_well": "what it was scored for at the date it was archived",
        "measures_badly": "reproducibility: it cannot be rerun (the API stops at the end of 2026)",
    },
    "politeness": {
        "name": "politeness", "model": "stanford-politeness-logit",
        "summary": "politeness (not toxicity): a logistic regression on the politeness strategies",
        "licence": "coefficients trained by data/build_politeness_model.py; data and lexicon licences in docs/politeness.md",
        "training_data": "Stanford Politeness Corpus, Wikipedia requests (Danescu-Niculescu-Mizil et al. 2013)",
        "measures_well": "politeness of requests on Wikipedia and StackExchange",
        "measures_badly": "toxicity; texts that are not requests",
    },
}
SETTINGS = {"profanity": ScorerSettings("profanity", use_cache=False),
            "column:perspective_toxicity": ScorerSettings("column", columns={"toxicity": "perspective_toxicity"},
                                                          use_cache=False)}
LABEL: dict[str, str] = {}
NOT_MEASURED = {"politeness": "not measured against toxicity labels: a politeness score (its validation on the "
                              "Stanford Politeness Corpus: +experiment=validate_politeness)"}


def _labelled(path: str, truth: str) -> pl.DataFrame:
    file = ROOT / path
    frame = pl.read_parquet(file) if file.suffix == ".parquet" else pl.read_csv(file, infer_schema_length=None)
    return truth_column(frame, truth).filter(pl.col(truth).is_not_null() & pl.col("text").is_not_null())


def _profanity_sha256() -> str:
    spec = importlib.util.find_spec("profanity_check")
    data_dir = Path(next(iter(spec.submodule_search_locations))) / "data"
    digest = hashlib.sha256()
    for path in sorted(data_dir.glob("*.joblib")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def validity(key: str, today: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The card's validity rows (one per labelled set and metric) and the identity the scores came from."""
    rows, identity = [], {}
    label = LABEL.get(key, "toxicity")
    for dataset, path, truth in LABELLED:
        frame = _labelled(path, truth)
        if key.startswith("column:") and key.split(":", 1)[1] not in frame.columns:
            continue
        scored = score_frame(frame, SETTINGS[key])
        identity = scored.report.identity
        rows_ = scored.frame.filter(pl.col(label).is_not_null())
        y, s = rows_[truth].to_numpy(), rows_[label].to_numpy()
        for metric, fn in (("roc_auc", roc_auc_score), ("pr_auc", average_precision_score)):
            rows.append({"dataset": dataset, "truth": truth, "n": rows_.height, "positives": int(y.sum()),
                         "metric": metric, "value": round(float(fn(y, s)), 4), "date": today})
    return rows, identity


def build(today: str) -> dict[str, Any]:
    cards = {}
    for key, card in PROVENANCE.items():
        card = dict(card)
        if key in SETTINGS:
            card["validity"], identity = validity(key, today)
            card["version"] = identity.get("version")
        else:
            card["validity"] = []
            card["validity_note"] = NOT_MEASURED.get(key) or (f"not measured: {key} needs weights this build had no access to (offline); "
                                     "measure it with +experiment=validate_scorer scorer=detoxify")
            if card["name"] == "detoxify":
                card["weights_file"] = checkpoint_filename(card["model"])
        if key == "profanity":
            card["weights_sha256"] = _profanity_sha256()
        cards[key] = card
    return {"built_by": "data/build_scorer_cards.py", "cards": cards}


if __name__ == "__main__":
    today = sys.argv[1] if len(sys.argv) > 1 else dt.date.today().isoformat()
    OUT.write_text(json.dumps(build(today), indent=2, sort_keys=True) + "\n")
    print(f"wrote {OUT}")
