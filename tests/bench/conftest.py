"""A registered strategy that proposes a space in enumeration order, for exact bench traces."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from automl.registry import REGISTRIES
from automl.registry import STRATEGIES
from automl.registry import ensure_builtins
from automl.registry._registry import restore
from automl.registry._registry import snapshot
from automl.space import Architecture
from automl.space import SearchSpace
from automl.strategies.base import Strategy


class Enumerate(Strategy):
    """Proposes the space in enumeration order (x = 0, 1, 2, ... on a line space)."""

    def __init__(self, space: SearchSpace, **kwargs: Any):
        super().__init__(space, **kwargs)
        self._order = list(space.enumerate())

    def ask(self, trial_id: int) -> Architecture | None:
        return self._order[trial_id % len(self._order)]

    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        pass


@pytest.fixture
def enumerate_strategy() -> Iterator[str]:
    ensure_builtins()
    saved = snapshot(REGISTRIES)
    STRATEGIES.register("enumerate_test", Enumerate)
    yield "enumerate_test"
    restore(REGISTRIES, saved)
