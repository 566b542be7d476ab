"""A child whose body has nothing to train (``minirocket`` alone) gets its head by ridge
regression in closed form: one solve instead of epochs, probabilities calibrated on
leave-one-out scores, and a plain Keras model that saves and loads like any other."""

from __future__ import annotations

import numpy as np
import pytest

from automl.space import Architecture
from automl.tasks import Dataset
from automl.training.closed_form import best_temperature
from automl.training.closed_form import fit_classifier_head
from automl.training.trainer import evaluate
from automl.training.trainer import train_child


def _waves(n: int, seed: int, classes: int = 3, length: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Sines whose frequency is the class, with random phase and noise."""
    rng = np.random.default_rng(seed)
    y = rng.integers(classes, size=n)
    t = np.arange(length) / length
    x = np.sin(2 * np.pi * (2 + 2 * y[:, None]) * t + rng.uniform(0, 6.3, size=(n, 1)))
    return (x + 0.3 * rng.normal(size=x.shape)).astype("float32")[..., None], y


def _data(output: str = "classification") -> Dataset:
    (xa, ya), (xb, yb), (xc, yc) = _waves(30, 0), _waves(15, 1), _waves(30, 2)
    if output == "regression":  # the target: the class as a number, learnt from the wave
        return Dataset(xa, ya[:, None].astype("float32"), xb, yb[:, None].astype("float32"),
                       xc, yc[:, None].astype("float32"), output="regression", n_outputs=1)
    return Dataset(xa, ya, xb, yb, xc, yc, n_outputs=3, class_names=("a", "b", "c"))


ROCKET = ({"type": "minirocket", "features": 840, "max_dilations": 32},)


def test_a_fixed_body_child_is_fitted_in_one_solve_and_generalises() -> None:
    out = train_child(Architecture(ROCKET, {"epochs": 50, "patience": 5,
                                            "monitor": "accuracy"}), _data(), seed=0,
                      keep_model=True)
    assert len(out["epochs"]) == 1 and out["costs"]["compile"] == 0.0
    assert out["metrics"]["accuracy"] >= 0.9 and out["test_metrics"]["accuracy"] >= 0.9
    assert out["metrics"]["best_epoch"] == 1.0
    assert out["epochs"][0]["val_accuracy"] == out["metrics"]["accuracy"]
    # The epoch's training loss, computed from the features the fit used, is the model's.
    data = _data()
    assert out["epochs"][0]["loss"] == pytest.approx(
        evaluate(out["model"], data, data.x_train, data.y_train)["loss"], abs=1e-4)
    # The scores are scaled (these waves separate without a leave-one-out mistake, so far
    # up): the validation loss is far below that of flat probabilities, log 3.
    assert out["metrics"]["loss"] < 0.2 * np.log(3)


def test_the_model_saves_and_loads_with_keras_alone(tmp_path) -> None:
    import keras

    out = train_child(Architecture(ROCKET, {}), _data(), seed=0, keep_model=True)
    path = tmp_path / "child.keras"
    out["model"].save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = _data().x_test
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(out["model"](x)), atol=1e-6)


def test_a_regression_child_gets_a_ridge_head() -> None:
    out = train_child(Architecture(ROCKET, {}), _data("regression"), seed=0)
    assert len(out["epochs"]) == 1 and out["test_metrics"]["ccc"] > 0.8


def test_a_body_with_weights_still_trains_by_gradient() -> None:
    layers = (*ROCKET, {"type": "dense", "units": 8, "activation": "relu"})
    out = train_child(Architecture(layers, {"epochs": 3}), _data(), seed=0)
    assert len(out["epochs"]) == 3 and out["costs"]["compile"] > 0.0


def test_folds_fit_one_head_per_fold() -> None:
    out = train_child(Architecture(ROCKET, {"folds": 3}), _data(), seed=0)
    assert [e["fold"] for e in out["epochs"]] == [1.0, 2.0, 3.0]
    assert out["metrics"]["accuracy"] >= 0.9


def test_a_class_absent_from_training_is_never_predicted() -> None:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(20, 5))
    y = (features[:, 0] > 0).astype(np.int64) * 2          # classes 0 and 2 of 3
    kernel, bias = fit_classifier_head(features, y, 3, None)
    scores = features @ kernel + bias
    assert set(scores.argmax(axis=1).tolist()) <= {0, 2}
    assert np.mean(scores.argmax(axis=1) == y) >= 0.9


@pytest.mark.parametrize("separated", [True, False])
def test_the_temperature_follows_how_well_held_out_scores_separate(separated: bool) -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(2, size=200)
    signal = np.where(y == 1, 1.0, -1.0) if separated else rng.normal(size=200)
    scores = np.stack([-signal, signal], axis=1) / 2
    temperature = best_temperature(scores, y)
    assert (temperature > 10) if separated else (temperature < 1)


def test_a_wide_fixed_body_predicts_in_small_chunks() -> None:
    import keras

    from automl.builder.chunks import CALL_BYTES
    from automl.builder.chunks import MAX_ROWS
    from automl.builder.chunks import rows_per_call
    from automl.training.trainer import predict

    x = _data().x_train
    out = train_child(Architecture(({"type": "minirocket", "features": 9996,
                                     "max_dilations": 32},), {}), _data(), seed=0,
                      keep_model=True)
    rows = rows_per_call(out["model"])
    assert 1 <= rows < MAX_ROWS
    # At least 64 steps x ~10,000 features in float32 per example (half the convolutions
    # are unpadded and a little shorter; each output is held twice, before and after the step):
    assert rows <= CALL_BYTES // (4 * 64 * 9996)
    small = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    assert rows_per_call(small) == MAX_ROWS
    np.testing.assert_allclose(predict(out["model"], x), np.asarray(out["model"](x)), atol=1e-6)
