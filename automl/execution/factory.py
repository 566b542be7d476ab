"""The executor a search's settings name, and how many workers it gets by default (one place
that knows every implementation)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

from automl.execution.base import Executor
from automl.execution.settings import ExecutionSettings
from automl.execution.settings import check_execution
from automl.schedulers import SchedulerConfig


def create_executor(settings: ExecutionSettings, data: Any, *, task_name: str | None,
                    plugin_paths: Sequence[str] = (),
                    scheduler: SchedulerConfig | None = None) -> Executor:
    """The executor ``settings.executor`` names, not yet started.

    Args:
        settings: Validated by :func:`check_execution`.
        data: The task's loaded dataset, handed to every trainer.
        task_name: Registered task, for its worker-side ``prepare``.
        plugin_paths: Plugin files or folders a trainer loads.
        scheduler: Early stopping of children (``settings.scheduler`` made concrete for the
            space: :func:`automl.schedulers.scheduler_config`); None: every child trains fully.
    """
    check_execution(settings)
    if settings.executor == "in_process":
        from automl.execution.in_process import InProcessExecutor

        return InProcessExecutor(data, task_name=task_name, plugin_paths=plugin_paths,
                                 scheduler=scheduler)
    from automl.execution.ray_executor import RayExecutor

    return RayExecutor(settings, data, task_name=task_name, plugin_paths=plugin_paths,
                       scheduler=scheduler)


def default_workers(cpus_per_trial: float, gpus_per_trial: float = 0.0,
                    address: str | None = None) -> int:
    """Children at once when ``--workers`` is not given: as many as the CPUs (and, when children
    use GPUs, the GPU shares) allow: this machine's, or with ``address`` the Ray cluster's as
    it is now (an autoscaling cluster that grows later is not counted; at least 1)."""
    if address is not None:
        from automl.execution.ray_executor import cluster_resources

        resources = cluster_resources(address)
        cpus, gpus = resources.get("CPU", 0.0), resources.get("GPU", 0.0)
    else:
        cpus, gpus = float(os.cpu_count() or 1), None
    workers = math.floor(cpus / max(cpus_per_trial, 1e-9) + 1e-9)
    if gpus_per_trial > 0:
        if gpus is None:
            try:
                import tensorflow as tf

                gpus = float(len(tf.config.list_physical_devices("GPU")))
            except Exception:  # noqa: BLE001
                gpus = 0.0
        workers = min(workers, math.floor(gpus / gpus_per_trial + 1e-9))
    return max(1, workers)


__all__ = ["create_executor", "default_workers"]
