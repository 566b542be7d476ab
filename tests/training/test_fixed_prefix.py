"""Layers after a frozen prefix (``minirocket`` and what lies below it) train on the prefix's
outputs computed once: the same training as through the whole model, the whole model kept."""

from __future__ import annotations

import numpy as np
import pytest

from automl.space import Architecture
from automl.tasks import Dataset
from automl.training import fixed_prefix
from automl.training.fixed_prefix import split_fixed_prefix
from automl.training.trainer import evaluate
from automl.training.trainer import train_child


def _waves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(2, size=n)
    t = np.arange(48) / 48
    x = np.sin(2 * np.pi * (2 + 3 * y[:, None]) * t + rng.uniform(0, 6.3, size=(n, 1)))
    return (x + 0.3 * rng.normal(size=x.shape)).astype("float32")[..., None], y


def _data() -> Dataset:
    (xa, ya), (xb, yb), (xc, yc) = _waves(24, 0), _waves(12, 1), _waves(12, 2)
    return Dataset(xa, ya, xb, yb, xc, yc, n_outputs=2)


ROCKET_THEN_BLOCK = Architecture(
    ({"type": "minirocket", "features": 168, "max_dilations": 4},
     {"type": "fcn_block", "filters": 4, "kernel_size": 3}),
    {"epochs": 4, "batch_size": 8, "learning_rate": 0.01})


def test_training_on_the_prefix_outputs_is_training_through_the_whole_model(tmp_path) -> None:
    import keras

    data = _data()
    reused = train_child(ROCKET_THEN_BLOCK, data, seed=3, keep_model=True)
    through = train_child(ROCKET_THEN_BLOCK, data, seed=3, keep_model=True,
                          reuse_fixed_prefix=False)
    assert "fixed_prefix" in reused["costs"] and "fixed_prefix" not in through["costs"]
    assert [e["loss"] for e in reused["epochs"]] == pytest.approx(
        [e["loss"] for e in through["epochs"]], rel=1e-4)
    assert reused["metrics"]["loss"] == pytest.approx(through["metrics"]["loss"], rel=1e-4)
    assert reused["params"] == through["params"]
    # The kept model is the whole child, inputs to outputs, with the trained weights.
    model = reused["model"]
    assert model.inputs[0].shape[1:] == data.x_train.shape[1:]
    assert evaluate(model, data, data.x_val, data.y_val)["loss"] == pytest.approx(
        reused["metrics"]["loss"], rel=1e-5)
    model.save(tmp_path / "child.keras")
    loaded = keras.saving.load_model(tmp_path / "child.keras", safe_mode=True)
    np.testing.assert_allclose(np.asarray(loaded(data.x_test)), np.asarray(model(data.x_test)),
                               atol=1e-6)


def _chain(*layers, frozen: int = 0):  # type: ignore[no-untyped-def]
    import keras

    inputs = keras.Input((16, 2))
    x = inputs
    for layer in layers:
        x = layer(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(x))
    for layer in model.layers[1:1 + frozen]:
        layer.trainable = False
    return model


def test_only_a_frozen_prefix_with_weights_and_one_way_through_is_split() -> None:
    import keras

    layers = keras.layers
    # Frozen convolution, then a trainable one: split after the frozen one.
    split = split_fixed_prefix(_chain(layers.Conv1D(3, 3), layers.Conv1D(3, 3),
                                      layers.GlobalAveragePooling1D(), frozen=1), 10)
    assert split is not None and split.prefix.output.shape == (None, 14, 3)
    assert [w.shape for w in split.rest.trainable_weights][0] == (3, 3, 3)
    # Nothing frozen, or nothing with weights before the first trainable layer: no split.
    assert split_fixed_prefix(_chain(layers.Conv1D(3, 3), layers.Flatten()), 10) is None
    assert split_fixed_prefix(_chain(layers.Flatten(), layers.Dense(3)), 10) is None
    # Dropout drops in training: a split after it would drop nothing, unless it is frozen.
    dropout_first = [layers.Dropout(0.5), layers.Conv1D(3, 3), layers.Flatten()]
    assert split_fixed_prefix(_chain(*dropout_first), 10) is None
    frozen_dropout = split_fixed_prefix(
        _chain(layers.Dropout(0.5), layers.Conv1D(3, 3), layers.Conv1D(3, 3),
               layers.Flatten(), frozen=2), 10)
    assert frozen_dropout is not None and frozen_dropout.prefix.output.shape == (None, 14, 3)
    # A shortcut around the frozen convolution: no tensor every path goes through.
    inputs = keras.Input((16, 2))
    frozen = layers.Conv1D(2, 3, padding="same", trainable=False)
    skip = layers.Add()([layers.Conv1D(2, 3, padding="same")(frozen(inputs)), inputs])
    model = keras.Model(inputs, layers.Dense(2)(layers.Flatten()(skip)))
    assert split_fixed_prefix(model, 10) is None


def test_outputs_too_big_to_keep_are_computed_batch_by_batch(monkeypatch) -> None:
    import keras

    model = _chain(keras.layers.Conv1D(3, 3), keras.layers.Conv1D(3, 3),
                   keras.layers.Flatten(), frozen=1)
    assert split_fixed_prefix(model, 100) is not None
    monkeypatch.setattr(fixed_prefix, "CACHE_BYTES", 4 * 14 * 3 * 100 - 1)
    assert split_fixed_prefix(model, 100) is None
