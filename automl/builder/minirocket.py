"""``minirocket``: MiniRocket's random-feature transform (Dempster et al. 2021) as a layer type.

Why: on small time-series sets a network trained from scratch on a few dozen series falls short
of MiniRocket + ridge (ArrowHead, ACSF1 in docs/benchmark.md), which needs no gradient at all:
fixed convolutions and a linear model. As a layer type the search can choose it, and the child
is still one Keras model that loads with Keras alone.

The transform, as in the paper:

* 84 kernels of length 9 with weights -1 and 2 (three taps of 2, chosen every way), applied at
  exponentially spaced dilations from 1 up to (length - 1) / 8;
* each kernel-dilation pair gets several biases, the quantiles of its convolution output on
  one training example drawn at random, at its own consecutive stretch of one low-discrepancy
  sequence over all features;
* a feature is the proportion of positive values (PPV) of convolution minus bias over time;
* half the pairs pad their input ('same'), half do not ('valid'), alternating;
* on several channels each kernel sums its convolution over a random subset of 1-9 channels.

Stock Keras layers only: one frozen ``Conv1D`` per (dilation, padding) whose output channels
are the kernel-bias pairs (kernel weights and ``-bias``, scaled so that ``ReLU(max_value=1)``
is the step function to within 1e-6 of the output's spread), then ``GlobalAveragePooling1D``
(the PPV). The biases need data, so the layer is built with training examples
(:attr:`BuildContext.values`); the values the layer sees are those of its input tensor, so the
layer also works after other layers. Those layers are frozen as initialised: the step function
passes next to no gradient (only outputs within 1e-6 of their spread above a bias have one,
scaled by 1e6), the biases were set from their initial outputs, and a body that is all fixed
is fitted in seconds by the closed-form head instead of epochs of noise through the step
(ACSF1: ``ResBlock > MiniRocket > ...`` children took 29 minutes each for validation 0.55,
against 0.75 for MiniRocket alone). Its output is a vector; a sequence layer after it gets the
features as 84 steps of ``features / 84`` channels (the builder's rule, one step per feature,
would give sequences of ~10,000 steps, minutes an epoch for a convolution), so every
architecture builds at a modest cost and a search learns whether it pays. A child whose body
is all fixed gets a closed-form head (:mod:`automl.training.closed_form`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from automl.builder.layer_type import BuildContext
from automl.builder.layer_type import LayerType
from automl.space.params import Param

KERNEL_LENGTH = 9
TWO_TAPS = np.asarray(list(itertools.combinations(range(KERNEL_LENGTH), 3)))
"""Positions of the weight 2 in each of the 84 kernels (the other six taps weigh -1)."""
N_KERNELS = len(TWO_TAPS)
GOLDEN = (math.sqrt(5.0) + 1.0) / 2.0
STEP_SHARPNESS = 1e6
"""The step is ``ReLU(max_value=1)`` of the scaled convolution: values within 1e-6 of the
output's standard deviation (on the example that set the biases) above a bias count
fractionally, all others as 0 or 1. The band is relative to that example, so a series of much
smaller amplitude falls into it: with 1/1000, PLAID's quiet appliances lost their features
(child + ridge test accuracy 0.79; 1e-5: 0.87; 1e-6: 0.88; sktime's strict step 0.92). Float32
rounding of the scaled output (about 1e-7 of it) stays well inside one unit of the step."""


def kernel_weights(kernel: int) -> np.ndarray:
    weights = -np.ones(KERNEL_LENGTH)
    weights[TWO_TAPS[kernel]] = 2.0
    return weights


def dilations(length: int, features: int, max_dilations: int = 32) -> list[tuple[int, int]]:
    """(dilation, biases per kernel) pairs: exponentially spaced dilations whose receptive
    field fits ``length``, and the features per kernel shared out over them (repeated
    dilations merge, so small ones get more biases)."""
    per_kernel = max(1, features // N_KERNELS)
    count = min(per_kernel, max_dilations)
    top = math.log2(max(length - 1, 1) / (KERNEL_LENGTH - 1))
    values, repeats = np.unique(
        np.floor(np.logspace(0, max(top, 0.0), count, base=2)).astype(np.int64),
        return_counts=True)
    biases = (repeats * (per_kernel / count)).astype(np.int64)
    for i in range(per_kernel - int(biases.sum())):
        biases[i % len(biases)] += 1
    return [(int(d), int(b)) for d, b in zip(values, biases, strict=True) if b > 0]


def convolve_same(series: np.ndarray, weights: np.ndarray, dilation: int) -> np.ndarray:
    """The dilated convolution of a 1-D series, zero-padded to keep its length."""
    pad = (KERNEL_LENGTH - 1) // 2 * dilation
    padded = np.pad(series, (pad, pad))
    n = len(series)
    return sum(w * padded[j * dilation:j * dilation + n] for j, w in enumerate(weights))


def quantile_levels(n: int, start: int = 0) -> np.ndarray:
    """Levels ``start + 1 .. start + n`` of one low-discrepancy sequence over all features:
    each kernel-dilation pair takes the next ``n``, so over the kernels the biases cover the
    whole output distribution (the same ``n`` levels for every kernel left the upper
    quantiles unused where a dilation has one or two biases per kernel)."""
    return (np.arange(start + 1, start + n + 1) * GOLDEN) % 1.0


def _fit_conv(values: np.ndarray, kernels: list[int], dilation: int, biases: int,
              first_level: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Kernel (9, channels, len(kernels) * biases) and bias of one frozen Conv1D."""
    n, _, channels = values.shape
    weights = np.zeros((KERNEL_LENGTH, channels, len(kernels) * biases), np.float32)
    offsets = np.zeros(len(kernels) * biases, np.float32)
    for slot, kernel in enumerate(kernels):
        used = int(2 ** rng.uniform(0, math.log2(min(channels, KERNEL_LENGTH) + 1)))
        chosen = rng.choice(channels, size=max(1, used), replace=False)
        example = values[rng.integers(n)][:, chosen].sum(axis=1)
        output = convolve_same(example, kernel_weights(kernel), dilation)
        scale = STEP_SHARPNESS / max(float(np.std(output)), 1e-6)
        columns = slice(slot * biases, (slot + 1) * biases)
        weights[:, chosen, columns] = (kernel_weights(kernel) * scale)[:, None, None]
        levels = quantile_levels(biases, first_level + kernel * biases)
        offsets[columns] = -np.quantile(output, levels) * scale
    return weights, offsets


def _minirocket(x: Any, p: Mapping[str, Any], ctx: BuildContext) -> Any:
    import keras

    values = ctx.values(x)
    if values is None:
        raise ValueError("minirocket needs training examples to set its biases "
                         "(it is built by the trainer, not without data)")
    values = np.asarray(values, dtype=np.float64)
    if x is not ctx.inputs:  # the layers below: frozen as initialised (module docstring)
        for layer in keras.Model(ctx.inputs, x).layers:
            layer.trainable = False
    length = int(x.shape[1])
    rng = np.random.default_rng(ctx.seed)
    features = []
    first_level = 0  # of the dilation's features in the quantile sequence (kernel-major)
    for index, (dilation, biases) in enumerate(dilations(length, p["features"],
                                                         p["max_dilations"])):
        for padding in ("same", "valid"):
            padded = padding == "same"
            kernels = [k for k in range(N_KERNELS) if ((index + k) % 2 == 0) == padded]
            if padding == "valid" and length < (KERNEL_LENGTH - 1) * dilation + 1:
                padding = "same"  # too short to convolve unpadded at this dilation
            weights, offsets = _fit_conv(values, kernels, dilation, biases, first_level, rng)
            conv = keras.layers.Conv1D(len(kernels) * biases, KERNEL_LENGTH,
                                       dilation_rate=dilation, padding=padding, trainable=False)
            y = conv(x)
            conv.set_weights([weights, offsets])
            y = keras.layers.ReLU(max_value=1.0)(y)
            features.append(keras.layers.GlobalAveragePooling1D()(y))
        first_level += N_KERNELS * biases
    out = keras.layers.Concatenate()(features) if len(features) > 1 else features[0]
    if ctx.next_accepts == "sequence":
        # The builder's rule would make each of ~10,000 features a time step, and a
        # convolution over that many steps costs minutes an epoch: give 84 steps instead.
        return keras.layers.Reshape((N_KERNELS, int(out.shape[-1]) // N_KERNELS))(out)
    return out


MINIROCKET = LayerType(
    "minirocket",
    _minirocket,
    {"features": Param(int, min=N_KERNELS, max=100_000, default=10_000,
                       doc="number of features (MiniRocket's default 10,000; rounded down "
                           "to a multiple of 84)"),
     "max_dilations": Param(int, min=1, max=64, default=32,
                            doc="most dilations per kernel")},
    accepts="sequence",
    label=lambda p: f"MiniRocket({p['features']})",
    doc="MiniRocket's fixed random convolutions + PPV (Dempster et al. 2021): a sequence "
        "becomes a vector of features; nothing in it trains",
    returns_vector=True,
    frozen=True,
)
