"""Architectures that differ only in decisions their child never uses are one child to the
search: MiniRocket alone ignores the pooling and the learning rate; a child that trains after
it does not. A search does not train such a child twice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from automl.space import Architecture
from automl.training.equivalence import effective_form
from automl.training.equivalence import equivalence_key

ROCKET = {"type": "minirocket", "features": 84, "max_dilations": 32}
FCN = {"type": "fcn_block", "filters": 8, "kernel_size": 3}


def _arch(layers: list[dict], pooling: str = "avg", learning_rate: float = 1e-3,
          class_weight: str = "none") -> Architecture:
    return Architecture(tuple(layers), {"optimizer": "adam", "learning_rate": learning_rate,
                                        "epochs": 5, "class_weight": class_weight},
                        pooling=pooling)


def test_minirocket_alone_ignores_pooling_and_gradient_settings() -> None:
    keys = {equivalence_key(_arch([ROCKET], pooling, lr))
            for pooling in ("avg", "max", "attention") for lr in (1e-3, 3e-3)}
    assert len(keys) == 1
    form = effective_form(_arch([ROCKET], "max", 3e-3))
    assert "pooling" not in form and form["train"] == {"class_weight": "none"}
    # What the closed-form head still reads keeps children apart.
    assert equivalence_key(_arch([ROCKET], class_weight="balanced")) not in keys


@pytest.mark.parametrize("layers, merged", [
    ([ROCKET, FCN], False),  # the convolution after MiniRocket trains and its sequence pools
    ([FCN], False),
    ([FCN, ROCKET], True),  # MiniRocket freezes the convolution below it; nothing pools
    ([ROCKET, ROCKET], True),  # the first gives the second 84 steps; nothing pools
])
def test_decisions_count_unless_the_last_layer_is_frozen_and_returns_a_vector(
        layers: list[dict], merged: bool) -> None:
    first = _arch(layers)
    others = (_arch(layers, "max"), _arch(layers, "avg", 3e-3))
    assert all((equivalence_key(first) == equivalence_key(o)) is merged for o in others)
    if not merged:
        assert equivalence_key(first) == first.id


def test_a_frozen_layer_that_returns_a_sequence_keeps_the_training_settings() -> None:
    """Its sequence is pooled after it (attention pooling has weights to train), so neither
    the pooling nor the learning rate can be dropped."""
    from automl.builder import LayerType

    frozen_seq = LayerType("frozen_seq", lambda x, p, c: x, accepts="sequence", frozen=True)
    lookup = {"frozen_seq": frozen_seq}.get
    layers = [{"type": "frozen_seq"}]
    first = _arch(layers)
    assert equivalence_key(first, lookup) == first.id
    assert equivalence_key(_arch(layers, "max", 3e-3), lookup) != first.id


def test_unknown_layer_types_merge_nothing() -> None:
    plain = _arch([{"type": "not_registered_anywhere", "units": 3}])
    assert equivalence_key(plain) == plain.id


@pytest.mark.slow
def test_a_search_trains_an_equivalent_child_once(tmp_path: Path) -> None:
    """Four architectures of one child: the first trial trains it, the second is answered
    from the store (cached from the first), whatever pooling and learning rate it names."""
    from automl.engine import run_search
    from automl.execution import ExecutionSettings
    from automl.store import TrialStatus
    from automl.store import TrialStore

    rng = np.random.default_rng(0)
    y = rng.integers(2, size=60)
    t = np.arange(32) / 32
    x = np.sin(2 * np.pi * (2 + 3 * y[:, None]) * t + rng.uniform(0, 6, size=(60, 1)))
    np.savez(tmp_path / "waves.npz", x=x[..., None].astype(np.float32), y=y)
    (tmp_path / "space.yaml").write_text(
        "name: rocket\ntask: {name: arrays, path: waves.npz}\n"
        "layers: {min: 1, max: 1, types: {minirocket: {features: 84}}, pooling: [avg, max]}\n"
        "train: {epochs: 2, learning_rate: [0.001, 0.003]}\n")
    outcome = run_search(tmp_path / "space.yaml", trials=3, seed=0, name="rocket",
                         runs_dir=tmp_path / "runs",
                         execution=ExecutionSettings(executor="in_process", keep_best=0))
    trials = TrialStore(outcome.run_path / "trials.sqlite", readonly=True).trials()
    assert [t.status for t in trials] == [TrialStatus.COMPLETE] + [TrialStatus.CACHED] * 2
    assert all(t.cached_from == 0 and t.reward == trials[0].reward for t in trials[1:])
