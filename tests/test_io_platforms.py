"""The Bluesky, Jetstream, Mastodon and Hacker News loaders on small responses in each API's real shape, with
golden values worked out by hand (the threads are drawn in tests/platform_fakes.py)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from platform_fakes import (
    A1,
    A2,
    A3,
    MOD,
    R0,
    A,
    B,
    FakeAppView,
    K,
    N,
    R,
    bluesky_thread,
    bsky_post,
    bsky_uri,
    hackernews_thread,
    mastodon_thread,
    toot,
)

from toolkit.io import LoadError, detect_format, load_source
from toolkit.io.html_text import html_to_text
from toolkit.threads import add_tree_columns


def _write(path: Path, document) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document))
    return path


def _tree(frame: pl.DataFrame) -> dict[str, tuple]:
    """comment_id -> (parent_id, reply_depth, structure)."""
    tree = add_tree_columns(frame)
    return {row[0]: row[1:] for row in tree.select("comment_id", "parent_id", "reply_depth", "structure").iter_rows()}


def _appview_thread(uri: str = R, height: int = 0) -> dict:
    fake = FakeAppView(bluesky_thread(), max_depth=100, not_found=frozenset({N}), blocked=frozenset({K}))
    fake.server.server_close()
    return {"thread": fake.node(uri, 100, height)}


# ----------------------------------------------------------------------------------------------- Bluesky

def test_bluesky_thread_rows_parents_labels(tmp_path):
    path = _write(tmp_path / "thread.json", _appview_thread())
    assert detect_format(path) == "bluesky"
    result = load_source(path)
    frame = result.frame
    assert frame["comment_id"].to_list() == [R, A, A1, A2, A3, N, K, B]  # document order; K1 hidden under K
    assert _tree(frame) == {R: (None, 0, "tree"), A: (R, 1, "tree"), A1: (A, 2, "tree"), A2: (A1, 3, "tree"),
                            A3: (A2, 4, "tree"), N: (R, 1, "tree"), K: (R, 1, "tree"), B: (R, 1, "tree")}
    assert set(frame["thread_id"]) == {R} and frame["platform"].unique().to_list() == ["bluesky"]
    rows = {row["comment_id"]: row for row in frame.iter_rows(named=True)}
    assert (rows[R]["author"], rows[R]["author_did"], rows[R]["is_post"]) == ("ann.test", "did:plc:ann", True)
    assert (rows[R]["reply_count"], rows[R]["like_count"], rows[R]["score"]) == (4, 2, 2)  # A, N, K, B
    # the removal rule: !hide from the moderation service removes; a self-applied !hide, !warn, rude do not
    assert [uri for uri, row in rows.items() if row["removed"]] == [A]
    assert (rows[A]["removal_source"], rows[A]["removed_by"], rows[A]["text"]) == ("label:!hide", MOD, "You are an idiot.")
    assert (rows[A]["labels"], rows[A]["label_sources"]) == (["!hide", "rude"], [MOD, MOD])
    assert (rows[A1]["labels"], rows[A1]["author_labels"], rows[A1]["author_label_sources"]) == (["!hide"], ["spam"], [MOD])
    assert rows[B]["labels"] == ["!warn"]  # the negated !hide is dropped
    # not found and blocked: rows with null text and the reason, never dropped
    assert (rows[N]["text"], rows[N]["deleted"], rows[N]["removed"], rows[N]["unavailable"]) == (None, True, False, "not_found")
    assert (rows[K]["text"], rows[K]["deleted"], rows[K]["unavailable"], rows[K]["author_did"]) == (None, False, "blocked", "did:plc:gus")
    assert result.stats | {"files": 1} == {"files": 1, "posts": 6, "not_found": 1, "blocked": 1, "duplicates": 0,
                                           "rows_rejected": 0, "not_found_since": 0}


def test_bluesky_parent_chain_and_a_post_in_two_responses(tmp_path):
    """A reply's view climbs to the root through ``parent``; the same posts in a second response are one row each."""
    _write(tmp_path / "a" / "thread-focus.json", _appview_thread(A2, height=10))
    _write(tmp_path / "a" / "thread-root.json", _appview_thread(R))
    result = load_source(tmp_path / "a")
    assert result.frame.height == 8
    assert result.stats["duplicates"] == 5  # R, A, A1, A2, A3 came in both: each older copy a reject
    assert result.rejects.height == 5 and result.rejects["reason"].str.starts_with("duplicate id").all()
    assert _tree(result.frame)[A3] == (A2, 4, "tree")


def test_bluesky_deleted_root_above_a_focus(tmp_path):
    """A focus whose root is gone: the root is a not-found post row (the thread's post), depths still right."""
    fake = FakeAppView(bluesky_thread(), max_depth=100, not_found=frozenset({R}))
    fake.server.server_close()
    path = _write(tmp_path / "t.json", {"thread": fake.node(A1, 100, 10)})
    frame = load_source(path, format="bluesky").frame
    tree = _tree(frame)
    assert (tree[R], tree[A], tree[A1], tree[A3]) == ((None, 0, "tree"), (R, 1, "tree"), (A, 2, "tree"), (A2, 4, "tree"))
    root = frame.filter(pl.col("comment_id") == R).row(0, named=True)
    assert (root["is_post"], root["text"], root["deleted"]) == (True, None, True)


def test_bluesky_bad_post_is_a_reject_and_malformed_file_an_error(tmp_path):
    document = _appview_thread()
    document["thread"]["replies"][0]["post"]["record"]["createdAt"] = "yesterday"
    path = _write(tmp_path / "t.json", document)
    result = load_source(path, format="bluesky")
    assert result.rejects.select("line", "field").rows() == [(1, "record.createdAt")]
    assert A in result.rejects["reason"][0] and result.frame.height == 7  # A1, A2, A3 still load: orphans
    assert result.rows_in == 8 and _tree(result.frame)[A1] == (A, None, "orphan")
    with pytest.raises(LoadError, match="t.json"):
        load_source(path, format="bluesky", strict=True)
    (tmp_path / "bad.json").write_text('{"thread": {"post": ')
    with pytest.raises(LoadError, match=r"bad.json.*malformed JSON"):
        load_source(tmp_path / "bad.json", format="bluesky")
    _write(tmp_path / "other.json", {"cursor": "x", "items": []})
    with pytest.raises(LoadError, match=r"other.json.*not a Bluesky response"):
        load_source(tmp_path / "other.json", format="bluesky")


def test_bluesky_thread_deeper_than_the_recursion_limit(tmp_path):
    """A reply chain 1,500 deep (the AppView serves up to 1,000 a call): parsed and walked without recursion."""
    depth = 1500
    posts = [json.dumps(bsky_post("ann", "r0", "root"))] + [
        json.dumps(bsky_post("bob", f"r{i}", "deeper", bsky_uri("ann" if i == 1 else "bob", f"r{i - 1}"), R0))
        for i in range(1, depth + 1)]
    text = "".join(f'{{"$type": "app.bsky.feed.defs#threadViewPost", "post": {post}, "replies": [' for post in posts)
    text += "]}" * len(posts)
    (tmp_path / "deep.json").write_text('{"thread": ' + text + "}")
    frame = add_tree_columns(load_source(tmp_path / "deep.json", format="bluesky").frame)
    assert frame.height == depth + 1 and frame["reply_depth"].max() == depth


def test_bluesky_not_found_since_marks_deleted(tmp_path):
    folder = tmp_path / "archive"
    _write(folder / "thread-root.json", _appview_thread())
    _write(folder / "thread-a2.json", {"error": "NotFound", "message": f"Post not found: {A2}"})
    result = load_source(folder)
    row = result.frame.filter(pl.col("comment_id") == A2).row(0, named=True)
    assert (row["text"], row["deleted"], row["unavailable"]) == (None, True, "not_found")
    assert result.stats["not_found_since"] == 1 and result.frame.height == 8


# --------------------------------------------------------------------------------------------- Jetstream

def _event(did: str, rkey: str, operation: str = "create", text: str = "x", parent: str | None = None,
           root: str | None = None, time_us: int = 1, collection: str = "app.bsky.feed.post") -> str:
    commit: dict = {"rev": "r", "operation": operation, "collection": collection, "rkey": rkey}
    if operation != "delete":
        record: dict = {"$type": collection, "createdAt": "2024-05-01T10:00:00Z", "text": text}
        if parent:
            record["reply"] = {"parent": {"uri": parent, "cid": "c"}, "root": {"uri": root, "cid": "c"}}
        commit.update(record=record, cid="bafy")
    return json.dumps({"did": did, "time_us": time_us, "kind": "commit", "commit": commit})


P, Q, S = ("at://did:plc:ann/app.bsky.feed.post/p", "at://did:plc:bob/app.bsky.feed.post/q",
           "at://did:plc:cat/app.bsky.feed.post/s")
OUTSIDE = "at://did:plc:old/app.bsky.feed.post/o"


def _capture(path: Path) -> Path:
    lines = [
        _event("did:plc:ann", "p", text="Root post", time_us=10),
        _event("did:plc:bob", "q", text="A reply", parent=P, root=P, time_us=20),
        _event("did:plc:cat", "s", text="Reply to an old post", parent=OUTSIDE, root=P, time_us=30),
        '{"did": "did:plc:x", "time_us": 31, "kind": "commit", "commit": {"operation": "create"',  # cut line
        _event("did:plc:dan", "l", collection="app.bsky.feed.like", time_us=40),
        json.dumps({"did": "did:plc:ann", "time_us": 50, "kind": "identity",
                    "identity": {"did": "did:plc:ann", "handle": "ann.test", "seq": 1, "time": "2024-05-01T10:00:00Z"}}),
        _event("did:plc:bob", "q", operation="delete", time_us=60),
        _event("did:plc:ann", "p", operation="update", text="Root post (edited)", time_us=70),
        _event("did:plc:eve", "gone", operation="delete", time_us=80),  # a post from before the capture
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_jetstream_threads_deletions_orphans(tmp_path):
    path = _capture(tmp_path / "jetstream.jsonl")
    assert detect_format(path) == "jetstream"
    result = load_source(path)
    frame = result.frame
    assert _tree(frame) == {P: (None, 0, "tree"), Q: (P, 1, "tree"), S: (OUTSIDE, None, "orphan")}
    rows = {row["comment_id"]: row for row in frame.iter_rows(named=True)}
    assert (rows[P]["text"], rows[P]["operation"]) == ("Root post (edited)", "update")  # the newest event wins
    assert (rows[Q]["text"], rows[Q]["deleted"], rows[Q]["author"]) == (None, True, "did:plc:bob")
    assert rows[S]["thread_id"] == P
    stats = result.stats
    assert (stats["events"], stats["records"], stats["deletes"], stats["deleted_rows"], stats["events_other"]) == (9, 5, 2, 1, 2)
    assert stats["records"] == frame.height + result.rejects.height  # 5 = 3 kept + the cut line + the older P
    assert result.rejects.select("line", "field").rows() == [(4, None), (1, "id")]


def test_jetstream_streams_into_the_corpus_store(tmp_path):
    """The store's streamed path (toolkit.io.STREAMED) gives the same rows as the loader, with tree columns."""
    from toolkit.settings import DatasetSettings
    from toolkit.store import open_corpus

    folder = tmp_path / "capture"
    folder.mkdir()
    _capture(folder / "a.jsonl")
    (folder / "b.jsonl").write_text(_event("did:plc:fay", "t", text="Late reply", parent=Q, root=P, time_us=90) + "\n"
                                    + _event("did:plc:cat", "s", operation="delete", time_us=95) + "\n")
    pattern = str(folder / "*.jsonl")  # two files: two ingest units, S's deletion is in the second
    dataset = DatasetSettings(path=pattern, format="jetstream", buckets=3)
    store = open_corpus(dataset, Path(pattern), tmp_path / "cache")
    frame = store.frame()
    assert set(frame["comment_id"]) == {P, Q, S, "at://did:plc:fay/app.bsky.feed.post/t"}
    assert frame.filter(pl.col("comment_id") == S).select("deleted", "text").row(0) == (True, None)
    direct = load_source(pattern, format="jetstream").frame
    assert frame.height == direct.height == 4
    keyed = frame.select("comment_id", "parent_id", "text", "deleted", "reply_depth", "structure").sort("comment_id")
    assert keyed.rows() == add_tree_columns(direct).select(keyed.columns).sort("comment_id").rows()
    assert store.meta["loader_stats"]["duplicates"] == 1 and store.table("rejects").height == 2


# ---------------------------------------------------------------------------------------------- Mastodon

def test_mastodon_archive_with_deleted_status(tmp_path):
    statuses = {s["id"]: s for s in mastodon_thread()}
    folder = tmp_path / "archive"
    api = "https://mastodon.test/api/v1/statuses"
    documents = {
        "status-101.json": (f"{api}/101", statuses["101"]),
        "context-101.json": (f"{api}/101/context", {"ancestors": [statuses["100"]],
                                                     "descendants": [statuses[i] for i in ("102", "103")]}),
        "status-100.json": (f"{api}/100", statuses["100"]),
        "context-100.json": (f"{api}/100/context", {"ancestors": [], "descendants": [
            statuses[i] for i in ("101", "102", "104")]}),
        "context-103.json": (f"{api}/103/context", {"error": "Record not found"}),
    }
    index = []
    for name, (url, document) in documents.items():
        _write(folder / name, document)
        index.append(json.dumps({"url": url, "file": name, "status": 404 if "error" in document else 200}))
    (folder / "index.jsonl").write_text("\n".join(index) + "\n")
    assert detect_format(folder) == "mastodon"
    result = load_source(folder)
    frame = result.frame
    ids = {f"mastodon.test/{n}": n for n in ("100", "101", "102", "103", "104")}
    assert sorted(frame["comment_id"]) == sorted(ids)
    tree = {ids[key]: (ids.get(value[0]), value[1]) for key, value in _tree(frame).items()}
    assert tree == {"100": (None, 0), "101": ("100", 1), "102": ("101", 2), "103": ("102", 3), "104": ("100", 1)}
    rows = {row["native_id"]: row for row in frame.iter_rows(named=True)}
    assert (rows["103"]["text"], rows["103"]["deleted"]) == (None, True)  # deleted before the follow-up call
    assert rows["101"]["text"] == "@ann good news & about time: https://news.test/bike"
    assert (rows["101"]["author"], rows["101"]["home_instance"], rows["101"]["instance"], rows["101"]["served_by"]) == (
        "bob@other.test", "other.test", "other.test", "mastodon.test")
    assert (rows["102"]["spoiler_text"], rows["102"]["sensitive"], rows["104"]["text"]) == ("rude", True, "Which street?\nMain?")
    assert (rows["100"]["author"], rows["100"]["is_post"], rows["100"]["thread_id"]) == ("ann@mastodon.test", True, "mastodon.test/100")
    # 101, 100, 102 came twice, and the 404 for 103 is a further (text-null) copy of it
    assert result.stats["duplicates"] == 4 and result.rows_in == 5 + 4
    assert result.stats["deleted_since"] == 1


def test_mastodon_context_alone(tmp_path):
    """A /context on its own: the focus (absent) is the root, its direct replies depth 1; with ancestors, the
    first ancestor is the root and the focus' replies keep their depth as orphans."""
    statuses = {s["id"]: s for s in mastodon_thread()}
    path = _write(tmp_path / "ctx.json", {"ancestors": [], "descendants": [statuses[i] for i in ("102", "103", "105")]})
    frame = load_source(path).frame  # no index: the local account's URL tells the instance
    tree = {key.split("/")[1]: (value[0].split("/")[1], value[1]) for key, value in _tree(frame).items()}
    assert tree == {"102": ("101", 1), "103": ("102", 2), "105": ("103", 3)}
    assert set(frame["thread_id"]) == {"mastodon.test/101"}
    path = _write(tmp_path / "ctx2.json", {"ancestors": [statuses["100"], statuses["101"]],
                                           "descendants": [statuses["103"], statuses["105"]]})
    frame = load_source(path).frame
    tree = {key.split("/")[1]: value[1:] for key, value in _tree(frame).items()}
    assert tree == {"100": (0, "tree"), "101": (1, "tree"), "103": (3, "orphan"), "105": (4, "orphan")}
    assert set(frame["thread_id"]) == {"mastodon.test/100"}


def test_mastodon_bad_status_rejected_and_errors_name_the_file(tmp_path):
    bad = toot(7, None, "x", host="m.test")
    bad["created_at"] = "not a time"
    path = _write(tmp_path / "list.json", [toot(6, None, "fine", host="m.test"), bad])
    result = load_source(path, format="mastodon")
    assert result.frame.height == 1 and result.rejects.select("line", "field").rows() == [(1, "created_at")]
    _write(tmp_path / "err.json", {"error": "Record not found"})
    with pytest.raises(LoadError, match=r"err.json.*no status id"):
        load_source(tmp_path / "err.json", format="mastodon")
    (tmp_path / "cut.json").write_text('{"ancestors": [')
    with pytest.raises(LoadError, match=r"cut.json.*malformed JSON"):
        load_source(tmp_path / "cut.json", format="mastodon")


# ------------------------------------------------------------------------------------------- Hacker News

def test_hackernews_items(tmp_path):
    folder = tmp_path / "hn"
    for item in hackernews_thread():
        _write(folder / f"item-{item['id']}.json", item)
    (folder / "item-6.json").write_text("null")
    assert detect_format(folder) == "hackernews"
    result = load_source(folder)
    frame = result.frame
    assert _tree(frame) == {"hn:1": (None, 0, "tree"), "hn:2": ("hn:1", 1, "tree"), "hn:3": ("hn:1", 1, "tree"),
                            "hn:4": ("hn:1", 1, "tree"), "hn:5": ("hn:2", 2, "tree")}
    rows = {row["native_id"]: row for row in frame.iter_rows(named=True)}
    assert (rows[1]["text"], rows[1]["score"], rows[1]["is_post"]) == ("Ask HN: Bike lanes?\n\nDo they work?\n\nData welcome.", 10, True)
    assert (rows[2]["text"], rows[5]["text"]) == ("Good point & more\n\nSecond para", "Agree with this")
    assert (rows[3]["removed"], rows[3]["removal_source"], rows[3]["text"], rows[3]["deleted"]) == (
        True, "dead: killed by moderators or flags", "You idiot.", False)
    assert (rows[4]["deleted"], rows[4]["text"], rows[4]["author"], rows[4]["removed"]) == (True, None, None, False)
    assert (rows[2]["kids_count"], rows[2]["author"], str(rows[2]["created_at"])) == (2, "bob", "2024-05-01 10:01:00+00:00")
    assert result.stats | {"files": 0} == {"files": 0, "items": 5, "null_items": 1, "duplicates": 0, "dead": 1,
                                           "deleted": 1, "rows_rejected": 0}


def test_hackernews_list_ndjson_and_malformed(tmp_path):
    items = hackernews_thread()
    items[4]["kids"] = "5"  # not a list
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(json.dumps(item) for item in items) + "\n{oops\n")
    result = load_source(path, format="hackernews")
    assert result.frame.height == 4 and result.rejects.select("line", "field").rows() == [(5, "kids"), (6, None)]
    _write(tmp_path / "x.json", {"hits": []})
    with pytest.raises(LoadError, match=r"x.json.*not a Hacker News item"):
        load_source(tmp_path / "x.json", format="hackernews")


def test_ids_are_unique_across_platforms(tmp_path):
    """A Mastodon status, an HN item and a Lemmy-style number never share an id."""
    hn = tmp_path / "hn.json"
    _write(hn, {"by": "a", "id": 100, "time": 1, "type": "story", "title": "t"})
    masto = _write(tmp_path / "m.json", toot(100, None, "x", host="m.test"))
    ids = set(load_source(hn).frame["comment_id"]) | set(load_source(masto).frame["comment_id"])
    assert ids == {"hn:100", "m.test/100"}


def test_html_to_text():
    assert html_to_text('<p>a<br/>b</p><ul><li>one</li><li>two</li></ul><script>x()</script>&lt;ok&gt;') == \
        "a\nb\n\none\ntwo\n\n<ok>"
    assert html_to_text("") == "" and html_to_text("plain") == "plain"


@pytest.mark.parametrize(("path", "name", "rows"), [
    ("data/bluesky_synthetic", "bluesky", 37), ("data/mastodon_synthetic", "mastodon", 40),
    ("data/hackernews_synthetic", "hackernews", 40), ("data/jetstream_synthetic.jsonl", "jetstream", 60),
])
def test_bundled_synthetic_archives_load(path, name, rows):
    assert detect_format(path) == name
    result = load_source(path)
    assert result.frame.height == rows and "synthetic" in Path(path).name
    assert add_tree_columns(result.frame)["reply_depth"].max() >= 3


def test_mastodon_files_without_index_share_one_instance(tmp_path):
    """A status by a remote account tells no instance; the context's local accounts tell it for both files."""
    statuses = {s["id"]: s for s in mastodon_thread()}
    _write(tmp_path / "m" / "a-status.json", statuses["101"])  # bob@other.test: remote
    _write(tmp_path / "m" / "b-context.json", {"ancestors": [statuses["100"]],
                                               "descendants": [statuses["102"], statuses["103"]]})
    frame = load_source(tmp_path / "m").frame
    assert sorted(frame["comment_id"]) == [f"mastodon.test/{n}" for n in (100, 101, 102, 103)]
    assert {key: value[1] for key, value in _tree(frame).items()}["mastodon.test/103"] == 3


def test_bluesky_removal_rule_options_and_author_labels(tmp_path):
    path = _write(tmp_path / "thread.json", _appview_thread())
    frame = load_source(path, format="bluesky", removal_labels=["!warn", "spam"]).frame
    removed = dict(frame.filter("removed").select("comment_id", "removal_source").iter_rows())
    assert removed == {A1: "author_label:spam", B: "label:!warn"}  # !hide no longer counts; rude never did
    document = _appview_thread()
    document["thread"]["post"]["author"]["labels"] = [{"src": MOD, "uri": "did:plc:ann", "val": "!takedown"}]
    row = load_source(_write(tmp_path / "t2.json", document)).frame.row(0, named=True)
    assert (row["removed"], row["removal_source"], row["removed_by"]) == (True, "author_label:!takedown", MOD)


@pytest.mark.slow
def test_jetstream_capture_through_map_steps(tmp_path):
    """A capture runs through map steps (ingest, then buckets in two parts, then the reduce run) and gives the
    rows of a one-process run."""
    from hydra import compose, initialize_config_dir

    from toolkit.cli.app import CONFIG_DIR, to_settings
    from toolkit.pipeline import run_experiment

    base = ["+experiment=jetstream_capture", "scorer=profanity", "dataset.buckets=3", "plot.formats=[png]",
            "analysis.n_boot=50", "plot.dpi=60"]

    def settings(*overrides: str):
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            return to_settings(compose(config_name="config", overrides=[*base, *overrides]))

    cache = f"scorer.cache_dir={tmp_path / 'cache'}"
    run_experiment(settings(cache, "map.step=ingest"), tmp_path / "ingest")
    for part in (0, 1):
        run_experiment(settings(cache, "map.step=buckets", "map.parts=2", f"map.part={part}"), tmp_path / f"b{part}")
    reduced = run_experiment(settings(cache), tmp_path / "reduce")
    single = run_experiment(settings(f"scorer.cache_dir={tmp_path / 'single'}"), tmp_path / "single")
    assert reduced["counts"]["rows_kept"] == single["counts"]["rows_kept"] == 60
    key = ["thread_id", "comment_id"]
    assert pl.read_parquet(tmp_path / "reduce" / "comments.parquet").sort(key).equals(
        pl.read_parquet(tmp_path / "single" / "comments.parquet").sort(key))
