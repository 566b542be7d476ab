"""The search's pruner where every worker can ask it: in this process, or in one Ray actor.

:class:`~automl.schedulers.EpochPruner` holds Optuna's early-stopping state. The in-process
executor keeps it here and calls it directly; the Ray executor puts it in a small actor
(``num_cpus=0``, so it takes no worker's CPU) and each child's per-epoch callback asks that
actor (one round trip per epoch, about a millisecond). The driver tells it how each child ended
and, on resume, replays the store into it, through the same methods either way.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from automl.schedulers import EpochPruner
from automl.schedulers import SchedulerConfig

logger = logging.getLogger(__name__)

EpochStop = Callable[[int, Mapping[str, float]], bool]
"""A child's per-epoch question: ``stop(epoch, metrics) -> keep training?``."""


class LocalPruner:
    """The pruner in this process (in-process executor)."""

    def __init__(self, config: SchedulerConfig):
        self._pruner = EpochPruner(config)

    def stop_for(self, trial_id: int) -> EpochStop:
        return functools.partial(self._pruner.report, trial_id)

    def finish(self, trial_id: int, status: str) -> list[dict[str, float]]:
        return self._pruner.finish(trial_id, status)

    def replay(self, trials: Iterable[tuple[int, str, list[Mapping[str, float]]]]) -> int:
        return self._pruner.replay(trials)

    def shutdown(self) -> None:
        """Nothing to release."""


class RemoteStop:
    """A child's callback on a Ray worker: asks the pruner actor (picklable: a handle and a
    trial id)."""

    def __init__(self, actor: Any, trial_id: int):
        self.actor = actor
        self.trial_id = trial_id

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        import ray

        return bool(ray.get(self.actor.report.remote(self.trial_id, epoch, dict(metrics))))


class RayPruner:
    """The pruner in one Ray actor, started with the executor and ended with it."""

    def __init__(self, config: SchedulerConfig):
        import ray

        self._actor = ray.remote(num_cpus=0, max_restarts=0)(EpochPruner).remote(config)

    def stop_for(self, trial_id: int) -> EpochStop:
        return RemoteStop(self._actor, trial_id)

    def finish(self, trial_id: int, status: str) -> list[dict[str, float]]:
        import ray

        return list(ray.get(self._actor.finish.remote(trial_id, status)))

    def replay(self, trials: Iterable[tuple[int, str, list[Mapping[str, float]]]]) -> int:
        import ray

        return int(ray.get(self._actor.replay.remote(
            [(t, s, [dict(e) for e in epochs]) for t, s, epochs in trials])))

    def shutdown(self) -> None:
        import ray

        if self._actor is not None and ray.is_initialized():
            ray.kill(self._actor, no_restart=True)
        self._actor = None


__all__ = ["EpochStop", "LocalPruner", "RayPruner", "RemoteStop"]
