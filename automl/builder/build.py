"""Architecture + task facts -> ``keras.Model``. Builds only; never fits.

Tensor kinds and the conversion rule
------------------------------------
A tensor is a *vector* (batch, features), a *sequence* (batch, time, features) or an *image*
(batch, height, width, channels). Each layer type declares the kind it accepts; before a layer,
the current tensor is converted when the kinds differ:

========  ==========  =====================================================================
have      want        conversion
========  ==========  =====================================================================
vector    sequence    each feature becomes a time step: (F,) -> (F, 1)
vector    image       the task's natural 2-D view if it has one (digits: 8x8x1), else a square
                      (s, s, 1) when F = s*s, else (F, 1, 1)
sequence  vector      the architecture's ``pooling`` (``layers.pooling`` in the YAML): global
                      average (``avg``, the default), global max (``max``), the last time
                      step (``last``) or attention pooling (``attention``: a softmax over
                      time of a learned score, then the weighted sum). Without a pooling
                      setting, recurrent layers return their last state (they return
                      sequences only when the next layer wants them); with ``avg``, ``max``
                      or ``attention`` they return sequences, which are pooled
sequence  image       (T, F) -> (T, F, 1)
image     vector      flatten
image     sequence    rows become time steps: (H, W, C) -> (H, W*C)
========  ==========  =====================================================================

``any`` layers (dropout, batch_norm) take whatever comes. The head converts to a vector and adds
``Dense(classes, softmax)`` for classification or ``Dense(outputs)`` for regression.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from automl.builder.layer_type import BuildContext
from automl.space import Architecture

_KIND_OF_RANK = {2: "vector", 3: "sequence", 4: "image"}


@dataclass(frozen=True)
class ModelSpec:
    """What the builder needs to know about the task (no data)."""

    input_shape: tuple[int, ...]
    output: str = "classification"
    n_outputs: int = 1
    image_shape: tuple[int, ...] | None = None


def kind_of(x: Any) -> str:
    return _KIND_OF_RANK[len(x.shape)]


def convert(x: Any, want: str, image_shape: Sequence[int] | None = None,
            pooling: str | None = None) -> Any:
    """Convert tensor ``x`` to the kind ``want`` by the rule in the module docstring."""
    import keras

    have = kind_of(x)
    if want in ("any", have):
        return x
    shape = tuple(int(d) for d in x.shape[1:])
    if have == "vector":
        (features,) = shape
        if want == "sequence":
            return keras.layers.Reshape((features, 1))(x)
        if image_shape is not None and math.prod(image_shape) == features:
            return keras.layers.Reshape(tuple(image_shape))(x)
        side = math.isqrt(features)
        target = (side, side, 1) if side * side == features else (features, 1, 1)
        return keras.layers.Reshape(target)(x)
    if have == "sequence":
        if want == "vector":
            return sequence_to_vector(x, pooling)
        return keras.layers.Reshape((*shape, 1))(x)
    # image
    if want == "vector":
        return keras.layers.Flatten()(x)
    height, width, channels = shape
    return keras.layers.Reshape((height, width * channels))(x)


def sequence_to_vector(x: Any, pooling: str | None) -> Any:
    """(batch, time, features) -> (batch, features) by ``pooling`` (None: global average).

    Built from stock Keras layers only (no Lambda), so a child saves and loads as any model.
    Variable-length tasks pad at the front, so ``last`` is the last real step.
    """
    import keras

    if pooling in (None, "avg"):
        return keras.layers.GlobalAveragePooling1D()(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling1D()(x)
    if pooling == "last":
        steps = int(x.shape[1])
        return keras.layers.Flatten()(keras.layers.Cropping1D((steps - 1, 0))(x))
    if pooling == "attention":
        scores = keras.layers.Dense(1)(x)                          # (batch, time, 1)
        weights = keras.layers.Softmax(axis=1)(scores)             # over time
        pooled = keras.layers.Dot(axes=1)([weights, x])            # (batch, 1, features)
        return keras.layers.Flatten()(pooled)
    raise ValueError(f"unknown pooling {pooling!r}")


def build_model(architecture: Architecture, spec: ModelSpec, *, seed: int = 0,
                examples: Any = None) -> Any:
    """Build the child network for ``architecture`` (functional Keras model, uncompiled).

    ``examples``: some training inputs, for layers that set their initial weights from data
    (``minirocket``); without them such layers cannot be built (ValueError).
    """
    import keras

    from automl.registry import LAYERS
    from automl.registry import ensure_builtins

    ensure_builtins()
    layer_types = [LAYERS.get(layer["type"]) for layer in architecture.layers]
    inputs = keras.Input(shape=spec.input_shape, name="signal")
    x = inputs
    for index, (layer, layer_type) in enumerate(zip(architecture.layers, layer_types,
                                                    strict=True)):
        params = {k: v for k, v in layer.items() if k != "type"}
        next_accepts = next(
            (t.accepts for t in layer_types[index + 1:] if t.accepts != "any"), "vector")
        x = convert(x, layer_type.accepts, spec.image_shape, architecture.pooling)
        x = layer_type.build(x, params,
                             BuildContext(index, next_accepts, seed, architecture.pooling,
                                          inputs=inputs, examples=examples))
    x = convert(x, "vector", pooling=architecture.pooling)
    if spec.output == "classification":
        outputs = keras.layers.Dense(spec.n_outputs, activation="softmax", name="head")(x)
    else:
        outputs = keras.layers.Dense(spec.n_outputs, name="head")(x)
    return keras.Model(inputs, outputs, name=f"child_{architecture.id}")
