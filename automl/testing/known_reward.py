"""A reward with a known optimum, for testing that a strategy learns (no child is trained).

The reward of an architecture is the fraction of the target's decisions it matches, so random
search sits near ``1 / choices`` on average and a learning strategy climbs to 1.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from automl.space import Architecture
from automl.space import SearchSpace


def hidden_target(space: SearchSpace, seed: int) -> Architecture:
    """A random architecture of ``space`` used as the hidden optimum."""
    return space.sample(np.random.default_rng(10_000 + seed))


def match_reward(space: SearchSpace, target: Architecture) -> Callable[[Architecture], float]:
    """Reward = fraction of the target's flat decisions that the architecture gets right.

    Decisions are compared by name over the union of both decision sequences, so a wrong depth
    is penalised for the missing or extra layers.
    """
    target_flat = {d.name: d.choices[i] for d, i in space.decisions_of(target)}

    def reward(architecture: Architecture) -> float:
        flat = {d.name: d.choices[i] for d, i in space.decisions_of(architecture)}
        names = set(flat) | set(target_flat)
        hits = sum(1 for n in names
                   if n in flat and n in target_flat and flat[n] == target_flat[n])
        return hits / len(names)

    return reward
