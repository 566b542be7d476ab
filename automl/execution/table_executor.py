"""Children looked up in a benchmark table, with simulated training time.

``automl bench`` runs the real search loop on this executor, so caching of repeated
architectures, failed children, batches and out-of-order results are the code of a real search,
and only training is replaced by a look-up. Time is simulated: a child "trains" for its row's
``seconds`` (0 when the table has none), ``workers`` children train at once, and :meth:`wait`
advances the clock to the next completion. With several workers, results therefore come back in
completion order, not in the order the children were asked for.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from typing import Any
from typing import Protocol

from automl.execution.base import Outcome
from automl.space import Architecture


class TableRowLike(Protocol):
    """What the executor reads from a row (:class:`automl.bench.TableRow`)."""

    @property
    def reward(self) -> float | None: ...

    @property
    def seconds(self) -> float | None: ...


class TableLike(Protocol):
    """What the executor needs of a table (:class:`automl.bench.Table`)."""

    @property
    def metric(self) -> str: ...

    def lookup(self, architecture: Architecture) -> TableRowLike: ...


class TableExecutor:
    """Looks children up in ``table`` instead of training them (an
    :class:`~automl.execution.base.Executor` with a simulated clock).

    A child submitted at simulated time ``t`` finishes at ``t + seconds``. :meth:`wait` moves
    the clock to the earliest finish and returns every child finishing then, by trial id (ties
    are common in a table without ``seconds``, where every child takes no time). A row with an
    empty reward comes back as a failed child. The result carries the table's reward as the
    metric named by ``table.metric``, which the bench's reward reads.

    Args:
        table: The benchmark table (its ``lookup`` raises for an architecture it lacks).
        workers: Children in flight at once (``automl bench --simulated-workers``).

    Example:
        >>> executor = TableExecutor(table, workers=3)  # doctest: +SKIP
        >>> executor.submit(0, architecture.to_json(), seed=0)  # doctest: +SKIP
        >>> executor.wait()[0].result["train_seconds"] == executor.now()  # doctest: +SKIP
        True
    """

    def __init__(self, table: TableLike, *, workers: int = 1):
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self.table = table
        self.workers = workers
        self._clock = 0.0
        self._in_flight: list[tuple[float, int, Outcome]] = []
        self._started = False

    @property
    def started(self) -> bool:
        return self._started

    def start(self) -> None:
        self._started = True

    def shutdown(self) -> None:
        self._in_flight.clear()
        self._started = False

    def now(self) -> float:
        """Simulated seconds since the first child was submitted."""
        return self._clock

    @property
    def free_slots(self) -> int:
        return self.workers - len(self._in_flight)

    @property
    def running(self) -> list[int]:
        return [trial_id for _, trial_id, _ in self._in_flight]

    def submit(self, trial_id: int, architecture_json: str, seed: int, attempts: int = 0,
               model_out: Mapping[str, Any] | None = None) -> None:
        """Look the child up; ``model_out`` is ignored (a table has no weights to keep)."""
        if not self.free_slots:
            raise RuntimeError(f"all {self.workers} simulated workers are busy")
        row = self.table.lookup(Architecture.from_json(architecture_json))
        seconds = row.seconds or 0.0
        if row.reward is None:
            result = {"ok": False, "train_seconds": seconds,
                      "error": f"the table records this child as failed (empty "
                               f"{self.table.metric!r})"}
        else:
            result = {"ok": True, "metrics": {self.table.metric: row.reward},
                      "test_metrics": {}, "params": None, "train_seconds": seconds}
        finish = self._clock + seconds
        heapq.heappush(self._in_flight, (finish, trial_id, Outcome(trial_id, result,
                                                                   attempts + 1)))

    def wait(self, timeout: float = 1.0) -> list[Outcome]:
        """Advance the clock to the next completion and return the children finishing then
        (``timeout`` is wall time and does not apply)."""
        if not self._in_flight:
            return []
        finish = self._in_flight[0][0]
        self._clock = max(self._clock, finish)
        done: list[Outcome] = []
        while self._in_flight and self._in_flight[0][0] == finish:
            done.append(heapq.heappop(self._in_flight)[2])
        return done


__all__ = ["TableExecutor", "TableLike", "TableRowLike"]
