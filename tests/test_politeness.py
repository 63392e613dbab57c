"""Politeness strategies, one by one, on sentences worked out by hand; the score and the model's identity."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

from toolkit.errors import ScoringError
from toolkit.schema import POLITENESS_STRATEGIES
from toolkit.scoring import politeness
from toolkit.scoring.politeness import politeness_markers, politeness_score

# (strategy, text, expected count): positives and the near misses a rule must not take
CASES = [
    ("gratitude", "Thanks for fixing it. I really appreciate your help.", 2),
    ("gratitude", "Thank you!", 1),
    ("gratitude", "That was a thankless task.", 0),
    ("deference", "Nice work on the article. Could you add a source?", 1),
    ("deference", "It is a nice article.", 0),
    ("greeting", "Hi there, can you help?", 1),
    ("greeting", "Hey! Hello again.", 2),
    ("greeting", "Say hi to them.", 0),
    ("positive_lexicon", "A good and helpful edit.", 2),
    ("positive_lexicon", "The goods arrived.", 0),
    ("negative_lexicon", "This is wrong and stupid.", 2),
    ("negative_lexicon", "The page has two sections.", 0),
    ("apologizing", "Sorry to bother you. I apologize for the mess.", 2),
    ("apologizing", "Excuse me, oops.", 2),
    ("apologizing", "Forgive them.", 0),
    ("please", "Could you please check it?", 1),
    ("please", "Please check it.", 0),  # at the start: please_start, not please
    ("please", "It was a pleasant and pleasing edit; I was pleased.", 0),  # inside a word
    ("please_start", "Please check it. And please reply.", 1),
    ("please_start", "\"Please, stop.\"", 1),
    ("please_start", "Could you please check it?", 0),
    ("indirect_btw", "By the way, where did you find that?", 1),
    ("indirect_btw", "I found it by the way side.", 0),
    ("indirect_btw", "Btw, where is it?", 0),  # the paper's phrase only
    ("direct_question", "Why did you revert it?", 1),
    ("direct_question", "So what is the source?", 1),  # second word
    ("direct_question", "Is this the right page? I know what you mean.", 0),  # a question, not a wh-start
    ("direct_question", "Could you tell me why?", 0),
    ("direct_start", "So, you deleted it. But why? And then?", 3),
    ("direct_start", "It is so.", 0),
    ("counterfactual_modal", "Could you look? Would you mind?", 2),
    ("counterfactual_modal", "Could we look?", 0),
    ("indicative_modal", "Can you look? Will you answer?", 2),
    ("indicative_modal", "You can look.", 0),
    ("first_person_start", "I did it. My edit stands.", 2),
    ("first_person_start", "Then I did it.", 0),
    ("first_person_plural", "We should fix our page for us.", 3),
    ("first_person_plural", "Use the bus.", 0),
    ("first_person", "Then I did it, i.e. my edit.", 2),  # 'i.e.' is not 'i'
    ("first_person", "I did it.", 0),  # at the start: first_person_start
    ("second_person", "Thanks for your help, you rock.", 2),
    ("second_person", "You did it.", 0),
    ("second_person_start", "You did it! Your edit was fine.", 2),
    ("second_person_start", "Thank you.", 0),
    ("hedges", "I think it is fine. It seems wrong. I'd suggest a merge.", 3),
    ("hedges", "The bot seems broken; I would think so; I don't think so.", 3),
    ("hedges", "Maybe it is fine.", 0),  # a hedge word, but no subject + hedging verb
    ("hedges", "I want to suggest a fix, as was suggested by the claim.", 0),  # no subject before the verb
    ("factuality", "In fact, it is actually the truth.", 3),
    ("factuality", "It is a fact.", 0),
    ("hedge_lexicon", "Maybe it is probably fine, in my opinion.", 3),
    ("hedge_lexicon", "It is fine.", 0),
]


@pytest.mark.parametrize(("strategy", "text", "expected"), CASES)
def test_strategy_counts(strategy: str, text: str, expected: int) -> None:
    assert politeness_markers(pl.Series([text]))[strategy].item() == expected


def test_every_strategy_has_a_positive_and_a_negative_case() -> None:
    positives = {s for s, _, n in CASES if n > 0}
    negatives = {s for s, _, n in CASES if n == 0}
    assert positives == set(POLITENESS_STRATEGIES)
    assert negatives == set(POLITENESS_STRATEGIES)


def test_markers_shape_nulls_and_case() -> None:
    markers = politeness_markers(pl.Series(["PLEASE HELP. Could YOU\u2019re", None, ""]))
    assert markers.columns == list(POLITENESS_STRATEGIES)
    assert markers.dtypes == [pl.UInt32] * len(POLITENESS_STRATEGIES)
    assert markers.row(0, named=True)["please_start"] == 1
    assert markers.row(0, named=True)["counterfactual_modal"] == 1
    assert markers.row(1) == (None,) * len(POLITENESS_STRATEGIES)
    assert markers.row(2) == (0,) * len(POLITENESS_STRATEGIES)


def test_sentence_starts_after_newline_and_bullets() -> None:
    markers = politeness_markers(pl.Series(["ok\n- please look\n(hi) again"]))
    assert markers.select("please_start", "greeting").row(0) == (1, 1)


def test_score_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    # logit = -1 + 2 (gratitude present) + 0.5 (the word "help", once though it occurs twice) = 1.5
    model = {"model": "t", "intercept": -1.0, "coefficients": {"gratitude": 2.0, "please": -3.0},
             "words": {"help": 0.5}}
    monkeypatch.setattr(politeness, "_model", lambda: model)
    scores = politeness_score(pl.Series(["Thanks, help help", "nothing here", None]))
    assert scores.name == "politeness"
    assert scores[0] == pytest.approx(1 / (1 + math.exp(-1.5)))
    assert scores[1] == pytest.approx(1 / (1 + math.exp(1.0)))
    assert scores[2] is None


def test_score_from_a_markers_frame_equals_score_from_texts() -> None:
    texts = pl.Series(["Could you please fix it? Thanks!", "Why did you do that?"])
    frame = politeness_markers(texts).with_columns(text=texts)
    assert politeness_score(frame).to_list() == politeness_score(texts).to_list()
    with pytest.raises(ScoringError, match="no 'text' column"):
        politeness_score(politeness_markers(texts))


def test_shipped_model_orders_polite_above_rude() -> None:
    scores = politeness_score(pl.Series([
        "Hi, could you please take a look at my edit when you have a moment? Thanks!",
        "Why did you revert it? This is wrong.",
    ])).to_list()
    assert 0.0 <= scores[1] < 0.5 < scores[0] <= 1.0


def test_shipped_model_file_is_plain_json_with_every_strategy() -> None:
    model = json.loads(politeness.MODEL_FILE.read_text())
    assert set(model["coefficients"]) == set(POLITENESS_STRATEGIES)
    assert model["coefficients"]["gratitude"] > 0 > model["coefficients"]["direct_start"]


def test_identity_changes_with_the_coefficients(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = politeness.identity()
    for name in politeness.DATA_FILES:
        (tmp_path / name).write_bytes((politeness.DATA_DIR / name).read_bytes())
    (tmp_path / "model.json").write_text(json.dumps({"model": "other", "intercept": 0, "coefficients": {}}))
    monkeypatch.setattr(politeness, "DATA_DIR", tmp_path)
    monkeypatch.setattr(politeness, "_model", lambda: {"model": "other"})
    after = politeness.identity()
    assert before["name"] == after["name"] == "politeness"
    assert after["model"] == "other"
    assert len(before["weights_sha256"]) == 16
    assert after["weights_sha256"] != before["weights_sha256"]
