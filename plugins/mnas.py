"""The ``mnas`` reward: accuracy traded against model size, in the form of MnasNet.

Tan et al. 2019 ("MnasNet: Platform-Aware Neural Architecture Search for Mobile") reward a
child with ``ACC(m) x [LAT(m) / T]^w``: the validation metric scaled by how far the cost is from
a target, with ``w = -0.07`` so that doubling the cost costs about 5% of the reward
(2^-0.07 = 0.953) and halving it gains about 5%. A soft trade-off rather than a hard limit: the
search can still pick a larger model when it is clearly better. Here the cost is the parameter
count (the facts every child reports), so the reward works on any machine::

    reward = metric x (params / target_params) ^ w

In a space::

    reward: {name: mnas, metric: uar, target_params: 20000, w: -0.07}

The metric should be non-negative (accuracy, uar): a negative one would be pushed further down
for small models.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl.errors import TrialFailedError
from automl.registry import REWARDS
from automl.space import Param
from automl.training.rewards import Reward

__version__ = "1.0.0"


def mnas(metrics: Mapping[str, float], facts: Mapping[str, Any], *, metric: str = "accuracy",
         target_params: float = 100_000.0, w: float = -0.07) -> float:
    """``metric x (params / target_params) ^ w`` (MnasNet's soft constraint)."""
    if metric not in metrics:
        raise TrialFailedError(f"reward 'mnas' needs validation metric {metric!r}; this task "
                               f"reports {', '.join(sorted(metrics))}")
    params = max(1, int(facts["params"]))
    # ALGO LOGIC: MnasNet's multi-objective reward, ACC(m) x [cost(m) / T]^w
    return float(metrics[metric]) * (params / float(target_params)) ** float(w)


REWARDS.register("mnas", Reward(
    "mnas",
    mnas,
    {
        "metric": Param(str, default="accuracy",
                        doc="validation metric to scale (accuracy, uar, ccc, ...)"),
        "target_params": Param(float, min=1.0, max=1e12, default=100_000.0,
                               doc="parameter count at which the metric is taken as is"),
        "w": Param(float, min=-10.0, max=0.0, default=-0.07,
                   doc="exponent; -0.07: doubling the size costs about 5%"),
    },
    doc="MnasNet: metric x (params / target_params) ^ w",
))
