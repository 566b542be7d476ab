"""Registries: one call or one decorator with a name; duplicates refused; every kind's contract
checked at registration with a PluginError that names the plugin source and the problem."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from automl.builder import LayerType
from automl.errors import PluginError
from automl.errors import UserInputError
from automl.registry import LAYERS
from automl.registry import REWARDS
from automl.registry import STRATEGIES
from automl.registry import TASKS
from automl.registry._registry import loading
from automl.space import Param
from automl.space import parse_space
from automl.strategies import Strategy
from automl.tasks import Task
from automl.training.rewards import Reward

SOURCE = "/somewhere/my_plugin.py"


def identity(x: Any, params: Any, context: Any) -> Any:
    return x


class NoLoad(Task):
    """A task that forgot load()."""


class HalfStrategy(Strategy):
    def ask(self, trial_id: int) -> Any:
        return None


def wrong_reward(metrics: Any) -> float:
    return 1.0


# (registry, name, object, the problem the message must contain)
VIOLATIONS: dict[str, tuple[Any, str, Any, str]] = {
    "layer_not_a_layer_type": (LAYERS, "x1", identity, "must be an automl.builder.LayerType"),
    "layer_build_not_callable": (LAYERS, "x2", LayerType("x2", 42), "build is not callable"),
    "layer_build_wrong_signature": (LAYERS, "x3", LayerType("x3", lambda x: x),
                                    "build must accept (x, params, context)"),
    "layer_params_not_param": (LAYERS, "x4", LayerType("x4", identity, {"units": 64}),
                               "parameter 'units' must be an automl.space.Param, got int"),
    "layer_default_invalid": (LAYERS, "x5", LayerType("x5", identity, {
        "units": Param(int, min=1)}), "parameter 'units' default None is not an integer"),
    "layer_accepts_unknown": (LAYERS, "x6", LayerType("x6", identity, accepts="graph"),
                              "accepts 'graph'"),
    "layer_name_mismatch": (LAYERS, "x7", LayerType("other", identity),
                            "different name than its LayerType.name 'other'"),
    "layer_flag_not_a_bool": (LAYERS, "x8", LayerType("x8", identity, weightless="yes"),
                              "weightless is 'yes'; allowed: True, False"),
    "task_without_load": (TASKS, "t1", NoLoad(), "does not implement load"),
    "task_not_a_task": (TASKS, "t2", object(), "must be an automl.tasks.Task"),
    "reward_wrong_signature": (REWARDS, "r1", wrong_reward,
                               "fn must accept (metrics, facts"),
    "reward_params_not_accepted": (REWARDS, "r2", Reward("r2", lambda m, f: 1.0, {
        "k": Param(int, default=1)}), "fn must accept (metrics, facts, **params) with params k"),
    "strategy_not_a_subclass": (STRATEGIES, "s1", dict,
                                "must be a subclass of automl.strategies.Strategy"),
    "strategy_abstract": (STRATEGIES, "s2", HalfStrategy, "does not implement tell"),
    "strategy_bad_lazy_target": (STRATEGIES, "s3", "no_colon_here",
                                 "must look like 'package.module:Class'"),
}


@pytest.mark.parametrize("case", list(VIOLATIONS))
def test_contract_violation_names_source_and_problem(isolated_plugins: None, case: str) -> None:
    registry, name, obj, problem = VIOLATIONS[case]
    with loading(SOURCE), pytest.raises(PluginError) as info:
        registry.register(name, obj)
    line = info.value.one_line()
    assert line.startswith(f"{SOURCE}: {registry.kind} {name!r} "), line
    assert problem in line, line
    assert name not in registry  # nothing half-registered


def test_duplicate_is_refused_naming_both_sources(isolated_plugins: None) -> None:
    with loading(SOURCE), pytest.raises(PluginError) as info:
        LAYERS.register("dense", LayerType("dense", identity))
    assert info.value.one_line() == (
        f"{SOURCE}: layer 'dense' is registered twice (first by builtin)")
    assert LAYERS.entry("dense").is_builtin


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(UserInputError, match=r"unknown layer 'dens' \(did you mean 'dense'\?\)"
                                             r"; allowed: .*'dense'"):
        LAYERS.get("dens")


def test_one_call_or_one_decorator(isolated_plugins: None) -> None:
    LAYERS.register("passthrough", LayerType("passthrough", identity, {
        "gain": Param(float, min=0.0, default=1.0)}))

    @REWARDS.register("scaled_accuracy")
    def scaled_accuracy(metrics: Any, facts: Any, *, scale: float = 2.0,
                        metric: str = "accuracy") -> float:
        """Validation metric times a scale."""
        return scale * metrics[metric]

    @TASKS.register("tiny_task")
    class TinyTask(Task):
        def load(self, params: Any, *, base_dir: Path, seed: int) -> Any:
            raise NotImplementedError

    assert scaled_accuracy({"accuracy": 0.25}, {}) == 0.5  # the decorator returns the function
    reward = REWARDS.get("scaled_accuracy")
    assert isinstance(reward, Reward) and reward.doc == "Validation metric times a scale."
    assert reward.params["scale"] == Param(float, default=2.0)
    assert reward({"accuracy": 0.25}, {}, scale=4.0, metric="accuracy") == 1.0
    assert isinstance(TASKS.get("tiny_task"), TinyTask)  # a Task class is instantiated
    assert TASKS.get("tiny_task").name == "tiny_task"
    # registered outside discovery: attributed to the registering module, not "builtin"
    assert LAYERS.entry("passthrough").source.startswith("module ")
    # the declared parameters validate spaces before anything trains
    space = parse_space({"task": "digits", "reward": {"name": "scaled_accuracy", "scale": 3.0},
                         "layers": {"types": {"passthrough": {"gain": [0.5, 1.5]}}}},
                        source_name="s.yaml", base_dir=Path("."))
    assert space.reward.params == {"scale": 3.0, "metric": "accuracy"}
    with pytest.raises(UserInputError, match=r"layers.types.passthrough.gain\[0\]: -1.0 is "
                                             "below the minimum"):
        parse_space({"task": "digits", "layers": {"types": {"passthrough": {"gain": [-1.0]}}}},
                    source_name="s.yaml", base_dir=Path("."))
    with pytest.raises(UserInputError, match="reward.scale: 'x' is not a number"):
        parse_space({"task": "digits", "reward": {"name": "scaled_accuracy", "scale": "x"},
                     "layers": {"types": {"dense": {}}}}, source_name="s.yaml",
                    base_dir=Path("."))


def test_builtins_pass_their_own_contracts() -> None:
    from automl.registry import REGISTRIES

    for kind, registry in (("layer", LAYERS), ("task", TASKS), ("reward", REWARDS),
                           ("strategy", STRATEGIES)):
        check: Callable[[str, Any], Any] = REGISTRIES[kind].contract
        for entry in registry:
            if entry.is_builtin:
                check(entry.name, entry.target)


@pytest.mark.parametrize("target, problem", [
    ("no_such_module_here:Strategy", "cannot load 'no_such_module_here:Strategy' "
                                     "(ModuleNotFoundError"),
    ("automl.strategies.random:NoSuchClass", "cannot load 'automl.strategies.random:NoSuchClass'"
                                             " (AttributeError"),
    (f"{__name__}:HalfStrategy", "does not implement tell"),
])
def test_a_lazy_plugin_target_is_checked_when_chosen(isolated_plugins: None, target: str,
                                                     problem: str) -> None:
    """A lazy ``"module:Class"`` passes registration unseen: looking it up imports it and
    holds it to the contract, a one-line PluginError naming the plugin, not a traceback."""
    with loading(SOURCE):
        STRATEGIES.register("lazy_one", target)
    with pytest.raises(PluginError) as info:
        STRATEGIES.get("lazy_one")
    line = info.value.one_line()
    assert line.startswith(f"{SOURCE}: strategy 'lazy_one'") and problem in line, line
