"""A real plugin package, pip-installed into the running environment: `automl plugins list`
shows its layer, task and reward, and a search on Ray uses all three in its children."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from automl.registry import LAYERS
from automl.registry import REWARDS
from automl.registry import TASKS
from automl.registry import discovery
from tests.plugins.conftest import ROOT
from tests.plugins.conftest import install
from tests.plugins.conftest import uninstall
from tests.plugins.conftest import write

# Both tests share one install: in two xdist processes, each process's module fixture would
# pip-install and uninstall the same package in the one environment, and one process's
# uninstall could land between the other's install and its entry-point scan (seen once in CI:
# 'unknown layer demo_scaled'). The Ray group, which the search test needs, holds both.
pytestmark = pytest.mark.xdist_group("ray")

DIST = "automl-testplugin-demo"
VERSION = "0.3.1"

PYPROJECT = f"""
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{DIST}"
version = "{VERSION}"
requires-python = ">=3.11"

[project.entry-points."automl.plugins"]
demo = "automl_testplugin_demo"

[tool.setuptools]
py-modules = ["automl_testplugin_demo"]
"""

MODULE = '''
"""A layer, a task and a reward, registered on import."""

import numpy as np

from automl.builder import LayerType
from automl.registry import LAYERS
from automl.registry import REWARDS
from automl.registry import TASKS
from automl.space import Param
from automl.tasks import Dataset
from automl.tasks import Task
from automl.tasks import split_indices


def build(x, params, context):
    import keras

    y = keras.layers.Dense(params["units"], activation="relu")(x)
    return keras.layers.Rescaling(params["scale"])(y)


LAYERS.register("demo_scaled", LayerType(
    "demo_scaled", build,
    {"units": Param(int, min=1, default=8), "scale": Param(float, min=0.0, default=1.0)},
    accepts="vector", label=lambda p: f"DemoScaled({p['units']}x{p['scale']})"))


@TASKS.register("demo_blobs")
class DemoBlobs(Task):
    params = {"per_class": Param(int, min=5, default=30)}
    default_reward = "demo_penalised"

    def load(self, params, *, base_dir, seed):
        rng = np.random.default_rng(seed)
        y = np.repeat(np.arange(3), params["per_class"]).astype(np.int64)
        x = (rng.normal(size=(3, 6))[y] * 3 + rng.normal(size=(len(y), 6))).astype(np.float32)
        train, val, test = split_indices(len(y), seed, labels=y)
        return Dataset(x[train], y[train], x[val], y[val], x[test], y[test], n_outputs=3)


@REWARDS.register("demo_penalised")
def demo_penalised(metrics, facts, *, penalty=0.5):
    """Accuracy minus penalty per 10,000 parameters."""
    return metrics["accuracy"] - penalty * facts["params"] / 1e4
'''

SPACE = """
task: {name: demo_blobs, per_class: 30}
reward: {name: demo_penalised, penalty: 0.25}
layers:
  min: 1
  max: 2
  types:
    demo_scaled: {units: [4, 8], scale: [0.5, 1.0]}
train: {batch_size: 32, epochs: 1}
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("package") / DIST
    write(folder / "pyproject.toml", PYPROJECT)
    write(folder / "automl_testplugin_demo.py", MODULE)
    install(folder)
    try:
        discovery.discover(refresh=True)  # this process: pick up the new entry point
        yield folder
    finally:
        uninstall(DIST)
        for record in discovery.plugin_records():
            if record.source == DIST:
                discovery.forget(record)


def test_list_shows_the_installed_layer_task_and_reward(installed: Path, tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "automl", "plugins", "list", "--format",
                             "json"], cwd=tmp_path, text=True, capture_output=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    rows = {(r["kind"], r["name"]): r for r in json.loads(result.stdout)}
    for key in (("layer", "demo_scaled"), ("task", "demo_blobs"), ("reward", "demo_penalised")):
        row = rows[key]
        assert (row["source"], row["version"], row["origin"], row["status"]) == (
            DIST, VERSION, "entry point", "ok"), row
    assert rows[("reward", "demo_penalised")]["doc"] == "Accuracy minus penalty per 10,000 " \
                                                         "parameters."
    # in this process too, attributed to the distribution
    assert LAYERS.entry("demo_scaled").source == DIST
    assert TASKS.entry("demo_blobs").version == VERSION and "demo_penalised" in REWARDS


@pytest.mark.slow
def test_search_on_ray_uses_the_plugin_in_its_children(installed: Path, tmp_path: Path,
                                                       ray_instance: object) -> None:
    from automl.engine import run_search
    from automl.execution import ExecutionSettings
    from automl.store import TrialStatus
    from automl.store import TrialStore

    space = tmp_path / "demo.yaml"
    space.write_text(SPACE)
    outcome = run_search(space, trials=2, seed=0, name="demo", runs_dir=tmp_path / "runs",
                         execution=ExecutionSettings(workers=2))
    trials = TrialStore(outcome.run_path / "trials.sqlite", readonly=True).trials()
    assert len(trials) == 2
    complete = [t for t in trials if t.status == TrialStatus.COMPLETE]
    assert complete, [t.error for t in trials]
    for trial in complete:
        assert trial.summary.startswith("DemoScaled("), trial.summary  # the plugin layer
        # the reward is the plugin's formula on the child's own metrics and size
        expected = trial.metrics["accuracy"] - 0.25 * trial.params / 1e4
        assert trial.reward == pytest.approx(expected, abs=1e-12)
