"""Workers let TensorFlow grow into their GPU share; the driver's controllers use no GPU.

This machine has no GPU, so TensorFlow's device API is replaced by a recorder that lists two
(fake) GPUs: the test checks what automl asks TensorFlow to do, not what a GPU does.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from automl.space import load_space
from automl.tf_devices import enable_memory_growth
from automl.tf_devices import hide_gpus
from tests.conftest import SPACES


class FakeTensorFlow:
    """``tf.config`` with two GPUs; ``initialised`` makes every setter raise as TF does."""

    def __init__(self, initialised: bool = False):
        self.calls: list[tuple] = []
        gpus = [SimpleNamespace(name="/physical_device:GPU:0"),
                SimpleNamespace(name="/physical_device:GPU:1")]

        def guard(*call):
            if initialised:
                raise RuntimeError("Physical devices cannot be modified after being initialized")
            self.calls.append(call)

        self.config = SimpleNamespace(
            list_physical_devices=lambda kind: gpus if kind == "GPU" else [],
            set_visible_devices=lambda devices, kind: guard("visible", tuple(devices), kind),
            experimental=SimpleNamespace(
                set_memory_growth=lambda gpu, on: guard("growth", gpu.name, on)))


def test_workers_turn_on_memory_growth_for_every_gpu() -> None:
    tf = FakeTensorFlow()
    assert enable_memory_growth(tf) == ["/physical_device:GPU:0", "/physical_device:GPU:1"]
    assert tf.calls == [("growth", "/physical_device:GPU:0", True),
                        ("growth", "/physical_device:GPU:1", True)]
    assert enable_memory_growth(FakeTensorFlow(initialised=True)) == []  # too late: a warning


def test_the_driver_hides_every_gpu() -> None:
    tf = FakeTensorFlow()
    assert hide_gpus(tf) and tf.calls == [("visible", (), "GPU")]
    assert not hide_gpus(FakeTensorFlow(initialised=True))


@pytest.mark.parametrize("name", ["reinforce", "dqn"])
def test_learning_strategies_hide_gpus_before_building_networks(
        name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    from automl.strategies import create_strategy

    module = importlib.import_module(f"automl.strategies.{name}")
    seen = []
    monkeypatch.setattr(module, "hide_gpus", lambda tf: seen.append(tf.config) or True)
    create_strategy(name, load_space(SPACES / "lecture_dense.yaml"), seed=0)
    assert len(seen) == 1
