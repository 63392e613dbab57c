"""Lemmy modlog: the 0.19, 1.0 pre-release and 1.0 shapes -> events; apply_modlog on a comment frame.

Golden values are read off the fixtures by hand (tests/fixtures/lemmy_api/): the 0.19 modlog lists newest
first, as Lemmy does, and holds a removal of comment 5003 that was reverted an hour later.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import pytest

from toolkit.errors import LoadError
from toolkit.io.lemmy import read_lemmy
from toolkit.io.lemmy_modlog import MODLOG_COLUMNS, MODLOG_SCHEMA, apply_modlog, read_modlog

API = Path(__file__).parent / "fixtures" / "lemmy_api"
PAGES = Path(__file__).parent / "fixtures" / "lemmy"
UTC = timezone.utc


def _events(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame([{"action": "remove_comment", **row} for row in rows], schema=MODLOG_SCHEMA)


def _row(frame: pl.DataFrame, comment_id: str) -> dict:
    return frame.filter(pl.col("comment_id") == comment_id).row(0, named=True)


def test_read_modlog_019_events():
    result = read_modlog(API / "modlog_0.19.json")
    got = result.frame.select("event_id", "action", "comment_id", "post_id", "moderator", "removed", "reason").rows()
    assert got == [
        ("401", "remove_post", None, "1042", "newsmod", True, "duplicate"),
        ("305", "remove_comment", "6000", "1077", None, True, "spam"),  # moderator name hidden
        ("304", "remove_comment", "5002", "1042", "newsmod", True, "spam"),
        ("303", "remove_comment", "5003", "1042", "newsmod", False, "on reflection, fair comment"),
        ("302", "remove_comment", "5003", "1042", "newsmod", True, "heated"),
        ("301", "remove_comment", "5007", "1042", "newsmod", True, "Rule 2: no personal attacks"),
        ("501", "ban_from_community", None, None, "newsmod", True, "repeated attacks"),
    ]
    assert result.frame.schema == pl.Schema(MODLOG_SCHEMA)
    ban = result.frame.row(6, named=True)
    assert (ban["target_person"], ban["expires_at"]) == ("carol", datetime(2024, 6, 1, tzinfo=UTC))
    assert _row(result.frame, "5007")["content"] == "You are an idiot and so is your mayor."
    assert _row(result.frame, "5007")["when"] == datetime(2024, 5, 2, 10, tzinfo=UTC)
    assert set(result.frame["instance"]) == {"lemmy.example"}
    assert set(result.frame["community"]) == {"news"}
    # 8 entries: 7 kept, the post lock skipped
    assert result.stats == {"files": 1, "entries": 8, "skipped": 1, "events": 7, "duplicates_dropped": 0,
                            "rows_rejected": 0}


def test_read_modlog_10_events():
    result = read_modlog(API / "modlog_1.0.json")
    got = result.frame.select("event_id", "action", "comment_id", "post_id", "moderator", "removed").rows()
    assert got == [
        ("906", "remove_comment", "9555", "2003", "sciencemod", True),
        ("904", "ban_from_community", None, None, "sciencemod", True),
        ("902", "remove_comment", "9104", "2001", "sciencemod", False),  # is_revert: a restore
        ("903", "remove_post", None, "2002", "sciencemod", True),
        ("901", "remove_comment", "9104", "2001", "sciencemod", True),
        ("900", "remove_comment", "9102", "2001", None, True),
    ]
    assert _row(result.frame, "9102")["target_person"] == "frank"
    assert result.stats["skipped"] == 1  # the post lock


def test_read_modlog_10_prerelease_tagged_views(tmp_path):
    """1.0 pre-releases: ``items`` of 0.19-style views tagged with ``type_``, times in ``published_at``."""
    page = {"items": [
        {"type_": "mod_remove_comment",
         "mod_remove_comment": {"id": 7, "mod_person_id": 1, "comment_id": 31, "removed": True,
                                "reason": "rude", "published_at": "2025-03-01T10:00:00Z"},
         "moderator": {"name": "m"}, "other_person": {"name": "x"},
         "comment": {"id": 31, "post_id": 3, "content": "rude words"},
         "community": {"name": "c", "ap_id": "https://other.example/c/c"}},
        {"type_": "mod_feature_post", "mod_feature_post": {"id": 8}},
    ], "next_page": None}
    (tmp_path / "page.json").write_text(json.dumps(page))
    result = read_modlog(tmp_path / "page.json", instance="fallback.example")
    row = result.frame.row(0, named=True)
    assert (row["comment_id"], row["post_id"], row["reason"], row["target_person"], row["content"]) == (
        "31", "3", "rude", "x", "rude words")
    assert row["when"] == datetime(2025, 3, 1, 10, tzinfo=UTC)
    assert row["instance"] == "other.example"
    assert (result.frame.height, result.stats["skipped"]) == (1, 1)


def test_apply_modlog_019_removed_restored_deleted_unmatched():
    comments = read_lemmy(PAGES / "get_comments_0.19.json").frame
    events = read_modlog(API / "modlog_0.19.json").frame
    frame, stats = apply_modlog(comments, events)
    assert frame.height == comments.height
    assert frame["comment_id"].to_list() == comments["comment_id"].to_list()
    columns = ["removed", "deleted", "text", "text_source", "removal_reason", "removed_by", "removal_source"]
    # 5007: removed by the mod, text null on the page -> the modlog's copy
    assert [_row(frame, "5007")[c] for c in columns] == [
        True, False, "You are an idiot and so is your mayor.", "modlog", "Rule 2: no personal attacks",
        "newsmod", "modlog"]
    assert _row(frame, "5007")["removed_at"] == datetime(2024, 5, 2, 10, tzinfo=UTC)
    # 5003: removed at 11:00, restored at 12:00 (listed first, newest first) -> not removed, no reason
    assert [_row(frame, "5003")[c] for c in columns] == [
        False, False, "Safer for you, slower for everyone else.", None, None, None, None]
    # 5002: deleted by its author -> stays text-null, though removed with a copy of the text
    assert [_row(frame, "5002")[c] for c in columns] == [True, True, None, None, "spam", "newsmod", "modlog"]
    # the post's row: a post removal applies to it (and never to a comment with the same id)
    assert [_row(frame, "1042")[c] for c in ("removed", "removal_reason", "text_source")] == [
        True, "duplicate", None]
    # untouched rows keep their values, the new columns null
    assert [_row(frame, "5001")[c] for c in columns] == [
        False, False, "Finally! This will make my commute so much safer.", None, None, None, None]
    assert stats == {
        "events": 7, "bans": 1, "events_matched": 5, "events_unmatched": 1, "targets_unmatched": 1,
        "rows_removed": 3, "rows_restored": 1, "newly_removed": 2, "no_longer_removed": 0,
        "text_from_modlog": 1, "text_withheld_deleted": 1,
    }
    assert {name: frame.schema[name] for name in MODLOG_COLUMNS} == MODLOG_COLUMNS


def test_apply_modlog_10_revert():
    comments = read_lemmy(PAGES / "comments_1.0.ndjson").frame
    frame, stats = apply_modlog(comments, read_modlog(API / "modlog_1.0.json").frame)
    assert [_row(frame, "9104")[c] for c in ("removed", "removal_reason", "removal_source")] == [False, None, None]
    assert [_row(frame, "9102")[c] for c in ("removed", "removal_reason", "removed_by")] == [
        True, "Rule 1: civility", None]
    assert [_row(frame, "2002")[c] for c in ("removed", "removal_reason")] == [True, "misinformation"]
    assert (stats["events_unmatched"], stats["rows_removed"], stats["rows_restored"]) == (1, 2, 1)


def test_latest_event_wins_whatever_the_order():
    comments = pl.DataFrame({"comment_id": ["1", "2"], "is_post": [False, False], "text": [None, None],
                             "removed": [False, True], "deleted": [False, False]})
    t = [datetime(2024, 1, 1, h, tzinfo=UTC) for h in range(4)]
    events = _events(
        {"event_id": "13", "comment_id": "1", "when": t[3], "removed": True, "reason": "again", "content": "b"},
        {"event_id": "11", "comment_id": "1", "when": t[1], "removed": True, "reason": "first", "content": "a"},
        {"event_id": "12", "comment_id": "1", "when": t[2], "removed": False},
        {"event_id": "20", "comment_id": "2", "when": t[0], "removed": True, "reason": "x"},
        {"event_id": "21", "comment_id": "2", "when": t[0], "removed": False},  # same time: the later id wins
    )
    frame, stats = apply_modlog(comments, events)
    assert frame.select("comment_id", "removed", "removal_reason", "text").rows() == [
        ("1", True, "again", "b"), ("2", False, None, None)]
    assert (stats["newly_removed"], stats["no_longer_removed"]) == (1, 1)


def test_restore_keeps_earlier_copy_out_and_other_sources_in():
    """A restored comment gets no modlog text; rows without events keep an earlier removal_source."""
    comments = pl.DataFrame({"comment_id": ["1", "2"], "is_post": [False, False], "text": [None, None],
                             "removed": [True, True], "deleted": [False, False],
                             "removal_source": ["flag", "flag"]})
    events = _events(
        {"event_id": "1", "comment_id": "1", "when": datetime(2024, 1, 1, tzinfo=UTC), "removed": True,
         "content": "text"},
        {"event_id": "2", "comment_id": "1", "when": datetime(2024, 1, 2, tzinfo=UTC), "removed": False},
    )
    frame, _ = apply_modlog(comments, events)
    assert frame.select("removed", "text", "text_source", "removal_source").rows() == [
        (False, None, None, None), (True, None, None, "flag")]


def test_apply_modlog_without_events_adds_null_columns():
    comments = read_lemmy(PAGES / "get_comments_0.19.json").frame
    frame, stats = apply_modlog(comments.drop(list(MODLOG_COLUMNS)), pl.DataFrame(schema=MODLOG_SCHEMA))
    assert frame.equals(comments)
    assert all(frame[name].null_count() == frame.height for name in MODLOG_COLUMNS)
    assert (stats["events"], stats["events_unmatched"], stats["rows_removed"]) == (0, 0, 0)


def test_comment_prefix_matches_the_loader(tmp_path):
    comments = read_lemmy(PAGES / "get_comments_0.19.json", comment_prefix="c").frame
    events = read_modlog(API / "modlog_0.19.json", comment_prefix="c").frame
    assert _row(events, "c5007")["post_id"] == "1042"
    frame, stats = apply_modlog(comments, events)
    assert _row(frame, "c5007")["text_source"] == "modlog"
    assert _row(frame, "1042")["removal_reason"] == "duplicate"
    assert stats["events_matched"] == 5


def test_archive_folder_pages_overlap_once(tmp_path):
    document = json.loads((API / "modlog_1.0.json").read_text())
    (tmp_path / "modlog-remove_comment-0001.json").write_text(json.dumps({"items": document["items"][:4]}))
    (tmp_path / "modlog-remove_comment-0002.json").write_text(json.dumps({"items": document["items"][3:]}))
    (tmp_path / "post-2001.json").write_text("{}")  # not a modlog file: not read
    result = read_modlog(tmp_path)
    assert result.stats["duplicates_dropped"] == 1  # entry 902 was on both pages
    assert result.frame["event_id"].to_list() == ["906", "904", "902", "903", "901", "900"]
    assert [path.name for path in result.files] == ["modlog-remove_comment-0001.json",
                                                    "modlog-remove_comment-0002.json"]


def test_ndjson_of_views_and_rejects(tmp_path):
    good = {"mod_remove_comment": {"id": 1, "comment_id": 5, "removed": True, "when_": "2024-01-01T00:00:00Z"},
            "comment": {"id": 5, "post_id": 2, "content": "", "deleted": False}}
    no_time = {"mod_remove_comment": {"id": 2, "comment_id": 6, "removed": True}}
    no_flag = {"mod_remove_post": {"id": 3, "post_id": 9, "when_": "2024-01-01T00:00:00Z"}}
    path = tmp_path / "modlog.jsonl"
    path.write_text("\n".join([json.dumps(good), json.dumps(no_time), "{not json", json.dumps(no_flag)]) + "\n")
    result = read_modlog(path)
    assert result.frame.select("comment_id", "post_id", "content").rows() == [("5", "2", None)]  # "" -> null
    assert result.rejects.select("line", "field").rows() == [
        (2, "mod_remove_comment.when_"), (3, None), (4, "mod_remove_post.removed")]
    assert result.rejects["file"].to_list() == [str(path)] * 3
    with pytest.raises(LoadError, match=r"modlog.jsonl, line 2, field 'mod_remove_comment.when_'"):
        read_modlog(path, strict=True)


def test_not_a_modlog(tmp_path):
    with pytest.raises(LoadError, match="no modlog"):
        read_modlog(tmp_path)
    (tmp_path / "x.json").write_text("[1, 2]")
    result = read_modlog(tmp_path / "x.json")
    assert result.rejects.select("line", "field").rows() == [(1, "modlog")]
    assert result.frame.height == 0
