"""The canonical comment frame: one row per post or comment, one explicit Polars schema.

Loaders produce the *source* columns; :func:`toolkit.threads.add_tree_columns` adds the *tree*
columns. Loaders may add extra, source-specific columns after these (e.g. ``subreddit``, ``edited``).
"""

from __future__ import annotations

import polars as pl

STRUCTURES = ("tree", "flat", "orphan")

# The politeness strategies of Danescu-Niculescu-Mizil et al. (2013): the count columns scorer=politeness
# writes (definitions: docs/politeness.md) and the civility analyses read.
POLITENESS_STRATEGIES: tuple[str, ...] = (
    "gratitude", "deference", "greeting", "positive_lexicon", "negative_lexicon", "apologizing",
    "please", "please_start", "indirect_btw", "direct_question", "direct_start", "counterfactual_modal",
    "indicative_modal", "first_person_start", "first_person_plural", "first_person", "second_person",
    "second_person_start", "hedges", "factuality", "hedge_lexicon",
)

SOURCE_SCHEMA: dict[str, pl.DataType] = {
    "thread_id": pl.String(),  # the post's id; every row of a thread shares it
    "comment_id": pl.String(),  # unique within the thread (the post's row has comment_id == thread_id)
    "parent_id": pl.String(),  # null for the post and for comments whose source has no reply links
    "is_post": pl.Boolean(),
    "author": pl.String(),  # null when the account is gone ("[deleted]") or unknown
    "text": pl.String(),  # null when the platform no longer shows it (removed/deleted placeholders)
    "created_at": pl.Datetime("us", "UTC"),
    "score": pl.Int64(),
    "removed": pl.Boolean(),  # removed by a moderator or admin
    "deleted": pl.Boolean(),  # deleted by its author
    "platform": pl.String(),  # "reddit", "lemmy", "text", ...
    "source_position": pl.Int64(),  # 0-based order of the row in its source (page order)
}

#: Extras some loaders add (Lemmy: federation and the modlog's removals); the analyses that need one skip
#: with a reason when it is absent.
OPTIONAL_EXTRAS: dict[str, pl.DataType] = {
    "community": pl.String(),  # the community (subforum) the thread belongs to
    "instance": pl.String(),  # the federated server the row was written on (host of its ap_id)
    "community_instance": pl.String(),  # the server hosting the community
    "removal_reason": pl.String(),  # the moderator's stated reason (from a modlog)
    "removed_at": pl.Datetime("us", "UTC"),
    "removed_by": pl.String(),  # the moderator's name (null when hidden)
    "removal_source": pl.String(),  # which signal marked the row removed (e.g. "modlog")
    "text_source": pl.String(),  # where the text came from when not the listing itself (e.g. "modlog")
}

TREE_SCHEMA: dict[str, pl.DataType] = {
    "reply_depth": pl.Int32(),  # post 0, top-level comment 1, reply to depth d is d+1; null if unknown
    "root_id": pl.String(),  # the top-level comment (depth 1) whose sub-thread holds this row
    "n_replies": pl.Int32(),  # direct replies present in the data
    "subtree_size": pl.Int32(),  # this row plus all its descendants present in the data
    "parent_removed": pl.Boolean(),  # the parent was removed by a moderator (null: no parent in data)
    "structure": pl.Enum(list(STRUCTURES)),
}

COMMENT_SCHEMA: dict[str, pl.DataType] = {**SOURCE_SCHEMA, **TREE_SCHEMA}

REJECTS_SCHEMA: dict[str, pl.DataType] = {
    "file": pl.String(),
    "line": pl.Int64(),  # 1-based line (or record number for JSON documents); null if not applicable
    "field": pl.String(),
    "reason": pl.String(),
}


def empty_rejects() -> pl.DataFrame:
    """An empty rejects table with the canonical schema."""
    return pl.DataFrame(schema=REJECTS_SCHEMA)


def conform(frame: pl.DataFrame, schema: dict[str, pl.DataType] = SOURCE_SCHEMA) -> pl.DataFrame:
    """Cast ``frame`` to ``schema`` (adding missing columns as nulls), canonical columns first, extras after."""
    missing = [pl.lit(None, dtype=dtype).alias(name) for name, dtype in schema.items() if name not in frame.columns]
    extras = [c for c in frame.columns if c not in schema]
    return frame.with_columns(missing).select(
        *(pl.col(name).cast(dtype) for name, dtype in schema.items()), *extras
    )


def is_comment() -> pl.Expr:
    """True on comment rows (not the post); a row whose ``is_post`` is unknown counts as a comment, the
    same everywhere (loaders set it; :func:`toolkit.threads.add_tree_columns` fills nulls with False).

    >>> pl.DataFrame({"is_post": [True, False, None]}).select(is_comment())["is_post"].to_list()
    [False, True, True]
    """
    return ~pl.col("is_post").fill_null(False)


def scored(column: str) -> pl.Expr:
    """True where ``column`` holds a score: not null (not scored) and not NaN (the scorer gave none).

    >>> pl.DataFrame({"toxicity": [0.5, None, float("nan")]}).select(scored("toxicity"))["toxicity"].to_list()
    [True, False, False]
    """
    return pl.col(column).is_not_null() & pl.col(column).is_not_nan()
