"""Cost of a strategy per architecture: ask + tell (and the checkpoint the search loop writes
after every tell), median and p90 in milliseconds, driven as the search loop drives it (through
the loop's wrappers: repeats re-asked, failures told as the worst reward; the budget told).
Target for reinforce and dqn: median ask+tell under 20 ms at 500 trials on a 2-core CPU. Not a
test: a script that prints figures.

    python benchmarks/controller_cost.py [--space search_spaces/lecture_dense.yaml]
                                         [--trials 500] [--workers 2] [--strategies a,b]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def measure(name: str, space, trials: int, workers: int) -> dict[str, np.ndarray]:  # type: ignore[no-untyped-def]
    from automl.store import save_checkpoint
    from automl.strategies import create_strategy
    from automl.strategies.wrappers import guarded
    from automl.testing.known_reward import hidden_target
    from automl.testing.known_reward import match_reward

    strategy = guarded(create_strategy(name, space, seed=0, workers=workers))
    strategy.set_budget(trials)
    reward = match_reward(space, hidden_target(space, 0))
    asks, tells, saves = [], [], []
    in_flight = []
    with tempfile.TemporaryDirectory() as tmp:
        for trial_id in range(trials + workers):
            if trial_id < trials:
                started = time.perf_counter()
                architecture = strategy.ask(trial_id)
                asks.append(time.perf_counter() - started)
                in_flight.append((trial_id, architecture))
            if len(in_flight) >= workers or trial_id >= trials:
                if not in_flight:
                    break
                done_id, done = in_flight.pop(0)
                value = reward(done)
                started = time.perf_counter()
                strategy.tell(done_id, done, value)
                strategy.progress()
                tells.append(time.perf_counter() - started)
                started = time.perf_counter()
                save_checkpoint(Path(tmp) / "c.npz", strategy.state_dict())
                saves.append(time.perf_counter() - started)
    n = min(len(asks), len(tells))
    return {"ask": np.array(asks[:n]) * 1e3, "tell": np.array(tells[:n]) * 1e3,
            "ask+tell": (np.array(asks[:n]) + np.array(tells[:n])) * 1e3,
            "checkpoint": np.array(saves[:n]) * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="search_spaces/lecture_dense.yaml")
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--strategies", default="random,reinforce,dqn,tpe,evolution")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from automl.registry import STRATEGIES
    from automl.registry import ensure_builtins
    from automl.space import load_space

    ensure_builtins()
    space = load_space(args.space)
    names = [n for n in args.strategies.split(",") if n in STRATEGIES]
    print(f"{args.space}: {args.trials} architectures per strategy, {args.workers} in flight "
          "(times in ms; the first ask of a learning strategy includes building its networks)")
    print(f"{'strategy':<10} {'ask+tell median':>16} {'p90':>8} {'ask median':>11} "
          f"{'ask p90':>8} {'tell median':>12} {'tell p90':>9} {'checkpoint median':>18}")
    for name in names:
        t = measure(name, space, args.trials, args.workers)
        both = t["ask+tell"]
        print(f"{name:<10} {np.median(both):>16.2f} {np.percentile(both, 90):>8.2f}"
              f" {np.median(t['ask']):>11.2f} {np.percentile(t['ask'], 90):>8.2f}"
              f" {np.median(t['tell']):>12.2f}"
              f" {np.percentile(t['tell'], 90):>9.2f} {np.median(t['checkpoint']):>18.2f}")


if __name__ == "__main__":
    main()
