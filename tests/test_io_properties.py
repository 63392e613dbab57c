"""Property-based tests (hypothesis) for the Lemmy, ConvoKit and table loaders: whatever the input, the loader
returns or raises :class:`LoadError` naming the file, never another exception; rows in = rows kept + rows
rejected, with the input records counted independently (by construction of the file); every reject names the
file, a line and a reason; ``strict=True`` turns the first rejection into the error; duplicates keep the last
version; cyclic parent links load and get tree columns."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from toolkit.io.base import LoadError, LoadResult
from toolkit.io.convokit import read_convokit
from toolkit.io.lemmy import read_lemmy
from toolkit.io.table import read_table
from toolkit.io.text_thread import DELETED_PLACEHOLDERS, REMOVED_PLACEHOLDERS
from toolkit.threads import add_tree_columns

SETTINGS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
# Texts: any characters but NUL, surrogates and bare carriage returns (CR only appears as part of CRLF).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), max_size=40).map(
    lambda s: s.replace("\n", "\r\n") if "\n" in s and len(s) % 2 else s
)
PLACEHOLDERS = REMOVED_PLACEHOLDERS | DELETED_PLACEHOLDERS
HUGE = st.sampled_from(["toxic? " * 15_000, "x" * 200_001])  # texts past the csv module's 128 KiB default
JUNK = st.one_of(
    st.integers(),
    st.floats(allow_nan=False),
    st.booleans(),
    st.lists(st.integers(), max_size=2),
    st.text(max_size=5),
)


def fresh_dir() -> Path:
    """A new directory per example (hypothesis reuses function-scoped fixtures across examples)."""
    return Path(tempfile.mkdtemp(prefix="toolkit-props-"))


def check_result(result: LoadResult, path: Path, records: int, max_line: int) -> None:
    """The invariants every loader promises."""
    assert result.stats["records"] == records
    assert result.rejects.height == result.stats["rows_rejected"]
    rejects = result.rejects
    assert rejects["file"].to_list() == [str(path)] * rejects.height
    assert rejects["line"].null_count() == 0
    assert all(1 <= line <= max_line for line in rejects["line"].to_list())
    assert all(isinstance(reason, str) and reason for reason in rejects["reason"].to_list())
    frame = result.frame
    assert frame.group_by("thread_id", "comment_id").len()["len"].max() in (None, 1)
    add_tree_columns(frame)  # never raises: duplicates are gone, cycles become orphans


def check_strict(load: Callable[..., LoadResult], path: Path, result: LoadResult) -> None:
    """``strict=True``: the first rejection (in the order the lenient run lists them) becomes the error."""
    if result.rejects.height == 0:
        assert load(path, strict=True).frame.equals(result.frame)
        return
    with pytest.raises(LoadError) as info:
        load(path, strict=True)
    first = result.rejects.row(0, named=True)
    assert (info.value.path, info.value.line, info.value.reason) == (
        first["file"],
        first["line"],
        first["reason"],
    )


# ---------------------------------------------------------------------------------------------------
# Lemmy NDJSON


@st.composite
def lemmy_lines(draw: st.DrawFn) -> tuple[list[bytes], list[tuple[str, str]]]:
    """NDJSON lines of CommentViews, some broken; returns the lines and (id, text) of the intact ones."""
    n = draw(st.integers(0, 12))
    ids = draw(st.lists(st.integers(1, 15), min_size=n, max_size=n))  # small range: duplicates happen
    lines: list[bytes] = []
    intact: list[tuple[str, str]] = []
    for cid in ids:
        parent = draw(st.sampled_from([0, *ids]))  # may point at itself or form cycles
        text = draw(st.one_of(TEXT, HUGE)) if draw(st.integers(0, 9)) == 0 else draw(TEXT)
        view = {
            "comment": {
                "id": cid,
                "post_id": 1,
                "content": text,
                "removed": draw(st.booleans()),
                "deleted": False,
                "published": "2024-01-01T00:00:00Z",
                "path": f"0.{parent}.{cid}" if parent else f"0.{cid}",
            },  # fmt: skip
            "creator": {"name": "u"},
            "post": {"id": 1, "name": "t", "body": None},
            "counts": {"score": draw(st.integers(-5, 5))},
        }
        damage = draw(st.sampled_from(["none"] * 5 + ["truncate", "type", "utf8", "not_object", "no_path"]))
        if damage == "type":
            where = draw(
                st.sampled_from(
                    ["comment.id", "comment.removed", "comment.path", "counts.score", "comment.published"]
                )
            )
            outer, inner = where.split(".")
            view[outer][inner] = draw(
                JUNK.filter(lambda v, inner=inner: not (inner == "id" and isinstance(v, int)))
            )
        if damage == "no_path":
            del view["comment"]["path"]
        line = json.dumps(view).encode()
        if damage == "truncate":
            line = line[: draw(st.integers(1, len(line) - 1))]
        elif damage == "utf8":
            at = draw(st.integers(1, len(line) - 1))
            line = line[:at] + b"\xff\xfe" + line[at:]
        elif damage == "not_object":
            line = json.dumps(draw(JUNK)).encode()
        lines.append(line)
        if damage == "none":
            intact.append((str(cid), text))
    return lines, intact


@pytest.mark.slow
@SETTINGS
@given(lemmy_lines(), st.booleans())
def test_lemmy_ndjson_nothing_lost(
    case: tuple[list[bytes], list[tuple[str, str]]], blank_lines: bool
) -> None:
    lines, intact = case
    path = fresh_dir() / "export.ndjson"
    path.write_bytes(b"".join(line + (b"\n\n" if blank_lines else b"\n") for line in lines))
    try:
        result = read_lemmy(path)
    except LoadError as error:
        assert str(path) in str(error)
        assert not intact  # only when no line is a usable JSON value (or the file is empty)
        return
    check_result(result, path, records=len(lines), max_line=len(lines) * (2 if blank_lines else 1))
    assert result.stats["comments"] + result.rejects.height == len(lines)
    assert result.frame.filter(pl.col("is_post")).height <= 1
    kept = dict(result.frame.filter(~pl.col("is_post")).select("comment_id", "text").iter_rows())
    ids = [cid for cid, _ in intact]
    for cid, _text in intact:
        if ids.count(cid) == 1 and cid != "1":  # unique and not clashing with the post's id
            assert cid in kept
    check_strict(read_lemmy, path, result)


# ---------------------------------------------------------------------------------------------------
# ConvoKit utterances.jsonl


@st.composite
def convokit_lines(draw: st.DrawFn) -> list[bytes]:
    n = draw(st.integers(0, 12))
    ids = [f"u{i}" for i in draw(st.lists(st.integers(0, 10), min_size=n, max_size=n))]
    lines = []
    for uid in ids:
        utterance: dict[str, Any] = {
            "id": uid,
            "conversation_id": "u0",
            "reply-to": draw(st.sampled_from([None, *ids, "missing"])),
            "speaker": draw(st.sampled_from(["a", "b", "[deleted]"])),
            "timestamp": draw(st.one_of(st.none(), st.integers(0, 2_000_000_000), st.floats(0, 2e9))),
            "text": draw(st.one_of(TEXT, st.sampled_from(["[removed]", "[deleted]"]))),
            "meta": draw(st.dictionaries(st.sampled_from(["score", "removed", "x"]), JUNK, max_size=3)),
        }
        damage = draw(st.sampled_from(["none"] * 5 + ["truncate", "type", "utf8", "huge"]))
        if damage == "type":
            key = draw(st.sampled_from(["id", "text", "meta", "timestamp", "reply-to"]))
            utterance[key] = draw(
                JUNK.filter(lambda v, key=key: not isinstance(v, (int, str)) or key in ("text", "meta"))
            )
        if damage == "huge":
            utterance["text"] = draw(HUGE)
        line = json.dumps(utterance).encode()
        if damage == "truncate":
            line = line[: draw(st.integers(1, len(line) - 1))]
        elif damage == "utf8":
            at = draw(st.integers(1, len(line) - 1))
            line = line[:at] + b"\xc3\x28" + line[at:]
        lines.append(line)
    return lines


@pytest.mark.slow
@SETTINGS
@given(convokit_lines())
def test_convokit_nothing_lost(lines: list[bytes]) -> None:
    corpus = fresh_dir() / "corpus"
    corpus.mkdir()
    (corpus / "utterances.jsonl").write_bytes(b"".join(line + b"\n" for line in lines))
    path = corpus / "utterances.jsonl"
    try:
        result = read_convokit(corpus)
    except LoadError as error:
        assert str(path) in str(error)
        return
    check_result(result, path, records=len(lines), max_line=len(lines))
    assert result.frame.height + result.rejects.height == len(lines)
    check_strict(read_convokit, corpus, result)


# ---------------------------------------------------------------------------------------------------
# tables (CSV built record by record, so the number of records is known by construction)


def csv_record(values: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue().encode()


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, int, dict[str, str | None]]:
    """(file bytes, records in it, {id: text} of intact records with unique ids; a removed/deleted
    placeholder such as ``[REMOVED]`` is kept as a null text, the loader's rule)."""
    n = draw(st.integers(0, 15))
    ids = [str(i) for i in draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))]
    chunks = [csv_record(["id", "parent", "text", "removed", "score", "created"])]
    intact: dict[str, str | None] = {}
    seen: list[str] = []
    for cid in ids:
        text = draw(HUGE) if draw(st.integers(0, 14)) == 0 else draw(TEXT)
        values = [
            cid,
            draw(st.sampled_from(["", *ids])),  # parents may form cycles
            text,
            draw(st.sampled_from(["1", "0", "yes", "No", "t", "F", "true", ""])),
            draw(st.sampled_from(["", "3", "-2", "4.0"])),
            draw(st.sampled_from(["", "1700000000", "2024-01-01T00:00:00Z", "2024-01-01 10:00"])),
        ]
        damage = draw(st.sampled_from(["none"] * 6 + ["ragged", "type", "utf8", "quote"]))
        if damage == "type":
            column = draw(st.sampled_from([3, 4, 5]))
            values[column] = draw(st.sampled_from(["maybe", "x", "2.5", "not a date", "1e999"]))
        if damage == "ragged":
            values = values[: draw(st.integers(1, 5))] if draw(st.booleans()) else [*values, "extra"]
        chunk = csv_record(values)
        if damage == "utf8":
            chunk = chunk[:1] + b"\xff" + chunk[1:]
        if damage == "quote" and chunk.count(b"\n") == 1:  # one-line records: csv resumes at the next line
            chunk = b'"bad"x,' + chunk
        chunks.append(chunk)
        seen.append(cid)
        if damage == "none":
            key = pl.Series([text]).str.strip_chars().str.to_lowercase().item()  # as the loader compares
            intact[cid] = None if key in PLACEHOLDERS else text.replace("\r\n", "\n")
    unique = {cid: text for cid, text in intact.items() if seen.count(cid) == 1}
    records = n
    data = b"".join(chunks)
    if n and draw(st.booleans()):  # truncate inside the last record
        last = chunks[-1]
        cut = draw(st.integers(0, len(last) - 1))
        remainder = last[:cut]
        data = b"".join(chunks[:-1]) + remainder
        unique.pop(ids[-1], None)
        if not remainder.strip():
            records -= 1
    return data, records, unique


@pytest.mark.slow
@SETTINGS
@given(csv_files())
@example((b"id,parent,text,removed,score,created\r\n0,,[REMOVED],1,,\r\n", 1, {"0": None}))  # a placeholder
def test_csv_nothing_lost(case: tuple[bytes, int, dict[str, str | None]]) -> None:
    data, records, unique = case
    path = fresh_dir() / "table.csv"
    path.write_bytes(data)
    columns = {"comment_id": "id", "parent_id": "parent", "created_at": "created"}
    result = read_table(path, columns=columns)
    check_result(result, path, records=records, max_line=data.count(b"\n") + 1)
    assert result.frame.height + result.rejects.height == records
    kept = dict(result.frame.select("comment_id", "text").iter_rows())
    for cid, text in unique.items():
        assert kept.get(cid) == text
    check_strict(lambda p, **kw: read_table(p, columns=columns, **kw), path, result)


@SETTINGS
@given(
    st.lists(
        st.one_of(
            st.dictionaries(st.sampled_from(["comment_id", "text", "removed", "score"]), JUNK, max_size=4),
            JUNK,
        ),
        max_size=10,
    ),
    st.integers(0, 3),
)
def test_jsonl_table_nothing_lost(values: list[Any], damaged: int) -> None:
    lines = [json.dumps(value).encode() for value in values]
    for i in range(min(damaged, len(lines))):
        lines[i] = lines[i][: max(1, len(lines[i]) // 2)] if i % 2 else lines[i] + b"\xff"
    path = fresh_dir() / "rows.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    try:
        result = read_table(path)
    except LoadError as error:
        assert str(path) in str(error)
        kept = [v for v in values[damaged:] if isinstance(v, dict)]
        if "no text column" in str(error):  # a table without text stops as a whole (issue 18)
            assert not any("text" in v for v in kept)
            return
        assert not kept
        return
    check_result(result, path, records=len(lines), max_line=len(lines))
    assert result.frame.height + result.rejects.height == len(lines)


@pytest.mark.parametrize("load", [read_lemmy, read_convokit, read_table])
def test_empty_files_are_load_errors_naming_the_file(tmp_path: Path, load: Callable[..., LoadResult]) -> None:
    name = {read_lemmy: "x.json", read_convokit: "utterances.jsonl", read_table: "x.csv"}[load]
    for content in (b"", b"\n\n  \n"):
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(LoadError, match="empty") as info:
            load(path)
        assert str(path) in str(info.value)


def test_cyclic_parents_load_and_get_tree_columns(tmp_path: Path) -> None:
    table = tmp_path / "cycle.csv"
    table.write_text("id,parent,text\na,b,x\nb,a,y\nc,c,self\nd,,top\ne,d,reply\n")
    frame = add_tree_columns(read_table(table, columns={"comment_id": "id", "parent_id": "parent"}).frame)
    rows = {r["comment_id"]: r for r in frame.iter_rows(named=True)}
    assert [rows[c]["structure"] for c in "abc"] == ["orphan"] * 3 and rows["a"]["reply_depth"] is None
    assert rows["e"]["reply_depth"] == 2 and rows["e"]["structure"] == "tree"

    views = [
        {
            "comment": {
                "id": 5,
                "post_id": 1,
                "content": "x",
                "removed": False,
                "deleted": False,
                "path": "0.6.5",
            }
        },
        {
            "comment": {
                "id": 6,
                "post_id": 1,
                "content": "y",
                "removed": False,
                "deleted": False,
                "path": "0.5.6",
            }
        },
    ]
    lemmy = tmp_path / "cycle.jsonl"
    lemmy.write_text("\n".join(json.dumps(v) for v in views))
    tree = add_tree_columns(read_lemmy(lemmy).frame)
    assert tree["structure"].to_list() == ["orphan", "orphan"] and tree["reply_depth"].null_count() == 2

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "utterances.jsonl").write_text(
        "\n".join(
            json.dumps({"id": i, "conversation_id": "p", "reply-to": r, "text": "t"})
            for i, r in [("x", "y"), ("y", "x")]
        )
    )
    tree = add_tree_columns(read_convokit(corpus).frame)
    assert tree["structure"].to_list() == ["orphan", "orphan"]
