"""Lemmy threads from many API responses: pages that overlap, orphans, deletions, removals, the modlog, every
API version's shape, folders, globs and lists; and an archive fetched from the fake Lemmy, loaded whole.
Every expected value below is worked out by hand from the responses written in the test."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from fake_lemmy import FAST, POST

import toolkit
from toolkit.fetch.lemmy import fetch_lemmy
from toolkit.io import detect_format, load_source
from toolkit.io.base import LoadError

REPO = Path(__file__).resolve().parents[1]
UTC = timezone.utc
COMMUNITY = {"id": 3, "name": "news", "actor_id": "https://lemmy.ml/c/news"}
POST_OBJECT = {"id": 1, "name": "Title", "body": "Body", "creator_id": 9, "removed": False, "deleted": False,
               "published": "2024-01-01T00:00:00Z", "ap_id": "https://lemmy.world/post/1"}


def view(cid: int, path: str, content: str = "hi", **comment: Any) -> dict[str, Any]:
    """A 0.19 CommentView of post 1 written on lemmy.world (unless ``ap_id`` says otherwise)."""
    data = {"id": cid, "creator_id": 2, "post_id": 1, "content": content, "removed": False, "deleted": False,
            "published": f"2024-01-01T00:{cid % 60:02d}:00Z", "path": path,
            "ap_id": f"https://lemmy.world/comment/{cid}", **comment}
    return {"comment": data, "creator": {"id": 2, "name": "u2"}, "post": POST_OBJECT, "community": COMMUNITY,
            "counts": {"score": cid, "upvotes": cid, "downvotes": 0, "child_count": 0}}


EDITED = view(13, "0.11.12.13", "edited", updated="2024-01-02T00:00:00Z")
PAGES = [  # pages 1 and 2 both hold 13 (page 1 the older version); pages 1 and 3 both hold 12 (the same)
    [view(11, "0.11"), view(12, "0.11.12"), view(13, "0.11.12.13", "first")],
    [EDITED, view(14, "0.14"), view(15, "0.99.15")],  # 99 is on no page: 15 and its reply 16 are orphans
    [view(16, "0.99.15.16"), view(17, "0.17", "I take it back", deleted=True),
     view(18, "0.14.18", "", removed=True), view(19, "0.19", "admins see this", removed=True), view(12, "0.11.12")],
    [],
]
POST_RESPONSE = {"post_view": {"post": POST_OBJECT, "creator": {"id": 9, "name": "op"}, "community": COMMUNITY,
                               "counts": {"score": 40, "upvotes": 44, "downvotes": 4, "comments": 9}},
                 "moderators": [], "cross_posts": []}


def removal(event: int, cid: int, removed: bool, when: str, reason: str | None = None, content: str = "") -> dict:
    """A 0.19 modlog entry removing (or restoring) comment ``cid``."""
    return {"mod_remove_comment": {"id": event, "mod_person_id": 5, "comment_id": cid, "reason": reason,
                                   "removed": removed, "when_": when},
            "moderator": {"id": 5, "name": "newsmod"}, "comment": {"id": cid, "post_id": 1, "content": content},
            "community": COMMUNITY}


MODLOG = {"removed_comments": [
    removal(1, 18, True, "2024-01-03T00:00:00Z", "Rule 1: be civil", "you absolute clown"),
    removal(2, 19, True, "2024-01-03T00:00:00Z", "spam"),
    removal(3, 19, False, "2024-01-04T00:00:00Z", "appeal granted"),  # 19 restored
    removal(4, 17, True, "2024-01-03T00:00:00Z", "rude", "I take it back"),  # deleted by its author anyway
    removal(5, 777, True, "2024-01-03T00:00:00Z", "spam", "on no page"),
], "removed_posts": [], "banned_from_community": []}


def write_archive(folder: Path, modlog: bool = True) -> Path:
    """The responses as ``toolkit-fetch lemmy`` names them (and an index), in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, page in enumerate(PAGES, start=1):
        (folder / f"comments-1-{number:04d}.json").write_text(json.dumps({"comments": page}))
    (folder / "post-1.json").write_text(json.dumps(POST_RESPONSE))
    if modlog:
        (folder / "modlog-remove_comment-0001.json").write_text(json.dumps(MODLOG))
    (folder / "index.jsonl").write_text(json.dumps({"url": "https://lemmy.world/api/v3/post?id=1",
                                                    "file": "post-1.json"}) + "\n")
    return folder


def rows(frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {row["comment_id"]: row for row in frame.iter_rows(named=True)}


def test_pages_of_one_thread_load_as_one_thread(tmp_path: Path) -> None:
    folder = write_archive(tmp_path / "archive", modlog=False)
    assert detect_format(folder) == "lemmy"
    result = load_source(folder)
    frame = result.frame
    # 11 comment records, 9 distinct comments (13 and 12 repeat), one post row from the post response
    assert (result.stats["records"], result.stats["comments"], result.stats["duplicates"]) == (11, 9, 2)
    assert (result.stats["posts"], result.stats["post_views"], result.stats["posts_missing"]) == (1, 1, 0)
    assert frame["comment_id"].to_list() == ["1", "11", "13", "14", "15", "16", "17", "18", "19", "12"]
    assert result.rejects.select("file", "line").rows() == [
        (str(folder / "comments-1-0001.json"), 2), (str(folder / "comments-1-0001.json"), 3)]
    assert "comment 13: duplicate, superseded by the newer version at line 1 of comments-1-0002.json" in \
        result.rejects["reason"].to_list()
    by_id = rows(frame)
    assert by_id["13"]["text"] == "edited" and by_id["12"]["source_file"] == "comments-1-0003.json"
    post = by_id["1"]
    assert (post["author"], post["text"], post["score"], post["child_count"]) == ("op", "Title\n\nBody", 40, 9)
    assert (post["instance"], post["community"], post["community_instance"]) == ("lemmy.world", "news", "lemmy.ml")
    assert (by_id["17"]["deleted"], by_id["17"]["text"]) == (True, None)  # the author withdrew it
    assert (by_id["18"]["removed"], by_id["18"]["text"]) == (True, None)  # a non-admin's view: no text
    assert (by_id["19"]["removed"], by_id["19"]["text"]) == (True, "admins see this")  # an admin's view
    assert by_id["11"]["created_at"] == datetime(2024, 1, 1, 0, 11, tzinfo=UTC)

    with pytest.warns(UserWarning, match="2 of 12 rows rejected"):  # the two repeats are rejects
        tree = rows(toolkit.load(folder))
    depth = {cid: (row["reply_depth"], row["structure"]) for cid, row in tree.items()}
    assert depth == {"1": (0, "tree"), "11": (1, "tree"), "12": (2, "tree"), "13": (3, "tree"), "14": (1, "tree"),
                     "15": (2, "orphan"), "16": (3, "orphan"), "17": (1, "tree"), "18": (2, "tree"),
                     "19": (1, "tree")}
    assert (tree["1"]["n_replies"], tree["14"]["n_replies"], tree["11"]["subtree_size"]) == (4, 1, 3)


def test_the_modlog_of_the_archive_is_applied(tmp_path: Path) -> None:
    result = load_source(write_archive(tmp_path / "archive"))
    by_id = rows(result.frame)
    assert (by_id["18"]["text"], by_id["18"]["text_source"]) == ("you absolute clown", "modlog")
    assert (by_id["18"]["removal_reason"], by_id["18"]["removed_by"], by_id["18"]["removal_source"]) == (
        "Rule 1: be civil", "newsmod", "modlog")
    assert by_id["18"]["removed_at"] == datetime(2024, 1, 3, tzinfo=UTC)
    assert (by_id["19"]["removed"], by_id["19"]["removal_reason"]) == (False, None)  # removed, then restored
    assert (by_id["17"]["removed"], by_id["17"]["deleted"], by_id["17"]["text"]) == (True, True, None)
    assert by_id["11"]["removal_reason"] is None and by_id["11"]["text_source"] is None
    stats = result.stats
    assert (stats["modlog_events"], stats["modlog_events_matched"], stats["modlog_events_unmatched"]) == (5, 4, 1)
    assert (stats["modlog_rows_restored"], stats["modlog_text_from_modlog"]) == (1, 1)
    assert str(tmp_path / "archive" / "modlog-remove_comment-0001.json") in map(str, result.files)


def test_a_modlog_file_given_apart(tmp_path: Path) -> None:
    folder = write_archive(tmp_path / "archive", modlog=False)
    (tmp_path / "log.json").write_text(json.dumps(MODLOG))
    frame = load_source(folder, modlog=str(tmp_path / "log.json")).frame
    assert rows(frame)["18"]["removal_reason"] == "Rule 1: be civil"


def test_glob_and_list_of_pages(tmp_path: Path) -> None:
    folder = write_archive(tmp_path / "archive", modlog=False)
    by_glob = load_source(str(folder / "comments-1-*.json"))
    assert by_glob.stats["files"] == 4 and by_glob.frame.height == 10  # the post row embedded in the comments
    assert rows(by_glob.frame)["1"]["author"] is None  # no post response among the files: author unknown
    by_list = load_source([folder / "comments-1-0002.json", folder / "comments-1-0001.json"])
    assert by_list.frame["comment_id"].to_list() == ["1", "13", "14", "15", "11", "12"]
    assert rows(by_list.frame)["13"]["text"] == "edited"  # newer by `updated`, though on the earlier file
    ndjson = tmp_path / "pages.ndjson"  # NDJSON of whole pages, the last one empty
    ndjson.write_text("".join(json.dumps({"comments": page}) + "\n" for page in PAGES))
    assert (load_source(ndjson).frame.height, load_source(ndjson).rejects.height) == (10, 2)
    with pytest.raises(LoadError, match=r"no file matches this pattern"):
        load_source(str(folder / "nothing-*.json"))


def test_files_of_different_formats_are_refused(tmp_path: Path) -> None:
    folder = write_archive(tmp_path / "archive", modlog=False)
    text = shutil.copy(REPO / "data" / "seed_thread.txt", tmp_path / "thread.txt")
    with pytest.raises(LoadError, match=r"different formats \(lemmy: comments-1-0001.json; text: thread.txt\)"):
        load_source([folder / "comments-1-0001.json", text])


def test_other_formats_load_file_by_file_and_merge(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Post A\nfirst reply\nsecond reply\n")
    (tmp_path / "b.txt").write_text("Post B\nthird reply\n")
    result = load_source(str(tmp_path / "*.txt"), format="text", post_lines=1)
    assert result.frame.height == 3 + 2 and result.frame["source_position"].to_list() == [0, 1, 2, 3, 4]
    assert result.frame["thread_id"].to_list() == ["a", "a", "a", "b", "b"]
    assert result.frame["text"].to_list()[3:] == ["Post B", "third reply"]


def test_every_api_version_shape(tmp_path: Path) -> None:
    v017 = view(31, "0.31", updated=None, distinguished=None)  # explicit nulls
    v018 = view(32, "0.31.32", published="2023-07-01T12:00:00.123456")  # no zone: UTC
    v019 = view(33, "0.33", published="2024-01-01T02:00:00+02:00")
    v10 = {"comment": {"id": 34, "creator_id": 2, "post_id": 1, "content": "new", "removed": False,
                       "deleted": False, "published_at": "2025-01-01T00:00:00Z", "path": "0.33.34",
                       "ap_id": "https://beehaw.org/comment/34", "score": 5, "upvotes": 6, "downvotes": 1,
                       "child_count": 0},
           "post": {"id": 1, "name": "Title", "published_at": "2024-01-01T00:00:00Z"},
           "community": {"id": 3, "name": "news", "ap_id": "https://lemmy.ml/c/news"}}
    files = []
    for name, page in (("p017", v017), ("p018", v018), ("p019", v019), ("p10", v10)):
        files.append(tmp_path / f"{name}.json")
        files[-1].write_text(json.dumps({"comments": [page]} if name != "p10" else {"items": [page]}))
    by_id = rows(load_source(files).frame)
    assert by_id["32"]["created_at"] == datetime(2023, 7, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert by_id["33"]["created_at"] == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    assert (by_id["34"]["score"], by_id["34"]["instance"], by_id["34"]["community_instance"]) == (
        5, "beehaw.org", "lemmy.ml")
    assert (by_id["31"]["edited_at"], by_id["31"]["distinguished"]) == (None, None)


def test_person_details_search_and_post_lists(tmp_path: Path) -> None:
    post_view = {"post": {**POST_OBJECT, "id": 2, "name": "Other post"}, "creator": {"id": 9, "name": "op"},
                 "community": COMMUNITY, "counts": {"score": 3, "comments": 0}}
    person = {"person_view": {"person": {"id": 2, "name": "u2"}}, "comments": [view(41, "0.41")],
              "posts": [post_view], "moderates": []}
    search = {"type_": "All", "comments": [view(42, "0.41.42")], "posts": [], "communities": [], "users": []}
    (tmp_path / "user-0001.json").write_text(json.dumps(person))
    (tmp_path / "search.json").write_text(json.dumps(search))
    (tmp_path / "community.json").write_text(json.dumps({"community_view": {"community": COMMUNITY}}))
    result = load_source(tmp_path)
    assert sorted(result.frame["comment_id"].to_list()) == ["1", "2", "41", "42"]
    assert (result.stats["records"], result.stats["post_views"]) == (2, 1)
    assert rows(result.frame)["2"]["text"] == "Other post\n\nBody"
    post_view["post"]["deleted"] = True  # withdrawn by its author: no text, like a deleted comment
    (tmp_path / "user-0001.json").write_text(json.dumps(person))
    assert rows(load_source(tmp_path).frame)["2"]["text"] is None


def test_an_archive_fetched_from_the_fake_lemmy_loads_whole(lemmy, tmp_path: Path) -> None:
    fetch_lemmy(f"{lemmy.base}/post/{POST}", tmp_path, FAST)  # three overlapping-free pages, modlog, index
    result = load_source(tmp_path)
    frame = result.frame
    assert (result.stats["comments"], result.stats["posts"], result.rejects.height) == (7, 1, 0)
    by_id = rows(frame)
    assert (by_id["5002"]["removed"], by_id["5002"]["removal_reason"], by_id["5002"]["text"]) == (
        True, "rude", "comment 2")
    assert result.stats["modlog_events_matched"] == 1
