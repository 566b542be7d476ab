"""The executor a search's settings name (one place that knows every implementation)."""

from __future__ import annotations

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


__all__ = ["create_executor"]
