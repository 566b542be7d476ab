"""The gymnasium environment that builds an architecture decision by decision (MetaQNN's MDP).

Baker et al. (2017) frame architecture design as a finite-horizon MDP: a state is the partial
architecture, an action picks the value of the next decision, and the only reward is the
validation score of the finished child. This module is that MDP over any
:class:`~automl.space.SearchSpace`, so third-party agents (CleanRL, SB3, a ten-line tabular
Q-learner) can search our spaces, and the built-in DQN strategy acts through the same encoding.

Observation: for every slot of ``space.slots()`` a one-hot of the chosen value (zeros while
undecided, and for slots the architecture never reaches), followed by a one-hot of the current
slot (all zeros once the architecture is complete). Action: ``Discrete(space.max_choices())``;
only the first ``len(decision.choices)`` actions are valid, given as ``info["action_mask"]``.

Example::

    import gymnasium
    import numpy as np
    import automl  # registers "automl/Architecture-v0"

    env = gymnasium.make("automl/Architecture-v0", space="search_spaces/quickstart.yaml")
    obs, info = env.reset(seed=0)
    rng = np.random.default_rng(0)
    terminated = False
    while not terminated:
        action = int(rng.choice(np.flatnonzero(info["action_mask"])))
        obs, reward, terminated, truncated, info = env.step(action)
    print(info["architecture"].summary())
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces

from automl.errors import allowed
from automl.space import Architecture
from automl.space import Decision
from automl.space import SearchSpace
from automl.space import load_space

Evaluate = Callable[[Architecture], float]


@dataclass(frozen=True)
class Trajectory:
    """The transitions of one finished episode, rebuilt from its architecture.

    Attributes:
        observations: ``[T + 1, obs_dim]`` float32; the last row is the terminal observation.
        actions: ``[T]`` int64, the index chosen at each decision.
        masks: ``[T + 1, max_choices]`` int8, the valid actions at each observation (the last
            row, at the terminal observation, is all zeros).
    """

    observations: np.ndarray
    actions: np.ndarray
    masks: np.ndarray

    def __len__(self) -> int:
        return len(self.actions)


class MaskedDiscrete(spaces.Discrete):
    """``Discrete(n)`` whose ``sample()`` without a mask draws only actions valid right now.

    The environment keeps :attr:`current_mask` up to date, so generic tools that call
    ``env.action_space.sample()`` (``check_env``, random baselines) never hit an invalid action.
    Membership is unchanged: every action in ``range(n)`` is *in* the space; validity is a
    property of the state and is checked by :meth:`ArchitectureEnv.step`.
    """

    def __init__(self, n: int, seed: int | np.random.Generator | None = None):
        super().__init__(n, seed=seed)
        self.current_mask: np.ndarray = np.ones(n, dtype=np.int8)

    def sample(self, mask: Any = None, probability: Any = None) -> np.int64:
        if mask is None and probability is None:
            mask = self.current_mask
        return super().sample(mask=mask, probability=probability)


class ArchitectureEnv(gymnasium.Env[np.ndarray, np.int64]):
    """Build one architecture of ``space`` per episode, one decision per step.

    The episode terminates when the architecture is complete (``space.next_decision`` is None);
    it is never truncated. Intermediate rewards are 0. The terminal reward is
    ``evaluate(architecture)`` when ``evaluate`` is given; otherwise it is 0.0 and the caller
    scores ``info["architecture"]`` itself, later (this is how the asynchronous search loop
    uses the environment: the reward arrives through ``Strategy.tell``).

    ``info`` from ``reset`` and ``step`` holds ``"decision"`` (name of the decision to take
    now, None when complete) and ``"action_mask"`` (int8, ones for its choices); the terminal
    step adds ``"architecture"``.

    Args:
        space: A :class:`SearchSpace` or the path of a YAML file.
        evaluate: Optional ``Architecture -> float`` giving the terminal reward synchronously.
        render_mode: Unused (the environment does not render); accepted for ``gymnasium.make``.

    Raises:
        ValueError: From :meth:`step`, for an action that is not valid for the current decision.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, space: SearchSpace | str | Path, evaluate: Evaluate | None = None,
                 render_mode: str | None = None):
        self.space = space if isinstance(space, SearchSpace) else load_space(space)
        self.evaluate = evaluate
        self.render_mode = render_mode
        self.slots: list[Decision] = self.space.slots()
        # Offsets of each slot's one-hot block in the observation, then the position block.
        self._slot_index = {d.slot: i for i, d in enumerate(self.slots)}
        sizes = [len(d.choices) for d in self.slots]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self._position_offset = int(self._offsets[-1])
        self.obs_dim = self._position_offset + len(self.slots)
        self.max_choices = self.space.max_choices()
        self.observation_space = spaces.Box(0.0, 1.0, shape=(self.obs_dim,), dtype=np.float32)
        self.action_space = MaskedDiscrete(self.max_choices)
        self._chosen: dict[str, Any] | None = None
        self._choices = np.zeros(self._position_offset, dtype=np.float32)
        self._decision: Decision | None = None

    # ------------------------------------------------------------------ encoding (DQN uses it too)
    def action_mask(self, decision: Decision | None) -> np.ndarray:
        """int8 mask of the valid actions for ``decision`` (all zeros when None)."""
        mask = np.zeros(self.max_choices, dtype=np.int8)
        if decision is not None:
            mask[: len(decision.choices)] = 1
        return mask

    def trajectory(self, architecture: Architecture) -> Trajectory:
        """The observations, actions and masks of the episode that builds ``architecture``.

        Raises:
            SpaceError: If ``architecture`` is not in the space.
        """
        steps = self.space.decisions_of(architecture)
        observations = np.zeros((len(steps) + 1, self.obs_dim), dtype=np.float32)
        masks = np.zeros((len(steps) + 1, self.max_choices), dtype=np.int8)
        actions = np.zeros(len(steps), dtype=np.int64)
        for t, (decision, index) in enumerate(steps):
            observations[t, self._position_offset + self._slot_index[decision.slot]] = 1.0
            masks[t, : len(decision.choices)] = 1
            actions[t] = index
            # Every later observation carries this choice.
            column = self._offsets[self._slot_index[decision.slot]] + index
            observations[t + 1:, column] = 1.0
        return Trajectory(observations, actions, masks)

    # ------------------------------------------------------------------ gymnasium API
    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start an empty architecture. The environment has no randomness of its own."""
        super().reset(seed=seed)
        self._chosen = {}
        self._choices = np.zeros(self._position_offset, dtype=np.float32)
        self._decision = self.space.next_decision(self._chosen)
        return self._observe(), self._info()

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Take ``action`` (an index into the current decision's choices)."""
        if self._chosen is None:
            raise RuntimeError("call reset() before step()")
        decision = self._decision
        if decision is None:
            raise RuntimeError("the architecture is complete; call reset() to start another")
        index = _as_index(action)
        if index is None or not 0 <= index < len(decision.choices):
            raise ValueError(
                f"action {action!r} is not valid for decision {decision.name!r}: "
                f"expected an integer in [0, {len(decision.choices)}) indexing its choices "
                f"{allowed(decision.choices)} (see info['action_mask'])")
        self._chosen[decision.name] = decision.choices[index]
        self._choices[self._offsets[self._slot_index[decision.slot]] + index] = 1.0
        self._decision = self.space.next_decision(self._chosen)
        terminated = self._decision is None
        reward = 0.0
        info = self._info()
        if terminated and self.evaluate is not None:
            reward = float(self.evaluate(info["architecture"]))
        return self._observe(), reward, terminated, False, info

    def _observe(self) -> np.ndarray:
        position = np.zeros(len(self.slots), dtype=np.float32)
        if self._decision is not None:
            position[self._slot_index[self._decision.slot]] = 1.0
        return np.concatenate([self._choices, position])

    def _info(self) -> dict[str, Any]:
        mask = self.action_mask(self._decision)
        if self._decision is not None:
            self.action_space.current_mask = mask.copy()
        name = None if self._decision is None else self._decision.name
        info: dict[str, Any] = {"decision": name, "action_mask": mask}
        if self._decision is None and self._chosen is not None:
            # Complete (also at reset when every setting of the space is fixed).
            info["architecture"] = self.space.architecture(self._chosen)
        return info


def _as_index(action: Any) -> int | None:
    """The integer in ``action`` (int, NumPy integer or 0-d/1-element array), else None."""
    if isinstance(action, (bool, np.bool_)):
        return None
    if isinstance(action, (int, np.integer)):
        return int(action)
    if isinstance(action, np.ndarray) and action.size == 1 and \
            np.issubdtype(action.dtype, np.integer):
        return int(action.reshape(()))
    return None
