"""Ray execution: start or join a cluster, keep ``workers`` trainer actors busy, retry children
whose worker died, end children that hang, recycle worker processes. The only module that
imports ``ray``.

Why Ray core actors and not Ray Tune: the run store and the strategy checkpoint are the source of
truth for resume (a resumed search replays stored results into the strategy), so Tune's own
experiment state would be a second copy to keep consistent; a long-lived actor per worker slot
imports TensorFlow once (Tune's default of a fresh process per trial was 3.5x slower here) and
we recycle it every N children, which ``reuse_actors`` cannot do; and the dataset is put in the
object store once per search. Resources, placement and fractional GPUs are Ray's own.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from automl.errors import UserInputError
from automl.execution.base import Outcome
from automl.execution.early_stop import RayPruner
from automl.execution.settings import ExecutionSettings
from automl.execution.worker import ChildTrainer
from automl.schedulers import SchedulerConfig

logger = logging.getLogger(__name__)


LOOPBACK_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Ray's switch for single-machine nodes: "0" makes the node's address the loopback one."""


def start_local_ray(**options: Any) -> None:
    """Start a Ray instance on this machine whose processes listen on 127.0.0.1 only.

    Given ``_node_ip_address="127.0.0.1"``, Ray swaps in the machine's routable address
    (``services.resolve_ip_for_localhost``) and its GCS, raylet and workers listen on every
    interface. With ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (its single-machine mode, the default
    on Windows and macOS) the node's address is the loopback one and every server binds to it.
    Ray reads the switch when it is first imported, so it is set before the import; an
    explicit value in the environment wins. Token authentication (Ray's default) stays on.
    """
    os.environ.setdefault(LOOPBACK_SWITCH, "0")
    import ray

    ray.init(include_dashboard=False, **options)
    if os.environ[LOOPBACK_SWITCH] == "0" and ray.util.get_node_ip_address() != "127.0.0.1":
        logger.warning(
            "Ray was imported before automl could keep it on 127.0.0.1; its processes may "
            "listen on every interface (token authentication still applies)")


def _ray_initialized() -> bool:
    ray = sys.modules.get("ray")
    return ray is not None and ray.is_initialized()


@dataclass
class _Slot:
    actor: Any = None
    done: int = 0
    trial_id: int | None = None
    ref: Any = None
    started: float = 0.0
    job: tuple[str, int, Mapping[str, Any] | None, Any] = ("", 0, None, None)
    attempts: int = 0


class RayExecutor:
    """Runs children on Ray actors, at most ``settings.workers`` at a time (an
    :class:`~automl.execution.base.Executor`)."""

    def __init__(self, settings: ExecutionSettings, data: Any, *, task_name: str | None,
                 plugin_paths: Sequence[str] = (), scheduler: SchedulerConfig | None = None):
        self.settings = settings
        self._scheduler = scheduler
        self.pruner: RayPruner | None = None  # early stopping: one small actor (early_stop.py)
        self._data = data
        self._task_name = task_name
        self._plugin_paths = list(plugin_paths)
        self._slots = [_Slot() for _ in range(settings.workers)]
        self._started_ray = False
        self._data_ref: Any = None
        self._actor_class: Any = None
        self._clock_zero = time.monotonic()

    # ------------------------------------------------------------------ lifecycle
    @property
    def started(self) -> bool:
        return self._actor_class is not None

    def start(self) -> None:
        if not _ray_initialized():
            options = {"log_to_driver": False, "logging_level": logging.ERROR,
                       "configure_logging": True}
            if self.settings.address is None:
                start_local_ray(**options)  # imports ray after setting its loopback switch
            else:
                import ray

                ray.init(address=self.settings.address, include_dashboard=False, **options)
            self._started_ray = True
        import ray

        try:
            self._check_resources(ray.cluster_resources())
        except BaseException:
            self.shutdown()
            raise
        self._data_ref = ray.put(self._data)
        threads = max(1, math.floor(self.settings.cpus_per_trial))
        self._actor_class = ray.remote(
            num_cpus=self.settings.cpus_per_trial, num_gpus=self.settings.gpus_per_trial,
            max_restarts=0, max_concurrency=1,
            runtime_env={"env_vars": {"TF_CPP_MIN_LOG_LEVEL": "2",
                                      "OMP_NUM_THREADS": str(threads),
                                      "PYTHONWARNINGS": "ignore"}},
        )(ChildTrainer)
        if self._scheduler is not None:
            self.pruner = RayPruner(self._scheduler)

    def _check_resources(self, resources: dict[str, float]) -> None:
        need_cpu = self.settings.workers * self.settings.cpus_per_trial
        need_gpu = self.settings.workers * self.settings.gpus_per_trial
        have_cpu, have_gpu = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
        if need_cpu > have_cpu + 1e-9:
            raise UserInputError(
                f"{self.settings.workers} workers x {self.settings.cpus_per_trial} CPUs per "
                f"trial need {need_cpu:g} CPUs; the Ray cluster has {have_cpu:g}",
                key="--workers")
        if need_gpu > have_gpu + 1e-9:
            raise UserInputError(
                f"{self.settings.workers} workers x {self.settings.gpus_per_trial} GPUs per "
                f"trial need {need_gpu:g} GPUs; the Ray cluster has {have_gpu:g}",
                key="--gpus-per-trial")

    def shutdown(self) -> None:
        import ray

        for slot in self._slots:
            self._kill(slot)
        if self.pruner is not None:
            self.pruner.shutdown()
            self.pruner = None
        if self._started_ray and ray.is_initialized():
            ray.shutdown()
        self._started_ray = False
        self._actor_class = None

    def now(self) -> float:
        """Wall-clock seconds since this executor was made."""
        return time.monotonic() - self._clock_zero

    # ------------------------------------------------------------------ trials
    @property
    def free_slots(self) -> int:
        return sum(1 for slot in self._slots if slot.trial_id is None)

    @property
    def running(self) -> list[int]:
        return [slot.trial_id for slot in self._slots if slot.trial_id is not None]

    def submit(self, trial_id: int, architecture_json: str, seed: int, attempts: int = 0,
               model_out: Mapping[str, Any] | None = None) -> None:
        slot = next(slot for slot in self._slots if slot.trial_id is None)
        stop = self.pruner.stop_for(trial_id) if self.pruner is not None else None
        slot.job, slot.attempts = (architecture_json, seed, model_out, stop), attempts
        self._launch(slot, trial_id)

    def _launch(self, slot: _Slot, trial_id: int) -> None:
        if slot.actor is None or slot.done >= self.settings.recycle_after:
            self._kill(slot)
            slot.actor = self._actor_class.remote(
                self._data_ref, self._task_name, self._plugin_paths,
                max(1, math.floor(self.settings.cpus_per_trial)))
            slot.done = 0
        slot.trial_id = trial_id
        slot.attempts += 1
        slot.started = time.monotonic()
        slot.ref = slot.actor.train.remote(*slot.job)

    def _kill(self, slot: _Slot) -> None:
        import ray

        if slot.actor is not None:
            ray.kill(slot.actor, no_restart=True)
            slot.actor = None

    def wait(self, timeout: float = 1.0) -> list[Outcome]:
        """Return the trials that finished (or failed for good) within ``timeout`` seconds."""
        import ray

        busy = [slot for slot in self._slots if slot.trial_id is not None]
        if not busy:
            return []
        ready, _ = ray.wait([slot.ref for slot in busy], num_returns=1, timeout=timeout)
        ready_ids = {ref.hex() for ref in ready}
        if ready:  # collect everything else that is done too, without waiting
            more, _ = ray.wait([slot.ref for slot in busy], num_returns=len(busy), timeout=0)
            ready_ids |= {ref.hex() for ref in more}
        outcomes: list[Outcome] = []
        now = time.monotonic()
        for slot in busy:
            if slot.ref.hex() in ready_ids:
                outcome = self._collect(slot)
                if outcome is not None:
                    outcomes.append(outcome)
            elif (self.settings.trial_timeout is not None
                  and now - slot.started > self.settings.trial_timeout):
                self._kill(slot)
                outcomes.append(self._release(slot, {
                    "ok": False,
                    "error": f"timed out after {self.settings.trial_timeout:g} s "
                             "(--trial-timeout); the worker was ended"}))
        return outcomes

    def _collect(self, slot: _Slot) -> Outcome | None:
        import ray
        from ray.exceptions import RayActorError
        from ray.exceptions import RayTaskError

        try:
            result = ray.get(slot.ref)
            slot.done += 1
            return self._release(slot, result)
        except (RayActorError, RayTaskError, ray.exceptions.ObjectLostError) as exc:
            cause = _short_cause(exc)
            self._kill(slot)
            if slot.attempts <= self.settings.max_retries:
                logger.warning("trial %s: worker died (%s); retrying (attempt %d)",
                               slot.trial_id, cause, slot.attempts + 1)
                self._launch(slot, slot.trial_id)  # type: ignore[arg-type]
                return None
            return self._release(slot, {
                "ok": False, "error": f"worker died {slot.attempts} times; last cause: {cause}"})

    def _release(self, slot: _Slot, result: dict[str, Any]) -> Outcome:
        outcome = Outcome(slot.trial_id, result, slot.attempts)  # type: ignore[arg-type]
        slot.trial_id, slot.ref = None, None
        return outcome


def _short_cause(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    head = type(exc).__name__
    for line in text:
        if "exit" in line.lower() or "killed" in line.lower() or "memory" in line.lower():
            return f"{head}: {line.strip()[:300]}"
    return f"{head}: {text[0][:300]}" if text else head
