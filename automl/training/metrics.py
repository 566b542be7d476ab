"""Metrics of a child on one split: accuracy, UAR, CCC, loss. Pure NumPy, hand-checkable."""

from __future__ import annotations

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true == y_pred)) if len(y_true) else 0.0


def uar(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted average recall: the mean of per-class recalls over the classes present
    (the measure of the ComParE challenges; chance level is 1 / classes)."""
    classes = np.unique(y_true)
    if len(classes) == 0:
        return 0.0
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))


def ccc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Concordance correlation coefficient (Lin 1989), averaged over output columns:
    2 cov(x, y) / (var x + var y + (mean x - mean y)^2)."""
    y_true = np.asarray(y_true, dtype=np.float64).reshape(len(y_true), -1)
    y_pred = np.asarray(y_pred, dtype=np.float64).reshape(len(y_pred), -1)
    values = []
    for t, p in zip(y_true.T, y_pred.T, strict=True):
        mean_t, mean_p = t.mean(), p.mean()
        cov = np.mean((t - mean_t) * (p - mean_p))
        denom = t.var() + p.var() + (mean_t - mean_p) ** 2
        values.append(2 * cov / denom if denom > 0 else 0.0)
    return float(np.mean(values))


def classification_metrics(y_true: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    predicted = np.argmax(probabilities, axis=-1)
    eps = 1e-7
    picked = probabilities[np.arange(len(y_true)), y_true.astype(int)]
    loss = float(-np.mean(np.log(np.clip(picked, eps, 1.0)))) if len(y_true) else 0.0
    return {"accuracy": accuracy(y_true, predicted), "uar": uar(y_true, predicted), "loss": loss}


def regression_metrics(y_true: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    y_true = y_true.reshape(predicted.shape)
    mse = float(np.mean((y_true - predicted) ** 2))
    return {"ccc": ccc(y_true, predicted), "mse": mse, "loss": mse}
