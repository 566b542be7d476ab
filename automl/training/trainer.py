"""Fit and evaluate one child (runs inside a worker): build, compile, fit, score.

Per-epoch validation metrics go through one callback, ``report(epoch, metrics)``, which a
scheduler can later use to stop a child early (it returns False to stop).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

import numpy as np

from automl.builder import ModelSpec
from automl.builder import build_model
from automl.errors import TrialFailedError
from automl.space import Architecture
from automl.tasks.task import Dataset
from automl.tasks.task import loss_for
from automl.training.metrics import classification_metrics
from automl.training.metrics import regression_metrics

EpochReport = Callable[[int, Mapping[str, float]], bool]

OPTIMIZERS = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop",
              "nadam": "Nadam"}


def model_spec(data: Dataset) -> ModelSpec:
    return ModelSpec(input_shape=data.input_shape, output=data.output,
                     n_outputs=data.n_outputs, image_shape=data.image_shape)


def evaluate(model: Any, data: Dataset, x: np.ndarray, y: np.ndarray,
             batch_size: int) -> dict[str, float]:
    # Direct calls in chunks: no predict() tf.function to retrace for every fresh child.
    chunk = max(batch_size, 1024)
    predictions = np.concatenate(
        [np.asarray(model(x[i:i + chunk], training=False)) for i in range(0, len(x), chunk)])
    if not np.all(np.isfinite(predictions)):
        raise TrialFailedError("the child predicts NaN or infinite values")
    if data.output == "classification":
        return classification_metrics(y, predictions)
    return regression_metrics(y, predictions)


def keras_summary(model: Any) -> str:
    """``model.summary()`` as text (80 columns: Keras' table loses columns when wider off a
    terminal), stored with the trial so ``automl show`` never rebuilds the model."""
    parts: list[str] = []
    model.summary(line_length=80, print_fn=lambda text, line_break=True: parts.append(
        text + ("\n" if line_break and not text.endswith("\n") else "")))
    return "".join(parts)


def train_child(architecture: Architecture, data: Dataset, *, seed: int,
                report: EpochReport | None = None,
                keep_model: bool = False) -> dict[str, Any]:
    """Train ``architecture`` on ``data`` and return its metrics and facts.

    Returns:
        ``{"metrics": validation metrics, "test_metrics": ..., "params": int,
        "train_seconds": float, "epochs": [per-epoch dicts], "model": model or None}``.

    Raises:
        TrialFailedError: the child cannot be built for this data, or its loss became NaN/inf.
    """
    import keras

    keras.utils.set_random_seed(seed)
    train = dict(architecture.train)
    try:
        model = build_model(architecture, model_spec(data), seed=seed)
    except (ValueError, TypeError) as exc:
        raise TrialFailedError(f"cannot build the child: {exc}") from exc
    optimizer = getattr(keras.optimizers, OPTIMIZERS[train.get("optimizer", "adam")])(
        learning_rate=float(train.get("learning_rate", 1e-3)))
    model.compile(optimizer=optimizer, loss=loss_for(data.output))
    batch_size = int(train.get("batch_size", 32))
    epochs = int(train.get("epochs", 10))
    history: list[dict[str, float]] = []

    class _Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
            logs = dict(logs or {})
            entry = {"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}}
            history.append(entry)
            if not all(math.isfinite(v) for v in entry.values()):
                self.model.stop_training = True
            elif report is not None and report(epoch + 1, entry) is False:
                self.model.stop_training = True

    started = time.perf_counter()
    model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
              batch_size=batch_size, epochs=epochs, verbose=0, shuffle=True,
              callbacks=[_Report()])
    train_seconds = time.perf_counter() - started
    bad = [e for e in history if not all(math.isfinite(v) for v in e.values())]
    if bad:
        raise TrialFailedError(f"loss became NaN or infinite at epoch {bad[0]['epoch']}")
    metrics = evaluate(model, data, data.x_val, data.y_val, batch_size)
    test_metrics = evaluate(model, data, data.x_test, data.y_test, batch_size)
    return {
        "metrics": metrics,
        "test_metrics": test_metrics,
        "params": int(model.count_params()),
        "train_seconds": train_seconds,
        "epochs": history,
        "model": model if keep_model else None,
    }
