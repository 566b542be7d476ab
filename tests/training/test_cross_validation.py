"""Cross-validated children (``train.folds``): every pooled example is held out once, the
reward is the out-of-fold score over the whole pool, and the kept model is the mean of the
fold networks, whose test score is the one reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from automl.errors import SpaceError
from automl.errors import TrialFailedError
from automl.errors import UserInputError
from automl.schedulers import scheduler_config
from automl.space import Architecture
from automl.space import load_space
from automl.tasks import Dataset
from automl.training.cross_validation import fold_indices
from automl.training.refit import refit_architecture
from automl.training.trainer import evaluate
from automl.training.trainer import train_child


def _separable(n_train: int = 40, n_val: int = 11) -> Dataset:
    """Labels follow the sign of feature 0 (a network learns it in a few epochs)."""
    rng = np.random.default_rng(0)
    n = n_train + n_val + 60
    x = rng.normal(size=(n, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    a, b = n_train, n_train + n_val
    return Dataset(x[:a], y[:a], x[a:b], y[a:b], x[b:], y[b:], n_outputs=2,
                   class_names=("neg", "pos"))


def _arch(**train) -> Architecture:
    return Architecture(({"type": "dense", "units": 8, "activation": "relu"},),
                        {"optimizer": "adam", "learning_rate": 0.05, "batch_size": 16,
                         "epochs": 8, **train})


def test_folds_hold_out_every_example_once_and_keep_class_shares() -> None:
    y = np.array([0] * 12 + [1] * 6 + [2] * 3)
    splits = fold_indices(y, 3, stratified=True)
    held = np.concatenate([h for _, h in splits])
    assert sorted(held.tolist()) == list(range(len(y)))
    for train, held_out in splits:
        assert not set(train) & set(held_out) and len(train) + len(held_out) == len(y)
        assert np.bincount(y[held_out], minlength=3).tolist() == [4, 2, 1]
    assert [h.tolist() for _, h in splits] == [h.tolist() for _, h in fold_indices(y, 3,
                                                                              stratified=True)]
    with pytest.raises(TrialFailedError, match="at least 5 examples"):
        fold_indices(np.zeros(4), 5, stratified=False)


def test_a_cross_validated_child_is_scored_on_the_whole_pool() -> None:
    data = _separable()
    pool = len(data.y_train) + len(data.y_val)  # 51: no single split gives steps of 1/51
    out = train_child(_arch(folds=3, patience=4, monitor="accuracy"), data, seed=0,
                      keep_model=True)
    correct = out["metrics"]["accuracy"] * pool
    assert correct == pytest.approx(round(correct)) and out["metrics"]["accuracy"] > 0.8
    assert {e["fold"] for e in out["epochs"]} == {1.0, 2.0, 3.0}
    epochs = [e["epoch"] for e in out["epochs"]]
    assert epochs == list(range(1, len(epochs) + 1))  # numbered on across folds
    assert out["epochs"][-1]["fold_epoch"] < len(epochs)
    assert 1 <= out["metrics"]["best_epoch"] <= 8
    single = train_child(_arch(epochs=1), data, seed=0, keep_model=True)
    assert out["params"] == single["params"]  # one network's size, not the folds' sum
    # what is tested is what is kept: the mean of the three networks
    kept = out["model"]
    assert len(kept.layers) == 5 and kept.count_params() == 3 * single["params"]
    assert evaluate(kept, data, data.x_test, data.y_test) == pytest.approx(
        out["test_metrics"])
    assert out["summary_model"].count_params() == single["params"]


def test_refit_of_a_cross_validated_child_trains_one_network() -> None:
    arch = refit_architecture(_arch(folds=5, patience=3), {"best_epoch": 4.0})
    assert arch.train["folds"] == 0 and arch.train["epochs"] == 4
    assert arch.train["patience"] == 0


def _space(tmp_path, folds: str):
    path = tmp_path / "cv.yaml"
    path.write_text("name: cv\ntask: {name: digits}\nlayers:\n  types:\n    dense: "
                    "{units: [8]}\ntrain:\n  epochs: 2\n  folds: " + folds + "\n")
    return path


@pytest.mark.parametrize("folds, message", [("[3, 5]", "takes one value, not a list"),
                                            ("1", r"allowed: 0 \(off\), 2 to 50, or auto"),
                                            ("51", "50"),
                                            ("aut", "did you mean 'auto'")])
def test_bad_folds_are_refused_naming_the_key(tmp_path, folds: str, message: str) -> None:
    with pytest.raises(SpaceError, match=message) as caught:
        load_space(_space(tmp_path, folds))
    assert "train.folds" in str(caught.value)


def test_an_epoch_scheduler_is_refused_with_folds(tmp_path) -> None:
    space = load_space(_space(tmp_path, "3"))
    assert space.train["folds"] == (3,)
    with pytest.raises(UserInputError, match="train.folds 3"):
        scheduler_config("asha", space.train)
    assert scheduler_config("none", space.train) is None


def _npz_space(tmp_path: Path, rows: int) -> Path:
    """An ``arrays`` task of ``rows`` examples (70/15/15 split), dense children, folds auto."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 4)).astype(np.float32)
    np.savez(tmp_path / f"rows{rows}.npz", x=x, y=(x[:, 0] > 0).astype(np.int64))
    path = tmp_path / f"rows{rows}.yaml"
    path.write_text(f"name: auto\ntask: {{name: arrays, path: rows{rows}.npz}}\n"
                    "layers: {types: {dense: {units: [4, 8]}}}\n"
                    "train: {epochs: 1, folds: auto}\n")
    return path


def test_auto_folds_are_settled_from_the_pool_when_data_loads(tmp_path) -> None:
    """``folds: auto`` stays as written in the space; loading the data makes it a number: 5
    below 100 pooled examples (training + validation) or 20 per class, 0 from there on."""
    from automl.engine.api import _load_data
    from automl.training.cross_validation import AUTO_PER_CLASS_BELOW
    from automl.training.cross_validation import AUTO_POOL_BELOW
    from automl.training.cross_validation import auto_folds

    assert (auto_folds(AUTO_POOL_BELOW - 1), auto_folds(AUTO_POOL_BELOW)) == (5, 0)
    # ACSF1: 100 series of 10 classes, 2 per class in a validation fifth; JapaneseVowels:
    # 270 of 9; regression (0 classes) follows the pool alone.
    assert (auto_folds(100, 10), auto_folds(270, 9), auto_folds(100, 0)) == (5, 0, 0)
    assert auto_folds(AUTO_PER_CLASS_BELOW * 8 - 1, 8) == 5
    assert auto_folds(AUTO_PER_CLASS_BELOW * 8, 8) == 0
    # a pool too small for 5 folds leaves one out; one example cannot be held out
    assert (auto_folds(4), auto_folds(2), auto_folds(1)) == (4, 2, 0)
    for rows, folds in ((80, 5), (200, 0)):
        space = load_space(_npz_space(tmp_path, rows))
        assert space.train["folds"] == ("auto",)
        settled, data, _ = _load_data(space, 0)
        assert len(data.y_train) + len(data.y_val) == int(rows * 0.85)
        assert settled.train["folds"] == (folds,) and settled.config == space.config


@pytest.mark.slow
def test_a_search_with_auto_folds_cross_validates_a_small_task_and_resumes(tmp_path) -> None:
    """Every child of a small task is cross-validated, the run keeps ``auto`` as its YAML
    says, and a resume settles it the same way."""
    import yaml

    from automl.engine import resume_search
    from automl.engine import run_search
    from automl.execution import ExecutionSettings
    from automl.store import TrialStore

    outcome = run_search(_npz_space(tmp_path, 80), trials=1, seed=0, name="small",
                         runs_dir=tmp_path / "runs",
                         execution=ExecutionSettings(executor="in_process", keep_best=0))
    config = yaml.safe_load((outcome.run_path / "config.yaml").read_text())
    assert config["train"]["folds"] == "auto"
    log = (outcome.run_path / "logs" / "search.log").read_text()
    assert "train.folds auto: 5 folds" in log
    resume_search(outcome.run_path, trials=2)
    store = TrialStore(outcome.run_path / "trials.sqlite", readonly=True)
    trials = store.trials()
    assert len(trials) == 2
    for trial in trials:
        assert trial.architecture["train"]["folds"] == 5
        assert {e["fold"] for e in store.epochs(trial.trial_id)} == {1, 2, 3, 4, 5}
