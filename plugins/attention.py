"""The ``attention`` layer type: attention pooling over time, optionally after self-attention.

On speech and other signals, a recurrent or fully connected encoder followed by attention
pooling (a learned weighted average of the frames, Mirsamadi et al. 2017, "Automatic speech
emotion recognition using recurrent neural networks with local attention") tends to beat taking
the last state or the plain average, because the informative frames are few and anywhere in the
utterance. With ``heads > 0`` a multi-head self-attention block (Vaswani et al. 2017: attention,
residual connection, layer normalisation) first lets every frame look at every other.

The layer accepts a sequence (batch, time, features). It returns the pooled vector
(batch, features), unless the next layer wants a sequence (the builder's rule for recurrent
layers), in which case it returns the attended sequence and leaves pooling to a later layer.

Attention pooling, with ``h_t`` the frame at time t::

    e_t = v^T tanh(W h_t + b)          W: units x features, v: units
    a_t = softmax_t(e_t)
    y   = sum_t a_t h_t

Example space (the lecture's GRU space with attention on top)::

    layers:
      min: 2
      max: 3
      types:
        gru: {units: [40, 80], bidirectional: [false, true]}
        attention: {units: [16, 64], heads: [0, 2], pooling: [attention, mean]}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl.builder import BuildContext
from automl.builder import LayerType
from automl.registry import LAYERS
from automl.space import Param

__version__ = "1.0.0"


def build(x: Any, params: Mapping[str, Any], context: BuildContext) -> Any:
    import keras

    if params["heads"] > 0:
        # self-attention block: every frame attends to every frame, then residual + norm
        attended = keras.layers.MultiHeadAttention(
            num_heads=params["heads"], key_dim=max(1, params["units"] // params["heads"]),
            seed=context.seed + context.index)(x, x)
        x = keras.layers.LayerNormalization()(keras.layers.Add()([x, attended]))
    if context.next_accepts == "sequence":
        return x
    if params["pooling"] == "mean":
        return keras.layers.GlobalAveragePooling1D()(x)
    if params["pooling"] == "max":
        return keras.layers.GlobalMaxPooling1D()(x)
    # ALGO LOGIC: attention pooling, a_t = softmax_t(v^T tanh(W h_t + b)), y = sum_t a_t h_t
    energy = keras.layers.Dense(params["units"], activation="tanh")(x)  # (batch, time, units)
    scores = keras.layers.Dense(1, use_bias=False)(energy)  # (batch, time, 1)
    weights = keras.layers.Softmax(axis=1)(scores)  # over time
    pooled = keras.layers.Dot(axes=1)([weights, x])  # (batch, 1, features)
    return keras.layers.Flatten()(pooled)


def label(params: Mapping[str, Any]) -> str:
    """``Attention(64,h2,attention)``: units, self-attention heads (if any), pooling."""
    heads = f",h{params['heads']}" if params["heads"] > 0 else ""
    return f"Attention({params['units']}{heads},{params['pooling']})"


LAYERS.register("attention", LayerType(
    "attention",
    build,
    {
        "units": Param(int, min=1, max=4096, default=64,
                       doc="size of the attention scoring layer (and of all keys)"),
        "heads": Param(int, min=0, max=64, default=0,
                       doc="heads of a self-attention block before pooling; 0: none"),
        "pooling": Param(str, choices=("attention", "mean", "max"), default="attention",
                         doc="how frames become one vector: learned attention weights, mean "
                             "or max"),
    },
    accepts="sequence",
    label=label,
    doc="attention pooling over time, optionally after multi-head self-attention",
))
