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


@pytest.mark.slow
def test_equivalent_architectures_train_once_and_each_gets_its_row(tmp_path: Path) -> None:
    """Dropout alone is one child whatever its rate and learning rate (a closed-form head on
    the inputs): the search trains it once, and the table still lists all four of those
    architectures, each under its own id with that child's result and training seconds."""
    space = tmp_path / "drop.yaml"
    space.write_text("name: drop\ntask: digits\n"
                     "layers: {min: 1, max: 1, types: {dense: {units: [4]}, "
                     "dropout: {rate: [0.1, 0.3]}}}\n"
                     "train: {learning_rate: [0.01, 0.003], batch_size: 256, epochs: 1}\n")
    out = tmp_path / "table.csv"
    summary = tabulate(space, out, execution=ExecutionSettings(executor="in_process",
                                                                keep_best=0),
                       runs_dir=tmp_path / "runs")
    assert (summary["rows"], summary["failed"], summary["shared"]) == (6, 0, 3)
    store = TrialStore(tmp_path / "runs" / "tabulate-drop" / "trials.sqlite", readonly=True)
    trained = [t for t in store.trials() if t.status.value == "complete"]
    store.close()
    assert len(trained) == 3  # two dense children, one dropout child
    table = load_table(out, load_space(space))
    assert {a.id for a in load_space(space).enumerate()} == set(table.rows)
    (dropout,) = [t for t in trained if t.arch.layers[0]["type"] == "dropout"]
    rows = [r for r in table.rows.values() if r.architecture.layers[0]["type"] == "dropout"]
    assert len(rows) == 4
    assert all(r.reward == pytest.approx(dropout.reward)
               and r.seconds == pytest.approx(dropout.train_seconds) for r in rows)


def test_a_rerun_continues_only_the_same_tabulation(tmp_path: Path) -> None:
    """A run of the tabulation's name that is not it (the space edited since, another seed,
    a search) is refused before anything trains, and the space itself is never the output."""
    from automl.cli.main import main
    from automl.errors import RunError

    space = tmp_path / "four.yaml"
    space.write_text(SPACE.replace("units: [8, 16]", "units: [8]"))
    in_process = ExecutionSettings(executor="in_process", keep_best=0)
    tabulate(space, tmp_path / "t.csv", execution=in_process, runs_dir=tmp_path / "runs")
    with pytest.raises(RunError, match="it was made with --seed 0, not 5"):
        tabulate(space, tmp_path / "t.csv", execution=in_process, runs_dir=tmp_path / "runs",
                 seed=5)
    space.write_text(SPACE.replace("units: [8, 16]", "units: [8]").replace("epochs: 1",
                                                                           "epochs: 2"))
    with pytest.raises(RunError, match="its space file differs"):
        tabulate(space, tmp_path / "t.csv", execution=in_process, runs_dir=tmp_path / "runs")
    store = TrialStore(tmp_path / "runs" / "tabulate-four" / "trials.sqlite", readonly=True)
    assert len(store.trials()) == 2  # nothing trained by the refused reruns
    store.close()
    before = space.read_bytes()
    assert main(["tabulate", str(space), "--out", str(space), "--runs-dir",
                 str(tmp_path / "runs2")]) == 2
    assert space.read_bytes() == before and not (tmp_path / "runs2").exists()
