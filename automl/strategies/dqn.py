"""MetaQNN with a deep Q-network: epsilon-greedy Q-learning over the architecture MDP.

Baker et al., "Designing Neural Network Architectures using Reinforcement Learning" (ICLR 2017)
let a Q-learning agent pick layers one at a time, explore with an epsilon that falls linearly
(1.0 -> 0.1) over the search, and after every trained child replay a minibatch of stored
(architecture, reward) pairs. Here the Q-table is a small Keras MLP over the observation of
:class:`~automl.envs.ArchitectureEnv` (Mnih et al. 2015): masked TD targets from a target network,
a replay buffer of transitions, optionally double-DQN targets (van Hasselt et al. 2016).

The episode is acted out in the environment at ``ask``; its transitions are rebuilt from the
architecture alone (``ArchitectureEnv.trajectory``) when its reward is told, so results may
arrive in any order, for trial ids this process never asked (replayed or cached results), or
without a reward (a failed child scores ``failure_reward``).

Layout follows Stable-Baselines3's DQN: ``_setup_model`` builds the networks, ``train`` is the
pure TD update, ``predict`` the (epsilon-)greedy policy; names follow CleanRL's ``dqn.py``.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.envs import ArchitectureEnv
from automl.envs import Trajectory
from automl.errors import SpaceError
from automl.errors import UserInputError
from automl.space import Architecture
from automl.space import SearchSpace
from automl.strategies.base import Strategy
from automl.strategies.base import StrategyState

logger = logging.getLogger(__name__)

_OUTPUT_SCALE = 0.01
"""Scale of the Q-network's initial output kernel (initial Q-values near 0)."""


@dataclass
class DQNSettings:
    """Settings of the DQN strategy (YAML ``strategy:`` block). Defaults suit small discrete
    spaces searched with tens to hundreds of evaluations."""

    # Exploration (MetaQNN: epsilon from 1.0 to 0.1 over the whole search)
    start_e: float = 1.0
    """Epsilon of the first episode: the probability of a uniformly random choice per decision."""
    end_e: float = 0.05
    """Epsilon once the schedule is over (MetaQNN used 0.1 for its last models)."""
    exploration_episodes: int = 100
    """Episodes (architectures asked) over which epsilon falls linearly from start_e to end_e."""

    # Q-learning
    gamma: float = 1.0
    """Discount; 1.0 because the only reward is at the end of a finite episode."""
    learning_rate: float = 3e-3
    """Adam step size of the Q-network."""
    hidden_units: int = 64
    """Width of each hidden layer of the Q-network MLP."""
    hidden_layers: int = 2
    """Number of hidden ReLU layers of the Q-network MLP."""
    batch_size: int = 64
    """Transitions per minibatch update."""
    gradient_steps: int = 16
    """Minibatch updates after each told result (MetaQNN's replay after each finished child).
    16 rather than 8: on the tabular_dense benchmark (budget 200) the median evaluations to the
    top 1 % fell from 72.5 to 63 (seeds 0-19) and from 86.5 to 69 (seeds 20-39)."""
    learning_starts: int = 4
    """Told results before the first update (minibatches are drawn with replacement, so a few
    episodes are enough to start)."""
    buffer_size: int = 50_000
    """Replay buffer capacity in transitions (one per decision); the oldest are overwritten."""
    target_network_frequency: int = 1
    """Updates between two target-network updates (CleanRL's K; 1 with a small tau below)."""
    tau: float = 0.025
    """Target-network update rate: theta- <- tau * theta + (1 - tau) * theta-. 1.0 is a hard
    copy every K updates; the default, a Polyak average after every update (time constant
    about 40 updates), reached 0.9 on 40/40 known-reward seeds, with fewer collapses than a
    hard copy every 50 updates (19/20)."""
    double_dqn: bool = True
    """Choose the next action with the Q-network and value it with the target network."""
    huber: bool = False
    """Huber (smooth L1) TD loss instead of the mean squared error."""

    # Rewards
    failure_reward: float = 0.0
    """Reward of a failed child (told reward None or not finite)."""
    reward_window: int = 50
    """Recent episodes averaged into ``progress()["mean_reward"]``."""


def linear_schedule(start_e: float, end_e: float, duration: int, t: int) -> float:
    """Epsilon after ``t`` episodes: linear from ``start_e`` to ``end_e`` over ``duration``."""
    if duration <= 0:
        return end_e
    slope = (end_e - start_e) / duration
    return max(slope * t + start_e, end_e) if end_e <= start_e else min(slope * t + start_e, end_e)


class ReplayBuffer:
    """Circular buffer of transitions ``(s, a, r, s', done, next_mask)`` filled episode-wise.

    Observations are one-hot, so they are stored as uint8 (exact, 4x smaller checkpoints).
    """

    FIELDS = ("observations", "actions", "rewards", "next_observations", "dones", "next_masks")

    def __init__(self, capacity: int, obs_dim: int, n_actions: int):
        self.capacity = capacity
        self.observations = np.zeros((capacity, obs_dim), dtype=np.uint8)
        self.actions = np.zeros(capacity, dtype=np.int32)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.next_observations = np.zeros((capacity, obs_dim), dtype=np.uint8)
        self.dones = np.zeros(capacity, dtype=np.float32)
        self.next_masks = np.zeros((capacity, n_actions), dtype=np.int8)
        self.pos = 0
        self.size = 0

    def add_episode(self, trajectory: Trajectory, reward: float) -> None:
        """Store every transition of an episode; only the last one is rewarded and done."""
        steps = len(trajectory)
        for t in range(steps):
            i = self.pos
            self.observations[i] = trajectory.observations[t]
            self.actions[i] = trajectory.actions[t]
            self.rewards[i] = reward if t == steps - 1 else 0.0
            self.next_observations[i] = trajectory.observations[t + 1]
            self.dones[i] = 1.0 if t == steps - 1 else 0.0
            self.next_masks[i] = trajectory.masks[t + 1]
            self.pos = (self.pos + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def sample(self, rng: np.random.Generator,
               shape: int | tuple[int, ...]) -> tuple[np.ndarray, ...]:
        """Uniform minibatches (with replacement) of ``shape``, in the order of :attr:`FIELDS`."""
        idx = rng.integers(0, self.size, size=shape)
        return (self.observations[idx].astype(np.float32), self.actions[idx], self.rewards[idx],
                self.next_observations[idx].astype(np.float32), self.dones[idx],
                self.next_masks[idx])

    def state(self) -> dict[str, np.ndarray]:
        return {f"rb.{name}": getattr(self, name)[: self.size].copy() for name in self.FIELDS}

    def load(self, arrays: dict[str, np.ndarray], pos: int, size: int) -> None:
        for name in self.FIELDS:
            stored = arrays[f"rb.{name}"]
            target = getattr(self, name)
            if stored.shape[1:] != target.shape[1:] or len(stored) != size or size > self.capacity:
                raise UserInputError(
                    f"replay buffer {name!r} has shape {stored.shape}, expected rows of "
                    f"{target.shape[1:]} and at most {self.capacity} rows; was the checkpoint "
                    "written for another search space or buffer_size?", source="DQN checkpoint")
            target[:size] = stored
        self.pos, self.size = pos, size


class DQN(Strategy):
    """MetaQNN-style architecture search with a deep Q-network.

    Example::

        from automl.space import load_space
        from automl.strategies import create_strategy

        space = load_space("search_spaces/lecture_dense.yaml")
        dqn = create_strategy("dqn", space, seed=0, settings={"exploration_episodes": 50})
        architecture = dqn.ask(trial_id=0)
        dqn.tell(0, architecture, reward=0.93)

    Args:
        space: The search space.
        seed: Seed of every random choice (network initialisation, exploration, minibatches).
        workers: Children trained at once (unused: each ask is one independent episode).
        settings: Fields of :class:`DQNSettings`.
    """

    Settings = DQNSettings

    def __init__(self, space: SearchSpace, *, seed: int = 0, workers: int = 1, **settings: Any):
        super().__init__(space, seed=seed, workers=workers, **settings)
        self.settings: DQNSettings
        _validate(self.settings)
        self.env = ArchitectureEnv(space)
        self.replay_buffer = ReplayBuffer(
            self.settings.buffer_size, self.env.obs_dim, self.env.max_choices)
        self.episodes = 0  # architectures asked: the clock of the epsilon schedule
        self.told = 0  # results told, with or without a reward
        self.updates = 0  # gradient steps taken on the Q-network
        self.episode_rewards: deque[float] = deque(maxlen=self.settings.reward_window)
        self._progress: dict[str, float] | None = None
        self._setup_model()

    # ------------------------------------------------------------------ networks
    def _setup_model(self) -> None:
        """Build q_network, target_network (same weights), Adam and the compiled TD update."""
        import keras
        import tensorflow as tf

        s = self.settings

        def mlp(name: str) -> keras.Model:
            layers: list[Any] = [keras.Input((self.env.obs_dim,), dtype="float32")]
            layers += [keras.layers.Dense(s.hidden_units, activation="relu")
                       for _ in range(s.hidden_layers)]
            layers.append(keras.layers.Dense(self.env.max_choices))
            return keras.Sequential(layers, name=name)

        self.q_network = mlp("q_network")
        self.target_network = mlp("target_network")
        # TRY NOT TO MODIFY: initialise from self.rng so the seed fixes everything.
        self.q_network.set_weights(self._glorot_weights())
        self.target_network.set_weights(self.q_network.get_weights())
        self.optimizer = keras.optimizers.Adam(learning_rate=s.learning_rate)
        self.optimizer.build(self.q_network.trainable_variables)
        self._acting_weights = self.q_network.get_weights()

        # One compiled call runs all the minibatch updates of a tell: [steps, batch, ...] inputs,
        # fixed signature, so it is traced once whatever the batch size or number of steps.
        obs_spec = tf.TensorSpec([None, None, self.env.obs_dim], tf.float32)
        mask_spec = tf.TensorSpec([None, None, self.env.max_choices], tf.int8)
        per_step = tf.TensorSpec([None, None], tf.float32)
        signature = [obs_spec, tf.TensorSpec([None, None], tf.int32), per_step, obs_spec,
                     per_step, mask_spec, tf.TensorSpec([None], tf.bool)]
        self._train_steps = tf.function(self._td_updates, input_signature=signature)

    def _glorot_weights(self) -> list[np.ndarray]:
        """Glorot-uniform kernels and zero biases, as Keras would, drawn from ``self.rng``.

        The output kernel is scaled by ``_OUTPUT_SCALE`` so that every Q-value starts near 0:
        the first TD errors are then about the rewards, not about random initial outputs, which
        would inflate Adam's second moments and slow learning for hundreds of updates (on the
        known-reward test, 20/20 seeds reach 0.9 instead of 14/20).
        """
        weights = []
        for w in self.q_network.get_weights():
            if w.ndim == 2:
                limit = math.sqrt(6.0 / (w.shape[0] + w.shape[1]))
                weights.append(self.rng.uniform(-limit, limit, size=w.shape).astype(np.float32))
            else:
                weights.append(np.zeros_like(w))
        weights[-2] *= np.float32(_OUTPUT_SCALE)
        return weights

    def td_target(self, rewards: Any, next_observations: Any, dones: Any,
                  next_masks: Any) -> Any:
        """r + gamma * max_a' Q(s', a'; theta-), the max over valid a' only; just r when done.

        With ``double_dqn`` the maximising a' is chosen by the Q-network and valued by the
        target network. Works eagerly (tests) and inside the compiled update.
        """
        import tensorflow as tf

        s = self.settings
        valid = tf.convert_to_tensor(next_masks) > 0
        very_negative = tf.constant(-1e9, tf.float32)
        # ALGO LOGIC: masked targets; invalid actions are never used in the max.
        target_q = self.target_network(next_observations)
        if s.double_dqn:
            online_q = tf.where(valid, self.q_network(next_observations), very_negative)
            next_actions = tf.argmax(online_q, axis=1, output_type=tf.int32)
            target_max = tf.gather(target_q, next_actions, axis=1, batch_dims=1)
        else:
            target_max = tf.reduce_max(tf.where(valid, target_q, very_negative), axis=1)
        return tf.stop_gradient(rewards + s.gamma * target_max * (1.0 - dones))

    def _td_update(self, observations: Any, actions: Any, rewards: Any, next_observations: Any,
                   dones: Any, next_masks: Any) -> Any:
        """One gradient step on the TD error (compiled once by ``tf.function``)."""
        import tensorflow as tf

        td_target = self.td_target(rewards, next_observations, dones, next_masks)
        with tf.GradientTape() as tape:
            q_values = self.q_network(observations, training=True)
            old_val = tf.gather(q_values, actions, axis=1, batch_dims=1)
            error = td_target - old_val
            if self.settings.huber:
                abs_error = tf.abs(error)
                loss = tf.reduce_mean(tf.where(abs_error < 1.0, 0.5 * tf.square(error),
                                               abs_error - 0.5))
            else:
                loss = tf.reduce_mean(tf.square(error))
        variables = self.q_network.trainable_variables
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss

    def _td_updates(self, observations: Any, actions: Any, rewards: Any,
                    next_observations: Any, dones: Any, next_masks: Any, sync: Any) -> Any:
        """Minibatch update ``g`` for each g, then a target update where ``sync[g]``."""
        import tensorflow as tf

        steps = tf.shape(actions)[0]
        losses = tf.TensorArray(tf.float32, size=steps)
        for g in tf.range(steps):
            loss = self._td_update(observations[g], actions[g], rewards[g],
                                   next_observations[g], dones[g], next_masks[g])
            # ALGO LOGIC: target network theta- follows theta every K updates (Polyak tau).
            if sync[g]:
                self._polyak_update()
            losses = losses.write(g, loss)
        return losses.stack()

    def _polyak_update(self) -> None:
        tau = self.settings.tau
        pairs = zip(self.target_network.weights, self.q_network.weights, strict=True)
        for target_param, q_param in pairs:
            target_param.assign(tau * q_param + (1.0 - tau) * target_param)

    # ------------------------------------------------------------------ SB3-style split
    def train(self, gradient_steps: int) -> float:
        """``gradient_steps`` minibatch TD updates on replayed transitions; their mean loss."""
        s = self.settings
        batches = self.replay_buffer.sample(self.rng, (gradient_steps, s.batch_size))
        step_numbers = self.updates + np.arange(1, gradient_steps + 1)
        sync = step_numbers % s.target_network_frequency == 0
        losses = self._train_steps(*batches, sync)
        self.updates += gradient_steps
        self._acting_weights = self.q_network.get_weights()
        return float(np.mean(losses))

    def q_values(self, observation: np.ndarray) -> np.ndarray:
        """Q(s, .) for one observation: a NumPy forward pass of the Q-network's weights."""
        h = observation
        weights = self._acting_weights
        for i in range(0, len(weights) - 2, 2):
            h = np.maximum(h @ weights[i] + weights[i + 1], 0.0)
        return h @ weights[-2] + weights[-1]

    def predict(self, observation: np.ndarray, action_mask: np.ndarray,
                deterministic: bool = False) -> int:
        """Epsilon-greedy action (greedy if ``deterministic``) among the valid actions.

        Exploration draws from ``self.rng``, so a restored strategy explores identically.
        """
        valid = int(action_mask.sum())
        if not deterministic and self.rng.random() < self.epsilon:
            return int(self.rng.integers(valid))
        # ALGO LOGIC: masked argmax; the valid actions are the first `valid` ones.
        return int(np.argmax(self.q_values(observation)[:valid]))

    @property
    def epsilon(self) -> float:
        s = self.settings
        return linear_schedule(s.start_e, s.end_e, s.exploration_episodes, self.episodes)

    # ------------------------------------------------------------------ ask / tell
    def ask(self, trial_id: int) -> Architecture | None:
        obs, info = self.env.reset()
        while info["decision"] is not None:
            action = self.predict(obs, info["action_mask"])
            obs, _, _, _, info = self.env.step(action)
        self.episodes += 1
        architecture: Architecture = info["architecture"]
        return architecture

    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        s = self.settings
        if reward is None or not math.isfinite(reward):
            reward = s.failure_reward
        reward = float(reward)
        try:
            trajectory = self.env.trajectory(architecture)
        except SpaceError as exc:  # e.g. a result cached under an edited space
            logger.warning("DQN ignores trial %s: its architecture is not in the space (%s)",
                           trial_id, exc)
            return
        self.replay_buffer.add_episode(trajectory, reward)
        self.episode_rewards.append(reward)
        self.told += 1
        if self.told < s.learning_starts or self.replay_buffer.size == 0 or s.gradient_steps == 0:
            return
        # ALGO LOGIC: MetaQNN replays stored episodes after every finished child.
        td_loss = self.train(s.gradient_steps)
        self._progress = {"step": float(self.updates), "epsilon": self.epsilon,
                          "td_loss": td_loss, "mean_reward": float(np.mean(self.episode_rewards))}

    def progress(self) -> dict[str, float] | None:
        """After a tell that trained: ``step`` (gradient updates so far), ``epsilon``,
        ``td_loss`` (mean over that tell's updates) and ``mean_reward`` (last
        ``reward_window`` told rewards, failures included); then None until the next one."""
        out, self._progress = self._progress, None
        return out

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> StrategyState:
        state = super().state_dict()
        state.meta.update({
            "episodes": self.episodes, "told": self.told, "updates": self.updates,
            "rb_pos": self.replay_buffer.pos, "rb_size": self.replay_buffer.size,
            "progress": self._progress, "settings": asdict(self.settings),
        })
        arrays = state.arrays
        arrays.update(_numbered("q_network", self.q_network.get_weights()))
        arrays.update(_numbered("target_network", self.target_network.get_weights()))
        arrays.update(_numbered("optimizer", [np.array(v.numpy())
                                              for v in self.optimizer.variables]))
        arrays.update(self.replay_buffer.state())
        arrays["episode_rewards"] = np.array(self.episode_rewards, dtype=np.float64)
        return state

    def load_state_dict(self, state: StrategyState) -> None:
        super().load_state_dict(state)
        meta, arrays = state.meta, state.arrays
        self._set_weights(self.q_network.weights, _unnumbered("q_network", arrays), "q_network")
        self._set_weights(self.target_network.weights, _unnumbered("target_network", arrays),
                          "target_network")
        self._set_weights(self.optimizer.variables, _unnumbered("optimizer", arrays), "optimizer")
        self.optimizer.learning_rate = self.settings.learning_rate  # a setting, not state
        self.replay_buffer.load(arrays, int(meta["rb_pos"]), int(meta["rb_size"]))
        self.episodes = int(meta["episodes"])
        self.told = int(meta["told"])
        self.updates = int(meta["updates"])
        self._progress = meta["progress"]
        self.episode_rewards = deque((float(r) for r in arrays["episode_rewards"]),
                                     maxlen=self.settings.reward_window)
        self._acting_weights = self.q_network.get_weights()

    @staticmethod
    def _set_weights(variables: list[Any], values: list[np.ndarray], what: str) -> None:
        shapes = [tuple(v.shape) for v in variables]
        if [tuple(v.shape) for v in values] != shapes:
            raise UserInputError(
                f"{what} weights in the checkpoint have shapes {[v.shape for v in values]}, "
                f"expected {shapes}; was it written for another search space or network size?",
                source="DQN checkpoint")
        for variable, value in zip(variables, values, strict=True):
            variable.assign(value)


def _numbered(prefix: str, values: list[np.ndarray]) -> dict[str, np.ndarray]:
    return {f"{prefix}.{i}": value for i, value in enumerate(values)}


def _unnumbered(prefix: str, arrays: dict[str, np.ndarray]) -> list[np.ndarray]:
    out = []
    while f"{prefix}.{len(out)}" in arrays:
        out.append(arrays[f"{prefix}.{len(out)}"])
    return out


def _validate(s: DQNSettings) -> None:
    checks = [
        ("start_e", 0.0 <= s.start_e <= 1.0, "in [0, 1]"),
        ("end_e", 0.0 <= s.end_e <= 1.0, "in [0, 1]"),
        ("exploration_episodes", s.exploration_episodes >= 0, ">= 0"),
        ("gamma", 0.0 <= s.gamma <= 1.0, "in [0, 1]"),
        ("learning_rate", s.learning_rate > 0, "> 0"),
        ("hidden_units", s.hidden_units >= 1, ">= 1"),
        ("hidden_layers", s.hidden_layers >= 1, ">= 1"),
        ("batch_size", s.batch_size >= 1, ">= 1"),
        ("gradient_steps", s.gradient_steps >= 0, ">= 0"),
        ("learning_starts", s.learning_starts >= 0, ">= 0"),
        ("buffer_size", s.buffer_size >= 1, ">= 1"),
        ("target_network_frequency", s.target_network_frequency >= 1, ">= 1"),
        ("tau", 0.0 < s.tau <= 1.0, "in (0, 1]"),
        ("reward_window", s.reward_window >= 1, ">= 1"),
    ]
    for name, ok, expected in checks:
        if not ok:
            raise UserInputError(f"must be {expected}, got {getattr(s, name)!r}",
                                 source="DQN", key=f"strategy.{name}")
