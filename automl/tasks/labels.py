"""Class labels as users have them: names ("walking", "Gun-Draw") or integers, mapped to the
class indices a head predicts, with the names kept in index order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _order(name: str) -> tuple[int, float, str]:
    """Numeric names sort by value ("2" before "10"), then the rest alphabetically."""
    try:
        return 0, float(name), name
    except ValueError:
        return 1, 0.0, name


def _values(labels: np.ndarray) -> list[object]:
    labels = np.asarray(labels)
    if labels.dtype.kind == "S":  # bytes labels (e.g. written by older NumPy code)
        labels = np.char.decode(labels, "utf-8")
    return labels.ravel().tolist()


def class_vocabulary(*label_arrays: np.ndarray) -> tuple[str, ...]:
    """The class names of all given label arrays, sorted (numerically where they are numbers)."""
    names = {str(v) for labels in label_arrays for v in _values(labels)}
    return tuple(sorted(names, key=_order))


def encode(labels: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Class indices of ``labels`` in ``names`` (every label must be one of them)."""
    index = {name: i for i, name in enumerate(names)}
    return np.asarray([index[str(v)] for v in _values(labels)], dtype=np.int64)


def is_text(labels: np.ndarray) -> bool:
    """True for string labels (NumPy unicode or bytes arrays)."""
    return np.asarray(labels).dtype.kind in "US"
