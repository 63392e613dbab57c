"""The score cache under faults and concurrency: kill -9 mid-run, concurrent writers, corrupt parts, compaction
while others read, and the ``toolkit-cache`` command.

The subprocesses score for real with the tiny checkpoint; each patches ``InferenceEngine._forward`` to sleep
before every batch (``_start_scoring``'s ``delay``) so that a process can be killed in the middle.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pytest
from scoring_helpers import detoxify_scorer, record_texts

from toolkit.cli import cache as cache_cli
from toolkit.scoring import ScoreCache, score_frame, text_hash

if TYPE_CHECKING:
    from scoring_fixtures import TinyDetoxify

pytest_plugins = ["scoring_fixtures"]

REPO = Path(__file__).resolve().parents[1]
WORDS = ["you", "are", "an", "idiot", "great", "day", "thanks", "what", "a", "mess", "people", "think", "this", "is", "wrong", "right", "so"]


def _texts(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 30)))) + f" #{i}" for i in range(n)]


def _start_scoring(tiny: TinyDetoxify, texts: list[str], cache: Path, tmp: Path, name: str,
                   delay: float) -> subprocess.Popen:
    """A subprocess scoring ``texts`` into ``cache`` with score_frame (part file every 3 texts)."""
    frame_path = tmp / f"{name}.parquet"
    pl.DataFrame({"text": texts}).write_parquet(frame_path)
    program = textwrap.dedent(f"""
        import time
        import polars as pl
        import pytest
        from toolkit.scoring import score_frame
        from toolkit.scoring.engine import InferenceEngine

        def slow_forward(self, sequences, forward=InferenceEngine._forward):  # each batch takes {delay} s more
            time.sleep({delay})
            return forward(self, sequences)

        pytest.MonkeyPatch().setattr(InferenceEngine, "_forward", slow_forward)
        frame = pl.read_parquet({str(frame_path)!r})
        result = score_frame(frame, "detoxify", checkpoint={str(tiny.checkpoint)!r}, cache_dir={str(cache)!r},
                             batch_size=2, flush_every=3, threads=1)
        print("DONE", result.report.cache_hits, result.report.cache_misses, flush=True)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", program], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _cache(tiny: TinyDetoxify, cache: Path) -> ScoreCache:
    scorer = detoxify_scorer(checkpoint=tiny.checkpoint, cache_dir=cache)
    return ScoreCache(cache, scorer.identity(), scorer.labels())


def _hashes_on_disk(cache: ScoreCache) -> set[str]:
    return {h for part in cache.part_files() for h in pl.read_parquet(part)["text_hash"].to_list()}


@pytest.mark.slow
def test_kill_and_concurrent_writers(
    tiny_detoxify: TinyDetoxify, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes score overlapping texts into one cache at once; one is killed with SIGKILL mid-run.

    The survivor finishes; every part file on disk is complete; a rerun resumes: it scores exactly the texts
    no part holds (nothing already scored is recomputed) and its scores equal a direct prediction.
    """
    texts = _texts(48)
    cache_dir = tmp_path / "cache"
    cache = _cache(tiny_detoxify, cache_dir)
    victim = _start_scoring(tiny_detoxify, texts[:32], cache_dir, tmp_path, "victim", delay=0.25)
    survivor = _start_scoring(tiny_detoxify, texts[16:], cache_dir, tmp_path, "survivor", delay=0.02)
    victim_only = {text_hash(t) for t in texts[:16]}
    deadline = time.monotonic() + 120
    while victim.poll() is None and time.monotonic() < deadline:  # until the victim has written a part
        if victim_only & _hashes_on_disk(cache):
            break
        time.sleep(0.05)
    assert victim.poll() is None, f"the victim finished before it could be killed: {victim.communicate()}"
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    out, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err[-2000:]
    assert victim.returncode == -signal.SIGKILL

    on_disk = _hashes_on_disk(cache)  # reading every part raises if one is partial
    assert {text_hash(t) for t in texts[16:]} <= on_disk  # the survivor's texts are all there
    assert 0 < len(victim_only & on_disk) < 16  # the victim got some of its own texts written, not all

    scorer = detoxify_scorer(checkpoint=tiny_detoxify.checkpoint, cache_dir=cache_dir)
    scored = record_texts(scorer, monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no quarantine: nothing on disk is corrupt
        rerun = score_frame(pl.DataFrame({"text": texts}), scorer, cache_dir=cache_dir)
    assert sorted(scored) == sorted(t for t in texts if text_hash(t) not in on_disk)
    assert rerun.report.cache_hits == len(on_disk) and rerun.report.cache_misses == len(texts) - len(on_disk)
    expected = detoxify_scorer(checkpoint=tiny_detoxify.checkpoint, cache_dir=tmp_path).predict(texts)
    assert np.allclose(rerun.frame["toxicity"].to_numpy(), expected["toxicity"], atol=1e-5)
    info = cache.info()
    assert info["entries"] == len(texts) and info["rows"] >= len(texts)  # overlap may be stored twice


def _corrupt(part: Path, how: str) -> None:
    data = part.read_bytes()
    if how == "truncated":
        part.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        part.write_bytes(b"this is not parquet" * 10)
    elif how == "empty":
        part.write_bytes(b"")
    elif how == "wrong_type":
        table = pl.read_parquet(part)
        table.with_columns(pl.lit("high").alias("toxicity")).write_parquet(part)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["truncated", "garbage", "empty", "wrong_type"])
def test_corrupt_part_is_quarantined_rescored_and_warned(
    tiny_detoxify: TinyDetoxify, tmp_path: Path, how: str
) -> None:
    frame = pl.DataFrame({"text": _texts(9)})
    options = {"checkpoint": tiny_detoxify.checkpoint, "cache_dir": tmp_path, "flush_every": 3, "batch_size": 3}
    first = score_frame(frame, "detoxify", **options)
    cache = _cache(tiny_detoxify, tmp_path)
    parts = cache.part_files()
    assert len(parts) == 3
    bad_hashes = set(pl.read_parquet(parts[0])["text_hash"].to_list())
    _corrupt(parts[0], how)
    with pytest.warns(RuntimeWarning, match=r"(?s)unreadable part file.*scored again"):
        second = score_frame(frame, "detoxify", **options)
    assert (second.report.cache_hits, second.report.cache_misses) == (6, 3)
    assert len(second.report.extra["quarantined"]) == 1 and not parts[0].exists()
    assert np.allclose(second.frame["toxicity"].to_numpy(), first.frame["toxicity"].to_numpy(), atol=1e-5)
    assert bad_hashes <= _hashes_on_disk(cache)  # rescored into a new part
    assert cache.info()["quarantined"] == 1


def test_compaction_while_others_read_and_write(tmp_path: Path) -> None:
    """Readers never see a partial file nor lose a row while writers add parts and compactions merge them."""
    cache = ScoreCache(tmp_path, {"name": "x", "model": "m"}, ["toxicity"])
    written: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(offset: int) -> None:
        for i in range(60):
            hashes = [f"h{offset}-{i}-{j}" for j in range(5)]
            cache.write(pl.DataFrame({"text_hash": hashes, "toxicity": [0.5] * 5}))
            with lock:
                written.extend(hashes)

    def compactor() -> None:
        while not stop.is_set():
            ScoreCache(tmp_path, {"name": "x", "model": "m"}, ["toxicity"]).compact()

    def reader() -> None:
        try:
            while not stop.is_set():
                with lock:
                    expected = list(written)
                found = ScoreCache(tmp_path, {"name": "x", "model": "m"}, ["toxicity"]).lookup(expected)
                assert found.height == len(expected), f"lost {len(expected) - found.height} rows"
        except BaseException as exc:  # noqa: BLE001 - reported to the main thread
            errors.append(exc)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
        others = [threading.Thread(target=compactor), threading.Thread(target=reader)]
        for t in threads + others:
            t.start()
        for t in threads:
            t.join()
        stop.set()
        for t in others:
            t.join()
    assert not errors, errors[0]
    result = cache.compact()
    assert result["entries"] == 600 and len(cache.part_files()) == 1
    assert not list(tmp_path.rglob(".part-*.tmp"))


def test_stale_temporary_files_are_ignored_then_removed(tmp_path: Path) -> None:
    cache = ScoreCache(tmp_path, {"name": "x", "model": "m"}, ["toxicity"])
    cache.write(pl.DataFrame({"text_hash": ["a"], "toxicity": [0.1]}))
    stale = cache.dir / ".part-dead.parquet.tmp"  # what a writer killed mid-write leaves
    stale.write_bytes(b"PAR1 half a file")
    fresh = cache.dir / ".part-busy.parquet.tmp"  # another process still writing it
    fresh.write_bytes(b"PAR1")
    os.utime(stale, (time.time() - 7200, time.time() - 7200))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.lookup(["a"]).height == 1
    assert cache.compact()["stale_tmp_removed"] == 1
    assert not stale.exists() and fresh.exists()


def test_toolkit_cache_info_and_compact(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one = ScoreCache(tmp_path, {"name": "detoxify", "model": "original", "precision": "fp32"}, ["toxicity"])
    two = ScoreCache(tmp_path, {"name": "profanity", "model": "alt"}, ["toxicity"])
    one.write(pl.DataFrame({"text_hash": ["a", "b"], "toxicity": [0.1, 0.2]}))
    one.write(pl.DataFrame({"text_hash": ["b", "c"], "toxicity": [0.2, 0.3]}))
    two.write(pl.DataFrame({"text_hash": ["a"], "toxicity": [0.9]}))

    assert cache_cli.main(["--cache-dir", str(tmp_path), "info"]) == 0
    out = capsys.readouterr().out
    assert "detoxify original precision=fp32" in out and "3 texts in 2 part file(s)" in out
    assert "1 duplicate rows" in out and "total: 4 entries" in out

    assert cache_cli.main(["--cache-dir", str(tmp_path), "compact", "--key", one.key[:12]]) == 0
    assert "2 part(s), 4 rows -> 1 part, 3 entries (1 duplicates" in capsys.readouterr().out
    assert len(one.part_files()) == 1 and len(two.part_files()) == 1

    assert cache_cli.main(["--cache-dir", str(tmp_path), "info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    by_name = {s["identity"]["name"]: s for s in info["scorers"]}
    assert by_name["detoxify"]["entries"] == 3 and by_name["detoxify"]["parts"] == 1
    assert by_name["profanity"]["bytes"] > 0
    assert cache_cli.main(["--cache-dir", str(tmp_path / "none"), "info"]) == 0
    assert "(empty)" in capsys.readouterr().out


@pytest.mark.slow
def test_toolkit_cache_console_entry(tmp_path: Path) -> None:
    """``python -m toolkit.cli.cache`` (what the ``toolkit-cache`` script runs) works without torch."""
    out = subprocess.run([sys.executable, "-m", "toolkit.cli.cache", "--cache-dir", str(tmp_path), "info"],
                         capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.returncode == 0 and "(empty)" in out.stdout, out.stderr


def test_compaction_is_split_by_hash_in_bounded_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With at most 2 rows a merged part: 8 rows (5 texts, "a" three times, "b" twice) go to ceil(8 / 2) = 4
    hash partitions; each text is kept once, its first row wins, and every look-up answers as before."""
    monkeypatch.setattr("toolkit.scoring.cache.COMPACT_ROWS", 2)
    cache = ScoreCache(tmp_path, {"name": "x", "model": "m"}, ["toxicity"])
    texts = {t: text_hash(t) for t in "abcde"}
    cache.dir.mkdir(parents=True)
    for name, rows in (("part-0.parquet", [("a", 0.1), ("b", 0.2)]), ("part-1.parquet", [("a", 0.9), ("c", 0.3)]),
                       ("part-2.parquet", [("d", 0.4), ("b", 0.8), ("a", 0.7), ("e", 0.5)])):
        pl.DataFrame({"text_hash": [texts[t] for t, _ in rows], "toxicity": [s for _, s in rows]}).write_parquet(
            cache.dir / name)
    before = cache.lookup(texts.values()).sort("text_hash")
    result = cache.compact()
    assert (result["parts_before"], result["rows_before"], result["entries"], result["duplicates_removed"]) == (3, 8, 5, 3)
    parts = [pl.read_parquet(p) for p in cache.part_files()]
    assert 1 < len(parts) <= 4 and sum(p.height for p in parts) == 5
    assert cache.lookup(texts.values()).sort("text_hash").equals(before)
    assert dict(zip(before["text_hash"], before["toxicity"], strict=True))[texts["a"]] == 0.1  # the first part's
    assert cache.compact()["duplicates_removed"] == 0 and len(cache.part_files()) == len(parts)  # nothing to do
