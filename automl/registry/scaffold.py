'''Scaffold a pip-installable plugin package (``automl plugins new NAME --kind KIND``).

The package declares its module in the ``automl.plugins`` entry-point group, so installing it is
all it takes for every automl command (and every Ray worker) to find it. It comes with a test
that passes as generated and shows how to check the plugin without running a search.
'''

from __future__ import annotations

import keyword
from pathlib import Path

from automl.errors import PluginError
from automl.errors import allowed

KINDS = ("layer", "task", "reward", "strategy")

PYPROJECT = '''\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "automl plugin: the {kind} '{name}'"
requires-python = ">=3.11"
dependencies = ["automl"]

# Installing the package is enough: every automl command and Ray worker loads this module.
[project.entry-points."automl.plugins"]
{name} = "{module}"

[tool.setuptools]
py-modules = ["{module}"]
'''

README = '''\
# {dist}

An automl plugin that registers the {kind} `{name}`.

```bash
pip install -e .                 # automl now finds it (entry point group "automl.plugins")
automl plugins list              # shows {kind} '{name}' with this package as its source
python -m pytest -q tests        # the plugin's own test
```

See automl's docs/plugins.md for the {kind} contract.
'''

LAYER = '''\
"""The layer type '{name}': a dense layer with a residual connection when the widths match.

Parameters are declared with Param, so a space that asks for a value outside them is refused
before anything trains. Keras is imported inside build(): discovery must stay cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl.builder import BuildContext
from automl.builder import LayerType
from automl.registry import LAYERS
from automl.space import Param

__version__ = "0.1.0"


def build(x: Any, params: Mapping[str, Any], context: BuildContext) -> Any:
    import keras

    y = keras.layers.Dense(params["units"], activation=params["activation"])(x)
    if params["residual"] and int(x.shape[-1]) == params["units"]:
        y = keras.layers.Add()([x, y])
    return y


LAYERS.register("{name}", LayerType(
    "{name}",
    build,
    {{
        "units": Param(int, min=1, max=4096, default=64, doc="number of units"),
        "activation": Param(str, choices=("relu", "tanh", "gelu"), default="relu",
                            doc="activation function"),
        "residual": Param(bool, default=True, doc="add the input when the widths match"),
    }},
    accepts="vector",
    label=lambda p: f"{name}({{p['units']}},{{p['activation']}})",
    doc="dense layer with an optional residual connection",
))
'''

LAYER_TEST = '''\
"""The plugin is found through its entry point, validates in a space, and builds."""

from pathlib import Path

from automl.registry import LAYERS
from automl.registry.discovery import discover
from automl.space import parse_space

discover()  # load installed plugins the way every automl command does


def test_registered_by_this_package() -> None:
    assert LAYERS.entry("{name}").source == "{dist}"


def test_space_validates_its_parameters() -> None:
    space = parse_space({{"task": "digits", "layers": {{"types": {{"{name}": {{
        "units": [16, 32], "activation": ["relu", "tanh"]}}}}}}}},
        source_name="test", base_dir=Path("."))
    assert space.size() == 4


def test_builds_a_vector() -> None:
    import keras

    from automl.builder import BuildContext

    layer = LAYERS.get("{name}")
    x = keras.Input(shape=(16,))
    params = {{"units": 16, "activation": "relu", "residual": True}}
    y = layer.build(x, params, BuildContext(index=0, next_accepts="vector"))
    assert tuple(y.shape) == (None, 16)
'''

TASK = '''\
"""The task '{name}': Gaussian blobs, one per class, generated with the split seed.

Replace load() with your data loading: it runs once in the driver, so raise DataError (with the
file as source) for missing or malformed data and the search stops before anything trains.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from automl.errors import DataError
from automl.registry import TASKS
from automl.space import Param
from automl.tasks import Dataset
from automl.tasks import Task
from automl.tasks import split_indices

__version__ = "0.1.0"


@TASKS.register("{name}")
class {cls}(Task):
    """Classes are Gaussian blobs in `features` dimensions; `noise` sets their spread."""

    params = {{
        "classes": Param(int, min=2, max=100, default=3, doc="number of classes"),
        "features": Param(int, min=1, max=4096, default=8, doc="input features"),
        "per_class": Param(int, min=5, max=100_000, default=60, doc="examples per class"),
        "noise": Param(float, min=0.0, max=100.0, default=1.0, doc="spread of each blob"),
    }}
    output = "classification"
    default_reward = "accuracy"
    doc = "Gaussian blobs, one per class (a template task)"

    def load(self, params: Mapping[str, Any], *, base_dir: Path, seed: int) -> Dataset:
        classes, features = params["classes"], params["features"]
        per_class, noise = params["per_class"], params["noise"]
        if per_class * classes < 10:
            raise DataError("need at least 10 examples", key="task.per_class")
        rng = np.random.default_rng(seed)
        centres = rng.normal(0.0, 3.0, size=(classes, features))
        y = np.repeat(np.arange(classes), per_class).astype(np.int64)
        x = (centres[y] + rng.normal(0.0, noise, size=(len(y), features))).astype(np.float32)
        train, val, test = split_indices(len(y), seed, labels=y)
        return Dataset(x[train], y[train], x[val], y[val], x[test], y[test],
                       output="classification", n_outputs=classes)
'''

TASK_TEST = '''\
"""The plugin is found through its entry point and loads a well-formed dataset."""

from pathlib import Path

from automl.registry import TASKS
from automl.registry.discovery import discover
from automl.space import parse_space

discover()


def test_registered_by_this_package() -> None:
    assert TASKS.entry("{name}").source == "{dist}"


def test_load_gives_seeded_splits() -> None:
    task = TASKS.get("{name}")
    params = {{"classes": 3, "features": 4, "per_class": 20, "noise": 0.5}}
    data = task.load(params, base_dir=Path("."), seed=0)
    assert data.input_shape == (4,) and data.n_outputs == 3
    assert len(data.x_train) + len(data.x_val) + len(data.x_test) == 60
    again = task.load(params, base_dir=Path("."), seed=0)
    assert (again.x_train == data.x_train).all()


def test_a_list_makes_a_task_parameter_a_decision() -> None:
    space = parse_space({{"task": {{"name": "{name}", "noise": [0.5, 2.0]}},
                         "layers": {{"types": {{"dense": {{"units": 8}}}}}}}},
                        source_name="test", base_dir=Path("."))
    assert space.task.searched == {{"noise": (0.5, 2.0)}}
'''

REWARD = '''\
"""The reward '{name}': a validation metric minus a penalty per second of training.

A reward runs in the driver on the child's validation metrics and model facts (``params``:
parameter count, ``train_seconds``). Keyword arguments with defaults are its parameters; a space
sets them under ``reward:``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl.registry import REWARDS

__version__ = "0.1.0"


@REWARDS.register("{name}")
def {func}(metrics: Mapping[str, float], facts: Mapping[str, Any], *, metric: str = "accuracy",
           seconds_weight: float = 0.001) -> float:
    """Validation metric minus seconds_weight per second of training."""
    return float(metrics[metric]) - seconds_weight * float(facts["train_seconds"])
'''

REWARD_TEST = '''\
"""The plugin is found through its entry point and computes the documented formula."""

import pytest

from automl.registry import REWARDS
from automl.registry.discovery import discover

discover()


def test_registered_by_this_package() -> None:
    assert REWARDS.entry("{name}").source == "{dist}"


def test_formula() -> None:
    reward = REWARDS.get("{name}")
    assert set(reward.params) == {{"metric", "seconds_weight"}}
    value = reward({{"accuracy": 0.9}}, {{"params": 1000, "train_seconds": 10.0}},
                   metric="accuracy", seconds_weight=0.01)
    assert value == pytest.approx(0.8)
'''

STRATEGY = '''\
"""The strategy '{name}': greedy hill climbing with random restarts.

Each ask mutates one decision of the best architecture seen so far, or samples at random with
probability `restart`. Results may arrive in any order, for trials this process never asked
(a resume replays stored results), and with reward None (a failed child).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from automl.registry import STRATEGIES
from automl.space import Architecture
from automl.strategies import Strategy
from automl.strategies import StrategyState

__version__ = "0.1.0"


@dataclass
class {cls}Settings:
    """Settings of the '{name}' strategy (the ``strategy:`` block of a space)."""

    restart: float = 0.2
    """Probability of a random architecture instead of a mutation of the best."""


@STRATEGIES.register("{name}")
class {cls}(Strategy):
    """Greedy hill climbing over the decision process."""

    Settings = {cls}Settings

    def __init__(self, space: Any, *, seed: int = 0, workers: int = 1, **settings: Any):
        super().__init__(space, seed=seed, workers=workers, **settings)
        self.best: tuple[dict[str, Any], float] | None = None

    def ask(self, trial_id: int) -> Architecture | None:
        if self.best is None or self.rng.random() < self.settings.restart:
            return self.space.sample(self.rng)
        # ALGO LOGIC: change one decision of the best architecture, keep the others.
        parent = self.space.from_flat(self.best[0])
        sequence = self.space.decisions_of(parent)
        if not sequence:
            return parent
        decision, index = sequence[int(self.rng.integers(len(sequence)))]
        others = [i for i in range(len(decision.choices)) if i != index]
        if not others:
            return parent
        chosen = {{decision.name: decision.choices[others[int(self.rng.integers(len(others)))]]}}
        old = parent.flat

        def choose(d: Any, _: dict[str, Any]) -> Any:
            if d.name in chosen:
                return chosen[d.name]
            if d.name in old and old[d.name] in d.choices:
                return old[d.name]
            return d.choices[int(self.rng.integers(len(d.choices)))]

        return self.space.decide(choose)

    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        if reward is None or not math.isfinite(reward):
            return
        if self.best is None or reward > self.best[1]:
            flat = {{d.name: d.choices[i] for d, i in self.space.decisions_of(architecture)}}
            self.best = (flat, float(reward))

    def state_dict(self) -> StrategyState:
        state = super().state_dict()
        state.meta["best"] = None if self.best is None else [self.best[0], self.best[1]]
        return state

    def load_state_dict(self, state: StrategyState) -> None:
        super().load_state_dict(state)
        best = state.meta.get("best")
        self.best = None if best is None else (dict(best[0]), float(best[1]))
'''

STRATEGY_TEST = '''\
"""The plugin is found through its entry point, learns, and resumes exactly."""

from pathlib import Path

from automl.registry import STRATEGIES
from automl.registry.discovery import discover
from automl.space import parse_space
from automl.strategies import create_strategy

discover()

SPACE = {{"task": "digits", "layers": {{"min": 1, "max": 3, "types": {{"dense": {{
    "units": [8, 16, 32, 64], "activation": ["relu", "tanh"]}}}}}}}}


def reward(architecture) -> float:
    return sum(layer["units"] for layer in architecture.layers) / 192


def test_registered_by_this_package() -> None:
    assert STRATEGIES.entry("{name}").source == "{dist}"


def test_improves_and_resumes_exactly() -> None:
    space = parse_space(SPACE, source_name="test", base_dir=Path("."))
    strategy = create_strategy("{name}", space, seed=0)
    for trial_id in range(30):
        architecture = strategy.ask(trial_id)
        strategy.tell(trial_id, architecture, reward(architecture))
    assert strategy.best[1] >= 0.5
    copy = create_strategy("{name}", space, seed=0)
    copy.load_state_dict(strategy.state_dict())
    assert [copy.ask(i).id for i in range(5)] == [strategy.ask(i).id for i in range(5)]
    strategy.tell(99, strategy.ask(99), None)  # a failed child is ignored
'''

TEMPLATES = {
    "layer": (LAYER, LAYER_TEST),
    "task": (TASK, TASK_TEST),
    "reward": (REWARD, REWARD_TEST),
    "strategy": (STRATEGY, STRATEGY_TEST),
}


def scaffold_plugin(name: str, kind: str, directory: str | Path = ".") -> list[Path]:
    """Write a plugin package for the ``kind`` named ``name`` into ``directory/automl-NAME``.

    Returns:
        The files written, the package folder first.

    Raises:
        PluginError: the name is not a lowercase identifier, the kind is unknown, the name is
            taken in this process, or the folder exists.
    """
    from automl.registry import REGISTRIES

    if kind not in KINDS:
        raise PluginError(f"unknown kind {kind!r}; allowed: {allowed(KINDS)}", key="--kind")
    if not name.isidentifier() or keyword.iskeyword(name) or name != name.lower():
        raise PluginError(f"{name!r} is not a lowercase Python identifier (letters, digits, "
                          "underscores)", key="NAME")
    if name in REGISTRIES[kind]:
        raise PluginError(f"{kind} {name!r} exists already (from "
                          f"{REGISTRIES[kind].entry(name).source}); choose another name",
                          key="NAME")
    dist = "automl-" + name.replace("_", "-")
    folder = Path(directory) / dist
    if folder.exists():
        raise PluginError("exists already; choose another name or --dir", source=str(folder))
    module = f"automl_{name}"
    words = {"name": name, "kind": kind, "dist": dist, "module": module,
             "cls": "".join(part.capitalize() for part in name.split("_")) or "Plugin",
             "func": name}
    source, test = TEMPLATES[kind]
    files = {
        folder / "pyproject.toml": PYPROJECT.format(**words),
        folder / "README.md": README.format(**words),
        folder / f"{module}.py": source.format(**words),
        folder / "tests" / f"test_{name}.py": test.format(**words),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return [folder, *files]
