"""Pushshift / Arctic Shift dump loader: hand-checked values, compression traps, filters, bad input, scale rules."""

from __future__ import annotations

import gzip
import io
import json
import lzma
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.io import DETECTORS, detect_format, load_source
from toolkit.io.base import LoadError, Rejects
from toolkit.io.reddit import REDDIT_SCHEMA, normalize_reddit_comment, normalize_reddit_post, read_reddit_page
from toolkit.io.reddit_dump import read_reddit_dump
from toolkit.io.stream import compression_of
from toolkit.threads import build_tree

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "samples"
T0 = 1_700_000_000


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def rc(cid: str, parent: str | None = "t3_p1", link: str | None = "t3_p1", **fields: Any) -> dict[str, Any]:
    """A Pushshift-style comment record (fields absent when given as ``...``)."""
    record: dict[str, Any] = {
        "id": cid,
        "parent_id": parent,
        "link_id": link,
        "author": f"user_{cid}",
        "body": f"body of {cid}",
        "created_utc": T0,
        "score": 1,
        "subreddit": "science",
        "edited": False,
    }
    record.update(fields)
    return {k: v for k, v in record.items() if v is not ... and not (k in ("parent_id", "link_id") and v is None)}


def rs(pid: str, **fields: Any) -> dict[str, Any]:
    record = {"id": pid, "title": f"title {pid}", "selftext": "", "author": "op", "created_utc": T0 - 100,
              "score": 10, "subreddit": "science", "edited": False}  # fmt: skip
    record.update(fields)
    return record


def ndjson(records: list[Any]) -> bytes:
    return b"".join((r if isinstance(r, bytes) else json.dumps(r).encode()) + b"\n" for r in records)


def zst_bytes(data: bytes, ldm: bool = False) -> bytes:
    """Compressed as ``zstd --long=31 < in > out`` does: streamed, so the frame header asks for a 2 GiB window."""
    params = zstandard.ZstdCompressionParameters.from_level(3, window_log=31, enable_ldm=ldm)
    out = io.BytesIO()
    with zstandard.ZstdCompressor(compression_params=params).stream_writer(out, closefd=False) as writer:
        writer.write(data)
    return out.getvalue()


def write(path: Path, records: list[Any], compression: str | None = None) -> Path:
    data = ndjson(records)
    if compression == "zst":
        data = zst_bytes(data)
    elif compression == "gz":
        data = gzip.compress(data)
    elif compression == "xz":
        data = lzma.compress(data)
    path.write_bytes(data)
    return path


def by_id(frame: pl.DataFrame, cid: str) -> dict[str, Any]:
    rows = frame.filter(pl.col("comment_id") == cid).to_dicts()
    assert len(rows) == 1, cid
    return rows[0]


def balance(result: Any) -> None:
    """Nothing lost: every non-blank line is kept, rejected or filtered out."""
    stats = result.stats
    assert stats["records"] == result.frame.height + result.rejects.height + stats["rows_filtered"]
    assert stats["rows_kept"] == result.frame.height and stats["rows_rejected"] == result.rejects.height


# ---------------------------------------------------------------------------------------------------
# the 2 GiB window trap


def test_long_window_zst_fails_naively_and_loads_here(tmp_path: Path) -> None:
    path = tmp_path / "RC_2023-01.zst"
    path.write_bytes(zst_bytes(ndjson([rc("a"), rc("b", "t1_a")]), ldm=True))
    assert zstandard.get_frame_parameters(path.read_bytes()[:18]).window_size == 2**31
    with pytest.raises(zstandard.ZstdError, match="Frame requires too much memory"):
        zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read()
    with pytest.raises(Exception, match="Frame requires too much memory"):
        pl.read_ndjson(path)
    result = load_source(path)
    assert result.frame["comment_id"].to_list() == ["a", "b"]
    assert detect_format(path) == "reddit_dump"


def test_multiple_frames_are_read_across(tmp_path: Path) -> None:
    path = tmp_path / "RC.zst"
    path.write_bytes(zst_bytes(ndjson([rc("a")])) + zst_bytes(ndjson([rc("b", "t1_a")])))
    assert read_reddit_dump(path).frame["comment_id"].to_list() == ["a", "b"]


@pytest.mark.parametrize("compression", [None, "zst", "gz", "xz"])
def test_compressions_give_the_same_frame(tmp_path: Path, compression: str | None) -> None:
    records = [rc("a"), rc("b", "t1_a"), rc("c", "t1_b", body="x &amp; y")]
    plain = read_reddit_dump(write(tmp_path / "plain.ndjson", records)).frame
    other = read_reddit_dump(write(tmp_path / f"RC_x.{compression or 'jsonl'}", records, compression)).frame
    assert other.equals(plain)


# ---------------------------------------------------------------------------------------------------
# values checked by hand


def test_record_fields_by_hand(tmp_path: Path) -> None:
    records = [
        rc("a", created_utc=T0, score=5, distinguished="moderator", stickied=True),
        rc("b", "t1_a", link=None, created_utc=f"{T0 + 1}", edited=T0 + 60, score=None),  # no link_id
        rc("c", "t3_p1", link=None, created_utc=T0 + 2.5, edited=True, author="[deleted]"),
        rc("d", "t1_b", link=None, created_utc="2023-11-14T22:13:23Z", score="7", body="[removed]"),
        rc("e", "t1_a", body="[deleted]", author="[deleted]", score=...),
        rc("f", "t1_a", body="kept text", removed_by_category="moderator"),
        rc("g", "t1_a", body="mine", removed_by_category="deleted"),
        rc("h", "t1_a", body="&gt; quoted &amp; said", banned_by=True),
        rc("i", "t1_a", body="AT&T &copy; raw", removal_reason=None, removed=False),
    ]
    result = read_reddit_dump(write(tmp_path / "RC.ndjson", records))
    frame = result.frame
    assert dict(frame.schema) == REDDIT_SCHEMA
    assert result.rejects.height == 0 and frame.height == 9
    balance(result)
    a, b, c, d = (by_id(frame, x) for x in "abcd")
    assert (a["thread_id"], a["parent_id"], a["is_post"], a["platform"]) == ("p1", "p1", False, "reddit")
    assert (a["created_at"], a["score"], a["distinguished"], a["stickied"]) == (utc(T0), 5, "moderator", True)
    assert (a["edited"], a["edited_at"], a["source_position"], a["source_reply_depth"]) == (False, None, 0, None)
    # b: no link_id, parent a comment -> thread from the parent; created as text; edited at a timestamp
    assert (b["thread_id"], b["parent_id"], b["created_at"], b["score"]) == ("p1", "a", utc(T0 + 1), None)
    assert (b["edited"], b["edited_at"]) == (True, utc(T0 + 60))
    # c: no link_id, parent the post -> thread from the parent; float time; edited true; account gone
    assert (c["thread_id"], c["created_at"], c["edited"], c["edited_at"], c["author"]) == (
        "p1", utc(T0 + 2.5), True, None, None,
    )  # fmt: skip
    # d: thread through b (which had no link_id either), ISO time, score as text, removed body
    assert (d["thread_id"], d["created_at"], d["score"]) == ("p1", utc(T0 + 3), 7)  # T0 is 2023-11-14T22:13:20Z
    assert (d["removed"], d["deleted"], d["text"], d["removal_source"]) == (True, False, None, "body")
    e, f, g, h, i = (by_id(frame, x) for x in "efghi")
    assert (e["removed"], e["deleted"], e["text"], e["author"], e["deletion_source"]) == (
        False, True, None, None, "body",
    )  # fmt: skip
    assert (f["removed"], f["text"], f["removal_source"]) == (True, "kept text", "removed_by_category")
    assert (g["removed"], g["deleted"], g["text"], g["deletion_source"]) == (
        False, True, "mine", "removed_by_category",
    )  # fmt: skip
    assert (h["removed"], h["removal_source"], h["text"]) == (True, "banned_by", "> quoted & said")
    assert (i["removed"], i["text"]) == (False, "AT&T &copy; raw")  # no Reddit escape in it: left alone
    assert frame["source_position"].to_list() == list(range(9))


def test_arctic_shift_meta_signals(tmp_path: Path) -> None:
    records = [
        rc("a", body="rude words", _meta={"removal_type": "removed", "retrieved_2nd_on": T0 + 9}),
        rc("b", body="spam link", _meta={"removal_type": "removed by reddit", "was_deleted_later": True}),
        rc("c", body="my words", _meta={"removal_type": "deleted", "was_deleted_later": True}),
        rc("d", body="regret", _meta={"was_deleted_later": True}),
        rc("e", body="[removed]", _meta={"removal_type": "removed"}),
        rc("f", body="fine", _meta={"is_edited": False}),
        rc("g", body="fine", _meta=None),
    ]
    frame = read_reddit_dump(write(tmp_path / "RC.zst", records, "zst")).frame
    got = {
        r["comment_id"]: (r["removed"], r["deleted"], r["text"], r["removal_source"], r["deletion_source"])
        for r in frame.to_dicts()
    }
    assert got == {
        "a": (True, False, "rude words", "_meta.removal_type", None),
        "b": (True, False, "spam link", "_meta.removal_type", None),
        "c": (False, True, "my words", None, "_meta.removal_type"),
        "d": (False, True, "regret", None, "_meta.was_deleted_later"),
        "e": (True, False, None, "body", None),
        "f": (False, False, "fine", None, None),
        "g": (False, False, "fine", None, None),
    }


def test_submissions_file_gives_posts_and_depths(tmp_path: Path) -> None:
    posts = write(tmp_path / "RS.ndjson", [
        rs("p1", selftext="body &amp; soul"), rs("p2", selftext="[removed]"), rs("p3", title="link only"),
    ])  # fmt: skip
    comments = write(tmp_path / "RC.zst", [rc("a"), rc("b", "t1_a"), rc("c", "t1_b"), rc("x", "t3_p2", "t3_p2")], "zst")
    result = read_reddit_dump(comments, submissions=posts)
    frame = build_tree(result.frame).frame
    p1, p2, p3 = (by_id(frame, p) for p in ("p1", "p2", "p3"))
    assert (p1["is_post"], p1["thread_id"], p1["parent_id"], p1["text"]) == (True, "p1", None, "title p1\n\nbody & soul")
    assert (p2["removed"], p2["text"], p2["removal_source"]) == (True, "title p2", "body")
    assert (p3["text"], p3["reply_depth"], p3["n_replies"]) == ("link only", 0, 0)
    assert {r["comment_id"]: r["reply_depth"] for r in frame.to_dicts()} == {
        "p1": 0, "p2": 0, "p3": 0, "a": 1, "b": 2, "c": 3, "x": 1,
    }  # fmt: skip
    assert (p1["n_replies"], p1["subtree_size"], by_id(frame, "a")["root_id"]) == (1, 4, "a")
    assert set(frame["structure"].to_list()) == {"tree"}
    assert result.stats["posts"] == 3
    balance(result)


def test_without_submissions_top_level_comments_have_depth_one(tmp_path: Path) -> None:
    frame = build_tree(read_reddit_dump(write(tmp_path / "RC", [rc("a"), rc("b", "t1_a"), rc("z", "t1_gone")])).frame)
    assert frame.frame["reply_depth"].to_list() == [1, 2, None]
    assert frame.frame["structure"].to_list() == ["tree", "tree", "orphan"]
    assert frame.n_orphans == 1


def test_directory_of_monthly_files_and_kinds(tmp_path: Path) -> None:
    folder = tmp_path / "dump"
    folder.mkdir()
    write(folder / "RC_2023-01.zst", [rc("a"), rc("b", "t1_a")], "zst")
    write(folder / "RC_2023-02.zst", [rc("c", "t1_b")], "zst")
    write(folder / "RS_2023-01.zst", [rs("p1")], "zst")
    assert detect_format(folder) == "reddit_dump"
    result = load_source(folder)
    assert sorted(result.frame["comment_id"].to_list()) == ["a", "b", "c", "p1"]
    assert result.frame.filter(pl.col("is_post"))["comment_id"].to_list() == ["p1"]
    assert len(result.files) == 3


# ---------------------------------------------------------------------------------------------------
# repeated ids, filters


def test_repeated_ids_keep_the_newest_version(tmp_path: Path) -> None:
    records = [
        rc("a", body="v1", retrieved_on=T0 + 10),
        rc("a", body="v3", _meta={"retrieved_2nd_on": T0 + 30}),
        rc("a", body="v2", retrieved_on=T0 + 20),
        rc("b", "t1_a", body="first"),
        rc("b", "t1_a", body="second"),  # no retrieval time: the later line wins
    ]
    result = read_reddit_dump(write(tmp_path / "RC.ndjson", records))
    assert {r["comment_id"]: r["text"] for r in result.frame.to_dicts()} == {"a": "v3", "b": "second"}
    assert result.stats["duplicates"] == 3
    rejects = result.rejects.sort("line").to_dicts()
    assert [(r["line"], r["field"]) for r in rejects] == [(1, "id"), (3, "id"), (4, "id")]
    assert "duplicate, superseded by the newer version at line 2" in rejects[0]["reason"]
    assert "line 5" in rejects[2]["reason"]
    balance(result)
    with pytest.raises(LoadError, match="line 1, field 'id'.*duplicate"):
        read_reddit_dump(tmp_path / "RC.ndjson", strict=True)


def test_duplicates_across_files_name_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "d"
    folder.mkdir()
    write(folder / "RC_1.ndjson", [rc("a", body="old")])
    write(folder / "RC_2.ndjson", [rc("a", body="new")])
    result = read_reddit_dump(folder)
    assert result.frame["text"].to_list() == ["new"]
    assert "line 1 of RC_2.ndjson" in result.rejects["reason"][0]
    assert result.rejects["file"][0].endswith("RC_1.ndjson")


def test_filters_apply_while_streaming(tmp_path: Path) -> None:
    records = [
        rc("a", subreddit="Science", created_utc=T0),
        rc("b", "t1_a", subreddit="science", created_utc=T0 + 86_400),
        rc("c", subreddit="politics", created_utc=T0),
        rc("d", "t3_p2", "t3_p2", subreddit="science", created_utc=T0),
        rc("e", "t1_d", link=None, subreddit="science", created_utc=T0),  # thread known only via d
        rc("f", subreddit="politics", score="not a number"),  # filtered out before being checked
    ]
    path = write(tmp_path / "RC.zst", records, "zst")
    by_sub = read_reddit_dump(path, subreddits=["r/science"])
    assert by_sub.frame["comment_id"].to_list() == ["a", "b", "d", "e"]
    assert (by_sub.stats["rows_filtered"], by_sub.rejects.height) == (2, 0)
    balance(by_sub)
    by_time = read_reddit_dump(path, since="2023-11-14T00:00:00Z", until=T0 + 3600, subreddits="science")
    assert by_time.frame["comment_id"].to_list() == ["a", "d", "e"]
    by_date = read_reddit_dump(path, since=date(2023, 11, 15), subreddits="science")
    assert by_date.frame["comment_id"].to_list() == ["b"]
    by_link = read_reddit_dump(path, link_ids=["t3_p2"])
    assert by_link.frame["comment_id"].to_list() == ["d", "e"]
    balance(by_link)
    with pytest.raises(LoadError, match="since"):
        read_reddit_dump(path, since="next tuesday")


def test_posts_outside_the_time_range_come_with_their_comments(tmp_path: Path) -> None:
    posts = write(tmp_path / "RS.ndjson", [rs("p1", created_utc=T0 - 10 * 86_400), rs("p9", created_utc=T0 - 10 * 86_400)])
    comments = write(tmp_path / "RC.ndjson", [rc("a", created_utc=T0)])
    result = read_reddit_dump(comments, submissions=posts, since=T0 - 3600)
    assert sorted(result.frame["comment_id"].to_list()) == ["a", "p1"]
    assert result.stats["rows_filtered"] == 1
    balance(result)


# ---------------------------------------------------------------------------------------------------
# bad input, nothing lost


def test_bad_lines_are_rejected_with_file_line_and_field(tmp_path: Path) -> None:
    lines = [
        json.dumps(rc("a")).encode(),
        b'{"id": "b", "parent_id": "t1_a", "body": ',  # cut short
        b"",
        b"   ",
        json.dumps(rc("c", score="many")).encode(),
        b'{"id": "d", "body": "caf\xe9"}',  # latin-1 byte
        b"[1, 2, 3]",
        json.dumps(rc("e", created_utc="yesterday")).encode(),
        json.dumps(rc("f", edited="sometimes")).encode(),
        json.dumps(rc("g", removed="yes")).encode(),
        json.dumps(rc("h", stickied="no")).encode(),
        json.dumps(rc("i", _meta="removed")).encode(),
        json.dumps({"parent_id": "t1_a", "body": "no id"}).encode(),
        json.dumps(rc("j", created_utc=True)).encode(),
        json.dumps(rc("k", "t1_a")).encode(),
    ]
    path = tmp_path / "RC.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = read_reddit_dump(path)
    assert result.frame["comment_id"].to_list() == ["a", "k"]
    assert result.frame["source_position"].to_list() == [0, 14]
    got = {r["line"]: (r["field"], r["reason"]) for r in result.rejects.to_dicts()}
    assert sorted(got) == [2, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    assert got[2][0] is None and "malformed JSON" in got[2][1]
    assert got[5] == ("score", "comment c: expected an integer, got str 'many'")
    assert got[6] == (None, "not valid UTF-8 at byte 24")
    assert got[7] == (None, "expected a JSON object, got list")
    assert got[8][0] == "created_utc" and "yesterday" in got[8][1]
    assert got[9][0] == "edited" and got[10][0] == "removed" and got[11][0] == "stickied"
    assert got[12][0] == "_meta"
    assert got[13] == ("id", "comment: missing id")
    assert got[14][0] == "created_utc"
    assert set(result.rejects["file"].to_list()) == {str(path)}
    assert result.stats["records"] == 13
    balance(result)
    with pytest.raises(LoadError, match=r"RC.ndjson, line 2: malformed JSON"):
        read_reddit_dump(path, strict=True)


def test_truncated_zst_keeps_what_was_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    records = [rc(f"c{i}", body=" ".join(map(str, rng.integers(0, 10**6, 40)))) for i in range(3000)]
    whole = zst_bytes(ndjson(records))
    path = tmp_path / "RC.zst"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    result = read_reddit_dump(path)
    assert 0 < result.frame.height < 3000
    assert result.stats["truncated_files"] == [str(path)]
    assert result.rejects.height <= 1  # the line cut in the middle, if the cut fell inside one
    balance(result)
    with pytest.raises(LoadError, match="truncated"):
        read_reddit_dump(path, strict=True)


def test_corrupt_zst_is_a_load_error(tmp_path: Path) -> None:
    path = tmp_path / "RC.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"\x00garbage" * 10)
    with pytest.raises(LoadError, match="RC.zst: zstd"):
        read_reddit_dump(path)


@pytest.mark.parametrize("compression", [None, "zst", "gz"])
def test_empty_files(tmp_path: Path, compression: str | None) -> None:
    path = write(tmp_path / f"RC.{compression or 'ndjson'}", [], compression)
    result = read_reddit_dump(path)
    assert result.frame.height == 0 and result.rejects.height == 0
    assert dict(result.frame.schema) == REDDIT_SCHEMA
    assert build_tree(result.frame).frame.height == 0


def test_chunk_boundaries_do_not_matter(tmp_path: Path) -> None:
    records = [rc(f"c{i}", f"t1_c{i - 1}" if i else "t3_p1", body="x" * (i * 37 % 500)) for i in range(200)]
    records.insert(50, rc("long", body="y" * 5000))
    path = write(tmp_path / "RC.zst", records + [b"not json"], "zst")
    small = read_reddit_dump(path, chunk_bytes=2000)
    default = read_reddit_dump(path)
    assert small.frame.equals(default.frame)
    assert small.rejects.equals(default.rejects) and default.rejects["line"].to_list() == [202]
    assert small.stats["chunks"] > 10


def test_pipelined_normalising_matches_one_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Many chunks normalised in the worker thread, rejects in several of them: same rows, rejects and counts."""
    from toolkit.io import reddit_dump

    records = [
        rc(f"c{i}", f"t1_c{i - 1}" if i else "t3_p1", score="abc" if i % 37 == 5 else i, body="z" * (i % 90))
        for i in range(300)
    ]
    path = write(tmp_path / "RC.zst", records, "zst")
    whole = read_reddit_dump(path, chunk_bytes=1 << 20)
    monkeypatch.setattr(reddit_dump, "NORMALIZE_ROWS", 1)
    piped = read_reddit_dump(path, chunk_bytes=500)
    assert piped.stats["chunks"] > 20 and whole.stats["chunks"] == 1
    assert piped.frame.equals(whole.frame)
    assert piped.rejects.equals(whole.rejects)
    assert piped.rejects["line"].to_list() == [i + 1 for i in range(300) if i % 37 == 5]
    assert piped.stats["records"] == whole.stats["records"] == 300
    balance(piped)


def test_a_failure_while_normalising_stops_the_load_and_its_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from toolkit.io import reddit_dump

    calls = {"n": 0}
    real = reddit_dump.normalize_chunk

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("boom in the normalising thread")
        return real(*args, **kwargs)

    monkeypatch.setattr(reddit_dump, "NORMALIZE_ROWS", 1)
    monkeypatch.setattr(reddit_dump, "normalize_chunk", failing)
    path = write(tmp_path / "RC.zst", [rc(f"c{i}", body="q" * 50) for i in range(200)], "zst")
    with pytest.raises(RuntimeError, match="boom"):
        read_reddit_dump(path, chunk_bytes=300)
    assert not [t for t in threading.enumerate() if t.name.startswith("dump-")]


@pytest.mark.parametrize("first", [b"x^ not json", b"\x1f\x8b not json", b"\x28\xb5\x2f\xfd not json", b"x\x9c"])
def test_a_chunk_that_starts_like_a_compressed_stream_is_read_as_text(tmp_path: Path, first: bytes) -> None:
    """Polars would take such a chunk for gzip/zstd/zlib data: the line is rejected, the records kept."""
    data = first + b"\n" + ndjson([rc("a"), rc("b", "t1_a")])
    path = tmp_path / "RC.zst"
    path.write_bytes(zst_bytes(data))
    for chunk_bytes in (8, 1 << 20):
        result = read_reddit_dump(path, chunk_bytes=chunk_bytes)
        assert result.frame["comment_id"].to_list() == ["a", "b"]
        assert result.rejects["line"].to_list() == [1]
        balance(result)


def test_byte_order_mark_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "RC.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + ndjson([rc("a"), rc("b", "t1_a")]).replace(b"\n", b"\r\n"))
    result = read_reddit_dump(path)
    assert result.frame["comment_id"].to_list() == ["a", "b"] and result.rejects.height == 0


def test_cycles_load_and_are_flagged_by_the_tree(tmp_path: Path) -> None:
    result = read_reddit_dump(write(tmp_path / "RC", [rc("a"), rc("u", "t1_v"), rc("v", "t1_u")]))
    tree = build_tree(result.frame)
    assert tree.n_in_cycles == 2
    assert tree.frame["structure"].to_list() == ["tree", "orphan", "orphan"]
    assert tree.frame["reply_depth"].to_list() == [1, None, None]


# ---------------------------------------------------------------------------------------------------
# detection stays unambiguous


def test_detection(tmp_path: Path) -> None:
    assert detect_format(write(tmp_path / "RC_2020-01", [rc("a")], "zst")) == "reddit_dump"
    assert detect_format(write(tmp_path / "RS.jsonl", [rs("p")])) == "reddit_dump"
    assert detect_format(write(tmp_path / "c.ndjson.gz", [rc("a")], "gz")) == "reddit_dump"
    assert detect_format(write(tmp_path / "two.json", [rc("a"), rc("b")])) == "reddit_dump"  # JSON lines
    convokit = write(tmp_path / "utterances.jsonl", [{"id": "u1", "reply-to": None, "text": "hi", "speaker": "s"}])
    lemmy = write(tmp_path / "views.jsonl", [{"comment": {"id": 1, "path": "0.1"}, "creator": {"name": "x"}}])
    ours = {name: detect for name, detect in DETECTORS.items() if name in ("reddit_dump", "reddit_api", "reddit_page")}
    assert len(ours) == 3
    for path in (convokit, lemmy):
        assert not any(detect(path) for detect in ours.values()), path


# ---------------------------------------------------------------------------------------------------
# property-based: nothing lost, never an unactionable traceback, same rules as the record normaliser

ID = st.text(alphabet="abcdefghijk0123456789", min_size=1, max_size=4)
ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=6,
)
FIELD_VALUES = {
    "id": st.one_of(ID, st.none(), ANY_JSON),
    "parent_id": st.one_of(ID.map(lambda s: "t1_" + s), ID.map(lambda s: "t3_" + s), st.none(), ANY_JSON),
    "link_id": st.one_of(ID.map(lambda s: "t3_" + s), st.none(), ANY_JSON),
    "body": st.one_of(st.text(max_size=30), st.sampled_from(["[removed]", "[deleted]", "a &amp; b", "&gt; q"]), ANY_JSON),
    "created_utc": st.one_of(st.integers(0, 2**34), st.floats(0, 2e9), st.integers(0, 2**31).map(str), ANY_JSON),
    "score": st.one_of(st.integers(-(2**66), 2**66), st.floats(-1e20, 1e20), ANY_JSON),
    "edited": st.one_of(st.booleans(), st.integers(0, 2**31), st.floats(0, 2e9), ANY_JSON),
    "removed_by_category": st.one_of(st.sampled_from(["moderator", "deleted", "author", ""]), ANY_JSON),
    "banned_by": ANY_JSON,
    "removed": ANY_JSON,
    "stickied": ANY_JSON,
    "_meta": st.one_of(
        st.none(),
        st.fixed_dictionaries({}, optional={
            "removal_type": st.sampled_from(["removed", "deleted", "removed by reddit"]),
            "was_deleted_later": st.booleans(),
            "retrieved_2nd_on": st.integers(0, 2**31),
        }),
        ANY_JSON,
    ),  # fmt: skip
}
RECORD = st.fixed_dictionaries({}, optional=FIELD_VALUES)
GARBAGE = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"{", b"[]", b'"text"', b"null", b"{}", b'{"id": "x"', b"\xff\xfe{}", b"{" * 2000 + b"}" * 2000]),
    st.integers(1_000, 3_000).map(lambda n: json.dumps(rc("big", body="w" * n * 100)).encode()),
)
LINE = st.one_of(RECORD.map(lambda r: json.dumps(r).encode()), GARBAGE.map(lambda b: b.replace(b"\n", b" ")))


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    lines=st.lists(LINE, max_size=25),
    compression=st.sampled_from([None, "zst", "gz"]),
    cut=st.one_of(st.none(), st.floats(0.1, 0.95)),
    chunk_bytes=st.sampled_from([64, 1 << 20]),
)
def test_any_input_balances_and_never_crashes(
    tmp_path: Path, lines: list[bytes], compression: str | None, cut: float | None, chunk_bytes: int
) -> None:
    data = b"\n".join(lines) + (b"\n" if lines else b"")
    if compression == "zst":
        data = zst_bytes(data)
    elif compression == "gz":
        data = gzip.compress(data)
    if cut is not None and compression:
        data = data[: int(len(data) * cut)]
    path = tmp_path / "RC_prop"
    path.write_bytes(data)
    try:
        result = read_reddit_dump(path, kind="comments", chunk_bytes=chunk_bytes)
    except LoadError as error:  # only a broken compressed stream may stop the load, with a clear message
        assert (compression and cut is not None) or compression_of(path), error
        assert str(error).startswith(str(path))
        return
    balance(result)
    rejects = result.rejects
    assert rejects["reason"].str.len_chars().min() or rejects.height == 0
    if rejects.height:
        assert rejects["line"].min() >= 1 and rejects["file"].to_list() == [str(path)] * rejects.height
    if not cut and not compression and compression_of(path) is None:  # every non-blank line (ASCII whitespace; a leading BOM is dropped) is a record
        plain = data.removeprefix(b"\xef\xbb\xbf")
        assert result.stats["records"] == sum(1 for line in plain.split(b"\n") if line.strip())
    tree = build_tree(result.frame)  # duplicates were removed, cycles are flagged: the tree always builds
    assert tree.frame.height == result.frame.height
    if rejects.height:
        with pytest.raises(LoadError):
            read_reddit_dump(path, kind="comments", strict=True)


def _expected_rows(records: list[dict[str, Any]]) -> tuple[dict[str, dict[str, Any]], set[int]]:
    """The record normaliser's verdict on each line (kept rows by id, last version; rejected line numbers)."""
    rejects = Rejects()
    kept: dict[str, dict[str, Any]] = {}
    bad: set[int] = set()
    for line, record in enumerate(records, start=1):
        before = len(rejects.rows)
        row = normalize_reddit_comment(record, path="x", line=line, rejects=rejects)
        if row is None:
            bad.add(line)
        elif len(rejects.rows) == before:
            kept[row["comment_id"]] = row
    return kept, bad


TYPED_RECORD = st.fixed_dictionaries(
    {"id": ID},
    optional={
        "parent_id": st.one_of(ID.map(lambda s: "t1_" + s), ID.map(lambda s: "t3_" + s)),
        "link_id": ID.map(lambda s: "t3_" + s),
        "body": st.one_of(st.text(max_size=30), st.sampled_from(["[removed]", "[deleted]", "a &amp; b &lt;3", "&gt; q &copy"])),
        "body_html": st.sampled_from(["&lt;div&gt;x&lt;/div&gt;", "<div>x</div>", ""]),
        "author": st.sampled_from(["[deleted]", "", "someone"]),
        "created_utc": st.one_of(st.integers(0, 2**34), st.floats(-1e12, 1e12), st.integers(0, 2**31).map(str),
                                 st.sampled_from(["2020-01-01T00:00:00Z", "soon", ""])),
        # beyond 2**53 a float's digits as read differ from int(float): no real score is that large
        "score": st.one_of(st.integers(-(2**65), 2**65), st.floats(-(2**53), 2**53), st.sampled_from(["12", "x"])),
        "edited": st.one_of(st.booleans(), st.integers(0, 2**31), st.floats(0, 2e9), st.sampled_from(["", "1.5e9"])),
        "removed_by_category": st.sampled_from(["moderator", "deleted", "author", "", None]),
        "banned_by": st.sampled_from([None, True, False, "mod", ""]),
        "removal_reason": st.sampled_from([None, "legal", ""]),
        "removed": st.sampled_from([None, True, False]),
        "stickied": st.sampled_from([None, True, False]),
        "distinguished": st.sampled_from([None, "moderator"]),
        "_meta": st.fixed_dictionaries({}, optional={
            "removal_type": st.sampled_from(["removed", "deleted", "removed by reddit", ""]),
            "was_deleted_later": st.booleans(),
        }),
    },
)  # fmt: skip


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(TYPED_RECORD, max_size=12))
def test_vectorised_rules_match_the_record_normaliser(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    """With the types the page loader also accepts, the dump loader keeps and rejects what it does, same values."""
    path = write(tmp_path / "RC.ndjson", records)
    result = read_reddit_dump(path, kind="comments")
    kept, bad = _expected_rows(records)
    rejected_lines = set(result.rejects.filter(~pl.col("reason").str.contains("duplicate"))["line"].to_list())
    assert rejected_lines == bad
    got = {row["comment_id"]: row for row in result.frame.to_dicts()}
    assert set(got) == set(kept)
    for cid, row in got.items():
        expected = kept[cid]
        for column in ("parent_id", "is_post", "author", "text", "created_at", "score", "removed", "deleted",
                       "edited", "edited_at", "removal_source", "deletion_source", "distinguished", "stickied"):  # fmt: skip
            assert row[column] == expected[column], (column, cid)
        if expected["thread_id"] is not None:
            assert row["thread_id"] == expected["thread_id"]


@pytest.mark.slow
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    posts=st.lists(
        st.fixed_dictionaries({"id": ID}, optional={
            "title": st.one_of(st.text(max_size=10), st.sampled_from(["a &amp; b", "Q&A", ""])),
            "selftext": st.one_of(st.text(max_size=10), st.sampled_from(["[removed]", "[deleted]", "x &gt; y", ""])),
            "selftext_html": st.sampled_from(["&lt;p&gt;", "<p>", ""]),
            "removed_by_category": st.sampled_from(["moderator", "deleted", None]),
        }).map(lambda d: {"subreddit": "s", **d}),
        max_size=6,
        unique_by=lambda d: d["id"],
    )
)  # fmt: skip
def test_vectorised_post_rules_match_the_record_normaliser(tmp_path: Path, posts: list[dict[str, Any]]) -> None:
    path = write(tmp_path / "RS.ndjson", posts)
    frame = read_reddit_dump(path, kind="submissions").frame
    for record, row in zip(posts, frame.to_dicts(), strict=True):
        expected = normalize_reddit_post(record, path="x", line=1, rejects=Rejects(strict=True))
        assert expected is not None
        for column in ("thread_id", "comment_id", "text", "removed", "deleted", "removal_source", "deletion_source"):
            assert row[column] == expected[column], column


# ---------------------------------------------------------------------------------------------------
# the tree at scale: the vectorised columns agree with a plain walk on random forests


def _walk_depths(parents: dict[str, str], post: str) -> dict[str, int | None]:
    """Depth by walking up each comment's parents: None for orphans (parent missing) and cycles."""
    out: dict[str, int | None] = {}
    for node in parents:
        depth, current, seen = 0, node, set()
        while current != post:
            if current in seen or current not in parents:
                depth = None
                break
            seen.add(current)
            current, depth = parents[current], depth + 1
        out[node] = depth
    return out


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n=st.integers(1, 60))
def test_tree_matches_a_plain_walk(data: st.DataObject, n: int) -> None:
    ids = [f"c{i}" for i in range(n)]
    parents = {c: data.draw(st.sampled_from(["P", "gone", *ids])) for c in ids}
    frame = pl.DataFrame(
        [{"thread_id": "P", "comment_id": "P", "parent_id": None, "is_post": True, "removed": False}]
        + [{"thread_id": "P", "comment_id": c, "parent_id": p, "is_post": False, "removed": i % 3 == 0}
           for i, (c, p) in enumerate(parents.items())]  # fmt: skip
    )
    tree = build_tree(frame).frame
    got = dict(zip(tree["comment_id"], tree["reply_depth"], strict=True))
    expected = _walk_depths(parents, "P")
    assert got["P"] == 0
    for c in ids:
        assert got[c] == expected[c], c
    children: dict[str, list[str]] = {}
    for c, p in parents.items():
        if expected[c] is not None:
            children.setdefault(p, []).append(c)

    def size(node: str) -> int:
        return 1 + sum(size(k) for k in children.get(node, []))

    sizes = dict(zip(tree["comment_id"], tree["subtree_size"], strict=True))
    replies = dict(zip(tree["comment_id"], tree["n_replies"], strict=True))
    for c in ["P", *ids]:
        if c == "P" or expected[c] is not None:
            assert sizes[c] == size(c) and replies[c] == len(children.get(c, [])), c


@pytest.mark.slow
def test_tree_handles_a_deep_chain_quickly() -> None:
    n = 200_000
    frame = pl.DataFrame({
        "thread_id": ["P"] * n, "comment_id": ["P"] + [f"c{i}" for i in range(1, n)],
        "parent_id": [None, "P"] + [f"c{i - 1}" for i in range(2, n)], "is_post": [True] + [False] * (n - 1),
        "removed": [False] * n,
    })  # fmt: skip
    tree = build_tree(frame).frame
    assert tree["reply_depth"].to_list()[-1] == n - 1
    assert tree["subtree_size"][0] == n
    assert np.array_equal(tree["reply_depth"].to_numpy(), np.arange(n))


# ---------------------------------------------------------------------------------------------------
# Done when: the sample pages load identically through the page loader and as a flattened dump


def _flatten(document: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    posts = [child["data"] for child in document[0]["data"]["children"]]
    comments: list[dict[str, Any]] = []
    stack = list(reversed(document[1]["data"]["children"]))
    while stack:
        child = stack.pop()
        if child["kind"] != "t1":
            continue
        data = dict(child["data"])
        replies = data.pop("replies", "")
        comments.append(data)
        if replies:
            stack.extend(reversed(replies["data"]["children"]))
    return posts, comments


@pytest.mark.skipif(not SAMPLES.exists(), reason="shared/data/samples not present")
@pytest.mark.parametrize("name", ["reddit_thread_1j7g9uj.json", "reddit_thread_57dw9a.json"])
def test_sample_pages_and_their_flattened_dump_give_identical_trees(tmp_path: Path, name: str) -> None:
    page_path = SAMPLES / name
    posts, comments = _flatten(json.loads(page_path.read_text(encoding="utf-8")))
    dump = read_reddit_dump(
        write(tmp_path / "RC.zst", comments, "zst"), submissions=write(tmp_path / "RS.ndjson", posts)
    )
    assert dump.rejects.height == 0
    from_page = build_tree(read_reddit_page(page_path).frame).frame
    from_dump = build_tree(dump.frame).frame
    columns = ["thread_id", "comment_id", "parent_id", "is_post", "author", "text", "created_at", "score",
               "removed", "deleted", "removal_source", "edited", "edited_at", "reply_depth", "root_id",
               "n_replies", "subtree_size", "parent_removed", "structure"]  # fmt: skip
    assert from_dump.select(columns).sort("comment_id").equals(from_page.select(columns).sort("comment_id"))
    assert from_dump["reply_depth"].max() == from_page["source_reply_depth"].max()


def test_relative_submissions_path_is_found_beside_the_comments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "arctic"
    folder.mkdir()
    comments = write(folder / "r_science_comments.zst", [rc("a")], "zst")
    write(folder / "r_science_posts.zst", [rs("p1")], "zst")
    monkeypatch.chdir(tmp_path)
    result = read_reddit_dump(comments, submissions="r_science_posts.zst")
    assert sorted(result.frame["comment_id"].to_list()) == ["a", "p1"]
    with pytest.raises(LoadError, match="nope.zst, field 'submissions': no such file"):
        read_reddit_dump(comments, submissions="nope.zst")


def test_threads_of_comments_without_link_id_come_from_their_ancestors(tmp_path: Path) -> None:
    chain = [rc("c0", "t3_p7", link=None)] + [rc(f"c{i}", f"t1_c{i - 1}", link=None) for i in range(1, 500)]
    loop = [rc("u", "t1_v", link=None), rc("v", "t1_u", link=None)]
    result = read_reddit_dump(write(tmp_path / "RC.ndjson", chain + loop + [rc("w", "t1_gone", link=None)]))
    threads = dict(zip(result.frame["comment_id"], result.frame["thread_id"], strict=True))
    assert {threads[f"c{i}"] for i in range(500)} == {"p7"}
    assert (threads["u"], threads["v"], threads["w"]) == (None, None, None)
    assert result.stats["thread_unknown"] == 3
    tree = build_tree(result.frame).frame
    assert tree.filter(pl.col("comment_id") == "c499")["reply_depth"].item() == 500
