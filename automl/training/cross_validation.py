"""Cross-validated children (``train.folds: k``): a reward that a tiny validation split
cannot give.

Why: on the small sets of the UCR archive a fifth of the training split is a handful of series
(ArrowHead: 6, GunPoint: 10), so validation accuracy moves in steps of 1/6 or 1/10, most
children tie, and the child chosen is close to a draw; its test accuracy then lags what the
search's children can reach. With ``k`` folds every example of the training and validation
splits together (the *pool*) is predicted once by a network that did not train on it, so the
reward is measured on the whole pool (36 series on ArrowHead). The price is ``k`` trainings
per child.

The rule, the same for every child of a run (so rewards compare):

* The pool is training + validation, in that order; it is cut into ``k`` folds, stratified by
  class for classification, with a fixed shuffle (:data:`FOLD_SEED`).
* Fold ``i``'s network trains on the other folds, with early stopping and the learning-rate
  schedule watching fold ``i``, and predicts fold ``i`` and the test split.
* The child's validation metrics are those of the out-of-fold predictions over the pool; its
  test metrics those of the mean of the ``k`` networks' test predictions (class probabilities
  or values), and the model it keeps is that mean, as one Keras model: what is measured on test
  is what is exported. ``best_epoch`` is the median of the folds' best epochs (what a refit on
  the whole pool trains for).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from automl.errors import TrialFailedError
from automl.tasks.task import Dataset

AUTO_FOLDS = 5
AUTO_POOL_BELOW = 100
AUTO_PER_CLASS_BELOW = 20
"""``train.folds: auto``: 5 folds when training + validation hold fewer than 100 examples, or,
for classification, fewer than 20 per class on average; else none. Below either line the
validation fifth holds under 20 series, or under 4 of a class, and rewards move in steps that
hide the differences between children. On GunPoint (50 series) and ItalyPowerDemand (67) five
folds lifted the chosen child's test accuracy; ACSF1 (100 series, 10 classes: 2 per class in a
validation fifth) chose, on seed 0, a child 5 points below MiniRocket on one split;
JapaneseVowels (270, 30 per class) matched MiniRocket on one split, where five folds would cost
five times the time (docs/benchmark.md)."""

FOLD_SEED = 0
"""Shuffle of the pool before it is cut into folds: fixed, so every child meets the same
folds and their rewards compare."""


def auto_folds(pool_size: int, classes: int = 0) -> int:
    """What ``train.folds: auto`` means for a task whose pool holds ``pool_size`` examples of
    ``classes`` classes (0: regression)."""
    thin = classes > 0 and pool_size < AUTO_PER_CLASS_BELOW * classes
    if pool_size < 2:  # nothing to hold out
        return 0
    # a pool smaller than AUTO_FOLDS: leave one out
    return min(AUTO_FOLDS, pool_size) if pool_size < AUTO_POOL_BELOW or thin else 0


def pool(data: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The examples the folds are cut from: training, then validation."""
    return (np.concatenate([data.x_train, data.x_val]),
            np.concatenate([data.y_train, data.y_val]))


def fold_indices(y: np.ndarray, folds: int, *,
                 stratified: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """``folds`` (training, held-out) index pairs over ``y``'s examples; every example is held
    out exactly once. Stratified: each class is dealt round-robin over the folds after a
    seeded shuffle, so each fold holds its share of every class."""
    n = len(y)
    if n < folds:
        raise TrialFailedError(f"train.folds {folds} needs at least {folds} examples in "
                               f"training + validation; the task has {n}")
    rng = np.random.default_rng(FOLD_SEED)
    fold_of = np.empty(n, dtype=np.int64)
    if stratified:
        start = 0  # carry the deal across classes so small classes do not all start at fold 0
        for label in np.unique(y):
            members = rng.permutation(np.flatnonzero(y == label))
            fold_of[members] = (start + np.arange(len(members))) % folds
            start = (start + len(members)) % folds
    else:
        fold_of[rng.permutation(n)] = np.arange(n) % folds
    return [(np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)) for k in range(folds)]


def fold_data(data: Dataset, x: np.ndarray, y: np.ndarray, train: np.ndarray,
              held_out: np.ndarray) -> Dataset:
    """``data`` whose training split is ``train`` of the pool and validation split ``held_out``
    (the test split and every fact of the task unchanged)."""
    return replace(data, x_train=x[train], y_train=y[train], x_val=x[held_out],
                   y_val=y[held_out])


def median_epoch(best_epochs: Sequence[float]) -> float:
    """The folds' best epochs as one number of epochs (their median, rounded, at least 1)."""
    return float(max(1, round(float(np.median(best_epochs)))))


__all__ = ["FOLD_SEED", "fold_data", "fold_indices", "median_epoch", "pool"]
