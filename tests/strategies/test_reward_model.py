"""The agents' reward model: fantasies of children in flight, and their round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from automl.space import load_space
from automl.strategies import create_strategy
from automl.strategies.reward_model import RewardModel

SPACES = Path(__file__).resolve().parents[2] / "search_spaces"


@pytest.fixture(scope="module")
def told_model_inputs():
    space = load_space(SPACES / "lecture_dense.yaml")
    rng = np.random.default_rng(0)
    architectures = [space.sample(rng) for _ in range(40)]
    rewards = [float(a.flat["num_layers"]) + rng.normal(0, 0.1) for a in architectures]
    return space, architectures, rewards


def _model(space, architectures, rewards, fantasy):
    model = RewardModel(space, fantasy=fantasy)
    for architecture, reward in zip(architectures, rewards, strict=True):
        model.add(model.codes.encode(architecture), reward)
    return model


def _untold(space, model):
    """``[1, slots]`` codes of an architecture the model was not told of."""
    rng = np.random.default_rng(1)
    flying = next(a for a in (space.sample(rng) for _ in range(100))
                  if model.find(model.codes.encode(a)) is None)
    return model.codes.encode(flying)[None, :]


@pytest.mark.parametrize("fantasy", ["believer", "liar"])
def test_a_child_in_flight_looks_less_promising_until_its_result_arrives(told_model_inputs,
                                                                         fantasy):
    space, architectures, rewards = told_model_inputs
    model = _model(space, architectures, rewards, fantasy)
    codes = _untold(space, model)
    model.fit()
    mean, std = model.predict(codes)
    before = model.optimistic(codes, 0.3)

    model.add_pending(7, codes[0])
    model.fit()
    mean_pending, std_pending = model.predict(codes)
    assert std_pending[0] < 0.75 * std[0]  # the model treats it as observed (with noise)
    if fantasy == "believer":
        assert mean_pending[0] == pytest.approx(mean[0], abs=0.05)
    else:  # the worst told reward: the region looks worse until the result arrives
        assert mean_pending[0] < mean[0] - 0.5
    assert model.optimistic(codes, 0.3)[0] < before[0]

    model.drop_pending(7)
    model.fit()
    np.testing.assert_allclose(model.optimistic(codes, 0.3), before)


def test_an_optimist_counts_a_child_in_flight_as_the_best_told(told_model_inputs):
    space, architectures, rewards = told_model_inputs
    model = _model(space, architectures, rewards, "optimist")
    codes = _untold(space, model)
    model.fit()
    mean, _ = model.predict(codes)

    model.add_pending(7, codes[0])
    model.fit()
    mean_pending, _ = model.predict(codes)
    # its region looks like that of the best results so far (rank-score units: above the
    # 84th percentile), not as good as the model guessed
    assert mean_pending[0] > mean[0] + 0.5
    assert mean_pending[0] > 1.0

    model.drop_pending(7)
    model.fit()
    np.testing.assert_allclose(model.predict(codes)[0], mean)


def test_fantasies_survive_a_state_round_trip(told_model_inputs):
    space, architectures, rewards = told_model_inputs
    model = _model(space, architectures, rewards, "believer")
    model.add_pending(3, model.codes.encode(architectures[0]))
    model.fit()
    restored = RewardModel(space, fantasy="believer")
    restored.load_state(model.state(), model.x)
    probe = np.stack([model.codes.encode(a) for a in architectures[:5]])
    np.testing.assert_allclose(restored.predict(probe)[1], model.predict(probe)[1])
    assert list(restored.pending) == [3]


def test_unknown_fantasy_is_refused(told_model_inputs):
    with pytest.raises(ValueError, match="fantasy"):
        RewardModel(told_model_inputs[0], fantasy="oracle")


@pytest.mark.parametrize("name", ["reinforce", "dqn"])
def test_agents_fantasise_exactly_their_children_in_flight(told_model_inputs, name):
    space = told_model_inputs[0]
    strategy = create_strategy(name, space, seed=0, workers=3)
    asked = {trial_id: strategy.ask(trial_id) for trial_id in range(3)}
    assert sorted(strategy.model.pending) == [0, 1, 2]
    strategy.tell(1, asked[1], 0.5)
    assert sorted(strategy.model.pending) == [0, 2]
    strategy.tell(0, asked[0], None)  # a failure is a result too
    strategy.tell(2, asked[2], 0.7)
    assert strategy.model.pending == {}
