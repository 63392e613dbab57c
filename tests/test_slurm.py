"""The sharded scoring sweep and the corpus map on a real SLURM scheduler: ``toolkit -m hydra/launcher=slurm ...
scorer.num_shards=2 'scorer.shard=range(2)'``, and ``map.step=ingest`` then ``map.step=buckets`` over
``'map.part=range(2)'``, on a single-node cluster (Debian's slurmctld, slurmd and munge, started by
``.ci/slurm/start.sh``), each followed by a merge (reduce) run that scores nothing and loads no model.

The cluster runs as root (slurmd must, to start jobs). Where SLURM is missing it is installed with apt-get
only when asked (``TOOLKIT_INSTALL_SLURM=1``, which .ci/run sets); otherwise, or where that cannot be done,
the tests skip, saying why. The "shared filesystem" of a real cluster is the local
disk here: the score cache and the sweep directory are in ``tmp_path``. Exactness as in
test_scoring_shards.py: ``batch_size=1`` and ``threads=1`` in every run, so scores compare bit for bit.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import pytest
import torch
from helpers import (
    COMMENTS,
    REPO,
    compose_settings,
    map_overrides,
    monthly_dumps,
    reduce_and_single,
    shard_overrides,
    thread_file,
)

from toolkit.pipeline import run_experiment

if TYPE_CHECKING:
    from scoring_fixtures import TinyDetoxify

pytestmark = [pytest.mark.slurm, pytest.mark.xdist_group("slurm")]  # one worker: one install, one cluster

pytest_plugins = ["scoring_fixtures"]

SCRIPTS = REPO / ".ci" / "slurm"
STATE = Path(os.environ.get("TOOLKIT_SLURM_STATE", "/tmp/toolkit-slurm"))
# The shipped launcher config asks for a GPU, 8 CPUs and 32 GB per job: a CPU node's job asks for less.
CPU_JOBS = ["hydra.launcher.gpus_per_node=null", "hydra.launcher.cpus_per_task=1", "hydra.launcher.mem_gb=2",
            "hydra.launcher.timeout_min=5"]


INSTALL_ENV = "TOOLKIT_INSTALL_SLURM"  # "1": a missing SLURM is apt-get installed (CI); otherwise the tests skip
SLURM_TOOLS = ("munged", "mungekey", "slurmctld", "slurmd", "sinfo", "sbatch", "scontrol")  # as install.sh


def _run(script: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPTS / script), str(STATE)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def slurm_conf() -> Iterator[Path]:
    """A running single-node cluster for the session; yields its slurm.conf. A missing SLURM is installed
    only when ``TOOLKIT_INSTALL_SLURM=1`` (as .ci/run sets); otherwise the tests skip, saying so.

    One session at a time on a machine (a lock file): the stop script kills what the pid files in the state
    directory name, daemons of an interrupted run included.
    """
    if os.geteuid() != 0:
        pytest.skip("the SLURM test cluster needs root (slurmd starts jobs as their user; munged runs as munge)")
    missing = [tool for tool in SLURM_TOOLS if not shutil.which(tool, path=f"{os.environ.get('PATH', '')}:/usr/sbin")]
    if missing and os.environ.get(INSTALL_ENV) != "1":
        pytest.skip(f"SLURM is not installed (no {', '.join(missing)}); {INSTALL_ENV}=1 lets this test apt-get "
                    "install it (.ci/run sets it), or install slurmctld slurmd slurm-client munge yourself")
    if missing:
        install = _run("install.sh", timeout=900)
        if install.returncode != 0:
            pytest.skip(f"slurm cannot be installed here: {install.stderr.strip()[-500:]}")
    with open(f"{STATE}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        start = _run("start.sh", timeout=120)
        try:
            assert start.returncode == 0, f"the SLURM test cluster did not start:\n{start.stdout}{start.stderr}"
            yield STATE / "slurm.conf"
        finally:
            stop = _run("stop.sh", timeout=60)
            assert stop.returncode == 0, stop.stderr


def _job_logs(sweep: Path) -> str:
    """The ends of the submitit logs of a sweep's jobs and of the daemons' logs, for failure messages."""
    logs = [*sorted((sweep / ".submitit").glob("*/*_log.*")), *sorted(STATE.glob("*.log"))]
    return "\n".join(f"--- {log}\n{log.read_text(errors='replace')[-2000:]}" for log in logs)


def _finished_tasks(job_id: str, env: dict[str, str]) -> list[str]:
    """``scontrol show job`` lines of a job array's tasks once none is pending or running any more: submitit
    has a task's result as soon as it is written, the task ends a moment later."""
    for _ in range(60):
        jobs = subprocess.run(["scontrol", "-o", "show", "job", job_id], capture_output=True, text=True,
                              env=env, timeout=30, check=True).stdout.splitlines()
        if not any(re.search(r"JobState=(PENDING|RUNNING|COMPLETING) ", job) for job in jobs):
            return jobs
        time.sleep(0.5)
    pytest.fail(f"job {job_id} still running 30 s after its results came back:\n" + "\n".join(jobs))


def test_sharded_scoring_sweep_on_slurm_then_merge(slurm_conf: Path, tiny_detoxify: TinyDetoxify,
                                                   tmp_path: Path) -> None:
    """Two array jobs score one slice each into the cache; the merge run finds every text there and equals
    a single-process run (its own cache) bit for bit."""
    thread = thread_file(tmp_path)
    overrides = shard_overrides(tiny_detoxify, thread)
    cache = tmp_path / "cache"
    # sbatch exports this environment to the jobs: they run this interpreter on this checkout.
    env = {**os.environ, "SLURM_CONF": str(slurm_conf), "TOOLKIT_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}
    sweep = tmp_path / "sweep"
    command = [sys.executable, "-m", "toolkit.cli.app", "-m", "hydra/launcher=slurm", *CPU_JOBS, *overrides,
               "scorer.num_shards=2", "scorer.shard=range(2)", f"hydra.sweep.dir={sweep}"]
    try:
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240, cwd=tmp_path)
    except subprocess.TimeoutExpired:  # submitit waits for ever on a job that died without a result
        pytest.fail(f"the sweep did not finish in 240 s\n{_job_logs(sweep)}")
    assert result.returncode == 0, f"{result.stderr[-3000:]}\n{_job_logs(sweep)}"

    # Both points of the sweep ran as tasks of one SLURM job array on this node, and completed.
    (job_id,) = {re.sub(r"_\d+$", "", d.name) for d in (sweep / ".submitit").iterdir() if d.is_dir()}
    jobs = _finished_tasks(job_id, env)
    assert sorted(re.search(r"ArrayTaskId=(\d+)", job)[1] for job in jobs) == ["0", "1"]
    node = socket.gethostname().split(".")[0]
    for job in jobs:
        assert "JobState=COMPLETED" in job and f" NodeList={node} " in job, job

    manifests = [json.loads((sweep / str(i) / "manifest.json").read_text()) for i in range(2)]
    distinct = len(set(COMMENTS)) + 1  # and the post (title + body)
    assert [m["scorer"]["extra"]["shard"]["shard"] for m in manifests] == [0, 1]
    assert sum(m["scorer"]["cache_misses"] for m in manifests) == distinct
    assert all(m["partial"] is True and m["scorer"]["model_loaded"] is True for m in manifests)

    threads = torch.get_num_threads()
    try:
        merge = run_experiment(compose_settings([*overrides, f"scorer.cache_dir={cache}"]), tmp_path / "merge")
        single = run_experiment(compose_settings([*overrides, f"scorer.cache_dir={tmp_path / 'single-cache'}"]),
                                tmp_path / "single")
    finally:
        torch.set_num_threads(threads)
    assert (merge["scorer"]["cache_hits"], merge["scorer"]["cache_misses"], merge["scorer"]["model_loaded"]) == (
        distinct, 0, False)
    assert "partial" not in merge and single["scorer"]["cache_misses"] == distinct
    labels = merge["scorer"]["labels"]
    merged = pl.read_parquet(tmp_path / "merge" / "comments.parquet").select(labels)
    alone = pl.read_parquet(tmp_path / "single" / "comments.parquet").select(labels)
    assert merged.height == len(COMMENTS) + 1
    assert merged.equals(alone)  # bit for bit


def test_ingest_and_bucket_map_on_slurm_then_reduce(slurm_conf: Path, tiny_detoxify: TinyDetoxify,
                                                    tmp_path: Path) -> None:
    """The corpus map on the cluster: one array job ingests each monthly dump (2 tasks), one builds and scores
    each bucket (2 tasks); the reduce run then scores nothing, loads no model and equals a one-process run."""
    pattern = monthly_dumps(tmp_path / "dumps")
    overrides = map_overrides(tiny_detoxify, pattern)
    cache = tmp_path / "cache"
    env = {**os.environ, "SLURM_CONF": str(slurm_conf), "TOOLKIT_CACHE_DIR": str(cache), "PYTHONPATH": str(REPO)}
    for step in ("ingest", "buckets"):
        sweep = tmp_path / step
        command = [sys.executable, "-m", "toolkit.cli.app", "-m", "hydra/launcher=slurm", *CPU_JOBS, *overrides,
                   f"map.step={step}", "map.parts=2", "map.part=range(2)", f"hydra.sweep.dir={sweep}"]
        try:
            result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=240, cwd=tmp_path)
        except subprocess.TimeoutExpired:
            pytest.fail(f"map.step={step} did not finish in 240 s\n{_job_logs(sweep)}")
        assert result.returncode == 0, f"{result.stderr[-3000:]}\n{_job_logs(sweep)}"
        (job_id,) = {re.sub(r"_\d+$", "", d.name) for d in (sweep / ".submitit").iterdir() if d.is_dir()}
        jobs = _finished_tasks(job_id, env)
        assert sorted(re.search(r"ArrayTaskId=(\d+)", job)[1] for job in jobs) == ["0", "1"]
        assert all("JobState=COMPLETED" in job for job in jobs), jobs
    built = [json.loads((tmp_path / "buckets" / str(i) / "manifest.json").read_text()) for i in range(2)]
    assert sum(m["scorer"]["cache_misses"] for m in built) == 7 and sum(m["counts"]["rows"] for m in built) == 7

    reduced, single = reduce_and_single(overrides, cache, tmp_path)  # comments equal bit for bit
    assert (reduced["scorer"]["cache_misses"], reduced["scorer"]["model_loaded"]) == (0, False)
    assert single["scorer"]["cache_misses"] == 7
