"""The bench runs the real search loop on the table executor: with one simulated worker it gives
exactly the direct ask/tell trace; with several, results come back in simulated completion order
and the times are completion times."""

from __future__ import annotations

from pathlib import Path

import pytest

from automl.bench import Table
from automl.bench import load_table
from automl.bench import run_one
from automl.bench import run_simulated
from automl.bench import summarize
from automl.bench.runner import table_reward
from automl.engine.search import SearchLoop
from automl.engine.search import Told
from automl.errors import PluginError
from automl.execution import TableExecutor
from automl.space import load_space
from automl.store import RunFolder
from automl.store import TrialStore
from automl.strategies import create_strategy
from tests.conftest import ROOT
from tests.conftest import SPACES
from tests.conftest import TINY_TABLE_SECONDS
from tests.conftest import tiny_table

SHIPPED = ROOT / "benchmarks" / "tables" / "tabular_dense.csv"
SECONDS = TINY_TABLE_SECONDS


@pytest.fixture(scope="module")
def shipped() -> Table:
    return load_table(SHIPPED, load_space(SPACES / "tabular_dense.yaml"))


@pytest.mark.parametrize("strategy", ["random", "evolution", "tpe"])
def test_one_simulated_worker_gives_the_direct_trace(shipped: Table, strategy: str) -> None:
    for seed in (0, 1):
        direct = run_one(shipped, strategy, seed, 60)
        loop = run_simulated(shipped, strategy, seed, 60, workers=1)
        assert loop.ids == direct.ids
        assert loop.rewards == direct.rewards
        assert loop.seconds == direct.seconds and loop.times == direct.times


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["reinforce", "dqn"])
def test_one_simulated_worker_gives_the_direct_trace_learning(shipped: Table,
                                                              strategy: str) -> None:
    direct = run_one(shipped, strategy, 3, 40)
    loop = run_simulated(shipped, strategy, 3, 40, workers=1)
    assert (loop.ids, loop.rewards, loop.times) == (direct.ids, direct.rewards, direct.times)


def test_repeats_are_cached_and_cost_no_time(tmp_path: Path, enumerate_strategy: str) -> None:
    """Enumeration wraps around after six: the loop serves what it can from its cache."""
    table = tiny_table(tmp_path)
    loop = run_simulated(table, enumerate_strategy, 0, 8)
    direct = run_one(table, enumerate_strategy, 0, 8)
    assert (loop.ids, loop.rewards, loop.times) == (direct.ids, direct.rewards, direct.times)
    succeeded: set[str] = set()
    for arch_id, reward, seconds in zip(loop.ids, loop.rewards, loop.seconds, strict=True):
        assert (seconds == 0.0) == (arch_id in succeeded)  # a failed child is tried again
        if reward is not None:
            succeeded.add(arch_id)


def test_three_workers_tell_in_completion_order(shipped: Table, tmp_path: Path) -> None:
    store = TrialStore(":memory:")
    told: list[Told] = []
    strategy = create_strategy("random", shipped.space, seed=4, workers=3)
    loop = SearchLoop(RunFolder(tmp_path / "run"), shipped.space, strategy,
                      TableExecutor(shipped, workers=3), trials=40, seed=4,
                      reward=table_reward("reward"), max_consecutive_failures=None,
                      on_told=told.append, store=store, checkpoint=False)
    loop.run_loop()
    assert not (tmp_path / "run").exists()  # nothing written: in-memory store, no checkpoint
    trials = store.trials()
    by_ask = [t.trial_id for t in sorted(trials, key=lambda t: t.ask_seq)]
    by_tell = [t.trial_id for t in sorted(trials, key=lambda t: t.told_seq)]
    assert len(trials) == 40 and by_ask == list(range(40))
    assert by_tell != by_ask, "with three workers some results overtake earlier asks"
    assert [t.trial_id for t in told] == by_tell
    times = [t.at for t in told]
    assert times == sorted(times)  # told in simulated completion order
    seconds = {r.architecture.id: r.seconds for r in shipped.rows.values()}
    for t in told:
        if t.status.value != "cached":
            assert t.train_seconds == seconds[t.architecture.id]
            assert t.at >= t.train_seconds - 1e-9


def test_simulated_time_by_hand(tmp_path: Path, enumerate_strategy: str) -> None:
    """Two workers, x = 0..5 with seconds 4, 1, 2, 1, 3, (failed) 2:

    t=0 start 0 (ends 4) and 1 (ends 1); t=1 tell 1, start 2 (ends 3); t=3 tell 2, start 3
    (ends 4); t=4 tell 0 and 3 (a tie: by trial id), start 4 (ends 7) and 5 (ends 6); t=6 tell
    the failed 5; t=7 tell 4.
    """
    table = tiny_table(tmp_path)
    trace = run_simulated(table, enumerate_strategy, 0, 6, workers=2)
    x_of = {table.space.from_flat({"x": x}).id: x for x in range(6)}
    assert [x_of[i] for i in trace.ids] == [1, 2, 0, 3, 5, 4]
    assert trace.times == [1.0, 3.0, 4.0, 4.0, 6.0, 7.0]
    assert trace.rewards == [0.1, 0.2, 0.0, 0.3, None, 0.4]
    assert trace.seconds == [1.0, 2.0, 4.0, 1.0, 2.0, 3.0]
    report = summarize(table, [trace], budget=6, workers=2)
    entry = report["strategies"][enumerate_strategy]
    # median seconds of the table 2.0: time budgets 6 x 2 x (0.1, 0.25, 0.5, 1) / 2 workers
    assert report["time_budgets"] == [0.6, 1.5, 3.0, 6.0]
    assert report["simulated_workers"] == 2
    best = {limit: 0.4 - entry["regret_at_seconds"][str(limit)]["median"]
            for limit in report["time_budgets"]}
    assert best == pytest.approx({0.6: 0.0, 1.5: 0.1, 3.0: 0.2, 6.0: 0.3})
    assert entry["simulated_seconds"]["median"] == 7.0
    one_worker = run_simulated(table, enumerate_strategy, 0, 6, workers=1)
    assert one_worker.times == [4.0, 5.0, 7.0, 8.0, 11.0, 13.0]  # the running sum


def test_an_exhausted_strategy_is_named_by_its_algorithm(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The loop's warning names the strategy the user chose, not the wrapper around it."""
    table = tiny_table(tmp_path)
    with caplog.at_level("WARNING", logger="automl.search"), \
            pytest.raises(PluginError,
                          match=r"stopped proposing on .*tiny.csv, seed 0, after 6 of 7"):
        run_simulated(table, "grid", 0, 7)
    assert "strategy GridSearch has nothing more to propose" in caplog.text
