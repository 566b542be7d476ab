"""The search loop: wires the space, a strategy, the run store and the executor (like Optuna's
Study, it is the only place that knows all four).

Every event is persisted the moment it happens, in this order: the trial's result (one
transaction, with its place ``told_seq`` in the order results were told), then ``tell``, then the
strategy checkpoint. A kill at any point therefore resumes exactly: the checkpoint says up to which
``told_seq`` the strategy has seen, later results are replayed into it, and trials that were
running are rerun with the same architecture.
"""

from __future__ import annotations

import collections
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from automl.errors import SearchAbortedError
from automl.errors import UserInputError
from automl.execution import ExecutionSettings
from automl.execution import Outcome
from automl.space import Architecture
from automl.space import SearchSpace
from automl.store import RunFolder
from automl.store import TrialStatus
from automl.store import TrialStore
from automl.store import load_checkpoint
from automl.store import save_checkpoint
from automl.strategies import Strategy
from automl.strategies import StrategyState
from automl.training.rewards import compute_reward

logger = logging.getLogger("automl.search")


@dataclass
class Progress:
    """What a progress display shows; sent after every event."""

    run: str
    total: int
    done: int = 0
    running: int = 0
    failed: int = 0
    cached: int = 0
    best_reward: float | None = None
    best_summary: str = ""
    elapsed: float = 0.0
    eta: float | None = None
    last_event: str = ""


@dataclass
class SearchOutcome:
    """Summary of a finished (or stopped) search."""

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
    """Runs one search to ``trials`` finished trials (complete, failed or cached)."""

    def __init__(self, run: RunFolder, space: SearchSpace, strategy: Strategy,
                 executor: Any, *, trials: int, seed: int, reward_name: str,
                 reward_params: dict[str, Any], max_consecutive_failures: int = 10,
                 on_progress: Callable[[Progress], None] | None = None):
        self.run = run
        self.space = space
        self.strategy = strategy
        self.executor = executor
        self.trials = trials
        self.seed = seed
        self.reward_name = reward_name
        self.reward_params = reward_params
        self.max_consecutive_failures = max_consecutive_failures
        self.on_progress = on_progress
        self.store = TrialStore(run.db_path)
        self._started = time.monotonic()
        self._consecutive_failures: collections.deque[str] = collections.deque()
        self._architectures: dict[int, Architecture] = {}
        self._told_seq = self.store.max_told_seq()
        self._done_at_start = self._finished_count()

    # ------------------------------------------------------------------ resume
    def restore_strategy(self) -> int:
        """Load the last checkpoint and replay results told after it; returns replay count."""
        checkpointed = 0
        if self.run.checkpoint_path.exists():
            state = load_checkpoint(self.run.checkpoint_path)
            checkpointed = int(state.meta.pop("__told_seq__", 0))
            self.strategy.load_state_dict(StrategyState(state.meta["strategy"], state.arrays))
        replay = sorted((t for t in self.store.trials() if t.told_seq and
                         t.told_seq > checkpointed), key=lambda t: t.told_seq or 0)
        for record in replay:
            self.strategy.tell(record.trial_id, record.arch, record.reward)
            self._record_update(record.told_seq or 0)
        if replay:
            self._checkpoint()
        return len(replay)

    # ------------------------------------------------------------------ the loop
    def run_loop(self) -> SearchOutcome:
        requeue = [t for t in self.store.trials()
                   if t.status in (TrialStatus.RUNNING, TrialStatus.PENDING)]
        next_id = self.store.max_trial_id() + 1
        self.store.set_meta("trials_requested", self.trials)
        try:
            while True:
                finished = self._finished_count()
                running = len(self.executor.running)
                if finished >= self.trials and running == 0:
                    break
                while self.executor.free_slots and finished + running < self.trials:
                    if requeue:
                        record = requeue.pop(0)
                        self._submit(record.trial_id, record.arch, record.attempts,
                                     new=False)
                    else:
                        architecture = self.strategy.ask(next_id)
                        if architecture is None:
                            break
                        if not self._reuse_cached(next_id, architecture):
                            self._submit(next_id, architecture, 0, new=True)
                        next_id += 1
                    finished = self._finished_count()
                    running = len(self.executor.running)
                if not self.executor.running:
                    if self._finished_count() >= self.trials:
                        break
                    raise RuntimeError(f"strategy {type(self.strategy).__name__} proposed "
                                       "nothing while no child was running")
                for outcome in self.executor.wait(timeout=0.5):
                    self._finish(outcome)
                self._emit("")
        finally:
            self.executor.shutdown()
        return self.summary()

    def _finished_count(self) -> int:
        counts = self.store.counts()
        return sum(counts.get(s.value, 0) for s in TrialStatus if s.is_finished())

    def _submit(self, trial_id: int, architecture: Architecture, attempts: int,
                *, new: bool) -> None:
        if new:
            self.store.add_trial(trial_id, architecture, status=TrialStatus.RUNNING)
        else:
            self.store.mark_running(trial_id, attempts)
        self._architectures[trial_id] = architecture
        self.executor.submit(trial_id, architecture.to_json(), child_seed(self.seed, trial_id),
                             attempts=attempts)
        self._emit(f"trial {trial_id} started: {architecture.summary()}")

    def _reuse_cached(self, trial_id: int, architecture: Architecture) -> bool:
        """An architecture already trained in this run is not trained again."""
        earlier = self.store.completed_result(architecture.id)
        if earlier is None:
            return False
        self.store.add_trial(trial_id, architecture, status=TrialStatus.PENDING)
        self._told_seq += 1
        self.store.finish_trial(trial_id, status=TrialStatus.CACHED, reward=earlier.reward,
                                metrics=earlier.metrics, test_metrics=earlier.test_metrics,
                                params=earlier.params, train_seconds=0.0,
                                cached_from=earlier.trial_id, told_seq=self._told_seq)
        self._tell(trial_id, architecture, earlier.reward)
        self._emit(f"trial {trial_id} cached from trial {earlier.trial_id}")
        return True

    def _finish(self, outcome: Outcome) -> None:
        result = outcome.result
        architecture = self._architectures.pop(outcome.trial_id)
        reward: float | None = None
        error = result.get("error")
        if result.get("ok"):
            facts = {"params": result["params"], "train_seconds": result["train_seconds"]}
            try:
                reward = compute_reward(self.reward_name, self.reward_params, result["metrics"],
                                        facts)
            except Exception as exc:  # noqa: BLE001 (a reward plugin's error fails one trial)
                error = f"reward {self.reward_name!r} failed: {exc}"
            if reward is not None and not math.isfinite(reward):
                error, reward = f"reward is {reward}", None
        status = TrialStatus.COMPLETE if reward is not None else TrialStatus.FAILED
        self._told_seq += 1
        self.store.finish_trial(
            outcome.trial_id, status=status, reward=reward, metrics=result.get("metrics"),
            test_metrics=result.get("test_metrics"), params=result.get("params"),
            train_seconds=result.get("train_seconds"), host=result.get("host"),
            node=result.get("node"), gpus=result.get("gpus"), error=error,
            attempts=outcome.attempts, epochs=result.get("epochs"), told_seq=self._told_seq)
        self._tell(outcome.trial_id, architecture, reward)
        if status == TrialStatus.FAILED:
            logger.warning("trial %d failed: %s", outcome.trial_id, error)
            self._consecutive_failures.append((error or "").splitlines()[0] if error else "")
            self._emit(f"trial {outcome.trial_id} failed: {(error or '').splitlines()[0][:120]}")
            if len(self._consecutive_failures) >= self.max_consecutive_failures:
                common, count = collections.Counter(self._consecutive_failures).most_common(1)[0]
                raise SearchAbortedError(
                    f"{len(self._consecutive_failures)} trials failed in a row; most common "
                    f"error ({count}x): {common}. Fix the cause, then resume the run.")
        else:
            self._consecutive_failures.clear()
            self._emit(f"trial {outcome.trial_id} reward {reward:.4f}: {architecture.summary()}")

    def _tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        self.strategy.tell(trial_id, architecture, reward)
        self._record_update(self._told_seq)
        self._checkpoint()

    def _record_update(self, told_seq: int) -> None:
        stats = self.strategy.progress()
        if stats:
            self.store.add_strategy_update(told_seq, stats)

    def _checkpoint(self) -> None:
        state = self.strategy.state_dict()
        meta = {"strategy": state.meta, "__told_seq__": self._told_seq}
        save_checkpoint(self.run.checkpoint_path, StrategyState(meta, state.arrays))

    # ------------------------------------------------------------------ reporting
    def _emit(self, event: str) -> None:
        if event:
            logger.info(event)
        if self.on_progress is None:
            return
        self.on_progress(self.progress(event))

    def progress(self, event: str = "") -> Progress:
        counts = self.store.counts()
        done = sum(counts.get(s.value, 0) for s in TrialStatus if s.is_finished())
        best = self.store.best()
        elapsed = time.monotonic() - self._started
        new_done = max(done - self._done_at_start, 0)
        eta = elapsed / new_done * (self.trials - done) if new_done else None
        return Progress(run=self.run.name, total=self.trials, done=done,
                        running=len(self.executor.running),
                        failed=counts.get(TrialStatus.FAILED.value, 0),
                        cached=counts.get(TrialStatus.CACHED.value, 0),
                        best_reward=best.reward if best else None,
                        best_summary=best.summary if best else "", elapsed=elapsed, eta=eta,
                        last_event=event)

    def summary(self) -> SearchOutcome:
        best = self.store.best()
        return SearchOutcome(
            run_path=self.run.path, counts=self.store.counts(),
            best_reward=best.reward if best else None,
            best_trial=best.trial_id if best else None,
            seconds=time.monotonic() - self._started,
            strategy_updates=len(self.store.strategy_updates()))


def check_trials(trials: int, *, key: str = "--trials") -> int:
    if not isinstance(trials, int) or isinstance(trials, bool) or trials < 1:
        raise UserInputError(f"{trials!r} is not a positive number of trials", key=key)
    return trials


__all__ = ["ExecutionSettings", "Progress", "SearchLoop", "SearchOutcome", "check_trials",
           "child_seed"]
