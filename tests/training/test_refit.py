"""Refit: the chosen child trained on training + validation for the epochs its search chose."""

from __future__ import annotations

import numpy as np

from automl.space import Architecture
from automl.tasks import Dataset
from automl.training.refit import refit_architecture
from automl.training.refit import with_validation_in_training
from automl.training.trainer import train_child


def _arch(**train) -> Architecture:
    return Architecture(({"type": "dense", "units": 8, "activation": "relu"},),
                        {"optimizer": "adam", "learning_rate": 0.05, "batch_size": 32,
                         "epochs": 30, **train})


def test_refit_trains_the_best_epoch_count_without_early_stopping() -> None:
    stopped = _arch(patience=3, monitor="accuracy")
    refit = refit_architecture(stopped, {"accuracy": 0.9, "best_epoch": 4.0})
    assert refit.train == {**stopped.train, "epochs": 4, "patience": 0}
    assert refit.layers == stopped.layers
    # no early stopping in the search: the child's own epochs
    assert refit_architecture(_arch(), {"accuracy": 0.9}).train["epochs"] == 30


def test_validation_examples_join_training_and_train_the_refit_model() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    # the validation labels are the opposite rule: a model that trains on them learns it
    data = Dataset(x[:40], y[:40], x[40:160], 1 - y[40:160], x[160:], y[160:], n_outputs=2)
    merged = with_validation_in_training(data)
    assert len(merged.x_train) == 160 and np.array_equal(merged.x_val, data.x_val)
    architecture = _arch(epochs=20)
    alone = train_child(architecture, data, seed=0)
    refit = train_child(architecture, merged, seed=0)
    assert alone["test_metrics"]["accuracy"] > 0.8 > 0.5 > refit["test_metrics"]["accuracy"]
