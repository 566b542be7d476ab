"""Reliability: the driver is SIGKILLed at several points and resumed; workers die, hang and
fail; nothing finished is lost or trained twice. Real Ray, real children, tiny budgets."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from automl.errors import RunError
from automl.store import TrialStore
from automl.store import load_checkpoint
from tests.conftest import ROOT

pytestmark = pytest.mark.slow

FAST_SPACE = """
name: faults
task: digits
layers:
  min: 1
  max: 2
  types:
    dense:
      units: [8, 16, 32]
      activation: [relu, tanh]
train:
  learning_rate: [0.01, 0.003]
  batch_size: 256
  epochs: 1
"""

PLUGIN = '''
import os
import time

from automl.builder import LayerType
from automl.registry import LAYERS
from automl.space import Param


def build(x, params, context):
    mode = params["mode"]
    if mode == "die_once" and not os.path.exists(params["marker"]):
        open(params["marker"], "w").close()
        os._exit(1)  # the worker process dies mid-trial, once
    if mode == "hang":
        time.sleep(120)
    if mode == "fail":
        raise RuntimeError("this child always fails")
    return x


LAYERS.register("fault", LayerType("fault", build, {
    "mode": Param(str, choices=("ok", "die_once", "hang", "fail"), default="ok"),
    "marker": Param(str, default=""),
}, accepts="vector"))
'''


def plugin_space(tmp_path: Path, mode: str) -> Path:
    (tmp_path / "fault_plugin.py").write_text(PLUGIN)
    path = tmp_path / f"{mode}.yaml"
    path.write_text(f"""
name: {mode}
task: digits
plugins: [fault_plugin.py]
layers:
  min: 1
  max: 1
  types:
    fault:
      mode: {mode}
      marker: {tmp_path / 'marker'}
train:
  batch_size: 256
  epochs: 1
""")
    return path


def cli(args: list[str], cwd: Path, address: str, env: dict | None = None,
        timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "automl", *args, "--address", address], cwd=cwd, text=True,
        capture_output=True, timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def finished_state(db: Path) -> dict[int, tuple]:
    try:
        store = TrialStore(db, readonly=True)
    except RunError:  # the search has created the file, not yet its tables
        return {}
    try:
        return {t.trial_id: (t.arch_id, t.status.value, t.reward, t.finished_at)
                for t in store.trials() if t.status.is_finished()}
    finally:
        store.close()


@pytest.fixture()
def address(ray_instance) -> str:
    return ray_instance.get_runtime_context().gcs_address


KILL_CHAIN = (
    "after_submit:1",  # before the first result, children in flight
    "after_tell:2",  # a result told but not yet checkpointed
    "after_store:3",  # mid-batch: a result stored, not yet told (one update per 2 results)
)
"""Where the search and two of its resumes are SIGKILLed. Kills inside the checkpoint write and
at every point between store and checkpoint are tests/engine/test_durability.py's (in-process
searches on a table, each point checked against the uninterrupted search)."""


def test_sigkill_then_resume_loses_nothing(tmp_path: Path, address: str) -> None:
    """A REINFORCE search SIGKILLed, resumed and SIGKILLed twice more, resumed to the end."""
    space = tmp_path / "space.yaml"
    # one update per 2 results (M = workers), so a kill can fall mid-batch
    space.write_text(FAST_SPACE + "strategy:\n  name: reinforce\n  batch_size: null\n")
    db = tmp_path / "runs" / "k" / "trials.sqlite"
    states = []
    for n, point in enumerate(KILL_CHAIN):
        args = (["search", str(space), "--trials", "6", "--workers", "2", "--name", "k",
                 "--seed", "1"] if n == 0 else ["resume", "runs/k"])
        killed = cli(args, tmp_path, address, env={"AUTOML_FAILPOINTS": point})
        assert killed.returncode == -signal.SIGKILL, (point, killed.stderr[-2000:])
        states.append(finished_state(db))
    assert len(states[-1]) < 6, states[-1]  # the last kill came before the end
    resumed = cli(["resume", "runs/k"], tmp_path, address)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = finished_state(db)
    states.append(after)
    assert len(after) == 6, after  # exactly the requested number of finished trials
    for earlier, later in itertools.pairwise(states):  # nothing finished lost or trained again
        for trial_id, state in earlier.items():
            assert later[trial_id] == state
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0] == 6
        told = [r[0] for r in conn.execute("SELECT told_seq FROM trials ORDER BY told_seq")]
        assert len(set(told)) == 6  # every result told exactly once
    checkpoint = load_checkpoint(tmp_path / "runs" / "k" / "strategy.npz")
    store = TrialStore(db, readonly=True)
    assert checkpoint.meta["seq"] == store.max_event_seq()
    updates = store.strategy_updates()  # batches of 2 results: 3 updates, no duplicates
    assert len(updates) == 3, updates
    assert len({u["told_seq"] for u in updates}) == 3
    assert not list((tmp_path / "runs" / "k").glob(".*.tmp"))


def test_dead_worker_is_retried_and_completes(tmp_path: Path, address: str) -> None:
    space = plugin_space(tmp_path, "die_once")
    result = cli(["search", str(space), "--trials", "1", "--workers", "1", "--name", "d",
                  "--max-retries", "2"], tmp_path, address)
    assert result.returncode == 0, result.stderr[-3000:]
    (trial,) = TrialStore(tmp_path / "runs" / "d" / "trials.sqlite", readonly=True).trials()
    assert trial.status.value == "complete" and trial.attempts == 2
    assert (tmp_path / "marker").exists()


def test_hanging_child_times_out_and_failures_stop_the_search(tmp_path: Path,
                                                              address: str) -> None:
    space = plugin_space(tmp_path, "hang")
    started = time.monotonic()
    result = cli(["search", str(space), "--trials", "1", "--workers", "1", "--name", "h",
                  "--trial-timeout", "4"], tmp_path, address)
    assert result.returncode == 1, result.stderr[-3000:]  # stored, but nothing succeeded
    assert "error: no child succeeded (1 failed;" in result.stderr
    assert time.monotonic() - started < 100
    (trial,) = TrialStore(tmp_path / "runs" / "h" / "trials.sqlite", readonly=True).trials()
    assert trial.status.value == "failed" and "timed out" in trial.error

    space = plugin_space(tmp_path, "fail")
    result = cli(["search", str(space), "--trials", "10", "--workers", "1", "--name", "f",
                  "--max-consecutive-failures", "3"], tmp_path, address)
    assert result.returncode == 1
    assert "3 trials failed in a row" in result.stderr
    assert "this child always fails" in result.stderr
    assert "automl resume" in result.stderr
    trials = TrialStore(tmp_path / "runs" / "f" / "trials.sqlite", readonly=True).trials()
    assert [t.status.value for t in trials] == ["failed"] * 3


def test_ctrl_c_stops_cleanly_and_resumes(tmp_path: Path, address: str) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(FAST_SPACE.replace("epochs: 1", "epochs: 3"))
    process = subprocess.Popen(
        [sys.executable, "-m", "automl", "search", str(space), "--trials", "6", "--workers",
         "2", "--name", "c", "--address", address], cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        # as in a terminal: a test run started in the background of a non-interactive shell
        # inherits SIGINT ignored, and the search would never see the Ctrl-C
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    db = tmp_path / "runs" / "c" / "trials.sqlite"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if db.exists() and finished_state(db):
            break
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr[-2000:]
    assert "automl resume" in stderr and "Traceback" not in stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # the ended children wait as pending for the resume: no listing shows them training
        statuses = {row[0] for row in conn.execute("SELECT status FROM trials")}
        assert "running" not in statuses, statuses
    resumed = cli(["resume", "runs/c"], tmp_path, address)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert len(finished_state(db)) == 6
    info = json.loads((tmp_path / "runs" / "c" / "run.json").read_text())
    assert info["trials"] == 6
