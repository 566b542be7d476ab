"""A plugin strategy that raises, or whose ask() returns something else than an Architecture,
ends a search with one line naming it (no traceback from inside the loop); its checkpoint is
its own, so guarding it changes no run's resume."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from automl.engine import run_search
from automl.execution import ExecutionSettings
from automl.registry import STRATEGIES
from automl.registry._registry import loading
from automl.space import load_space
from automl.strategies import create_strategy
from automl.strategies.plugin_guard import PluginGuard
from automl.strategies.plugin_guard import StrategyFailed
from automl.strategies.random import RandomSearch
from tests.conftest import SPACES
from tests.conftest import TINY_DIGITS

SOURCE = "/plugins/odd_strategies.py"


class AsksADict(RandomSearch):
    def ask(self, trial_id: int) -> Any:
        return self.space.sample(self.rng).to_dict()


class TellsBadly(RandomSearch):
    def tell(self, trial_id: int, architecture: Any, reward: float | None) -> None:
        raise ValueError("no tells today")


class FailsToStart(RandomSearch):
    def __init__(self, *args: Any, **kwargs: Any):
        raise RuntimeError("missing model file")


@pytest.fixture()
def odd_strategies(isolated_plugins: None) -> None:
    with loading(SOURCE):
        STRATEGIES.register("asks_a_dict", AsksADict)
        STRATEGIES.register("tells_badly", TellsBadly)
        STRATEGIES.register("fails_to_start", FailsToStart)


@pytest.mark.parametrize("strategy, says, folder_left", [
    ("asks_a_dict", "ask() returned dict; expected an automl.space.Architecture", True),
    ("tells_badly", "tell() raised ValueError: no tells today", True),
    ("fails_to_start", "__init__() raised RuntimeError: missing model file", False),
])
def test_a_failing_plugin_strategy_is_one_line_naming_it(
        odd_strategies: None, tmp_path: Path, strategy: str, says: str,
        folder_left: bool) -> None:
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_DIGITS.replace("epochs: 2", "epochs: 1"))
    with pytest.raises(StrategyFailed) as info:
        run_search(space, strategy=strategy, trials=2, name="odd", runs_dir=tmp_path / "runs",
                   execution=ExecutionSettings(executor="in_process"))
    line = info.value.one_line()
    assert line.startswith(f"{SOURCE}: strategy {strategy!r}: ") and says in line, line
    assert "\n" not in line
    # a plugin that never started leaves no run; one that failed mid-search leaves its run
    # to resume once the plugin is fixed
    assert (tmp_path / "runs" / "odd").exists() == folder_left


def test_the_guard_keeps_the_plugins_checkpoint_and_builtins_are_not_guarded(
        odd_strategies: None) -> None:
    space = load_space(SPACES / "quickstart.yaml")
    guarded = create_strategy("tells_badly", space, seed=3)
    assert isinstance(guarded, PluginGuard) and isinstance(guarded.unwrapped, TellsBadly)
    plain = TellsBadly(space, seed=3)
    assert guarded.state_dict().meta == plain.state_dict().meta
    assert np.all([guarded.ask(t).id == plain.ask(t).id for t in range(5)])
    assert type(create_strategy("random", space)) is RandomSearch
