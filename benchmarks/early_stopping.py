"""Early stopping against full training: the same search with and without a scheduler.

Runs a random search (same space, seed and children: random search proposes the same
architectures whatever the rewards) once per scheduler on one local Ray instance and prints, side
by side: total child epochs, wall time, best reward (a fully trained child's: a stopped child is
never the best), and the children stopped. Not a test: a script that prints figures.

    python benchmarks/early_stopping.py [--space search_spaces/lecture_dense.yaml]
        [--trials 20] [--epochs 10] [--workers 2] [--seed 0] [--schedulers none asha]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default=str(ROOT / "search_spaces" / "lecture_dense.yaml"))
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=None,
                        help="train.epochs of every child (default: the space's)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--schedulers", nargs="+", default=["none", "asha"])
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from automl import ExecutionSettings
    from automl import run_search
    from automl.execution.ray_executor import start_local_ray
    from automl.store import TrialStore

    config = yaml.safe_load(Path(args.space).read_text(encoding="utf-8"))
    if args.epochs is not None:
        config.setdefault("train", {})["epochs"] = args.epochs
    start_local_ray(num_cpus=args.workers, log_to_driver=False, logging_level="ERROR")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        space = Path(tmp) / "space.yaml"
        space.write_text(yaml.safe_dump(config))
        for scheduler in args.schedulers:
            started = time.perf_counter()
            outcome = run_search(space, strategy="random", trials=args.trials, seed=args.seed,
                                 name=f"es-{scheduler}", runs_dir=Path(tmp) / "runs",
                                 execution=ExecutionSettings(workers=args.workers,
                                                             scheduler=scheduler,
                                                             keep_best=0))
            wall = time.perf_counter() - started
            store = TrialStore(outcome.run_path / "trials.sqlite", readonly=True)
            epochs = store.epoch_counts()
            trials = store.trials()
            rows.append({
                "scheduler": scheduler, "children": len(trials),
                "epochs": sum(epochs.values()), "wall": wall,
                "best": outcome.best_reward,
                "stopped": sum(t.status.value == "stopped" for t in trials),
                "failed": sum(t.status.value == "failed" for t in trials),
                "train_s": sum(t.train_seconds or 0.0 for t in trials),
            })
            store.close()
    base = rows[0]
    print(f"space {Path(args.space).name}, {args.trials} children, "
          f"epochs {config.get('train', {}).get('epochs')}, {args.workers} workers, "
          f"seed {args.seed}, random search")
    print(f"{'scheduler':<10} {'children':>8} {'stopped':>7} {'epochs':>7} {'of full':>7} "
          f"{'wall s':>7} {'train s':>8} {'best':>7} {'vs full':>8}")
    for row in rows:
        share = row["epochs"] / base["epochs"] if base["epochs"] else float("nan")
        delta = ((row["best"] - base["best"]) * 100
                 if row["best"] is not None and base["best"] is not None else float("nan"))
        print(f"{row['scheduler']:<10} {row['children']:>8} {row['stopped']:>7} "
              f"{row['epochs']:>7} {share:>7.2f} {row['wall']:>7.1f} {row['train_s']:>8.1f} "
              f"{row['best'] if row['best'] is not None else float('nan'):>7.4f} "
              f"{delta:>+7.2f}pt")


if __name__ == "__main__":
    main()
