"""Planning with the reward model: the untried architectures it rates best.

An agent trained only on its own samples (Dyna's imagined episodes) follows the reward model
slowly: its policy moves a few steps per told result towards whatever of its own samples look
good. Expert iteration (Anthony et al. 2017; AlphaZero's policy trained towards its search)
adds a planner: search the model for the best candidates, and train the policy towards them.
Here the search is cheap because the model is: ``pool`` architectures drawn uniformly from the
decision process, scored by the model's optimistic estimate, the best ``top`` kept. The agent
learns from them as from its best real children and still samples every real child itself.
"""

from __future__ import annotations

import numpy as np

from automl.space import Decision
from automl.strategies.batch_walk import BatchWalker
from automl.strategies.reward_model import RewardModel
from automl.strategies.reward_model import SlotCodes


def uniform_codes(walker: BatchWalker, slots: SlotCodes, n: int,
                  rng: np.random.Generator) -> np.ndarray:
    """``[n, slots]`` codes of architectures drawn uniformly, decision by decision."""
    codes = np.full((n, len(slots)), -1, dtype=np.int64)
    slot_of = slots.index

    def choose(t: int, decision: Decision, idx: np.ndarray) -> np.ndarray:
        picks = rng.integers(len(decision.choices), size=len(idx))
        codes[idx, slot_of[decision.slot]] = picks
        return picks

    walker.walk(n, lambda t, active: None, choose)
    return codes


def plan(model: RewardModel, walker: BatchWalker, rng: np.random.Generator, *, pool: int,
         top: int, beta: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``top`` best of ``pool`` uniform draws not yet told, by ``mean + beta * std`` of the
    (fitted) model: their codes ``[m, slots]`` and scores ``[m]``, best first (m <= top)."""
    codes = np.unique(uniform_codes(walker, model.codes, pool, rng), axis=0)
    codes = codes[[model.find(row) is None for row in codes]]
    if not len(codes):
        return codes, np.zeros(0)
    scores = model.optimistic(codes, beta)
    best = np.argsort(-scores, kind="stable")[:top]
    return codes[best], scores[best]


__all__ = ["plan", "uniform_codes"]
