"""Regularized evolution (Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search"), also called aging evolution.

A population of the ``population_size`` most recent children is kept in age order. Each new
child is a mutation of the best of ``sample_size`` members drawn at random (tournament
selection), and the *oldest* member dies, not the worst: an architecture survives only as long
as its descendants keep winning, which regularises against lucky evaluations.

Asynchronous by construction: the population grows as results arrive, in any order; while it is
not yet full, asks are answered with random architectures (the paper's random initial
population). A failed child (reward None) does not join the population unless
``failure_reward`` gives it a value.

Example:
    >>> from automl.space import load_space
    >>> from automl.strategies import create_strategy
    >>> space = load_space("search_spaces/quickstart.yaml")
    >>> evolution = create_strategy("evolution", space, seed=0,
    ...                             settings={"population_size": 8, "sample_size": 3})
    >>> architecture = evolution.ask(0)
    >>> evolution.tell(0, architecture, 0.9)
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from automl.errors import SpaceError
from automl.errors import UserInputError
from automl.space import Architecture
from automl.space import Decision
from automl.space import SearchSpace
from automl.strategies.base import Strategy
from automl.strategies.base import StrategyState


@dataclass
class EvolutionSettings:
    """Settings of :class:`RegularizedEvolution` (the ``strategy:`` block of a space YAML)."""

    population_size: int = 20
    """P: members kept alive; also the number of random architectures that seed the search.
    The paper uses 100 for budgets of thousands; small budgets want a small population."""

    sample_size: int = 5
    """S: members drawn for each tournament. Larger S exploits more (S = P is greedy)."""

    failure_reward: float | None = None
    """Reward a failed child joins the population with; None: failed children are dropped."""


class RegularizedEvolution(Strategy):
    """Aging evolution with tournament selection and one-decision mutations.

    Args:
        space: The search space to propose from.
        seed: Seed of every random choice.
        workers: Children trained at once (unused: the algorithm is asynchronous).
        settings: Values for :class:`EvolutionSettings`.
    """

    Settings = EvolutionSettings

    @classmethod
    def check_settings(cls, s: EvolutionSettings) -> None:
        if s.population_size < 1:
            raise UserInputError(f"must be at least 1, got {s.population_size!r}",
                                 key="strategy.population_size")
        if not 1 <= s.sample_size <= s.population_size:
            raise UserInputError(f"must be between 1 and population_size ({s.population_size}),"
                                 f" got {s.sample_size!r}", key="strategy.sample_size")

    def __init__(self, space: SearchSpace, *, seed: int = 0, workers: int = 1,
                 **settings: Any):
        super().__init__(space, seed=seed, workers=workers, **settings)
        # (flat encoding, reward), oldest first
        self.population: deque[tuple[dict[str, Any], float]] = deque()
        self.n_random = 0  # asks answered at random (population not yet full)
        self.n_mutations = 0  # asks answered with a mutated tournament winner
        self.n_told = 0
        self._progress: dict[str, float] | None = None

    # ------------------------------------------------------------------ ask / tell
    def ask(self, trial_id: int) -> Architecture | None:
        if len(self.population) < self.settings.population_size:
            self.n_random += 1
            return self.space.sample(self.rng)
        # ALGO LOGIC: tournament selection, then mutate the winner.
        sample = self.rng.choice(len(self.population), size=self.settings.sample_size,
                                 replace=False)
        winner = max(sample, key=lambda i: (self.population[i][1], -i))  # ties: the oldest
        parent = self.space.from_flat(self.population[int(winner)][0])
        self.n_mutations += 1
        return self.mutate(parent)

    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        self.n_told += 1
        if reward is None or not math.isfinite(reward):
            if self.settings.failure_reward is None:
                return
            reward = self.settings.failure_reward
        # ALGO LOGIC: the child joins the population and the oldest member dies (aging).
        flat = {d.name: d.choices[i] for d, i in self.space.decisions_of(architecture)}
        self.population.append((flat, float(reward)))
        if len(self.population) > self.settings.population_size:
            self.population.popleft()
        rewards = [r for _, r in self.population]
        self._progress = {"population": float(len(rewards)), "population_best": max(rewards),
                          "population_mean": sum(rewards) / len(rewards)}

    def mutate(self, parent: Architecture) -> Architecture:
        """Change one decision of ``parent`` to another valid choice.

        The decision process is then walked again: decisions that still exist keep the parent's
        value when it is still allowed (a new layer type may not have it), and decisions that
        only exist now (a deeper network, a new layer type's parameters) are drawn at random.
        """
        sequence = self.space.decisions_of(parent)
        if not sequence:
            return parent  # a space with a single architecture
        decision, index = sequence[int(self.rng.integers(len(sequence)))]
        others = [i for i in range(len(decision.choices)) if i != index]
        if not others:
            return parent
        mutated = {decision.name: decision.choices[others[int(self.rng.integers(len(others)))]]}
        old = parent.flat

        def choose(d: Decision, _: dict[str, Any]) -> Any:
            if d.name in mutated:
                return mutated[d.name]
            if d.name in old and _allowed(d, old[d.name]):
                return d.choices[d.index(old[d.name])]
            return d.choices[int(self.rng.integers(len(d.choices)))]

        return self.space.decide(choose)

    def progress(self) -> dict[str, float] | None:
        stats, self._progress = self._progress, None
        return stats

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self) -> StrategyState:
        state = super().state_dict()
        state.meta.update(
            population=[[flat, reward] for flat, reward in self.population],
            n_random=self.n_random, n_mutations=self.n_mutations, n_told=self.n_told)
        return state

    def load_state_dict(self, state: StrategyState) -> None:
        super().load_state_dict(state)
        meta = state.meta
        self.population = deque((dict(flat), float(reward)) for flat, reward in meta["population"])
        self.n_random = int(meta["n_random"])
        self.n_mutations = int(meta["n_mutations"])
        self.n_told = int(meta["n_told"])
        self._progress = None


def _allowed(decision: Decision, value: Any) -> bool:
    try:
        decision.index(value)
    except SpaceError:
        return False
    return True
