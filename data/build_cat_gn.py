"""Build ``data/cat_gn.parquet``: Wikipedia talk-page comments with a human toxicity label and Perspective's score.

Source: ``shared/data/labelled/cat_gn/gn.csv`` (ipavlopoulos/context_toxicity, ``data/CAT_LARGE/gn.csv``;
Pavlopoulos et al., "Toxicity Detection: Does Context Really Matter?", ACL 2020; repository Apache-2.0, the
comments' text Wikipedia's, CC BY-SA). 10,000 comments, columns ``id, text, label, api, parent``: ``label``
(0/1) is the human toxicity label given WITHOUT the parent comment ("gn": no context), ``api`` the
Perspective API TOXICITY score the authors recorded; ``parent`` is empty in this file and left out.

Columns written (sorted by ``comment_id``):
- ``comment_id`` (the source ``id``), ``text``;
- ``toxic``: the human label (``label == 1``);
- ``perspective_toxicity``: the archived Perspective TOXICITY score (float in [0, 1]).

A missing or out-of-range value is an error naming the column and the row's id. Run from the repository
root::

    .venv/bin/python data/build_cat_gn.py [SOURCE_CSV] [OUT_PARQUET]
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "labelled" / "cat_gn" / "gn.csv"
DEFAULT_OUT = ROOT / "data" / "cat_gn.parquet"


def build(source: Path = DEFAULT_SOURCE) -> pl.DataFrame:
    """The labelled table (see the module docstring)."""
    raw = pl.read_csv(
        source,
        schema={"id": pl.String(), "text": pl.String(), "label": pl.Int64(), "api": pl.Float64(),
                "parent": pl.String()},
    )
    bad = raw.filter(
        pl.col("id").is_null() | pl.col("text").is_null() | ~pl.col("label").is_in([0, 1])
        | pl.col("label").is_null() | ~pl.col("api").is_between(0.0, 1.0) | pl.col("api").is_null()
    )
    if bad.height:
        raise ValueError(f"{source}: {bad.height} rows with a missing or out-of-range id/text/label/api, "
                         f"first id {bad['id'][0]!r}")
    if raw["id"].n_unique() != raw.height:
        raise ValueError(f"{source}: repeated ids")
    return (
        raw.select(
            comment_id=pl.col("id"),
            text=pl.col("text"),
            toxic=pl.col("label") == 1,
            perspective_toxicity=pl.col("api"),
        )
        .sort("comment_id")
    )


def main(argv: list[str]) -> None:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    out = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    table = build(source)
    table.write_parquet(out, compression="zstd", statistics=False)
    print(f"{out}: {table.height} comments, {int(table['toxic'].sum())} toxic by the human label")


if __name__ == "__main__":
    main(sys.argv)
