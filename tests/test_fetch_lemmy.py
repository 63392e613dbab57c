"""toolkit-fetch lemmy against a fake Lemmy on the loopback interface (tests/fake_lemmy.py).

The server builds 0.19 (``/api/v3``, page numbers) and 1.0 (``/api/v4``, cursors) responses, records every
request, and plays scripted faults: a 429 with Retry-After, a 500, a dropped connection, a 404, and a
request it holds so that a fetch running in a subprocess can be killed half-way and then resumed.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_lemmy import COMMENTS, FAST, LIMIT, POST
from helpers import REPO, compose_settings

from toolkit.cli.fetch import main as fetch_main
from toolkit.errors import ConfigError
from toolkit.fetch.lemmy import FetchError, FetchSettings, Target, fetch_lemmy, parse_target
from toolkit.io.lemmy import read_lemmy
from toolkit.io.lemmy_modlog import apply_modlog, read_modlog

V3_POST_REQUESTS = [
    ("post", ""), ("comment/list", "1"), ("comment/list", "2"), ("comment/list", "3"), ("comment/list", "4"),
    ("modlog", "1"), ("modlog", "2"), ("modlog", "1"), ("modlog", "1"),
]
V3_POST_FILES = sorted([
    "post-1042.json", *(f"comments-1042-000{n}.json" for n in range(1, 5)),
    "modlog-remove_comment-0001.json", "modlog-remove_comment-0002.json", "modlog-remove_post-0001.json",
    "modlog-ban_from_community-0001.json",
])


def _index(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]


def test_parse_target():
    assert parse_target("https://lemmy.world/post/123") == Target("https://lemmy.world", "post", "123")
    assert parse_target("https://lemmy.world/comment/456/") == Target("https://lemmy.world", "comment", "456")
    assert parse_target("https://lemmy.world/c/news") == Target("https://lemmy.world", "community", "news")
    assert parse_target("http://x.example/u/bob@y.example") == Target("http://x.example", "user", "bob@y.example")
    for bad in ("https://lemmy.world/post/abc", "lemmy.world/post/1", "https://lemmy.world/", "https://l.w/p/1"):
        with pytest.raises(ConfigError, match=r"^url: .* is not a Lemmy post"):
            parse_target(bad)


@pytest.mark.parametrize(("options", "message"), [
    ({"api": "v2"}, "^fetch.api: unknown Lemmy API version 'v2'"),
    ({"limit": 51}, "^fetch.limit: 51 items per page: Lemmy serves 1 to 50"),
    ({"rate": -1}, "^fetch.rate: must be 0 or more"),
])
def test_settings_are_checked(options, message):
    with pytest.raises(ConfigError, match=message):
        FetchSettings(**options)


def test_fetch_post_v3(lemmy, tmp_path):
    out = tmp_path / "archive"
    summary = fetch_lemmy(f"{lemmy.base}/post/{POST}", out, FAST)
    assert lemmy.seen() == V3_POST_REQUESTS
    assert summary["files"] == V3_POST_FILES
    assert (summary["requests"], summary["saved"], summary["reused"], summary["retries"]) == (9, 9, 0, 0)
    path, params, headers = lemmy.requests[1]
    assert path == "/api/v3/comment/list"
    assert params == {"post_id": "1042", "sort": "Old", "type_": "All", "limit": "3", "page": "1"}
    assert headers["User-Agent"].startswith("toolkit/")
    assert "Authorization" not in headers
    modlog_types = [params["type_"] for path, params, _ in lemmy.requests if path.endswith("/modlog")]
    assert modlog_types == ["ModRemoveComment", "ModRemoveComment", "ModRemovePost", "ModBanFromCommunity"]
    assert all(params.get("community_id") == "3" for path, params, _ in lemmy.requests if path.endswith("/modlog"))
    index = _index(out)
    assert [entry["file"] for entry in index] == [
        "post-1042.json", "comments-1042-0001.json", "comments-1042-0002.json", "comments-1042-0003.json",
        "comments-1042-0004.json", "modlog-remove_comment-0001.json", "modlog-remove_comment-0002.json",
        "modlog-remove_post-0001.json", "modlog-ban_from_community-0001.json"]
    for entry in index:
        body = (out / entry["file"]).read_bytes()
        assert (entry["status"], entry["sha256"], entry["bytes"]) == (200, hashlib.sha256(body).hexdigest(), len(body))
    assert index[2]["url"] == f"{lemmy.base}/api/v3/comment/list?sort=Old&type_=All&post_id=1042&limit=3&page=2"
    assert index[2]["params"]["page"] == 2
    assert sorted(path.name for path in out.iterdir()) == sorted([*V3_POST_FILES, "index.jsonl"])
    # the archive loads: comment pages through the Lemmy loader, the modlog through read_modlog
    pages = [read_lemmy(out / f"comments-1042-000{n}.json").frame for n in range(1, 4)]
    assert [frame.height for frame in pages] == [4, 4, 2]  # 3, 3 and 1 comments, each page with the post row
    events = read_modlog(out).frame
    frame, stats = apply_modlog(pages[0], events)
    assert frame.filter(frame["comment_id"] == "5002")["removal_reason"].to_list() == ["rude"]
    assert stats["events_matched"] == 1


def test_rerun_of_a_complete_fetch_asks_nothing(lemmy, tmp_path):
    fetch_lemmy(f"{lemmy.base}/post/{POST}", tmp_path, FAST)
    before = (tmp_path / "index.jsonl").read_bytes()
    lemmy.requests.clear()
    summary = fetch_lemmy(f"{lemmy.base}/post/{POST}", tmp_path, FAST)
    assert lemmy.requests == []
    assert (summary["requests"], summary["reused"]) == (0, 9)
    assert (tmp_path / "index.jsonl").read_bytes() == before


def test_429_500_and_dropped_connection_are_retried(lemmy, tmp_path):
    lemmy.faults[("/api/v3/comment/list", "2")] = ["429", "500", "drop"]
    waits: list[float] = []
    summary = fetch_lemmy(f"{lemmy.base}/post/{POST}", tmp_path, FAST, sleep=waits.append)
    assert lemmy.seen() == [*V3_POST_REQUESTS[:3], ("comment/list", "2"), ("comment/list", "2"),
                            ("comment/list", "2"), *V3_POST_REQUESTS[3:]]
    # Retry-After: 2 honoured; then the doubling backoff (0.01 * 2**attempt) after the 500 and the drop
    assert waits == [2.0, 0.02, 0.04]
    assert (summary["retries"], summary["saved"]) == (3, 9)
    assert summary["files"] == V3_POST_FILES
    assert json.loads((tmp_path / "comments-1042-0002.json").read_text())["comments"] == COMMENTS[3:6]


def test_other_4xx_is_a_clear_error(lemmy, tmp_path):
    lemmy.faults[("/api/v3/post", "")] = ["404"]
    with pytest.raises(FetchError, match=r"/api/v3/post .*HTTP 404 .*couldnt_find_post.*check the URL"):
        fetch_lemmy(f"{lemmy.base}/post/{POST}", tmp_path, FAST)
    assert lemmy.seen() == [("post", "")]  # not retried


def test_retries_used_up_then_resume(lemmy, tmp_path):
    lemmy.faults[("/api/v3/comment/list", "3")] = ["500"] * 4
    waits: list[float] = []
    with pytest.raises(FetchError, match=r"gave up after 4 tries \(HTTP 500"):
        fetch_lemmy(f"{lemmy.base}/post/{POST}", tmp_path, FAST, sleep=waits.append)
    assert waits == [0.01, 0.02, 0.04]
    assert [entry["file"] for entry in _index(tmp_path)] == [
        "post-1042.json", "comments-1042-0001.json", "comments-1042-0002.json"]
    lemmy.requests.clear()
    summary = fetch_lemmy(f"{lemmy.base}/post/{POST}", tmp_path, FAST)
    assert lemmy.seen() == V3_POST_REQUESTS[3:]  # only the missing pages
    assert (summary["reused"], summary["saved"]) == (3, 6)
    assert [entry["file"] for entry in _index(tmp_path)].count("comments-1042-0002.json") == 1


@pytest.mark.slow
def test_killed_half_way_then_resumed(lemmy, tmp_path):
    """A fetch in a subprocess is killed while it waits for comment page 3; the rerun asks only what is missing."""
    lemmy.faults[("/api/v3/comment/list", "3")] = ["hold"]
    script = ("import sys; from toolkit.fetch.lemmy import FetchSettings, fetch_lemmy; "
              f"fetch_lemmy(sys.argv[1], sys.argv[2], FetchSettings(rate=0, limit={LIMIT}))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", script, f"{lemmy.base}/post/{POST}", str(tmp_path)], env=env)
    try:
        assert lemmy.held.wait(60), "the fetch never reached comment page 3"
    finally:
        process.kill()
        process.wait()
    lemmy.release.set()
    assert lemmy.seen() == V3_POST_REQUESTS[:4]
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "comments-1042-0001.json", "comments-1042-0002.json", "index.jsonl", "post-1042.json"]
    lemmy.requests.clear()
    summary = fetch_lemmy(f"{lemmy.base}/post/{POST}", tmp_path, FAST)
    assert lemmy.seen() == V3_POST_REQUESTS[3:]
    assert summary["files"] == V3_POST_FILES
    files = [entry["file"] for entry in _index(tmp_path)]
    assert sorted(files) == V3_POST_FILES  # one index line per file: nothing duplicated
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([*V3_POST_FILES, "index.jsonl"])


def test_damaged_file_and_cut_index_line_are_fetched_again(lemmy, tmp_path):
    fetch_lemmy(f"{lemmy.base}/post/{POST}", tmp_path, FAST)
    (tmp_path / "comments-1042-0002.json").write_text('{"comments": [')  # a torn file: sha256 differs
    lines = (tmp_path / "index.jsonl").read_text().splitlines(keepends=True)
    cut = [line for line in lines if "modlog-remove_post" not in line]
    fragment = next(line for line in lines if "modlog-remove_post" in line)[:40]  # killed mid-line
    (tmp_path / "index.jsonl").write_text("".join(cut) + fragment)
    lemmy.requests.clear()
    fetch_lemmy(f"{lemmy.base}/post/{POST}", tmp_path, FAST)
    assert lemmy.seen() == [("comment/list", "2"), ("modlog", "1")]
    lines = (tmp_path / "index.jsonl").read_text().splitlines()
    assert lines.index(fragment) == len(lines) - 3  # the cut line stays alone on its line, the new ones follow
    files = [json.loads(line)["file"] for line in lines if line != fragment]
    assert sorted(set(files)) == V3_POST_FILES
    assert (files.count("comments-1042-0002.json"), files.count("modlog-remove_post-0001.json")) == (2, 1)
    assert json.loads((tmp_path / "comments-1042-0002.json").read_text())["comments"] == COMMENTS[3:6]


def test_token_is_sent_but_never_written(lemmy, tmp_path, monkeypatch):
    monkeypatch.setenv("LEMMY_JWT", "s3cret-jwt")
    lemmy.faults[("/api/v3/modlog", "1")] = ["404"]
    with pytest.raises(FetchError) as failure:
        fetch_lemmy(f"{lemmy.base}/post/{POST}", tmp_path, FAST)
    assert "s3cret-jwt" not in str(failure.value)
    assert {headers["Authorization"] for _, _, headers in lemmy.requests} == {"Bearer s3cret-jwt"}
    assert all("s3cret-jwt" not in json.dumps(params) for _, params, _ in lemmy.requests)
    for path in tmp_path.iterdir():
        assert b"s3cret-jwt" not in path.read_bytes()


def test_rate_limit_waits_between_requests(lemmy, tmp_path):
    """At 4 requests/s each request waits for 0.25 s after the last one (a fake clock: requests take no time)."""
    now = [100.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    fetch_lemmy(f"{lemmy.base}/post/{POST}", tmp_path, FetchSettings(rate=4, limit=LIMIT, modlog=False),
                sleep=sleep, clock=lambda: now[0])
    assert len(lemmy.requests) == 5
    assert waits == [0.25] * 4


def test_fetch_v4_cursors_and_modlog(lemmy, tmp_path):
    settings = FetchSettings(rate=0, limit=LIMIT, api="v4", backoff=0.01)
    summary = fetch_lemmy(f"{lemmy.base}/comment/5001", tmp_path, settings)
    assert lemmy.seen() == [("comment", ""), ("post", ""), ("comment/list", ""), ("comment/list", "p3"),
                            ("comment/list", "p6"), ("modlog", ""), ("modlog", ""), ("modlog", "")]
    assert all(path.startswith("/api/v4/") for path, _, _ in lemmy.requests)
    modlog_types = [params["type_"] for path, params, _ in lemmy.requests if path.endswith("/modlog")]
    assert modlog_types == ["mod_remove_comment", "mod_remove_post", "mod_ban_from_community"]
    assert (summary["target"], summary["name"]) == ("post", str(POST))
    assert "comment-5001.json" in summary["files"] and "comments-1042-0003.json" in summary["files"]
    assert read_modlog(tmp_path).frame.select("comment_id", "reason", "removed").rows() == [("5002", "rude", True)]
    lemmy.requests.clear()
    fetch_lemmy(f"{lemmy.base}/comment/5001", tmp_path, settings)
    assert lemmy.requests == []  # cursors read back from the saved pages


def test_fetch_community_and_user(lemmy, tmp_path):
    summary = fetch_lemmy(f"{lemmy.base}/c/news", tmp_path / "c", FAST)
    assert lemmy.seen()[:6] == [("community", ""), ("post/list", "1"), ("post/list", "2"), ("comment/list", "1"),
                                ("comment/list", "2"), ("comment/list", "3")]
    assert lemmy.requests[0][1] == {"name": "news"}
    assert lemmy.requests[1][1]["community_id"] == "3"
    assert "posts-0001.json" in summary["files"] and "comments-0004.json" in summary["files"]
    lemmy.requests.clear()
    summary = fetch_lemmy(f"{lemmy.base}/u/carol", tmp_path / "u", FAST)
    # pages of the user's comments until one has no comments and no posts (``moderates`` does not count)
    assert lemmy.seen()[:4] == [("user", "1"), ("user", "2"), ("user", "3"), ("user", "4")]
    assert lemmy.requests[0][1] == {"username": "carol", "sort": "Old", "limit": "3", "page": "1"}
    assert {params.get("other_person_id") for path, params, _ in lemmy.requests if path.endswith("/modlog")} == {"13"}
    lemmy.requests.clear()
    fetch_lemmy(f"{lemmy.base}/u/carol", tmp_path / "u4", FetchSettings(rate=0, limit=LIMIT, api="v4"))
    assert lemmy.seen()[:3] == [("person/content", ""), ("person/content", "p3"), ("person/content", "p6")]
    assert lemmy.requests[0][1] == {"person_name_or_id": "carol", "limit": "3"}
    assert {params.get("other_person_id") for path, params, _ in lemmy.requests if path.endswith("/modlog")} == {"13"}


def test_cli(lemmy, tmp_path, capsys):
    out = tmp_path / "cli"
    assert fetch_main(["lemmy", f"{lemmy.base}/post/{POST}", "--out", str(out), "--rate", "0", "--limit", "3",
                       "--no-modlog"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["target"], printed["requests"], printed["files"]) == ("post", 5, 5)
    assert fetch_main(["lemmy", "https://lemmy.world/wiki/x"]) == 1
    assert "url: 'https://lemmy.world/wiki/x' is not a Lemmy post" in capsys.readouterr().err


@pytest.mark.slow
def test_a_run_fetches_its_dataset_then_loads_it(lemmy, tmp_path):
    """dataset.fetch.url in a config: the run downloads into dataset.path (resumable), then loads the archive."""
    from toolkit.pipeline import run_experiment

    archive = tmp_path / "archive"
    overrides = ["dataset=file", f"dataset.path={archive}", "dataset.format=lemmy", f"dataset.fetch.url={lemmy.base}/post/{POST}",
                 "dataset.fetch.rate=0", "dataset.fetch.limit=3", "scorer=profanity",
                 "analysis.run=[score_distribution]", "plot.formats=[png]", f"scorer.cache_dir={tmp_path / 'cache'}"]
    settings = compose_settings(overrides)
    manifest = run_experiment(settings, tmp_path / "run")
    assert (archive / "index.jsonl").exists() and manifest["stage_seconds"]["fetch"] >= 0
    assert manifest["counts"]["posts"] == 1 and manifest["counts"]["comments"] > 0
    requests = len(lemmy.requests)
    run_experiment(settings, tmp_path / "rerun")  # everything is in the archive: only the open-ended pages again
    assert len(lemmy.requests) - requests < requests
