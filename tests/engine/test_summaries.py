"""What a search says of its children and its end: the one-line summary of each child (the
settings it reads), and a strategy that ran dry before the trials asked for. Children train in
process (no Ray)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from automl.execution import ExecutionSettings
from automl.store import TrialStore

IN_PROCESS = ExecutionSettings(executor="in_process", keep_best=0)


def _space(tmp_path: Path, types: str) -> Path:
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "data.npz", x=rng.normal(size=(40, 5)), y=np.arange(40) % 2)
    path = tmp_path / "space.yaml"
    path.write_text("task: {name: arrays, path: data.npz}\n"
                    f"layers: {{min: 1, max: 1, types: {{{types}}}}}\n"
                    "train: {epochs: 1, batch_size: 16, learning_rate: [0.001, 0.01]}\n")
    return path


def test_a_closed_form_child_is_summarised_without_a_learning_rate(tmp_path: Path) -> None:
    """Dropout alone is fitted in closed form: no learning rate is read, so the summary that
    every listing shows names none (a dense child still shows its own)."""
    from automl.engine import run_search

    outcome = run_search(_space(tmp_path, "dense: {units: [4]}, dropout: {rate: [0.2]}"),
                         strategy="grid", trials=4, runs_dir=tmp_path / "runs",
                         execution=IN_PROCESS)
    with TrialStore(outcome.run_path / "trials.sqlite", readonly=True) as store:
        summaries = sorted({t.summary for t in store.trials()})
    assert summaries == ["Dense(4,relu) | learning_rate=0.001",
                         "Dense(4,relu) | learning_rate=0.01", "Dropout(0.2)"], summaries


def test_a_strategy_that_runs_dry_is_named_at_the_end(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A grid of 2 architectures asked for 4 trials stops at 2: the user hears why, instead
    of a summary that silently counts fewer trials than asked for."""
    from automl.cli.search import _finish
    from automl.engine import run_search

    outcome = run_search(_space(tmp_path, "dense: {units: [4]}"), strategy="grid", trials=4,
                         runs_dir=tmp_path / "runs", execution=IN_PROCESS)
    assert outcome.extra["proposed_nothing_more"] == "GridSearch"
    assert outcome.counts == {"complete": 2}
    capsys.readouterr()
    assert _finish(outcome, top=5) == 0
    assert ("note: the strategy (GridSearch) had nothing more to propose after 2 trials"
            in capsys.readouterr().err)


def test_a_summary_names_only_the_pooling_a_child_uses() -> None:
    """After a final MiniRocket (a vector) no pooling applies: the summary does not name one
    (the architecture's id and equivalence key are another matter, tested with them)."""
    from automl.engine.search import child_summary
    from automl.space import load_space
    from tests.conftest import SPACES

    space = load_space(SPACES / "timeseries.yaml")
    rng = np.random.default_rng(0)
    pooled = [a for a in (space.sample(rng) for _ in range(400)) if a.pooling is not None]
    vector = next(a for a in pooled if a.layers[-1]["type"] == "minirocket")
    sequence = next(a for a in pooled if a.layers[-1]["type"] != "minirocket"
                    and all(layer["type"] != "minirocket" for layer in a.layers))
    assert "pool:" in vector.summary() and "pool:" not in child_summary(vector, ())
    assert f"pool:{sequence.pooling}" in child_summary(sequence, ())
