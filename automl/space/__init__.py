"""Search spaces: YAML -> validated SearchSpace, the decision process, and Architecture."""

from automl.space._loader import FOLDS_AUTO
from automl.space._loader import METRIC_REWARDS
from automl.space._loader import TRAIN_PARAMS
from automl.space._loader import VALIDATION_METRICS
from automl.space._loader import load_space
from automl.space._loader import parse_space
from automl.space._space import Decision
from automl.space._space import RewardSetting
from automl.space._space import SearchSpace
from automl.space._space import TaskSetting
from automl.space.architecture import ARCH_ID_LENGTH
from automl.space.architecture import Architecture
from automl.space.params import Param

__all__ = ["ARCH_ID_LENGTH", "FOLDS_AUTO", "METRIC_REWARDS", "Architecture", "Decision", "Param",
           "RewardSetting", "SearchSpace", "TaskSetting", "TRAIN_PARAMS", "VALIDATION_METRICS",
           "load_space", "parse_space"]
