"""The executor a search's settings name (one place that knows every implementation)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from automl.execution.base import Executor
from automl.execution.settings import ExecutionSettings
from automl.execution.settings import check_execution


def create_executor(settings: ExecutionSettings, data: Any, *, task_name: str | None,
                    plugin_paths: Sequence[str] = ()) -> Executor:
    """The executor ``settings.executor`` names, not yet started.

    Args:
        settings: Validated by :func:`check_execution`.
        data: The task's loaded dataset, handed to every trainer.
        task_name: Registered task, for its worker-side ``prepare``.
        plugin_paths: Plugin files or folders a trainer loads.
    """
    check_execution(settings)
    if settings.executor == "in_process":
        from automl.execution.in_process import InProcessExecutor

        return InProcessExecutor(data, task_name=task_name, plugin_paths=plugin_paths)
    from automl.execution.ray_executor import RayExecutor

    return RayExecutor(settings, data, task_name=task_name, plugin_paths=plugin_paths)


__all__ = ["create_executor"]
