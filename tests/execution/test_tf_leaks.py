"""The per-child leak of TensorFlow's gradient registry, and the worker's sweep of it."""

from __future__ import annotations

import numpy as np

from automl.execution import tf_leaks
from automl.execution.tf_leaks import GradientRegistrySweep


def _fit_one_step() -> None:
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(np.zeros((8, 4), "float32"), np.zeros(8, "int64"), epochs=1, verbose=0)


def test_a_keras_fit_leaves_custom_gradients_that_the_sweep_removes() -> None:
    registry = tf_leaks._registry()
    assert registry is not None, "TensorFlow's gradient registry moved: the sweep does nothing"
    sweep = GradientRegistrySweep()
    sweep.mark()
    before = {name for name in registry if name.startswith(tf_leaks.PREFIX)}
    _fit_one_step()
    added = {name for name in registry if name.startswith(tf_leaks.PREFIX)} - before
    assert added, "a traced train step registers custom gradients (the leak being swept)"
    assert sweep.sweep() == len(added)
    assert {name for name in registry if name.startswith(tf_leaks.PREFIX)} == before
    _fit_one_step()  # training goes on after a sweep
    assert sweep.sweep() == 0  # without a mark, nothing is touched
