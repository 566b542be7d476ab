"""Scale figures printed side by side in one run: 1 vs 2 workers, and checkpoint cost.

* **Workers**: the same random search (same space, seed, and so the same children) with 1 and
  with 2 Ray workers on one local Ray instance: wall time, sum of child training seconds,
  speed-up of 2 workers over 1.
* **Checkpoints**: the real search loop on the table executor (``benchmarks/tables/
  tabular_dense.csv``, no training) with a real run folder and SQLite store, for each strategy:
  milliseconds one strategy checkpoint costs (``state_dict`` + atomic ``strategy.npz``) at trial
  10 and at trial 500, and the cost per result once checkpoints are thinned (every
  ``ceil(n / 100)``-th result; ``engine/search.py::CHECKPOINT_HORIZON``).

Not a test: a script that prints figures (on a shared, loaded machine the wall times are
inflated; say so when quoting them).

    python benchmarks/scale.py [--part workers|checkpoints|both] [--trials 8] [--epochs 8]
        [--strategies random,evolution,tpe,reinforce,dqn] [--checkpoint-trials 500]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SPACE = """
name: scale
task: digits
reward: accuracy
layers:
  min: 1
  max: 3
  types:
    dense:
      units: [64, 128, 256]
      activation: [relu, tanh]
train:
  learning_rate: 0.001
  batch_size: 32
  epochs: {epochs}
"""


def workers_part(trials: int, epochs: int, seed: int) -> None:
    from automl import ExecutionSettings
    from automl import run_search
    from automl.execution.ray_executor import start_local_ray
    from automl.store import TrialStore

    start_local_ray(num_cpus=2, log_to_driver=False, logging_level="ERROR")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        space = Path(tmp) / "space.yaml"
        space.write_text(SPACE.format(epochs=epochs))
        for workers in (1, 2):
            started = time.perf_counter()
            outcome = run_search(space, strategy="random", trials=trials, seed=seed,
                                 name=f"w{workers}", runs_dir=Path(tmp) / "runs",
                                 execution=ExecutionSettings(workers=workers, keep_best=0))
            wall = time.perf_counter() - started
            store = TrialStore(outcome.run_path / "trials.sqlite", readonly=True)
            trained = [t for t in store.trials() if t.train_seconds]
            store.close()
            rows.append((workers, len(trained), wall, sum(t.train_seconds for t in trained),
                         outcome.best_reward))
    print(f"workers: {trials} children of {epochs} epochs on digits, random search, seed {seed}")
    print(f"{'workers':>7} {'trained':>7} {'wall s':>8} {'sum train s':>11} {'best':>7} "
          f"{'speed-up':>8}")
    for workers, trained, wall, train, best in rows:
        print(f"{workers:>7} {trained:>7} {wall:>8.1f} {train:>11.1f} {best:>7.4f} "
              f"{rows[0][2] / wall:>7.2f}x")


def checkpoints_part(strategies: list[str], trials: int, seed: int) -> None:
    from automl.bench import load_table
    from automl.bench.runner import table_reward
    from automl.engine.search import SearchLoop
    from automl.engine.search import Told
    from automl.execution import TableExecutor
    from automl.space import load_space
    from automl.store import RunFolder
    from automl.store import save_checkpoint
    from automl.strategies import StrategyState
    from automl.strategies import create_strategy

    space = load_space(ROOT / "search_spaces" / "tabular_dense.yaml")
    table = load_table(ROOT / "benchmarks" / "tables" / "tabular_dense.csv", space)
    marks = (10, trials)
    print(f"checkpoints: search loop on the table executor, {trials} trials, 1 in flight, "
          f"real run folder and SQLite store, seed {seed}; median of 5 writes")
    print(f"{'strategy':<10} " + " ".join(f"{'ms @' + str(m):>9}" for m in marks)
          + f" {'ms/result @' + str(trials):>15} {'npz KB @' + str(trials):>12}")
    for name in strategies:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "run"
            folder.mkdir()
            run = RunFolder(folder)
            strategy = create_strategy(name, table.space, seed=seed, workers=1, settings={},
                                       source="scale")
            figures: dict[int, float] = {}
            loop: SearchLoop | None = None

            def measure(told: Told) -> None:
                assert loop is not None
                if len(figures) < len(marks) and told.trial_id + 1 in marks:
                    costs = []
                    for _ in range(5):
                        started = time.perf_counter()
                        state = loop.strategy.state_dict()
                        save_checkpoint(run.checkpoint_path,
                                        StrategyState({"strategy": state.meta, "seq": 0},
                                                      state.arrays))
                        costs.append((time.perf_counter() - started) * 1000)
                    figures[told.trial_id + 1] = statistics.median(costs)

            loop = SearchLoop(run, table.space, strategy, TableExecutor(table, workers=1),
                              trials=trials, seed=seed, reward=table_reward(table.metric),
                              max_consecutive_failures=None, on_told=measure)
            loop.run_loop()
            loop.store.close()
            size = run.checkpoint_path.stat().st_size / 1024
        at_end = figures.get(trials, float("nan"))
        per_result = at_end / math.ceil(trials / 100)
        print(f"{name:<10} " + " ".join(f"{figures.get(m, float('nan')):>9.1f}" for m in marks)
              + f" {per_result:>15.2f} {size:>12.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("workers", "checkpoints", "both"), default="both")
    parser.add_argument("--trials", type=int, default=8, help="children of the worker part")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategies", default="random,evolution,tpe,reinforce,dqn")
    parser.add_argument("--checkpoint-trials", type=int, default=500)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.part in ("checkpoints", "both"):
        checkpoints_part(args.strategies.split(","), args.checkpoint_trials, args.seed)
    if args.part in ("workers", "both"):
        workers_part(args.trials, args.epochs, args.seed)


if __name__ == "__main__":
    main()
