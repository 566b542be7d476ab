"""The reward contract and the built-in rewards.

A reward maps the child's validation metrics and model facts (``params``: parameter count,
``train_seconds``) to one float, higher is better. It runs in the driver, so a reward plugin
never needs to reach the workers. The test split is reported, never rewarded.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import numpy as np

from automl.errors import TrialFailedError
from automl.errors import short
from automl.registry import REWARDS
from automl.registry._contracts import PARAM_KINDS
from automl.registry._contracts import require_accepts
from automl.registry._contracts import signature_of
from automl.registry._registry import ContractViolation
from automl.space.params import Param
from automl.space.params import check_params

RewardFn = Callable[..., float]


@dataclass(frozen=True)
class Reward:
    """A registered reward.

    Args:
        name: Registered name.
        fn: ``fn(metrics, facts, **params) -> float``; metrics are validation metrics
            (``accuracy``, ``uar``, ``loss`` for classification; ``ccc``, ``mse``, ``loss`` for
            regression), facts are ``params`` (parameter count) and ``train_seconds``.
        params: Declared parameters, set under ``reward:`` in the YAML.
        doc: One line for listings.
    """

    name: str
    fn: RewardFn
    params: Mapping[str, Param] = field(default_factory=dict)
    doc: str = ""

    def __call__(self, metrics: Mapping[str, float], facts: Mapping[str, Any],
                 **params: Any) -> float:
        value = self.fn(metrics, facts, **params)
        # a number only: float() would also read True as 1.0 and the text "0.9" as 0.9
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise TrialFailedError(f"reward {self.name!r} returned {type(value).__name__} "
                                   f"{short(value)}; expected a number")
        return float(value)


def _metric(name: str) -> RewardFn:
    def fn(metrics: Mapping[str, float], facts: Mapping[str, Any]) -> float:
        if name not in metrics:
            raise TrialFailedError(
                f"reward needs validation metric {name!r}; this task reports "
                f"{', '.join(sorted(metrics))}")
        return float(metrics[name])

    return fn


def compute_reward(name: str, params: Mapping[str, Any], metrics: Mapping[str, float],
                   facts: Mapping[str, Any]) -> float:
    """Look up and apply the reward ``name`` (used by the search loop in the driver)."""
    reward = REWARDS.get(name)
    return reward(metrics, facts, **params)


def check_reward(name: str, obj: Any) -> Any:
    """A :class:`~automl.training.rewards.Reward`, or a function ``fn(metrics, facts,
    **params)`` whose keyword parameters with defaults become its declared parameters."""
    if not isinstance(obj, Reward):
        if not callable(obj) or isinstance(obj, type):
            raise ContractViolation(f"must be an automl.training.rewards.Reward or a function "
                                    f"fn(metrics, facts, **params), got {type(obj).__name__}")
        params = {}
        parameters = list(signature_of(obj, "the reward function").parameters.values())
        for parameter in parameters[2:]:
            if parameter.default is inspect.Parameter.empty or parameter.kind not in (
                    parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                continue
            if type(parameter.default) not in PARAM_KINDS:
                raise ContractViolation(
                    f"parameter {parameter.name!r} has default {parameter.default!r}; declare "
                    "it with Reward(name, fn, params={...: Param(...)}) instead")
            params[parameter.name] = Param(type(parameter.default), default=parameter.default)
        doc = (inspect.getdoc(obj) or "").strip().splitlines()
        obj = Reward(name, obj, params, doc=doc[0] if doc else "")
    if obj.name != name:
        raise ContractViolation(f"is registered under a different name than its Reward.name "
                                f"{obj.name!r}")
    if not callable(obj.fn):
        raise ContractViolation("fn is not callable")
    params = check_params(obj.params, defaults_required=False)
    shape = "(metrics, facts, **params)" + (f" with params {', '.join(params)}" if params else "")
    require_accepts(obj.fn, "fn", shape, {}, {}, **{k: p.default for k, p in params.items()})
    return obj


REWARDS.register("accuracy", Reward("accuracy", _metric("accuracy"),
                                    doc="validation accuracy"))
REWARDS.register("uar", Reward("uar", _metric("uar"),
                               doc="validation unweighted average recall (ComParE)"))
REWARDS.register("ccc", Reward("ccc", _metric("ccc"),
                               doc="validation concordance correlation coefficient (regression)"))
REWARDS.register("neg_val_loss", Reward(
    "neg_val_loss", lambda metrics, facts: -float(metrics["loss"]),
    doc="negative validation loss"))
