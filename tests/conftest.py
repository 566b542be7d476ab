"""Shared fixtures: one local Ray instance per test session, tiny spaces, a runs folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # before any import of ray
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
SPACES = ROOT / "search_spaces"

TINY_DIGITS = """
name: tiny
task: digits
reward: accuracy
trials: 4
layers:
  min: 1
  max: 2
  types:
    dense:
      units: [8, 16]
      activation: [relu, tanh]
train:
  learning_rate: [0.01, 0.003]
  batch_size: 128
  epochs: 2
"""


@pytest.fixture(scope="session")
def ray_instance():
    """A real local Ray instance shared by every test that trains children on Ray."""
    import ray

    from automl.execution.ray_executor import start_local_ray

    if not ray.is_initialized():
        start_local_ray(num_cpus=2, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


@pytest.fixture()
def tiny_space_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_DIGITS)
    return path


@pytest.fixture()
def runs_dir(tmp_path: Path) -> Path:
    return tmp_path / "runs"


TINY_TABLE_SECONDS = {0: 4.0, 1: 1.0, 2: 2.0, 3: 1.0, 4: 3.0, 5: 2.0}
"""Training time of architecture x of :func:`tiny_table`; x = 5 failed (its reward is empty)."""


def tiny_table(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A six-row benchmark table (reward x / 10, x = 5 failed) with known training times."""
    from automl.bench import load_table
    from automl.bench import row_for
    from automl.bench import write_table
    from automl.space import load_space

    path = tmp_path / "tiny.yaml"
    path.write_text("name: tiny\ndecisions:\n  x: [0, 1, 2, 3, 4, 5]\n")
    space = load_space(path)
    rows = [row_for(a, {"reward": None if a.flat["x"] == 5 else a.flat["x"] / 10,
                        "seconds": TINY_TABLE_SECONDS[a.flat["x"]]}) for a in space.enumerate()]
    return load_table(write_table(tmp_path / "tiny.csv", rows, space=space), space)


@pytest.hookimpl(tryfirst=True)  # the markers must exist before xdist's hook reads them
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The README's test command runs two pytest-xdist processes (``--dist loadgroup``): every
    test that uses the shared Ray instance (:func:`ray_instance`) or starts Ray of its own (the
    ``ray`` marker) goes to one of them, in order, so the session still has one such instance
    at a time; every other test, slow or quick, is spread over both meanwhile.

    Slow tests that train in-process or on a table used to join the Ray group too; the group
    then was the whole critical path (about 650 s of a 659 s run, the two cores busy 55 % of
    the time). Spread over both processes, the same session measured 593 s (Ray group 578 s);
    a later run of the suite 548 s, and the CI run of a clean clone 552 s (634 s in all). As
    tests were added the Ray group became the critical path again (609 s); a test that needs
    no Ray for what it checks trains in process instead (tests/engine/
    test_learning_strategies_e2e.py: 39 s in the group, 17 s beside it), and the suite measured
    520 s (Ray group 447 s of test time, the rest 555 s).

    Two things keep the grouping real: this hook runs first (``tryfirst``; xdist's own hook
    turns the markers into the ``@ray`` suffix of the node id that its scheduler groups by),
    and pytest stays below 9 (pyproject's test extra): pytest 9 derives the node id from a
    field that pytest-xdist 3.8 does not set, so every group is silently ignored and each
    xdist process starts its own Ray instance."""
    for item in items:
        if "ray_instance" in getattr(item, "fixturenames", ()) or item.get_closest_marker("ray"):
            item.add_marker(pytest.mark.xdist_group("ray"))
