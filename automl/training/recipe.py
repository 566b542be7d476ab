"""The training recipe beyond a fixed number of epochs: early stopping with restore of the best
epoch's weights, a learning-rate schedule and class weights (the ``train:`` block's
``patience``, ``monitor``, ``lr_schedule`` and ``class_weight``).

Every setting defaults to off, so a space that names none trains exactly as before: a fixed
number of epochs, the last epoch's weights, a constant learning rate, unweighted classes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

HIGHER_IS_BETTER = ("accuracy", "uar", "ccc")


DEFAULT_EPOCHS = 10
"""``train.epochs`` when a space does not set it (the trainer, the workers' stop rule and
``show`` read this one value)."""


@dataclass(frozen=True)
class Recipe:
    """The recipe settings of one child, read from its architecture's ``train`` settings."""

    epochs: int
    patience: int = 0
    """Epochs without a better validation ``monitor`` before stopping; 0: off."""
    monitor: str = "loss"
    """Validation metric that picks the best epoch; ties go to the lower validation loss."""
    lr_schedule: str = "none"
    class_weight: str = "none"
    folds: int = 0
    """Cross-validated children (``training/cross_validation.py``): networks per child; 0 off."""

    @classmethod
    def from_train(cls, train: Mapping[str, Any]) -> Recipe:
        return cls(epochs=int(train.get("epochs", DEFAULT_EPOCHS)),
                   patience=int(train.get("patience") or 0),
                   monitor=str(train.get("monitor", "loss")),
                   lr_schedule=str(train.get("lr_schedule", "none")),
                   class_weight=str(train.get("class_weight", "none")),
                   folds=int(train.get("folds") or 0))

    @property
    def early_stopping(self) -> bool:
        return self.patience > 0


def class_weights(y: np.ndarray, n_classes: int) -> dict[int, float]:
    """``balanced`` weights, n / (classes present * count of c), for the classes in ``y``
    (scikit-learn's formula); classes absent from training get weight 1."""
    counts = np.bincount(y.astype(np.int64), minlength=n_classes)
    present = int(np.count_nonzero(counts))
    return {c: (len(y) / (present * counts[c]) if counts[c] else 1.0)
            for c in range(n_classes)}


def learning_rate(recipe: Recipe, base: float, steps_per_epoch: int) -> Any:
    """The optimizer's learning rate: a float, or a cosine decay to 0 over ``epochs``."""
    if recipe.lr_schedule != "cosine":
        return base
    import keras

    return keras.optimizers.schedules.CosineDecay(base, decay_steps=max(
        1, recipe.epochs * steps_per_epoch))


def schedule_callbacks(recipe: Recipe) -> list[Any]:
    """``plateau``: halve the rate after ``max(2, patience // 2)`` epochs (5 without early
    stopping) without a lower validation loss, down to 1/100 of where it started."""
    if recipe.lr_schedule != "plateau":
        return []
    import keras

    wait = max(2, recipe.patience // 2) if recipe.early_stopping else 5
    return [keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=wait,
                                              min_delta=1e-4, verbose=0)]


class BestEpoch:
    """Tracks the best epoch by the validation ``monitor`` and keeps its weights.

    ``observe`` returns True when training should stop (``patience`` epochs without a better
    value); ``restore`` puts the best weights back, so the reported metrics are the best
    epoch's.
    """

    def __init__(self, recipe: Recipe):
        self.recipe = recipe
        self.best_epoch = 0
        self._best: tuple[float, float] | None = None
        self._weights: list[np.ndarray] | None = None
        self._since_best = 0

    def _key(self, metrics: Mapping[str, float]) -> tuple[float, float]:
        """Smaller is better: (monitor as a loss, validation loss)."""
        value = float(metrics[self.recipe.monitor])
        if self.recipe.monitor in HIGHER_IS_BETTER:
            value = -value
        return value, float(metrics.get("loss", 0.0))

    def observe(self, epoch: int, metrics: Mapping[str, float], model: Any) -> bool:
        key = self._key(metrics)
        if not all(math.isfinite(k) for k in key):
            return True
        if self._best is None or key < self._best:
            self._best, self.best_epoch, self._since_best = key, epoch, 0
            self._weights = [np.array(w, copy=True) for w in model.get_weights()]
            return False
        self._since_best += 1
        return self._since_best >= self.recipe.patience

    def restore(self, model: Any) -> None:
        if self._weights is not None:
            model.set_weights(self._weights)
