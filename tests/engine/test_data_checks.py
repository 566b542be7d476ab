"""What a search checks of its data before its run folder exists, and a resume before it
changes one: the reward a regression task reports, folds the data can hold, and a data file
unchanged since the run was made. Children train in process (no Ray)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from automl.errors import RunError
from automl.errors import SpaceError
from automl.execution import ExecutionSettings
from automl.store import TrialStore

IN_PROCESS = ExecutionSettings(executor="in_process", keep_best=0)


def _space(tmp_path: Path, task: str, train: str = "") -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(f"task: {{name: arrays, path: data.npz{task}}}\ntrials: 1\n"
                    "layers: {min: 1, max: 1, types: {dense: {units: [8]}}}\n"
                    f"train: {{epochs: 1, batch_size: 16{train}}}\n")
    return path


def _data(tmp_path: Path, n: int = 40, *, regression: bool = False, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, 1)) if regression else np.arange(n) % 2
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(n, 5)), y=y)


def test_a_regression_without_a_reward_is_scored_by_ccc(tmp_path: Path) -> None:
    """The arrays task's default reward is accuracy, which a regression never reports: every
    child failed. The output kind's own metric is the default instead."""
    from automl.engine import run_search

    _data(tmp_path, regression=True)
    outcome = run_search(_space(tmp_path, ", output: regression"), runs_dir=tmp_path / "runs",
                         name="r", execution=IN_PROCESS)
    assert outcome.counts.get("complete") == 1
    store = TrialStore(outcome.run_path / "trials.sqlite", readonly=True)
    try:
        child = store.trial(0)
    finally:
        store.close()
    assert child is not None and child.reward == pytest.approx(child.metrics["ccc"])


def test_more_folds_than_examples_are_refused_before_the_run_exists(tmp_path: Path) -> None:
    from automl.engine import run_search

    _data(tmp_path, n=20)
    with pytest.raises(SpaceError, match=r"train.folds: 50 folds need at least 50 examples in "
                                         r"training \+ validation; the task has 16"):
        run_search(_space(tmp_path, "", ", folds: 50"), runs_dir=tmp_path / "runs", name="r",
                   execution=IN_PROCESS)
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").iterdir())


def test_a_ccc_on_one_validation_example_is_refused_and_auto_folds_fit_a_tiny_pool(
        tmp_path: Path) -> None:
    """The CCC of one target is 0 for every child (no ranking at all): refused, before the
    run exists. ``folds: auto`` on a pool of 4 examples is leave-one-out (it asked for 5 folds,
    and every child failed); cross-validated children are scored on the whole pool."""
    from automl.engine import run_search
    from automl.engine.api import _load_data
    from automl.space import load_space

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(3, 5)), y=rng.normal(size=3),
             x_val=rng.normal(size=(1, 5)), y_val=rng.normal(size=1),
             x_test=rng.normal(size=(4, 5)), y_test=rng.normal(size=4))
    with pytest.raises(SpaceError, match=r"space.yaml: reward: ccc needs at least 2 "
                                         r"validation examples; the task has 1"):
        run_search(_space(tmp_path, ", output: regression"), runs_dir=tmp_path / "runs",
                   name="r", execution=IN_PROCESS)
    assert not (tmp_path / "runs").exists()
    auto = _space(tmp_path, ", output: regression", ", folds: auto")
    settled, _, _ = _load_data(load_space(auto), 0)
    assert settled.train["folds"] == (4,)
    outcome = run_search(auto, runs_dir=tmp_path / "runs", name="r", execution=IN_PROCESS)
    assert outcome.counts.get("complete") == 1


def test_resume_and_export_refuse_a_data_file_changed_since_the_run_was_made(
        tmp_path: Path) -> None:
    from automl.engine import resume_search
    from automl.engine import run_search

    _data(tmp_path)
    outcome = run_search(_space(tmp_path, ""), runs_dir=tmp_path / "runs", name="r",
                         execution=IN_PROCESS)
    info = (outcome.run_path / "run.json").read_bytes()
    _data(tmp_path, n=60, seed=1)  # other rows: the children ranked so far saw other data
    with pytest.raises(RunError, match=r"run.json: data_sha256: .*data.npz changed since the "
                                       r"run was made .*; a resume needs the data"):
        resume_search(outcome.run_path, trials=2, execution=IN_PROCESS)
    assert (outcome.run_path / "run.json").read_bytes() == info
    # a retrained export, and the splits a run's data is rebuilt into, refuse it too
    from automl.engine import export_model
    from automl.engine import load_run_data

    with pytest.raises(RunError, match=r"data.npz changed .*; export --retrain needs the data"):
        export_model(outcome.run_path, None, tmp_path / "m.keras", retrain=True)
    with pytest.raises(RunError, match=r"data.npz changed .*; export --refit needs the data"):
        export_model(outcome.run_path, None, tmp_path / "m.keras", refit=True)  # its flag
    with pytest.raises(RunError, match=r"data.npz changed .*; loading its data needs the data"):
        load_run_data(outcome.run_path)
    assert not (tmp_path / "m.keras").exists()


def test_spaces_validate_with_data_makes_the_checks_a_search_makes(
        tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ``--data`` only the YAML is read (a defect of the data file passes); with it,
    the data file's defects are the one line a search would print, and a sound file is
    described."""
    from automl.cli.main import main

    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=np.full((40, 5), 1e39), y=np.arange(40) % 2)
    space = _space(tmp_path, "")
    assert main(["spaces", "validate", str(space)]) == 0
    capsys.readouterr()
    assert main(["spaces", "validate", "--data", str(space)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (f"error: {tmp_path / 'data.npz'}: x: has values beyond "
                                    "float32's range (about ±3.4e+38); scale the inputs")
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(40, 5)), y=np.arange(40) % 2)
    assert main(["spaces", "validate", "--data", str(space)]) == 0
    assert ("data: 28 train, 6 validation, 6 test examples of shape (5,); 2 classes"
            in capsys.readouterr().out)
    auto = _space(tmp_path, "", ", folds: auto")  # what auto becomes for this data is said
    assert main(["spaces", "validate", "--data", str(auto)]) == 0
    assert "2 classes; folds: auto -> 5 (cross-validated)" in capsys.readouterr().out
    assert not (tmp_path / "runs").exists()

