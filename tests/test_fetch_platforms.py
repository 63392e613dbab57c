"""toolkit-fetch bluesky|mastodon|hackernews against loopback fakes in each API's real shape
(tests/platform_fakes.py): requests asked, archive layout, cut-off branches, statuses deleted since,
politeness, a kill mid-fetch then resume, malformed responses, the CLI and dataset.fetch.url."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from platform_fakes import (
    A1,
    A2,
    A3,
    A,
    B,
    FakeAppView,
    FakeHackerNews,
    FakeMastodon,
    K,
    N,
    R,
    bluesky_thread,
    hackernews_thread,
    mastodon_thread,
)

from toolkit.cli.fetch import main as fetch_main
from toolkit.errors import ConfigError
from toolkit.fetch import FetchError, FetchSettings, fetch_url, platform_of
from toolkit.fetch.archive import INDEX_FILE
from toolkit.io import load_source
from toolkit.threads import add_tree_columns

REPO = Path(__file__).resolve().parents[1]
THREAD = "/xrpc/app.bsky.feed.getPostThread"


def fast(service: str | None = None, **options) -> FetchSettings:
    return FetchSettings(rate=0, retries=3, backoff=0.01, service=service, **options)


@pytest.fixture
def appview(monkeypatch):
    fake = FakeAppView(bluesky_thread(), max_depth=2, not_found=frozenset({N}), blocked=frozenset({K})).start()
    yield fake
    fake.stop()


@pytest.fixture
def mastodon(monkeypatch):
    monkeypatch.delenv("MASTODON_TOKEN", raising=False)
    fake = FakeMastodon(mastodon_thread(), max_depth=2).start()
    yield fake
    fake.stop()


@pytest.fixture
def hackernews():
    fake = FakeHackerNews(hackernews_thread()).start()
    yield fake
    fake.stop()


def _index(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / INDEX_FILE).read_text().splitlines()]


def _depths(out: Path, platform: str) -> dict[str, int | None]:
    frame = add_tree_columns(load_source(out, format=platform).frame)
    return dict(frame.select("comment_id", "reply_depth").iter_rows())


def _after(fake, uri_or_path: str, action) -> None:
    """Run ``action`` once the fake has answered ``uri_or_path`` (the world changes between two calls)."""
    answer = fake.answer

    def wrapped(path, params):
        result = answer(path, params)
        if uri_or_path in (path, params.get("uri")):
            action()
        return result
    fake.answer = wrapped


# ----------------------------------------------------------------------------------------------- Bluesky

def test_bluesky_whole_tree_from_a_reply(appview, tmp_path):
    out = tmp_path / "bsky"
    summary = fetch_url("https://bsky.app/profile/dan.test/post/a2", out, fast(appview.base))
    # the handle, the focus (depth and parent height at the lexicon's maximum), the root, then the branch the
    # AppView cut at its depth (A1's replies) with parentHeight 0
    assert appview.paths() == ["/xrpc/com.atproto.identity.resolveHandle", f"{THREAD}?uri={A2}", f"{THREAD}?uri={R}",
                               f"{THREAD}?uri={A1}"]
    assert [params for _, params, _ in appview.requests][1:] == [
        {"uri": A2, "depth": "1000", "parentHeight": "1000"}, {"uri": R, "depth": "1000", "parentHeight": "0"},
        {"uri": A1, "depth": "1000", "parentHeight": "0"}]
    assert appview.requests[1][2]["User-Agent"].startswith("toolkit/")
    assert summary["files"] == ["handle-dan.test.json", "thread-did_plc_ann-r1.json", "thread-did_plc_cat-a1.json",
                                "thread-did_plc_dan-a2.json"]
    assert (summary["branches"], summary["root"], summary["saved"]) == (1, R, 4)
    assert [entry["file"] for entry in _index(out)][0] == "handle-dan.test.json"
    assert _depths(out, "bluesky") == {R: 0, A: 1, A1: 2, A2: 3, A3: 4, N: 1, K: 1, B: 1}
    appview.requests.clear()
    again = fetch_url("at://did:plc:dan/app.bsky.feed.post/a2", out, fast(appview.base))
    assert appview.requests == [] and again["reused"] == 3  # a DID needs no handle lookup; all on disk


def test_bluesky_branch_deleted_before_its_call(appview, tmp_path):
    _after(appview, R, lambda: appview.gone.add(A1))
    summary = fetch_url("at://did:plc:ann/app.bsky.feed.post/r1", tmp_path, fast(appview.base))
    assert appview.paths() == [f"{THREAD}?uri={R}", f"{THREAD}?uri={A1}"]
    assert json.loads((tmp_path / "thread-did_plc_cat-a1.json").read_text())["error"] == "NotFound"
    assert _index(tmp_path)[-1]["status"] == 400 and summary["files"][-1] == "thread-did_plc_cat-a1.json"
    frame = load_source(tmp_path).frame
    row = frame.filter(pl.col("comment_id") == A1).row(0, named=True)
    assert (row["deleted"], row["text"]) == (True, None)
    assert frame.height == 6  # R, A, A1 (deleted since), N, K, B: A1's replies were never served


def test_bluesky_errors(appview, tmp_path):
    with pytest.raises(FetchError, match=r"getPostThread .*HTTP 400 .*NotFound.*check the post URL"):
        fetch_url("at://did:plc:zed/app.bsky.feed.post/none", tmp_path / "a", fast(appview.base))
    appview.faults[f"{THREAD}?uri={R}"] = ["junk"]
    with pytest.raises(FetchError, match=r"getPostThread\?uri=.*: not JSON .*Bluesky AppView"):
        fetch_url("at://did:plc:ann/app.bsky.feed.post/r1", tmp_path / "b", fast(appview.base))
    appview.faults[f"{THREAD}?uri={R}"] = ["empty"]
    with pytest.raises(FetchError, match=r"thread-did_plc_ann-r1.json: not a thread view"):
        fetch_url("at://did:plc:ann/app.bsky.feed.post/r1", tmp_path / "c", fast(appview.base))
    with pytest.raises(ConfigError, match="not a Bluesky post URL"):
        fetch_url("https://bsky.app/profile/ann.test", tmp_path / "d", fast(appview.base))


# ---------------------------------------------------------------------------------------------- Mastodon

def test_mastodon_thread_to_its_root_and_cut_branches(mastodon, tmp_path, monkeypatch):
    monkeypatch.setenv("MASTODON_TOKEN", "s3cret-token")
    out = tmp_path / "m"
    summary = fetch_url(f"{mastodon.base}/@bob/101", out, fast())
    api = "/api/v1/statuses"
    assert mastodon.paths() == [f"{api}/101", f"{api}/101/context", f"{api}/100", f"{api}/100/context",
                                f"{api}/103/context"]  # 103's reply was beyond the context's depth
    assert {headers["Authorization"] for _, _, headers in mastodon.requests} == {"Bearer s3cret-token"}
    for path in out.iterdir():
        assert b"s3cret-token" not in path.read_bytes()
    assert (summary["root"], summary["branches"]) == ("100", 1)
    host = mastodon.base.removeprefix("http://")
    depths = {key.removeprefix(f"{host}/"): value for key, value in _depths(out, "mastodon").items()}
    assert depths == {"100": 0, "101": 1, "102": 2, "103": 3, "104": 1, "105": 4}


def test_mastodon_status_deleted_since(mastodon, tmp_path):
    _after(mastodon, "/api/v1/statuses/100/context", lambda: mastodon.gone.add("103"))
    fetch_url(f"{mastodon.base}/@bob/101", tmp_path, fast())
    assert _index(tmp_path)[-1]["status"] == 404 and _index(tmp_path)[-1]["file"] == "context-103.json"
    frame = load_source(tmp_path).frame
    row = frame.filter(pl.col("native_id") == "103").row(0, named=True)
    assert (row["deleted"], row["text"]) == (True, None)
    assert sorted(frame["native_id"]) == ["100", "101", "102", "103", "104"]


def test_mastodon_errors(mastodon, tmp_path):
    with pytest.raises(FetchError, match=r"/api/v1/statuses/999 .*HTTP 404 .*Record not found.*MASTODON_TOKEN"):
        fetch_url(f"{mastodon.base}/@bob/999", tmp_path / "a", fast())
    mastodon.faults["/api/v1/statuses/101/context"] = ["empty"]
    with pytest.raises(FetchError, match=r"context-101.json: not a Mastodon context"):
        fetch_url(f"{mastodon.base}/@bob/101", tmp_path / "b", fast())


# ------------------------------------------------------------------------------------------- Hacker News

def test_hackernews_story_from_a_comment(hackernews, tmp_path):
    waits: list[float] = []
    hackernews.faults["/v0/item/3.json"] = ["429", "500"]
    summary = fetch_url("https://news.ycombinator.com/item?id=5", tmp_path,
                        fast(hackernews.base, concurrency=2), sleep=waits.append)
    paths = hackernews.paths()
    assert paths[:3] == ["/v0/item/5.json", "/v0/item/2.json", "/v0/item/1.json"]  # up to the story
    assert sorted(paths[3:]) == ["/v0/item/3.json"] * 3 + ["/v0/item/4.json", "/v0/item/6.json"]  # 2 and 5 not again
    assert sorted(waits) == [0.02, 3.0]  # Retry-After 3 honoured, then the backoff
    assert (summary["root"], summary["items"], summary["saved"], summary["retries"]) == ("1", 6, 6, 2)
    assert (tmp_path / "item-6.json").read_text() == "null"
    assert _depths(tmp_path, "hackernews") == {"hn:1": 0, "hn:2": 1, "hn:3": 1, "hn:4": 1, "hn:5": 2}


def test_hackernews_errors(hackernews, tmp_path):
    with pytest.raises(FetchError, match="has no item 77"):
        fetch_url("https://news.ycombinator.com/item?id=77", tmp_path / "a", fast(hackernews.base))
    hackernews.faults["/v0/item/4.json"] = ["junk"]
    with pytest.raises(FetchError, match=r"/v0/item/4.json: not JSON"):
        fetch_url("https://news.ycombinator.com/item?id=1", tmp_path / "b", fast(hackernews.base))


# ------------------------------------------------------------------------------------- shared behaviour

@pytest.mark.slow
@pytest.mark.parametrize("platform", ["bluesky", "mastodon", "hackernews"])
def test_killed_mid_fetch_then_resumed(platform, appview, mastodon, hackernews, tmp_path):
    """A fetch in a subprocess is killed while it waits for a late response; the rerun asks only what is missing."""
    fake, url, hold, service = {
        "bluesky": (appview, "at://did:plc:dan/app.bsky.feed.post/a2", f"{THREAD}?uri={A1}", appview.base),
        "mastodon": (mastodon, f"{mastodon.base}/@bob/101", "/api/v1/statuses/100/context", None),
        "hackernews": (hackernews, "https://news.ycombinator.com/item?id=5", "/v0/item/6.json", hackernews.base),
    }[platform]
    fake.faults[hold] = ["hold"]
    script = ("import sys; from toolkit.fetch import FetchSettings, fetch_url; "
              "fetch_url(sys.argv[1], sys.argv[2], FetchSettings(rate=0, concurrency=1, service=sys.argv[3] or None))")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, "-c", script, url, str(tmp_path), service or ""], env=env)
    try:
        assert fake.held.wait(60), "the fetch never reached the held request"
    finally:
        process.kill()
        process.wait()
    fake.release.set()
    before = fake.paths()
    saved = [entry["file"] for entry in _index(tmp_path)]
    assert before[-1] == hold and len(saved) == len(before) - 1  # everything answered before the kill is saved
    fake.requests.clear()
    summary = fetch_url(url, tmp_path, fast(service, concurrency=1))
    assert fake.paths()[0] == hold and not set(fake.paths()) & set(before[:-1])  # only what was missing
    assert summary["reused"] == len(saved)
    files = [entry["file"] for entry in _index(tmp_path)]
    assert len(files) == len(set(files)) == len(summary["files"])  # one index line per file


def test_dispatch_and_cli(hackernews, tmp_path, capsys):
    assert platform_of("https://mastodon.social/users/bob/statuses/12") == "mastodon"
    out = tmp_path / "cli"
    assert fetch_main(["hackernews", "https://news.ycombinator.com/item?id=1", "--out", str(out), "--rate", "0",
                       "--service", hackernews.base, "--concurrency", "3"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert (printed["root"], printed["files"], printed["requests"]) == ("1", 6, 6)
    assert fetch_main(["mastodon", "https://mastodon.social/about"]) == 1
    assert "not a Mastodon status URL" in capsys.readouterr().err
    assert fetch_main(["bluesky", "at://did:plc:a/app.bsky.feed.like/1"]) == 1


@pytest.mark.parametrize("platform", ["bluesky", "mastodon", "hackernews"])
def test_a_run_fetches_its_dataset_then_loads_it(platform, appview, mastodon, hackernews, tmp_path):
    """dataset.fetch.url works for each platform: the run downloads into dataset.path, then loads the archive."""
    from hydra import compose, initialize_config_dir

    from toolkit.cli.app import CONFIG_DIR, to_settings
    from toolkit.pipeline import run_experiment

    url, service, posts, comments = {
        "bluesky": ("https://bsky.app/profile/ann.test/post/r1", appview.base, 1, 7),
        "mastodon": (f"{mastodon.base}/@ann/100", None, 1, 5),
        "hackernews": ("https://news.ycombinator.com/item?id=1", hackernews.base, 1, 4),
    }[platform]
    archive = tmp_path / "archive"
    overrides = ["dataset=file", f"dataset.path={archive}", f"dataset.format={platform}", f"dataset.fetch.url='{url}'",
                 "dataset.fetch.rate=0", "scorer=profanity", "analysis.run=[score_distribution]", "plot.formats=[png]",
                 f"scorer.cache_dir={tmp_path / 'cache'}"]
    if service:
        overrides.append(f"dataset.fetch.service={service}")
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        settings = to_settings(compose(config_name="config", overrides=overrides))
    manifest = run_experiment(settings, tmp_path / "run")
    assert (archive / "index.jsonl").exists()
    assert (manifest["counts"]["posts"], manifest["counts"]["comments"]) == (posts, comments)
