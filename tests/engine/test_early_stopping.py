"""Early stopping end to end: a search with the ASHA scheduler on the session's Ray instance
stops children at epoch rungs, marks them everywhere, tells the strategy, and resumes (the CLI's
bad --scheduler value is in tests/cli/test_cli.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from automl.cli.runs import _architecture_cell
from automl.store import TrialStatus
from automl.store import TrialStore
from automl.store import load_checkpoint
from tests.cli.test_cli import automl
from tests.conftest import TINY_DIGITS

EPOCHS = 4


@pytest.mark.slow
def test_asha_stops_marks_tells_and_resumes(ray_instance, tmp_path: Path) -> None:
    from automl.engine import resume_search
    from automl.engine import run_search
    from automl.execution import ExecutionSettings

    (tmp_path / "tiny.yaml").write_text(TINY_DIGITS.replace("epochs: 2", f"epochs: {EPOCHS}"))
    run_search(tmp_path / "tiny.yaml", trials=6, seed=1, name="a", runs_dir=tmp_path / "runs",
               execution=ExecutionSettings(workers=2, scheduler="asha", keep_best=0))
    run = tmp_path / "runs" / "a"
    store = TrialStore(run / "trials.sqlite", readonly=True)
    trials = store.trials()
    stopped = [t for t in trials if t.status == TrialStatus.STOPPED]
    assert len(trials) == 6 and stopped, [t.status for t in trials]
    for t in stopped:  # fewer epochs than train.epochs, a reward from that epoch's model
        assert 1 <= len(store.epochs(t.trial_id)) < EPOCHS and t.reward is not None
    for t in trials:
        if t.status == TrialStatus.COMPLETE:
            assert len(store.epochs(t.trial_id)) == EPOCHS
    best = store.best()
    assert best is None or best.status == TrialStatus.COMPLETE  # never a partial result

    # the strategy was told each stopped child's reward (NoRepeats remembers what it told)
    meta = load_checkpoint(run / "strategy.npz").meta["strategy"]
    known = meta["wrapper"]["known"]
    assert all(known[t.arch_id] == pytest.approx(t.reward) for t in stopped)

    table = automl("leaderboard", "a", "--all", "--runs-dir", "runs", cwd=tmp_path)
    assert table.returncode == 0 and "stopped" in table.stdout
    board = automl("leaderboard", "a", "--all", "--format", "json", "--runs-dir", "runs",
                   cwd=tmp_path)
    rows = json.loads(board.stdout)
    ranks = {r["trial"]: r for r in rows}
    assert all(ranks[t.trial_id]["status"] == "stopped" for t in stopped)
    last_full = max((r["rank"] for r in rows if r["status"] == "complete"), default=0)
    assert all(ranks[t.trial_id]["rank"] > last_full for t in stopped)
    for t in stopped:  # the table's architecture cell says how partial (rich folds it there)
        assert _architecture_cell(ranks[t.trial_id]).endswith(
            f"[stopped early at epoch {len(store.epochs(t.trial_id))}]")
    show = automl("show", "a", str(stopped[0].trial_id), "--runs-dir", "runs", cwd=tmp_path)
    assert "status stopped" in show.stdout and "Stopped early by the scheduler" in show.stdout

    # resume: the scheduler is the recorded one, its rungs rebuilt from the store
    resume_search(run, trials=8)
    assert json.loads((run / "run.json").read_text())["execution"]["scheduler"] == "asha"
    assert "rungs rebuilt from the store" in (run / "logs" / "search.log").read_text()
    trials = TrialStore(run / "trials.sqlite", readonly=True).trials()
    assert [t.trial_id for t in trials] == list(range(8))
    assert all(t.status.is_finished() for t in trials)


@pytest.mark.slow
def test_in_process_resume_with_asha_is_exact(tmp_path: Path) -> None:
    """One child at a time: a search stopped after 3 trials and resumed to 6 stops the same
    children at the same epochs, with the same rewards, as one run straight to 6."""
    from automl.engine import resume_search
    from automl.engine import run_search
    from automl.execution import ExecutionSettings

    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_DIGITS.replace("epochs: 2", f"epochs: {EPOCHS}"))
    settings = ExecutionSettings(executor="in_process", scheduler="asha", keep_best=0)

    def trace(run: Path) -> list[tuple[str, int, float | None]]:
        store = TrialStore(run / "trials.sqlite", readonly=True)
        counts = store.epoch_counts()
        return [(t.status.value, counts.get(t.trial_id, 0), t.reward) for t in store.trials()]

    straight = run_search(space, trials=6, seed=2, name="straight", runs_dir=tmp_path / "runs",
                          execution=settings)
    first = run_search(space, trials=3, seed=2, name="cut", runs_dir=tmp_path / "runs",
                       execution=settings)
    resume_search(first.run_path, trials=6)
    expected = trace(straight.run_path)
    assert "stopped" in [status for status, _, _ in expected], expected
    assert trace(first.run_path) == expected
