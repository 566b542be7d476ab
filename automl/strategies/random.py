"""Random search: a uniform choice at every decision. The baseline every strategy must beat."""

from __future__ import annotations

from automl.space import Architecture
from automl.strategies.base import Strategy


class RandomSearch(Strategy):
    """Samples each decision uniformly; learns nothing from results."""

    def ask(self, trial_id: int) -> Architecture | None:
        return self.space.sample(self.rng)

    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        pass
