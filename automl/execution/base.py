"""The executor contract: how the search loop runs children without knowing where they run.

The loop (:class:`automl.engine.search.SearchLoop`) hands an executor one child at a time and
collects finished ones; whether a child trains on a Ray actor (:class:`RayExecutor`), in this
process (:class:`InProcessExecutor`) or is looked up in a benchmark table with simulated
training time (:class:`TableExecutor`) is the executor's business. Like Optuna's storage and
sampler split, this keeps caching, failures, batching and out-of-order results in one loop,
whatever runs the children.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from typing import Protocol
from typing import runtime_checkable


@dataclass
class Outcome:
    """What came back for one trial.

    Attributes:
        trial_id: The trial the result belongs to.
        result: The worker's result dict: ``ok``; then ``metrics``, ``test_metrics``,
            ``params``, ``train_seconds``, ``epochs``, ``keras_summary``, the saved model
            (``model_file`` or ``model_bytes``, when asked for) and placement facts, or
            ``error`` text.
        attempts: Times the child was started (more than one after a worker died).
    """

    trial_id: int
    result: dict[str, Any]
    attempts: int


@runtime_checkable
class Executor(Protocol):
    """Runs children for the search loop, at most a fixed number at a time.

    Results may come back in any order; ``trial_id`` is the correlation key (as in Ray Tune's
    ``Searcher``). An executor never raises for a child's own error: the child comes back as
    ``Outcome(result={"ok": False, "error": ...})`` and the loop stores it as failed.

    An executor that stops children early (``--scheduler``) also has a ``pruner`` attribute
    (``automl.execution.early_stop``: ``finish(trial_id, status)``, ``replay(trials)``), which
    the loop tells how each child ended and rebuilds on resume; without one (``None`` or
    absent, as on a benchmark table) every child trains fully.

    An executor whose workers take long to start may have ``warm_up()``, which starts them
    before the first submit; the one-shot mode calls it so that they start while its phase
    trains (:class:`~automl.execution.ray_executor.RayExecutor` has one).
    """

    @property
    def started(self) -> bool:
        """Whether :meth:`start` has run (and :meth:`shutdown` has not)."""

    def start(self) -> None:
        """Acquire what children need (a Ray cluster, a trainer); may raise UserInputError."""

    @property
    def free_slots(self) -> int:
        """Children that can be submitted now."""

    @property
    def running(self) -> list[int]:
        """Trial ids of the children in flight."""

    def submit(self, trial_id: int, architecture_json: str, seed: int,
               attempts: int = 0, model_out: Mapping[str, Any] | None = None) -> None:
        """Start one child (``architecture_json`` is :meth:`Architecture.to_json`).

        ``model_out`` (``{"path", "host"}``) asks for the trained model: saved to ``path`` on
        the driver's host, else returned as ``model_bytes`` (see ``ChildTrainer.train``).
        """

    def wait(self, timeout: float = 1.0) -> list[Outcome]:
        """Children that finished within ``timeout`` seconds (possibly none), oldest first."""

    def shutdown(self) -> None:
        """Release everything; children still in flight are abandoned. Safe to call twice."""

    def now(self) -> float:
        """Seconds on the executor's clock: wall time, or simulated time for a table."""


__all__ = ["Executor", "Outcome"]
