"""How children are run (:class:`ExecutionSettings`, stored in ``run.json``); the executor these
settings choose is made by :func:`automl.execution.factory.create_executor`."""

from __future__ import annotations

from dataclasses import dataclass

from automl.errors import UserInputError
from automl.errors import allowed
from automl.errors import did_you_mean
from automl.schedulers import check_scheduler

EXECUTORS = ("ray", "in_process")
"""Executors that train children (a benchmark table's executor is made by ``automl bench``)."""


@dataclass
class ExecutionSettings:
    """How children are run.

    Attributes:
        workers: Children trained at once.
        cpus_per_trial: CPUs reserved per child (fractions allowed); TensorFlow uses as many
            threads.
        gpus_per_trial: GPUs per child; 0.5 lets two children share one GPU.
        address: Ray cluster to join (``auto`` or ``host:port``); None starts a local instance.
            Plugin files loaded by path travel to its nodes with the job (Ray's
            ``runtime_env`` ``py_modules``); too few resources there are a warning, not an
            error (an autoscaling cluster adds nodes).
        max_retries: Times a child is rerun after its worker process died.
        trial_timeout: Seconds of training after which a child is ended and stored as failed;
            None: never. The clock starts when the child's worker is up (waiting for
            resources and the worker's start-up do not count).
        recycle_after: Children per worker process before it is replaced (a bound on leaks).
        executor: ``ray`` (the default: one trainer actor per worker slot) or ``in_process``
            (children train one at a time in this process, without Ray: for tests, debugging
            and machines where Ray cannot start; Ray-only settings are ignored).
        keep_best: Trained models of the best K children kept as ``models/<trial>.keras``
            in the run folder (0: none).
        scheduler: Early stopping at epoch rungs: ``none`` (every child trains its
            ``train.epochs``), ``asha`` or ``hyperband`` (Optuna's pruners; see
            :mod:`automl.schedulers`). Stored, so a resume stops children the same way.
    """

    workers: int = 1
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    address: str | None = None
    max_retries: int = 2
    trial_timeout: float | None = None
    recycle_after: int = 100
    executor: str = "ray"
    scheduler: str = "none"
    keep_best: int = 3


def check_execution(settings: ExecutionSettings) -> ExecutionSettings:
    """Refuse an unknown executor, or in-process execution with more than one worker, before
    anything is written."""
    if settings.executor not in EXECUTORS:
        raise UserInputError(
            f"unknown executor {settings.executor!r}"
            f"{did_you_mean(settings.executor, EXECUTORS)}; allowed: {allowed(EXECUTORS)}",
            key="executor")
    if (not isinstance(settings.keep_best, int) or isinstance(settings.keep_best, bool)
            or settings.keep_best < 0):
        raise UserInputError(f"keep_best must be a non-negative integer; got "
                             f"{settings.keep_best!r}", key="--keep-best")
    check_scheduler(settings.scheduler)
    if settings.executor == "in_process" and settings.workers != 1:
        raise UserInputError(
            f"the in_process executor trains one child at a time; got workers="
            f"{settings.workers} (use workers=1, or the ray executor)", key="workers")
    _check_local_cpus(settings)
    return settings


def _check_local_cpus(settings: ExecutionSettings) -> None:
    """A local Ray instance gets at most this machine's CPUs: too many workers are refused here,
    before the strategy, the data and Ray start (seconds). The executor checks again with the
    count Ray reports (lower under a container's CPU quota), and a cluster joined with
    ``--address``, or a Ray instance already running in this process, only there."""
    import os
    import sys

    ray = sys.modules.get("ray")
    if (settings.executor != "ray" or settings.address is not None
            or (ray is not None and ray.is_initialized())):
        return
    short = resource_shortfalls(settings, {"CPU": float(os.cpu_count() or 1),
                                           "GPU": float("inf")}, "this machine")
    if short:
        flag, text = short[0]
        raise UserInputError(text, key=flag)


def resource_shortfalls(settings: ExecutionSettings, resources: dict[str, float],
                        where: str) -> list[tuple[str, str]]:
    """(flag, one-line text) for each of CPUs and GPUs that ``workers`` children at once need
    more of than ``resources`` (what ``where`` has) holds."""
    short = []
    for what, per_trial, flag in (("CPU", settings.cpus_per_trial, "--workers"),
                                  ("GPU", settings.gpus_per_trial, "--gpus-per-trial")):
        need, have = settings.workers * per_trial, resources.get(what, 0.0)
        if need > have + 1e-9:
            short.append((flag, f"{settings.workers} workers x {per_trial:g} {what}s per trial "
                                f"need {need:g} {what}s; {where} has {have:g}"))
    return short


__all__ = ["EXECUTORS", "ExecutionSettings", "check_execution", "resource_shortfalls"]
