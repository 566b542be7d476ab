"""The ENAS alternation (Pham et al. 2018): shared weights and the controller train in turn.

Each epoch:

1. **Shared weights.** The training set is shuffled; for each minibatch the controller samples
   one architecture (:meth:`Reinforce.sample_batch`, which draws with the strategy's RNG and
   changes nothing else) and one optimiser step is taken on the super-network's loss through
   that sub-network. Only the weights the sub-network uses get gradients (the optimiser's
   moments still carry earlier updates, as ENAS' momentum SGD does).
2. **Controller.** ``controller_steps`` times: ``controller_batch`` architectures are asked of
   the REINFORCE strategy through its ordinary ``ask``, each is scored by the space's reward
   on one validation minibatch under the shared weights (the whole validation set when it is
   smaller), and told; the strategy updates itself as in any search. In this mode its asks
   are its own samples, repeats included (``repeats``, see ``ONE_SHOT_STRATEGY_DEFAULTS``).
3. **Checkpoint** (``one_shot.npz`` in the run folder, atomic): super-network weights, the
   optimiser's slots, the strategy's own checkpoint (RNG, controller, optimiser), this
   phase's RNG and the epoch history. A resumed phase continues from the last epoch boundary
   and ends with the same weights, controller and ranking as an uninterrupted one (the test
   compares them).

At the end, ``candidates`` architectures sampled from the trained controller are scored on the
whole validation set and ranked: the ranking is the phase's result. With ``finetune_steps``
(off by default), the ``finetune_top`` best then train their own sub-network for that many
minibatches from the shared weights (which are put back after each) and are ranked again by
that score (docs/one_shot.md has what it did). The reward of a
sub-network is computed as for a trained child (validation metrics, the standalone model's
parameter count, ``train_seconds`` 0), so accuracy, UAR or a parameter-penalised reward all
work.

It runs in the driver process on the CPU (the driver's TensorFlow hides GPUs, see
:mod:`automl.tf_devices`); retraining the top K goes through the ordinary executor.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import NamedTuple

import numpy as np

from automl.builder.build import ModelSpec
from automl.builder.supernet import SuperNet
from automl.builder.supernet import encoded_arrays
from automl.errors import UserInputError
from automl.failpoints import failpoint
from automl.space import Architecture
from automl.space import SearchSpace
from automl.store import Checkpoint
from automl.store import load_checkpoint
from automl.store import save_checkpoint
from automl.strategies import StrategyState
from automl.tasks.task import Dataset
from automl.tasks.task import loss_for
from automl.training.metrics import classification_metrics
from automl.training.metrics import regression_metrics
from automl.training.rewards import Reward
from automl.training.trainer import OPTIMIZERS

logger = logging.getLogger("automl.one_shot")


@dataclass
class OneShotSettings:
    """Budget of the one-shot phase (``automl search --mode one-shot`` flags, in ``run.json``).

    The defaults are a cost choice, not a tuned one: 20 epochs of shared training and 40
    sub-network scores per epoch keep the phase near the cost of a few trainings on the
    lecture spaces (docs/one_shot.md); the test split was never looked at to choose them.
    """

    epochs: int = 20
    """Epochs of shared-weight training (``--one-shot-epochs``); one controller phase each."""
    controller_steps: int = 5
    """Controller updates per epoch (``--controller-steps``)."""
    controller_batch: int = 8
    """Architectures asked, scored and told per controller update (REINFORCE's M)."""
    val_batch: int = 256
    """Validation examples one controller score uses (the whole set when it is smaller)."""
    candidates: int = 100
    """Architectures sampled from the trained controller and scored on the whole validation
    set at the end; the best ``retrain_top`` are retrained."""
    retrain_top: int = 5
    """Architectures retrained from scratch as ordinary children (``--retrain-top``)."""
    finetune_steps: int = 0
    """Training steps each of the ``finetune_top`` candidates takes on its own sub-network,
    from the shared weights, before its final score (``--finetune-steps``; 0: the
    shared-weight score as is). The shared weights are put back after each candidate, so the
    ranking does not depend on the order. Measured (docs/one_shot.md): over architectures
    drawn uniformly from the lecture spaces, 20-50 steps raise Kendall tau against trained
    children (lecture_dense 0.26 -> 0.50 and 0.60 -> 0.67, lecture_gru 0.39 -> 0.46), but
    among the good architectures a search finds they did not (0.12 either way), and the
    short fine-tune favoured one-layer stacks that learn fast: the retrained best was 3.7
    points behind on test accuracy against 0.7 without it. So the default is off."""
    finetune_top: int = 20
    """Candidates, the best by shared-weight score, that are fine-tuned and ranked by their
    fine-tuned score ahead of the rest (``--finetune-top``): the shared weights are a coarse
    filter, the fine-tune the finer one. A fine-tune step costs as much as a training step
    of the sub-network (measured here with other work on the machine: about 2.5 ms for the
    lecture's dense stacks, 0.12 s for its GRU stacks), so this bounds the cost of
    ranking."""
    uniform_fraction: float = 0.0
    """Fraction of the epochs, at the start, whose shared-weight minibatches train paths drawn
    uniformly from the space (:meth:`SearchSpace.sample`) rather than by the controller: every
    sub-network gets trained before the controller concentrates (fair sampling, as in
    single-path one-shot NAS, Guo et al. 2020). The controller still learns in those epochs."""
    step_baseline: bool = True
    """Tell the controller each score minus the mean score of its controller step. The shared
    weights improve between steps, so a score is comparable only with scores taken under the
    same weights; REINFORCE's advantage ranks a told reward among all told before, which,
    with raw scores, makes every late sample look good (ENAS subtracts a moving average for
    the same reason). The ranking at the end uses the raw scores."""


def check_one_shot_settings(settings: OneShotSettings, *, new: bool = True) -> OneShotSettings:
    """Refuse non-positive budgets with one line naming the flag (or, for settings only the
    Python API takes, the field of :class:`OneShotSettings`); for a ``new`` run also more
    retrained than ranked and a uniform fraction that makes no epoch (a run made before
    these checks still resumes)."""
    flags = {"epochs": "--one-shot-epochs", "controller_steps": "--controller-steps",
             "controller_batch": "--controller-batch", "val_batch": "OneShotSettings.val_batch",
             "candidates": "--candidates", "retrain_top": "--retrain-top",
             "finetune_top": "--finetune-top"}
    fraction = settings.uniform_fraction
    if (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
            or not 0.0 <= fraction <= 1.0):
        raise UserInputError(f"must be a number in [0, 1], got {fraction!r}",
                             key="--uniform-fraction")
    steps = settings.finetune_steps
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 0:
        raise UserInputError(f"must be a whole number >= 0, got {steps!r}",
                             key="--finetune-steps")
    if not isinstance(settings.step_baseline, bool):
        raise UserInputError(f"must be true or false, got {settings.step_baseline!r}",
                             key="OneShotSettings.step_baseline")
    for name, flag in flags.items():
        value = getattr(settings, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UserInputError(f"must be a positive whole number, got {value!r}", key=flag)
    if not new:
        return settings
    if settings.retrain_top > settings.candidates:
        raise UserInputError(f"{settings.retrain_top} is more than the {settings.candidates} "
                             "candidates ranked (--candidates); allowed: at most that many",
                             key="--retrain-top")
    if 0 < fraction and round(fraction * settings.epochs) == 0:
        raise UserInputError(f"{fraction:g} of {settings.epochs} epoch(s) is no uniform epoch; "
                             "raise it or --one-shot-epochs (allowed: 0, or a fraction "
                             "giving at least one epoch)", key="--uniform-fraction")
    return settings


class Ranked(NamedTuple):
    """An architecture with its one-shot score (the space's reward under the shared weights)
    and validation loss (the tie-break)."""

    architecture: Architecture
    score: float
    loss: float


def rank(scored: list[Ranked]) -> list[Ranked]:
    """Best first: higher score, then lower loss; stable otherwise."""
    return sorted(scored, key=lambda r: (-r.score, r.loss))


class OneShotPhase:
    """Shared-weight training and controller training, epoch by epoch, with checkpoints.

    Args:
        space: A space :func:`~automl.builder.supernet.check_one_shot` accepts.
        data: The task's dataset (loaded once, in the driver).
        strategy: The REINFORCE strategy (asked and told as in any search).
        reward: The reward of a sub-network's validation metrics.
        reward_params: Its parameters.
        seed: Seeds the super-network's weights and this phase's shuffles.
        settings: The phase's budget.
        checkpoint_path: Where the epoch checkpoints go (None: none).
    """

    _CHUNK = 16
    """Architectures scored in one traced call at the end (their outputs on the whole
    validation set are held at once)."""

    def __init__(self, space: SearchSpace, data: Dataset, strategy: Any, reward: Reward,
                 reward_params: Mapping[str, Any], seed: int, settings: OneShotSettings,
                 checkpoint_path: Path | None = None):
        import keras
        import tensorflow as tf

        self.space, self.data, self.strategy = space, data, strategy
        self.reward, self.reward_params = reward, dict(reward_params)
        self.settings = settings
        self.checkpoint_path = checkpoint_path
        spec = ModelSpec(input_shape=data.input_shape, output=data.output,
                         n_outputs=data.n_outputs, image_shape=data.image_shape)
        self.net = SuperNet(space, spec, seed=seed)
        train = {k: v[0] for k, v in space.train.items()}
        self.batch_size = int(train.get("batch_size", 32))
        name = OPTIMIZERS.get(str(train.get("optimizer", "adam")), "Adam")
        self.optimizer = getattr(keras.optimizers, name)(
            learning_rate=float(train.get("learning_rate", 1e-3)))
        self.optimizer.build(self.net.variables)
        self.loss_fn = keras.losses.get(loss_for(data.output))
        self.rng = np.random.default_rng([seed, 1])
        self.seed = seed
        self.epoch = 0
        self.next_trial = 0
        self.history: list[dict[str, float]] = []
        self.rank_seconds = 0.0
        self._y_dtype = np.int64 if data.output == "classification" else np.float32
        self._step = tf.function(self._train_step, autograph=False, input_signature=[
            *self.net.input_signature(),
            tf.TensorSpec([None, *data.y_train.shape[1:]], tf.as_dtype(self._y_dtype)),
            tf.TensorSpec([2], tf.int32)])

    # ------------------------------------------------------------------ one step
    def _train_step(self, x: Any, *rest: Any) -> Any:
        """One minibatch through one sub-network: ``rest`` is the encoded architecture
        (:func:`~automl.builder.supernet.encoded_arrays`), then the targets and the dropout
        seed."""
        import tensorflow as tf

        *enc, y, seed = rest
        variables = self.net.variables
        with tf.GradientTape() as tape:
            out = self.net.forward(x, enc, training=True, seed=seed)
            loss = tf.reduce_mean(self.loss_fn(y, out))
        grads = tape.gradient(loss, variables)
        grads = [tf.zeros_like(v) if g is None else g for g, v in zip(grads, variables,
                                                                      strict=True)]
        self.optimizer.apply_gradients(zip(grads, variables, strict=True))
        return loss

    def evaluate(self, architecture: Architecture, x: np.ndarray, y: np.ndarray
                 ) -> Ranked:
        """The space's reward (and the loss) of the sub-network on (x, y) under the shared
        weights; -inf and inf when it predicts non-finite values."""
        return self._ranked(architecture, self.net.predict(x, architecture), y)

    def evaluate_many(self, architectures: list[Architecture], x: np.ndarray, y: np.ndarray
                      ) -> list[Ranked]:
        """:meth:`evaluate` of each architecture (the same values), in one traced call."""
        if not architectures:
            return []
        outs = self.net.predict_many(x, architectures)
        return [self._ranked(a, out, y) for a, out in zip(architectures, outs, strict=True)]

    def _ranked(self, architecture: Architecture, out: np.ndarray, y: np.ndarray) -> Ranked:
        if not np.all(np.isfinite(out)):
            return Ranked(architecture, -math.inf, math.inf)
        metrics = (classification_metrics(y, out) if self.data.output == "classification"
                   else regression_metrics(y, out))
        facts = {"params": self.net.param_count(architecture), "train_seconds": 0.0}
        value = float(self.reward(metrics, facts, **self.reward_params))
        return Ranked(architecture, value if math.isfinite(value) else -math.inf,
                      float(metrics.get("loss", 0.0)))

    # ------------------------------------------------------------------ the alternation
    def run(self, on_epoch: Callable[[dict[str, float]], None] | None = None
            ) -> list[Ranked]:
        """Train to ``settings.epochs`` (from the last checkpoint, if restored) and return the
        final candidates, best first, with their one-shot scores."""
        while self.epoch < self.settings.epochs:
            started = time.perf_counter()
            loss = self._train_shared()
            rewards = self._train_controller()
            self.epoch += 1
            entry = {"epoch": self.epoch, "loss": loss,
                     "mean_reward": float(np.mean(rewards)) if rewards else math.nan,
                     "best_reward": float(np.max(rewards)) if rewards else math.nan,
                     "seconds": time.perf_counter() - started}
            self.history.append(entry)
            logger.info("one-shot epoch %d/%d: loss %.4f, controller mean reward %.4f",
                        self.epoch, self.settings.epochs, loss, entry["mean_reward"])
            self.save()
            failpoint("one_shot_epoch")
            if on_epoch is not None:
                on_epoch(entry)
        started = time.perf_counter()
        ranked = self.rank_candidates()
        self.rank_seconds = time.perf_counter() - started
        return ranked

    def _train_shared(self) -> float:
        import tensorflow as tf

        n = len(self.data.x_train)
        order = self.rng.permutation(n)
        steps = math.ceil(n / self.batch_size)
        if self.epoch < round(self.settings.uniform_fraction * self.settings.epochs):
            paths = [self.space.sample(self.rng) for _ in range(steps)]
        else:
            paths = [self.space.from_decisions(sequence)
                     for sequence in self.strategy.sample_batch(steps).sequences]
        losses = []
        for k, architecture in enumerate(paths):
            idx = order[k * self.batch_size:(k + 1) * self.batch_size]
            seed = self.rng.integers(0, 2**31 - 1, size=2).astype(np.int32)
            enc = encoded_arrays(self.net.encode(architecture))
            loss = self._step(self.data.x_train[idx], *enc,
                              self.data.y_train[idx].astype(self._y_dtype), tf.constant(seed))
            losses.append(float(loss))
        return float(np.mean(losses))

    def _train_controller(self) -> list[float]:
        s = self.settings
        x_val, y_val = self.data.x_val, self.data.y_val
        told: list[float] = []
        for _ in range(s.controller_steps):
            if len(x_val) > s.val_batch:
                idx = self.rng.choice(len(x_val), size=s.val_batch, replace=False)
                x, y = x_val[idx], y_val[idx]
            else:
                x, y = x_val, y_val
            asked = []
            for _ in range(s.controller_batch):
                architecture = self.strategy.ask(self.next_trial)
                if architecture is None:  # a small space, every architecture asked once
                    break
                asked.append((self.next_trial, architecture))
                self.next_trial += 1
            if not asked:
                break
            rewards = [r.score for r in self.evaluate_many([a for _, a in asked], x, y)]
            finite = [r for r in rewards if math.isfinite(r)]
            baseline = float(np.mean(finite)) if finite and s.step_baseline else 0.0
            for (trial_id, architecture), reward in zip(asked, rewards, strict=True):
                self.strategy.tell(trial_id, architecture,
                                   reward - baseline if math.isfinite(reward) else None)
            told.extend(finite)
        return told

    def rank_candidates(self) -> list[Ranked]:
        """``candidates`` distinct samples of the trained controller, scored on the whole
        validation set, best first: by reward, ties (accuracy on a few hundred examples ties
        often) by the lower validation loss, then the order sampled; the ``finetune_top`` best
        are then fine-tuned and ranked by their fine-tuned scores ahead of the rest. Draws
        from a copy of the strategy's RNG state, so calling it does not change a resumed
        run."""
        state = self.strategy.rng.bit_generator.state
        sequences = self.strategy.sample_batch(self.settings.candidates).sequences
        self.strategy.rng.bit_generator.state = state
        unique = list({a.id: a for a in map(self.space.from_decisions, sequences)}.values())
        ranked = rank(self.final_scores_with(unique, steps=0))
        if not self.settings.finetune_steps:
            return ranked
        top = self.settings.finetune_top
        return rank(self.final_scores([r.architecture for r in ranked[:top]])) + ranked[top:]

    def final_scores(self, architectures: list[Architecture]) -> list[Ranked]:
        """Each architecture's score and loss on the whole validation set after
        ``finetune_steps`` steps of its own sub-network from the shared weights."""
        return self.final_scores_with(architectures, steps=self.settings.finetune_steps)

    def final_scores_with(self, architectures: list[Architecture], *, steps: int
                          ) -> list[Ranked]:
        """As :meth:`final_scores`, with ``steps`` fine-tune steps: the weights and the
        optimiser's slots are put back after each architecture, and every one trains on the
        same minibatches, so a score depends on the architecture alone."""
        if not steps:
            return [ranked for start in range(0, len(architectures), self._CHUNK)
                    for ranked in self.evaluate_many(architectures[start:start + self._CHUNK],
                                                     self.data.x_val, self.data.y_val)]
        import tensorflow as tf

        variables = [*self.net.variables, *self.optimizer.variables]
        shared = [v.numpy() for v in variables]
        rng = np.random.default_rng([self.seed, 2])
        n = len(self.data.x_train)
        batches = [(self.data.x_train[idx], self.data.y_train[idx].astype(self._y_dtype),
                    tf.constant(rng.integers(0, 2**31 - 1, size=2).astype(np.int32)))
                   for idx in (rng.choice(n, size=min(self.batch_size, n), replace=False)
                               for _ in range(steps))]
        scored = []
        for architecture in architectures:
            enc = encoded_arrays(self.net.encode(architecture))
            for x, y, seed in batches:
                self._step(x, *enc, y, seed)
            scored.append(self.evaluate(architecture, self.data.x_val, self.data.y_val))
            for variable, value in zip(variables, shared, strict=True):
                variable.assign(value)
        return scored

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> Checkpoint:
        strategy = self.strategy.state_dict()
        arrays = {f"net.{k}": v for k, v in self.net.get_weights().items()}
        arrays.update({f"optimizer.{k}": np.asarray(v.numpy())
                       for k, v in enumerate(self.optimizer.variables)})
        arrays.update({f"strategy.{k}": v for k, v in strategy.arrays.items()})
        meta = {"epoch": self.epoch, "next_trial": self.next_trial, "history": self.history,
                "rng": self.rng.bit_generator.state, "strategy": strategy.meta,
                "settings": asdict(self.settings)}
        return Checkpoint(meta, arrays)

    def save(self) -> None:
        if self.checkpoint_path is not None:
            save_checkpoint(self.checkpoint_path, self.state())

    def restore(self) -> bool:
        """Continue from the checkpoint if there is one; returns whether there was."""
        if self.checkpoint_path is None or not self.checkpoint_path.exists():
            return False
        state = load_checkpoint(self.checkpoint_path)
        self.net.set_weights({k[4:]: v for k, v in state.arrays.items()
                              if k.startswith("net.")})
        for k, variable in enumerate(self.optimizer.variables):
            variable.assign(state.arrays[f"optimizer.{k}"])
        self.strategy.load_state_dict(StrategyState(
            state.meta["strategy"], {k[9:]: v for k, v in state.arrays.items()
                                     if k.startswith("strategy.")}))
        self.epoch = int(state.meta["epoch"])
        self.next_trial = int(state.meta["next_trial"])
        self.history = list(state.meta["history"])
        self.rng.bit_generator.state = state.meta["rng"]
        return True


__all__ = ["OneShotPhase", "OneShotSettings", "Ranked", "check_one_shot_settings", "rank"]
