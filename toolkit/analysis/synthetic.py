"""Tiny hand-written threads as canonical frames: for examples, notebooks and tests with known answers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import polars as pl

from toolkit.schema import SOURCE_SCHEMA, conform
from toolkit.threads import add_tree_columns

EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


EXAMPLE_ROWS: tuple[dict[str, Any], ...] = (  # two threads; the posts (a, b) have no score
    {"thread": "a", "id": "a"},
    {"thread": "a", "id": "a1", "parent": "a", "score": 0.9, "removed": True},
    {"thread": "a", "id": "a2", "parent": "a1", "score": 0.8},
    {"thread": "a", "id": "a3", "parent": "a1", "score": 0.2},
    {"thread": "a", "id": "a4", "parent": "a", "score": 0.1},
    {"thread": "b", "id": "b"},
    {"thread": "b", "id": "b1", "parent": "b", "score": 0.2},
    {"thread": "b", "id": "b2", "parent": "b1", "score": 0.5, "removed": True},
)


def example_threads() -> pl.DataFrame:
    """The small frame of the analyses' docstring examples: two threads (a: a1 > a2, a3 and a4; b: b1 > b2),
    ``toxicity`` 0.9, 0.8, 0.2, 0.1 in a and 0.2, 0.5 in b, a1 and b2 removed; values are easy to check by hand.

    >>> example_threads().filter(~pl.col("is_post")).select("comment_id", "reply_depth", "toxicity").rows()[:2]
    [('a1', 1, 0.9), ('a2', 2, 0.8)]
    """
    return make_frame(EXAMPLE_ROWS)


def make_frame(rows: Iterable[Mapping[str, Any]], *, label: str = "toxicity") -> pl.DataFrame:
    """A scored canonical frame from short row specs.

    Each row: ``thread`` and ``id`` (the post has ``id == thread``), optional ``parent`` (``None`` on a
    comment = no reply link, i.e. a flat source), ``score`` (the ``label`` column; ``None`` = no text),
    ``removed``, ``deleted``, ``minute`` (creation time, minutes after 2024-01-01 UTC) and any extra column.
    """
    records = []
    positions: dict[str, int] = {}
    known = {"thread", "id", "parent", "score", "removed", "deleted", "minute"}
    for row in rows:
        thread, cid = str(row["thread"]), str(row["id"])
        score = row.get("score")
        minute = row.get("minute")
        positions[thread] = positions.get(thread, -1) + 1
        records.append({
            "thread_id": thread, "comment_id": cid,
            "parent_id": None if row.get("parent") is None else str(row["parent"]),
            "is_post": cid == thread, "author": None,
            "text": None if score is None else f"text of {cid}",
            "created_at": None if minute is None else EPOCH + timedelta(minutes=float(minute)),
            "score": None, "removed": bool(row.get("removed", False)), "deleted": bool(row.get("deleted", False)),
            "platform": "synthetic", "source_position": positions[thread],
            label: None if score is None else float(score),
            **{k: v for k, v in row.items() if k not in known},
        })
    frame = pl.DataFrame(records, infer_schema_length=None)
    scores = frame[label].cast(pl.Float64)
    return add_tree_columns(conform(frame.drop(label), SOURCE_SCHEMA)).with_columns(scores)


def random_threads(
    n_threads: int = 40,
    *,
    seed: int = 0,
    max_size: int = 120,
    label: str = "toxicity",
    removal_strength: float = 0.5,
    truth: bool = True,
    markers: bool = True,
) -> pl.DataFrame:
    """Random Reddit-like threads for demos and tests: log-uniform sizes, replies that echo their parent's
    toxicity, removals more likely for toxic comments (half of them losing their text), a few deletions,
    timestamps, vote scores, a stated reason (``removal_reason``) for each removal, (``truth``) a noisy human
    label ``toxic`` and a second score ``other``, and (``markers``) politeness markers with a planted derailment
    effect (see :func:`add_markers`)."""
    rng = np.random.default_rng(seed)
    marker_rng = np.random.default_rng([seed, 1])  # a stream of its own: the other columns stay as they were
    rows: list[dict[str, Any]] = []
    for t in range(n_threads):
        thread = f"t{t:04d}"
        rows.append({"thread": thread, "id": thread, "score": 0.1, "minute": 0})
        first = len(rows)
        size = int(np.exp(rng.uniform(0, np.log(max_size))))
        tox: dict[str, float] = {thread: 0.1}
        for i in range(size):
            parent = thread if i == 0 or rng.random() < 0.35 else f"{thread}c{rng.integers(max(0, i - 15), i)}"
            value = float(np.clip(rng.beta(1, 3) * 0.7 + 0.3 * tox[parent], 0, 1))
            cid = f"{thread}c{i}"
            tox[cid] = value
            removed = bool(rng.random() < value * removal_strength)
            deleted = bool(not removed and rng.random() < 0.03)
            row = {"thread": thread, "id": cid, "parent": parent, "minute": i + rng.random(),
                   "score": None if deleted or (removed and rng.random() < 0.5) else value,
                   "removed": removed, "deleted": deleted, "votes": int(rng.integers(-5, 200))}
            if truth:
                row["toxic"] = bool(rng.random() < value)
                row["other"] = float(min(1.0, value + rng.random() * 0.3))
            rows.append(row)
        if markers:
            add_markers(rows[first:], marker_rng)
    frame = make_frame(rows, label=label)
    reason = pl.format("Rule {}", pl.int_range(pl.len()) % 3 + 1)  # a moderator's stated reason, as a modlog has
    return frame.with_columns(pl.col("votes").cast(pl.Int64).alias("score"),
                              removal_reason=pl.when(pl.col("removed")).then(reason)).drop("votes")


MARKER_RATE = 0.3  # chance that a comment uses each synthetic politeness strategy


def add_markers(comments: list[dict[str, Any]], rng: np.random.Generator, k: int = 2) -> None:
    """Add 0/1 ``gratitude, hedges, direct_question, second_person`` and a ``politeness`` score to one thread's
    comment rows (in time order; null without text). The planted effect: when a comment after the first ``k``
    is removed or scores >= 0.5 (the thread derails), its first k comments ask a direct question with chance
    0.6 instead of 0.3.

    >>> rows = [{"score": 0.1, "removed": False}, {"score": None, "removed": True}]
    >>> add_markers(rows, np.random.default_rng(0), k=1)
    >>> rows[1]["direct_question"], sorted(rows[0])[:3]
    (None, ['direct_question', 'gratitude', 'hedges'])
    """
    derails = any(c["removed"] or (c["score"] or 0) >= 0.5 for c in comments[k:])
    for i, c in enumerate(comments):
        draws = rng.random(4)
        if c["score"] is None:
            c.update(dict.fromkeys(("gratitude", "hedges", "direct_question", "second_person", "politeness")))
            continue
        ask = 2 * MARKER_RATE if derails and i < k else MARKER_RATE
        flags = [int(d < rate) for d, rate in zip(draws, (MARKER_RATE, MARKER_RATE, ask, MARKER_RATE), strict=True)]
        c.update(zip(("gratitude", "hedges", "direct_question", "second_person"), flags, strict=True))
        c["politeness"] = float(np.clip(0.5 + 0.2 * (flags[0] + flags[1]) - 0.2 * flags[2], 0, 1))
