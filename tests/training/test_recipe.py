"""The training recipe: early stopping restores the best epoch's weights (so the reported
metrics are the peak's), learning-rate schedules and class weights train, and spaces that name
none of it train as before."""

from __future__ import annotations

import numpy as np
import pytest

from automl.space import Architecture
from automl.tasks import Dataset
from automl.training.recipe import class_weights
from automl.training.trainer import train_child


def _peaks_early() -> Dataset:
    """Training labels follow the sign of feature 0; validation labels are the opposite, so
    validation accuracy is best before the child has learned much and falls afterwards."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    return Dataset(x[:160], y[:160], x[160:200], 1 - y[160:200], x[200:], y[200:],
                   n_outputs=2, class_names=("neg", "pos"))


def _arch(**train) -> Architecture:
    return Architecture(({"type": "dense", "units": 8, "activation": "relu"},),
                        {"optimizer": "adam", "learning_rate": 0.05, "batch_size": 32,
                         "epochs": 30, **train})


def test_early_stopping_reports_the_peak_and_restores_its_weights() -> None:
    data = _peaks_early()
    stopped = train_child(_arch(patience=3, monitor="accuracy"), data, seed=0)
    curve = [e["val_accuracy"] for e in stopped["epochs"]]
    peak = int(np.argmax(curve))
    assert len(curve) < 30 and len(curve) == peak + 1 + 3  # stopped 3 epochs after the peak
    assert stopped["metrics"]["best_epoch"] == peak + 1
    assert stopped["metrics"]["accuracy"] == pytest.approx(max(curve))
    assert stopped["metrics"]["accuracy"] > curve[-1]  # the peak's weights, not the last ones
    plain = train_child(_arch(), data, seed=0)  # no patience: every epoch, the last weights
    assert len(plain["epochs"]) == 30 and "val_accuracy" not in plain["epochs"][0]
    assert plain["metrics"]["accuracy"] < stopped["metrics"]["accuracy"]
    assert "best_epoch" not in plain["metrics"]


@pytest.mark.parametrize("schedule", ["cosine", "plateau"])
def test_schedules_and_class_weights_train(schedule: str) -> None:
    data = _peaks_early()
    out = train_child(_arch(epochs=12, lr_schedule=schedule, class_weight="balanced",
                            patience=20, monitor="loss"), data, seed=0, keep_model=True)
    assert len(out["epochs"]) == 12 and np.isfinite(out["metrics"]["loss"])
    rate = float(np.asarray(out["model"].optimizer.learning_rate))
    assert rate < 0.05  # cosine decays every step; plateau halves once validation stalls


def test_balanced_class_weights() -> None:
    weights = class_weights(np.array([0, 0, 0, 1]), 3)
    assert weights == pytest.approx({0: 4 / 6, 1: 2.0, 2: 1.0})
