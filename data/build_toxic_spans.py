"""Build ``data/toxic_spans_labelled.csv``: one row per Civil Comments post with its human toxicity label.

Source: ``shared/data/labelled/toxic_spans/`` (ipavlopoulos/toxic_spans, ``data/``, CC0): ``comments.csv``
(``comment_id, comment_text``, 16,100 posts) and ``annotations.csv`` (one row per annotator and post:
``annotation, comment_id, worker, country, all toxic, not toxic``; 59,215 rows, mostly 3 annotators a post,
some 4-7, one quiz post with 357).

The annotation tool (the project's Appen template) had two tick-boxes beside the span highlighter: "the
comment below is not toxic" (``not toxic``) and "no specific span is responsible for the text's toxicity"
(``all toxic``). An annotator therefore judges a post toxic when they did NOT tick ``not toxic``. In the
released file both boxes are ticked together on 21,189 of 59,215 annotations, so ``all toxic`` cannot be
read as "toxic" on its own; it is kept as a count (``n_all_toxic``) for anyone who wants another rule.

Columns written:
- ``comment_id`` (int), ``text`` (the post's text),
- ``n_annotators``: annotations of the post,
- ``n_toxic``: annotators who did not tick ``not toxic``,
- ``n_all_toxic``: annotators who ticked ``all toxic``,
- ``toxic``: a strict majority says toxic (``2 * n_toxic > n_annotators``; a tie is not toxic).

Every post of comments.csv has annotations (checked). Run from the repository root::

    .venv/bin/python data/build_toxic_spans.py [SOURCE_DIR] [OUT_CSV]
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "labelled" / "toxic_spans"
DEFAULT_OUT = ROOT / "data" / "toxic_spans_labelled.csv"


def build(source: Path = DEFAULT_SOURCE) -> pl.DataFrame:
    """The labelled table (see the module docstring), sorted by ``comment_id``."""
    comments = pl.read_csv(
        source / "comments.csv", schema={"comment_id": pl.Int64(), "comment_text": pl.String()}
    )
    annotations = pl.read_csv(
        source / "annotations.csv",
        schema_overrides={"comment_id": pl.Int64(), "all toxic": pl.Boolean(), "not toxic": pl.Boolean()},
    )
    if annotations.select(pl.col("all toxic", "not toxic").null_count()).sum_horizontal().item():
        raise ValueError("annotations.csv has empty 'all toxic'/'not toxic' cells")
    votes = annotations.group_by("comment_id").agg(
        n_annotators=pl.len().cast(pl.Int64),
        n_toxic=(~pl.col("not toxic")).sum().cast(pl.Int64),
        n_all_toxic=pl.col("all toxic").sum().cast(pl.Int64),
    )
    table = comments.join(votes, on="comment_id", how="left", validate="1:1")
    missing = table.filter(pl.col("n_annotators").is_null()).height
    if missing:
        raise ValueError(f"{missing} comments have no annotations")
    if comments["comment_id"].n_unique() != comments.height:
        raise ValueError("comments.csv repeats comment ids")
    return (
        table.rename({"comment_text": "text"})
        .with_columns(toxic=2 * pl.col("n_toxic") > pl.col("n_annotators"))
        .select("comment_id", "text", "n_annotators", "n_toxic", "n_all_toxic", "toxic")
        .sort("comment_id")
    )


def main(argv: list[str]) -> None:
    source = Path(argv[1]) if len(argv) > 1 else DEFAULT_SOURCE
    out = Path(argv[2]) if len(argv) > 2 else DEFAULT_OUT
    table = build(source)
    table.write_csv(out)
    print(f"{out}: {table.height} comments, {int(table['toxic'].sum())} toxic by majority")


if __name__ == "__main__":
    main(sys.argv)
