"""A plugin task's load() is checked where it runs: what it raises, or data that is not a
well-formed Dataset, is one line naming the plugin before any run folder exists (not a
traceback, nor every child failing in Keras); prepare() gets every task parameter of a child,
given once or searched."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from automl.engine import check_space_data
from automl.engine import run_search
from automl.errors import UserInputError
from automl.execution import ExecutionSettings
from automl.registry import TASKS
from automl.registry._registry import loading
from automl.space import Param
from automl.space import load_space
from automl.store import TrialStore
from automl.tasks import Dataset
from automl.tasks import Task

SOURCE = "/plugins/my_tasks.py"


def _blobs(labels_offset: int = 0, x_shape: tuple[int, ...] = (40, 3)) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=x_shape).astype(np.float32)
    y = (np.arange(x_shape[0]) % 3 + labels_offset).astype(np.int64)
    return Dataset(x, y, x[:10], y[:10], x[:10], y[:10], n_outputs=3)


class Odd(Task):
    """Loads what ``kind`` says: a good Dataset, a raise, None, bad labels or 1-D inputs."""

    params = {"kind": Param(str, default="good"), "scale": Param(float, default=1.0)}
    fixed_params = ("kind",)

    def load(self, params: Mapping[str, Any], *, base_dir: Path, seed: int) -> Any:
        kind = params["kind"]
        if kind == "raises":
            raise ValueError("the archive is corrupt")
        if kind == "none":
            return None
        if kind == "labels":
            return _blobs(labels_offset=5)
        if kind == "flat":
            return _blobs(x_shape=(40,))
        return _blobs()

    def prepare(self, data: Dataset, params: Mapping[str, Any]) -> Dataset:
        if params["scale"] != 2.0:  # given once in the YAML: it must reach every child
            raise AssertionError(f"prepare() got {dict(params)}")
        return data.with_inputs(data.x_train * 2, data.x_val * 2, data.x_test * 2)


@pytest.fixture()
def odd_task(isolated_plugins: None) -> None:
    with loading(SOURCE):
        TASKS.register("odd", Odd())


def _space(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.yaml"
    path.write_text(f"task: {{name: odd, kind: {kind}, scale: 2.0}}\nreward: accuracy\n"
                    "layers: {min: 1, max: 1, types: {dense: {units: [4, 8]}}}\n"
                    "train: {epochs: 1, batch_size: 16}\n")
    return path


@pytest.mark.parametrize("kind, says", [
    ("raises", "load() raised ValueError: the archive is corrupt"),
    ("none", "load(): returned NoneType; expected an automl.tasks.Dataset"),
    ("labels", "y_train: labels 5..7 do not index the 3 classes (0..2)"),
    ("flat", "x_train: shape (40,), dtype float32: expected numbers of shape"),
])
def test_a_bad_load_is_one_line_naming_the_plugin(odd_task: None, tmp_path: Path, kind: str,
                                                   says: str) -> None:
    with pytest.raises(UserInputError) as info:  # what `spaces validate --data` runs
        check_space_data(load_space(_space(tmp_path, kind)))
    line = info.value.one_line()
    assert line.startswith(f"{SOURCE}: task 'odd': ") and says in line, line
    with pytest.raises(UserInputError):
        run_search(_space(tmp_path, kind), strategy="random", trials=1,
                   runs_dir=tmp_path / "runs", execution=ExecutionSettings(executor="in_process"))
    assert not (tmp_path / "runs").exists()


def test_prepare_gets_the_parameters_given_once(odd_task: None, tmp_path: Path) -> None:
    outcome = run_search(_space(tmp_path, "good"), strategy="random", trials=1, name="odd",
                         runs_dir=tmp_path / "runs",
                         execution=ExecutionSettings(executor="in_process"))
    with TrialStore(outcome.run_path / "trials.sqlite", readonly=True) as store:
        (trial,) = store.trials()
    assert trial.status.value == "complete", trial.error
