"""Parallel efficiency of a real search: wall time against the sum of child training times.

Runs a 20-trial random search with 2 workers on digits (children of about 3 s or more) and prints
wall time, sum of child training seconds, and efficiency = sum(train) / (wall x workers). Also
prints the per-trial overhead seen by the driver. Not a test: a script that prints figures.

    python benchmarks/overhead.py [--trials 20] [--workers 2] [--epochs 12]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

SPACE = """
name: overhead
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=12)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import ray

    from automl import ExecutionSettings
    from automl import load_trials
    from automl import run_search

    with tempfile.TemporaryDirectory() as tmp:
        space = Path(tmp) / "space.yaml"
        space.write_text(SPACE.format(epochs=args.epochs))
        started = time.perf_counter()
        ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False,
                 logging_level="ERROR", _node_ip_address="127.0.0.1")
        ray_start = time.perf_counter() - started
        search_started = time.perf_counter()
        outcome = run_search(space, trials=args.trials, seed=0, name="overhead",
                             runs_dir=Path(tmp) / "runs",
                             execution=ExecutionSettings(workers=args.workers))
        wall = time.perf_counter() - search_started
        trials = load_trials(outcome.run_path)
        ray.shutdown()
    trained = [t for t in trials if t.train_seconds]
    total_train = sum(t.train_seconds for t in trained)
    efficiency = total_train / (wall * args.workers)
    mean_child = total_train / max(len(trained), 1)
    print(f"trials: {len(trials)} ({len(trained)} trained, "
          f"{sum(1 for t in trials if t.status.value == 'cached')} cached), "
          f"workers: {args.workers}")
    print(f"ray.init: {ray_start:.1f} s (not counted)")
    print(f"wall time of the search: {wall:.1f} s")
    print(f"sum of child training times: {total_train:.1f} s (mean child {mean_child:.1f} s)")
    print(f"parallel efficiency = sum(train) / (wall x workers): {efficiency:.3f}")
    overhead = (wall * args.workers - total_train) / max(len(trials), 1)
    print(f"overhead per trial (worker-seconds not spent in fit): {overhead:.2f} s")


if __name__ == "__main__":
    main()
