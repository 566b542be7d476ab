"""Plugin registries: layer types, tasks, rewards and strategies, looked up by name.

Only this package knows how extensions are found. ``ensure_builtins()`` registers the built-in
layer types, tasks, rewards and strategies through the same door plugins use;
:func:`~automl.registry.discovery.discover` then adds installed packages (entry point group
``automl.plugins``) and the plugin files a user names. Every object is checked against its
kind's contract when it is registered (see ``docs/plugins.md``). This package is the ground
floor: it imports nothing of automl but ``errors`` (an import-linter contract checks it).
"""

from __future__ import annotations

import importlib
from typing import Any

from automl.registry._registry import Entry
from automl.registry._registry import Registry
from automl.registry.discovery import discover

# Each kind's contract lives beside its class; named here as data, imported on first use.
LAYERS: Registry[Any] = Registry("layer", "automl.builder.layer_type:check_layer")
TASKS: Registry[Any] = Registry("task", "automl.tasks.task:check_task")
REWARDS: Registry[Any] = Registry("reward", "automl.training.rewards:check_reward")
STRATEGIES: Registry[Any] = Registry("strategy", "automl.strategies.base:check_strategy")

REGISTRIES: dict[str, Registry[Any]] = {
    "layer": LAYERS,
    "task": TASKS,
    "reward": REWARDS,
    "strategy": STRATEGIES,
}

_BUILTIN_MODULES = (
    "automl.builder.layers",
    "automl.tasks.builtin",
    "automl.training.rewards",
    "automl.strategies.builtin",
)
_builtins_loaded = False


def ensure_builtins() -> None:
    """Register the built-ins once (cheap: no TensorFlow import happens here)."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)

__all__ = ["Entry", "Registry", "LAYERS", "TASKS", "REWARDS", "STRATEGIES", "REGISTRIES",
           "discover", "ensure_builtins"]
