"""Resuming a one-shot run killed in its shared-weight phase, as a standard resume is held: the
data must be the run's, a damaged ``run.json`` is one line naming it, and an unreadable phase
checkpoint starts the phase again with a note instead of making the run unresumable. The kill
is a real SIGKILL of a child process (a failpoint); the resumes train in this process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from automl.errors import RunError
from automl.execution import ExecutionSettings
from tests.conftest import ROOT

IN_PROCESS = ExecutionSettings(executor="in_process", keep_best=0)
SPACE = """task: {name: arrays, path: data.npz}
reward: accuracy
layers: {min: 1, max: 2, types: {dense: {units: [4, 8], activation: [relu, tanh]}}}
train: {epochs: 1, batch_size: 32, learning_rate: 0.01}
"""
KILL = """
from automl.engine.one_shot import OneShotSettings
from automl.engine.one_shot_api import run_one_shot
from automl.execution import ExecutionSettings
run_one_shot("space.yaml", settings=OneShotSettings(epochs=3, controller_steps=1,
             controller_batch=2, candidates=4, retrain_top=1), name="os", seed=1,
             execution=ExecutionSettings(executor="in_process", keep_best=0))
"""


def _data(folder: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    np.savez(folder / "data.npz", x=rng.normal(size=(60, 4)), y=np.arange(60) % 2)


@pytest.fixture()
def killed(tmp_path: Path) -> Path:
    """A one-shot run killed after its first epoch's checkpoint."""
    _data(tmp_path, 0)
    (tmp_path / "space.yaml").write_text(SPACE)
    result = subprocess.run([sys.executable, "-c", KILL], cwd=tmp_path, text=True,
                            capture_output=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(ROOT),
                                 "AUTOML_FAILPOINTS": "one_shot_epoch:1",
                                 "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == -9, result.stderr[-2000:]
    run = tmp_path / "runs" / "os"
    assert (run / "one_shot.npz").is_file()
    return run


@pytest.mark.slow
def test_a_killed_one_shot_phase_resumes_only_as_it_was_made(
        killed: Path, caplog: pytest.LogCaptureFixture) -> None:
    from automl.engine.one_shot_api import resume_one_shot

    info = killed / "run.json"
    recorded = info.read_bytes()
    for damage in ({"one_shot": [1, 2]}, {"one_shot": None}, {"bogus": 1}):
        record = json.loads(recorded)
        if "bogus" in damage:
            record["one_shot"]["bogus"] = 1
        else:
            record.update(damage)
        info.write_text(json.dumps(record))
        with pytest.raises(RunError, match="run.json: does not hold what a run records"):
            resume_one_shot(killed, execution=IN_PROCESS)
    record = json.loads(recorded)
    record["one_shot"]["epochs"] = 0
    info.write_text(json.dumps(record))
    with pytest.raises(RunError, match=r"run.json: one_shot: the recorded --one-shot-epochs "
                                       "must be a positive"):
        resume_one_shot(killed, execution=IN_PROCESS)  # the record, not a flag never given
    info.write_bytes(recorded)

    _data(killed.parent.parent, 1)  # other data under the same name
    with pytest.raises(RunError, match="changed since the run was made"):
        resume_one_shot(killed, execution=IN_PROCESS)
    _data(killed.parent.parent, 0)

    (killed / "one_shot.npz").write_bytes(b"not a checkpoint")
    with caplog.at_level("WARNING", logger="automl.resume"):
        outcome = resume_one_shot(killed, execution=IN_PROCESS)
    assert ("one_shot.npz: the checkpoint cannot be read (ValueError); the one-shot phase "
            "starts again from its first epoch") in caplog.text
    assert outcome.extra["one_shot_epochs"] == 3 and outcome.counts == {"complete": 1}


@pytest.mark.slow
def test_fewer_distinct_candidates_than_retrain_top_is_said(
        tmp_path: Path, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A space of 2 architectures asked to retrain 3: the user hears why 2 were, and the
    closing line's time covers the phase as well as the retraining."""
    from automl.cli.search import _finish
    from automl.engine.one_shot import OneShotSettings
    from automl.engine.one_shot_api import run_one_shot

    _data(tmp_path, 0)
    (tmp_path / "space.yaml").write_text(SPACE.replace("max: 2", "max: 1").replace(
        "activation: [relu, tanh]", "activation: relu"))
    with caplog.at_level("WARNING", logger="automl.space"):
        outcome = run_one_shot(tmp_path / "space.yaml", runs_dir=tmp_path / "runs", seed=1,
                               settings=OneShotSettings(epochs=1, controller_steps=1,
                                                        controller_batch=2, candidates=4,
                                                        retrain_top=3),
                               execution=IN_PROCESS)
    assert ("the phase ranked 2 distinct architectures, so 2 are retrained (--retrain-top 3)"
            in caplog.text)
    capsys.readouterr()
    _finish(outcome, top=3)
    total = outcome.seconds + outcome.extra["one_shot_seconds"]
    from automl.cli._common import format_seconds

    assert f"Search finished in {format_seconds(total)}:" in capsys.readouterr().out
