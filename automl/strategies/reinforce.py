"""REINFORCE controller (Zoph & Le, 2017: Neural Architecture Search with Reinforcement Learning).

An LSTM controller emits an architecture one decision at a time, walking the space's decision
process (:meth:`SearchSpace.decide`), so variable depth and per-layer-type parameters come out
exactly as for every other consumer of the space. At each step:

* the input is the embedding of the previous decision, i.e. of its slot and value
  (``layers.1.units=80``), so the LSTM always knows which layer it is at;
* the hidden state goes to the softmax head of the decision's *kind* (``num_layers``,
  ``dense.units``, ...; heads are shared across layers as in ENAS), masked to the choices valid
  at that point (a decision's choices are a subset of its kind's vocabulary).

The controller learns with REINFORCE on batches of M finished children::

    advantage_i = (R_i - baseline) / reward_scale
    loss = -mean_i[advantage_i * sum_t log p(a_it)] - entropy_weight * mean_i[sum_t H_it]

with ``baseline`` an exponential moving average of rewards and ``reward_scale`` the spread of the
first rewards (see ``normalize_advantage``).

Why it is built this way:

* Sampling runs the LSTM cell in NumPy from the Keras weights and draws with ``self.rng``: an
  ``ask`` costs well under a millisecond, and a checkpoint holds the exact RNG state.
* Log-probabilities are recomputed from the told architecture at update time
  (:meth:`SearchSpace.decisions_of`): results may come back in any order and for trial ids this
  process never asked (replayed after a resume, cached), and nothing is keyed on trial ids. Such
  results count as on-policy samples, as with Zoph & Le's asynchronous workers.
* The update is one ``tf.function`` with a fixed input signature (sequences padded to the number
  of decision slots), traced once per controller.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from automl.errors import SpaceError
from automl.errors import UserInputError
from automl.space import Architecture
from automl.space import Decision
from automl.space import SearchSpace
from automl.strategies.base import Strategy
from automl.strategies.base import StrategyState

logger = logging.getLogger(__name__)

_START = 0
"""Embedding row fed to the first step; the other rows embed one value of one decision slot."""


@dataclass
class ReinforceSettings:
    """Settings of the REINFORCE controller (the ``strategy:`` block of a space's YAML).

    The defaults learn within a few hundred children on small discrete spaces (a larger learning
    rate and a faster baseline than the papers, which trained 12,800 children): on the lecture's
    dense space with a known optimum, about 93 % of seeds reach a mean reward of 0.9 within 500
    children (median 185).
    """

    hidden_size: int = 64
    """Units of the controller's LSTM cell (Zoph & Le: 35; ENAS: 64)."""
    embedding_size: int = 32
    """Size of the embedding of the previous decision, the input of each step."""
    learning_rate: float = 0.01
    """Adam step size (Zoph & Le: 6e-4 over thousands of children)."""
    baseline_decay: float = 0.9
    """Decay of the exponential moving average of rewards that serves as ``baseline``."""
    entropy_weight: float = 0.2
    """Weight of the entropy bonus, which keeps the controller exploring. It is relative to the
    normalized advantage: with ``normalize_advantage`` off and rewards in [0, 1], use ~0.03."""
    temperature: float | None = None
    """Logits are divided by this before the softmax (ENAS: 5.0); None: 1."""
    tanh_constant: float | None = None
    """Logits become ``tanh_constant * tanh(logits)``, bounding how sure the controller can get
    (ENAS: 2.5); None: no bound."""
    grad_clip: float | None = 5.0
    """Gradients are clipped to this global norm before the Adam step; None: no clipping."""
    batch_size: int | None = None
    """Finished children per update (M); None: the number of workers."""
    normalize_advantage: bool = True
    """Divide advantages by the standard deviation of the first ``scale_samples`` rewards (those
    of the near-uniform initial policy). Learning then does not depend on the reward's units:
    accuracies in [0.90, 0.98] learn like rewards in [0, 1], with the same ``entropy_weight``."""
    scale_samples: int = 20
    """Rewards that measure the reward scale for ``normalize_advantage``."""
    reward_power: float = 1.0
    """Rewards become ``sign(r) * |r| ** reward_power`` before the update; Zoph & Le cubed the
    validation accuracy (3.0) to stretch differences near the top."""
    failure_reward: float = 0.0
    """Reward of a failed child (told with reward None), used as it is (not raised to a power)."""
    init_range: float = 0.1
    """Initial weights are uniform in [-init_range, init_range] (as in ENAS), drawn from the
    strategy's seed."""


def build_controller(num_embeddings: int, head_sizes: list[int], max_steps: int,
                     settings: ReinforceSettings) -> keras.Model:
    """The controller: previous-decision tokens ``[M, T]`` -> logits ``[M, T, V]``.

    The heads' outputs are concatenated, one block of columns per kind, so a single masked
    softmax over the ``V = sum(head_sizes)`` columns selects the kind's head and its valid choices.
    """
    tokens = keras.Input(shape=(max_steps,), dtype="int32", name="previous_decision")
    x = keras.layers.Embedding(num_embeddings, settings.embedding_size, name="embedding")(tokens)
    h = keras.layers.LSTM(settings.hidden_size, return_sequences=True, name="lstm")(x)
    heads = [keras.layers.Dense(n, name=f"head_{k}")(h) for k, n in enumerate(head_sizes)]
    logits = heads[0] if len(heads) == 1 else keras.layers.Concatenate(name="heads")(heads)
    return keras.Model(tokens, logits, name="reinforce_controller")


class Reinforce(Strategy):
    """REINFORCE over the decision sequence of a search space, with an LSTM controller.

    Args:
        space: The search space to propose from.
        seed: Seeds the controller's initial weights and every sample.
        workers: Children trained at once; the default batch size M of an update.
        settings: Fields of :class:`ReinforceSettings`.

    Example:
        >>> strategy = Reinforce(space, seed=0, workers=2, reward_power=3.0)
        >>> architecture = strategy.ask(0)
        >>> strategy.tell(0, architecture, 0.93)
    """

    Settings = ReinforceSettings

    def __init__(self, space: SearchSpace, *, seed: int = 0, workers: int = 1, **settings: Any):
        super().__init__(space, seed=seed, workers=workers, **settings)
        self.settings: ReinforceSettings
        _validate(self.settings)
        if keras.backend.backend() != "tensorflow":
            raise UserInputError("the reinforce strategy needs KERAS_BACKEND=tensorflow, not "
                                 f"{keras.backend.backend()!r}", key="strategy")
        self.kinds = space.kinds()
        if not self.kinds:
            raise UserInputError("the space has no decision to learn; use --strategy random",
                                 source=space.source, key="strategy")
        self.batch_size = self.settings.batch_size or max(1, workers)

        # Head columns: kind -> first column of its block (its vocabulary, in order).
        self.offsets: dict[str, int] = {}
        column = 0
        for kind, vocabulary in self.kinds.items():
            self.offsets[kind], column = column, column + len(vocabulary)
        self.num_outputs = column
        # Embedding rows: slot -> first row of its block (one row per value of that slot).
        self.slots = {decision.slot: decision for decision in space.slots()}
        self.rows: dict[str, int] = {}
        row = _START + 1
        for slot, decision in self.slots.items():
            self.rows[slot], row = row, row + len(decision.choices)
        self.max_steps = len(self.slots)
        self._lookups: dict[Decision, tuple[np.ndarray, np.ndarray]] = {}

        # TRY NOT TO MODIFY: controller, optimizer slots and the traced update, built up front.
        self.controller = build_controller(row, [len(v) for v in self.kinds.values()],
                                           self.max_steps, self.settings)
        init = self.settings.init_range
        self.controller.set_weights([self.rng.uniform(-init, init, w.shape).astype(np.float32)
                                     for w in self.controller.get_weights()])
        self.optimizer = keras.optimizers.Adam(learning_rate=self.settings.learning_rate)
        self.optimizer.build(self.controller.trainable_variables)
        self._train_step = tf.function(self._train_step_eager, input_signature=[
            tf.TensorSpec([None, self.max_steps], tf.int32),                   # tokens
            tf.TensorSpec([None, self.max_steps], tf.int32),                   # actions
            tf.TensorSpec([None, self.max_steps, self.num_outputs], tf.bool),  # valid
            tf.TensorSpec([None, self.max_steps], tf.float32),                 # step_mask
            tf.TensorSpec([None], tf.float32),                                 # advantages
        ])
        self._refresh_numpy_weights()

        # Learning state: all of it goes into the checkpoint.
        self.baseline: float | None = None
        self.scale_count, self.scale_mean, self.scale_m2 = 0, 0.0, 0.0
        self.step = 0
        self.pending: list[tuple[Architecture, float | None]] = []
        self._progress: dict[str, float] | None = None

    # ------------------------------------------------------------------ sampling (NumPy)
    def ask(self, trial_id: int) -> Architecture | None:
        h = np.zeros(self.settings.hidden_size)
        c = np.zeros(self.settings.hidden_size)
        token = _START

        def choose(decision: Decision, chosen: dict[str, Any]) -> Any:
            nonlocal h, c, token
            columns, rows = self._lookup(decision)
            h, c = self._lstm_step(self._w["embedding"][token], h, c)
            logits = h @ self._w["head_kernel"][:, columns] + self._w["head_bias"][columns]
            probs = _softmax(self._shape_logits(logits))
            # ALGO LOGIC: a ~ softmax, by inverse CDF on one uniform draw of self.rng.
            index = int(np.searchsorted(np.cumsum(probs), self.rng.random(), side="right"))
            index = min(index, len(columns) - 1)
            token = int(rows[index])
            return decision.choices[index]

        return self.space.decide(choose)

    def _lstm_step(self, x: np.ndarray, h: np.ndarray, c: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
        """One step of Keras' LSTMCell (gates i, f, c, o; sigmoid and tanh), in NumPy."""
        z = x @ self._w["kernel"] + h @ self._w["recurrent_kernel"] + self._w["bias"]
        i, f, g, o = np.split(z, 4)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        return h, c

    def _shape_logits(self, logits: Any) -> Any:
        """ENAS' temperature and tanh bound (works on NumPy arrays and tensors alike)."""
        if self.settings.temperature is not None:
            logits = logits / self.settings.temperature
        if self.settings.tanh_constant is not None:
            tanh = np.tanh if isinstance(logits, np.ndarray) else tf.tanh
            logits = self.settings.tanh_constant * tanh(logits)
        return logits

    def _refresh_numpy_weights(self) -> None:
        """Copy the Keras weights into the arrays the NumPy sampler reads."""
        layer = self.controller.get_layer
        kernel, recurrent_kernel, bias = (np.asarray(w, np.float64)
                                          for w in layer("lstm").cell.get_weights())
        heads = [layer(f"head_{k}").get_weights() for k in range(len(self.kinds))]
        self._w = {
            "embedding": np.asarray(layer("embedding").get_weights()[0], np.float64),
            "kernel": kernel,
            "recurrent_kernel": recurrent_kernel,
            "bias": bias,
            "head_kernel": np.concatenate([w for w, _ in heads], axis=1).astype(np.float64),
            "head_bias": np.concatenate([b for _, b in heads]).astype(np.float64),
        }

    def _lookup(self, decision: Decision) -> tuple[np.ndarray, np.ndarray]:
        """For each choice of ``decision``: its head column and its embedding row."""
        if decision not in self._lookups:
            kind = Decision(decision.kind, decision.kind, self.kinds[decision.kind], decision.kind)
            slot = self.slots[decision.slot]
            self._lookups[decision] = (
                np.array([self.offsets[decision.kind] + kind.index(v) for v in decision.choices]),
                np.array([self.rows[decision.slot] + slot.index(v) for v in decision.choices]))
        return self._lookups[decision]

    # ------------------------------------------------------------------ learning
    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        self._progress = None
        try:
            self.space.decisions_of(architecture)
        except SpaceError as error:
            logger.warning("reinforce: ignoring trial %s, whose architecture is not in this "
                           "space: %s", trial_id, error)
            return
        self.pending.append((architecture, reward))
        if len(self.pending) >= self.batch_size:
            batch, self.pending = self.pending[:self.batch_size], self.pending[self.batch_size:]
            self._update(batch)

    def _update(self, batch: list[tuple[Architecture, float | None]]) -> None:
        # ALGO LOGIC: reward shaping; a failed child gets failure_reward.
        rewards = np.array([self._shape_reward(r) for _, r in batch])

        # ALGO LOGIC: advantage against the moving-average baseline of the earlier batches.
        if self.baseline is None:
            self.baseline = float(rewards.mean())
        advantages = rewards - self.baseline
        decay = self.settings.baseline_decay
        self.baseline = decay * self.baseline + (1 - decay) * float(rewards.mean())
        if self.settings.normalize_advantage:
            advantages = advantages / self._reward_scale(rewards)

        # ALGO LOGIC: recompute log p(architecture) from the decisions; one clipped Adam step.
        tokens, actions, valid, step_mask = self._encode([a for a, _ in batch])
        loss, entropy = self._train_step(tokens, actions, valid, step_mask,
                                         advantages.astype(np.float32))
        self._refresh_numpy_weights()
        self.step += 1
        self._progress = {"step": self.step, "mean_reward": float(rewards.mean()),
                          "baseline": self.baseline, "entropy": float(entropy),
                          "loss": float(loss)}

    def _shape_reward(self, reward: float | None) -> float:
        if reward is None or not math.isfinite(reward):
            return self.settings.failure_reward
        return math.copysign(abs(reward) ** self.settings.reward_power, reward)

    def _reward_scale(self, rewards: np.ndarray) -> float:
        """Standard deviation of the first ``scale_samples`` rewards (Welford); 1 while zero."""
        for reward in rewards:
            if self.scale_count >= self.settings.scale_samples and self.scale_m2 > 0:
                break
            self.scale_count += 1
            delta = reward - self.scale_mean
            self.scale_mean += delta / self.scale_count
            self.scale_m2 += delta * (reward - self.scale_mean)
        std = math.sqrt(self.scale_m2 / max(self.scale_count, 1))
        return std if std > 0 else 1.0

    def _encode(self, architectures: list[Architecture]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Decision sequences as padded arrays: input tokens, actions, valid columns, step mask."""
        shape = (len(architectures), self.max_steps)
        tokens, actions = np.zeros(shape, np.int32), np.zeros(shape, np.int32)
        valid = np.zeros((*shape, self.num_outputs), bool)
        step_mask = np.zeros(shape, np.float32)
        for i, architecture in enumerate(architectures):
            token = _START
            for t, (decision, index) in enumerate(self.space.decisions_of(architecture)):
                columns, rows = self._lookup(decision)
                tokens[i, t], actions[i, t] = token, columns[index]
                valid[i, t, columns] = True
                step_mask[i, t] = 1.0
                token = int(rows[index])
        return tokens, actions, valid, step_mask

    def _train_step_eager(self, tokens: tf.Tensor, actions: tf.Tensor, valid: tf.Tensor,
                          step_mask: tf.Tensor, advantages: tf.Tensor) -> tuple[tf.Tensor, ...]:
        variables = self.controller.trainable_variables
        with tf.GradientTape() as tape:
            logits = self._shape_logits(self.controller(tokens, training=True))
            # One softmax per decision, over the choices valid at that step.
            log_probs = tf.nn.log_softmax(tf.where(valid, logits, -1e9))
            log_prob_actions = tf.gather(log_probs, actions, batch_dims=2) * step_mask
            step_entropy = -tf.reduce_sum(
                tf.where(valid, tf.exp(log_probs) * log_probs, 0.0), axis=2) * step_mask
            policy_loss = -tf.reduce_mean(advantages * tf.reduce_sum(log_prob_actions, axis=1))
            entropy_bonus = tf.reduce_mean(tf.reduce_sum(step_entropy, axis=1))
            loss = policy_loss - self.settings.entropy_weight * entropy_bonus
        grads = tape.gradient(loss, variables)
        if self.settings.grad_clip is not None:
            grads, _ = tf.clip_by_global_norm(grads, self.settings.grad_clip)
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss, tf.reduce_sum(step_entropy) / tf.maximum(tf.reduce_sum(step_mask), 1.0)

    def progress(self) -> dict[str, float] | None:
        """``step``, ``mean_reward``, ``baseline``, ``entropy`` (nats per decision) and ``loss``
        of the update the last ``tell`` made, or None; cleared once read."""
        progress, self._progress = self._progress, None
        return progress

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self) -> StrategyState:
        state = super().state_dict()
        state.meta.update({
            "baseline": self.baseline,
            "scale": [self.scale_count, self.scale_mean, self.scale_m2],
            "step": self.step,
            "pending": [{"flat": a.flat, "reward": None if r is None else float(r)}
                        for a, r in self.pending],
            "progress": self._progress,
        })
        for k, weight in enumerate(self.controller.get_weights()):
            state.arrays[f"controller.{k}"] = weight
        for k, slot in enumerate(self.optimizer.variables):
            state.arrays[f"optimizer.{k}"] = np.asarray(slot.numpy())
        return state

    def load_state_dict(self, state: StrategyState) -> None:
        shapes = [w.shape for w in self.controller.get_weights()]
        weights = [state.arrays.get(f"controller.{k}") for k in range(len(shapes))]
        if [getattr(w, "shape", None) for w in weights] != shapes:
            raise UserInputError("the checkpoint's controller does not fit this space and these "
                                 "settings (were decisions, hidden_size or embedding_size "
                                 "changed?)", key="strategy")
        super().load_state_dict(state)
        self.controller.set_weights(weights)
        for k, slot in enumerate(self.optimizer.variables):
            slot.assign(state.arrays[f"optimizer.{k}"])
        self._refresh_numpy_weights()
        self.baseline = state.meta["baseline"]
        count, mean, m2 = state.meta["scale"]
        self.scale_count, self.scale_mean, self.scale_m2 = int(count), float(mean), float(m2)
        self.step = int(state.meta["step"])
        self.pending = [(self.space.from_flat(p["flat"]), p["reward"])
                        for p in state.meta["pending"]]
        self._progress = state.meta["progress"]


def _validate(settings: ReinforceSettings) -> None:
    """Refuse settings that cannot work, naming the key."""
    positive = {"hidden_size": settings.hidden_size, "embedding_size": settings.embedding_size,
                "learning_rate": settings.learning_rate, "temperature": settings.temperature,
                "tanh_constant": settings.tanh_constant, "grad_clip": settings.grad_clip,
                "batch_size": settings.batch_size, "scale_samples": settings.scale_samples,
                "reward_power": settings.reward_power}
    for key, value in positive.items():
        if value is not None and not value > 0:
            raise UserInputError(f"must be positive, got {value!r}", source="reinforce",
                                 key=f"strategy.{key}")
    if not 0.0 <= settings.baseline_decay < 1.0:
        raise UserInputError(f"must be in [0, 1), got {settings.baseline_decay!r}",
                             source="reinforce", key="strategy.baseline_decay")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max())
    return e / e.sum()
