"""Children trained in this process, one at a time, without Ray.

The same :class:`~automl.execution.worker.ChildTrainer` a Ray actor wraps trains each child, so a
search run here stores the same results as one on Ray; only placement, parallelism, retries and
timeouts are missing (a child that crashes the interpreter takes the search with it, and
``trial_timeout`` cannot interrupt a child training in the caller's thread). Tests use it to run
real searches without starting Ray.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from automl.execution.base import Outcome
from automl.execution.early_stop import LocalPruner
from automl.execution.worker import ChildTrainer
from automl.schedulers import SchedulerConfig


class InProcessExecutor:
    """Trains one child at a time in the calling process (an
    :class:`~automl.execution.base.Executor`).

    The child is trained when the loop waits for it, not when it is submitted, so the loop has
    stored the trial as running before training starts (as it has on Ray).

    Args:
        data: The task's loaded dataset.
        task_name: Registered task, for its worker-side ``prepare``.
        plugin_paths: Plugin files or folders the trainer loads (already loaded by the driver,
            so this costs nothing).
        scheduler: Early stopping (``--scheduler``); its pruner runs here and each child asks
            it after every epoch.

    Example:
        >>> executor = InProcessExecutor(data, task_name="digits")  # doctest: +SKIP
        >>> executor.start(); executor.submit(0, architecture.to_json(), seed=1)  # doctest: +SKIP
        >>> [outcome] = executor.wait()  # doctest: +SKIP
    """

    def __init__(self, data: Any, *, task_name: str | None, plugin_paths: Sequence[str] = (),
                 scheduler: SchedulerConfig | None = None):
        self._data = data
        self.pruner = LocalPruner(scheduler) if scheduler is not None else None
        self._task_name = task_name
        self._plugin_paths = list(plugin_paths)
        self._trainer: ChildTrainer | None = None
        self._job: tuple[int, str, int, int, Mapping[str, Any] | None, Any] | None = None
        self._clock_zero = time.monotonic()

    @property
    def started(self) -> bool:
        return self._trainer is not None

    def start(self) -> None:
        self._trainer = ChildTrainer(self._data, self._task_name, self._plugin_paths,
                                     own_process=False)

    def shutdown(self) -> None:
        self._trainer = None
        self._job = None

    def now(self) -> float:
        """Wall-clock seconds since this executor was made."""
        return time.monotonic() - self._clock_zero

    @property
    def free_slots(self) -> int:
        return 0 if self._job is not None else 1

    @property
    def running(self) -> list[int]:
        return [self._job[0]] if self._job is not None else []

    def submit(self, trial_id: int, architecture_json: str, seed: int, attempts: int = 0,
               model_out: Mapping[str, Any] | None = None) -> None:
        if self._job is not None:
            raise RuntimeError(f"trial {self._job[0]} is still in flight; the in-process "
                               "executor runs one child at a time")
        stop = self.pruner.stop_for(trial_id) if self.pruner is not None else None
        self._job = (trial_id, architecture_json, seed, attempts + 1, model_out, stop)

    def wait(self, timeout: float = 1.0) -> list[Outcome]:
        """Train the submitted child now (``timeout`` does not apply) and return it."""
        if self._job is None:
            return []
        if self._trainer is None:
            self.start()
        assert self._trainer is not None
        trial_id, architecture_json, seed, attempts, model_out, stop = self._job
        try:
            result = self._trainer.train(architecture_json, seed, model_out, stop)
        finally:
            self._job = None
        return [Outcome(trial_id, result, attempts)]
