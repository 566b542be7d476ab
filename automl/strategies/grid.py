"""Grid search: every architecture of the space once, in enumeration order.

Used by ``automl tabulate`` to evaluate a small space exhaustively; the search loop's store and
resume make the tabulation restartable for free.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from automl.space import Architecture
from automl.strategies.base import Strategy
from automl.strategies.base import StrategyState


class GridSearch(Strategy):
    """Proposes the space's architectures in :meth:`SearchSpace.enumerate` order, then None."""

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self.position = 0
        self._iterator: Iterator[Architecture] = self.space.enumerate()

    def ask(self, trial_id: int) -> Architecture | None:
        architecture = next(self._iterator, None)
        if architecture is not None:
            self.position += 1
        return architecture

    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        pass

    def state_dict(self) -> StrategyState:
        state = super().state_dict()
        state.meta["position"] = self.position
        return state

    def load_state_dict(self, state: StrategyState) -> None:
        super().load_state_dict(state)
        self.position = int(state.meta["position"])
        self._iterator = itertools.islice(self.space.enumerate(), self.position, None)
