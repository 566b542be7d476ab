"""Running children: the :class:`Executor` contract and its implementations.

``RayExecutor`` trains children on Ray actors (this package holds the only code that imports
``ray``); ``InProcessExecutor`` trains them one at a time in this process with the same trainer;
``TableExecutor`` looks them up in a benchmark table with simulated training time. Importing
this package imports neither Ray nor TensorFlow.
"""

from automl.execution.base import Executor
from automl.execution.base import Outcome
from automl.execution.factory import create_executor
from automl.execution.factory import default_workers
from automl.execution.in_process import InProcessExecutor
from automl.execution.ray_executor import RayExecutor
from automl.execution.settings import EXECUTORS
from automl.execution.settings import ExecutionSettings
from automl.execution.settings import check_execution
from automl.execution.table_executor import TableExecutor

__all__ = ["EXECUTORS", "ExecutionSettings", "Executor", "InProcessExecutor", "Outcome",
           "RayExecutor", "TableExecutor", "check_execution", "create_executor",
           "default_workers"]
