"""Built-in layer types: dense, conv1d, conv2d (+ max pooling), gru, lstm, dropout, batch_norm,
the time-series blocks of :mod:`automl.builder.series_blocks` (resnet_block, fcn_block,
inception, max_pool1d, avg_pool1d) and MiniRocket's transform (:mod:`automl.builder.minirocket`).

Keras is imported inside the build functions so that validating a space stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl.builder.layer_type import BuildContext
from automl.builder.layer_type import LayerType
from automl.builder.minirocket import MINIROCKET
from automl.builder.series_blocks import SERIES_LAYERS
from automl.registry import LAYERS
from automl.space.params import Param

ACTIVATIONS = ("relu", "tanh", "sigmoid", "elu", "selu", "gelu", "swish", "linear")

_units = Param(int, min=1, max=65536, default=64, doc="number of units")
_activation = Param(str, choices=ACTIVATIONS, default="relu", doc="activation function")
_recurrent_activation = Param(str, choices=ACTIVATIONS, default="tanh", doc="cell activation")
_bidirectional = Param(bool, default=False, doc="run the recurrent layer in both directions")
_filters = Param(int, min=1, max=4096, default=32, doc="number of filters")
_kernel = Param(int, min=1, max=64, default=3, doc="kernel size")


def _dense(x: Any, p: Mapping[str, Any], ctx: BuildContext) -> Any:
    import keras

    return keras.layers.Dense(p["units"], activation=p["activation"])(x)


def _conv1d(x: Any, p: Mapping[str, Any], ctx: BuildContext) -> Any:
    import keras

    return keras.layers.Conv1D(
        p["filters"], p["kernel_size"], padding="same", activation=p["activation"]
    )(x)


def _conv2d(x: Any, p: Mapping[str, Any], ctx: BuildContext) -> Any:
    import keras

    y = keras.layers.Conv2D(
        p["filters"], p["kernel_size"], padding="same", activation=p["activation"]
    )(x)
    if p["pool"]:
        pool = (min(2, int(y.shape[1])), min(2, int(y.shape[2])))
        if pool != (1, 1):
            y = keras.layers.MaxPooling2D(pool)(y)
    return y


def _recurrent(cell: str):  # type: ignore[no-untyped-def]
    def build(x: Any, p: Mapping[str, Any], ctx: BuildContext) -> Any:
        import keras

        layer_class = keras.layers.GRU if cell == "gru" else keras.layers.LSTM
        layer = layer_class(
            p["units"],
            activation=p["activation"],
            return_sequences=ctx.next_accepts == "sequence" or (
                ctx.next_accepts == "vector" and ctx.pooling in ("avg", "max", "attention")),
        )
        if p["bidirectional"]:
            layer = keras.layers.Bidirectional(layer)
        return layer(x)

    return build


def _recurrent_label(cell: str):  # type: ignore[no-untyped-def]
    def label(p: Mapping[str, Any]) -> str:
        prefix = "Bi" if p.get("bidirectional") else ""
        return f"{prefix}{cell}({p['units']},{p['activation']})"

    return label


def _dropout(x: Any, p: Mapping[str, Any], ctx: BuildContext) -> Any:
    import keras

    return keras.layers.Dropout(p["rate"], seed=ctx.seed + ctx.index)(x)


def _batch_norm(x: Any, p: Mapping[str, Any], ctx: BuildContext) -> Any:
    import keras

    return keras.layers.BatchNormalization()(x)


BUILTIN_LAYERS = (
    LayerType(
        "dense",
        _dense,
        {"units": _units, "activation": _activation},
        accepts="vector",
        label=lambda p: f"Dense({p['units']},{p['activation']})",
        doc="fully connected layer",
    ),
    LayerType(
        "conv1d",
        _conv1d,
        {"filters": _filters, "kernel_size": _kernel, "activation": _activation},
        accepts="sequence",
        label=lambda p: f"Conv1D({p['filters']},k{p['kernel_size']},{p['activation']})",
        doc="1-D convolution over time ('same' padding)",
    ),
    LayerType(
        "conv2d",
        _conv2d,
        {
            "filters": _filters,
            "kernel_size": _kernel,
            "activation": _activation,
            "pool": Param(bool, default=True, doc="2x2 max pooling after the convolution"),
        },
        accepts="image",
        label=lambda p: (
            f"Conv2D({p['filters']},k{p['kernel_size']},{p['activation']}"
            + (",pool)" if p["pool"] else ")")
        ),
        doc="2-D convolution ('same' padding), optionally followed by 2x2 max pooling",
    ),
    LayerType(
        "gru",
        _recurrent("gru"),
        {"units": _units, "activation": _recurrent_activation, "bidirectional": _bidirectional},
        accepts="sequence",
        label=_recurrent_label("GRU"),
        doc="gated recurrent unit layer, optionally bidirectional",
    ),
    LayerType(
        "lstm",
        _recurrent("lstm"),
        {"units": _units, "activation": _recurrent_activation, "bidirectional": _bidirectional},
        accepts="sequence",
        label=_recurrent_label("LSTM"),
        doc="long short-term memory layer, optionally bidirectional",
    ),
    LayerType(
        "dropout",
        _dropout,
        {"rate": Param(float, min=0.0, max=0.95, default=0.2, doc="fraction of units dropped")},
        accepts="any",
        label=lambda p: f"Dropout({p['rate']})",
        doc="dropout (active in training only)",
        weightless=True,
        inference_identity=True,
    ),
    LayerType(
        "batch_norm",
        _batch_norm,
        {},
        accepts="any",
        label=lambda p: "BatchNorm",
        doc="batch normalisation",
    ),
    *SERIES_LAYERS,
    MINIROCKET,
)

for _layer in BUILTIN_LAYERS:
    LAYERS.register(_layer.name, _layer)
