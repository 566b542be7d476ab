"""REINFORCE and DQN drive real searches: the store fills and controller progress shows.

The children train in this process (``executor: in_process``), not on Ray: the learners on Ray
are covered by tests/engine/test_search.py (DQN, the default, with a resume) and
tests/test_faults.py (REINFORCE, killed and resumed), and out of the Ray group of
tests/conftest.py these two searches run beside it instead of lengthening it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from automl.engine import run_search
from automl.execution import ExecutionSettings
from automl.store import TrialStore
from tests.conftest import ROOT


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["reinforce", "dqn"])
def test_learning_strategy_search_stores_and_shows_its_progress(
        tiny_space_file: Path, runs_dir: Path, strategy: str) -> None:
    outcome = run_search(tiny_space_file, strategy=strategy, trials=6, seed=0, name=strategy,
                         runs_dir=runs_dir, execution=ExecutionSettings(executor="in_process"))
    store = TrialStore(outcome.run_path / "trials.sqlite", readonly=True)
    trials = store.trials()
    assert len(trials) == 6 and all(t.status.is_finished() for t in trials)
    updates = store.strategy_updates()
    assert updates, "the controller made and stored updates"
    expected = {"reinforce": {"mean_reward", "baseline", "entropy", "loss"},
                "dqn": {"epsilon", "td_loss", "mean_reward"}}[strategy]
    assert expected <= set(updates[-1])
    shown = subprocess.run(
        [sys.executable, "-m", "automl", "show", str(outcome.run_path)], text=True,
        capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "Strategy progress" in shown.stdout
    # each update row names the trial told just before it and how many results were told
    progress = shown.stdout.split("Strategy progress", 1)[1].split("Leaderboard", 1)[0]
    rows = [[c.strip() for c in line.split("│")[1:4]] for line in progress.splitlines()
            if line.startswith("│")]
    told = sorted((t.told_seq, t.trial_id) for t in trials if t.told_seq)
    by_seq = dict(told)
    # rows are numbered 1, 2, ... (DQN's own step counts gradient steps: 48.0)
    assert [int(number) for number, _, _ in rows] == list(range(1, len(updates) + 1))
    for number, trial, count in rows:
        update = updates[int(number) - 1]
        assert trial == str(by_seq[update["told_seq"]])
        assert count == str(sum(1 for seq, _ in told if seq <= update["told_seq"]))
    for key in expected:
        assert key in shown.stdout
