"""Politeness strategies of Danescu-Niculescu-Mizil et al. (ACL 2013) without a parser, and a politeness score.

Each strategy is one Polars expression (regexes and lexicons over the lower-cased text; a sentence starts at
the text's start, after ``.``/``!``/``?`` plus whitespace, after a newline or an emoticon), so millions of
comments are marked on a CPU with no model download. ``politeness_score`` is a logistic regression on the
strategies' presence flags and frequent words, trained on the Stanford Politeness Corpus
(``data/build_politeness_model.py``) and shipped as plain JSON coefficients. Definitions, the differences from the paper's parse-based rules and the lexicons'
sources and licences: ``docs/politeness.md``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import polars as pl

from toolkit.errors import ScoringError
from toolkit.schema import POLITENESS_STRATEGIES
from toolkit.scoring.base import BaseScorer, check_texts
from toolkit.scoring.cache import files_digest
from toolkit.settings import ScorerSettings

DATA_DIR = Path(__file__).with_name("politeness_data")
MODEL_FILE = DATA_DIR / "model.json"
DATA_FILES = ("liu_positive.txt", "liu_negative.txt", "hedges.tsv", "model.json")


_WORD = r"\b\w\w+\b"  # scikit-learn CountVectorizer's default token, for the model's words
# A sentence starts at the text's start, after sentence-final punctuation and whitespace, after a newline, or
# after an emoticon; opening quotes, brackets and list bullets before the first word are skipped.
_START = r"(?:^|[.!?]+[\"')\]]*\s+|\n|[:;]-?[)(dp]+\s+)[\s\"'(\[*_~>-]*"
# "hedges" (a hedging verb with a subject): words between a pronoun subject and its verb, and words that
# cannot be the verb's subject (articles, prepositions, auxiliaries: "to suggest", "was suggested", "the claim").
_FILLERS = (
    "would", "will", "do", "does", "did", "really", "just", "also", "still", "always", "never", "ever", "only",
    "even", "honestly", "certainly", "strongly", "personally", "actually", "might", "may", "could", "can",
    "should", "must", "not", "had", "have", "has", "kind of", "sort of",
)
_NOT_SUBJECTS = _FILLERS + (
    "to", "the", "a", "an", "of", "in", "on", "at", "by", "for", "with", "from", "into", "about", "as", "than",
    "and", "or", "but", "nor", "no", "is", "was", "were", "are", "am", "be", "been", "being", "shall", "very",
    "quite", "so", "too", "my", "your", "his", "her", "our", "their", "its", "any", "some", "every", "each",
    "what", "which", "whose", "how", "why", "when", "where", "if", "whether", "please", "me", "him", "them",
    "us", "there", "second", "further",
)
_PRONOUNS = (
    "i", "we", "you", "he", "she", "it", "they", "this", "that", "one", "who", "anyone", "someone", "everyone",
    "anybody", "somebody", "nobody", "people",
)


def _alternation(words: list[str] | tuple[str, ...]) -> str:
    """``(?:w1|w2|...)``, longest first, spaces matching any whitespace."""
    ordered = sorted(words, key=len, reverse=True)
    return "(?:" + "|".join(re.escape(word).replace(r"\ ", r"\s+") for word in ordered) + ")"


def _words(words: list[str] | tuple[str, ...]) -> str:
    """A regex matching any of ``words`` as whole words."""
    return r"\b" + _alternation(words) + r"\b"


def _at_start(words: list[str] | tuple[str, ...]) -> str:
    """A regex matching any of ``words`` as the first word of a sentence."""
    return _START + _alternation(words) + r"\b"


@lru_cache(maxsize=1)
def _lexicons() -> dict[str, list[str]]:
    """The vendored word lists: Liu's positive and negative opinion words, the hedges (and which are verbs)."""
    def lines(name: str) -> list[str]:
        return [w for w in (DATA_DIR / name).read_text(encoding="utf-8").splitlines() if w.strip()]

    hedge_rows = [row.split("\t") for row in lines("hedges.tsv")[1:]]
    return {
        "positive": lines("liu_positive.txt"),
        "negative": lines("liu_negative.txt"),
        "hedges": [hedge for hedge, _ in hedge_rows],
        "hedge_verbs": [hedge for hedge, verb in hedge_rows if verb == "1"],
    }


@lru_cache(maxsize=1)
def _patterns() -> dict[str, str | tuple[tuple[str, ...], tuple[str, ...]]]:
    """Each strategy's regex, or (added, subtracted) regexes whose match counts are summed and subtracted
    (``please``: anywhere minus at a sentence start)."""
    lex = _lexicons()
    verbs = _alternation(lex["hedge_verbs"]) + r"\b"
    first, second = ("i", "my", "mine", "myself"), ("you", "your", "yours", "yourself")
    return {
        "gratitude": r"\bthanks?\b|\bi(?:'d|\s+(?:would|really|truly|greatly|do|very\s+much))*\s+appreciate\b",
        "deference": _at_start(("great", "good", "nice", "interesting", "cool", "excellent", "awesome")),
        "greeting": _at_start(("hi", "hello", "hey")),
        "positive_lexicon": _words(lex["positive"]),
        "negative_lexicon": _words(lex["negative"]),
        "apologizing": r"\b(?:sorry|woops|oops)\b|\bi(?:\s+\w+)?\s+apologi[sz]e\b|\b(?:forgive|excuse)\s+me\b",
        "please": ((_words(("please",)),), (_at_start(("please",)),)),
        "please_start": _at_start(("please",)),
        "indirect_btw": _at_start(("by the way",)),
        "direct_question": _START + r"(?:[a-z']+\s+)?(?:what|why|who|how)\b",
        "direct_start": _at_start(("so", "then", "and", "but", "or")),
        "counterfactual_modal": r"\b(?:could|would)\s+you\b",
        "indicative_modal": r"\b(?:can|will)\s+you\b",
        "first_person_start": _at_start(first),
        "first_person_plural": _words(("we", "our", "us", "ourselves")),
        "first_person": ((_words(first),), (_at_start(first),)),
        "second_person": ((_words(second),), (_at_start(second),)),
        "second_person_start": _at_start(second),
        # any word but a non-subject right before the verb, plus pronoun + fillers + verb ("i would think")
        "hedges": (
            (r"\b[\w'>]+\s+" + verbs, r"\b" + _alternation(_PRONOUNS) + r"(?:\s+" + _alternation(_FILLERS) + r")+\s+" + verbs),
            (r"\b" + _alternation(_NOT_SUBJECTS) + r"\s+" + verbs,),
        ),
        "factuality": r"\bin\s+fact\b|\bthe\s+(?:point|reality|truth)\b|\b(?:really|actually|honestly|surely)\b",
        "hedge_lexicon": _words(lex["hedges"]),
    }


def strategy_exprs(text: pl.Expr) -> list[pl.Expr]:
    """One UInt32 count expression per strategy (in ``POLITENESS_STRATEGIES`` order) over a string expression.

    >>> frame = pl.DataFrame({"t": ["Please fix it, thanks!"]})
    >>> frame.select(strategy_exprs(pl.col("t"))).select("please_start", "gratitude", "please").row(0)
    (1, 1, 0)
    """
    norm = text.str.to_lowercase().str.replace_all("[\u2018\u2019\u02bc]", "'").str.replace_all(r"\bi\.e\.", "ie")
    exprs = []
    for name in POLITENESS_STRATEGIES:
        pattern = _patterns()[name]
        added, subtracted = pattern if isinstance(pattern, tuple) else ((pattern,), ())
        count = sum((norm.str.count_matches(p) for p in added[1:]), norm.str.count_matches(added[0]).cast(pl.Int64))
        for extra in subtracted:  # a null text stays null
            count = count - norm.str.count_matches(extra)
        exprs.append(count.cast(pl.UInt32).alias(name))
    return exprs


def politeness_markers(texts: pl.Series) -> pl.DataFrame:
    """Per-text counts of each politeness strategy: one column per ``POLITENESS_STRATEGIES`` name; null text, null row.

    >>> m = politeness_markers(pl.Series(["Hi! Could you please check my edit?", None]))
    >>> m.select("greeting", "counterfactual_modal", "please", "first_person").rows()
    [(1, 1, 1, 1), (None, None, None, None)]
    """
    frame = pl.LazyFrame({"text": texts.cast(pl.String)}).select(strategy_exprs(pl.col("text")))
    return frame.collect(engine="streaming")  # in batches: memory stays flat on millions of texts


@lru_cache(maxsize=1)
def _model() -> dict:
    """The shipped logistic regression (``model.json``, written by ``data/build_politeness_model.py``)."""
    return json.loads(MODEL_FILE.read_text(encoding="utf-8"))


def score_expr(model: dict | None = None) -> pl.Expr:
    """The politeness probability over a frame holding the strategy count columns and ``text``: the logistic
    of intercept + the weights of the strategies present + the weights of the words present (once each).

    >>> frame = pl.DataFrame({"text": ["thank you"], **{s: [0] for s in POLITENESS_STRATEGIES}})
    >>> frame.select(score_expr({"intercept": 0.0, "coefficients": {}, "words": {"thank": 1.0}})).item()
    0.7310585786300049
    """
    model = _model() if model is None else model
    words = model.get("words", {})
    word_sum = (
        pl.col("text").str.to_lowercase().str.extract_all(_WORD).list.unique()
        .list.eval(pl.element().replace_strict(list(words), list(words.values()), default=0.0, return_dtype=pl.Float64))
        .list.sum()
    )
    logit = pl.lit(model["intercept"], pl.Float64) + word_sum
    for name, weight in model["coefficients"].items():
        logit = logit + (pl.col(name) > 0).cast(pl.Float64) * weight
    return (1.0 / (1.0 + (-logit).exp())).alias("politeness")


def politeness_score(markers_or_texts: pl.DataFrame | pl.Series) -> pl.Series:
    """The ``politeness`` score in [0, 1] of texts (a String Series), or of a frame with their ``text`` and
    ``politeness_markers`` columns (the model weighs words beside the strategies); null text, null score.

    >>> politeness_score(pl.Series(["Thanks for the help! Could you please look again?", "Why did you do that?"])).round(2).to_list()
    [0.99, 0.06]
    """
    if isinstance(markers_or_texts, pl.DataFrame):
        if "text" not in markers_or_texts.columns:
            raise ScoringError("politeness_score: the markers frame has no 'text' column; the model also weighs "
                               "words, so pass the texts, or frame.with_columns(politeness_markers(texts), text=texts)")
        frame = markers_or_texts.lazy()
    else:
        frame = pl.LazyFrame({"text": markers_or_texts.cast(pl.String)}).with_columns(strategy_exprs(pl.col("text")))
    return frame.select(score_expr()).collect(engine="streaming").to_series()


def identity() -> dict[str, str]:
    """The scorer's cache identity: name, model name and a hash of the coefficients and lexicon files.

    >>> sorted(identity())
    ['model', 'name', 'weights_sha256']
    """
    weights = files_digest(DATA_DIR / name for name in DATA_FILES)
    return {"name": "politeness", "model": _model()["model"], "weights_sha256": weights}


SCORE_CHUNK = 100_000  # texts marked per call when streaming into the cache: Polars works in bulk


class PolitenessScorer(BaseScorer):
    """``scorer=politeness``: the ``politeness`` score and one count column per strategy, through the score
    cache like any scorer (no model to load: the coefficients are read on first use).

    >>> scorer = PolitenessScorer()
    >>> scorer.labels()[:3]
    ['politeness', 'gratitude', 'deference']
    >>> scores = scorer.predict(["Thank you so much!", "Why did you do that?"])
    >>> scores["gratitude"], [round(p, 2) for p in scores["politeness"]]
    ([1.0, 0.0], [0.85, 0.06])
    """

    name = "politeness"

    def __init__(self, settings: ScorerSettings | None = None) -> None:
        """``settings`` are accepted like every scorer's; this one has no options."""
        self.loads = 0

    def identity(self) -> dict[str, str]:
        """Name, model and a hash of the coefficients and lexicons (see :func:`identity`)."""
        return identity()

    def labels(self) -> list[str]:
        """``politeness`` then the strategies, in ``POLITENESS_STRATEGIES`` order."""
        return ["politeness", *POLITENESS_STRATEGIES]

    def _table(self, texts: Sequence[str]) -> pl.DataFrame:
        if self.loads == 0:
            _model()
            self.loads = 1
        frame = pl.LazyFrame({"text": pl.Series(check_texts(texts), dtype=pl.String)})
        marked = frame.with_columns(strategy_exprs(pl.col("text")))
        return marked.select(score_expr(), *POLITENESS_STRATEGIES).collect(engine="streaming").cast(pl.Float64)

    def predict(self, texts: Sequence[str]) -> dict[str, list[float]]:
        """The score and strategy counts (as floats) of each text, in input order."""
        return self._table(texts).to_dict(as_series=False)

    def iter_predict(self, texts: Sequence[str]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Scores in chunks of ``SCORE_CHUNK`` texts (vectorised), as ``(positions, scores)``."""
        texts = list(texts)
        for start in range(0, len(texts), SCORE_CHUNK):
            table = self._table(texts[start : start + SCORE_CHUNK])
            yield np.arange(start, start + table.height), table.to_numpy()
