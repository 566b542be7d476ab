"""automl: architecture search for deep learning on signals.

The public API mirrors the CLI::

    import automl

    space = automl.load_space("search_spaces/quickstart.yaml")
    outcome = automl.run_search(space, strategy="reinforce", trials=20,
                                execution=automl.ExecutionSettings(workers=2))
    frame = automl.trials_dataframe(outcome.run_path)
    automl.resume_search(outcome.run_path, trials=40)

Heavy modules (TensorFlow, Ray) load only when a search starts.
"""

from __future__ import annotations

import importlib
from typing import Any

from automl._version import __version__

_LAZY = {
    "load_space": "automl.space",
    "SearchSpace": "automl.space",
    "Architecture": "automl.space",
    "run_search": "automl.engine",
    "resume_search": "automl.engine",
    "run_one_shot": "automl.engine.one_shot_api",
    "resume_one_shot": "automl.engine.one_shot_api",
    "OneShotSettings": "automl.engine.one_shot",
    "export_model": "automl.engine",
    "export_ensemble": "automl.engine",
    "load_run_data": "automl.engine",
    "render_report": "automl.report",
    "ExecutionSettings": "automl.execution",
    "load_trials": "automl.report",
    "trials_dataframe": "automl.report",
    "leaderboard_rows": "automl.report",
    "create_strategy": "automl.strategies",
    "Strategy": "automl.strategies",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'automl' has no attribute {name!r}")


__all__ = [*_LAZY, "__version__"]

from automl import envs as _envs  # noqa: E402,F401  (registers "automl/Architecture-v0" with gymnasium)
