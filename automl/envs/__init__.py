"""Gymnasium environments over search spaces.

Importing this package (which ``import automl`` does) registers ``automl/Architecture-v0``, so
``gymnasium.make("automl/Architecture-v0", space="search_spaces/quickstart.yaml")`` works.
"""

import gymnasium

from automl.envs.architecture_env import ArchitectureEnv
from automl.envs.architecture_env import MaskedDiscrete
from automl.envs.architecture_env import Trajectory

ENV_ID = "automl/Architecture-v0"

if ENV_ID not in gymnasium.registry:  # a reload must not register twice (gymnasium warns)
    gymnasium.register(id=ENV_ID, entry_point="automl.envs.architecture_env:ArchitectureEnv")

__all__ = ["ENV_ID", "ArchitectureEnv", "MaskedDiscrete", "Trajectory"]
