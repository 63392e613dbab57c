"""Words the loaders and the analyses share, written once: truth words, placeholder texts, score labels.

Lives at the top of the package (beside :mod:`toolkit.schema`) so that ``toolkit.io``, ``toolkit.scoring``
and ``toolkit.analysis`` all import it without an upward import.

>>> "1.0" in TRUE_WORDS and "no" in FALSE_WORDS
True
"""

from __future__ import annotations

import polars as pl

#: Text read as True / False in a boolean column (compared lower-cased and stripped).
TRUE_WORDS = ("true", "t", "yes", "y", "1", "1.0")
FALSE_WORDS = ("false", "f", "no", "n", "0", "0.0")

#: Reddit-style placeholders: a text that was removed by a moderator / deleted by its author, and the author
#: of an account that is gone.
REMOVED_TEXT = "[removed]"
DELETED_TEXT = "[deleted]"
DELETED_AUTHOR = DELETED_TEXT

#: The label columns Detoxify's models (and the embedded scorer) write, in the canonical order.
DETOXIFY_LABELS = (
    "toxicity", "severe_toxicity", "obscene", "threat", "insult", "identity_attack", "sexual_explicit",
)
#: Every label a toolkit scorer writes: found as score columns when none are named.
SCORE_LABELS = (*DETOXIFY_LABELS, "politeness")


def truth_value(word: pl.Expr) -> pl.Expr:
    """True / False for a truth word (``word`` already stripped and lower-cased), else null.

    >>> pl.select(pl.lit(pl.Series(["yes", "0.0", "maybe"])).pipe(truth_value)).to_series().to_list()
    [True, False, None]
    """
    return pl.when(word.is_in(TRUE_WORDS)).then(True).when(word.is_in(FALSE_WORDS)).then(False)
