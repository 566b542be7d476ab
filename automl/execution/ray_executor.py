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
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automl.errors import UserInputError
from automl.execution.base import Outcome
from automl.execution.early_stop import RayPruner
from automl.execution.settings import ExecutionSettings
from automl.execution.settings import resource_shortfalls
from automl.execution.shipping import ShippedPluginTrainer
from automl.execution.shipping import stage_plugins
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


_INIT_OPTIONS: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.ERROR,
                                 "configure_logging": True, "include_dashboard": False}


def _join(address: str, **options: Any) -> None:
    """Join the cluster at ``address``; one that does not answer is a one-line error at once
    (Ray itself retries for minutes)."""
    import ray

    host, _, port = address.rpartition(":")
    if host and port.isdigit() and "://" not in address:  # a GCS host:port (not ray://)
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
        except OSError as exc:
            raise UserInputError(f"cannot reach the Ray cluster at {address!r} "
                                 f"({exc.strerror or type(exc).__name__}); start it with "
                                 "'ray start --head' or give its GCS address (host:port)",
                                 key="--address") from None
    try:
        ray.init(address=address, **_INIT_OPTIONS, **options)
    except ConnectionError as exc:
        raise UserInputError(f"cannot join the Ray cluster at {address!r}: "
                             f"{str(exc).splitlines()[0][:200] if str(exc) else 'no answer'}",
                             key="--address") from None


def cluster_resources(address: str) -> dict[str, float]:
    """The resources of the Ray cluster at ``address`` as they are now (joins, reads, leaves;
    an autoscaling cluster may grow later)."""
    import ray

    if ray.is_initialized():
        return dict(ray.cluster_resources())
    _join(address)
    try:
        return dict(ray.cluster_resources())
    finally:
        ray.shutdown()


@dataclass
class _Slot:
    actor: Any = None
    done: int = 0
    trial_id: int | None = None
    ref: Any = None
    ready: Any = None  # a new actor's ping; the child's clock starts when it answers
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
        self._trainer_args: tuple[Any, ...] = ()
        self._staging: str | None = None
        self._short = False
        self._clock_zero = time.monotonic()

    # ------------------------------------------------------------------ lifecycle
    @property
    def started(self) -> bool:
        return self._actor_class is not None

    def start(self) -> None:
        plugins: Any = self._plugin_paths
        trainer: type = ChildTrainer
        if not _ray_initialized():
            if self.settings.address is None:
                start_local_ray(**{k: v for k, v in _INIT_OPTIONS.items()
                                   if k != "include_dashboard"})
            else:
                runtime_env: dict[str, Any] = {}
                if self._plugin_paths:  # other nodes lack the driver's paths: ship the files
                    self._staging = tempfile.mkdtemp(prefix="automl-plugins-")
                    plugins, root = stage_plugins(self._plugin_paths, Path(self._staging))
                    runtime_env["py_modules"] = [str(root)]
                    trainer = ShippedPluginTrainer
                try:
                    _join(self.settings.address, runtime_env=runtime_env or None)
                except BaseException:
                    self._remove_staging()
                    raise
            self._started_ray = True
        elif self.settings.address is not None and self._plugin_paths:
            logging.getLogger("automl.cluster").warning(
                "Ray was joined before the search began, so the plugin files are not shipped "
                "with the job; every node must have them at %s", ", ".join(self._plugin_paths))
        import ray

        try:
            self._check_resources(ray.cluster_resources())
        except BaseException:
            self.shutdown()
            raise
        self._data_ref = ray.put(self._data)
        threads = max(1, math.floor(self.settings.cpus_per_trial))
        self._trainer_args = (self._data_ref, self._task_name, plugins, threads)
        self._actor_class = ray.remote(
            num_cpus=self.settings.cpus_per_trial, num_gpus=self.settings.gpus_per_trial,
            # No runtime_env of its own: Ray can then host the actor in a worker process it
            # started in advance (a runtime_env needs a fresh one, about 0.8 s more per
            # worker); the trainer quiets TensorFlow and sizes its threads itself.
            max_restarts=0, max_concurrency=1,
        )(trainer)
        if self._scheduler is not None:
            self.pruner = RayPruner(self._scheduler)

    def warm_up(self) -> None:
        """Start every worker now, before the first child: their start-up (a process,
        TensorFlow, the plugins; several seconds) then overlaps with what the driver does
        meanwhile, such as a one-shot phase. A child's clock still starts when its worker
        answers."""
        for slot in self._slots:
            if slot.actor is None:
                slot.actor = self._actor_class.remote(*self._trainer_args)
                slot.done = 0
                slot.ready = slot.actor.ping.remote()

    def _check_resources(self, resources: dict[str, float]) -> None:
        """Too few CPUs or GPUs for ``workers`` children at once: refused on a local instance
        (it cannot grow); on a cluster joined with ``--address`` a warning, since an
        autoscaling cluster starts small and adds nodes when children wait for them."""
        short = resource_shortfalls(self.settings, resources, "the Ray cluster")
        if short and self.settings.address is None:
            flag, text = short[0]
            raise UserInputError(text, key=flag)
        if short:
            self._short = True
            logging.getLogger("automl.cluster").warning(
                "%s now; children wait until the cluster has room (an autoscaler adds nodes "
                "for them)", "; ".join(text for _, text in short))

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
        self._remove_staging()

    def _remove_staging(self) -> None:
        if self._staging is not None:
            shutil.rmtree(self._staging, ignore_errors=True)
            self._staging = None

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
        slot.trial_id = trial_id
        slot.attempts += 1
        slot.started = time.monotonic()
        if slot.actor is None or slot.done >= self.settings.recycle_after:
            self._kill(slot)
            slot.actor = self._actor_class.remote(*self._trainer_args)
            slot.done = 0
            # the actor may wait for resources and then starts up (TensorFlow, plugins): the
            # child's clock starts when it answers, just before it trains
            slot.ready = slot.actor.ping.remote()
        slot.ref = slot.actor.train.remote(*slot.job)

    def _kill(self, slot: _Slot) -> None:
        import ray

        if slot.actor is not None:
            ray.kill(slot.actor, no_restart=True)
            slot.actor = None
        slot.ready = None

    def wait(self, timeout: float = 1.0) -> list[Outcome]:
        """Return the trials that finished (or failed for good) within ``timeout`` seconds
        (sooner, and perhaps none, when a new worker becomes ready)."""
        import ray

        busy = [slot for slot in self._slots if slot.trial_id is not None]
        if not busy:
            return []
        self._make_room(busy)
        waiting = [slot.ready for slot in busy if slot.ready is not None]
        ready, _ = ray.wait([slot.ref for slot in busy] + waiting, num_returns=1,
                            timeout=timeout)
        ready_ids = {ref.hex() for ref in ready}
        if ready:  # collect everything else that is done too, without waiting
            refs = [slot.ref for slot in busy] + waiting
            more, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
            ready_ids |= {ref.hex() for ref in more}
        outcomes: list[Outcome] = []
        now = time.monotonic()
        for slot in busy:
            if slot.ready is not None and slot.ready.hex() in ready_ids:
                slot.ready, slot.started = None, now  # the worker is up: the child trains now
            if slot.ref.hex() in ready_ids:
                outcome = self._collect(slot)
                if outcome is not None:
                    outcomes.append(outcome)
            elif (self.settings.trial_timeout is not None and slot.ready is None
                  and now - slot.started > self.settings.trial_timeout):
                self._kill(slot)
                outcomes.append(self._release(slot, {
                    "ok": False,
                    "error": f"timed out after {self.settings.trial_timeout:g} s "
                             "(--trial-timeout); the worker was ended"}))
        return outcomes

    def _make_room(self, busy: list[_Slot]) -> None:
        """On a cluster too small for every worker, end the idle workers while a child waits
        for resources: the loop has nothing for them now (it fills free slots before it
        waits), and they would hold the CPUs or GPUs the waiting child needs until the end."""
        if self._short and any(slot.ready is not None for slot in busy):
            for slot in self._slots:
                if slot.trial_id is None and slot.actor is not None:
                    self._kill(slot)

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
