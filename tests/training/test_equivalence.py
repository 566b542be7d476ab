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


def test_a_frozen_layer_that_returns_a_sequence_keeps_its_pooling() -> None:
    """Its sequence is pooled after it, so the pooling counts; under average or max pooling
    nothing trains below the head and the learning rate does not count, under attention
    pooling (which has weights to train) it does."""
    from automl.builder import LayerType

    frozen_seq = LayerType("frozen_seq", lambda x, p, c: x, accepts="sequence", frozen=True)
    lookup = {"frozen_seq": frozen_seq}.get
    layers = [{"type": "frozen_seq"}]
    avg = equivalence_key(_arch(layers), lookup)
    assert equivalence_key(_arch(layers, "avg", 3e-3), lookup) == avg
    assert equivalence_key(_arch(layers, "max"), lookup) != avg
    attention = _arch(layers, "attention")
    assert equivalence_key(attention, lookup) == attention.id
    assert equivalence_key(_arch(layers, "attention", 3e-3), lookup) != attention.id


DROP = {"type": "dropout", "rate": 0.1}
DROP3 = {"type": "dropout", "rate": 0.3}
DENSE = {"type": "dense", "units": 16, "activation": "relu"}
POOL2 = {"type": "max_pool1d", "pool_size": 2}
POOL4 = {"type": "max_pool1d", "pool_size": 4}


@pytest.mark.parametrize("first, second, merged", [
    # nothing trains below the head: dropout is the identity there, gradient settings unused
    (([DROP], None, 1e-3), ([DROP3, DROP3], None, 3e-3), True),
    (([POOL2, DROP], "avg", 1e-3), ([POOL2], "avg", 3e-3), True),
    (([POOL2], "avg", 1e-3), ([POOL4], "avg", 1e-3), False),  # pooling changes the features
    (([POOL2], "attention", 1e-3), ([POOL2, DROP], "attention", 1e-3), False),  # it trains
    (([DENSE, DROP], None, 1e-3), ([DENSE, DROP3], None, 1e-3), False),  # dropout trains it
    (([DENSE], None, 1e-3), ([DENSE], None, 3e-3), False),
])
def test_a_body_with_nothing_to_train_merges_its_dropout_and_gradient_settings(
        first: tuple, second: tuple, merged: bool) -> None:
    a, b = (_arch(layers, pooling, lr) for layers, pooling, lr in (first, second))
    assert (equivalence_key(a) == equivalence_key(b)) is merged


@pytest.mark.parametrize("layers, pooling, shape", [
    ([DROP], None, (8,)), ([DROP, DROP3], None, (8,)), ([], None, (8,)),
    ([DENSE, DROP], None, (8,)), ([{"type": "batch_norm"}], None, (8,)),
    ([POOL2, DROP], "avg", (16, 1)), ([POOL2], "last", (16, 1)), ([POOL2], "attention", (16, 1)),
    ([{"type": "avg_pool1d", "pool_size": 2}, FCN], "max", (16, 1)),
])
def test_the_rule_agrees_with_the_trainer(layers: list[dict], pooling: str | None,
                                          shape: tuple[int, ...]) -> None:
    """The declarations of the built-in layer types say what the built child does: the
    gradient settings are dropped exactly when the trainer fits the head in closed form."""
    from automl.builder.build import ModelSpec
    from automl.builder.build import build_model
    from automl.training.closed_form import has_fixed_body

    architecture = _arch(layers, pooling or "avg")
    if pooling is None:
        architecture = Architecture(architecture.layers, architecture.train)
    model = build_model(architecture, ModelSpec(shape, n_outputs=3))
    dropped = "learning_rate" not in effective_form(architecture)["train"]
    assert dropped is has_fixed_body(model)


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
