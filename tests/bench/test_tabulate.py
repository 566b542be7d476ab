"""`tabulate` trains every architecture of a small space once, on Ray, and resumes."""

from __future__ import annotations

from pathlib import Path

import pytest

from automl.bench.table import load_table
from automl.bench.tabulate import tabulate
from automl.errors import UserInputError
from automl.execution import ExecutionSettings
from automl.space import load_space
from automl.store import TrialStore
from tests.conftest import SPACES

SPACE = """
name: four
task: digits
layers:
  min: 1
  max: 1
  types:
    dense:
      units: [8, 16]
train:
  learning_rate: [0.01, 0.003]
  batch_size: 256
  epochs: 1
"""


@pytest.mark.slow
def test_tabulate_writes_every_architecture_and_resumes(ray_instance, tmp_path: Path) -> None:
    space = tmp_path / "four.yaml"
    space.write_text(SPACE)
    out = tmp_path / "table.csv"
    summary = tabulate(space, out, execution=ExecutionSettings(workers=2),
                       runs_dir=tmp_path / "runs")
    assert summary["rows"] == 4 and summary["failed"] == 0
    table = load_table(out, load_space(space))
    assert len(table) == 4
    assert {a.id for a in load_space(space).enumerate()} == set(table.rows)
    header = out.read_text().splitlines()[0].split(",")
    assert {"layers.0.units", "train.learning_rate", "reward", "seconds", "params",
            "val_accuracy", "test_accuracy"} <= set(header)
    again = tabulate(space, out, execution=ExecutionSettings(workers=2),
                     runs_dir=tmp_path / "runs")  # resumes: nothing left to train
    assert again["rows"] == 4
    store = TrialStore(tmp_path / "runs" / "tabulate-four" / "trials.sqlite", readonly=True)
    assert len(store.trials()) == 4


def test_tabulate_refuses_large_spaces(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="more than the limit"):
        tabulate(SPACES / "lecture_dense.yaml", tmp_path / "t.csv",
                 execution=ExecutionSettings(workers=1), runs_dir=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


def test_tabulate_refuses_a_scheduler(tmp_path: Path) -> None:
    """A stopped child is a partial result: it must never become a table row."""
    with pytest.raises(UserInputError, match="fully trained children"):
        tabulate(SPACES / "tabular_dense.yaml", tmp_path / "t.csv", runs_dir=tmp_path / "runs",
                 execution=ExecutionSettings(scheduler="asha", executor="in_process"))
    assert not (tmp_path / "runs").exists() and not (tmp_path / "t.csv").exists()
