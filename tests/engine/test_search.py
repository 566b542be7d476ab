"""End-to-end searches on a real local Ray instance with real (tiny) Keras children."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automl.engine import resume_search
from automl.engine import run_search
from automl.execution import ExecutionSettings
from automl.report import leaderboard_rows
from automl.store import RunFolder
from automl.store import TrialStatus
from automl.store import TrialStore

FLAKY_PLUGIN = '''
from automl.builder import LayerType
from automl.registry import LAYERS
from automl.space import Param


def build(x, params, context):
    import keras

    if params["mode"] == "nan":
        return keras.layers.Lambda(lambda t: t * float("nan"))(x)
    if params["mode"] == "error":
        raise RuntimeError("boom from the flaky layer")
    return x


LAYERS.register("flaky", LayerType("flaky", build, {
    "mode": Param(str, choices=("ok", "nan", "error"), default="ok")}, accepts="vector"))
'''

FLAKY_SPACE = """
name: flaky
task: digits
plugins: [flaky.py]
layers:
  min: 2
  max: 2
  types:
    flaky:
      mode: [ok, nan, error]
    dense:
      units: [8, 16]
train:
  batch_size: 256
  epochs: 1
"""


@pytest.mark.slow
def test_search_fills_the_store_and_resumes(ray_instance, tiny_space_file: Path,
                                            runs_dir: Path) -> None:
    outcome = run_search(tiny_space_file, trials=4, seed=3, name="t4", runs_dir=runs_dir,
                         execution=ExecutionSettings(workers=2))
    store = TrialStore(outcome.run_path / "trials.sqlite", readonly=True)
    trials = store.trials()
    assert len(trials) == 4
    assert RunFolder(outcome.run_path).info()["strategy"] == "dqn"  # named nowhere: the default
    assert all(t.status.is_finished() for t in trials)
    complete = [t for t in trials if t.status == TrialStatus.COMPLETE]
    assert complete, "at least one child trained"
    for t in complete:
        assert 0.0 <= t.reward <= 1.0 and t.params > 0 and t.train_seconds > 0
        assert t.metrics["accuracy"] == t.reward and "accuracy" in t.test_metrics
        assert t.flat["num_layers"] in (1, 2) and t.host
        assert len(store.epochs(t.trial_id)) == 2
    costs = store.costs()  # what each child cost outside fit, as the worker and loop timed it
    assert set(costs) == {t.trial_id for t in complete}
    for t in complete:
        c = costs[t.trial_id]
        assert c["fit"] == t.train_seconds and c["round_trip"] >= c["worker"] > c["fit"]
        assert c["child"] >= 1 and c["rss_mb"] > 100 and c["build"] > 0
    assert any("driver_gap" in c for c in costs.values()) or len(complete) <= 2
    assert len(outcome.extra["driver_seconds"]["store"]) == 4
    # resume to 6: two more trials, the first four untouched
    again = resume_search(outcome.run_path, trials=6)
    trials = TrialStore(again.run_path / "trials.sqlite", readonly=True).trials()
    assert [t.trial_id for t in trials] == list(range(6))
    assert all(t.status.is_finished() for t in trials)
    rows = leaderboard_rows([RunFolder(outcome.run_path)], unique=False)
    assert len(rows) == 6 and rows[0]["status"] in ("complete", "cached")
    assert {"id", "status", "reward", "metrics", "params", "flat", "summary"} <= set(rows[0])
    assert (outcome.run_path / "strategy.npz").is_file()
    assert json.loads((outcome.run_path / "run.json").read_text())["trials"] == 6


@pytest.mark.slow
def test_failing_children_are_stored_and_never_top(ray_instance, tmp_path: Path,
                                                    runs_dir: Path) -> None:
    (tmp_path / "flaky.py").write_text(FLAKY_PLUGIN)
    space = tmp_path / "flaky.yaml"
    space.write_text(FLAKY_SPACE)
    outcome = run_search(space, trials=8, seed=1, name="flaky", runs_dir=runs_dir,
                         execution=ExecutionSettings(workers=2))
    trials = TrialStore(outcome.run_path / "trials.sqlite", readonly=True).trials()
    assert len(trials) == 8
    by_status = {s: [t for t in trials if t.status == s] for s in TrialStatus}
    failed = by_status[TrialStatus.FAILED]
    errors = " ".join(t.error or "" for t in failed)
    assert "NaN" in errors, errors
    assert "boom from the flaky layer" in errors
    assert all(t.reward is None for t in failed)
    assert by_status[TrialStatus.COMPLETE], "the search went on after failures"
    rows = leaderboard_rows([RunFolder(outcome.run_path)], unique=False)
    assert rows[0]["status"] != "failed"
    assert [r["status"] for r in rows][-len(failed):] == ["failed"] * len(failed)
