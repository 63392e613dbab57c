"""Lemmy loader: hand-built fixtures in the 0.19 and 1.0 API shapes, every value checked by hand."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from toolkit.io import detect_format, load_source
from toolkit.io.base import LoadError
from toolkit.io.fields import FieldError
from toolkit.io.lemmy import LEMMY_EXTRA_SCHEMA, normalize_lemmy_view, parse_path, read_lemmy
from toolkit.schema import SOURCE_SCHEMA
from toolkit.threads import add_tree_columns

FIXTURES = Path(__file__).parent / "fixtures" / "lemmy"
V019 = FIXTURES / "get_comments_0.19.json"  # GetCommentsResponse, one post (1042), six comments
V10 = FIXTURES / "comments_1.0.ndjson"  # NDJSON of 1.0 CommentViews, two posts (2001, 2002), five comments


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def by_id(frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {row["comment_id"]: row for row in frame.iter_rows(named=True)}


def view(cid: int, path: str, post_id: int = 1, content: str = "hi", **comment: Any) -> dict[str, Any]:
    """A minimal 0.19 CommentView."""
    data = {
        "id": cid,
        "creator_id": 1,
        "post_id": post_id,
        "content": content,
        "removed": False,
        "deleted": False,
        "published": "2024-01-01T00:00:00Z",
        "path": path,
        "language_id": 0,
        "distinguished": False,
        "ap_id": f"https://x/comment/{cid}",
        "local": True,
    }
    data.update(comment)
    return {
        "comment": data,
        "creator": {"id": 1, "name": "u1"},
        "post": {
            "id": post_id,
            "name": f"post {post_id}",
            "body": None,
            "creator_id": 9,
            "removed": False,
            "deleted": False,
            "published": "2023-12-31T00:00:00Z",
        },
        "counts": {"comment_id": cid, "score": 1, "upvotes": 1, "downvotes": 0, "child_count": 0},
    }


# ---------------------------------------------------------------------------------------------------
# the 0.19 fixture


def test_019_rows_values_by_hand() -> None:
    result = read_lemmy(V019)
    frame = result.frame
    assert list(frame.columns[: len(SOURCE_SCHEMA)]) == list(SOURCE_SCHEMA)
    assert frame.columns[len(SOURCE_SCHEMA) :] == list(LEMMY_EXTRA_SCHEMA)
    assert frame.height == 7 and result.rejects.height == 0
    assert result.stats["records"] == 6 and result.stats["comments"] == 6 and result.stats["posts"] == 1
    assert frame["comment_id"].to_list() == ["1042", "5001", "5003", "5007", "5004", "5002", "5010"]
    assert frame["source_position"].to_list() == list(range(7))
    rows = by_id(frame)

    post = rows["1042"]
    assert post["is_post"] and post["parent_id"] is None and post["thread_id"] == "1042"
    assert post["text"] == "City council approves new bike lanes\n\nDiscussion thread. Be civil."
    assert post["author"] is None and post["creator_id"] == 301 and post["score"] is None
    assert post["created_at"] == utc(2024, 3, 1, 9, 0, 0) and post["community"] == "news"
    assert post["platform"] == "lemmy" and post["source_reply_depth"] == 0

    top = rows["5001"]
    assert (top["parent_id"], top["author"], top["score"], top["upvotes"], top["downvotes"]) == (
        "1042",
        "alice",
        12,
        13,
        1,
    )
    assert top["child_count"] == 3 and top["language_id"] == 37 and top["distinguished"] is False
    assert top["created_at"] == utc(2024, 3, 1, 9, 12, 30, 250000) and top["edited_at"] is None
    assert top["ap_id"] == "https://lemmy.example/comment/5001" and top["source_line"] == 1

    reply = rows["5003"]
    assert reply["parent_id"] == "5001" and reply["score"] == -2 and reply["source_reply_depth"] == 2
    assert reply["edited_at"] == utc(2024, 3, 1, 9, 25)

    removed = rows["5007"]  # removed by a moderator, seen as a non-admin: empty content
    assert removed["removed"] and not removed["deleted"] and removed["text"] is None
    assert (
        removed["parent_id"] == "5003" and removed["author"] == "carol" and removed["source_reply_depth"] == 3
    )

    assert rows["5004"]["distinguished"] is True and rows["5004"]["author"] == "newsmod"

    deleted = rows["5002"]  # deleted by its author
    assert deleted["deleted"] and not deleted["removed"] and deleted["text"] is None
    assert deleted["parent_id"] == "1042"

    orphan = rows["5010"]  # its parent 5009 was not fetched
    assert orphan["parent_id"] == "5009" and orphan["source_reply_depth"] == 2 and orphan["language_id"] == 0


def test_019_tree_columns() -> None:
    tree = by_id(add_tree_columns(read_lemmy(V019).frame))
    depth = {cid: row["reply_depth"] for cid, row in tree.items()}
    assert depth == {"1042": 0, "5001": 1, "5003": 2, "5007": 3, "5004": 2, "5002": 1, "5010": 2}
    structure = {cid: row["structure"] for cid, row in tree.items()}
    assert structure["5010"] == "orphan" and all(
        structure[c] == "tree" for c in ("1042", "5001", "5003", "5007", "5004", "5002")
    )
    assert tree["5001"]["n_replies"] == 2 and tree["5001"]["subtree_size"] == 4
    assert tree["1042"]["n_replies"] == 2 and tree["1042"]["subtree_size"] == 6
    assert tree["5007"]["root_id"] == "5001" and tree["5003"]["parent_removed"] is False


# ---------------------------------------------------------------------------------------------------
# the 1.0 fixture


def test_10_rows_values_by_hand() -> None:
    result = read_lemmy(V10)
    frame = result.frame
    assert result.rejects.height == 0 and result.stats["records"] == 5 and result.stats["posts"] == 2
    assert frame["comment_id"].to_list() == ["2001", "9101", "9102", "9103", "9104", "2002", "9201"]
    rows = by_id(frame)

    link_post = rows["2001"]  # a link post: no body, counts inside the post (1.0)
    assert link_post["text"] == "New study on sleep and memory" and link_post["score"] == 40
    assert (link_post["upvotes"], link_post["downvotes"], link_post["child_count"]) == (42, 2, 4)
    assert link_post["created_at"] == utc(2025, 1, 10, 8) and link_post["community"] == "science"

    removed_post = rows["2002"]  # removed post with an empty body: the title stays as the text
    assert removed_post["removed"] and removed_post["text"] == "Vaccines cause [citation needed]"
    assert removed_post["created_at"] == utc(2025, 1, 11, 18, 30, 0, 500000) and removed_post["score"] == -3

    c = rows["9101"]  # score etc. inside Comment, published_at
    assert (c["score"], c["upvotes"], c["downvotes"], c["child_count"]) == (8, 9, 1, 2)
    assert c["created_at"] == utc(2025, 1, 10, 8, 30) and c["parent_id"] == "2001" and c["author"] == "erin"

    admin_view = rows["9102"]  # removed, but an admin's export keeps the content: keep the text
    assert admin_view["removed"] and admin_view["text"] == "Only an idiot would trust a study like that."
    assert admin_view["created_at"] == utc(2025, 1, 10, 8, 41, 10, 123456)

    gone = rows["9103"]  # account deleted: Lemmy overwrote the content
    assert gone["deleted"] and gone["text"] is None and gone["parent_id"] == "9102"

    assert rows["9104"]["edited_at"] == utc(2025, 1, 10, 9, 12)
    assert rows["9201"]["thread_id"] == "2002" and rows["9201"]["parent_id"] == "2002"

    tree = by_id(add_tree_columns(frame))
    assert [tree[c]["reply_depth"] for c in ("2001", "9101", "9102", "9103", "9104", "2002", "9201")] == [
        0,
        1,
        2,
        3,
        1,
        0,
        1,
    ]
    assert tree["9103"]["parent_removed"] is True and tree["9101"]["parent_removed"] is False
    assert set(tree[c]["structure"] for c in tree) == {"tree"}


def test_detection_and_load_source() -> None:
    assert detect_format(V019) == "lemmy" and detect_format(V10) == "lemmy"
    assert load_source(V10).frame.equals(read_lemmy(V10).frame)


# ---------------------------------------------------------------------------------------------------
# containers


def test_list_of_responses_and_single_views(tmp_path: Path) -> None:
    pages = [{"comments": [view(11, "0.11"), view(12, "0.11.12")]}, {"comments": [view(13, "0.13")]}]
    listed = tmp_path / "pages.json"
    listed.write_text(json.dumps(pages))
    result = read_lemmy(listed)
    assert result.stats["records"] == 3 and result.frame["comment_id"].to_list() == ["1", "11", "12", "13"]
    assert result.frame["source_line"].to_list() == [1, 1, 2, 3]  # record numbers across the pages

    bare = tmp_path / "views.json"
    bare.write_text(json.dumps([view(11, "0.11"), view(12, "0.11.12")]))
    assert read_lemmy(bare).frame["comment_id"].to_list() == ["1", "11", "12"]

    paged = tmp_path / "paged.json"  # 1.0 paged responses call the list "items"
    paged.write_text(json.dumps({"items": [view(11, "0.11")], "next_page": "abc"}))
    assert read_lemmy(paged).frame["comment_id"].to_list() == ["1", "11"]

    ndjson = tmp_path / "responses.json"  # NDJSON of whole responses, detected from the content
    ndjson.write_text("\n".join(json.dumps(page) for page in pages) + "\n")
    result = read_lemmy(ndjson)
    assert result.frame["comment_id"].to_list() == ["1", "11", "12", "13"]
    assert result.frame["source_line"].to_list() == [1, 1, 1, 2]


def test_one_post_row_per_post_and_posts_missing(tmp_path: Path) -> None:
    views = [view(11, "0.11", post_id=1), view(21, "0.21", post_id=2), view(12, "0.12", post_id=1)]
    del views[1]["post"]
    file = tmp_path / "x.jsonl"
    file.write_text("\n".join(json.dumps(v) for v in views))
    result = read_lemmy(file)
    assert result.frame.filter(pl.col("is_post"))["comment_id"].to_list() == ["1"]
    assert result.stats["posts_missing"] == 1
    tree = by_id(add_tree_columns(result.frame))
    assert tree["21"]["reply_depth"] == 1 and tree["21"]["structure"] == "tree"  # parent is the thread's post


def test_bad_records_are_rejected_with_line_and_field(tmp_path: Path) -> None:
    lines = [
        json.dumps(view(11, "0.11")),
        "{not json",
        json.dumps(view(12, "0.99")),  # path does not end with the id
        json.dumps(view(13, "0.11.13", published=12.5)),  # epoch number: accepted
        json.dumps(view(14, None)),  # no path
        json.dumps({"comment": "nope"}),
        json.dumps(view(15, "0.15", removed="yes")),
        json.dumps([1, 2]),
        json.dumps(view(16, "0.x.16")),
    ]
    file = tmp_path / "bad.ndjson"
    file.write_text("\n".join(lines) + "\n\n")
    result = read_lemmy(file)
    assert result.stats["records"] == 9
    assert result.stats["comments"] + result.rejects.height == 9
    rejects = {row["line"]: row for row in result.rejects.iter_rows(named=True)}
    assert sorted(rejects) == [2, 3, 5, 6, 7, 8, 9]
    assert rejects[2]["reason"].startswith("malformed JSON")
    assert rejects[3]["field"] == "comment.path" and "does not end with" in rejects[3]["reason"]
    assert rejects[5]["field"] == "comment.path" and "missing path" in rejects[5]["reason"]
    assert rejects[6]["field"] == "comment"
    assert rejects[7]["field"] == "comment.removed" and rejects[7]["reason"].startswith("comment 15:")
    assert rejects[9]["field"] == "comment.path"
    assert all(r["file"] == str(file) for r in rejects.values())
    kept = by_id(result.frame)
    assert kept["13"]["created_at"] == utc(1970, 1, 1, 0, 0, 12, 500000)

    with pytest.raises(LoadError, match=r"bad.ndjson, line 2: malformed JSON"):
        read_lemmy(file, strict=True)


def test_duplicates_keep_the_last_version(tmp_path: Path) -> None:
    first, second = view(11, "0.11", content="first"), view(11, "0.11", content="edited")
    file = tmp_path / "dupes.jsonl"
    file.write_text("\n".join(json.dumps(v) for v in (first, view(12, "0.12"), second)))
    result = read_lemmy(file)
    assert result.stats["duplicates"] == 1
    assert by_id(result.frame)["11"]["text"] == "edited"
    assert result.rejects.rows() == [
        (str(file), 1, "id", "comment 11: duplicate, superseded by the newer version at line 3")
    ]
    assert result.stats["records"] == result.stats["comments"] + result.rejects.height


def test_comment_id_equal_to_post_id(tmp_path: Path) -> None:
    file = tmp_path / "clash.json"
    file.write_text(json.dumps({"comments": [view(1, "0.1", post_id=1), view(2, "0.1.2", post_id=1)]}))
    result = read_lemmy(file)
    assert result.rejects["reason"].to_list()[0].startswith("comment 1: comment id 1 equals its post's id")
    fixed = read_lemmy(file, comment_prefix="c")
    assert fixed.rejects.height == 0
    assert by_id(fixed.frame)["c2"]["parent_id"] == "c1" and by_id(fixed.frame)["c1"]["parent_id"] == "1"
    assert add_tree_columns(fixed.frame)["reply_depth"].to_list() == [0, 1, 2]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("export.json", b"", "empty file"),
        ("export.jsonl", b"  \n\n", "empty file"),
        ("export.json", b'{"other": []}', "not a Lemmy response"),
        ("export.json", b"[1, 2", "malformed JSON"),
        ("export.json", b"garbage\nmore garbage\n", "line 1: malformed JSON"),
        ("export.json", b"\xff\xfe{}", "not valid UTF-8"),
        ("export.jsonl", b"garbage\nmore garbage\n", "line 1: not JSON lines"),
    ],
)
def test_whole_file_problems_are_load_errors(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    file = tmp_path / name
    file.write_bytes(content)
    with pytest.raises(LoadError, match=message) as info:
        read_lemmy(file)
    assert str(file) in str(info.value)


def test_parse_path() -> None:
    assert parse_path("0.5", "5", "9") == ("9", 1)
    assert parse_path("0.5.6.7", "7", "9") == ("6", 3)
    for bad in ("5", "0", "1.5", "0.5.", "0..5", "0.a.5", 5):
        with pytest.raises(FieldError):
            parse_path(bad, "5", "9")


def test_normalize_keeps_the_comment_when_the_embedded_post_is_malformed() -> None:
    data = view(11, "0.11")
    data["post"]["name"] = 42
    row, post = normalize_lemmy_view(data)
    assert row["comment_id"] == "11" and post is None
