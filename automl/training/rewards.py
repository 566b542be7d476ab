"""The reward contract and the built-in rewards.

A reward maps the child's validation metrics and model facts (``params``: parameter count,
``train_seconds``) to one float, higher is better. It runs in the driver, so a reward plugin
never needs to reach the workers. The test split is reported, never rewarded.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from automl.errors import TrialFailedError
from automl.registry import REWARDS
from automl.space.params import Param

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
        return float(self.fn(metrics, facts, **params))


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


REWARDS.register("accuracy", Reward("accuracy", _metric("accuracy"),
                                    doc="validation accuracy"))
REWARDS.register("uar", Reward("uar", _metric("uar"),
                               doc="validation unweighted average recall (ComParE)"))
REWARDS.register("ccc", Reward("ccc", _metric("ccc"),
                               doc="validation concordance correlation coefficient (regression)"))
REWARDS.register("neg_val_loss", Reward(
    "neg_val_loss", lambda metrics, facts: -float(metrics["loss"]),
    doc="negative validation loss"))
