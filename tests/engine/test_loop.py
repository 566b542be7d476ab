"""The search loop's contract with strategies and executors, run on a table executor (fast, no
Ray, no training): budget before the first ask, the guarded wrapper, optional checkpoints,
consecutive failures, cached results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import automl.engine.search as search_module
from automl.bench import Table
from automl.bench import load_table
from automl.bench import row_for
from automl.bench import write_table
from automl.bench.runner import table_reward
from automl.engine.search import SearchLoop
from automl.engine.search import Told
from automl.errors import SearchAbortedError
from automl.execution import TableExecutor
from automl.space import Architecture
from automl.space import SearchSpace
from automl.space import load_space
from automl.store import RunFolder
from automl.store import TrialStatus
from automl.store import TrialStore
from automl.strategies.base import Strategy


class Scripted(Strategy):
    """Proposes ``x`` values from a script, cycling; records what the loop did to it."""

    def __init__(self, space: SearchSpace, script: list[int], **kwargs: Any):
        super().__init__(space, **kwargs)
        self.script = script
        self.calls: list[tuple[str, Any]] = []

    def set_budget(self, trials: int) -> None:
        super().set_budget(trials)
        self.calls.append(("budget", trials))

    def ask(self, trial_id: int) -> Architecture | None:
        self.calls.append(("ask", trial_id))
        return self.space.from_flat({"x": self.script[trial_id % len(self.script)]})

    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        self.calls.append(("tell", trial_id))


@pytest.fixture
def table(tmp_path: Path) -> Table:
    """x in 0..4 with reward x / 10, except x = 4, a failed child."""
    path = tmp_path / "xs.yaml"
    path.write_text("name: xs\ndecisions:\n  x: [0, 1, 2, 3, 4]\n")
    space = load_space(path)
    rows = [row_for(a, {"reward": None if a.flat["x"] == 4 else a.flat["x"] / 10,
                        "seconds": 1.0}) for a in space.enumerate()]
    return load_table(write_table(tmp_path / "xs.csv", rows, space=space), space)


def make_loop(table: Table, strategy: Strategy, run: RunFolder, trials: int,
              **options: Any) -> tuple[SearchLoop, TrialStore]:
    store = TrialStore(":memory:")
    loop = SearchLoop(run, table.space, strategy, TableExecutor(table), trials=trials, seed=0,
                      reward=table_reward("reward"), store=store, **options)
    return loop, store


def test_budget_before_the_first_ask_through_the_guard(table: Table, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    guarded_calls: list[tuple[Strategy, Strategy]] = []
    real_guarded = search_module.guarded

    def spy(strategy: Strategy, **settings: Any) -> Strategy:
        guarded_calls.append((strategy, real_guarded(strategy, **settings)))
        return guarded_calls[-1][1]

    monkeypatch.setattr(search_module, "guarded", spy)
    strategy = Scripted(table.space, [0, 1, 2])
    loop, _ = make_loop(table, strategy, RunFolder(tmp_path / "run"), 3, checkpoint=False)
    assert [given for given, _ in guarded_calls] == [strategy]
    assert loop.strategy is guarded_calls[0][1]  # asks, tells and checkpoints go through it
    loop.run_loop()
    assert strategy.calls[0] == ("budget", 3)
    assert [kind for kind, _ in strategy.calls].count("ask") >= 3


def test_checkpoint_is_optional(table: Table, tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "with")
    run.path.mkdir()
    make_loop(table, Scripted(table.space, [0, 1]), run, 2)[0].run_loop()
    assert run.checkpoint_path.is_file()
    quiet = RunFolder(tmp_path / "without")
    make_loop(table, Scripted(table.space, [0, 1]), quiet, 2, checkpoint=False)[0].run_loop()
    assert not quiet.path.exists()


def test_repeats_are_cached_and_failures_are_stored(table: Table, tmp_path: Path) -> None:
    """A script that repeats itself: after ``max_retries`` re-asks the loop proposes the
    architectures it has not tried (x = 0, 2, 3) instead; once the space is exhausted the
    repeats pass, a success is answered from the store at no simulated time, and a failed child
    is run again."""
    told: list[Told] = []
    loop, store = make_loop(table, Scripted(table.space, [1, 4]), RunFolder(tmp_path / "r"),
                            8, checkpoint=False, on_told=told.append)
    outcome = loop.run_loop()
    by_status = {s: [t for t in store.trials() if t.status == s] for s in TrialStatus}
    assert len(store.trials()) == 8
    assert by_status[TrialStatus.COMPLETE] and by_status[TrialStatus.FAILED]
    assert all("empty 'reward'" in (t.error or "") for t in by_status[TrialStatus.FAILED])
    assert {t.status for t in told} <= {TrialStatus.COMPLETE, TrialStatus.FAILED,
                                        TrialStatus.CACHED}
    assert sorted(t.architecture.flat["x"] for t in told[:5]) == [0, 1, 2, 3, 4]
    first = {t.architecture.id: t.reward for t in told[:5]}
    cached = [t for t in told if t.status == TrialStatus.CACHED]
    assert cached and all(t.status == TrialStatus.FAILED for t in told[5:] if t not in cached)
    assert all(t.train_seconds == 0.0 and t.reward == first[t.architecture.id] for t in cached)
    assert outcome.best_reward == 0.3
    assert outcome.seconds == told[-1].at == loop.elapsed()  # the simulated clock


def test_consecutive_failures_stop_unless_disabled(tmp_path: Path) -> None:
    path = tmp_path / "xs.yaml"
    path.write_text("name: xs\ndecisions:\n  x: [0, 1, 2, 3, 4]\n")
    space = load_space(path)
    rows = [row_for(a, {"reward": 0.5 if a.flat["x"] == 0 else None, "seconds": 1.0})
            for a in space.enumerate()]
    failing = load_table(write_table(tmp_path / "xs.csv", rows, space=space), space)
    loop, _ = make_loop(failing, Scripted(space, [1, 2, 3, 4]), RunFolder(tmp_path / "a"), 4,
                        checkpoint=False, max_consecutive_failures=3)
    with pytest.raises(SearchAbortedError, match="3 trials failed in a row"):
        loop.run_loop()
    loop, store = make_loop(failing, Scripted(space, [1, 2, 3, 4]), RunFolder(tmp_path / "b"),
                            4, checkpoint=False, max_consecutive_failures=None)
    loop.run_loop()
    assert store.counts() == {"failed": 4}


def test_checkpoints_are_thinned_after_the_horizon_and_resume_replays_the_gap(
        tmp_path: Path) -> None:
    """After 100 results the checkpoint is written every ceil(n / 100)-th result; a search that
    dies between two checkpoints replays the results since the last one and goes on exactly
    as the uninterrupted search did."""
    from automl.engine.search import CHECKPOINT_HORIZON
    from automl.store import load_checkpoint
    from automl.strategies import create_strategy

    root = Path(__file__).resolve().parents[2]
    space = load_space(root / "search_spaces" / "tabular_dense.yaml")
    table = load_table(root / "benchmarks" / "tables" / "tabular_dense.csv", space)

    class Killed(Exception):
        pass

    def search(run: RunFolder, trials: int, *, resume: bool = False,
               kill_at: int | None = None) -> list[str]:
        run.path.mkdir(exist_ok=True)
        store = TrialStore(run.db_path)
        told: list[Told] = []

        def on_told(result: Told) -> None:
            told.append(result)
            if len(told) == kill_at:
                raise Killed

        loop = SearchLoop(run, space, create_strategy("evolution", space, seed=5),
                          TableExecutor(table), trials=trials, seed=5,
                          reward=table_reward("reward"), store=store, on_told=on_told)
        if resume:
            loop.restore_strategy()
        try:
            loop.run_loop()
        except Killed:
            pass
        ids = [t.arch_id for t in store.trials()]
        store.close()
        return ids

    straight = search(RunFolder(tmp_path / "straight"), 260)
    run = RunFolder(tmp_path / "killed")
    search(run, 260, kill_at=2 * CHECKPOINT_HORIZON + 32)  # checkpoints every 3rd result there
    store = TrialStore(run.db_path, readonly=True)
    assert load_checkpoint(run.checkpoint_path).meta["seq"] < store.max_event_seq()  # stale
    store.close()
    assert search(run, 260, resume=True) == straight
