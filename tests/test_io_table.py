"""Table loader (CSV/TSV/Parquet/JSON lines with a column mapping): the bundled r/science and ToxicSpans
tables (golden counts checked independently with Python's csv module), mapping rules, value parsing and
bad input."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from helpers import compose_settings

from toolkit.io import detect_format, load_source
from toolkit.io.base import LoadError
from toolkit.io.table import read_table
from toolkit.schema import SOURCE_SCHEMA
from toolkit.threads import add_tree_columns

ROOT = Path(__file__).resolve().parents[1]
RSCIENCE = ROOT / "data" / "rscience_removal.csv"
TOXIC_SPANS = ROOT / "data" / "toxic_spans_labelled.csv"
RSCIENCE_MAPPING = {"text": "BODY", "comment_id": "X", "removed": "REMOVED"}
# Golden numbers, counted by hand-independent means (Python's csv module, below) and matching the README.
RSCIENCE_ROWS, RSCIENCE_REMOVED = 3562, 1132


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def by_id(frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {row["comment_id"]: row for row in frame.iter_rows(named=True)}


# ---------------------------------------------------------------------------------------------------
# the bundled r/science removal table


def test_rscience_golden_counts_independently() -> None:
    with RSCIENCE.open(encoding="latin-1", newline="") as handle:
        records = list(csv.reader(handle))
    assert records[0] == ["", "X", "BODY", "REMOVED"]
    assert len(records) - 1 == RSCIENCE_ROWS
    assert sum(r[3] == "1" for r in records[1:]) == RSCIENCE_REMOVED
    raw = RSCIENCE.read_bytes()
    assert raw.count(b"\r\n") == raw.count(b"\n")  # CRLF throughout
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # really latin-1


def test_rscience_loads_through_the_mapping() -> None:
    result = read_table(RSCIENCE, columns=RSCIENCE_MAPPING, encoding="latin-1")
    frame = result.frame
    assert frame.height == RSCIENCE_ROWS and result.rejects.height == 0
    assert result.stats["records"] == RSCIENCE_ROWS and result.stats["blank_lines"] == 0
    assert int(frame["removed"].sum()) == RSCIENCE_REMOVED and frame["removed"].null_count() == 0
    assert frame.columns[: len(SOURCE_SCHEMA)] == list(SOURCE_SCHEMA) and frame.columns[-1] == "column_1"
    with RSCIENCE.open(encoding="latin-1", newline="") as handle:
        records = list(csv.reader(handle))[1:]
    assert frame["comment_id"].to_list() == [r[1] for r in records]
    assert frame["column_1"].to_list() == [r[0] for r in records]
    expected_text = [r[2].replace("\r\n", "\n") for r in records]
    assert frame["text"].to_list() == expected_text  # multi-line bodies intact, CRLF -> LF
    assert frame["text"].str.contains("\n").sum() == sum("\n" in t for t in expected_text) > 1000
    assert frame["text"].str.contains("°").any()  # a latin-1 byte decoded
    assert frame["thread_id"].unique().to_list() == ["rscience_removal"]
    tree = add_tree_columns(frame)
    assert tree["structure"].unique().to_list() == ["flat"] and tree["reply_depth"].unique().to_list() == [1]


def test_rscience_html_unescape() -> None:
    kept = read_table(RSCIENCE, columns=RSCIENCE_MAPPING, encoding="latin-1")
    unescaped = read_table(RSCIENCE, columns=RSCIENCE_MAPPING, encoding="latin-1", html_unescape=True)
    assert kept.frame["text"].str.contains("&gt;").sum() == 234
    assert unescaped.frame["text"].str.contains("&gt;").sum() == 0
    assert unescaped.frame.height == RSCIENCE_ROWS


def test_bundled_dataset_configs_compose_and_load() -> None:
    expected = {"rscience_removal": (RSCIENCE_ROWS, RSCIENCE_REMOVED), "toxic_spans": (16_100, 0)}
    for name, (rows, removed) in expected.items():
        dataset = compose_settings([f"dataset={name}"]).dataset
        result = load_source(ROOT / dataset.path, dataset.format, strict=dataset.strict, **dataset.options)
        assert (result.frame.height, int(result.frame["removed"].sum()), result.rejects.height) == (
            rows,
            removed,
            0,
        )
    assert result.frame["platform"].unique().to_list() == ["civil_comments"]


def test_toxic_spans_table() -> None:
    table = pl.read_csv(TOXIC_SPANS)
    assert table.columns == ["comment_id", "text", "n_annotators", "n_toxic", "n_all_toxic", "toxic"]
    assert table.height == 16_100 and table["comment_id"].n_unique() == 16_100
    assert int(table["n_annotators"].sum()) == 59_215  # every annotation of annotations.csv counted once
    assert table["toxic"].to_list() == (2 * table["n_toxic"] > table["n_annotators"]).to_list()
    assert int(table["toxic"].sum()) == 11_275
    rows = {row["comment_id"]: row for row in table.iter_rows(named=True)}
    assert (
        rows[240311]["text"] == "You're an idiot." and rows[240311]["n_toxic"] == 3 and rows[240311]["toxic"]
    )
    loaded = read_table(TOXIC_SPANS, columns={"comment_id": "comment_id", "text": "text"})
    assert loaded.frame.height == 16_100 and loaded.frame.schema["toxic"] == pl.String


# ---------------------------------------------------------------------------------------------------
# mapping rules


def test_full_mapping_with_threads_and_posts(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "threads.csv",
        "cid,pid,tid,body,who,mod_removed,by_author,ts,points\n"
        "p1,,p1,The post,op,0,0,1700000000,10\n"
        "c1,p1,p1,First!,ann,false,no,2024-01-01T12:00:00Z,2\n"
        "c2,c1,p1,[deleted],[deleted],,,2024-01-01 12:30:00.5,-1\n"
        "c3,p1,p1,rude,bob,TRUE,F,2024-01-01T13:00:00+01:00,0\n",
    )
    mapping = {"comment_id": "cid", "parent_id": "pid", "thread_id": "tid", "text": "body", "author": "who",
               "removed": "mod_removed", "deleted": "by_author", "created_at": "ts", "score": "points"}  # fmt: skip
    result = read_table(path, columns=mapping)
    rows = by_id(result.frame)
    assert result.rejects.height == 0 and list(rows) == ["p1", "c1", "c2", "c3"]
    assert rows["p1"]["is_post"] and not rows["c1"]["is_post"]
    assert rows["p1"]["created_at"] == utc(2023, 11, 14, 22, 13, 20) and rows["p1"]["score"] == 10
    assert rows["c1"]["created_at"] == utc(2024, 1, 1, 12) and rows["c1"]["author"] == "ann"
    assert rows["c2"]["deleted"] and rows["c2"]["text"] is None and rows["c2"]["author"] is None
    assert rows["c2"]["removed"] is None  # empty cell: unknown
    assert rows["c2"]["created_at"] == utc(2024, 1, 1, 12, 30, 0, 500000)
    assert rows["c3"]["removed"] is True and rows["c3"]["deleted"] is False
    assert rows["c3"]["created_at"] == utc(2024, 1, 1, 12)
    tree = by_id(add_tree_columns(result.frame))
    assert [tree[c]["reply_depth"] for c in ("p1", "c1", "c2", "c3")] == [0, 1, 2, 1]
    assert tree["p1"]["n_replies"] == 2 and tree["c2"]["root_id"] == "c1"


def test_missing_columns_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "just_text.csv", "body\nfirst\nsecond\n")
    result = read_table(path, columns={"text": "body"})
    frame = add_tree_columns(result.frame)
    assert frame["comment_id"].to_list() == ["1", "2"] and frame["thread_id"].unique().to_list() == [
        "just_text"
    ]
    assert frame["structure"].to_list() == ["flat", "flat"] and frame["reply_depth"].to_list() == [1, 1]
    assert not frame["is_post"].any() and frame["parent_id"].null_count() == 2
    named = read_table(path, columns={"text": "body"}, thread_id="t9", platform="forum")
    assert named.frame["thread_id"].unique().to_list() == ["t9"] and named.frame["platform"][0] == "forum"


@pytest.mark.parametrize("header", ["x^2,text", "x\x01,text"])
def test_a_header_that_starts_like_zlib_still_reads_as_csv(tmp_path: Path, header: str) -> None:
    """Polars takes bytes starting ``x^`` (or ``x\\x01``) for a zlib stream; the table loader reads them as text."""
    path = write(tmp_path, "squares.csv", f"{header}\n4,first\n9,second\n")
    frame = read_table(path, columns={"text": "text"}).frame
    assert frame["text"].to_list() == ["first", "second"]
    assert frame[header.split(",")[0]].to_list() == ["4", "9"]


def test_parent_links_without_thread_column(tmp_path: Path) -> None:
    path = write(tmp_path, "pairs.csv", "id,parent,text\na,,top\nb,a,reply\nc,zz,orphan\n")
    tree = by_id(
        add_tree_columns(read_table(path, columns={"comment_id": "id", "parent_id": "parent"}).frame)
    )
    assert (  # a blank parent in a file with parents: top-level (issue 18), no longer "flat"
        (tree["a"]["parent_id"], tree["a"]["structure"], tree["a"]["reply_depth"]) == ("pairs", "tree", 1)
        and tree["b"]["reply_depth"] == 2
        and tree["b"]["structure"] == "tree"
    )
    assert tree["c"]["structure"] == "orphan" and tree["c"]["reply_depth"] is None


def test_same_named_columns_map_themselves_and_extras_are_kept(tmp_path: Path) -> None:
    path = write(tmp_path, "canon.csv", "comment_id,text,score,label,,body\n1,hi,3,yes,x,alt\n")
    result = read_table(path)
    assert result.stats["columns"] == {"comment_id": "comment_id", "text": "text", "score": "score"}
    row = result.frame.row(0, named=True)
    assert (row["text"], row["score"], row["label"], row["column_5"], row["body"]) == (
        "hi",
        3,
        "yes",
        "x",
        "alt",
    )
    swapped = read_table(path, columns={"text": "body", "score": None})
    row = swapped.frame.row(0, named=True)
    assert (
        row["text"] == "alt" and row["src_text"] == "hi" and row["src_score"] == "3" and row["score"] is None
    )
    assert read_table(path, keep_columns=False).frame.columns == list(SOURCE_SCHEMA)


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"body": "text"}, "unknown field"),
        ({"text": "nope"}, "'nope' .*not in the file"),
        ({"text": "a", "author": "a"}, "two fields"),
    ],
)
def test_mapping_errors(tmp_path: Path, columns: dict[str, str], message: str) -> None:
    path = write(tmp_path, "m.csv", "a,b\n1,2\n")
    with pytest.raises(LoadError, match=message) as info:
        read_table(path, columns=columns)
    assert str(path) in str(info.value)


# ---------------------------------------------------------------------------------------------------
# values


def test_boolean_like_values(tmp_path: Path) -> None:
    values = ["1", "0", "true", "FALSE", "Yes", "no", "t", "F", "y", "N", " 1 ", "", "1.0"]
    path = write(tmp_path, "b.csv", "id,removed\n" + "".join(f"{i},{v}\n" for i, v in enumerate(values)))
    frame = read_table(path, columns={"comment_id": "id", "text": None}).frame
    assert frame["removed"].to_list() == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        None,
        True,
    ]


def test_unparseable_values_are_rejected_with_file_line_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.csv",
        'id,removed,created,score,text\n1,maybe,2024-01-01,1,"two\nlines"\n2,1,not a date,2,x\n3,0,,2.5,y\n,1,,,z\n4,0,0,1e3,ok\n',
    )
    result = read_table(path, columns={"comment_id": "id", "created_at": "created"})
    assert result.stats["records"] == 5 == result.frame.height + result.rejects.height
    rejects = result.rejects.rows()
    assert rejects == [
        (str(path), 2, "removed", "cannot parse 'maybe' (column 'removed')"),
        (str(path), 4, "created_at", "cannot parse 'not a date' (column 'created')"),
        (str(path), 5, "score", "cannot parse '2.5' (column 'score')"),
        (str(path), 6, "comment_id", "missing value in column 'id'"),
    ]
    row = result.frame.row(0, named=True)
    assert row["comment_id"] == "4" and row["score"] == 1000 and row["created_at"] == utc(1970, 1, 1)
    with pytest.raises(LoadError, match=r"bad.csv, line 2, field 'removed': cannot parse 'maybe'"):
        read_table(path, columns={"comment_id": "id", "created_at": "created"}, strict=True)


def test_duplicate_ids_keep_the_last(tmp_path: Path) -> None:
    path = write(tmp_path, "d.csv", "id,text\na,old\nb,x\na,new\n")
    result = read_table(path, columns={"comment_id": "id"})
    assert by_id(result.frame)["a"]["text"] == "new" and result.stats["duplicates"] == 1
    assert result.rejects.rows() == [(str(path), 2, "comment_id", "duplicate id (older version): d/a")]


def test_encodings(tmp_path: Path) -> None:
    content = "id,text\n1,café\n2,naïve\n"
    latin = write(tmp_path, "latin.csv", content.encode("latin-1"))
    assert read_table(latin, encoding="latin-1").frame["text"].to_list() == ["café", "naïve"]
    as_utf8 = read_table(latin)  # the default UTF-8 rejects the rows with latin-1 bytes, keeps none silently
    assert as_utf8.frame.height == 0 and as_utf8.rejects["line"].to_list() == [2, 3]
    assert "encoding" in as_utf8.rejects["reason"][0]
    bom = write(tmp_path, "bom.csv", "\ufeffid,text\n1,x\n".encode())
    assert read_table(bom).frame["comment_id"].to_list() == ["1"]
    with pytest.raises(LoadError, match="unknown encoding"):
        read_table(bom, encoding="klingon")


def test_ragged_and_badly_quoted_records(tmp_path: Path) -> None:
    path = write(tmp_path, "r.csv", 'id,text\n1,a\n2\n3,c,extra\n\n4,"multi\nline"\n5,"ab"c\n6,"cut')
    result = read_table(path)
    assert result.frame["comment_id"].to_list() == ["1", "4"] and result.stats["blank_lines"] == 1
    assert result.stats["records"] == 6 == result.frame.height + result.rejects.height
    assert [
        (line, reason.split(":")[0]) for line, reason in result.rejects.select("line", "reason").rows()
    ] == [
        (3, "record has 1 fields, the header 2"),
        (4, "record has 3 fields, the header 2"),
        (8, "malformed CSV"),
        (9, "malformed CSV"),
    ]


def test_whole_file_problems(tmp_path: Path) -> None:
    for name, content, message in [
        ("empty.csv", b"", "empty file"),
        ("blank.tsv", b"\n \n", "empty file"),
        ("x.unknown", b"a\n1\n", "cannot tell the table type"),
        ("broken.parquet", b"PAR1 not really", "cannot read as Parquet"),
        ("junk.jsonl", b"nope\nnope\n", "not JSON lines"),
    ]:
        path = write(tmp_path, name, content)
        with pytest.raises(LoadError, match=message) as info:
            read_table(path)
        assert str(path) in str(info.value)
    header_only = write(tmp_path, "header.csv", "id,text\r\n")
    assert read_table(header_only).frame.height == 0


# ---------------------------------------------------------------------------------------------------
# the other file types


def test_tsv_parquet_jsonl_and_detection(tmp_path: Path) -> None:
    tsv = write(tmp_path, "t.tsv", 'id\ttext\tremoved\n1\t"tab\tinside"\tyes\n2\tplain\t0\n')
    assert detect_format(tsv) == "tsv"
    frame = load_source(tsv, columns={"comment_id": "id"}).frame
    assert frame["text"].to_list() == ["tab\tinside", "plain"] and frame["removed"].to_list() == [True, False]

    parquet = tmp_path / "t.parquet"
    pl.DataFrame(
        {
            "id": [1, 2],
            "text": ["a", None],
            "removed": [True, None],
            "score": [1.0, 2.0],
            "created_at": [datetime(2024, 1, 1), datetime(2024, 1, 2, 6)],
        }  # fmt: skip
    ).write_parquet(parquet)
    assert detect_format(parquet) == "parquet"
    rows = by_id(load_source(parquet, columns={"comment_id": "id"}).frame)
    assert (
        rows["1"]["score"] == 1
        and rows["2"]["created_at"] == utc(2024, 1, 2, 6)
        and rows["2"]["removed"] is None
    )

    jsonl = write(
        tmp_path,
        "t.jsonl",
        json.dumps({"id": 1, "body": "a", "extra": {"k": [1]}, "removed": True}) + "\n\n"
        + json.dumps({"id": "2", "body": "b", "removed": "no", "ts": "2024-05-01T00:00:00Z"}) + "\n",
    )  # fmt: skip
    result = load_source(
        jsonl, format="table", columns={"comment_id": "id", "text": "body", "created_at": "ts"}
    )
    rows = by_id(result.frame)
    assert (
        rows["1"]["removed"] is True
        and rows["2"]["removed"] is False
        and json.loads(rows["1"]["extra"]) == {"k": [1]}
    )
    assert rows["2"]["created_at"] == utc(2024, 5, 1)

    mixed = write(tmp_path, "m.jsonl", '{"id": 1}\n[1]\n{"id": \n{"id": 4, "removed": "maybe"}\n')
    result = read_table(mixed, columns={"text": None})
    assert result.frame["comment_id"].to_list() == ["1"]
    assert result.rejects.select("line", "field").rows() == [(2, None), (3, None), (4, "removed")]
