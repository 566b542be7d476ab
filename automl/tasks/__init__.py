"""Tasks: the data a child trains on, its head and its default reward."""

from automl.tasks.task import Dataset
from automl.tasks.task import Task
from automl.tasks.task import split_indices

__all__ = ["Dataset", "Task", "split_indices"]
