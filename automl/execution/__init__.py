"""Execution on Ray (the only package that imports ray)."""

from automl.execution.ray_executor import ExecutionSettings
from automl.execution.ray_executor import Outcome
from automl.execution.ray_executor import RayExecutor
from automl.execution.ray_executor import default_workers

__all__ = ["ExecutionSettings", "Outcome", "RayExecutor", "default_workers"]
