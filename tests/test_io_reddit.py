"""Reddit comment-page loader and record normalisers: the bundled real pages (golden counts) and hand-built ones."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.io import DETECTORS, LOADERS, detect_format, load_source
from toolkit.io.base import LoadError, Rejects
from toolkit.io.reddit import (
    REDDIT_EXTRA_SCHEMA,
    REDDIT_SCHEMA,
    normalize_reddit_comment,
    normalize_reddit_post,
    read_reddit_page,
)
from toolkit.schema import SOURCE_SCHEMA, conform
from toolkit.threads import add_tree_columns

SAMPLES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "samples"
PAGE_1J7 = SAMPLES / "reddit_thread_1j7g9uj.json"  # recent page: every comment has Reddit's `depth`
PAGE_57D = SAMPLES / "reddit_thread_57dw9a.json"  # 2016 page: no `depth` fields, one "continue" stub


def utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


# ---------------------------------------------------------------------------------------------------
# hand-built pages


def comment(
    cid: str, parent: str, *replies: dict[str, Any], link: str = "t3_p1", **fields: Any
) -> dict[str, Any]:
    """A t1 child with its replies nested as Reddit nests them (``""`` when there are none)."""
    data = {
        "id": cid,
        "name": f"t1_{cid}",
        "parent_id": parent,
        "link_id": link,
        "author": f"user_{cid}",
        "body": f"body of {cid}",
        "created_utc": 1_700_000_000.0,
        "score": 1,
        "edited": False,
        "subreddit": "test",
        "replies": {"kind": "Listing", "data": {"children": list(replies)}} if replies else "",
    }
    data.update(fields)
    return {"kind": "t1", "data": data}


def more(parent: str, children: list[str], mid: str | None = None) -> dict[str, Any]:
    return {
        "kind": "more",
        "data": {"id": mid or (children[0] if children else "_"), "parent_id": parent, "children": children},
    }


def post(pid: str = "p1", **fields: Any) -> dict[str, Any]:
    data = {
        "id": pid,
        "name": f"t3_{pid}",
        "title": "A title",
        "selftext": "Some selftext",
        "author": "op",
        "created_utc": 1_699_999_000,
        "score": 10,
        "edited": False,
        "subreddit": "test",
    }
    data.update(fields)
    return {"kind": "t3", "data": data}


def page(*children: dict[str, Any], the_post: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [
        {"kind": "Listing", "data": {"children": [the_post or post()]}},
        {"kind": "Listing", "data": {"children": list(children)}},
    ]


def write(tmp_path: Path, document: Any, name: str = "page.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    return path


def by_id(frame: pl.DataFrame, cid: str) -> dict[str, Any]:
    rows = frame.filter(pl.col("comment_id") == cid).to_dicts()
    assert len(rows) == 1, cid
    return rows[0]


def nesting_walk(document: list[Any]) -> list[tuple[str, int, Any]]:
    """Independent reference: (id, nesting depth, Reddit's depth field) of every t1, recursively, page order."""
    out: list[tuple[str, int, Any]] = []

    def walk(children: list[Any], depth: int) -> None:
        for child in children:
            if child["kind"] != "t1":
                continue
            out.append((child["data"]["id"], depth, child["data"].get("depth")))
            if child["data"].get("replies"):
                walk(child["data"]["replies"]["data"]["children"], depth + 1)

    walk(document[1]["data"]["children"], 1)
    return out


# ---------------------------------------------------------------------------------------------------
# the bundled real pages: golden values counted by hand (jq over the files), not by this loader


needs_samples = pytest.mark.skipif(not PAGE_1J7.exists(), reason="shared/data/samples not present")


@needs_samples
@pytest.mark.parametrize(
    ("path", "golden"),
    [
        (
            PAGE_1J7,
            {
                "rows": 68,
                "comments": 67,
                "more_stubs": 0,
                "more_children_ids": 0,
                "continue_thread_stubs": 0,
                "removed": 0,
                "deleted": 0,
                "null_author": 0,
                "null_text": 0,
                "edited": 0,
                "depth_fields": 67,
                "depths": {0: 1, 1: 1, 2: 1, 3: 1, 4: 64},
            },
        ),
        (
            PAGE_57D,
            {
                "rows": 146,
                "comments": 145,
                "more_stubs": 1,
                "more_children_ids": 0,
                "continue_thread_stubs": 1,
                "removed": 0,
                "deleted": 5,
                "null_author": 6,
                "null_text": 5,
                "edited": 5,  # 4 comments and the post
                "depth_fields": 0,
                "depths": {0: 1, 1: 1, 2: 1, 3: 10, 4: 83, 5: 19, 6: 12, 7: 7, 8: 6, 9: 4, 10: 2},
            },
        ),
    ],
    ids=["1j7g9uj", "57dw9a"],
)
def test_sample_pages_golden_counts(path: Path, golden: dict[str, Any]) -> None:
    result = read_reddit_page(path)
    frame = result.frame
    assert result.rejects.height == 0
    assert result.rows_in == frame.height == golden["rows"] == result.stats["records"]
    assert list(frame.columns[: len(SOURCE_SCHEMA)]) == list(SOURCE_SCHEMA)
    assert dict(frame.schema) == {**SOURCE_SCHEMA, **REDDIT_EXTRA_SCHEMA}
    assert frame.filter(~pl.col("is_post")).height == golden["comments"]
    assert frame["is_post"].to_list()[0] is True and frame["is_post"].sum() == 1
    assert frame["thread_id"].unique().to_list() == [path.stem.removeprefix("reddit_thread_")]
    assert frame["platform"].unique().to_list() == ["reddit"]
    assert frame["source_position"].to_list() == list(range(golden["rows"]))
    for key in ("more_stubs", "more_children_ids", "continue_thread_stubs", "depth_fields"):
        assert result.stats[key] == golden[key], key
    assert result.stats["depth_mismatches"] == 0
    assert result.stats["parent_mismatches"] == 0
    assert frame["removed"].sum() == golden["removed"]
    assert frame["deleted"].sum() == golden["deleted"]
    assert frame["author"].null_count() == golden["null_author"]
    assert frame["text"].null_count() == golden["null_text"]
    assert frame["edited"].sum() == golden["edited"]
    assert frame["edited_at"].null_count() == golden["rows"] - golden["edited"]
    depths = dict(frame["source_reply_depth"].value_counts().iter_rows())
    assert depths == golden["depths"]
    assert frame["created_at"].null_count() == 0 and frame["score"].null_count() == 0


@needs_samples
@pytest.mark.parametrize("path", [PAGE_1J7, PAGE_57D], ids=["1j7g9uj", "57dw9a"])
def test_sample_pages_depth_and_order_match_the_nesting(path: Path) -> None:
    """Rows follow the page's depth-first order; depth is the nesting (Reddit's own `depth` + 1 where given)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    reference = nesting_walk(document)
    frame = read_reddit_page(path).frame.filter(~pl.col("is_post"))
    assert frame["comment_id"].to_list() == [cid for cid, _, _ in reference]
    assert frame["source_reply_depth"].to_list() == [depth for _, depth, _ in reference]
    for _, depth, reddit_depth in reference:
        if reddit_depth is not None:
            assert depth == reddit_depth + 1


@needs_samples
def test_sample_reply_depth_from_tree_columns_equals_reddit_depth_plus_one() -> None:
    """The acceptance check: tree columns from parent links agree with Reddit's `depth` + 1 / the nesting."""
    for path in (PAGE_1J7, PAGE_57D):
        document = json.loads(path.read_text(encoding="utf-8"))
        reference = {cid: (depth, reddit_depth) for cid, depth, reddit_depth in nesting_walk(document)}
        frame = add_tree_columns(read_reddit_page(path).frame)
        assert frame.filter(pl.col("is_post"))["reply_depth"].to_list() == [0]
        comments = frame.filter(~pl.col("is_post"))
        assert comments["structure"].unique().to_list() == ["tree"]
        for cid, reply_depth in comments.select("comment_id", "reply_depth").iter_rows():
            depth, reddit_depth = reference[cid]
            assert reply_depth == depth
            if reddit_depth is not None:
                assert reply_depth == reddit_depth + 1


@needs_samples
def test_sample_specific_comments() -> None:
    frame = read_reddit_page(PAGE_57D).frame
    # author "[deleted]" with the text still there: the account is gone, the comment is not
    gone = by_id(frame, "d8r8zew")
    assert gone["author"] is None and gone["deleted"] is False and gone["removed"] is False
    assert gone["text"].startswith("Wait, what?\n\nIs Hardwick a Comcast shill")
    # body "[deleted]": deleted by its author, text null; never counted as a moderator removal
    deleted = by_id(frame, "d8rbuag")
    assert deleted["deleted"] is True and deleted["removed"] is False
    assert deleted["text"] is None and deleted["author"] is None and deleted["removal_source"] is None
    # edited as an int timestamp
    edited = by_id(frame, "d8rmyfz")
    assert edited["edited"] is True and edited["edited_at"] == utc(1476465953)
    the_post = by_id(frame, "57dw9a")
    assert (
        the_post["is_post"] is True and the_post["parent_id"] is None and the_post["author"] == "StanGibson18"
    )
    assert the_post["text"].startswith("I’m American citizen, undecided voter, loving husband Ken Bone")
    assert "\n\nHello Reddit,\n\n" in the_post["text"]
    assert the_post["created_at"] == utc(1476408093) and the_post["edited_at"] == utc(1478574428)
    assert the_post["score"] == 113566 and the_post["subreddit"] == "IAmA"
    top = by_id(frame, "d8r4im1")
    assert top["parent_id"] == "57dw9a" and top["thread_id"] == "57dw9a" and top["source_reply_depth"] == 1
    # raw_json=1 page: an apostrophe entity in the text would stay as typed; nothing here is escaped
    assert frame["text"].str.contains("&amp;").sum() == 0

    recent = read_reddit_page(PAGE_1J7).frame
    reply = by_id(recent, "mynfuan")
    assert reply["parent_id"] == "mynfrrh" and reply["text"] == "Test u/Lil_SpazTest mention"
    assert reply["edited"] is False and reply["edited_at"] is None and reply["stickied"] is False


@needs_samples
def test_sample_pages_are_detected_and_registered() -> None:
    detectors = DETECTORS
    assert LOADERS["reddit_page"] is read_reddit_page
    assert detectors["reddit_page"](PAGE_1J7) and detectors["reddit_page"](PAGE_57D)
    assert not detectors["reddit_page"](SAMPLES.parent / "seed_thread.txt")


@needs_samples
def test_sample_pages_load_through_the_registry() -> None:
    assert detect_format(PAGE_57D) == "reddit_page"
    result = load_source(PAGE_57D, html_unescape=False)
    assert result.frame.height == 146


def test_detector_rejects_other_json(tmp_path: Path) -> None:
    detect = DETECTORS["reddit_page"]
    assert detect(write(tmp_path, page(comment("c1", "t3_p1"))))
    assert not detect(write(tmp_path, [{"kind": "t1", "data": {}}], "array.json"))
    assert not detect(write(tmp_path, {"comments": []}, "object.json"))
    assert not detect(write(tmp_path, page(the_post=comment("c1", "t3_p1")), "t1_first.json"))
    (tmp_path / "broken.json").write_text('[{"kind": "Listing"', encoding="utf-8")
    assert not detect(tmp_path / "broken.json")
    assert not detect(tmp_path / "missing.json")
    ndjson = tmp_path / "page.ndjson"
    ndjson.write_text(json.dumps(page()), encoding="utf-8")
    assert not detect(ndjson)


# ---------------------------------------------------------------------------------------------------
# depth, order, stubs


def test_page_without_depth_fields_takes_depth_from_nesting(tmp_path: Path) -> None:
    document = page(
        comment(
            "a",
            "t3_p1",
            comment("b", "t1_a", comment("c", "t1_b"), more("t1_b", ["x1", "x2"])),
            comment("d", "t1_a"),
        ),
        comment("e", "t3_p1", more("t1_e", [], mid="_")),
        more("t3_p1", ["y1", "y2", "y3"]),
    )
    result = read_reddit_page(write(tmp_path, document))
    frame = result.frame
    assert frame["comment_id"].to_list() == ["p1", "a", "b", "c", "d", "e"]
    assert frame["source_position"].to_list() == [0, 1, 2, 3, 4, 5]
    assert frame["source_reply_depth"].to_list() == [0, 1, 2, 3, 2, 1]
    assert frame["parent_id"].to_list() == [None, "p1", "a", "b", "a", "p1"]
    assert result.stats["more_stubs"] == 3
    assert result.stats["more_children_ids"] == 5
    assert result.stats["continue_thread_stubs"] == 1
    assert result.stats["depth_fields"] == 0 and result.stats["depth_mismatches"] == 0
    assert result.rejects.height == 0


def test_depth_field_disagreeing_with_nesting_is_counted_not_trusted(tmp_path: Path) -> None:
    document = page(
        comment("a", "t3_p1", comment("b", "t1_a", depth=5), depth=0), comment("c", "t3_p1", depth=1)
    )
    result = read_reddit_page(write(tmp_path, document))
    assert result.stats["depth_fields"] == 3
    assert result.stats["depth_mismatches"] == 2
    assert result.frame["source_reply_depth"].to_list() == [0, 1, 2, 1]


def test_parent_id_disagreeing_with_nesting_is_counted(tmp_path: Path) -> None:
    document = page(comment("a", "t3_p1", comment("b", "t1_zzz")))
    result = read_reddit_page(write(tmp_path, document))
    assert result.stats["parent_mismatches"] == 1
    assert by_id(result.frame, "b")["parent_id"] == "zzz"  # the record's own link is kept


def test_very_deep_thread_needs_no_recursion(tmp_path: Path) -> None:
    depth = 3000  # ~15,000 JSON nesting levels: beyond both json's and Python's default recursion limits
    opening, closing = [], []  # built as text: json.dumps would itself hit the recursion limit
    for level in range(1, depth + 1):
        parent = f"t1_c{level - 1}" if level > 1 else "t3_p1"
        head = {
            "id": f"c{level}",
            "parent_id": parent,
            "link_id": "t3_p1",
            "body": "x",
            "created_utc": 1,
            "score": 1,
        }
        opening.append('{"kind": "t1", "data": ' + json.dumps(head)[:-1] + ', "replies": ')
        if level < depth:
            opening.append('{"kind": "Listing", "data": {"children": [')
            closing.append("]}}}}")
        else:
            opening.append('""')
            closing.append("}}")
    forest = "".join(opening) + "".join(reversed(closing))
    text = (
        '[{"kind": "Listing", "data": {"children": [%s]}}, {"kind": "Listing", "data": {"children": [%s]}}]'
    )
    path = tmp_path / "deep.json"
    path.write_text(text % (json.dumps(post()), forest), encoding="utf-8")
    result = read_reddit_page(path)
    assert result.rejects.height == 0
    assert result.frame.height == depth + 1
    assert result.frame["source_reply_depth"].to_list() == list(range(depth + 1))
    assert result.stats["parent_mismatches"] == 0
    assert DETECTORS["reddit_page"](path)


# ---------------------------------------------------------------------------------------------------
# field rules


@pytest.mark.parametrize(
    "created", [1_476_408_093.25, 1_476_408_093, "1476408093.25", "1476408093", "2016-10-14T01:21:33Z"]
)
def test_timestamps_float_int_string(created: Any) -> None:
    row = normalize_reddit_comment(
        {"id": "c", "parent_id": "t3_p", "link_id": "t3_p", "body": "x", "created_utc": created},
        path="f.json",
        line=3,
        rejects=Rejects(),
    )
    assert row is not None
    expected = utc(1_476_408_093.25) if ".25" in str(created) else utc(1_476_408_093)
    assert row["created_at"] == expected


def test_timestamp_microseconds_survive_the_frame(tmp_path: Path) -> None:
    document = page(comment("a", "t3_p1", created_utc=1_476_408_093.123456))
    frame = read_reddit_page(write(tmp_path, document)).frame
    assert by_id(frame, "a")["created_at"] == datetime(2016, 10, 14, 1, 21, 33, 123456, tzinfo=timezone.utc)
    assert by_id(frame, "p1")["created_at"] == utc(1_699_999_000)


@pytest.mark.parametrize(
    ("edited", "expected"),
    [
        (False, (False, None)),
        (True, (True, None)),
        (1_476_465_953.0, (True, utc(1_476_465_953))),
        (1_476_465_953, (True, utc(1_476_465_953))),
        ("1476465953", (True, utc(1_476_465_953))),
        (None, (None, None)),
    ],
)
def test_edited_false_true_or_timestamp(edited: Any, expected: tuple[Any, Any]) -> None:
    row = normalize_reddit_comment(
        {"id": "c", "parent_id": "t1_b", "link_id": "t3_p", "body": "x", "edited": edited},
        path="f.json",
        line=1,
        rejects=Rejects(),
    )
    assert row is not None and (row["edited"], row["edited_at"]) == expected


def test_ids_are_stripped_and_thread_id_falls_back() -> None:
    rejects = Rejects()
    row = normalize_reddit_comment(
        {"id": "d8ro4gv", "parent_id": "t1_d8rn000", "link_id": "t3_57dw9a", "body": "x"},
        path="f",
        line=1,
        rejects=rejects,
    )
    assert row is not None
    assert (row["comment_id"], row["parent_id"], row["thread_id"]) == ("d8ro4gv", "d8rn000", "57dw9a")
    # no link_id (dumps): a top-level comment's parent is the post; a deeper one uses the caller's thread id
    row = normalize_reddit_comment(
        {"id": "a", "parent_id": "t3_p9", "body": "x"}, path="f", line=1, rejects=rejects
    )
    assert row is not None and row["thread_id"] == "p9"
    row = normalize_reddit_comment(
        {"id": "b", "parent_id": "t1_a", "body": "x"}, path="f", line=1, rejects=rejects, thread_id="p9"
    )
    assert row is not None and row["thread_id"] == "p9"
    assert rejects.rows == []


@pytest.mark.parametrize(
    ("fields", "removed", "deleted", "text", "source"),
    [
        ({"body": "[removed]", "author": "[deleted]"}, True, False, None, "body"),
        ({"body": "[deleted]", "author": "[deleted]"}, False, True, None, None),
        (
            {"body": "still here", "removed_by_category": "moderator"},
            True,
            False,
            "still here",
            "removed_by_category",
        ),
        ({"body": "still here", "banned_by": "a_mod"}, True, False, "still here", "banned_by"),
        ({"body": "still here", "banned_by": True}, True, False, "still here", "banned_by"),
        ({"body": "still here", "removal_reason": "legal"}, True, False, "still here", "removal_reason"),
        ({"body": "still here", "removed": True}, True, False, "still here", "removed_flag"),
        ({"body": "still here", "removed": False, "banned_by": None}, False, False, "still here", None),
        ({"body": "still here", "author": "[deleted]"}, False, False, "still here", None),
    ],
)
def test_removal_and_deletion_signals(
    fields: dict[str, Any], removed: bool, deleted: bool, text: str | None, source: str | None
) -> None:
    data = {"id": "c", "parent_id": "t3_p", "link_id": "t3_p", "author": "someone", **fields}
    row = normalize_reddit_comment(data, path="f", line=1, rejects=Rejects(strict=True))
    assert row is not None
    assert (row["removed"], row["deleted"], row["text"], row["removal_source"]) == (
        removed,
        deleted,
        text,
        source,
    )
    if fields.get("author") == "[deleted]":
        assert row["author"] is None


def test_post_text_flags_and_author_deletion_category() -> None:
    rejects = Rejects(strict=True)

    def norm(**fields: Any) -> dict[str, Any]:
        row = normalize_reddit_post(post(**fields)["data"], path="f", line=1, rejects=rejects)
        assert row is not None
        return row

    row = norm()
    assert (row["comment_id"], row["thread_id"], row["parent_id"], row["is_post"]) == ("p1", "p1", None, True)
    assert row["text"] == "A title\n\nSome selftext"
    assert norm(selftext="")["text"] == "A title"  # link post
    removed = norm(selftext="[removed]", removed_by_category="moderator")
    assert (removed["removed"], removed["deleted"], removed["text"], removed["removal_source"]) == (
        True,
        False,
        "A title",
        "body",
    )
    deleted = norm(selftext="[deleted]", author="[deleted]", removed_by_category="deleted")
    assert (deleted["removed"], deleted["deleted"], deleted["text"], deleted["author"]) == (
        False,
        True,
        "A title",
        None,
    )
    # a link post removed by a moderator: the title stays, no selftext to flag
    link = norm(selftext="", removed_by_category="moderator")
    assert (
        link["removed"] is True
        and link["removal_source"] == "removed_by_category"
        and link["text"] == "A title"
    )


# ---------------------------------------------------------------------------------------------------
# HTML escaping


def test_escaped_page_is_unescaped_raw_page_is_not(tmp_path: Path) -> None:
    escaped = page(
        comment(
            "a",
            "t3_p1",
            body="&gt; quoted\n\nfish &amp; chips &lt;3 it&#39;s",
            body_html="&lt;div class=&quot;md&quot;&gt;&lt;blockquote&gt;...&lt;/div&gt;",
        ),
        the_post=post(title="Q&amp;A", selftext="a &lt; b", selftext_html="&lt;!-- SC_OFF --&gt;&lt;div&gt;"),
    )
    frame = read_reddit_page(write(tmp_path, escaped, "escaped.json")).frame
    assert by_id(frame, "a")["text"] == "> quoted\n\nfish & chips <3 it's"
    assert by_id(frame, "p1")["text"] == "Q&A\n\na < b"

    # raw_json=1: body_html is real HTML, so literal entities typed by the user stay as typed
    raw = page(
        comment(
            "a",
            "t3_p1",
            body="write &amp; for an ampersand",
            body_html='<div class="md"><p>write ...</p></div>',
        ),
        the_post=post(title="Q&amp;A", selftext="x", selftext_html='<div class="md">x</div>'),
    )
    frame = read_reddit_page(write(tmp_path, raw, "raw.json")).frame
    assert by_id(frame, "a")["text"] == "write &amp; for an ampersand"
    assert by_id(frame, "p1")["text"] == "Q&amp;A\n\nx"


def test_html_unescape_modes_without_html_field() -> None:
    def text(body: str, mode: Any) -> str:
        row = normalize_reddit_comment(
            {"id": "c", "parent_id": "t3_p", "body": body},
            path="f",
            line=1,
            rejects=Rejects(),
            html_unescape=mode,
        )
        assert row is not None
        return row["text"]

    # auto with no body_html (dumps): entity signs mean escaped
    assert text("&gt; quote &amp; more", "auto") == "> quote & more"
    assert text("AT&T and R&D, 5 > 3", "auto") == "AT&T and R&D, 5 > 3"
    assert text("&gt; quote", False) == "&gt; quote"
    assert text("&gt; quote", True) == "> quote"


def test_html_unescape_option_on_the_page(tmp_path: Path) -> None:
    document = page(comment("a", "t3_p1", body="a &amp; b", body_html='<div class="md">a &amp; b</div>'))
    path = write(tmp_path, document)
    assert by_id(read_reddit_page(path).frame, "a")["text"] == "a &amp; b"
    assert by_id(read_reddit_page(path, html_unescape=True).frame, "a")["text"] == "a & b"


# ---------------------------------------------------------------------------------------------------
# bad input


def test_wrong_types_are_rejected_with_file_record_and_field(tmp_path: Path) -> None:
    document = page(
        comment("a", "t3_p1", comment("b", "t1_a", comment("c", "t1_b")), score="abc"),
        comment("d", "t3_p1", created_utc="x"),
        comment("e", "t3_p1", edited=[1]),
        comment("f", "t3_p1", score="12", created_utc="1700000000"),
        {"kind": "t5", "data": {}},
        "not an object",
    )
    path = write(tmp_path, document)
    result = read_reddit_page(path)
    rejects = result.rejects.to_dicts()
    assert [(r["line"], r["field"]) for r in rejects] == [
        (2, "score"),
        (5, "created_utc"),
        (6, "edited"),
        (8, "kind"),
        (9, "kind"),
    ]
    assert all(r["file"] == str(path) for r in rejects)
    assert "comment a" in rejects[0]["reason"] and "'abc'" in rejects[0]["reason"]
    assert "comment d" in rejects[1]["reason"]
    frame = result.frame
    assert frame["comment_id"].to_list() == ["p1", "b", "c", "f"]
    # page order kept: positions skip the rejected records; the rejected comment's replies keep their depth
    assert frame["source_position"].to_list() == [0, 2, 3, 6]
    assert frame["source_reply_depth"].to_list() == [0, 2, 3, 1]
    assert by_id(frame, "f")["score"] == 12
    assert result.stats["records"] == 9 == result.rows_in == frame.height + result.rejects.height


def test_replies_of_a_rejected_comment_keep_their_depth_in_the_tree(tmp_path: Path) -> None:
    document = page(comment("a", "t3_p1", comment("b", "t1_a", comment("c", "t1_b")), score="abc"))
    frame = add_tree_columns(read_reddit_page(write(tmp_path, document)).frame)
    assert frame.select("comment_id", "reply_depth", "structure").rows() == [
        ("p1", 0, "tree"),
        ("b", 2, "orphan"),
        ("c", 3, "orphan"),
    ]


def test_strict_turns_the_first_rejection_into_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, page(comment("a", "t3_p1", score="abc")))
    with pytest.raises(LoadError) as info:
        read_reddit_page(path, strict=True)
    assert info.value.field == "score" and info.value.line == 2
    assert str(path) in str(info.value)


def test_malformed_replies_are_reported(tmp_path: Path) -> None:
    document = page(comment("a", "t3_p1", replies={"kind": "Listing", "data": "oops"}))
    result = read_reddit_page(write(tmp_path, document))
    assert result.frame["comment_id"].to_list() == ["p1", "a"]
    assert result.rejects["field"].to_list() == ["replies"]
    assert result.stats["records"] == result.rows_in == 3


def test_rejected_post_keeps_comments_and_thread_id(tmp_path: Path) -> None:
    document = page(comment("a", "t3_p1", link_id=None), the_post=post(score=1.5))
    result = read_reddit_page(write(tmp_path, document))
    assert result.rejects.to_dicts()[0]["field"] == "score"
    assert result.frame["comment_id"].to_list() == ["a"]
    assert by_id(result.frame, "a")["thread_id"] == "p1"


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('[\n  {"kind": "Listing",\n   "data": {"children": [}\n]', encoding="utf-8")
    with pytest.raises(LoadError) as info:
        read_reddit_page(path)
    assert info.value.line == 3 and "broken.json" in str(info.value) and "column" in str(info.value)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "empty file"),
        (b'{"kind": "Listing"}', "not a Reddit comment page"),
        (b"[1, 2]", "not a Reddit comment page"),
        (b'[{"kind": "Listing", "data": {"children": []}}]', "not a Reddit comment page"),
        (b'["\xff\xfe"]', "not valid UTF-8"),
    ],
)
def test_not_a_page_is_a_load_error(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "thing.json"
    path.write_bytes(content)
    with pytest.raises(LoadError, match=needle) as info:
        read_reddit_page(path)
    assert str(path) in str(info.value)


def test_missing_file_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no such file"):
        read_reddit_page(tmp_path / "nope.json")


def test_empty_comment_listing(tmp_path: Path) -> None:
    result = read_reddit_page(write(tmp_path, page()))
    assert result.frame["comment_id"].to_list() == ["p1"]
    assert dict(result.frame.schema) == {**SOURCE_SCHEMA, **REDDIT_EXTRA_SCHEMA}


# ---------------------------------------------------------------------------------------------------
# property: any JSON in any field gives a row or a reject, never a crash

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
FIELDS = ["id", "parent_id", "link_id", "body", "body_html", "author", "created_utc", "score", "edited"]
FIELDS += ["removed", "removed_by_category", "banned_by", "removal_reason", "subreddit", "distinguished"]
FIELDS += ["stickied", "title", "selftext", "selftext_html", "depth", "replies"]


@pytest.mark.slow
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(overrides=st.dictionaries(st.sampled_from(FIELDS), JSON_VALUES | st.text(), max_size=4))
def test_any_field_values_give_a_row_or_a_reject(tmp_path: Path, overrides: dict[str, Any]) -> None:
    for normalize, base in (
        (normalize_reddit_comment, comment("a", "t3_p1")),
        (normalize_reddit_post, post()),
    ):
        rejects = Rejects()
        row = normalize({**base["data"], **overrides}, path="f.json", line=7, rejects=rejects)
        assert (row is None) == (len(rejects.rows) == 1)
        if row is None:
            assert rejects.rows[0]["line"] == 7 and rejects.rows[0]["field"] in FIELDS
        else:
            rows_frame_check = conform(pl.DataFrame([row], schema=REDDIT_SCHEMA))
            assert rows_frame_check.height == 1
    document = page(
        comment("a", "t3_p1", comment("b", "t1_a", **overrides)), comment("c", "t3_p1", **overrides)
    )
    path = tmp_path / "page.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    result = read_reddit_page(path)
    assert result.stats["records"] == result.rows_in == result.frame.height + result.rejects.height
