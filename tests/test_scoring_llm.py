"""scorer=llm against a loopback OpenAI-shaped server started here (tests/llm_server.py, 127.0.0.1 only):
scores are P(yes) from log-probabilities (present, absent, leading-space tokens), faults are retried, the
cache keys the server's model revision and never the key, a killed run resumes."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hydra import compose, initialize_config_dir
from llm_server import LoopbackLLM, expected_p

from toolkit.cli.app import CONFIG_DIR, to_settings
from toolkit.errors import ConfigError, ScorerUnavailableError, ScoringError
from toolkit.pipeline import run_experiment
from toolkit.scoring import ScoreCache, score_frame, shard_of, text_hash
from toolkit.scoring.llm import LLMScorer, context_item
from toolkit.settings import ScorerSettings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def server() -> Iterator[LoopbackLLM]:
    srv = LoopbackLLM().start()
    yield srv
    srv.stop()


def settings(server: LoopbackLLM, tmp_path: Path, **overrides: Any) -> ScorerSettings:
    """scorer=llm on the loopback server, with this test's own cache."""
    return ScorerSettings(**{"name": "llm", "base_url": server.base_url, "model": server.model,
                             "cache_dir": str(tmp_path / "cache"), "progress": False, **overrides})


def texts_frame(n: int, prefix: str = "comment") -> pl.DataFrame:
    return pl.DataFrame({"text": [f"{prefix} {i}: that is not what the paper says" for i in range(n)]})


def test_scores_are_p_yes_from_logprobs_each_text_asked_once(server: LoopbackLLM, tmp_path: Path) -> None:
    frame = pl.DataFrame({"text": ["you idiot", None, "thanks, good point", "you idiot", ""]})
    scored = score_frame(frame, settings(server, tmp_path))
    got = scored.frame["toxicity"].to_list()
    assert got[1] is None  # a null text stays null
    for text, p in zip(frame["text"], got, strict=True):
        if text is not None:
            assert p == pytest.approx(expected_p(text), abs=1e-12)
    assert dict(server.asked) == {"you idiot": 1, "thanks, good point": 1, "": 1}  # distinct texts once
    body = server.bodies[-1]
    assert (body["temperature"], body["seed"], body["max_tokens"], body["logprobs"], body["top_logprobs"]) == (
        0, 0, 1, True, 20)
    assert "rude, disrespectful, or unreasonable comment" in body["messages"][0]["content"]
    report = scored.report
    assert (report.n_unique, report.cache_misses, report.model_loaded) == (3, 3, True)
    assert report.extra["engine"]["requests"] == 3 and report.extra["engine"]["retries"] == {}


def test_hand_worked_logprobs_with_leading_space_tokens(server: LoopbackLLM, tmp_path: Path) -> None:
    """P(yes) = (0.6 + 0.2) / (0.6 + 0.2 + 0.1) = 8/9: " Yes" and "yes" are both yes; "Maybe" is neither."""
    server.answers["hand"] = [{"token": " Yes", "logprob": math.log(0.6)}, {"token": "yes", "logprob": math.log(0.2)},
                              {"token": "\u2581No", "logprob": math.log(0.1)}, {"token": "Maybe", "logprob": math.log(0.1)}]
    server.style = "leading_space"  # every other text: " Yes", "▁yes", " No", "▁no"
    scored = score_frame(pl.DataFrame({"text": ["hand", "other text"]}), settings(server, tmp_path))
    assert scored.frame["toxicity"].to_list() == pytest.approx([8 / 9, expected_p("other text")], abs=1e-12)


def test_several_labels_one_question_each(server: LoopbackLLM, tmp_path: Path) -> None:
    sc = settings(server, tmp_path, labels=["toxicity", "sarcasm"], questions={"sarcasm": "Is this comment sarcastic?"})
    scored = score_frame(pl.DataFrame({"text": ["oh great, another meeting"]}), sc)
    assert scored.report.labels == ["toxicity", "sarcasm"]
    assert scored.frame.row(0)[1:] == pytest.approx((expected_p("oh great, another meeting"),) * 2)
    asked = [b["messages"][0]["content"] for b in server.bodies]
    assert "Is this comment toxic" in asked[0] and "Is this comment sarcastic?" in asked[1]


def test_no_logprobs_is_an_error_unless_parsed_answers_are_allowed(server: LoopbackLLM, tmp_path: Path) -> None:
    server.style = "none"
    frame = texts_frame(6)
    with pytest.raises(ScoringError, match=r"gave no log-probabilities.*scorer.allow_parsed=true"):
        score_frame(frame, settings(server, tmp_path))
    scored = score_frame(frame, settings(server, tmp_path, allow_parsed=True))
    assert scored.frame["toxicity"].to_list() == [float(expected_p(t) >= 0.5) for t in frame["text"]]
    assert scored.report.identity["score"] == "p_yes_logprobs_or_parsed"
    assert scored.report.extra["engine"]["parsed"] == 6
    assert scored.report.caption() == "llm judge-1 (yes/no parsed where no log-probabilities)"


def test_429_500_dropped_connection_and_garbled_body_are_retried(server: LoopbackLLM, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    frame = texts_frame(12)
    a, b, c, d = frame["text"][:4]
    server.faults = {a: ["429"], b: ["500", "500"], c: ["drop"], d: ["garbage"]}
    server.retry_after = "7"
    waits: list[float] = []

    async def no_wait(self: LLMScorer, seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(LLMScorer, "_wait", no_wait)
    scored = score_frame(frame, settings(server, tmp_path, backoff=0.25))
    assert scored.frame["toxicity"].to_list() == pytest.approx([expected_p(t) for t in frame["text"]], abs=1e-12)
    assert set(server.asked.values()) == {1} and len(server.asked) == 12
    assert scored.report.extra["engine"]["retries"] == {"429": 1, "500": 2, "connection": 1, "bad_json": 1}
    assert sorted(waits) == [0.25, 0.25, 0.25, 0.5, 7.0]  # backoff 0.25 doubling; Retry-After: 7 for the 429


def test_requests_in_flight_and_results_held_are_bounded(server: LoopbackLLM, tmp_path: Path) -> None:
    """At most ``concurrency`` requests at once, and a slow consumer (the cache) gets bounded groups."""
    server.delay = 0.002
    scorer = LLMScorer(settings(server, tmp_path, concurrency=3))
    sizes = []
    for positions, scores in scorer.iter_predict(texts_frame(500)["text"].to_list()):
        assert scores.shape == (len(positions), 1)
        sizes.append(len(positions))
        time.sleep(0.05)
    assert sum(sizes) == 500 and max(sizes) <= 2 * 64 + 3  # two groups of 64 and those in flight
    assert server.max_inflight == 3


def test_slow_answer_past_the_timeout_is_retried(server: LoopbackLLM, tmp_path: Path) -> None:
    server.faults = {"slow one": ["slow"]}
    server.slow_seconds = 3.0
    scored = score_frame(pl.DataFrame({"text": ["slow one"]}), settings(server, tmp_path, timeout=0.3, backoff=0.01))
    assert scored.frame["toxicity"].item() == pytest.approx(expected_p("slow one"))
    assert scored.report.extra["engine"]["retries"] == {"timeout": 1}


def test_retries_run_out_with_an_error_naming_url_and_status(server: LoopbackLLM, tmp_path: Path) -> None:
    server.faults = {"doomed": ["500"] * 5}
    with pytest.raises(ScoringError, match=rf"POST {server.base_url}/chat/completions failed 3 times, the last with "
                                           r"500 Internal Server Error \(scorer.retries=2"):
        score_frame(pl.DataFrame({"text": ["doomed"]}), settings(server, tmp_path, retries=2, backoff=0.01))


def test_no_server_is_a_clear_error(tmp_path: Path) -> None:
    server = LoopbackLLM().start()
    server.stop()  # its port is closed now
    with pytest.raises(ScoringError, match=rf"GET {server.base_url}/models failed 2 times.*is the server running"):
        score_frame(texts_frame(1), settings(server, tmp_path, retries=1, backoff=0.01))


def test_unknown_model_and_bad_key_are_clear_errors_without_the_key(server: LoopbackLLM, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ScorerUnavailableError, match=r"does not list model 'judge-2'.*it serves: judge-1"):
        score_frame(texts_frame(1), settings(server, tmp_path, model="judge-2"))
    server.api_key = "sk-right"
    wrong = f"sk-wrong-{uuid.uuid4().hex}"
    monkeypatch.setenv("LOOPBACK_KEY", wrong)
    with pytest.raises(ScoringError) as caught:
        score_frame(texts_frame(1), settings(server, tmp_path, api_key_env="LOOPBACK_KEY"))
    message = str(caught.value)
    assert f"GET {server.base_url}/models answered 401 Unauthorized" in message and "$LOOPBACK_KEY" in message
    assert wrong not in message and "Incorrect API key provided: ***" in message  # the server echoed it
    monkeypatch.setenv("LOOPBACK_KEY", "sk-right")
    score_frame(texts_frame(1), settings(server, tmp_path, api_key_env="LOOPBACK_KEY"))
    assert "Bearer sk-right" in server.authorizations


def test_rerun_asks_nothing_and_a_new_revision_asks_again(server: LoopbackLLM, tmp_path: Path) -> None:
    frame = texts_frame(20)
    first = score_frame(frame, settings(server, tmp_path))
    again = score_frame(frame, settings(server, tmp_path))
    assert sum(server.asked.values()) == 20 and server.requests == 20  # the rerun asked nothing
    assert (again.report.cache_hits, again.report.cache_misses, again.report.model_loaded) == (20, 0, False)
    assert again.frame.equals(first.frame)

    server.revision = "r2"  # the server now serves another revision under the same name
    newer = score_frame(frame, settings(server, tmp_path))
    assert newer.report.cache_misses == 20 and sum(server.asked.values()) == 40
    assert newer.frame["toxicity"].to_list() == pytest.approx([expected_p(t, "r2") for t in frame["text"]], abs=1e-12)
    assert newer.report.extra["cache_key"] != first.report.extra["cache_key"]
    assert json.loads(newer.report.identity["server_model"])["revision"] == "r2"

    server.revision = "r1"  # back: r1's scores from the cache, never r2's
    back = score_frame(frame, settings(server, tmp_path))
    assert back.report.cache_misses == 0 and back.frame.equals(first.frame)


def test_identity_leaves_out_base_url_key_and_per_call_fields(server: LoopbackLLM, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-identity-secret")
    scorer = LLMScorer(settings(server, tmp_path))
    identity = scorer.identity()
    assert json.loads(identity["server_model"]) == {"id": "judge-1", "object": "model", "owned_by": "loopback",
                                                    "revision": "r1"}  # no created-now, no random permission ids
    other_host = LLMScorer(settings(server, tmp_path, base_url=server.base_url.replace("127.0.0.1", "localhost")))
    assert other_host.identity() == identity
    assert "127.0.0.1" not in json.dumps(identity) and "secret" not in json.dumps(identity)
    assert LLMScorer(settings(server, tmp_path, seed=1)).identity() != identity
    assert LLMScorer(settings(server, tmp_path, prompt="judge_context")).identity()["prompt_sha256"] != \
        identity["prompt_sha256"]


def test_config_errors_name_the_key(server: LoopbackLLM, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="scorer.base_url"):
        LLMScorer(ScorerSettings(name="llm", model="m"))
    with pytest.raises(ConfigError, match=r"scorer.questions: no question for label\(s\) \['sarcasm'\]"):
        LLMScorer(settings(server, tmp_path, labels=["sarcasm"]))
    template = tmp_path / "bad.txt"
    template.write_text("Rate: {text}")
    with pytest.raises(ConfigError, match=r"scorer.prompt: .*bad.txt lacks the placeholder\(s\) \{question\}"):
        LLMScorer(settings(server, tmp_path, prompt=str(template)))


def test_context_prompt_scores_parent_reply_pairs(server: LoopbackLLM, tmp_path: Path) -> None:
    frame = pl.DataFrame({"comment_id": ["p", "a", "b", "c"], "parent_id": [None, "p", "a", "b"],
                          "text": ["Post about bikes", "Same words", "You are wrong", "Same words"]})
    scored = score_frame(frame, settings(server, tmp_path, prompt="judge_context"))
    assert scored.frame.columns == frame.columns + ["toxicity"]
    assert scored.frame["toxicity"].to_list() == pytest.approx([expected_p(t) for t in frame["text"]], abs=1e-12)
    assert scored.report.n_unique == 4  # "Same words" under two parents: two pairs, both asked
    assert server.asked["Same words"] == 2 and sum(server.asked.values()) == 4
    prompts = [b["messages"][0]["content"] for b in server.bodies]
    assert any("Post about bikes" in p and "You are wrong" not in p for p in prompts)
    assert any("(none: this comment starts the discussion)" in p for p in prompts)
    cache = ScoreCache(tmp_path / "cache", scored.report.identity, ["toxicity"])
    cached = {row[0] for table in cache.part_files() for row in pl.read_parquet(table).iter_rows()}
    assert text_hash(context_item("Same words", "You are wrong")) in cached


def compose_run(*overrides: str) -> Any:
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return to_settings(compose(config_name="config", overrides=list(overrides)))


def test_pipeline_with_context_prompt_and_extra_scorer_reruns_from_cache(server: LoopbackLLM, tmp_path: Path) -> None:
    """The bundled demo thread scored by the judge (context prompt) beside profanity; the rerun asks nothing."""
    run = compose_run("scorer=llm", f"scorer.base_url={server.base_url}", f"scorer.model={server.model}",
                      "scorer.prompt=judge_context", f"scorer.cache_dir={tmp_path / 'cache'}", "scorer.progress=false",
                      "extra_scorers=[{name: profanity, model: alt-profanity-check}]", "scorer.labels=[insult]",
                      "analysis.label=insult", "analysis.run=[score_distribution]", "plot.formats=[]")
    first = run_experiment(run, tmp_path / "a")
    asked = sum(server.asked.values())
    assert first["scorer"]["cache_misses"] == asked == 10 and first["extra_scorers"][0]["scorer"] == "profanity"
    comments = pl.read_parquet(tmp_path / "a" / "comments.parquet").filter(pl.col("text").is_not_null())
    assert comments["insult"].to_list() == pytest.approx([expected_p(t) for t in comments["text"]], abs=1e-12)
    card = first["scorer"]["extra"]["card"]
    assert (card["model"], card["revision"], card["prompt"]) == ("judge-1", "revision=r1", "judge_context")
    second = run_experiment(run, tmp_path / "b")
    assert sum(server.asked.values()) == asked and second["scorer"]["cache_hits"] == 10
    assert not second["scorer"]["model_loaded"]


KILL_SCRIPT = """
import sys
import polars as pl
from toolkit.scoring import score_frame
texts = [f"kill test comment {i}" for i in range(200)]
score_frame(pl.DataFrame({"text": texts}), "llm", base_url=sys.argv[1], model="judge-1", cache_dir=sys.argv[2],
            flush_every=10, concurrency=4, progress=False)
"""


def cached_hashes(cache_dir: Path) -> set[str]:
    parts = list(cache_dir.glob("*/part-*.parquet"))
    return set(pl.concat([pl.read_parquet(p) for p in parts])["text_hash"]) if parts else set()


@pytest.mark.slow
def test_killed_run_resumes_asking_only_what_is_not_cached(server: LoopbackLLM, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    server.stall_after = 50  # then requests hang, as if the GPU were busy, until the client is killed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, server.base_url, str(cache)], env=env)
    try:
        deadline = time.monotonic() + 120
        while len(cached_hashes(cache)) < 40 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(30)
    kept = cached_hashes(cache)
    assert 40 <= len(kept) <= 50 and proc.returncode == -signal.SIGKILL
    server.release()
    before = dict(server.asked)
    frame = pl.DataFrame({"text": [f"kill test comment {i}" for i in range(200)]})
    scored = score_frame(frame, "llm", base_url=server.base_url, model="judge-1", cache_dir=str(cache), progress=False)
    assert scored.report.cache_hits == len(kept) and scored.report.cache_misses == 200 - len(kept)
    asked_now = {t: n - before.get(t, 0) for t, n in server.asked.items() if n - before.get(t, 0)}
    assert sorted(asked_now) == sorted(t for t in frame["text"] if text_hash(t) not in kept)
    assert all(server.asked[t] == 1 for t in frame["text"] if text_hash(t) in kept)
    assert scored.frame["toxicity"].to_list() == pytest.approx([expected_p(t) for t in frame["text"]], abs=1e-12)


@pytest.mark.slow
def test_key_is_nowhere_on_disk(server: LoopbackLLM, tmp_path: Path) -> None:
    """The CLI run (manifest, logs, Hydra's saved config, cache) holds neither the right key nor a wrong one."""
    secret, wrong = f"sk-loopback-{uuid.uuid4().hex}", f"sk-wrong-{uuid.uuid4().hex}"
    server.api_key = secret
    common = ["scorer=llm", f"scorer.base_url={server.base_url}", f"scorer.model={server.model}",
              "scorer.api_key_env=LOOPBACK_LLM_KEY", "analysis.n_boot=50", "plot.formats=[png]", "plot.dpi=50"]
    env = {**{k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}, "TOOLKIT_CACHE_DIR": str(tmp_path / "cache")}

    def cli(run_dir: str, key: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "toolkit.cli.app", *common, f"hydra.run.dir={tmp_path / run_dir}"],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path,
                              env={**env, "LOOPBACK_LLM_KEY": key})

    good = cli("run", secret)
    assert good.returncode == 0, good.stderr[-3000:]
    assert f"Bearer {secret}" in server.authorizations and sum(server.asked.values()) == 10
    bad = cli("bad", wrong)
    assert bad.returncode == 1 and "answered 401 Unauthorized" in bad.stderr and wrong not in bad.stderr + bad.stdout
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert (tmp_path / "run" / ".hydra" / "config.yaml") in files and (tmp_path / "run" / "manifest.json") in files
    assert any(p.suffix == ".parquet" for p in (tmp_path / "cache").rglob("*"))
    for path in files:
        data = path.read_bytes()
        assert secret.encode() not in data and wrong.encode() not in data, path
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["scorer"]["extra"]["api_key_env"] == "LOOPBACK_LLM_KEY"
    assert "HTTP Request" not in good.stderr  # no log line per request


def test_shards_ask_their_slices_and_the_merge_asks_nothing(server: LoopbackLLM, tmp_path: Path) -> None:
    frame = texts_frame(30)
    first = score_frame(frame, settings(server, tmp_path, shard=0, num_shards=2))
    mine = [t for t in frame["text"] if shard_of(text_hash(t), 2) == 0]
    assert 0 < len(mine) < 30 and sorted(server.asked) == sorted(mine)
    assert first.frame["toxicity"].null_count() == 30 - len(mine)  # the other shard's texts: null for now
    score_frame(frame, settings(server, tmp_path, shard=1, num_shards=2))
    assert set(server.asked) == set(frame["text"]) and set(server.asked.values()) == {1}
    merged = score_frame(frame, settings(server, tmp_path))
    assert merged.report.cache_hits == 30 and sum(server.asked.values()) == 30
