"""The corpus store: whole threads per bucket, dedupe where versions meet, tree columns per bucket, reuse."""

from __future__ import annotations

import os
import zlib

import polars as pl
import pytest

from toolkit.analysis.synthetic import make_frame, random_threads
from toolkit.errors import ConfigError, LoadError
from toolkit.store import bucket_count, bucket_of, open_corpus, store_key, write_store
from toolkit.threads import build_tree


def test_bucket_of_is_crc32_of_the_utf8_bytes() -> None:
    # the standard CRC-32 (zlib, PNG, gzip): "t1" -> 1532276279 (% 4 = 3), "t2" -> 3260940173 (% 4 = 1)
    assert zlib.crc32(b"t1") == 0x5B54AE37 and zlib.crc32(b"t2") == 0xC25DFF8D
    assert bucket_of(pl.Series(["t1", "t2", "t1", None]), 4).to_list() == [3, 1, 3, 0]
    assert bucket_of(pl.Series(["t1", "t2"]), 1).to_list() == [0, 0]


def test_threads_split_across_chunks_land_whole_in_one_bucket(tmp_path) -> None:
    frame = random_threads(12, seed=3)
    # interleave the threads' rows over three chunks, as monthly dump files do
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=1)
    chunks = [shuffled[i::3] for i in range(3)]
    store = write_store(chunks, tmp_path / "s", 4)
    per_thread = store.scan().group_by("thread_id").agg(pl.col("bucket").n_unique().alias("k")).collect()
    assert per_thread.height == 12 and per_thread["k"].to_list() == [1] * 12
    assert store.meta["rows"] == frame.height and store.meta["threads"] == 12 and store.meta["duplicates"] == 0
    # tree columns per bucket equal the whole frame's
    key = ["thread_id", "comment_id"]
    got = store.frame().sort(key).select(frame.columns)
    assert got.equals(build_tree(frame).frame.sort(key).select(frame.columns))


def test_the_last_version_of_a_repeated_comment_wins_across_chunks(tmp_path) -> None:
    old = make_frame([{"thread": "t", "id": "t", "score": 0.1}, {"thread": "t", "id": "c", "parent": "t", "score": 0.2}])
    new = make_frame([{"thread": "t", "id": "c", "parent": "t", "score": 0.9}])
    store = write_store([old, new], tmp_path / "s", 3)
    rows = store.frame().sort("comment_id")
    assert rows["comment_id"].to_list() == ["c", "t"]
    assert rows["toxicity"].to_list() == [0.9, 0.1]
    assert store.meta["duplicates"] == 1 and store.meta["rows_in"] == 3
    rejects = store.table("rejects")  # rows in (3) = kept (2) + rejected (1)
    assert rejects.select("line", "field").rows() == [(None, "comment_id")]
    assert rejects["reason"].to_list() == ["comment c of thread t: repeated, superseded by its later row in the "
                                           "corpus store"]


def test_a_store_is_reused_and_rebuilt_when_an_input_changes(tmp_path, monkeypatch) -> None:
    from toolkit.settings import DatasetSettings
    from toolkit.store import ingest

    source = tmp_path / "in.txt"
    source.write_text("post\nfirst comment\nsecond comment\n")
    calls = []
    real = ingest.load_source
    monkeypatch.setattr(ingest, "load_source", lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    dataset = DatasetSettings(path=str(source), format="text", buckets=2)
    first = open_corpus(dataset, source, tmp_path / "cache")
    again = open_corpus(dataset, source, tmp_path / "cache")
    assert len(calls) == 1 and again.root == first.root and again.meta["rows"] == first.meta["rows"] > 0
    other = open_corpus(DatasetSettings(path=str(source), format="text", buckets=2, strict=True), source,
                        tmp_path / "cache")
    assert len(calls) == 2 and other.root != first.root
    source.write_text("post\nfirst comment\n")  # size (and mtime) changed: a new store
    assert open_corpus(dataset, source, tmp_path / "cache").root != first.root and len(calls) == 3


def test_bucket_count_follows_the_input_size(tmp_path) -> None:
    plain = tmp_path / "a.ndjson"
    plain.write_bytes(b"x" * 1000)
    packed = tmp_path / "b.zst"
    packed.write_bytes(b"x" * 100)  # counted as 10x: 1000 raw bytes
    assert bucket_count([plain], 300) == 4  # ceil(1000 / 300)
    assert bucket_count([plain, packed], 1000) == 2
    assert bucket_count([tmp_path], 500) == 4  # a directory: its files
    with pytest.raises(ConfigError, match="bucket_mb: must be positive"):
        bucket_count([plain], 0)


def test_a_failed_write_leaves_no_store(tmp_path) -> None:
    def broken():
        yield random_threads(2, seed=0)
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_store(broken(), tmp_path / "s", 2)
    assert os.listdir(tmp_path) == []


def _assert_tables_equal(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert a.columns == b.columns and a.height == b.height
    for column in a.columns:
        if a[column].dtype.is_float():
            x, y = a[column].to_numpy(), b[column].to_numpy()
            assert ((abs(x - y) <= 1e-12) | (x != x) & (y != y)).all(), column
        else:
            assert a[column].to_list() == b[column].to_list(), column


@pytest.mark.parametrize("n_threads", [1, 2, 30])
def test_profiles_over_buckets_equal_the_in_memory_ones(tmp_path, n_threads: int) -> None:
    from toolkit.analysis.depth import depth_profile, position_profile, thread_size_profile
    from toolkit.analysis.thread_length import toxicity_by_relative_position, toxicity_by_thread_length

    frame = random_threads(n_threads, seed=5, truth=False)
    store = write_store([frame.head(frame.height // 2), frame.tail(frame.height - frame.height // 2)],
                        tmp_path / "s", 4)
    used = bucket_of(frame["thread_id"].unique(), 4).n_unique()
    assert len(store.bucket_paths()) == used and (n_threads < 30 or used == 4)  # 30 threads span all buckets
    boot = {"n_boot": 200, "seed": 3}
    for analysis in (depth_profile, position_profile, thread_size_profile, toxicity_by_relative_position):
        _assert_tables_equal(analysis(frame, **boot), analysis(store.corpus(), **boot))
    memory, buckets = toxicity_by_thread_length(frame, **boot), toxicity_by_thread_length(store.corpus(), **boot)
    _assert_tables_equal(memory[0], buckets[0])
    _assert_tables_equal(memory[1], buckets[1])
    assert (memory[2] == buckets[2]).all()


def test_a_single_thread_corpus_resamples_its_comments_in_both_paths(tmp_path) -> None:
    from toolkit.analysis.depth import depth_profile
    from toolkit.analysis.stats import COMMENT_BOOTSTRAP

    frame = random_threads(1, seed=2, truth=False, max_size=60)
    store = write_store([frame], tmp_path / "s", 3)
    table = depth_profile(store.corpus(), n_boot=100, seed=1)
    assert set(table["ci_method"]) == {COMMENT_BOOTSTRAP}
    _assert_tables_equal(table, depth_profile(frame, n_boot=100, seed=1))


def test_a_dump_streams_into_buckets_with_the_newest_version_and_its_rejects(tmp_path, monkeypatch) -> None:
    import json

    from toolkit.io.reddit_dump import read_reddit_dump
    from toolkit.settings import DatasetSettings
    from toolkit.store import ingest

    def rc(cid: str, link: str, parent: str | None = None, **fields) -> dict:
        return {"id": cid, "link_id": f"t3_{link}", "parent_id": parent or f"t3_{link}", "body": f"body {cid}",
                "author": "u", "created_utc": 1_700_000_000, "score": 1, "subreddit": "s", **fields}

    records = [rc("a", "p1", retrieved_on=10), rc("x", "p2"), rc("b", "p1", "t1_a"),
               rc("a", "p1", body="newer", retrieved_on=20), rc("y", "p2", "t1_x"), rc("z", "p3")]
    dump = tmp_path / "RC_t.ndjson"
    dump.write_text("".join(json.dumps(r) + "\n" for r in records))
    streamed: list[int] = []
    real = ingest.pushed_chunks
    monkeypatch.setattr(ingest, "pushed_chunks", lambda load: (streamed.append(1), real(load))[1])
    dataset = DatasetSettings(path=str(dump), format="reddit_dump", options={"submissions": None},  # as conf/ has it
                              buckets=3)
    store = open_corpus(dataset, dump, tmp_path / "cache")
    assert streamed == [1]  # chunks went straight into the buckets, no whole frame
    # 5 comments kept in 3 threads; line 1 (the older "a") superseded by line 4
    assert store.meta["rows"] == 5 and store.meta["threads"] == 3 and store.n_buckets == 3
    assert store.meta["loader_stats"]["duplicates"] == 1 and store.meta["loader_stats"]["rows_kept"] == 5
    rejects = store.table("rejects")
    assert rejects["line"].to_list() == [1] and "superseded by the newer version at line 4" in rejects["reason"][0]
    whole = build_tree(read_reddit_dump(dump).frame).frame
    key = ["thread_id", "comment_id"]
    assert store.frame().sort(key).select(whole.columns).equals(whole.sort(key))
    assert store.frame().filter(pl.col("comment_id") == "a")["text"].to_list() == ["newer"]
    strict = DatasetSettings(path=str(dump), format="reddit_dump", strict=True, buckets=3)
    with pytest.raises(LoadError, match="line 1, field 'id'.*duplicate, superseded"):
        open_corpus(strict, dump, tmp_path / "cache")


def test_a_glob_is_keyed_by_the_files_it_matches(tmp_path) -> None:
    (tmp_path / "a-1.json").write_text("1")
    key = store_key([tmp_path / "a-*.json"], {})
    assert store_key([tmp_path / "a-*.json"], {}) == key
    (tmp_path / "a-2.json").write_text("22")  # a new file matches: a new store
    assert store_key([tmp_path / "a-*.json"], {}) != key
    assert bucket_count([tmp_path / "a-*.json"], 1) == 3  # 1 + 2 bytes


def test_a_dump_with_submissions_streams_and_equals_the_whole_load(tmp_path) -> None:
    """Posts come from the submissions file; one outside the time range still comes because a streamed comment
    is in its thread, the other (no comments) is filtered: as when everything is loaded at once."""
    import json

    from toolkit.io.reddit_dump import read_reddit_dump
    from toolkit.settings import DatasetSettings

    t0 = 1_700_000_000

    def record(cid: str, **fields) -> str:
        return json.dumps({"id": cid, "author": "u", "score": 1, "subreddit": "s", **fields}) + "\n"

    posts = tmp_path / "RS_t.ndjson"
    posts.write_text(record("p1", title="old post", selftext="", created_utc=t0 - 864_000)
                     + record("p9", title="old, no comments", selftext="", created_utc=t0 - 864_000)
                     + record("p2", title="new post", selftext="body", created_utc=t0))
    comments = tmp_path / "RC_t.ndjson"
    comments.write_text(record("a", link_id="t3_p1", parent_id="t3_p1", body="in p1", created_utc=t0)
                        + record("b", link_id="t3_p1", parent_id="t1_a", body="reply", created_utc=t0 + 1)
                        + record("c", link_id="t3_p2", parent_id="t3_p2", body="in p2", created_utc=t0 + 2))
    options = {"submissions": str(posts), "since": t0 - 3600}
    store = open_corpus(DatasetSettings(path=str(comments), format="reddit_dump", options=options, buckets=3),
                        comments, tmp_path / "cache")
    whole = build_tree(read_reddit_dump(comments, **options).frame).frame
    key = ["thread_id", "comment_id"]
    got = store.frame().sort(key)
    assert got["comment_id"].to_list() == ["a", "b", "p1", "c", "p2"]
    assert got.filter(pl.col("is_post"))["reply_depth"].to_list() == [0, 0]
    assert got.select(whole.columns).equals(whole.sort(key))
    assert store.meta["loader_stats"]["rows_filtered"] == 1 and store.meta["loader_stats"]["posts"] == 2
