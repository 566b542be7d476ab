"""MetaQNN with a deep Q-network: epsilon-greedy Q-learning over the architecture MDP.

Baker et al., "Designing Neural Network Architectures using Reinforcement Learning" (ICLR 2017)
let a Q-learning agent pick layers one at a time, explore with an epsilon that falls linearly
(1.0 -> 0.1) over the search, and after every trained child replay a minibatch of stored
(architecture, reward) pairs. Here the Q-table is a small Keras MLP over the observation of
:class:`~automl.envs.ArchitectureEnv` (Mnih et al. 2015): masked TD targets from a target network,
a replay buffer of transitions, optionally double-DQN targets (van Hasselt et al. 2016).

The episode is acted out in the environment at ``ask``; its transitions are rebuilt from the
architecture alone (``ArchitectureEnv.trajectory``) when its reward is told, so results may
arrive in any order or for trial ids this process never asked (replayed or cached results).

What makes it sample-efficient (docs/benchmark.md has the measurements):

* Terminal rewards are the normal scores of each child's rank among everything told so far,
  rewritten in the replay buffer after every result: Q-values then live on one scale whatever
  the reward's units (a loss of 500 next to losses of 0.3 no longer dominates every TD error).
* Dyna (Sutton 1991): after each result (every ``ceil(n / dyna_horizon)``-th once there are
  more than ``dyna_horizon``) the agent acts out ``imagined_episodes`` episodes
  (batched, epsilon-greedy) whose terminal reward is the optimistic estimate of a reward model
  fitted to every result (:class:`~automl.strategies.reward_model.RewardModel`); half of every
  minibatch comes from them. The agent still chooses every real child itself.
* Epsilon falls over a share of the budget the search loop tells (``set_budget``), not over a
  fixed number of episodes.
* Planning (expert iteration, :mod:`~automl.strategies.planner`): the ``planned`` best untried
  architectures the reward model finds among 1,000 uniform draws are acted out as imagined
  episodes too, so the Q-network learns where the model's optimum is, not only the value of
  its own neighbourhood.
* Valued redraws: an ask that ends at an architecture already tried (a converged agent's
  greedy path) acts again, and of the new architectures its epsilon draws reach it proposes the
  one its own Q-network values highest, not the first one drawn: the draws propose neighbours
  of the greedy path, the learned values choose among them. Only with no other child in
  flight: a batch of asks keeps the uniform pick, so its children differ.
* Return bound (optimality tightening, He et al. 2017): every TD target is at least the return
  of its episode. With gamma = 1 and one terminal reward that is a lower bound of Q*, and a
  good episode lifts its first decision at once instead of one bootstrapped step per target
  update.

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
from typing import NamedTuple

import numpy as np

from automl.envs import ArchitectureEnv
from automl.envs import Trajectory
from automl.errors import SpaceError
from automl.errors import UserInputError
from automl.space import Architecture
from automl.space import SearchSpace
from automl.strategies.base import MAX_NETWORK_UNITS
from automl.strategies.base import Strategy
from automl.strategies.base import StrategyState
from automl.strategies.batch_walk import BatchWalker
from automl.strategies.blas import one_blas_thread
from automl.strategies.planner import plan
from automl.strategies.reward_model import FANTASIES
from automl.strategies.reward_model import RewardModel
from automl.strategies.reward_model import dyna_due
from automl.strategies.reward_model import rank_scores
from automl.strategies.tried import TriedTree
from automl.tf_devices import hide_gpus
from automl.tf_devices import tf_module

logger = logging.getLogger(__name__)

_OUTPUT_SCALE = 0.01
"""Scale of the Q-network's initial output kernel (initial Q-values near 0)."""


XLA_MIN_BUDGET = 300
"""Searches of this many trials or more compile the TD updates with XLA, which fuses the
~500 small graph nodes of each update: a tell's 16 updates take about 2 ms instead of 7, for
a one-off compile of about 0.5-1 s at the first update. That pays back after a few hundred
tells (one in flight, lecture_dense: 0.2 s more in all at 200 trials, 1.2 s less at 500;
median ask+tell at 500 trials 12-15 ms instead of 18-19; benchmarks/controller_cost.py)."""


@dataclass
class DQNSettings:
    """Settings of the DQN strategy (YAML ``strategy:`` block). Defaults suit small discrete
    spaces searched with tens to hundreds of evaluations."""

    # Exploration (MetaQNN: epsilon from 1.0 to 0.1 over the whole search)
    start_e: float = 1.0
    """Epsilon of the first episode: the probability of a uniformly random choice per decision."""
    end_e: float = 0.05
    """Epsilon once the schedule is over (MetaQNN used 0.1 for its last models)."""
    exploration_fraction: float = 0.05
    """Share of the search's trials (told by the loop through ``set_budget``) over which epsilon
    falls linearly from start_e to end_e: a 50-trial search and a 2,000-trial search explore
    for the same share of their budget."""
    exploration_episodes: int | None = None
    """Fixed length of the epsilon schedule in episodes, overriding ``exploration_fraction``
    (also used, as 100, when no budget was told)."""

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
    """Minibatch updates after each told result (MetaQNN's replay after each finished child)."""
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
    return_bound: bool = True
    """TD targets are at least the return of the transition's episode (optimality tightening,
    He et al. 2017; self-imitation, Oh et al. 2018): with ``gamma`` 1, deterministic steps and
    one terminal reward, an episode's reward is a lower bound of the optimal Q of each of its
    steps, so a good episode (real, imagined or planned) lifts its first decisions at once
    instead of through one bootstrapped step per target update."""
    huber: bool = False
    """Huber (smooth L1) TD loss instead of the mean squared error."""

    # Imagined episodes (Dyna) and rewards
    imagined_episodes: int = 64
    """Episodes the agent acts out against the reward model after each told result; their
    transitions fill a second replay buffer that half of every minibatch is drawn from
    (0: plain DQN on real children only)."""
    planned: int = 8
    """Best untried architectures of the reward model (:func:`~automl.strategies.planner.plan`)
    whose episodes join the imagined ones after each told result, rewarded by the model
    (expert iteration; 0: off). It helps only with ``return_bound``, which lifts their first
    decisions at once: five tables, 40 seeds, sequential (docs/benchmark.md), geometric mean
    of evaluations to the top 1 %: neither 29.0, planner alone (4) 31.4, bound alone 27.8,
    bound and 4 planned 26.8, bound and 2 planned 26.0. Eight rather than two, paired over
    620 searches (five development tables on 60 seeds and eleven held-out tables on 20,
    sequential; the five with 4 simulated workers on 20): geometric mean 25.3 against 26.8,
    better in 301 and worse in 244 (Wilcoxon p 0.08); more planning costs phoneme a little
    and gains protein, slice and the held-out tables."""
    plan_pool: int = 1000
    """Uniform draws the planner scores with the model to find the ``planned`` best."""
    imagined_epsilon: float = 0.3
    """Epsilon of the imagined episodes: wider than the real policy's, so the Q-network learns
    the value of the choices next to its greedy path too."""
    model_beta: float = 0.3
    """Optimism of the imagined reward, ``mean + model_beta * std`` of the reward model."""
    model_warmup: int = 5
    """Told results before imagined episodes start."""
    dyna_horizon: int = 100
    """Imagined episodes follow every told result up to this many, then every
    ``ceil(n / dyna_horizon)``-th (:func:`~automl.strategies.reward_model.dyna_due`): the cost
    per result stays flat in long searches."""
    redraws: int = 32
    """Episodes an ask may act out to end at an architecture not yet tried before it acts
    among the untried subtrees only (which favours the siblings of the greedy choice)."""
    valued_redraws: bool = True
    """When an ask's epsilon-greedy episode ends at a tried architecture and no other child is
    in flight, propose, among the new architectures of its redraws, the one the Q-network
    values highest, not the first one drawn (a uniform pick among the agent's perturbations of
    its greedy path). With children in flight the uniform pick stays: the asks of a batch then
    differ, where the highest-valued ones crowd around one greedy path (docs/benchmark.md,
    "DQN's valued redraws")."""
    fantasy: str = "optimist"
    """How children still training enter the reward model's fit (as for REINFORCE, whose
    setting says why ``optimist``). DQN, 4 simulated workers, 20 seeds, geometric mean of
    evaluations to the top 1 % against ``none``: eleven held-out tables 25.1 against 29.2
    (seeds 0-19) and 24.2 against 29.8 (20-39), five development tables 27.9 against 27.5."""
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

    FIELDS = ("observations", "actions", "rewards", "next_observations", "dones", "next_masks",
              "results", "returns")

    def __init__(self, capacity: int, obs_dim: int, n_actions: int):
        self.capacity = capacity
        self.observations = np.zeros((capacity, obs_dim), dtype=np.uint8)
        self.actions = np.zeros(capacity, dtype=np.int32)
        self.rewards = np.zeros(capacity, dtype=np.float32)
        self.next_observations = np.zeros((capacity, obs_dim), dtype=np.uint8)
        self.dones = np.zeros(capacity, dtype=np.float32)
        self.next_masks = np.zeros((capacity, n_actions), dtype=np.int8)
        self.results = np.full(capacity, -1, dtype=np.int64)  # index of the episode's result
        self.returns = np.zeros(capacity, dtype=np.float32)  # the episode's (terminal) reward
        self.pos = 0
        self.size = 0

    def add_episode(self, trajectory: Trajectory, reward: float, result: int = -1) -> None:
        """Store every transition of an episode; only the last one is rewarded and done.

        ``result`` indexes the told result the reward came from, so :meth:`rescore` can
        rewrite it when the reward's rank changes. Every transition also keeps the episode's
        return (with ``gamma`` 1 and one terminal reward, that reward)."""
        steps = len(trajectory)
        for t in range(steps):
            i = self.pos
            self.observations[i] = trajectory.observations[t]
            self.actions[i] = trajectory.actions[t]
            self.rewards[i] = reward if t == steps - 1 else 0.0
            self.next_observations[i] = trajectory.observations[t + 1]
            self.dones[i] = 1.0 if t == steps - 1 else 0.0
            self.next_masks[i] = trajectory.masks[t + 1]
            self.results[i] = result
            self.returns[i] = reward
            self.pos = (self.pos + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def sample(self, rng: np.random.Generator,
               shape: int | tuple[int, ...]) -> tuple[np.ndarray, ...]:
        """Uniform minibatches (with replacement) of ``shape``, in the order of :attr:`FIELDS`."""
        idx = rng.integers(0, self.size, size=shape)
        return (self.observations[idx].astype(np.float32), self.actions[idx], self.rewards[idx],
                self.next_observations[idx].astype(np.float32), self.dones[idx],
                self.next_masks[idx], self.returns[idx])

    def rescore(self, scores: np.ndarray) -> None:
        """Terminal rewards and returns become ``scores[result]`` (the current rank scores)."""
        results = self.results[: self.size]
        told = results >= 0
        self.returns[: self.size][told] = scores[results[told]]
        terminal = told & (self.dones[: self.size] > 0)
        self.rewards[: self.size][terminal] = self.returns[: self.size][terminal]

    def state(self, prefix: str = "rb") -> dict[str, np.ndarray]:
        return {f"{prefix}.{name}": getattr(self, name)[: self.size].copy()
                for name in self.FIELDS}

    def load(self, arrays: dict[str, np.ndarray], pos: int, size: int,
             prefix: str = "rb") -> None:
        for name in self.FIELDS:
            if name == "returns" and f"{prefix}.returns" not in arrays:
                self.returns[:size] = -np.inf  # an older checkpoint: no bound for these
                continue
            stored = arrays[f"{prefix}.{name}"]
            target = getattr(self, name)
            if stored.shape[1:] != target.shape[1:] or len(stored) != size or size > self.capacity:
                raise UserInputError(
                    f"replay buffer {name!r} has shape {stored.shape}, expected rows of "
                    f"{target.shape[1:]} and at most {self.capacity} rows; was the checkpoint "
                    "written for another search space or buffer_size?", source="DQN checkpoint")
            target[:size] = stored
        self.pos, self.size = pos, size


class ActedEpisodes(NamedTuple):
    """Episodes acted out in bulk (:meth:`DQN._act_many`)."""

    codes: np.ndarray
    """``[n, slots]`` choice index per decision slot, -1 where absent (reward model input)."""
    trajectories: list[Trajectory | None]
    """Each episode's transitions for a replay buffer (None: the space had no decision)."""
    sequences: list[list[tuple[Any, int]]]
    """Each episode's (decision, choice index) sequence."""


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

    @classmethod
    def check_settings(cls, s: DQNSettings) -> None:
        """Refuse settings that cannot work, naming the key."""
        checks = [
            ("start_e", 0.0 <= s.start_e <= 1.0, "in [0, 1]"),
            ("end_e", 0.0 <= s.end_e <= 1.0, "in [0, 1]"),
            ("exploration_fraction", 0.0 <= s.exploration_fraction <= 1.0, "in [0, 1]"),
            ("exploration_episodes",
             s.exploration_episodes is None or s.exploration_episodes >= 0, ">= 0 or null"),
            ("imagined_episodes", s.imagined_episodes >= 0, ">= 0"),
            ("planned", s.planned >= 0, ">= 0"),
            ("plan_pool", s.plan_pool >= 1, ">= 1"),
            ("imagined_epsilon", 0.0 <= s.imagined_epsilon <= 1.0, "in [0, 1]"),
            ("model_beta", s.model_beta >= 0, ">= 0"),
            ("model_warmup", s.model_warmup >= 0, ">= 0"),
            ("dyna_horizon", s.dyna_horizon >= 1, ">= 1"),
            ("gamma", 0.0 <= s.gamma <= 1.0, "in [0, 1]"),
            ("learning_rate", s.learning_rate > 0, "> 0"),
            ("hidden_units", 1 <= s.hidden_units <= MAX_NETWORK_UNITS,
             f"in [1, {MAX_NETWORK_UNITS}]"),
            ("hidden_layers", s.hidden_layers >= 1, ">= 1"),
            ("batch_size", s.batch_size >= 1, ">= 1"),
            ("gradient_steps", s.gradient_steps >= 0, ">= 0"),
            ("learning_starts", s.learning_starts >= 0, ">= 0"),
            ("buffer_size", s.buffer_size >= 1, ">= 1"),
            ("target_network_frequency", s.target_network_frequency >= 1, ">= 1"),
            ("tau", 0.0 < s.tau <= 1.0, "in (0, 1]"),
            ("reward_window", s.reward_window >= 1, ">= 1"),
            ("redraws", s.redraws >= 0, ">= 0"),
            ("fantasy", s.fantasy in FANTASIES, "one of " + ", ".join(FANTASIES)),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise UserInputError(f"must be {expected}, got {getattr(s, name)!r}",
                                     key=f"strategy.{name}")

    def __init__(self, space: SearchSpace, *, seed: int = 0, workers: int = 1, **settings: Any):
        super().__init__(space, seed=seed, workers=workers, **settings)
        hide_gpus(tf_module())  # a tiny network: GPU memory belongs to the children
        self.settings: DQNSettings
        self.env = ArchitectureEnv(space)
        self.replay_buffer = ReplayBuffer(
            self.settings.buffer_size, self.env.obs_dim, self.env.max_choices)
        # Imagined transitions of the last few told results (stale ones are overwritten).
        self.imagined_buffer = ReplayBuffer(
            max(1, 4 * (self.settings.imagined_episodes + self.settings.planned)
                * len(self.env.slots)),
            self.env.obs_dim, self.env.max_choices)
        self.model = RewardModel(space, fantasy=self.settings.fantasy)
        self.walker = BatchWalker(space)
        self.episodes = 0  # architectures asked: the clock of the epsilon schedule
        self.tried = TriedTree(space)  # asked or told: acting skips them
        self.told = 0  # results told, with or without a reward
        self.updates = 0  # gradient steps taken on the Q-network
        self.episode_rewards: deque[float] = deque(maxlen=self.settings.reward_window)
        self._progress: dict[str, float] | None = None
        self._setup_model()

    # ------------------------------------------------------------------ networks
    def _setup_model(self) -> None:
        """Build q_network, target_network (same weights) and Adam; the TD update is compiled
        at the first update (:meth:`_compile_updates`), once the budget is known."""
        import keras

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

        self._train_steps: Any = None  # compiled at the first update, when the budget is known

    @property
    def uses_xla(self) -> bool:
        """Whether the TD updates are compiled with XLA: for searches told a budget of
        ``XLA_MIN_BUDGET`` trials or more (an untold budget counts as short, as for epsilon)."""
        return self.budget is not None and self.budget >= XLA_MIN_BUDGET

    def _compile_updates(self) -> Any:
        """All the minibatch updates of a tell as one ``tf.function``: ``[steps, batch, ...]``
        inputs and a fixed signature, so it is traced once whatever the number of steps."""
        import tensorflow as tf

        obs_spec = tf.TensorSpec([None, None, self.env.obs_dim], tf.float32)
        mask_spec = tf.TensorSpec([None, None, self.env.max_choices], tf.int8)
        per_step = tf.TensorSpec([None, None], tf.float32)
        signature = [obs_spec, tf.TensorSpec([None, None], tf.int32), per_step, obs_spec,
                     per_step, mask_spec, per_step, tf.TensorSpec([None], tf.bool)]
        return tf.function(self._td_updates, input_signature=signature,
                           jit_compile=self.uses_xla)

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
                   dones: Any, next_masks: Any, returns: Any) -> Any:
        """One gradient step on the TD error (compiled once by ``tf.function``)."""
        import tensorflow as tf

        td_target = self.td_target(rewards, next_observations, dones, next_masks)
        if self.settings.return_bound:  # ALGO LOGIC: Q* of a step >= its episode's return
            td_target = tf.maximum(td_target, returns)
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
                    next_observations: Any, dones: Any, next_masks: Any, returns: Any,
                    sync: Any) -> Any:
        """Minibatch update ``g`` for each g, then a target update where ``sync[g]``."""
        import tensorflow as tf

        steps = tf.shape(actions)[0]
        losses = tf.TensorArray(tf.float32, size=steps)
        for g in tf.range(steps):
            loss = self._td_update(observations[g], actions[g], rewards[g],
                                   next_observations[g], dones[g], next_masks[g], returns[g])
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
        if self.imagined_buffer.size:  # ALGO LOGIC: Dyna, half real and half imagined
            half = s.batch_size // 2
            real = self.replay_buffer.sample(self.rng, (gradient_steps, s.batch_size - half))
            imagined = self.imagined_buffer.sample(self.rng, (gradient_steps, half))
            batches = tuple(np.concatenate(pair, axis=1)
                            for pair in zip(real, imagined, strict=True))
        step_numbers = self.updates + np.arange(1, gradient_steps + 1)
        sync = step_numbers % s.target_network_frequency == 0
        if self._train_steps is None:
            self._train_steps = self._compile_updates()
        losses = self._train_steps(*batches, sync)
        self.updates += gradient_steps
        self._acting_weights = self.q_network.get_weights()
        return float(np.mean(losses))

    def q_values(self, observation: np.ndarray) -> np.ndarray:
        """Q(s, .) for one observation (or a batch of them): a NumPy forward pass of the
        Q-network's weights."""
        h = observation
        weights = self._acting_weights
        for i in range(0, len(weights) - 2, 2):
            h = np.maximum(h @ weights[i] + weights[i + 1], 0.0)
        return h @ weights[-2] + weights[-1]

    def predict(self, observation: np.ndarray, allowed: np.ndarray,
                deterministic: bool = False) -> int:
        """Epsilon-greedy action (greedy if ``deterministic``) among the ``allowed`` ones
        (a boolean mask over the decision's choices; the environment's action mask works).

        Exploration draws from ``self.rng``, so a restored strategy explores identically.
        """
        choices = np.flatnonzero(allowed)
        if not deterministic and self.rng.random() < self.epsilon:
            return int(choices[self.rng.integers(len(choices))])
        # ALGO LOGIC: masked argmax over the allowed actions.
        return int(choices[np.argmax(self.q_values(observation)[choices])])

    @property
    def exploration_episodes(self) -> int:
        """Length of the epsilon schedule: fixed, or a share of the told budget."""
        s = self.settings
        if s.exploration_episodes is not None:
            return s.exploration_episodes
        if self.budget is None:
            return 100
        return max(1, round(s.exploration_fraction * self.budget))

    @property
    def epsilon(self) -> float:
        s = self.settings
        return linear_schedule(s.start_e, s.end_e, self.exploration_episodes, self.episodes)

    # ------------------------------------------------------------------ ask / tell
    @one_blas_thread
    def ask(self, trial_id: int) -> Architecture | None:
        # ALGO LOGIC: act again (epsilon draws differ) until the episode ends somewhere new;
        # then act only among choices with an untried architecture below.
        redrawn: dict[int, Trajectory] = {}  # id() of a redrawn architecture -> its episode

        def redraw(n: int) -> list[Architecture]:
            episodes = self._act_many(n, self.epsilon)
            architectures = [self.space.from_decisions(steps) for steps in episodes.sequences]
            redrawn.update((id(a), t) for a, t in zip(architectures, episodes.trajectories,
                                                      strict=True) if t is not None)
            return architectures

        def most_valued(candidates: list[Architecture]) -> int:
            return self._most_valued([redrawn[id(a)] for a in candidates])

        architecture = self.tried.propose(
            lambda restricted: self._act(restricted=restricted), self.settings.redraws, redraw,
            most_valued if self.settings.valued_redraws and not self.model.pending else None)
        self.episodes += 1
        if architecture is not None:
            self.model.add_pending(trial_id, self.model.codes.encode(architecture))
        return architecture

    def _most_valued(self, trajectories: list[Trajectory]) -> int:
        """Index of the episode whose last decision the Q-network values highest: with one
        terminal reward, Q of an episode's last step is the agent's estimate of that child."""
        q = self.q_values(np.stack([t.observations[-2] for t in trajectories]))
        last_actions = [t.actions[-1] for t in trajectories]
        return int(np.argmax(q[np.arange(len(trajectories)), last_actions]))

    def _act(self, *, restricted: bool) -> Architecture:
        """One epsilon-greedy episode in the environment; ``restricted``: untried ones only."""
        obs, info = self.env.reset()
        prefix: list[int] = []
        while info["decision"] is not None:
            allowed = info["action_mask"]
            if restricted:
                allowed = self.tried.open_choices(tuple(prefix), int(allowed.sum()))
            action = self.predict(obs, allowed)
            prefix.append(action)
            obs, _, _, _, info = self.env.step(action)
        architecture: Architecture = info["architecture"]
        return architecture

    @one_blas_thread
    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        s = self.settings
        self.model.drop_pending(trial_id)
        try:
            trajectory = self.env.trajectory(architecture)
            codes = self.model.codes.encode(architecture)
        except SpaceError as exc:  # e.g. a result cached under an edited space
            logger.warning("DQN ignores trial %s: its architecture is not in the space (%s)",
                           trial_id, exc)
            return
        self.tried.add(architecture)
        if reward is None or not math.isfinite(reward):
            # The search loop tells failures as the worst reward seen (FailureAsWorst); used
            # directly, a failure before any success teaches nothing.
            if not self.model.rewards:
                return
            reward = min(self.model.rewards)
        reward = float(reward)
        if self.model.find(codes) is not None:
            # A repeat (answered from memory by the loop's NoRepeats wrapper, or a cached
            # result) is already in the replay buffer.
            return
        index = self.model.add(codes, reward)
        self.replay_buffer.add_episode(trajectory, 0.0, result=index)
        # ALGO LOGIC: terminal rewards are rank scores, rewritten as ranks change.
        self.replay_buffer.rescore(rank_scores(self.model.rewards))
        self.episode_rewards.append(reward)
        self.told += 1
        if s.imagined_episodes and dyna_due(len(self.model), s.model_warmup, s.dyna_horizon):
            self.imagine(s.imagined_episodes)
        if self.told < s.learning_starts or s.gradient_steps == 0:
            return
        # ALGO LOGIC: MetaQNN replays stored episodes after every finished child.
        td_loss = self.train(s.gradient_steps)
        self._progress = {"step": float(self.updates), "epsilon": self.epsilon,
                          "td_loss": td_loss, "mean_reward": float(np.mean(self.episode_rewards))}

    def imagine(self, n: int) -> None:
        """Dyna: act out ``n`` episodes at once, rewarded by the reward model's optimism."""
        self.model.fit()
        episodes = self._act_many(n, self.settings.imagined_epsilon)
        imagined = self.model.optimistic(episodes.codes, self.settings.model_beta)
        for i, trajectory in enumerate(episodes.trajectories):
            if trajectory is not None:
                self.imagined_buffer.add_episode(trajectory, float(imagined[i]))
        s = self.settings
        if s.planned:  # expert iteration: the model's best untried, as imagined episodes
            planned, scores = plan(self.model, self.walker, self.rng, pool=s.plan_pool,
                                   top=s.planned, beta=s.model_beta)
            for codes, score in zip(planned, scores, strict=True):
                trajectory = self.env.trajectory(self.model.codes.decode(codes))
                self.imagined_buffer.add_episode(trajectory, float(score))

    def _act_many(self, n: int, epsilon: float) -> ActedEpisodes:
        """``n`` epsilon-greedy episodes in lockstep (the Q-network sees each step's partial
        architectures together): imagined episodes, and an ask's redraws."""
        env = self.env
        choices = np.zeros((n, env._position_offset), dtype=np.float32)
        steps: list[list[tuple[np.ndarray, int, np.ndarray]]] = [[] for _ in range(n)]
        codes = np.full((n, len(env.slots)), -1, dtype=np.int64)

        def choose(t: int, decision: Any, idx: np.ndarray) -> np.ndarray:
            slot = env._slot_index[decision.slot]
            observations = np.zeros((len(idx), env.obs_dim), dtype=np.float32)
            observations[:, : env._position_offset] = choices[idx]
            observations[:, env._position_offset + slot] = 1.0
            width = len(decision.choices)
            greedy = np.argmax(self.q_values(observations)[:, :width], axis=1)
            explore = self.rng.random(len(idx)) < epsilon
            picks = np.where(explore, self.rng.integers(width, size=len(idx)), greedy)
            mask = env.action_mask(decision)
            for row, (i, pick) in enumerate(zip(idx, picks, strict=True)):
                steps[i].append((observations[row], int(pick), mask))
            choices[idx, env._offsets[slot] + picks] = 1.0
            codes[idx, slot] = picks
            return picks

        sequences = self.walker.walk(n, lambda t, active: None, choose)
        terminal_mask = np.zeros(env.max_choices, dtype=np.int8)
        trajectories: list[Trajectory | None] = []
        for i, episode in enumerate(steps):
            if not episode:
                trajectories.append(None)
                continue
            terminal = np.concatenate([choices[i], np.zeros(len(env.slots), np.float32)])
            trajectories.append(Trajectory(
                np.stack([o for o, _, _ in episode] + [terminal]),
                np.array([a for _, a, _ in episode]),
                np.stack([m for _, _, m in episode] + [terminal_mask])))
        return ActedEpisodes(codes, trajectories, sequences)

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
            "tried": self.tried.state(),
            "rb_pos": self.replay_buffer.pos, "rb_size": self.replay_buffer.size,
            "ib_pos": self.imagined_buffer.pos, "ib_size": self.imagined_buffer.size,
            "model": self.model.state(),
            "progress": self._progress, "settings": asdict(self.settings),
        })
        arrays = state.arrays
        arrays.update(_numbered("q_network", self.q_network.get_weights()))
        arrays.update(_numbered("target_network", self.target_network.get_weights()))
        arrays.update(_numbered("optimizer", [np.array(v.numpy())
                                              for v in self.optimizer.variables]))
        arrays.update(self.replay_buffer.state())
        arrays.update(self.imagined_buffer.state("ib"))
        arrays["model.codes"] = self.model.x.copy()
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
        self.imagined_buffer.load(arrays, int(meta["ib_pos"]), int(meta["ib_size"]), "ib")
        self.model.load_state(meta["model"], arrays["model.codes"])
        self.episodes = int(meta["episodes"])
        self.tried.load_state(meta.get("tried", []))
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
