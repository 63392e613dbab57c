"""Scorer cards: what each instrument is, where it comes from and how valid the toolkit measured it to be.

A card (name, version, weights sha256, licence, training data, what it measures well and badly, and validity
measured on the bundled labelled sets: dataset, metric, value, date) is built by ``data/build_scorer_cards.py``
into ``scoring/cards.json`` (package data; never typed by hand). :func:`card_for` joins a scorer's stored card
with the identity of the run (its version and weights as used) and the calibration applied, for the manifest;
``toolkit-cache info`` prints them.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

CARDS_FILE = Path(__file__).with_name("cards.json")


@lru_cache(maxsize=1)
def load_cards() -> dict[str, dict[str, Any]]:
    """The stored cards by key (``profanity``, ``detoxify:original``, ``column:perspective_toxicity``, ...).

    >>> "profanity model" in load_cards()["profanity"]["summary"]
    True
    """
    return json.loads(CARDS_FILE.read_text())["cards"]


def card_key(identity: dict[str, Any]) -> str:
    """The card a scorer identity is described by: the name, and for Detoxify, hf and column the model.

    >>> card_key({"name": "detoxify", "model": "unbiased"}), card_key({"name": "profanity", "model": "x"})
    ('detoxify:unbiased', 'profanity')
    """
    name = str(identity.get("name", "?"))
    return name if name in ("profanity", "politeness") else f"{name}:{identity.get('model', '')}"


def card_for(identity: dict[str, Any], calibration: str | None = None) -> dict[str, Any]:
    """The card of the scorer with ``identity`` as a run used it: the stored card (or one saying that none
    is stored), the identity's version and weights, and ``calibration`` (the calibration file applied, or
    None: raw scores).

    >>> card = card_for({"name": "profanity", "model": "alt-profanity-check", "version": "1.5", "weights": "ab"})
    >>> card["key"], card["version"], card["weights_run"], card["calibration"]
    ('profanity', '1.5', 'ab', None)
    >>> card_for({"name": "hf", "model": "/models/x"})["summary"]
    'no stored card for hf:/models/x: a local model; describe its provenance, licence and validity yourself'
    """
    key = card_key(identity)
    stored = load_cards().get(key)
    if stored is None:
        what = "scores read from the data's own columns" if identity.get("name") == "column" else "a local model"
        stored = {"name": identity.get("name"), "summary": f"no stored card for {key}: {what}; describe "
                                                          "its provenance, licence and validity yourself",
                  "validity": []}
    weights = identity.get("weights") or identity.get("weights_sha256")
    return {"key": key, **stored, "version": identity.get("version", stored.get("version")),
            "weights_run": weights, "calibration": calibration}


def card_lines(card: dict[str, Any]) -> list[str]:
    """A card as short lines for a terminal.

    >>> card_lines(load_cards()["profanity"])[0].startswith("profanity: ")
    True
    """
    lines = [f"{card.get('key', card.get('name'))}: {card.get('summary', '')}"]
    for field in ("licence", "training_data", "measures_well", "measures_badly", "weights_sha256"):
        if card.get(field):
            lines.append(f"  {field.replace('_', ' ')}: {card[field]}")
    for v in card.get("validity", []):
        lines.append(f"  validity: {v['dataset']} ({v['truth']}, n = {v['n']:,}): {v['metric']} = "
                     f"{v['value']:.3f} [{v['date']}]")
    if not card.get("validity"):
        lines.append(f"  validity: {card.get('validity_note', 'not measured')}")
    return lines
