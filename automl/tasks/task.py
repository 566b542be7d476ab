"""The task contract: where the data comes from, what the head predicts, how it is scored.

A task declares its parameters (validated with the space), its output (classification or
regression), its loss and its default reward. ``load`` runs once in the driver, so missing or
malformed data files fail before anything trains; ``prepare`` runs in the worker and may depend
on searched task parameters (e.g. a front end: raw waveform or log-mel spectrogram).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from typing import Any
from typing import Literal

import numpy as np

from automl.registry._contracts import require_accepts
from automl.registry._registry import ContractViolation
from automl.space.params import Param
from automl.space.params import check_params

Output = Literal["classification", "regression"]


@dataclass(frozen=True)
class Dataset:
    """Train/validation/test arrays with what the head needs to know.

    Inputs are float32 of shape (n, features), (n, time, features) or (n, h, w, channels);
    classification labels are int64 class indices, regression targets float32 (n, outputs).

    Attributes:
        image_shape: The natural 2-D view of a vector input (digits: 8x8x1), used by conv2d.
        class_names: Names of the classes, index order.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    output: Output = "classification"
    n_outputs: int = 1
    image_shape: tuple[int, ...] | None = None
    class_names: tuple[str, ...] = ()
    extras: Mapping[str, Any] = field(default_factory=dict)
    task_params: Mapping[str, Any] = field(default_factory=dict)
    """The task's single-valued parameters the data was loaded with (set by the search, not by
    ``load``): ``prepare`` gets them together with a child's searched ones
    (:meth:`child_params`), so a parameter works the same given once or as a list."""

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.x_train.shape[1:])

    def with_inputs(self, x_train: np.ndarray, x_val: np.ndarray, x_test: np.ndarray) -> Dataset:
        return replace(self, x_train=x_train, x_val=x_val, x_test=x_test)

    def child_params(self, searched: Mapping[str, Any]) -> dict[str, Any]:
        """Every task parameter of one child: the loaded ones, then its searched ones."""
        return {**self.task_params, **searched}


def check_dataset(data: Any, *, source: str) -> Dataset:
    """``data`` as a task's ``load`` must return it: a :class:`Dataset` whose splits are
    non-empty arrays of matching lengths and input shapes, with labels that index its classes
    (or targets with one column per output). A plugin task that breaks this would otherwise fail
    every child with a Keras error; here it is one line before any run folder exists."""
    from automl.errors import DataError

    def fail(message: str, key: str = "load()") -> DataError:
        return DataError(message, source=source, key=key)

    if not isinstance(data, Dataset):
        raise fail(f"returned {type(data).__name__}; expected an automl.tasks.Dataset")
    if data.output not in ("classification", "regression"):
        raise fail(f"output {data.output!r}; allowed: 'classification', 'regression'")
    if not isinstance(data.n_outputs, int) or data.n_outputs < 1:
        raise fail(f"n_outputs {data.n_outputs!r}; expected a positive integer")
    shape = None
    for split in ("train", "val", "test"):
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        if not (isinstance(x, np.ndarray) and isinstance(y, np.ndarray)):
            raise fail("x and y must be NumPy arrays", f"x_{split}")
        if x.ndim not in (2, 3, 4) or x.dtype.kind not in "fiu":
            raise fail(f"shape {x.shape}, dtype {x.dtype}: expected numbers of shape "
                       "(n, features), (n, time, features) or (n, height, width, channels)",
                       f"x_{split}")
        if len(x) == 0 or len(x) != len(y):
            raise fail(f"{len(x)} inputs and {len(y)} labels: expected as many, at least one",
                       f"y_{split}")
        if shape is not None and x.shape[1:] != shape:
            raise fail(f"input shape {x.shape[1:]} differs from x_train's {shape}", f"x_{split}")
        shape = x.shape[1:]
        if data.output == "classification":
            if y.ndim != 1 or y.dtype.kind not in "iu":
                raise fail(f"shape {y.shape}, dtype {y.dtype}: classification labels are "
                           "integer class indices, one per example", f"y_{split}")
            if y.min() < 0 or y.max() >= data.n_outputs:
                raise fail(f"labels {int(y.min())}..{int(y.max())} do not index the "
                           f"{data.n_outputs} classes (0..{data.n_outputs - 1})", f"y_{split}")
        elif y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1] != data.n_outputs):
            raise fail(f"shape {y.shape}: regression targets are (n,) or (n, "
                       f"{data.n_outputs}) for n_outputs {data.n_outputs}", f"y_{split}")
    return data


class Task:
    """Base class of tasks; subclass it and register with ``TASKS.register(name, instance)``.

    Attributes:
        name: Registered name.
        params: Declared parameters (a list in the YAML makes one a searched decision).
        output: ``classification`` or ``regression``.
        default_reward: Reward used when the space names none.
        fixed_params: Parameters that choose the data itself (a file, a data set, the output
            kind): ``load`` reads them once for the whole search, so a list is refused.
    """

    name: str = ""
    params: Mapping[str, Param] = {}
    fixed_params: tuple[str, ...] = ()
    output: Output = "classification"
    default_reward: str = "accuracy"
    doc: str = ""

    def load(self, params: Mapping[str, Any], *, base_dir: Path, seed: int) -> Dataset:
        """Read the data (driver side) and split it with ``seed``; raise DataError on bad data."""
        raise NotImplementedError

    def prepare(self, data: Dataset, params: Mapping[str, Any]) -> Dataset:
        """Transform the loaded data for one child (worker side); identity by default.
        ``params`` holds every task parameter of the child, searched or not."""
        return data

    @property
    def loss(self) -> str:
        """Keras loss for the head (the trainer uses the loaded data's output kind)."""
        return loss_for(self.output)


def loss_for(output: str) -> str:
    """Keras loss of a head: cross-entropy over class indices, or mean squared error."""
    return "sparse_categorical_crossentropy" if output == "classification" else "mse"


def split_indices(n: int, seed: int, val: float = 0.15, test: float = 0.15,
                  labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded train/validation/test index split, stratified when labels are given."""
    rng = np.random.default_rng(seed)
    if labels is None:
        order = rng.permutation(n)
        n_test, n_val = int(round(n * test)), int(round(n * val))
        return order[n_test + n_val:], order[n_test:n_test + n_val], order[:n_test]
    train, valid, tests = [], [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_test = int(round(len(members) * test))
        n_val = int(round(len(members) * val))
        tests.append(members[:n_test])
        valid.append(members[n_test:n_test + n_val])
        train.append(members[n_test + n_val:])
    return (np.sort(np.concatenate(train)), np.sort(np.concatenate(valid)),
            np.sort(np.concatenate(tests)))


def check_task(name: str, obj: Any) -> Any:
    """A :class:`~automl.tasks.Task` instance (a Task subclass is instantiated) that implements
    ``load``, declares its parameters, its output and a default reward."""
    if isinstance(obj, type) and issubclass(obj, Task):
        try:
            obj = obj()
        except Exception as exc:  # noqa: BLE001 (a failing constructor is a contract problem)
            raise ContractViolation(f"cannot be instantiated without arguments "
                                    f"({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, Task):
        raise ContractViolation(f"must be an automl.tasks.Task (instance or subclass), got "
                                f"{type(obj).__name__}")
    if type(obj).load is Task.load:
        raise ContractViolation("does not implement load(params, *, base_dir, seed)")
    require_accepts(obj.load, "load", "(params, *, base_dir, seed)", {}, base_dir=None, seed=0)
    require_accepts(obj.prepare, "prepare", "(data, params)", None, {})
    if not obj.name:
        obj.name = name
    elif obj.name != name:
        raise ContractViolation(f"is registered under a different name than its "
                                f"Task.name {obj.name!r}")
    check_params(obj.params, defaults_required=False)
    if obj.output not in ("classification", "regression"):
        raise ContractViolation(f"output {obj.output!r}; allowed: 'classification', "
                                "'regression'")
    if not isinstance(obj.default_reward, str) or not obj.default_reward.isidentifier():
        raise ContractViolation(f"default_reward {obj.default_reward!r} is not a reward name")
    if not isinstance(obj.loss, str) or not obj.loss:
        raise ContractViolation(f"loss {obj.loss!r} is not a Keras loss name")
    return obj
