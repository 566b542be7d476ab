"""The ``minirocket`` layer type: MiniRocket's kernels, dilations and quantile biases, and its
features equal to a NumPy computation of the proportion of positive values (PPV)."""

from __future__ import annotations

import numpy as np
import pytest

from automl.builder import ModelSpec
from automl.builder import build_model
from automl.builder.minirocket import N_KERNELS
from automl.builder.minirocket import STEP_SHARPNESS
from automl.builder.minirocket import dilations
from automl.space import Architecture


def _features_model(x: np.ndarray, features: int = 840, seed: int = 0):  # type: ignore[no-untyped-def]
    import keras

    arch = Architecture(({"type": "minirocket", "features": features, "max_dilations": 32},), {})
    model = build_model(arch, ModelSpec(x.shape[1:], n_outputs=2), seed=seed, examples=x)
    return model, keras.Model(model.inputs[0], model.get_layer("head").input)


def _numpy_ppv(conv, x: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """PPV of every output channel of a frozen Conv1D, from its weights, with a strict step."""
    kernel, bias = conv.get_weights()
    dilation = conv.dilation_rate[0]
    pad = 4 * dilation if conv.padding == "same" else 0
    padded = np.pad(x, ((0, 0), (pad, pad), (0, 0)))
    steps = padded.shape[1] - 8 * dilation
    out = sum(np.einsum("ntc,ck->ntk", padded[:, j * dilation:j * dilation + steps], kernel[j])
              for j in range(9)) + bias
    return (out > 0).mean(axis=1)


def test_dilations_share_the_features_out_and_fit_the_series() -> None:
    pairs = dilations(1460, 10_000)
    assert sum(b for _, b in pairs) * N_KERNELS == 9_996       # MiniRocket's 10,000 rounded
    assert pairs[0][0] == 1 and max(d for d, _ in pairs) * 8 + 1 <= 1460
    assert [d for d, _ in pairs] == sorted({d for d, _ in pairs})
    assert dilations(12, 840) == [(1, 10)]                     # too short for dilation 2


def test_features_are_the_ppv_of_minirocket_kernels_with_quantile_biases() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(6, 60, 3)).astype("float32")
    model, features = _features_model(x)
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv1D"]
    assert all(not layer.trainable_weights for layer in convs)
    values = np.asarray(features(x))
    assert values.shape == (6, 840) and values.min() >= 0.0 and values.max() <= 1.0
    reference = np.concatenate([_numpy_ppv(conv, x) for conv in convs], axis=1)
    # The layer's step is ReLU(max 1) of the scaled output: it differs from the strict step
    # only for outputs within 1e-6 of their spread above a bias, which happens when a bias
    # falls just under a value of the example it came from: a step or two of any output.
    steps = np.concatenate([np.full(conv.filters, 60 - (conv.padding == "valid") * 8
                                    * conv.dilation_rate[0]) for conv in convs])
    assert (np.abs(values - reference) * steps).max() <= 2.0
    assert np.abs(values - reference).mean() < 1e-3
    for conv in convs:
        kernel, _ = conv.get_weights()
        for k in range(kernel.shape[2]):
            taps = kernel[:, :, k]
            used = np.flatnonzero(np.abs(taps).sum(axis=0))       # the kernel's channels
            assert 1 <= len(used) <= 3
            column = taps[:, used[0]] / np.abs(taps[:, used[0]]).min()
            assert sorted(np.round(column, 4)) == [-1.0] * 6 + [2.0] * 3
            np.testing.assert_allclose(taps[:, used], np.repeat(taps[:, used[:1]], len(used), 1))
    # Biases are quantiles of training outputs: no feature is constant over these series.
    assert (values.std(axis=0) > 0).mean() > 0.5


def test_the_same_seed_and_examples_give_the_same_features() -> None:
    x = np.random.default_rng(2).normal(size=(4, 40, 1)).astype("float32")
    first = np.asarray(_features_model(x, seed=3)[1](x))
    np.testing.assert_array_equal(first, np.asarray(_features_model(x, seed=3)[1](x)))
    assert not np.array_equal(first, np.asarray(_features_model(x, seed=4)[1](x)))


def test_without_examples_it_says_what_it_needs() -> None:
    arch = Architecture(({"type": "minirocket", "features": 840, "max_dilations": 32},), {})
    with pytest.raises(ValueError, match="minirocket needs training examples"):
        build_model(arch, ModelSpec((40, 1), n_outputs=2))


def test_a_sharp_step_is_kept_for_outputs_of_any_scale() -> None:
    x = 1e4 * np.random.default_rng(5).normal(size=(4, 40, 1)).astype("float32")
    model, features = _features_model(x)
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv1D"]
    reference = np.concatenate([_numpy_ppv(conv, x) for conv in convs], axis=1)
    assert np.abs(np.asarray(features(x)) - reference).mean() < 1e-3
    assert STEP_SHARPNESS >= 1e5


def test_a_quiet_series_keeps_its_features() -> None:
    # The step's band is relative to the series that set the biases: a series a thousand
    # times quieter (an appliance switched off, a still sensor) still gets the strict PPV.
    # Front-padded series (variable-length sets) make many biases 0, where it matters most.
    x = np.random.default_rng(8).normal(size=(4, 40, 1)).astype("float32")
    x[:, :30] = 0.0
    model, features = _features_model(x)
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv1D"]
    quiet = 1e-3 * x
    reference = np.concatenate([_numpy_ppv(conv, quiet) for conv in convs], axis=1)
    assert np.abs(np.asarray(features(quiet)) - reference).mean() < 1e-2


def test_a_sequence_layer_after_it_gets_84_steps_not_one_per_feature() -> None:
    x = np.random.default_rng(6).normal(size=(4, 40, 1)).astype("float32")
    arch = Architecture(({"type": "minirocket", "features": 840, "max_dilations": 32},
                         {"type": "conv1d", "filters": 4, "kernel_size": 3,
                          "activation": "relu"}), {})
    model = build_model(arch, ModelSpec((40, 1), n_outputs=2), examples=x)
    conv = [layer for layer in model.layers if layer.__class__.__name__ == "Conv1D"][-1]
    assert conv.input.shape == (None, N_KERNELS, 10)


def test_layers_below_it_are_frozen_and_layers_after_it_train() -> None:
    from automl.training.closed_form import has_fixed_body

    x = np.random.default_rng(7).normal(size=(4, 40, 1)).astype("float32")
    block = {"type": "fcn_block", "filters": 4, "kernel_size": 3}
    rocket = {"type": "minirocket", "features": 840, "max_dilations": 32}
    below = build_model(Architecture((block, rocket), {}), ModelSpec((40, 1), n_outputs=2),
                        examples=x)
    # The step passes next to no gradient: the block keeps its initial weights, and the child
    # is a fixed body under a closed-form head.
    assert has_fixed_body(below)
    assert below.get_layer("head").trainable_weights
    after = build_model(Architecture((rocket, block), {}), ModelSpec((40, 1), n_outputs=2),
                        examples=x)
    assert not has_fixed_body(after)
    trainable = {layer.__class__.__name__ for layer in after.layers if layer.trainable_weights}
    assert {"Conv1D", "BatchNormalization", "Dense"} <= trainable


def test_biases_take_consecutive_levels_of_one_sequence_over_all_features() -> None:
    from automl.builder.minirocket import quantile_levels

    # As in MiniRocket: kernel k of a dilation with b biases takes levels k*b+1 .. k*b+b, so a
    # dilation with one bias per kernel still spreads its biases over the whole distribution.
    levels = np.concatenate([quantile_levels(1, k) for k in range(N_KERNELS)])
    assert len(np.unique(np.round(levels, 9))) == N_KERNELS
    assert levels.min() < 0.05 and levels.max() > 0.95
    np.testing.assert_allclose(quantile_levels(3, 6), quantile_levels(9)[6:])
