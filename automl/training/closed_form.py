"""A closed-form head for a child whose body has nothing to train.

Why: a body of fixed features (``minirocket``, alone or with pooling and dropout) leaves only
the head to learn, a linear model on fixed features. Ridge regression with its penalty chosen
by leave-one-out error (scikit-learn's ``RidgeClassifierCV`` / ``RidgeCV``, MiniRocket's own
classifier) fits it in one solve; epochs of Adam on the softmax head got less from the same
features (GunPoint, 10,000 MiniRocket features, 40 training series: test accuracy 0.98 after
150 epochs against 1.00 for ridge, measured before this module was written).

The rule (``train_closed_form``): when no layer below the head has a trainable weight, the
child's training is this fit instead of ``model.fit``; ``train.epochs``, the optimizer and the
learning-rate settings do not apply, the class weights do. The head stays the task's Keras
``Dense`` layer, so the model saves, exports and averages like any other:

* classification: the ridge scores (one per class, targets -1/+1) times a temperature, then the
  head's softmax. The temperature is the one (of a grid) whose softmax of the *leave-one-out*
  scores on the training split has the lowest log loss, so the probabilities, and the
  validation loss that breaks ties between children, are neither flat nor overconfident
  where those scores make mistakes. Where they make none, the temperature goes to the top of
  the grid and the probabilities saturate; Platt's smoothed targets bound it, but were
  measured and not kept (docs/benchmark.md, "A bounded temperature for the closed-form head").
  Classes absent from the training split get a score far below the others;
* regression: the ridge predictions, ``Dense`` with no activation.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from automl.builder.chunks import outputs_in_chunks

ALPHAS = np.logspace(-3, 3, 10)
"""Ridge penalties tried (MiniRocket's grid); the one with the lowest leave-one-out error wins."""
TEMPERATURES = np.logspace(-1, 2, 31)
ABSENT_CLASS_SCORE = -1e3


TRAIN_KEYS_USED = ("class_weight", "folds")
"""The ``train`` settings a closed-form child still reads; the others (optimizer, learning
rate, epochs, the recipe) belong to gradient descent, which it does not run."""


def has_fixed_body(model: Any) -> bool:
    """True when only the layer named ``head`` has trainable weights."""
    return all(not layer.trainable_weights for layer in model.layers if layer.name != "head")


def body_features(model: Any, x: np.ndarray) -> np.ndarray:
    """The head's input for ``x`` (float64, for the solver)."""
    import keras

    body = keras.Model(model.inputs[0], model.get_layer("head").input)
    return outputs_in_chunks(body, x).astype(np.float64)


def best_temperature(loo_scores: np.ndarray, y: np.ndarray) -> float:
    """The temperature of :data:`TEMPERATURES` whose softmax of the leave-one-out scores has
    the lowest log loss on ``y``."""
    from scipy.special import softmax

    rows = np.arange(len(y))
    losses = [-np.mean(np.log(np.clip(softmax(t * loo_scores, axis=1)[rows, y], 1e-12, 1.0)))
              for t in TEMPERATURES]
    return float(TEMPERATURES[int(np.argmin(losses))])


def fit_classifier_head(features: np.ndarray, y: np.ndarray, n_classes: int,
                        class_weight: dict[int, float] | None) -> tuple[np.ndarray, np.ndarray]:
    """(kernel (features, classes), bias (classes,)) of the softmax head."""
    from sklearn.linear_model import RidgeClassifierCV

    chosen = RidgeClassifierCV(alphas=ALPHAS, class_weight=class_weight).fit(features, y)
    # Refit at the chosen penalty to get the leave-one-out scores (the same coefficients).
    ridge = RidgeClassifierCV(alphas=[chosen.alpha_], class_weight=class_weight,
                              scoring="neg_mean_squared_error",
                              store_cv_results=True).fit(features, y)
    present = [int(c) for c in ridge.classes_]
    coef = np.asarray(ridge.coef_).reshape(-1, features.shape[1])
    intercept = np.asarray(ridge.intercept_).reshape(-1)
    loo = np.asarray(ridge.cv_results_).reshape(len(y), -1)
    if len(present) == 2:  # one score s for the second class: scores (-s, s) / 2 as two
        coef = np.stack([-coef[0], coef[0]]) / 2.0
        intercept = np.asarray([-intercept[0], intercept[0]]) / 2.0
        loo = np.stack([-loo[:, 0], loo[:, 0]], axis=1) / 2.0
    if len(present) >= 2:
        index = {c: i for i, c in enumerate(present)}
        temperature = best_temperature(loo, np.asarray([index[int(c)] for c in y]))
    else:
        temperature = 1.0
    kernel = np.zeros((features.shape[1], n_classes))
    bias = np.full(n_classes, ABSENT_CLASS_SCORE)
    for i, c in enumerate(present):
        kernel[:, c] = temperature * coef[i]
        bias[c] = temperature * intercept[i]
    return kernel, bias


def fit_regression_head(features: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.linear_model import RidgeCV

    ridge = RidgeCV(alphas=ALPHAS).fit(features, y.reshape(len(y), -1))
    return np.asarray(ridge.coef_).reshape(-1, features.shape[1]).T, \
        np.asarray(ridge.intercept_).reshape(-1)


def train_closed_form(model: Any, x: np.ndarray, y: np.ndarray, *, output: str,
                      n_outputs: int,
                      class_weight: dict[int, float] | None) -> tuple[float, np.ndarray]:
    """Fit ``model``'s head in closed form on ``(x, y)``.

    Returns:
        The seconds it took and the model's outputs on ``x`` (from the features already
        computed: the body of a MiniRocket child is most of its cost).
    """
    started = time.perf_counter()
    features = body_features(model, x)
    if output == "classification":
        kernel, bias = fit_classifier_head(features, y.astype(np.int64), n_outputs,
                                           class_weight)
    else:
        kernel, bias = fit_regression_head(features, y)
    kernel, bias = kernel.astype(np.float32), bias.astype(np.float32)
    model.get_layer("head").set_weights([kernel, bias])
    outputs = features.astype(np.float32) @ kernel + bias
    if output == "classification":
        from scipy.special import softmax

        outputs = softmax(outputs, axis=1)
    return time.perf_counter() - started, outputs


__all__ = ["TRAIN_KEYS_USED", "has_fixed_body", "train_closed_form"]
