"""Metrics and rewards against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from automl.registry import REWARDS
from automl.registry import ensure_builtins
from automl.training.metrics import accuracy
from automl.training.metrics import ccc
from automl.training.metrics import uar


def test_uar_is_mean_of_per_class_recalls() -> None:
    y_true = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 0, 2, 2, 0, 0])
    # recalls: class 0: 3/4, class 1: 1/2, class 2: 2/4 -> mean 0.5833...
    assert uar(y_true, y_pred) == pytest.approx((0.75 + 0.5 + 0.5) / 3)
    assert accuracy(y_true, y_pred) == pytest.approx(0.6)


def test_uar_chance_on_imbalanced_data() -> None:
    y_true = np.array([0] * 9 + [1])
    y_pred = np.zeros(10, dtype=int)
    assert accuracy(y_true, y_pred) == pytest.approx(0.9)
    assert uar(y_true, y_pred) == pytest.approx(0.5)


def test_ccc_hand_computed() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    y = np.array([2.0, 3.0, 4.0, 5.0])
    # cov = 1.25, var x = var y = 1.25, mean diff = 1 -> 2*1.25 / (1.25+1.25+1) = 0.714285...
    assert ccc(x, y) == pytest.approx(2.5 / 3.5)
    assert ccc(x, x) == pytest.approx(1.0)
    centred = x - x.mean()
    assert ccc(centred, -centred) == pytest.approx(-1.0)
    assert ccc(x, -x) == pytest.approx(-2.5 / 27.5)  # the mean difference (5) is penalised


def test_builtin_rewards() -> None:
    ensure_builtins()
    metrics = {"accuracy": 0.8, "uar": 0.7, "loss": 0.5}
    assert REWARDS.get("accuracy")(metrics, {}) == 0.8
    assert REWARDS.get("uar")(metrics, {}) == 0.7
    assert REWARDS.get("neg_val_loss")(metrics, {}) == -0.5
    assert REWARDS.get("ccc")({"ccc": 0.3}, {}) == 0.3


@pytest.mark.parametrize("value, ok", [(0.5, True), (1, True), (np.float32(0.25), True),
                                       (True, False), ("0.9", False), (None, False)])
def test_a_reward_must_return_a_number(value: object, ok: bool) -> None:
    """float() would read True as 1.0 and the text "0.9" as 0.9: a plugin's slip would rank
    children by it. Anything but a number fails the child, naming the reward."""
    from automl.errors import TrialFailedError
    from automl.training.rewards import Reward

    reward = Reward("odd", lambda metrics, facts: value)
    if ok:
        assert reward({}, {}) == float(value)  # type: ignore[arg-type]
    else:
        with pytest.raises(TrialFailedError, match="reward 'odd' returned .*; expected a number"):
            reward({}, {})
