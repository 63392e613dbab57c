"""ConvoKit corpora: a hand-built corpus in ConvoKit's on-disk format (values checked by hand), older key
names, bad lines, and the export round trip (optionally through the real ``convokit.Corpus``)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from toolkit.errors import ConfigError
from toolkit.io import detect_format, load_source
from toolkit.io.base import LoadError
from toolkit.io.convokit import SCORE_COLUMNS_KEY, export_convokit, read_convokit
from toolkit.io.lemmy import read_lemmy
from toolkit.threads import add_tree_columns

CORPUS = Path(__file__).parent / "fixtures" / "convokit" / "askscience_small"
LEMMY_V10 = Path(__file__).parent / "fixtures" / "lemmy" / "comments_1.0.ndjson"
ROUND_TRIP = [
    "thread_id", "comment_id", "parent_id", "is_post", "author", "text",
    "created_at", "score", "removed", "deleted", "platform",
]  # fmt: skip


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def by_id(frame: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {row["comment_id"]: row for row in frame.iter_rows(named=True)}


def write_lines(path: Path, lines: list[Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


def utt(uid: str, conv: str, reply: str | None, text: str = "hi", **meta: Any) -> dict[str, Any]:
    return {"id": uid, "conversation_id": conv, "text": text, "speaker": "s", "meta": meta,
            "reply-to": reply, "timestamp": 1_600_000_000, "vectors": []}  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# loading the fixture


def test_fixture_values_by_hand() -> None:
    result = read_convokit(CORPUS)
    frame = result.frame
    assert result.rejects.height == 0 and result.stats["records"] == 7 and frame.height == 7
    assert result.files == [CORPUS / "utterances.jsonl"]
    rows = by_id(frame)

    post = rows["6n1abc"]
    assert post["is_post"] and post["thread_id"] == "6n1abc" and post["parent_id"] is None
    assert (
        post["author"] == "curious_op"
        and post["score"] == 120
        and post["created_at"] == utc(2017, 7, 14, 2, 40)
    )
    assert post["platform"] == "convokit" and post["source_position"] == 0 and post["source_line"] == 1

    top = rows["dk1aaa"]
    assert not top["is_post"] and top["parent_id"] == "6n1abc" and top["score"] == 40
    assert top["meta_author_flair_text"] == "Epidemiology" and top["meta_top_level_comment"] == "dk1aaa"

    deleted = rows["dk1bbb"]  # "[deleted]" text and speaker: deleted, text and author null
    assert (
        deleted["deleted"]
        and not deleted["removed"]
        and deleted["text"] is None
        and deleted["author"] is None
    )

    removed = rows["dk1ccc"]  # "[removed]" placeholder
    assert (
        removed["removed"]
        and not removed["deleted"]
        and removed["text"] is None
        and removed["author"] == "bob_rants"
    )

    late = rows["dk1ddd"]
    assert late["created_at"] == utc(2017, 7, 14, 2, 47, 30, 500000) and late["parent_id"] == "dk1bbb"
    assert late["meta_gilded"] == 1 and json.loads(late["meta_gildings"]) == {"gid_1": 1, "gid_2": 0}

    flagged = rows["ds9eee"]  # meta.removed true with the text kept (a moderator's export)
    assert (
        flagged["removed"]
        and flagged["text"].startswith("No. The original study")
        and flagged["meta_removed"] is True
    )
    assert rows["dk1aaa"]["meta_removed"] is None

    schema = frame.schema
    assert schema["meta_score"] == pl.Int64 and schema["meta_stickied"] == pl.Boolean
    assert schema["meta_gildings"] == pl.String and schema["meta_top_level_comment"] == pl.String
    assert rows["7q2xyz"]["meta_stickied"] is True and rows["7q2xyz"]["meta_subreddit"] == "askscience"


def test_fixture_tree() -> None:
    tree = by_id(add_tree_columns(read_convokit(CORPUS).frame))
    assert {c: r["reply_depth"] for c, r in tree.items()} == {
        "6n1abc": 0, "dk1aaa": 1, "dk1bbb": 2, "dk1ccc": 1, "dk1ddd": 3, "7q2xyz": 0, "ds9eee": 1,
    }  # fmt: skip
    assert {r["structure"] for r in tree.values()} == {"tree"}
    assert tree["6n1abc"]["subtree_size"] == 5 and tree["dk1aaa"]["subtree_size"] == 3
    assert tree["dk1ddd"]["root_id"] == "dk1aaa"


def test_detection_and_paths() -> None:
    assert detect_format(CORPUS) == "convokit"
    assert detect_format(CORPUS / "utterances.jsonl") == "convokit"
    assert load_source(CORPUS).frame.equals(read_convokit(CORPUS / "utterances.jsonl").frame)
    assert read_convokit(CORPUS, platform="reddit").frame["platform"].unique().to_list() == ["reddit"]


def test_older_key_names_and_utterances_json(tmp_path: Path) -> None:
    old = [
        {"id": "p", "root": "p", "user": "a", "reply_to": None, "timestamp": 1, "text": "post", "meta": {}},
        {"id": "c", "root": "p", "user": "b", "reply_to": "p", "timestamp": 2, "text": "reply", "meta": None},
        {"id": "d", "user": "b", "timestamp": 3, "text": "own conversation"},
    ]
    write_lines(tmp_path / "old" / "utterances.jsonl", old)
    rows = by_id(read_convokit(tmp_path / "old").frame)
    assert (rows["c"]["thread_id"], rows["c"]["parent_id"], rows["c"]["author"]) == ("p", "p", "b")
    assert rows["p"]["is_post"] and rows["d"]["is_post"] and rows["d"]["thread_id"] == "d"
    (tmp_path / "doc").mkdir()
    (tmp_path / "doc" / "utterances.json").write_text(json.dumps(old))
    assert read_convokit(tmp_path / "doc").frame.height == 3


# ---------------------------------------------------------------------------------------------------
# bad input


def test_bad_lines_are_rejected(tmp_path: Path) -> None:
    lines = [
        utt("p", "p", None),
        "{truncated",
        utt("c1", "p", "p"),
        {"id": 5, "conversation_id": "p", "reply-to": "p", "text": "int id is fine", "speaker": "s"},
        {"id": "c3", "conversation_id": "p", "reply-to": "p", "text": 42},
        {"id": "c4", "conversation_id": "p", "reply-to": "p", "text": "x", "meta": [1]},
        {"id": "c5", "conversation_id": "p", "reply-to": "p", "text": "x", "timestamp": "yesterday"},
        {"conversation_id": "p", "reply-to": "p", "text": "no id"},
        {"id": "c6", "reply-to": "p", "text": "reply without conversation"},
        [1, 2],
    ]
    file = write_lines(tmp_path / "corpus" / "utterances.jsonl", lines)
    with file.open("ab") as handle:
        handle.write(b'{"id": "c7", "conversation_id": "p", "text": "\xff"}\n')
    result = read_convokit(file.parent)
    assert result.stats["records"] == 11
    assert result.frame.height + result.rejects.height == 11
    rejects = {row["line"]: (row["field"], row["reason"]) for row in result.rejects.iter_rows(named=True)}
    assert sorted(rejects) == [2, 5, 6, 7, 8, 9, 10, 11]
    assert rejects[2][1].startswith("malformed JSON")
    assert rejects[5] == ("text", "utterance c3: expected a string, got int 42")
    assert (
        rejects[6][0] == "meta"
        and rejects[7][0] == "timestamp"
        and rejects[8] == ("id", "utterance: missing id")
    )
    assert rejects[9][0] == "conversation_id" and rejects[10][0] == "utterance"
    assert rejects[11][0] is None and rejects[11][1].startswith("not valid UTF-8 at byte")
    assert set(result.rejects["file"].to_list()) == {str(file)}
    assert by_id(result.frame)["5"]["text"] == "int id is fine"
    with pytest.raises(LoadError, match=r"utterances.jsonl, line 2: malformed JSON"):
        read_convokit(file.parent, strict=True)


def test_duplicates_keep_the_last(tmp_path: Path) -> None:
    file = write_lines(
        tmp_path / "c" / "utterances.jsonl",
        [utt("p", "p", None), utt("c", "p", "p", "v1"), utt("c", "p", "p", "v2")],
    )
    result = read_convokit(file)
    assert by_id(result.frame)["c"]["text"] == "v2" and result.stats["duplicates"] == 1
    assert result.rejects.rows() == [(str(file), 2, "comment_id", "duplicate id (older version): p/c")]


def test_whole_file_problems(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no utterances.jsonl"):
        read_convokit(tmp_path)
    empty = tmp_path / "e" / "utterances.jsonl"
    empty.parent.mkdir()
    empty.write_text("\n\n")
    with pytest.raises(LoadError, match="empty file"):
        read_convokit(empty.parent)
    junk = write_lines(tmp_path / "j" / "utterances.jsonl", ["not json", "still not"])
    with pytest.raises(LoadError, match=r"line 1: not JSON lines") as info:
        read_convokit(junk.parent)
    assert str(junk) in str(info.value)


# ---------------------------------------------------------------------------------------------------
# export


def scored_lemmy() -> pl.DataFrame:
    frame = read_lemmy(LEMMY_V10).frame
    return frame.with_columns(
        pl.Series("toxicity", [0.01, 0.2, 0.91, None, 0.05, 0.6, 0.33]),
        pl.Series("insult", [0.0, 0.1, 0.88, None, 0.0, 0.2, 0.1]),
    )


def test_export_files_follow_convokit_format(tmp_path: Path) -> None:
    out = export_convokit(scored_lemmy(), tmp_path / "corpus")
    assert sorted(p.name for p in out.iterdir()) == [
        "conversations.json", "corpus.json", "index.json", "speakers.json", "utterances.jsonl",
    ]  # fmt: skip
    utterances = [json.loads(line) for line in (out / "utterances.jsonl").read_text().splitlines()]
    assert len(utterances) == 7
    assert list(utterances[0]) == [
        "id",
        "conversation_id",
        "text",
        "speaker",
        "meta",
        "reply-to",
        "timestamp",
        "vectors",
    ]
    gone = utterances[3]  # comment 9103: deleted, author kept, text null -> "[deleted]"
    assert gone["id"] == "9103" and gone["text"] == "[deleted]" and gone["reply-to"] == "9102"
    assert gone["meta"]["deleted"] is True and gone["meta"]["toxicity"] is None
    assert utterances[2]["meta"]["toxicity"] == 0.91 and utterances[2]["timestamp"] == 1736498470.123456
    assert utterances[0]["timestamp"] == 1736496000 and isinstance(utterances[0]["timestamp"], int)
    assert utterances[0]["speaker"] == "[deleted]"  # the post's author is unknown in a Lemmy CommentView
    speakers = json.loads((out / "speakers.json").read_text())
    assert set(speakers) == {"[deleted]", "erin", "frank", "gina", "hal"}
    assert speakers["erin"] == {"meta": {}, "vectors": []}
    assert set(json.loads((out / "conversations.json").read_text())) == {"2001", "2002"}
    assert json.loads((out / "corpus.json").read_text()) == {SCORE_COLUMNS_KEY: ["toxicity", "insult"]}
    index = json.loads((out / "index.json").read_text())
    assert set(index) == {
        "utterances-index",
        "speakers-index",
        "conversations-index",
        "overall-index",
        "version",
        "vectors",
    }
    assert index["utterances-index"]["toxicity"] == ["<class 'float'>", "<class 'NoneType'>"]
    assert index["utterances-index"]["removed"] == ["<class 'bool'>"]


def test_round_trip_lemmy_scores(tmp_path: Path) -> None:
    frame = scored_lemmy()
    back = read_convokit(export_convokit(frame, tmp_path / "c")).frame
    columns = [*ROUND_TRIP, "toxicity", "insult"]
    assert back.select(columns).equals(frame.select(columns))
    assert back["meta_upvotes"].to_list() == frame["upvotes"].to_list()
    assert back["meta_edited_at"].to_list()[4] == "2025-01-10T09:12:00+00:00"


def test_round_trip_convokit_corpus(tmp_path: Path) -> None:
    frame = read_convokit(CORPUS).frame.with_columns(toxicity=pl.lit(0.25))
    out = export_convokit(frame, tmp_path / "again", score_columns=["toxicity"])
    back = read_convokit(out).frame
    meta = [c for c in frame.columns if c.startswith("meta_") and c != "meta_removed"]
    assert back.select(*ROUND_TRIP, "toxicity", *meta).equals(frame.select(*ROUND_TRIP, "toxicity", *meta))
    # the canonical flags are written into meta.removed/meta.deleted, filling the keys ConvoKit lacked
    assert back["meta_removed"].to_list() == frame["removed"].to_list()
    assert back["meta_deleted"].to_list() == frame["deleted"].to_list()


def test_round_trip_tree_columns_and_nulls(tmp_path: Path) -> None:
    frame = add_tree_columns(read_convokit(CORPUS).frame).with_columns(
        text=pl.when(pl.col("comment_id") == "dk1aaa").then(None).otherwise(pl.col("text"))
    )
    out = export_convokit(frame, tmp_path / "t", score_columns=[])
    line = json.loads((out / "utterances.jsonl").read_text().splitlines()[1])
    assert line["text"] == "" and "reply_depth" not in line["meta"]  # tree columns are derived, not exported
    back = read_convokit(out).frame
    assert back.filter(pl.col("comment_id") == "dk1aaa")["text"].to_list() == [""]


def test_export_refuses(tmp_path: Path) -> None:
    frame = read_convokit(CORPUS).frame
    with pytest.raises(ConfigError, match="must be unique"):
        export_convokit(pl.concat([frame, frame.head(1)]), tmp_path / "dup")
    with pytest.raises(ConfigError, match="score_columns: export_convokit: not in the frame"):
        export_convokit(frame, tmp_path / "s", score_columns=["toxicity"])
    target = tmp_path / "full"
    export_convokit(frame, target)
    with pytest.raises(FileExistsError):
        export_convokit(frame, target)
    export_convokit(frame, target, overwrite=True)


def test_real_convokit_reads_the_export(tmp_path: Path) -> None:
    convokit = pytest.importorskip("convokit")
    out = export_convokit(scored_lemmy(), tmp_path / "corpus")
    corpus = convokit.Corpus(filename=str(out))
    assert len(list(corpus.iter_utterances())) == 7
    utterance = corpus.get_utterance("9102")
    assert utterance.reply_to == "9101" and utterance.conversation_id == "2001"
    assert utterance.meta["toxicity"] == 0.91 and utterance.meta["removed"] is True
    assert corpus.get_conversation("2001").get_utterance("9103").text == "[deleted]"
    dumped = tmp_path / "dumped"
    corpus.dump("dumped", base_path=str(tmp_path))
    back = read_convokit(dumped).frame.sort("source_position")
    assert set(back["comment_id"]) == set(scored_lemmy()["comment_id"])
    assert by_id(back)["9102"]["toxicity"] == 0.91 and by_id(back)["9103"]["deleted"] is True


def test_fixture_is_readonly_copy_safe(tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(CORPUS, copy)
    (copy / "corpus.json").write_text("not json")  # a broken corpus.json only loses the score-column list
    assert read_convokit(copy).frame.height == 7
