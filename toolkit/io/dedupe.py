"""De-duplication for every loader: one routine (:func:`toolkit.threads.dedupe_comments`), two ways to report
the copies dropped: ``drop_duplicates`` (the last version wins) and ``dedupe_versions`` (Reddit: the newest
retrieval wins); each superseded copy becomes one reject.

>>> import polars as pl
>>> frame = pl.DataFrame({"thread_id": ["p", "p"], "comment_id": ["a", "a"], "line": [1, 2]})
>>> found = []
>>> kept, dropped = drop_duplicates(frame, lambda row, reason: found.append((row["line"], reason)))
>>> kept["line"].to_list(), dropped, found
([2], 1, [(1, 'duplicate id (older version): p/a')])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from toolkit.io.base import Rejects
from toolkit.threads import dedupe_comments

DUPLICATE_REASON = "duplicate id (older version)"


def drop_duplicates(
    frame: pl.DataFrame, reject: Callable[[dict[str, Any], str], None]
) -> tuple[pl.DataFrame, int]:
    """Keep the last version of each (thread_id, comment_id); ``reject(row, reason)`` for each older one, in order."""
    kept, superseded = dedupe_comments(frame)
    for row in superseded.iter_rows(named=True):
        reject(row, f"{DUPLICATE_REASON}: {row['thread_id']}/{row['comment_id']}")
    return kept, superseded.height


def dedupe_versions(frame: pl.DataFrame, files: Sequence[Path], rejects: Rejects) -> tuple[pl.DataFrame, int]:
    """Keep the newest version of each (is_post, comment_id); each older copy becomes a reject.

    Newest: largest ``_retrieved`` (nulls oldest), then the later row. ``frame`` carries the private
    columns ``_retrieved``, ``_line`` and ``_file`` (an index into ``files``). Returns (frame, copies dropped).
    """
    kept, superseded = dedupe_comments(frame, ("is_post", "comment_id"), newest_by="_retrieved")
    if superseded.height == 0:
        return kept, 0
    winners = frame.select(pl.col("_line").alias("_wline"), pl.col("_file").alias("_wfile"))[superseded["_winner"]]
    for row in pl.concat([superseded, winners], how="horizontal").iter_rows(named=True):
        where = f"line {row['_wline']}"
        if row["_wfile"] != row["_file"]:
            where += f" of {files[row['_wfile']].name}"
        label = "post" if row["is_post"] else "comment"
        rejects.add(
            files[row["_file"]],
            row["_line"],
            "id",
            f"{label} {row['comment_id']}: duplicate, superseded by the newer version at {where}",
        )
    return kept, superseded.height
