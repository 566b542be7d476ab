"""Drive a strategy against a reward function in-process, the way the search loop does:
``workers`` asks in flight, results told back in a shuffled order."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from automl.space import Architecture
from automl.strategies.base import Strategy


def drive(strategy: Strategy, reward: Callable[[Architecture], float], budget: int, *,
          workers: int = 1, seed: int = 0, start_id: int = 0) -> list[float]:
    """Run ``budget`` trials and return the rewards in the order they were told."""
    rng = np.random.default_rng(seed)
    in_flight: list[tuple[int, Architecture]] = []
    rewards: list[float] = []
    next_id = start_id
    while len(rewards) < budget:
        while len(in_flight) < workers and next_id - start_id < budget:
            architecture = strategy.ask(next_id)
            if architecture is None:
                break
            in_flight.append((next_id, architecture))
            next_id += 1
        if not in_flight:
            raise RuntimeError(f"{type(strategy).__name__} returned None with nothing in flight")
        trial_id, architecture = in_flight.pop(int(rng.integers(len(in_flight))))
        value = reward(architecture)
        strategy.tell(trial_id, architecture, value)
        rewards.append(value)
    return rewards
