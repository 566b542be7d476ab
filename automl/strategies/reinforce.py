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

    advantage_i = rank_score(R_i among every reward told so far)
    loss = -mean_i[advantage_i * sum_t log p(a_it)] - entropy_weight * mean_i[sum_t H_it]

The advantage is the normal score of the child's rank among all results so far: the baseline is
the median child, and learning does not depend on the reward's units or outliers (a moving
average divided by an early spread stalled when one failure or one diverged child stretched it).

Between real children the controller also learns from imagined ones (Dyna; Sutton 1991): after
each told result (every ``ceil(n / dyna_horizon)``-th once there are more than ``dyna_horizon``)
a reward model (:class:`~automl.strategies.reward_model.RewardModel`, a GP over
everything told) is refitted, and ``imagined_batches`` REINFORCE steps are taken on batches the
controller samples itself, each scored by the model's optimistic estimate (mean + ``model_beta``
x std). The controller still proposes every real child; the model only tells it, cheaply, which
of its own samples look promising or unexplored. Each imagined batch also holds the ``top_k``
best real children with a fixed positive advantage (priority-queue training, Abolafia et al.
2018): the policy stays near the best architectures found and its new samples are their
neighbours, as a top-quantile density does for TPE. Beside them come the ``planned`` best
untried architectures the model finds among 1,000 uniform draws (expert iteration, Anthony et
al. 2017; :mod:`~automl.strategies.planner`): a policy trained on its own samples only follows
the model a few steps per result, and this pulls it to where the model's optimum is. An ask
samples from the policy conditioned on architectures not yet tried
(:class:`~automl.strategies.tried.TriedTree`): a converged controller still proposes something
new. On the five development tables it reaches the top 1 % in 18-48.5 children (median of 40
seeds, sequential) where random search needs 49.5-107 and TPE 19-83.5 (docs/benchmark.md).

Why it is built this way:

* Sampling runs the LSTM cell in NumPy from the Keras weights and draws with ``self.rng``: an
  ``ask`` costs well under a millisecond, and a checkpoint holds the exact RNG state.
* Log-probabilities are recomputed from the told architecture at update time
  (:meth:`SearchSpace.decisions_of`): results may come back in any order and for trial ids this
  process never asked (replayed after a resume, cached), and nothing is keyed on trial ids. Such
  results count as on-policy samples, as with Zoph & Le's asynchronous workers.
* The update is one ``tf.function`` with a fixed input signature (sequences padded to the number
  of decision slots), traced once per controller; imagined batches go through the same update.
* Imagined batches are sampled in bulk (:class:`~automl.strategies.batch_walk.BatchWalker`), the
  LSTM stepping every partial architecture of a step at once in NumPy.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf
from scipy.special import logsumexp

from automl.errors import SpaceError
from automl.errors import UserInputError
from automl.space import Architecture
from automl.space import Decision
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

_START = 0
"""Embedding row fed to the first step; the other rows embed one value of one decision slot."""


@dataclass
class ReinforceSettings:
    """Settings of the REINFORCE controller (the ``strategy:`` block of a space's YAML).

    One set of defaults for every space: they were chosen on five benchmark tables of different
    sizes, reward types and units at once (docs/benchmark.md), not tuned on one.
    """

    hidden_size: int = 64
    """Units of the controller's LSTM cell (Zoph & Le: 35; ENAS: 64)."""
    embedding_size: int = 32
    """Size of the embedding of the previous decision, the input of each step."""
    learning_rate: float = 0.01
    """Adam step size (Zoph & Le: 6e-4 over thousands of children)."""
    entropy_weight: float = 0.1
    """Weight of the entropy bonus, which keeps the controller exploring. Advantages are rank
    scores (unit variance), so the weight means the same for every reward. 0.01 collapsed the
    controller onto one architecture within a few imagined steps."""
    temperature: float | None = None
    """Logits are divided by this before the softmax (ENAS: 5.0); None: 1."""
    tanh_constant: float | None = 2.5
    """Logits become ``tanh_constant * tanh(logits)``, bounding how sure the controller can get
    (ENAS: 2.5; a 6-way choice tops out at about 0.97); None: no bound."""
    grad_clip: float | None = 5.0
    """Gradients are clipped to this global norm before the Adam step; None: no clipping."""
    batch_size: int | None = 1
    """Finished children per update on real results (M); None: the number of workers. With 4
    simulated workers, M = 1 reached the top 1 % in fewer children than M = 4 on four of five
    tables (geometric mean 36.7 against 43.9, 20 seeds, docs/benchmark.md): waiting for four
    results delays every update by three children, and rank-score advantages need no batch
    to set a baseline."""
    imagined_batches: int = 4
    """REINFORCE steps on imagined children after each told result (0: plain REINFORCE)."""
    imagined_batch_size: int = 64
    """Children the controller samples for one imagined step."""
    model_beta: float = 0.3
    """Optimism of the imagined reward, ``mean + model_beta * std`` of the reward model: how
    much the controller is drawn to architectures unlike those already tried (1.0 explored too
    much on the shipped table: top 1 % in 161 children instead of 122)."""
    redraws: int = 32
    """Samples an ask may draw to find an architecture not yet tried before it samples among
    the untried subtrees only (which favours the siblings of the controller's favourite)."""
    repeats: bool = False
    """Asks sample the controller as it is, repeats included (no redraws). For rewards that
    cost nothing, such as one-shot mode's shared-weight scores, where the policy gradient
    should see the policy's own samples, as in ENAS; a search of trained children keeps it
    off (a repeat spends a trial on a known result)."""
    model_warmup: int = 5
    """Told results before imagined steps start (the model needs a few points)."""
    dyna_horizon: int = 100
    """Imagined steps follow every told result up to this many, then every
    ``ceil(n / dyna_horizon)``-th (:func:`~automl.strategies.reward_model.dyna_due`): the cost
    per result stays flat in long searches."""
    init_range: float = 0.1
    """Initial weights are uniform in [-init_range, init_range] (as in ENAS), drawn from the
    strategy's seed."""
    top_k: int = 10
    """Best real children kept for priority-queue training (Abolafia et al. 2018)."""
    top_k_weight: float = 2.0
    """Advantage given to each of the ``top_k`` best real children, added to every imagined
    batch: the policy is pulled towards the best architectures found, so its new samples are
    their neighbours (0: off; no effect without imagined batches). Sequential, five tables,
    20 seeds (docs/benchmark.md): 0 -> geometric mean 29.2 evaluations to the top 1 %,
    1 -> 27.0, 2 -> 25.8, 4 -> 28.7."""
    planned: int = 4
    """Best untried architectures of the reward model (:func:`~automl.strategies.planner.plan`)
    added to every imagined batch beside the ``top_k`` real ones, with the same advantage
    (expert iteration: the policy is pulled towards what a search of the model finds; 0: off).
    Sequential, five tables, 40 seeds (docs/benchmark.md): 0 -> geometric mean 28.9
    evaluations to the top 1 %, 4 -> 24.2 (TPE 25.7)."""
    plan_pool: int = 1000
    """Uniform draws the planner scores with the model to find the ``planned`` best."""
    fantasy: str = "optimist"
    """How children still training enter the reward model's fit before imagined training
    (``optimist``: at the best reward told; ``believer``: at the model's mean; ``liar``: at the
    worst reward told; ``none``). Results come back in the order children finish, and the
    slowest children are often the best: fitted on told results only, the agent drifted to the
    quick region while they ran. With 4 simulated workers (20 seeds, budget 200,
    docs/benchmark.md) ``optimist`` against ``none``: eleven held-out tables, geometric mean of
    evaluations to the top 1 % REINFORCE 28.1 against 32.4 (seeds 0-19) and 26.6 against 31.8
    (20-39), DQN 25.1 against 29.2 and 24.2 against 29.8; the five development tables level
    (REINFORCE 28.6 against 26.6, DQN 27.9 against 27.5). One worker: nothing is in flight at
    a tell, so sequential searches are unchanged."""


class SampledBatch(NamedTuple):
    """Architectures sampled in bulk, encoded for the update and for the reward model."""

    tokens: np.ndarray
    """``[n, T]`` input token of each step (the previous decision's embedding row)."""
    actions: np.ndarray
    """``[n, T]`` head column chosen at each step."""
    valid: np.ndarray
    """``[n, T, V]`` head columns valid at each step."""
    step_mask: np.ndarray
    """``[n, T]`` 1.0 where the step exists (architectures differ in length)."""
    codes: np.ndarray
    """``[n, slots]`` choice index per decision slot, -1 where absent (reward model input)."""
    sequences: list[list[tuple[Decision, int]]]
    """Each architecture's (decision, choice index) sequence."""


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
        workers: Children trained at once; the batch size M of an update when
            ``batch_size`` is None.
        settings: Fields of :class:`ReinforceSettings`.

    Example:
        >>> strategy = Reinforce(space, seed=0, workers=2, model_beta=0.5)
        >>> architecture = strategy.ask(0)
        >>> strategy.tell(0, architecture, 0.93)
    """

    Settings = ReinforceSettings

    @classmethod
    def check_settings(cls, settings: ReinforceSettings) -> None:
        """Refuse settings that cannot work, naming the key."""
        positive = {"hidden_size": settings.hidden_size, "embedding_size": settings.embedding_size,
                    "learning_rate": settings.learning_rate, "temperature": settings.temperature,
                    "tanh_constant": settings.tanh_constant, "grad_clip": settings.grad_clip,
                    "dyna_horizon": settings.dyna_horizon,
                    "batch_size": settings.batch_size,
                    "imagined_batch_size": settings.imagined_batch_size, "top_k": settings.top_k,
                    "plan_pool": settings.plan_pool}
        at_least_zero = {"entropy_weight": settings.entropy_weight,
                         "top_k_weight": settings.top_k_weight,
                         "imagined_batches": settings.imagined_batches,
                         "model_beta": settings.model_beta, "model_warmup": settings.model_warmup,
                         "redraws": settings.redraws, "planned": settings.planned}
        for key, value in positive.items():
            if value is not None and not value > 0:
                raise UserInputError(f"must be positive, got {value!r}", key=f"strategy.{key}")
        for key, value in at_least_zero.items():
            if not value >= 0:
                raise UserInputError(f"must be >= 0, got {value!r}", key=f"strategy.{key}")
        for key in ("hidden_size", "embedding_size"):
            if getattr(settings, key) > MAX_NETWORK_UNITS:
                raise UserInputError(f"must be at most {MAX_NETWORK_UNITS}, got "
                                     f"{getattr(settings, key)!r}", key=f"strategy.{key}")
        if settings.fantasy not in FANTASIES:
            raise UserInputError(f"must be one of {', '.join(FANTASIES)}, got "
                                 f"{settings.fantasy!r}", key="strategy.fantasy")

    def __init__(self, space: SearchSpace, *, seed: int = 0, workers: int = 1, **settings: Any):
        super().__init__(space, seed=seed, workers=workers, **settings)
        hide_gpus(tf_module())  # a tiny network: GPU memory belongs to the children
        self.settings: ReinforceSettings
        if keras.backend.backend() != "tensorflow":
            raise UserInputError("the reinforce strategy needs KERAS_BACKEND=tensorflow, not "
                                 f"{keras.backend.backend()!r}", key="strategy")
        self.kinds = space.kinds()
        if not self.kinds:
            raise UserInputError("the space has no decision to learn; use the random "
                                 "strategy for it",
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
        # autograph=False: the update has no tensor-dependent Python control flow to convert
        # (autograph re-reads this file's source, a needless cost and a fragile one).
        self._train_step = tf.function(self._train_step_eager, autograph=False, input_signature=[
            tf.TensorSpec([None, self.max_steps], tf.int32),                   # tokens
            tf.TensorSpec([None, self.max_steps], tf.int32),                   # actions
            tf.TensorSpec([None, self.max_steps, self.num_outputs], tf.bool),  # valid
            tf.TensorSpec([None, self.max_steps], tf.float32),                 # step_mask
            tf.TensorSpec([None], tf.float32),                                 # advantages
        ])
        self._refresh_numpy_weights()

        self.walker = BatchWalker(space)
        self.model = RewardModel(space, fantasy=self.settings.fantasy)
        self._slot_of = self.model.codes.index
        self.tried = TriedTree(space)  # asked or told: sampling skips them

        # Learning state: all of it goes into the checkpoint (the model's points included).
        self.step = 0
        # (architecture, index in the model or -1 for a repeat, reward) awaiting an update
        self.pending: list[tuple[Architecture, int, float]] = []
        self._progress: dict[str, float] | None = None

    # ------------------------------------------------------------------ sampling (NumPy)
    @one_blas_thread
    def ask(self, trial_id: int) -> Architecture | None:
        # ALGO LOGIC: the policy conditioned on "untried": draw until the sample is new (exact
        # while the untried mass is not tiny), then restrict the choices to untried subtrees;
        # with ``repeats`` (one-shot mode) the policy's own draw, whatever it is.
        if self.settings.repeats:
            architecture = self._sample(restricted=False)
            self.tried.add(architecture)
        else:
            architecture = self.tried.propose(
                lambda restricted: self._sample(restricted=restricted), self.settings.redraws,
                self._sample_many)
        if architecture is not None:
            self.model.add_pending(trial_id, self.model.codes.encode(architecture))
        return architecture

    def _sample_many(self, n: int) -> list[Architecture]:
        """``n`` architectures from the controller in one vectorised pass (an ask's redraws)."""
        return [self.space.from_decisions(steps) for steps in self.sample_batch(n).sequences]

    def _sample(self, *, restricted: bool) -> Architecture:
        """One architecture from the controller; ``restricted``: only among untried ones."""
        h = np.zeros(self.settings.hidden_size)
        c = np.zeros(self.settings.hidden_size)
        token = _START
        prefix: list[int] = []

        def choose(decision: Decision, chosen: dict[str, Any]) -> Any:
            nonlocal h, c, token
            columns, rows = self._lookup(decision)
            h, c = self._lstm_step(self._w["embedding"][token], h, c)
            logits = h @ self._w["head_kernel"][:, columns] + self._w["head_bias"][columns]
            probs = _softmax(self._shape_logits(logits))
            if restricted:
                probs = np.where(self.tried.open_choices(tuple(prefix), len(columns)), probs, 0)
            cdf = np.cumsum(probs / probs.sum())
            # ALGO LOGIC: a ~ softmax, by inverse CDF on one uniform draw of self.rng.
            index = int(np.searchsorted(cdf, self.rng.random(), side="right"))
            index = min(index, int(np.flatnonzero(probs)[-1]))
            prefix.append(index)
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
    @one_blas_thread
    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        self._progress = None
        self.model.drop_pending(trial_id)
        try:
            codes = self.model.codes.encode(architecture)
        except SpaceError as error:
            logger.warning("reinforce: ignoring trial %s, whose architecture is not in this "
                           "space: %s", trial_id, error)
            return
        self.tried.add(architecture)
        if reward is None or not math.isfinite(reward):
            # The search loop tells failures as the worst reward seen (FailureAsWorst); used
            # directly, a failure before any success teaches nothing.
            if not self.model.rewards:
                return
            reward = min(self.model.rewards)
        repeat = self.model.find(codes) is not None
        if repeat and not self.settings.repeats:
            # A repeat (answered from memory by the loop's NoRepeats wrapper, or a cached
            # result) carries nothing the controller has not learned from already. With
            # ``repeats`` (one-shot mode) it is one of the policy's own samples, scored anew:
            # it joins the batch (on-policy), not the reward model (each architecture once).
            return
        index = -1 if repeat else self.model.add(codes, float(reward))
        self.pending.append((architecture, index, float(reward)))
        if len(self.pending) >= self.batch_size:
            batch, self.pending = self.pending[:self.batch_size], self.pending[self.batch_size:]
            self._update(batch)
        s = self.settings
        if (s.imagined_batches and not repeat
                and dyna_due(len(self.model), s.model_warmup, s.dyna_horizon)):
            self._imagine()

    def _update(self, batch: list[tuple[Architecture, int, float]]) -> None:
        # ALGO LOGIC: advantage = normal score of each child's rank among every told reward
        # (a repeat's: the score its reward would have as one more told reward).
        scores = rank_scores(self.model.rewards)
        advantages = np.array([scores[index] if index >= 0
                               else rank_scores([*self.model.rewards, reward])[-1]
                               for _, index, reward in batch])
        loss, entropy = self._train_step(*self._encode([a for a, _, _ in batch]),
                                         advantages.astype(np.float32))
        self._refresh_numpy_weights()
        self.step += 1
        rewards = [reward for _, _, reward in batch]
        self._progress = {"step": self.step, "mean_reward": float(np.mean(rewards)),
                          "baseline": float(np.median(self.model.rewards)),
                          "entropy": float(entropy), "loss": float(loss)}

    def _imagine(self) -> None:
        """Dyna: REINFORCE steps on the controller's own samples, scored by the reward model."""
        s = self.settings
        self.model.fit()
        top = None
        if s.top_k_weight > 0:
            best = np.argsort(-np.asarray(self.model.rewards), kind="stable")[:s.top_k]
            rows = list(self.model.x[best])
            if s.planned:  # expert iteration: the model's best untried, pulled up too
                planned, _ = plan(self.model, self.walker, self.rng, pool=s.plan_pool,
                                  top=s.planned, beta=s.model_beta)
                rows += list(planned)
            top = self._encode([self.model.codes.decode(row) for row in rows])
        for _ in range(s.imagined_batches):
            batch = self.sample_batch(s.imagined_batch_size)
            imagined = self.model.optimistic(batch.codes, s.model_beta)
            # ALGO LOGIC: the batch's own mean is the baseline; unit scale like real advantages.
            spread = imagined.std()
            advantages = (imagined - imagined.mean()) / (spread if spread > 1e-12 else 1.0)
            arrays = [batch.tokens, batch.actions, batch.valid, batch.step_mask]
            if top is not None:  # priority queue: the best real children, pulled up
                arrays = [np.concatenate([a, b]) for a, b in zip(arrays, top, strict=True)]
                advantages = np.concatenate([advantages, np.full(len(top[0]), s.top_k_weight)])
            self._train_step(*arrays, advantages.astype(np.float32))
            self._refresh_numpy_weights()

    def sample_batch(self, n: int) -> SampledBatch:
        """``n`` architectures drawn from the controller at once, already encoded for the
        update and for the reward model."""
        hidden = self.settings.hidden_size
        h, c = np.zeros((n, hidden)), np.zeros((n, hidden))
        token = np.full(n, _START)
        shape = (n, self.max_steps)
        tokens, actions = np.zeros(shape, np.int32), np.zeros(shape, np.int32)
        valid = np.zeros((*shape, self.num_outputs), bool)
        step_mask = np.zeros(shape, np.float32)
        codes = np.full((n, len(self._slot_of)), -1, dtype=np.int64)
        w = self._w

        def on_step(t: int, active: np.ndarray) -> None:
            z = w["embedding"][token[active]] @ w["kernel"] + h[active] @ w["recurrent_kernel"]
            i, f, g, o = np.split(z + w["bias"], 4, axis=1)
            c[active] = _sigmoid(f) * c[active] + _sigmoid(i) * np.tanh(g)
            h[active] = _sigmoid(o) * np.tanh(c[active])
            tokens[active, t] = token[active]
            step_mask[active, t] = 1.0

        def choose(t: int, decision: Decision, idx: np.ndarray) -> np.ndarray:
            columns, rows = self._lookup(decision)
            logits = self._shape_logits(h[idx] @ w["head_kernel"][:, columns]
                                        + w["head_bias"][columns])
            probs = np.exp(logits - logits.max(axis=1, keepdims=True))
            cdf = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
            picks = np.minimum((cdf < self.rng.random(len(idx))[:, None]).sum(axis=1),
                               len(columns) - 1)
            actions[idx, t] = columns[picks]
            valid[idx[:, None], t, columns[None, :]] = True
            token[idx] = rows[picks]
            codes[idx, self._slot_of[decision.slot]] = picks
            return picks

        sequences = self.walker.walk(n, on_step, choose)
        return SampledBatch(tokens, actions, valid, step_mask, codes, sequences)

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

    def log_probability(self, architecture: Architecture) -> float:
        """log p(architecture) under the current controller (sum over its decisions)."""
        tokens, actions, valid, step_mask = self._encode([architecture])
        logits = self._shape_logits(np.asarray(self.controller(tokens), np.float64))[0]
        total = 0.0
        for t in range(int(step_mask[0].sum())):
            masked = np.where(valid[0, t], logits[t], -np.inf)
            total += masked[actions[0, t]] - logsumexp(masked)
        return float(total)

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
            "step": self.step,
            "pending": [[a.flat, index, reward] for a, index, reward in self.pending],
            "progress": self._progress,
            "model": self.model.state(),
            "tried": self.tried.state(),
        })
        state.arrays["model.codes"] = self.model.x.copy()
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
        self.step = int(state.meta["step"])
        self._progress = state.meta["progress"]
        self.model.load_state(state.meta["model"], state.arrays["model.codes"])
        # entries of checkpoints written before repeats joined the batch hold no reward
        self.pending = [(self.space.from_flat(entry[0]), int(entry[1]),
                         float(entry[2]) if len(entry) > 2 else self.model.rewards[entry[1]])
                        for entry in state.meta["pending"]]
        self.tried.load_state(state.meta.get("tried", []))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max())
    return e / e.sum()
