"""The super-network: every sub-network, extracted with its shared weights, computes what the
builder's standalone model computes with those weights; unsupported spaces get one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from automl.builder import ModelSpec
from automl.builder import build_model
from automl.builder.supernet import SuperNet
from automl.builder.supernet import check_one_shot
from automl.errors import SpaceError
from automl.space import parse_space

DIGITS = ModelSpec((64,), n_outputs=10)
VOWELS = ModelSpec((29, 12), n_outputs=9)


def _space(layers: dict, task: str = "digits", train: dict | None = None, **extra):  # type: ignore[no-untyped-def]
    config = {"name": "t", "task": task, "layers": layers, "train": train or {"epochs": 1},
              **extra}
    return parse_space(config, source_name="t.yaml", base_dir=Path("."))


def _assert_all_equal(space, spec: ModelSpec, expected_count: int) -> None:  # type: ignore[no-untyped-def]
    net = SuperNet(space, spec, seed=3)
    # shared weights that are not the initial ones: random biases too
    net.set_weights({k: np.random.default_rng(1).normal(0, 0.3, v.shape)
                     for k, v in net.get_weights().items()})
    x = np.random.default_rng(0).normal(size=(6, *spec.input_shape)).astype(np.float32)
    architectures = list(space.enumerate())
    assert len(architectures) == expected_count
    for architecture in architectures:
        model = build_model(architecture, spec)
        model.set_weights(net.extract(architecture))
        np.testing.assert_allclose(net.predict(x, architecture), np.asarray(model(x)),
                                   rtol=1e-5, atol=1e-6, err_msg=architecture.summary())
        assert net.param_count(architecture) == model.count_params()
    # every sub-network at once (the one-shot phase's scores), in two chunks of x
    np.testing.assert_allclose(net.predict_many(x, architectures, batch_size=4),
                               np.stack([net.predict(x, a) for a in architectures]),
                               rtol=1e-6, atol=1e-7)


def test_every_dense_subnetwork_equals_the_standalone_model() -> None:
    # 1-2 layers of dense {8, 16} x {relu, sigmoid} or dropout: 5 + 25 = 30 sub-networks
    space = _space({"min": 1, "max": 2, "types": {
        "dense": {"units": [8, 16], "activation": ["relu", "sigmoid"]},
        "dropout": {"rate": [0.2]}}})
    _assert_all_equal(space, DIGITS, 30)


def test_every_gru_subnetwork_equals_the_standalone_model() -> None:
    # Keras' GRU layout: gates [z, r, h] in blocks of the widest width, sliced per block
    space = _space({"min": 1, "max": 2, "types": {
        "gru": {"units": [4, 8], "activation": ["tanh", "relu"]}}}, task="japanese_vowels")
    _assert_all_equal(space, VOWELS, 20)
    pooled = _space({"min": 1, "max": 1, "pooling": ["avg", "max"], "types": {
        "gru": {"units": [4], "activation": ["tanh"]}}}, task="japanese_vowels")
    _assert_all_equal(pooled, VOWELS, 2)
    # wider than the 12 input features (the kernel's unused input rows), with dropout layers:
    # a dropout-only stack has no last state, so the builder averages over time
    wide = _space({"min": 1, "max": 2, "types": {
        "gru": {"units": [16], "activation": ["tanh"]}, "dropout": {"rate": [0.2]}}},
        task="japanese_vowels")
    _assert_all_equal(wide, VOWELS, 6)


def test_every_conv1d_subnetwork_equals_the_standalone_model() -> None:
    # filters as the first output channels of the widest kernel, kernel sizes (odd and even)
    # as its centre taps, 'same' padding; 16 filters on 12 features; average pooling when the
    # space names none, and each pooling of the decision
    space = _space({"min": 1, "max": 2, "types": {
        "conv1d": {"filters": [4, 16], "kernel_size": [2, 3, 5], "activation": ["relu"]},
        "dropout": {"rate": [0.2]}}}, task="japanese_vowels")
    _assert_all_equal(space, VOWELS, 7 + 7 * 7)
    pooled = _space({"min": 1, "max": 1, "pooling": ["avg", "max", "last"], "types": {
        "conv1d": {"filters": [4], "kernel_size": [3], "activation": ["relu"]}}},
        task="japanese_vowels")
    _assert_all_equal(pooled, VOWELS, 3)


def test_every_mixed_gru_and_conv1d_subnetwork_equals_the_standalone_model() -> None:
    # the type per layer: GRU before a convolution returns sequences, a GRU last its last
    # state, a convolution last the average over time (no pooling decision)
    space = _space({"min": 1, "max": 2, "types": {
        "gru": {"units": [4, 8], "activation": ["tanh"]},
        "conv1d": {"filters": [16], "kernel_size": [2, 3], "activation": ["relu"]}}},
        task="japanese_vowels")
    _assert_all_equal(space, VOWELS, 4 + 4 * 4)
    pooled = _space({"min": 2, "max": 2, "pooling": ["max"], "types": {
        "gru": {"units": [4], "activation": ["tanh"]},
        "conv1d": {"filters": [4], "kernel_size": [3], "activation": ["relu"]}}},
        task="japanese_vowels")
    _assert_all_equal(pooled, VOWELS, 4)


def test_dense_subnetworks_wider_than_the_input_equal_the_standalone_model() -> None:
    # 80 units on 64 digits features: the shared kernel has rows no first layer reads
    space = _space({"min": 1, "max": 2, "types": {"dense": {"units": [8, 80]}}})
    _assert_all_equal(space, DIGITS, 6)


LAYERS = {"min": 1, "max": 2, "types": {"dense": {"units": [8, 16]}}}


@pytest.mark.parametrize(("space_args", "key"), [
    ({"layers": {"types": {"conv2d": {"filters": [4, 8]}}}}, "layers.types.conv2d"),
    ({"layers": {"types": {"lstm": {"units": [4, 8]}}}}, "layers.types.lstm"),
    ({"layers": {"types": {"dense": {"units": [8]}, "gru": {"units": [8]}}}},
     "layers.types"),
    ({"layers": {"types": {"gru": {"units": [4], "bidirectional": [False, True]}}},
      "task": "japanese_vowels"}, "layers.types.gru.bidirectional"),
    ({"layers": LAYERS, "train": {"learning_rate": [0.01, 0.001]}}, "train.learning_rate"),
    ({"layers": LAYERS, "train": {"batch_size": [32, 64]}}, "train.batch_size"),
    ({"layers": {"types": {"gru": {"units": [4]}}, "pooling": ["attention", "avg"]},
      "task": "japanese_vowels"}, "layers.pooling"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_unsupported_decision_is_one_line_naming_it(space_args: dict, key: str) -> None:
    space = _space(**space_args)
    with pytest.raises(SpaceError) as error:
        check_one_shot(space)
    message = str(error.value)
    assert key in message and "\n" not in message


def test_input_kind_is_checked_against_the_stack() -> None:
    dense = _space(LAYERS)
    assert check_one_shot(dense) == ("dense",)
    with pytest.raises(SpaceError, match="vector input"):
        check_one_shot(dense, VOWELS)
    gru = _space({"types": {"gru": {"units": [4]}}}, task="japanese_vowels")
    with pytest.raises(SpaceError, match="sequence input"):
        check_one_shot(gru, DIGITS)


@pytest.mark.parametrize(("name", "spec", "cells"), [
    ("lecture_dense", DIGITS, ("dense",)), ("lecture_gru", VOWELS, ("gru",)),
    ("lecture_conv", VOWELS, ("conv1d",))])
def test_the_shipped_lecture_spaces_run_in_one_shot_mode(name: str, spec: ModelSpec,
                                                        cells: tuple[str, ...]) -> None:
    from automl.space import load_space
    from tests.conftest import SPACES

    assert check_one_shot(load_space(SPACES / f"{name}.yaml"), spec) == cells
