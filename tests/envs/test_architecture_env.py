"""ArchitectureEnv: gymnasium's checker, a real synchronous drive, masks, errors, registration."""

from __future__ import annotations

from pathlib import Path

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import automl  # noqa: F401  (registers automl/Architecture-v0)
from automl.envs import ArchitectureEnv
from automl.space import load_space
from automl.testing.known_reward import hidden_target
from automl.testing.known_reward import match_reward

SPACES = Path(__file__).resolve().parents[2] / "search_spaces"
QUICKSTART = SPACES / "quickstart.yaml"


def random_episode(env: gymnasium.Env, rng: np.random.Generator) -> tuple[float, dict, int]:
    """Run one episode with a uniform masked policy; return (reward, last info, steps)."""
    obs, info = env.reset()
    steps = 0
    while True:
        assert env.observation_space.contains(obs)
        action = int(rng.choice(np.flatnonzero(info["action_mask"])))
        obs, reward, terminated, truncated, info = env.step(action)
        steps += 1
        assert not truncated
        if terminated:
            return reward, info, steps
        assert reward == 0.0


@pytest.mark.parametrize("path", sorted(SPACES.glob("*.yaml")), ids=lambda p: p.stem)
def test_check_env_passes_on_every_shipped_space(path: Path) -> None:
    env = gymnasium.make("automl/Architecture-v0", space=str(path))
    check_env(env.unwrapped, skip_render_check=True)


def test_random_masked_drive_with_a_real_evaluate() -> None:
    space = load_space(SPACES / "lecture_dense.yaml")
    target = hidden_target(space, 0)
    reward_fn = match_reward(space, target)
    env = ArchitectureEnv(space, evaluate=reward_fn)
    rng = np.random.default_rng(0)
    for _ in range(20):
        reward, info, steps = random_episode(env, rng)
        architecture = info["architecture"]
        assert reward == pytest.approx(reward_fn(architecture))
        assert steps == len(space.decisions_of(architecture))
        assert info["decision"] is None
        assert not info["action_mask"].any()
    # The optimum is reachable by following the target's decisions.
    env.reset(seed=1)
    for _, index in space.decisions_of(target):
        obs, reward, terminated, _, info = env.step(index)
    assert terminated and reward == 1.0 and info["architecture"] == target


def test_observation_and_mask_layout() -> None:
    space = load_space(QUICKSTART)
    env = ArchitectureEnv(space)
    slots = space.slots()
    choice_dims = sum(len(d.choices) for d in slots)
    assert env.observation_space.shape == (choice_dims + len(slots),)
    assert env.action_space.n == space.max_choices()
    obs, info = env.reset(seed=0)
    first = space.next_decision({})
    assert info["decision"] == first.name
    assert info["action_mask"].dtype == np.int8
    assert info["action_mask"].tolist() == [1] * len(first.choices) + [0] * (
        space.max_choices() - len(first.choices))
    assert obs[:choice_dims].sum() == 0  # nothing decided yet
    assert obs[choice_dims + [d.slot for d in slots].index(first.slot)] == 1.0
    obs, *_ = env.step(1)
    assert obs[:choice_dims].sum() == 1 and obs[choice_dims:].sum() == 1


def test_trajectory_rebuilds_the_episode() -> None:
    env = ArchitectureEnv(QUICKSTART)
    rng = np.random.default_rng(3)
    observations, actions, masks = [], [], []
    obs, info = env.reset()
    terminated = False
    while not terminated:
        observations.append(obs)
        masks.append(info["action_mask"])
        actions.append(int(rng.choice(np.flatnonzero(info["action_mask"]))))
        obs, _, terminated, _, info = env.step(actions[-1])
    observations.append(obs)
    masks.append(info["action_mask"])
    trajectory = env.trajectory(info["architecture"])
    np.testing.assert_array_equal(trajectory.observations, np.array(observations))
    np.testing.assert_array_equal(trajectory.actions, actions)
    np.testing.assert_array_equal(trajectory.masks, np.array(masks))


@pytest.mark.parametrize("action", [2, 7, -1, 0.5, "0", True])
def test_invalid_action_raises_a_clear_value_error(action: object) -> None:
    env = ArchitectureEnv(QUICKSTART)  # first decision: num_layers in {1, 2}
    env.reset(seed=0)
    with pytest.raises(ValueError, match="not valid for decision 'num_layers'"):
        env.step(action)


def test_step_outside_an_episode_raises() -> None:
    env = ArchitectureEnv(QUICKSTART)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    env.reset()
    terminated = False
    while not terminated:
        _, _, terminated, _, _ = env.step(0)
    with pytest.raises(RuntimeError, match="complete"):
        env.step(0)


def test_action_space_sample_respects_the_current_decision() -> None:
    env = ArchitectureEnv(QUICKSTART)
    env.action_space.seed(0)
    for _ in range(30):
        _, info = env.reset()
        terminated = False
        while not terminated:
            action = env.action_space.sample()
            assert info["action_mask"][action] == 1
            _, _, terminated, _, info = env.step(action)


def test_without_evaluate_the_terminal_reward_is_zero_and_the_architecture_is_returned() -> None:
    env = ArchitectureEnv(QUICKSTART)
    reward, info, _ = random_episode(env, np.random.default_rng(0))
    assert reward == 0.0
    assert info["architecture"] in set(env.space.enumerate())


def test_gymnasium_make_with_a_path_and_with_a_space_object() -> None:
    by_path = gymnasium.make("automl/Architecture-v0", space=str(QUICKSTART))
    by_space = gymnasium.make("automl/Architecture-v0", space=load_space(QUICKSTART))
    obs_a, info_a = by_path.reset(seed=0)
    obs_b, info_b = by_space.reset(seed=0)
    np.testing.assert_array_equal(obs_a, obs_b)
    assert info_a["decision"] == info_b["decision"]
    rng = np.random.default_rng(0)
    reward, info, _ = random_episode(by_space, rng)
    assert info["architecture"].summary()


def test_importing_automl_twice_does_not_register_twice() -> None:
    import importlib

    import automl.envs

    spec = gymnasium.spec("automl/Architecture-v0")
    importlib.reload(automl.envs)
    assert gymnasium.spec("automl/Architecture-v0") is spec
