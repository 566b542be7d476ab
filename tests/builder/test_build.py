"""The builder: every built-in layer type (the time-series blocks included) builds and trains a
step; every pooling builds; every shipped space's samples build; the sequence/vector/image
conversion rule."""

from __future__ import annotations

import numpy as np
import pytest

from automl.builder import ModelSpec
from automl.builder import build_model
from automl.builder.layers import BUILTIN_LAYERS
from automl.space import Architecture
from automl.space import load_space
from tests.conftest import SPACES

SPECS = {
    "vector": ModelSpec((64,), "classification", 10, image_shape=(8, 8, 1)),
    "sequence": ModelSpec((12, 5), "classification", 3),
    "image": ModelSpec((8, 8, 1), "regression", 2),
}


def _params(layer_type) -> dict:
    return {name: param.default for name, param in layer_type.params.items()}


@pytest.mark.parametrize("layer_type", BUILTIN_LAYERS, ids=lambda t: t.name)
@pytest.mark.parametrize("kind", sorted(SPECS))
def test_every_layer_type_builds_and_trains_one_step(layer_type, kind: str) -> None:
    spec = SPECS[kind]
    params = _params(layer_type)
    if "units" in params:
        params["units"] = 4
    if "filters" in params:
        params["filters"] = 4
    layers = ({"type": layer_type.name, **params}, {"type": "dense", "units": 3,
                                                    "activation": "relu"})
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, *spec.input_shape)).astype("float32")
    model = build_model(Architecture(layers, {"epochs": 1}), spec, examples=x)
    model.compile("adam", "sparse_categorical_crossentropy" if spec.output == "classification"
                  else "mse")
    y = (rng.integers(spec.n_outputs, size=8) if spec.output == "classification"
         else rng.normal(size=(8, spec.n_outputs)).astype("float32"))
    loss = model.train_on_batch(x, y)
    assert np.isfinite(loss)
    assert model.output_shape == (None, spec.n_outputs)


def _one_step(model, spec: ModelSpec) -> float:
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, *spec.input_shape)).astype("float32")
    return float(model.train_on_batch(x, rng.integers(spec.n_outputs, size=8)))


SERIES = ({"type": "fcn_block", "filters": 2, "kernel_size": 3},
          {"type": "max_pool1d", "pool_size": 2},
          {"type": "avg_pool1d", "pool_size": 3})


def _conv1d_count(model) -> int:  # type: ignore[no-untyped-def]
    return sum("conv1d" in layer.name for layer in model.layers)


def test_shortcuts_are_the_identity_when_channels_match_else_a_projection() -> None:
    """Residual blocks as the papers build them, each trained one step: a 1x1 convolution on
    the shortcut only where the block changes the channel count."""
    spec = SPECS["sequence"]  # 12 steps of 5 channels
    res = {"type": "resnet_block", "filters": 4, "kernel_size": 8}
    projected = build_model(Architecture((res,), {}), spec)        # 5 -> 4 channels
    identity = build_model(Architecture((res, res), {}), spec)     # 4 -> 4 in the second
    assert _conv1d_count(projected) == 3 + 1 and _conv1d_count(identity) == 2 * 3 + 1
    inc = {"type": "inception", "filters": 2, "kernel_size": 8, "bottleneck": 2,
           "residual": True}
    inc_projected = build_model(Architecture((inc,), {}), spec)          # 5 -> 8 channels
    inc_identity = build_model(Architecture((inc, inc), {}), spec)       # 8 -> 8
    # bottleneck + 3 kernels + the pool branch's 1x1 (+ a projection where channels change)
    assert _conv1d_count(inc_projected) == 5 + 1 and _conv1d_count(inc_identity) == 2 * 5 + 1
    for model in (projected, identity, inc_projected, inc_identity):
        assert sum("add" == layer.name.split("_")[0] for layer in model.layers) >= 1
        assert np.isfinite(_one_step(model, spec)) and model.output_shape == (None, 3)


@pytest.mark.parametrize("pooling", [None, "avg", "max", "last", "attention"])
def test_every_pooling_builds_and_trains_after_pooled_convolutions(pooling) -> None:
    spec = SPECS["sequence"]
    model = build_model(Architecture(SERIES, {}, pooling=pooling), spec)
    assert np.isfinite(_one_step(model, spec)) and model.output_shape == (None, 3)
    shapes = [layer.output.shape for layer in model.layers if "pooling1d" in layer.name
              and "global" not in layer.name]
    assert [s[1] for s in shapes] == [6, 2]  # 12 steps -> 6 -> 2 (stride = pool size)
    names = " ".join(layer.name for layer in model.layers)
    expected = {None: "global_average", "avg": "global_average", "max": "global_max",
                "last": "cropping1d", "attention": "softmax"}[pooling]
    assert expected in names


def test_pooling_decides_whether_recurrent_layers_return_sequences() -> None:
    gru = ({"type": "gru", "units": 4, "activation": "tanh", "bidirectional": False},)
    spec = SPECS["sequence"]
    last = build_model(Architecture(gru, {}, pooling="last"), spec)
    attention = build_model(Architecture(gru, {}, pooling="attention"), spec)
    gru_out = [next(layer for layer in m.layers if "gru" in layer.name).output.shape
               for m in (last, attention)]
    assert gru_out == [(None, 4), (None, 12, 4)]
    assert np.isfinite(_one_step(attention, spec))


def test_recurrent_returns_sequences_only_when_the_next_layer_wants_them() -> None:
    arch = Architecture((
        {"type": "gru", "units": 4, "activation": "tanh", "bidirectional": False},
        {"type": "dropout", "rate": 0.1},
        {"type": "gru", "units": 5, "activation": "tanh", "bidirectional": True},
        {"type": "dense", "units": 3, "activation": "relu"},
    ), {})
    model = build_model(arch, SPECS["sequence"])
    recurrent = [layer for layer in model.layers if "gru" in layer.name or "bidirectional"
                 in layer.name]
    assert recurrent[0].output.shape == (None, 12, 4)
    assert recurrent[1].output.shape == (None, 10)


def test_vector_to_image_uses_the_task_view() -> None:
    arch = Architecture(({"type": "conv2d", "filters": 2, "kernel_size": 3,
                          "activation": "relu", "pool": True},), {})
    model = build_model(arch, SPECS["vector"])
    conv = next(layer for layer in model.layers if "conv2d" in layer.name)
    assert conv.input.shape == (None, 8, 8, 1)


@pytest.mark.parametrize("path", sorted(SPACES.glob("*.yaml")), ids=lambda p: p.name)
def test_samples_of_every_shipped_space_build(path) -> None:
    space = load_space(path)
    spec = {"digits": SPECS["vector"], "japanese_vowels": ModelSpec((29, 12), n_outputs=9),
            "ucr": ModelSpec((150, 1), n_outputs=2)}[space.task.name]  # ucr: GunPoint
    rng = np.random.default_rng(0)
    examples = rng.normal(size=(4, *spec.input_shape)).astype("float32")
    for _ in range(5):
        model = build_model(space.sample(rng), spec, examples=examples)
        assert model.output_shape == (None, spec.n_outputs)
