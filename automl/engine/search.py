"""The search loop: wires the space, a strategy, the run store and an executor (like Optuna's
Study, it is the only place that knows all four).

Asks and tells are numbered in one event sequence, persisted the moment they happen: an ask is
stored with its trial (``ask_seq``) before the child is submitted; a result is stored (one
transaction, ``told_seq``) before ``tell``. The strategy is checkpointed after each of the first
``CHECKPOINT_HORIZON`` results, then after every ``ceil(n / CHECKPOINT_HORIZON)``-th, and when
the loop ends: a checkpoint holds the whole state (a DQN's replay buffer, the tried
architectures), so writing one per result would make a long search quadratic. A kill at any
point still resumes exactly: the checkpoint says up to which event the strategy has seen, the
later asks and tells (at most ``n / CHECKPOINT_HORIZON`` results) are replayed into it from the
store in their original order (so its RNG and pending state are as they were), and trials that
were running are rerun with the same architecture.

The executor (:class:`automl.execution.Executor`) decides where children run: on Ray, in this
process, or looked up in a benchmark table with simulated time (``automl bench``), so caching,
failures and out-of-order results are this one loop's code everywhere. A bench passes an
in-memory store and ``checkpoint=False``: nothing is resumed there, and writing the strategy's
checkpoint after every result would cost more than the look-up.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import math
import socket
import time
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from pathlib import Path
from typing import Any

from automl.builder import describe
from automl.engine.phases import PhaseClock
from automl.errors import RunError
from automl.errors import SearchAbortedError
from automl.errors import UserInputError
from automl.execution import ExecutionSettings
from automl.execution import Executor
from automl.execution import Outcome
from automl.failpoints import failpoint
from automl.interrupts import interrupts_deferred
from automl.space import Architecture
from automl.space import SearchSpace
from automl.store import Checkpoint
from automl.store import ModelFiles
from automl.store import RunFolder
from automl.store import TrialRecord
from automl.store import TrialStatus
from automl.store import TrialStore
from automl.store import load_checkpoint
from automl.store import save_checkpoint
from automl.strategies import Strategy
from automl.strategies import StrategyState
from automl.strategies.wrappers import guarded
from automl.training.equivalence import effective_form
from automl.training.equivalence import equivalence_key
from automl.training.rewards import Reward

logger = logging.getLogger("automl.search")
notices = logging.getLogger("automl.resume")
"""What a resume could not continue as it was (the CLI prints it as ``note: ...``)."""


CHECKPOINT_HORIZON = 100
"""Results after each of which the strategy is checkpointed; later, every ``ceil(n / 100)``-th."""

@dataclass
class Progress:
    """What a progress display shows; sent after every event."""

    run: str
    total: int
    done: int = 0
    running: int = 0
    failed: int = 0
    cached: int = 0
    stopped: int = 0
    best_reward: float | None = None
    best_summary: str = ""
    elapsed: float = 0.0
    eta: float | None = None
    last_event: str = ""


@dataclass(frozen=True)
class Told:
    """One result as the loop told it to the strategy (what ``on_told`` receives).

    Attributes:
        trial_id: The trial.
        architecture: Its architecture.
        reward: The reward told (None: the child failed).
        status: ``complete``, ``failed``, ``cached`` or ``stopped`` (ended early by the
            scheduler; ``reward`` is then that of the model at the epoch it stopped at).
        at: The executor's clock when it was told: wall seconds, or simulated seconds on a
            table, since the loop began.
        train_seconds: Training time the child reported (0 for a cached trial).
    """

    trial_id: int
    architecture: Architecture
    reward: float | None
    status: TrialStatus
    at: float
    train_seconds: float


@dataclass
class SearchOutcome:
    """Summary of a finished (or stopped) search (``seconds`` on the executor's clock).

    ``extra["driver_seconds"]``: the loop's own steps (``ask``, ``store_ask``, ``submit``,
    ``store``, ``models``, ``tell``, ``checkpoint``), each a list of durations in seconds
    (:class:`~automl.engine.phases.PhaseClock`); the per-trial figures are in the store's
    ``costs``.
    """

    run_path: Path
    counts: dict[str, int]
    best_reward: float | None
    best_trial: int | None
    seconds: float
    strategy_updates: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def child_seed(seed: int, trial_id: int) -> int:
    return (seed * 1_000_003 + trial_id) % (2**31 - 1)


class SearchLoop:
    """Runs one search to ``trials`` finished trials (complete, failed or cached).

    Args:
        run: The run folder (its database and checkpoint paths).
        space: The search space.
        strategy: The strategy; the loop drives it through :func:`guarded`, so checkpoints and
            replays go through the wrapper too.
        executor: Where children run.
        trials: Finished trials to reach; told to the strategy with ``set_budget``.
        seed: Seed of the search (children get :func:`child_seed` of it).
        reward: The reward computed from a child's validation metrics and facts.
        reward_params: Its parameters (the YAML's ``reward:`` block).
        max_consecutive_failures: Failed children in a row that stop the search; None: never.
        on_progress: Called after every event with a :class:`Progress`.
        on_told: Called with every result the loop tells the strategy (a bench's trace).
        store: The trial store; default: the run folder's database. A bench passes an
            in-memory one (``TrialStore(":memory:")``).
        checkpoint: Write the strategy's checkpoint after every tell (needed for resume).
        keep_best: Keep the trained models of the best K children (``models/<trial>.keras``,
            :class:`~automl.store.ModelFiles`); 0 (a bench, a table): ask for no models.
    """

    def __init__(self, run: RunFolder, space: SearchSpace, strategy: Strategy,
                 executor: Executor, *, trials: int, seed: int, reward: Reward,
                 reward_params: Mapping[str, Any] | None = None,
                 max_consecutive_failures: int | None = 10,
                 on_progress: Callable[[Progress], None] | None = None,
                 on_told: Callable[[Told], None] | None = None,
                 store: TrialStore | None = None, checkpoint: bool = True,
                 keep_best: int = 0):
        self.run = run
        self.space = space
        # the training settings children differ in: part of each child's one-line summary
        self._searched_train = tuple(k for k, values in space.train.items() if len(values) > 1)
        self.strategy = guarded(strategy, key=equivalence_key)
        self.executor = executor
        self.trials = trials
        self.seed = seed
        self.reward = reward
        self.reward_params = dict(reward_params or {})
        self.max_consecutive_failures = max_consecutive_failures
        self.on_progress = on_progress
        self.on_told = on_told
        self.checkpoint = checkpoint
        self.store = store if store is not None else TrialStore(run.db_path)
        self.keep_best = keep_best
        self.models = ModelFiles(run.path)
        self.strategy.set_budget(trials)  # before any ask, replayed ones included
        self._clock_zero = executor.now()
        self._consecutive_failures: collections.deque[str] = collections.deque()
        self._architectures: dict[int, Architecture] = {}
        self._seq = self.store.max_event_seq()
        self._done_at_start = self._finished_count()
        self._finished = self._done_at_start
        self._proposed_nothing_more = ""  # the strategy's class, once it ran dry
        # overhead accounting: when each freed slot's result arrived (refilled in order), and
        # when each child in flight was submitted and after how long a gap
        self.phases = PhaseClock()
        self._arrived: collections.deque[float] = collections.deque()
        self._launched: dict[int, tuple[float, float | None]] = {}

    # ------------------------------------------------------------------ resume
    def restore_strategy(self) -> int:
        """Load the last checkpoint and replay the asks and tells after it; returns their count."""
        checkpointed = 0
        state = self._readable_checkpoint()
        if state is not None:
            journal = self.store.max_event_seq()
            if int(state.meta["seq"]) > journal:
                # The store is the journal: a checkpoint that saw events the store does not hold
                # (lost in a power cut) would tell those results twice. Rebuild from the store.
                logger.warning("the strategy checkpoint (event %s) is ahead of the store (event "
                               "%s): rebuilding the strategy by replaying the store",
                               state.meta["seq"], journal)
            else:
                checkpointed = int(state.meta["seq"])
                self.strategy.load_state_dict(StrategyState(state.meta["strategy"],
                                                            state.arrays))
        events: list[tuple[int, str, TrialRecord]] = []
        for record in self.store.trials():
            if record.ask_seq and record.ask_seq > checkpointed:
                events.append((record.ask_seq, "ask", record))
            if record.told_seq and record.told_seq > checkpointed:
                events.append((record.told_seq, "tell", record))
        recorded = {u["told_seq"] for u in self.store.strategy_updates()}
        for seq, kind, record in sorted(events, key=lambda e: e[0]):
            if kind == "ask":
                with interrupts_deferred():
                    proposed = self.strategy.ask(record.trial_id)
                if proposed is not None and proposed.id != record.arch_id:
                    logger.warning("replayed ask for trial %d proposed %s, stored %s (the "
                                   "strategy is not deterministic)", record.trial_id,
                                   proposed.id, record.arch_id)
            else:
                with interrupts_deferred():
                    self.strategy.tell(record.trial_id, record.arch, record.reward)
                stats = self.strategy.progress()
                if stats and seq not in recorded:
                    self.store.add_strategy_update(seq, stats)
        if events:
            self._checkpoint()
        return len(events)

    def _readable_checkpoint(self) -> Checkpoint | None:
        """The last strategy checkpoint; None where there is none, or where it cannot be read
        (damaged, edited): the store is the journal, so such a checkpoint costs a replay of
        the store, nothing else."""
        if not self.run.checkpoint_path.exists():
            return None
        try:
            state = load_checkpoint(self.run.checkpoint_path)
            if not isinstance(state.meta.get("strategy"), dict):
                raise ValueError("no strategy state")
            int(state.meta["seq"])
        except (RunError, KeyError, TypeError, ValueError) as exc:
            problem = exc.message if isinstance(exc, RunError) else \
                f"the strategy checkpoint is incomplete ({exc.__class__.__name__}: {exc})"
            notices.warning("%s: %s; rebuilding the strategy by replaying the store",
                            self.run.checkpoint_path, problem)
            return None
        return state

    # ------------------------------------------------------------------ the loop
    def run_loop(self) -> SearchOutcome:
        try:
            return self._run_loop()
        except SearchAbortedError:
            self._checkpoint()  # every result is told; a resume starts from here
            raise

    def restore_pruner(self) -> int:
        """Rebuild the early-stopping state from the store (resume with ``--scheduler``): every
        finished child's stored epochs and outcome, in the order they were told. Children that
        were in flight rerun from epoch 1 and report again. Returns the trials replayed."""
        pruner = getattr(self.executor, "pruner", None)
        if pruner is None:
            return 0
        finished = sorted((t for t in self.store.trials()
                           if t.told_seq and t.status in (TrialStatus.COMPLETE,
                                                          TrialStatus.STOPPED,
                                                          TrialStatus.FAILED)),
                          key=lambda t: t.told_seq or 0)
        return int(pruner.replay([(t.trial_id, t.status.value, self.store.epochs(t.trial_id))
                                  for t in finished]))

    def _run_loop(self) -> SearchOutcome:
        requeue = [t for t in self.store.trials()
                   if t.status in (TrialStatus.RUNNING, TrialStatus.PENDING)]
        next_id = self.store.max_trial_id() + 1
        self.store.set_meta("trials_requested", self.trials)
        # after a kill: no pending files, no model outside the top K (none for K = 0)
        self.models.sync(self.store.top_trained(self.keep_best))
        self._finished = self._finished_count()  # then counted here, not queried per event
        try:
            while True:
                if self._finished >= self.trials and not self.executor.running:
                    break
                while (self.executor.free_slots
                       and self._finished + len(self.executor.running) < self.trials):
                    if requeue:
                        record = requeue.pop(0)
                        self._submit(record.trial_id, record.arch, record.attempts)
                    else:
                        with self.phases.timed("ask"), interrupts_deferred():
                            architecture = self.strategy.ask(next_id)
                        if architecture is None:
                            break
                        self._seq += 1
                        if not self._reuse_cached(next_id, architecture, self._seq):
                            self._submit(next_id, architecture, 0, ask_seq=self._seq)
                        next_id += 1
                if not self.executor.running:
                    if self._finished < self.trials:  # e.g. a grid that is exhausted
                        algorithm = getattr(self.strategy, "unwrapped", self.strategy)
                        logger.warning("strategy %s has nothing more to propose; stopping at "
                                       "%d trials", type(algorithm).__name__, self._finished)
                        self._proposed_nothing_more = type(algorithm).__name__
                    break
                outcomes = self.executor.wait(timeout=0.5)
                arrived = time.perf_counter()
                for outcome in outcomes:
                    self._finish(outcome, arrived)
                self._emit("")
        except KeyboardInterrupt:  # the children are ended below: none runs any more
            with contextlib.suppress(Exception):  # never hide the interrupt itself
                self.store.requeue_running()
            raise
        finally:
            self.executor.shutdown()
        self._checkpoint()
        return self.summary()

    def _finished_count(self) -> int:
        counts = self.store.counts()
        return sum(counts.get(s.value, 0) for s in TrialStatus if s.is_finished())

    def _submit(self, trial_id: int, architecture: Architecture, attempts: int,
                *, ask_seq: int | None = None) -> None:
        """Start a child: a new trial (stored with its ``ask_seq``) or a requeued one."""
        with self.phases.timed("store_ask"):
            if ask_seq is not None:
                self.store.add_trial(trial_id, architecture, status=TrialStatus.RUNNING,
                                     ask_seq=ask_seq, summary=self._label(architecture))
            else:
                self.store.mark_running(trial_id, attempts)
        self._architectures[trial_id] = architecture
        model_out = None
        if self.keep_best:
            model_out = {"path": str(self.models.pending_path(trial_id)),
                         "host": socket.gethostname()}
        submitted = time.perf_counter()
        gap = submitted - self._arrived.popleft() if self._arrived else None
        self._launched[trial_id] = (submitted, gap)
        with self.phases.timed("submit"):
            self.executor.submit(trial_id, architecture.to_json(),
                                 child_seed(self.seed, trial_id), attempts=attempts,
                                 model_out=model_out)
        failpoint("after_submit")
        self._emit(lambda: f"trial {trial_id} started: {self._label(architecture)}")

    def _reuse_cached(self, trial_id: int, architecture: Architecture, ask_seq: int) -> bool:
        """An architecture already trained in this run (or one whose child is the same,
        :mod:`automl.training.equivalence`) is not trained again."""
        earlier = self.store.completed_result(architecture.id)
        key = equivalence_key(architecture)
        if earlier is None and key != architecture.id:
            earlier = next((t for t in self.store.trials(status=TrialStatus.COMPLETE)
                            if equivalence_key(Architecture.from_dict(t.architecture)) == key),
                           None)
        if earlier is None:
            return False
        self.store.add_trial(trial_id, architecture, status=TrialStatus.PENDING, ask_seq=ask_seq,
                             summary=self._label(architecture))
        self._seq += 1
        self.store.finish_trial(trial_id, status=TrialStatus.CACHED, reward=earlier.reward,
                                metrics=earlier.metrics, test_metrics=earlier.test_metrics,
                                params=earlier.params, train_seconds=0.0,
                                cached_from=earlier.trial_id, told_seq=self._seq)
        self._finished += 1
        self._tell(trial_id, architecture, earlier.reward, TrialStatus.CACHED, 0.0)
        self._emit(lambda: f"trial {trial_id} cached from trial {earlier.trial_id}")
        return True

    def _finish(self, outcome: Outcome, arrived: float | None = None) -> None:
        """Store, keep the model, tell. ``arrived``: when the result came back (``perf_counter``),
        for the child's ``round_trip`` and the gap before its slot's next child."""
        result = outcome.result
        costs = self._driver_costs(outcome, arrived)
        architecture = self._architectures.pop(outcome.trial_id)
        reward: float | None = None
        error = result.get("error")
        if result.get("ok"):
            facts = {"params": result["params"], "train_seconds": result["train_seconds"]}
            try:
                reward = self.reward(result["metrics"], facts, **self.reward_params)
            except Exception as exc:  # noqa: BLE001 (a reward plugin's error fails one trial)
                error = f"reward {self.reward.name!r} failed: {exc}"
            if reward is not None and not math.isfinite(reward):
                error, reward = f"reward is {reward}", None
        status = TrialStatus.COMPLETE if reward is not None else TrialStatus.FAILED
        if reward is not None and result.get("stopped_at"):
            status = TrialStatus.STOPPED  # a partial result, flagged as one everywhere
        epochs = result.get("epochs")
        pruner = getattr(self.executor, "pruner", None)
        if pruner is not None:  # what the pruner saw stands even if the worker's result is lost
            seen = pruner.finish(outcome.trial_id, status.value)
            epochs = epochs or seen
        self._seq += 1
        with self.phases.timed("store"):
            self.store.finish_trial(
                outcome.trial_id, status=status, reward=reward, metrics=result.get("metrics"),
                test_metrics=result.get("test_metrics"), params=result.get("params"),
                train_seconds=result.get("train_seconds"), host=result.get("host"),
                node=result.get("node"), gpus=result.get("gpus"), error=error,
                attempts=outcome.attempts, epochs=epochs, told_seq=self._seq,
                keras_summary=result.get("keras_summary"), costs=costs)
        self._finished += 1
        failpoint("after_store")
        with self.phases.timed("models"):
            self._keep_model(outcome.trial_id, status, result)
        self._tell(outcome.trial_id, architecture, reward, status,
                   float(result.get("train_seconds") or 0.0))
        if status == TrialStatus.FAILED:
            logger.warning("trial %d failed: %s", outcome.trial_id, error)
            self._consecutive_failures.append((error or "").splitlines()[0] if error else "")
            self._emit(f"trial {outcome.trial_id} failed: {(error or '').splitlines()[0][:120]}")
            limit = self.max_consecutive_failures
            if limit is not None and len(self._consecutive_failures) >= limit:
                common, count = collections.Counter(self._consecutive_failures).most_common(1)[0]
                raise SearchAbortedError(
                    f"{len(self._consecutive_failures)} trials failed in a row; most common "
                    f"error ({count}x): {common}. Fix the cause, then resume the run.")
        else:
            self._consecutive_failures.clear()
            stopped = (f" (stopped at epoch {result['stopped_at']})"
                       if status == TrialStatus.STOPPED else "")
            self._emit(lambda: f"trial {outcome.trial_id} reward {reward:.4f}{stopped}: "
                       f"{self._label(architecture)}")

    def _driver_costs(self, outcome: Outcome, arrived: float | None) -> dict[str, float]:
        """The worker's costs plus the driver's: ``round_trip`` (submitted to back) and
        ``driver_gap`` (its slot's previous result back to this child submitted); empty for a
        child that did not train (the worker sent no costs)."""
        costs = dict(outcome.result.get("costs") or {})
        submitted, gap = self._launched.pop(outcome.trial_id, (None, None))
        if arrived is not None:
            self._arrived.append(arrived)  # this slot is free from now on
        if not costs:
            return costs
        if arrived is not None and submitted is not None:
            costs["round_trip"] = arrived - submitted
        if gap is not None:
            costs["driver_gap"] = gap
        return costs

    def _keep_model(self, trial_id: int, status: TrialStatus, result: Mapping[str, Any]) -> None:
        """Promote the child's model if it entered the top K (its result is stored already),
        drop the kept model that fell out; a failed child's file is deleted."""
        if not self.keep_best:
            return
        if result.get("model_bytes") is not None:  # trained on another machine
            self.models.write_pending(trial_id, result["model_bytes"])
        if result.get("model_error"):
            logger.warning("trial %d: its model could not be saved (%s)", trial_id,
                           result["model_error"])
        top = self.store.top_trained(self.keep_best)
        if status == TrialStatus.COMPLETE and trial_id in top and self.models.promote(trial_id):
            logger.info("trial %d enters the best %d: model kept", trial_id, self.keep_best)
        self.models.discard_pending(trial_id)
        self.models.sync(top, pending=False)

    def _tell(self, trial_id: int, architecture: Architecture, reward: float | None,
              status: TrialStatus, train_seconds: float) -> None:
        with self.phases.timed("tell"), interrupts_deferred():
            self.strategy.tell(trial_id, architecture, reward)
            stats = self.strategy.progress()
            if stats:
                self.store.add_strategy_update(self._seq, stats)
        failpoint("after_tell")
        told = self._finished
        if told <= CHECKPOINT_HORIZON or told % math.ceil(told / CHECKPOINT_HORIZON) == 0:
            with self.phases.timed("checkpoint"):
                self._checkpoint()
        failpoint("checkpoint_written")
        if self.on_told is not None:
            self.on_told(Told(trial_id, architecture, reward, status, self.elapsed(),
                              train_seconds))

    def _checkpoint(self) -> None:
        if not self.checkpoint:
            return
        state = self.strategy.state_dict()
        meta = {"strategy": state.meta, "seq": self._seq}
        save_checkpoint(self.run.checkpoint_path, StrategyState(meta, state.arrays))

    # ------------------------------------------------------------------ reporting
    def elapsed(self) -> float:
        """Seconds on the executor's clock since the loop began (simulated on a table)."""
        return self.executor.now() - self._clock_zero

    def _emit(self, event: str | Callable[[], str]) -> None:
        """Log an event and report progress; the text is only made when someone reads it
        (a bench runs thousands of events per second with neither)."""
        if self.on_progress is None and not logger.isEnabledFor(logging.INFO):
            return
        text = event() if callable(event) else event
        if text:
            logger.info(text)
        if self.on_progress is not None:
            self.on_progress(self.progress(text))

    def _label(self, architecture: Architecture) -> str:
        return child_summary(architecture, self._searched_train)

    def progress(self, event: str = "") -> Progress:
        counts = self.store.counts()
        done = sum(counts.get(s.value, 0) for s in TrialStatus if s.is_finished())
        best = self.store.best()
        elapsed = self.elapsed()
        new_done = max(done - self._done_at_start, 0)
        eta = elapsed / new_done * (self.trials - done) if new_done else None
        return Progress(run=self.run.name, total=self.trials, done=done,
                        running=len(self.executor.running),
                        failed=counts.get(TrialStatus.FAILED.value, 0),
                        cached=counts.get(TrialStatus.CACHED.value, 0),
                        stopped=counts.get(TrialStatus.STOPPED.value, 0),
                        best_reward=best.reward if best else None,
                        best_summary=best.summary if best else "", elapsed=elapsed, eta=eta,
                        last_event=event)

    def summary(self) -> SearchOutcome:
        best = self.store.best()
        return SearchOutcome(
            run_path=self.run.path, counts=self.store.counts(),
            best_reward=best.reward if best else None,
            best_trial=best.trial_id if best else None,
            seconds=self.elapsed(),
            strategy_updates=len(self.store.strategy_updates()),
            extra={"driver_seconds": self.phases.seconds,
                   # the strategy ran dry before the trials asked for (a grid that is done)
                   **({"proposed_nothing_more": self._proposed_nothing_more}
                      if self._proposed_nothing_more else {})})


def child_summary(architecture: Architecture, searched_train: tuple[str, ...]) -> str:
    """A child's one-line summary: its layers, the pooling and the training settings the
    space searches, each only where the child uses it (a head fitted in closed form reads no
    learning rate; nothing pools the vector a final MiniRocket gives)."""
    form = effective_form(architecture)
    if architecture.pooling is not None and "pooling" not in form:
        architecture = replace(architecture, pooling=None)
    used = form.get("train", {})
    return describe(architecture, tuple(k for k in searched_train if k in used))


def check_trials(trials: int, *, key: str = "--trials") -> int:
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise UserInputError(f"{trials!r} is not a positive number of trials", key=key)
    return trials


__all__ = ["ExecutionSettings", "Progress", "SearchLoop", "SearchOutcome", "Told", "check_trials",
           "child_seed"]
