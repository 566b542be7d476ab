"""Execution on Ray (the only package that imports ray)."""

from automl.execution.ray_executor import ExecutionSettings
from automl.execution.ray_executor import Outcome
from automl.execution.ray_executor import RayExecutor

__all__ = ["ExecutionSettings", "Outcome", "RayExecutor"]
