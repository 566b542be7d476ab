"""Refit: the chosen child trained again on the training and validation splits together.

A search chooses children by their validation reward, so the validation examples never train
them. For the model a user takes home that wastes data: a UCR training split of 50 series keeps
10 for validation, a fifth of what there is. Refitting (auto-sklearn's refit, AutoGluon's
``refit_full``) trains the chosen architecture again on both splits, for the number of epochs
its search training chose (the best epoch under early stopping, else ``train.epochs``), with
early stopping off: no held-out data is left to stop on. The test split trains nothing, so the
refit model's test metric stays an honest estimate; its validation metrics do not (the
validation examples are now training examples), and are not reported.

``lr_schedule: plateau`` still watches the loss on the validation examples, which are now part
of training: it lowers the rate when the fit of those examples stops improving.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from automl.space import Architecture
from automl.tasks.task import Dataset
from automl.training.recipe import Recipe


def refit_epochs(architecture: Architecture, metrics: Mapping[str, Any]) -> int:
    """Epochs of the refit: the stored best epoch when early stopping chose one, else the
    child's ``train.epochs``."""
    best = metrics.get("best_epoch")
    if best is not None and float(best) >= 1:
        return int(best)
    return Recipe.from_train(architecture.train).epochs


def refit_architecture(architecture: Architecture, metrics: Mapping[str, Any]) -> Architecture:
    """``architecture`` with its training set to ``refit_epochs``, early stopping off and one
    network (a cross-validated child is refit as one network on its whole pool)."""
    train = {**architecture.train, "epochs": refit_epochs(architecture, metrics), "patience": 0}
    if "folds" in train:
        train["folds"] = 0
    return replace(architecture, train=train)


def with_validation_in_training(data: Dataset) -> Dataset:
    """``data`` whose training split also holds the validation examples (validation kept as
    it was, so the trainer's per-epoch reports still run)."""
    return replace(data, x_train=np.concatenate([data.x_train, data.x_val]),
                   y_train=np.concatenate([data.y_train, data.y_val]))


__all__ = ["refit_architecture", "refit_epochs", "with_validation_in_training"]
