"""A real search on the shipped benchmark table, with its run folder on disk (SQLite store and
strategy checkpoint), for the durability tests: run in this process, or as
``python -m tests.engine.table_search RUN TRIALS [--resume]`` in a child process that a
failpoint (``AUTOML_FAILPOINTS``) can SIGKILL. No Ray, no training: a trial is a look-up, so a
40-trial search takes well under a second."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STRATEGY, SEED = "evolution", 3
SETTINGS = {"population_size": 5, "sample_size": 2}
"""A small population: from the 6th ask on, every proposal depends on the rewards told."""


def search(run_path: Path, trials: int, *, resume: bool = False) -> list[tuple]:
    """Run (or resume) the search in ``run_path``; returns (arch_id, status, reward) by trial."""
    from automl.bench import load_table
    from automl.bench.runner import table_reward
    from automl.engine.search import SearchLoop
    from automl.execution import TableExecutor
    from automl.space import load_space
    from automl.store import RunFolder
    from automl.store import TrialStore
    from automl.strategies import create_strategy

    space = load_space(ROOT / "search_spaces" / "tabular_dense.yaml")
    table = load_table(ROOT / "benchmarks" / "tables" / "tabular_dense.csv", space)
    run = RunFolder(run_path)
    run.path.mkdir(exist_ok=True)
    run.acquire_lock()  # as a search does (it also clears temp files a killed writer left)
    store = TrialStore(run.db_path)
    try:
        loop = SearchLoop(run, space, create_strategy(STRATEGY, space, seed=SEED,
                                                     settings=SETTINGS),
                          TableExecutor(table), trials=trials, seed=SEED,
                          reward=table_reward("reward"), store=store)
        if resume:
            loop.restore_strategy()
        loop.run_loop()
        return trajectory(store)
    finally:
        store.close()
        run.release_lock()


def trajectory(store) -> list[tuple]:  # type: ignore[no-untyped-def]
    return [(t.trial_id, t.arch_id, t.status.value, t.reward, t.told_seq)
            for t in store.trials()]


if __name__ == "__main__":
    search(Path(sys.argv[1]), int(sys.argv[2]), resume="--resume" in sys.argv)
