"""Fit and evaluate one child (runs inside a worker): build, compile, fit, score.

Each phase is timed (``costs`` in the result: ``build``, ``compile``, ``fit``, ``evaluate``
seconds), so a benchmark or a user can see what a child costs outside ``model.fit``.

Per-epoch validation metrics go through one callback, ``report(epoch, metrics)``, which a
scheduler can later use to stop a child early (it returns False to stop). The recipe settings
(early stopping with best-weights restore, learning-rate schedule, class weights) live in
:mod:`automl.training.recipe`; with early stopping on, each epoch's entry also carries the
validation metrics (``val_accuracy``, ...) and the returned metrics are the best epoch's.
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
from automl.training.recipe import BestEpoch
from automl.training.recipe import Recipe
from automl.training.recipe import class_weights
from automl.training.recipe import learning_rate
from automl.training.recipe import schedule_callbacks

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


def _check_monitor(monitor: str, data: Dataset) -> None:
    reported = (("accuracy", "uar", "loss") if data.output == "classification"
                else ("ccc", "mse", "loss"))
    if monitor not in reported:
        raise TrialFailedError(f"train.monitor {monitor!r} is not a validation metric of this "
                               f"{data.output} task; allowed: {', '.join(reported)}")


def train_child(architecture: Architecture, data: Dataset, *, seed: int,
                report: EpochReport | None = None,
                keep_model: bool = False) -> dict[str, Any]:
    """Train ``architecture`` on ``data`` and return its metrics and facts.

    Returns:
        ``{"metrics": validation metrics, "test_metrics": ..., "params": int,
        "train_seconds": float, "epochs": [per-epoch dicts], "costs": {phase: seconds},
        "model": model or None}``.

    Raises:
        TrialFailedError: the child cannot be built for this data, or its loss became NaN/inf.
    """
    import keras

    costs: dict[str, float] = {}
    clock = time.perf_counter()
    keras.utils.set_random_seed(seed)
    train = dict(architecture.train)
    try:
        model = build_model(architecture, model_spec(data), seed=seed)
    except (ValueError, TypeError) as exc:
        raise TrialFailedError(f"cannot build the child: {exc}") from exc
    costs["build"] = time.perf_counter() - clock
    clock = time.perf_counter()
    recipe = Recipe.from_train(train)
    batch_size = int(train.get("batch_size", 32))
    steps_per_epoch = math.ceil(len(data.x_train) / batch_size)
    optimizer = getattr(keras.optimizers, OPTIMIZERS[train.get("optimizer", "adam")])(
        learning_rate=learning_rate(recipe, float(train.get("learning_rate", 1e-3)),
                                    steps_per_epoch))
    model.compile(optimizer=optimizer, loss=loss_for(data.output))
    costs["compile"] = time.perf_counter() - clock
    history: list[dict[str, float]] = []
    best = BestEpoch(recipe) if recipe.early_stopping else None
    if best is not None:
        _check_monitor(recipe.monitor, data)

    class _Report(keras.callbacks.Callback):
        def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
            logs = dict(logs or {})
            entry = {"epoch": epoch + 1, **{k: float(v) for k, v in logs.items()}}
            if best is not None and math.isfinite(entry.get("loss", 0.0)):
                try:
                    val = evaluate(self.model, data, data.x_val, data.y_val, batch_size)
                except TrialFailedError:  # NaN predictions: stop; the best epoch is kept
                    entry["val_loss"] = math.nan
                else:
                    entry.update({f"val_{k}": v for k, v in val.items() if k != "loss"})
                    if best.observe(epoch + 1, val, self.model):
                        self.model.stop_training = True
            history.append(entry)
            if not all(math.isfinite(v) for v in entry.values()):
                self.model.stop_training = True
            elif report is not None and report(epoch + 1, entry) is False:
                self.model.stop_training = True

    weights = (class_weights(data.y_train, data.n_outputs)
               if recipe.class_weight == "balanced" and data.output == "classification" else None)
    started = time.perf_counter()
    model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
              batch_size=batch_size, epochs=recipe.epochs, verbose=0, shuffle=True,
              class_weight=weights, callbacks=[_Report(), *schedule_callbacks(recipe)])
    train_seconds = time.perf_counter() - started
    clock = time.perf_counter()
    bad = [e for e in history if not all(math.isfinite(v) for v in e.values())]
    if bad and best is None:
        raise TrialFailedError(f"loss became NaN or infinite at epoch {bad[0]['epoch']}")
    if best is not None:
        if best.best_epoch == 0:
            raise TrialFailedError("no epoch gave finite validation metrics")
        best.restore(model)  # a later NaN does not matter: the best epoch's weights are back
    metrics = evaluate(model, data, data.x_val, data.y_val, batch_size)
    if best is not None:
        metrics["best_epoch"] = float(best.best_epoch)
    test_metrics = evaluate(model, data, data.x_test, data.y_test, batch_size)
    costs.update(fit=train_seconds, evaluate=time.perf_counter() - clock)
    return {
        "metrics": metrics,
        "test_metrics": test_metrics,
        "params": int(model.count_params()),
        "train_seconds": train_seconds,
        "epochs": history,
        "costs": costs,
        "model": model if keep_model else None,
    }
