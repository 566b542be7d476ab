"""Scale figures printed side by side in one run: 1 vs 2 workers, and checkpoint cost.

* **Workers**: the same random search (same space, seed, and so the same children: checked)
  with 1 and with 2 Ray workers (one CPU and one TensorFlow thread per child) on one local Ray
  instance of 2 CPUs: wall time of the whole search (worker start-up included), sum of child
  training seconds, speed-up of 2 workers over 1, and the machine's load average beside each
  run (the speed-up is only meaningful with two idle cores).
* **Checkpoints**: the real search loop on the table executor (``benchmarks/tables/
  tabular_dense.csv``, no training) with a real run folder and SQLite store, for each strategy:
  milliseconds one strategy checkpoint costs (``state_dict`` + atomic ``strategy.npz``) at trial
  10 and at trial 500, and the cost per result once checkpoints are thinned (every
  ``ceil(n / 100)``-th result; ``engine/search.py::CHECKPOINT_HORIZON``).

Not a test: a script that prints figures (on a shared, loaded machine the wall times are
inflated; say so when quoting them).

    python benchmarks/scale.py [--part workers|checkpoints|both] [--trials 8] [--epochs 8]
        [--repeats 1] [--space search_spaces/lecture_gru.yaml]
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


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f}/{five:.2f}/{fifteen:.2f}"


def workers_part(trials: int, epochs: int, seed: int, repeats: int,
                 space_file: Path | None = None) -> None:
    """The same children with 1 and with 2 workers, alternated ``repeats`` times (1, 2, 1, 2,
    ...) so a change in the machine's other load hits both; each run's load average (1 / 5 /
    15 minutes) is printed beside its figures, taken as it ends."""
    from automl import ExecutionSettings
    from automl import run_search
    from automl.execution.ray_executor import start_local_ray
    from automl.store import TrialStore

    what = space_file or f"{epochs} epochs on digits"
    print(f"workers: {trials} children of {what}, random search, seed {seed}"
          f", one local Ray instance with 2 CPUs; load before: {load()} on {os.cpu_count()} CPUs")
    start_local_ray(num_cpus=2, log_to_driver=False, logging_level="ERROR")
    print(f"{'run':>3} {'workers':>7} {'trained':>7} {'wall s':>8} {'sum fit s':>9} "
          f"{'mean fit s':>10} {'best':>7} {'speed-up':>8} {'start s':>8} {'warm':>8}  "
          "load at end")
    children: dict[int, list[str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        space = Path(tmp) / "space.yaml"
        space.write_text(space_file.read_text() if space_file else SPACE.format(epochs=epochs))
        one_worker = one_warm = float("nan")
        for run, workers in enumerate([1, 2] * repeats):
            started = time.perf_counter()
            outcome = run_search(space, strategy="random", trials=trials, seed=seed,
                                 name=f"w{workers}-{run}", runs_dir=Path(tmp) / "runs",
                                 execution=ExecutionSettings(workers=workers, keep_best=0))
            wall = time.perf_counter() - started
            store = TrialStore(outcome.run_path / "trials.sqlite", readonly=True)
            trained = [t for t in store.trials() if t.train_seconds]
            costs = store.costs()
            store.close()
            # the workers start together (TensorFlow's import): the longest wait of a first
            # child for its process, submitted to received, is time no child trained
            start_up = max((c["round_trip"] - c["worker"] for c in costs.values()
                            if c.get("child") == 1 and "round_trip" in c), default=0.0)
            children[workers] = sorted(t.arch_id for t in trained)
            fit = sum(t.train_seconds or 0.0 for t in trained)
            if workers == 1:
                one_worker, one_warm = wall, wall - start_up
            warm = wall - start_up
            print(f"{run + 1:>3} {workers:>7} {len(trained):>7} {wall:>8.1f} {fit:>9.1f} "
                  f"{fit / max(len(trained), 1):>10.2f} {outcome.best_reward or 0:>7.4f} "
                  f"{one_worker / wall:>7.2f}x {start_up:>8.1f} {one_warm / warm:>7.2f}x  "
                  f"{load()}")
    same = "the same" if children.get(1) == children.get(2) else "NOT the same"
    print(f"1 and 2 workers trained {same} children; speed-up = wall of the 1-worker run "
          "just before / this wall; start s: the workers' start-up (TensorFlow's import), "
          "warm: the speed-up of the wall without it")


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

            def measure(told: Told, figures: dict[int, float] = figures,
                        run: RunFolder = run) -> None:
                assert loop is not None  # noqa: B023
                if len(figures) < len(marks) and told.trial_id + 1 in marks:
                    costs = []
                    for _ in range(5):
                        started = time.perf_counter()
                        state = loop.strategy.state_dict()  # noqa: B023 (this loop's search)
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
    parser.add_argument("--space", type=Path, default=None,
                        help="search space YAML of the worker part (default: the digits MLP "
                             "above, --epochs epochs); e.g. search_spaces/lecture_gru.yaml")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategies", default="random,evolution,tpe,reinforce,dqn")
    parser.add_argument("--checkpoint-trials", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=1,
                        help="1- and 2-worker runs alternated this many times")
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.part in ("checkpoints", "both"):
        checkpoints_part(args.strategies.split(","), args.checkpoint_trials, args.seed)
    if args.part in ("workers", "both"):
        workers_part(args.trials, args.epochs, args.seed, args.repeats, args.space)


if __name__ == "__main__":
    main()
