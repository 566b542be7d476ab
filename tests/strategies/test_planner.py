"""The planner: the reward model's best untried architectures, and the agents learning them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from automl.space import load_space
from automl.strategies import create_strategy
from automl.strategies.batch_walk import BatchWalker
from automl.strategies.planner import plan
from automl.strategies.planner import uniform_codes
from automl.strategies.reward_model import RewardModel

SPACES = Path(__file__).resolve().parents[2] / "search_spaces"


@pytest.fixture(scope="module")
def space():
    return load_space(SPACES / "lecture_dense.yaml")


def _depth_reward(architecture) -> float:
    """Deeper is better, and relu beats the other activations in every layer."""
    layers = architecture.flat["num_layers"]
    relu = sum(architecture.flat.get(f"layers.{i}.activation") == "relu" for i in range(layers))
    return float(layers + relu)


def _told_model(space, n: int, seed: int) -> RewardModel:
    rng = np.random.default_rng(seed)
    model = RewardModel(space)
    for architecture in (space.sample(rng) for _ in range(n)):
        codes = model.codes.encode(architecture)
        if model.find(codes) is None:
            model.add(codes, _depth_reward(architecture))
    model.fit()
    return model


def test_uniform_codes_are_architectures_of_the_space_with_every_depth_drawn(space):
    model = RewardModel(space)
    codes = uniform_codes(BatchWalker(space), model.codes, 600, np.random.default_rng(0))
    depths = set()
    for row in codes:
        architecture = model.codes.decode(row)  # raises if a code is not a valid choice
        assert (model.codes.encode(architecture) == row).all()
        depths.add(architecture.flat["num_layers"])
    assert depths == set(space.slots()[0].choices)  # every depth of 1..5 comes up


def test_plan_returns_the_best_untried_of_the_pool_best_first(space):
    model = _told_model(space, 40, seed=0)
    codes, scores = plan(model, BatchWalker(space), np.random.default_rng(1), pool=500, top=5,
                         beta=0.3)
    assert len(codes) == 5 and (np.diff(scores) <= 0).all()
    assert all(model.find(row) is None for row in codes)  # nothing already told
    np.testing.assert_allclose(model.optimistic(codes, 0.3), scores)
    # The same pool, scored by hand: the planner kept its top 5.
    pool = np.unique(uniform_codes(BatchWalker(space), model.codes, 500, np.random.default_rng(1)),
                     axis=0)
    pool = pool[[model.find(row) is None for row in pool]]
    assert scores[-1] >= np.sort(model.optimistic(pool, 0.3))[-5] - 1e-12
    # The model learned the reward: the planned architectures are deep relu networks.
    planned = [_depth_reward(model.codes.decode(row)) for row in codes]
    drawn = [_depth_reward(model.codes.decode(row)) for row in pool]
    assert np.mean(planned) > np.mean(drawn) + 2.0


def test_planned_architectures_make_reinforce_propose_better_children(space):
    """Same seeds and first results, with and without the planner: over the next 30 proposals
    (each told its reward), the planning controller proposes children of a higher mean reward."""
    means = {}
    for planned in (0, 8):
        proposals = []
        for seed in range(3):
            rng = np.random.default_rng(3 + seed)
            agent = create_strategy("reinforce", space, seed=seed, settings={"planned": planned})
            agent.set_budget(45)
            for trial_id in range(15):
                architecture = space.sample(rng)
                agent.tell(trial_id, architecture, _depth_reward(architecture))
            for trial_id in range(15, 45):
                architecture = agent.ask(trial_id)
                proposals.append(_depth_reward(architecture))
                agent.tell(trial_id, architecture, proposals[-1])
        means[planned] = float(np.mean(proposals))
    assert means[8] > means[0] + 0.3, means


def test_dqn_acts_out_the_planned_architectures_as_imagined_episodes(space):
    """Each round of imagination adds the planner's best untried architectures to the acted
    episodes, rewarded by the model's optimism (above that of typical architectures)."""
    rng = np.random.default_rng(0)
    dqn = create_strategy("dqn", space, seed=0, settings={"planned": 3, "imagined_episodes": 2})
    for trial_id in range(10):
        architecture = space.sample(rng)
        dqn.tell(trial_id, architecture, _depth_reward(architecture))
    buffer = dqn.imagined_buffer
    buffer.pos = buffer.size = 0
    dqn.imagine(2)
    done = buffer.dones[: buffer.size] > 0
    assert done.sum() == 2 + 3
    planned_rewards = np.sort(buffer.rewards[: buffer.size][done])[-3:]
    assert (planned_rewards > np.median(dqn.model.optimistic(
        uniform_codes(dqn.walker, dqn.model.codes, 200, rng), dqn.settings.model_beta))).all()
    terminals = buffer.next_observations[: buffer.size][done]
    assert len({row.tobytes() for row in terminals}) == 5  # five different architectures


@pytest.mark.parametrize("strategy", ["reinforce", "dqn"])
def test_planner_settings_are_checked(space, strategy):
    from automl.errors import UserInputError

    with pytest.raises(UserInputError, match="planned"):
        create_strategy(strategy, space, settings={"planned": -1})
    with pytest.raises(UserInputError, match="plan_pool"):
        create_strategy(strategy, space, settings={"plan_pool": 0})
