"""A registered strategy that proposes a space in enumeration order, for exact bench traces; the
scripts of benchmarks/ loaded as modules."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
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


def benchmark_script(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module (the folder is not a package)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
