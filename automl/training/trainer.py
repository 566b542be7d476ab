"""Fit and evaluate one child (runs inside a worker): build, compile, fit, score.

Each phase is timed (``costs`` in the result: ``build``, ``compile``, ``fit``, ``evaluate``
seconds; ``fixed_prefix``, the frozen layers' outputs computed once, is a part of ``fit``), so a
benchmark or a user can see what a child costs outside ``model.fit``.

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
from automl.builder.average import average_models
from automl.builder.chunks import outputs_in_chunks
from automl.errors import TrialFailedError
from automl.space import Architecture
from automl.tasks.task import Dataset
from automl.tasks.task import loss_for
from automl.training.closed_form import has_fixed_body
from automl.training.closed_form import train_closed_form
from automl.training.cross_validation import fold_data
from automl.training.cross_validation import fold_indices
from automl.training.cross_validation import median_epoch
from automl.training.cross_validation import pool
from automl.training.fixed_prefix import on_prefix_outputs
from automl.training.fixed_prefix import split_fixed_prefix
from automl.training.metrics import classification_metrics
from automl.training.metrics import regression_metrics
from automl.training.recipe import BestEpoch
from automl.training.recipe import Recipe
from automl.training.recipe import class_weights
from automl.training.recipe import learning_rate
from automl.training.recipe import schedule_callbacks

EpochReport = Callable[[int, Mapping[str, float]], bool]

BUILD_EXAMPLES = 256
"""Training inputs handed to the builder for layers that set weights from data (at most)."""

OPTIMIZERS = {"adam": "Adam", "adamw": "AdamW", "sgd": "SGD", "rmsprop": "RMSprop",
              "nadam": "Nadam"}


def model_spec(data: Dataset) -> ModelSpec:
    return ModelSpec(input_shape=data.input_shape, output=data.output,
                     n_outputs=data.n_outputs, image_shape=data.image_shape)


def predict(model: Any, x: np.ndarray) -> np.ndarray:
    """The model's outputs on ``x``; TrialFailedError when any is NaN or infinite."""
    # Direct calls in chunks, not predict(): compiled only for heavy models (builder/chunks.py).
    predictions = outputs_in_chunks(model, x)
    if not np.all(np.isfinite(predictions)):
        raise TrialFailedError("the child predicts NaN or infinite values")
    return predictions


def score(data: Dataset, y: np.ndarray, predictions: np.ndarray) -> dict[str, float]:
    """The task's metrics of ``predictions`` against ``y``."""
    if data.output == "classification":
        return classification_metrics(y, predictions)
    return regression_metrics(y, predictions)


def evaluate(model: Any, data: Dataset, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return score(data, y, predict(model, x))


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
                keep_model: bool = False, reuse_fixed_prefix: bool = True) -> dict[str, Any]:
    """Train ``architecture`` on ``data`` and return its metrics and facts; with
    ``train.folds`` k, train it on k folds (``training/cross_validation.py``).
    ``reuse_fixed_prefix``: layers after a frozen prefix train on its outputs computed once
    (``training/fixed_prefix.py``; off only to measure what that saves).

    Returns:
        ``{"metrics": validation metrics, "test_metrics": ..., "params": int,
        "train_seconds": float, "epochs": [per-epoch dicts], "costs": {phase: seconds},
        "model": model or None}``; cross-validated, ``"summary_model"`` too (one fold's
        network, for the summary a user reads: ``model`` is the folds' mean).

    Raises:
        TrialFailedError: the child cannot be built for this data, or its loss became NaN/inf.
    """
    folds = Recipe.from_train(architecture.train).folds
    if folds >= 2:
        return _train_folds(architecture, data, folds, seed=seed, report=report,
                            keep_model=keep_model, reuse_fixed_prefix=reuse_fixed_prefix)
    out = _train_once(architecture, data, seed=seed, report=report, keep_model=keep_model,
                      reuse_fixed_prefix=reuse_fixed_prefix)
    out.pop("predictions")
    return out


def _train_once(architecture: Architecture, data: Dataset, *, seed: int,
                report: EpochReport | None, keep_model: bool,
                reuse_fixed_prefix: bool = True) -> dict[str, Any]:
    """One network trained on ``data``'s training split: :func:`train_child`'s result plus
    ``"predictions"``, its validation and test outputs."""
    import keras

    costs: dict[str, float] = {}
    clock = time.perf_counter()
    keras.utils.set_random_seed(seed)
    train = dict(architecture.train)
    try:
        model = build_model(architecture, model_spec(data), seed=seed,
                            examples=build_examples(data.x_train, seed))
    except (ValueError, TypeError) as exc:
        raise TrialFailedError(f"cannot build the child: {exc}") from exc
    costs["build"] = time.perf_counter() - clock
    recipe = Recipe.from_train(train)
    if has_fixed_body(model):
        return _fit_head_only(model, data, recipe, costs, report=report, keep_model=keep_model)
    full_model = model
    split = (split_fixed_prefix(model, len(data.x_train) + len(data.x_val) + len(data.x_test))
             if reuse_fixed_prefix else None)
    if split is not None:  # fit what follows the frozen layers on their outputs, once
        data, costs["fixed_prefix"] = on_prefix_outputs(split, data)
        model = split.rest
    clock = time.perf_counter()
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
                    val = evaluate(self.model, data, data.x_val, data.y_val)
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
    train_seconds = time.perf_counter() - started + costs.get("fixed_prefix", 0.0)
    clock = time.perf_counter()
    bad = [e for e in history if not all(math.isfinite(v) for v in e.values())]
    if bad and best is None:
        raise TrialFailedError(f"loss became NaN or infinite at epoch {bad[0]['epoch']}")
    if best is not None:
        if best.best_epoch == 0:
            raise TrialFailedError("no epoch gave finite validation metrics")
        best.restore(model)  # a later NaN does not matter: the best epoch's weights are back
    val_predictions = predict(model, data.x_val)
    metrics = score(data, data.y_val, val_predictions)
    if best is not None:
        metrics["best_epoch"] = float(best.best_epoch)
    test_predictions = predict(model, data.x_test)
    test_metrics = score(data, data.y_test, test_predictions)
    costs.update(fit=train_seconds, evaluate=time.perf_counter() - clock)
    return {
        "metrics": metrics,
        "test_metrics": test_metrics,
        "predictions": (val_predictions, test_predictions),
        "params": int(full_model.count_params()),
        "train_seconds": train_seconds,
        "epochs": history,
        "costs": costs,
        "model": full_model if keep_model else None,
    }


def build_examples(x: np.ndarray, seed: int) -> np.ndarray:
    """At most :data:`BUILD_EXAMPLES` training inputs, drawn with the child's seed."""
    if len(x) <= BUILD_EXAMPLES:
        return x
    rng = np.random.default_rng(seed)
    return x[np.sort(rng.choice(len(x), BUILD_EXAMPLES, replace=False))]


def _fit_head_only(model: Any, data: Dataset, recipe: Recipe, costs: dict[str, float], *,
                   report: EpochReport | None, keep_model: bool) -> dict[str, Any]:
    """A child with nothing to train below its head: the head in closed form
    (``training/closed_form.py``), reported as one epoch."""
    weights = (class_weights(data.y_train, data.n_outputs)
               if recipe.class_weight == "balanced" and data.output == "classification" else None)
    if weights is not None:
        present = set(np.unique(data.y_train).astype(int).tolist())
        weights = {c: w for c, w in weights.items() if c in present}
    try:
        train_seconds, train_outputs = train_closed_form(
            model, data.x_train, data.y_train, output=data.output, n_outputs=data.n_outputs,
            class_weight=weights)
    except (ValueError, np.linalg.LinAlgError) as exc:
        raise TrialFailedError(f"cannot fit the closed-form head: {exc}") from exc
    clock = time.perf_counter()
    val_predictions = predict(model, data.x_val)
    metrics = score(data, data.y_val, val_predictions)
    entry = {"epoch": 1.0,
             "loss": score(data, data.y_train, train_outputs)["loss"],
             **{f"val_{k}": v for k, v in metrics.items()}}
    if report is not None:
        report(1, entry)
    if recipe.early_stopping:
        metrics["best_epoch"] = 1.0
    test_predictions = predict(model, data.x_test)
    costs.update(compile=0.0, fit=train_seconds, evaluate=time.perf_counter() - clock)
    return {
        "metrics": metrics,
        "test_metrics": score(data, data.y_test, test_predictions),
        "predictions": (val_predictions, test_predictions),
        "params": int(model.count_params()),
        "train_seconds": train_seconds,
        "epochs": [entry],
        "costs": costs,
        "model": model if keep_model else None,
    }


def _train_folds(architecture: Architecture, data: Dataset, folds: int, *, seed: int,
                 report: EpochReport | None, keep_model: bool,
                 reuse_fixed_prefix: bool = True) -> dict[str, Any]:
    """``folds`` networks, each held out from one fold of training + validation; scored on
    their out-of-fold predictions, tested (and kept) as their mean."""
    x, y = pool(data)
    splits = fold_indices(y, folds, stratified=data.output == "classification")
    outs: list[dict[str, Any]] = []
    history: list[dict[str, float]] = []
    for k, (train, held_out) in enumerate(splits, start=1):
        offset = len(history)

        def numbered(entry: Mapping[str, float], k: int = k,
                     offset: int = offset) -> dict[str, float]:
            """Epochs count on across folds (a run stores one entry per epoch number)."""
            return {**entry, "epoch": float(offset + entry["epoch"]), "fold": float(k),
                    "fold_epoch": float(entry["epoch"])}

        def fold_report(epoch: int, entry: Mapping[str, float], offset: int = offset) -> bool:
            return report is None or report(offset + epoch, numbered(entry))

        out = _train_once(architecture, fold_data(data, x, y, train, held_out),
                          seed=(seed + k - 1) % (1 << 31), report=fold_report,
                          keep_model=keep_model, reuse_fixed_prefix=reuse_fixed_prefix)
        history.extend(numbered(entry) for entry in out["epochs"])
        outs.append(out)
    held = [h for _, h in splits]
    metrics = score(data, y[np.concatenate(held)], np.concatenate(
        [out["predictions"][0] for out in outs]))
    if all("best_epoch" in out["metrics"] for out in outs):
        metrics["best_epoch"] = median_epoch([out["metrics"]["best_epoch"] for out in outs])
    test_metrics = score(data, data.y_test,
                         np.mean([out["predictions"][1] for out in outs], axis=0))
    costs: dict[str, float] = {}
    for out in outs:
        for phase, seconds in out["costs"].items():
            costs[phase] = costs.get(phase, 0.0) + seconds
    model = summary_model = None
    if keep_model:
        summary_model = outs[0]["model"]
        model = average_models([out["model"] for out in outs],
                               [f"fold_{k}" for k in range(1, folds + 1)],
                               name=f"{summary_model.name}_mean_of_{folds}_folds")
    return {
        "metrics": metrics,
        "test_metrics": test_metrics,
        "params": outs[0]["params"],
        "train_seconds": sum(out["train_seconds"] for out in outs),
        "epochs": history,
        "costs": costs,
        "model": model,
        "summary_model": summary_model,
    }
