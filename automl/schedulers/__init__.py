"""Early stopping of children at epoch rungs (``--scheduler asha | hyperband``).

The algorithms are Optuna's (``SuccessiveHalvingPruner``, ``HyperbandPruner``) on an in-memory
study that lives with the driver (in process, or in one small Ray actor); children ask it after
every epoch through the trainer's ``EpochReport`` path. Nothing here imports Ray or TensorFlow.
"""

from automl.schedulers.pruner import SCHEDULERS
from automl.schedulers.pruner import EpochPruner
from automl.schedulers.pruner import SchedulerConfig
from automl.schedulers.pruner import check_scheduler
from automl.schedulers.pruner import scheduler_config

__all__ = ["SCHEDULERS", "EpochPruner", "SchedulerConfig", "check_scheduler",
           "scheduler_config"]
