"""Building blocks for time series: the blocks of the strongest published CNN classifiers.

* ``fcn_block``: convolution, batch normalisation, ReLU, the unit of the fully convolutional
  network of Wang et al. (2017), "Time series classification from scratch with deep neural
  networks: a strong baseline".
* ``resnet_block``: three such units with kernels k, 5k/8, 3k/8 (8, 5, 3 by default) and a
  shortcut (1x1 convolution + batch normalisation when the channel count changes), then ReLU:
  the residual block of the same paper's ResNet.
* ``inception``: the InceptionTime module (Ismail Fawaz et al. 2020): a 1x1 bottleneck, three
  parallel convolutions with kernels k, k/2, k/4 on it, a max-pool branch with a 1x1
  convolution, concatenated, batch-normalised, ReLU; optionally with a residual shortcut.
* ``max_pool1d`` / ``avg_pool1d``: downsampling over time (stride = pool size).

All take sequences and return sequences ('same' padding); the sequence-to-vector step is the
architecture's ``pooling`` (see :mod:`automl.builder.build`). Keras is imported inside the build
functions so that validating a space stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from automl.builder.layer_type import BuildContext
from automl.builder.layer_type import LayerType
from automl.space.params import Param

BN_MOMENTUM = 0.9
"""Keras' default (0.99) needs hundreds of steps for the moving statistics to settle; a UCR
training split of 40 series is 3 steps an epoch, so validation (which uses the moving
statistics) lagged training by tens of epochs."""


def _bn() -> Any:
    import keras

    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM)


def _conv_bn_relu(x: Any, filters: int, kernel: int) -> Any:
    import keras

    x = keras.layers.Conv1D(filters, kernel, padding="same")(x)
    x = _bn()(x)
    return keras.layers.Activation("relu")(x)


def _shortcut(x: Any, filters: int) -> Any:
    """The identity when the channels match (batch-normalised, as in Wang et al.), else a 1x1
    convolution to ``filters`` channels."""
    import keras

    if int(x.shape[-1]) != filters:
        x = keras.layers.Conv1D(filters, 1, padding="same")(x)
    return _bn()(x)


def resnet_kernels(kernel: int) -> tuple[int, int, int]:
    """Kernel sizes of the three units of a residual block: 8 -> (8, 5, 3)."""
    return kernel, max(1, (5 * kernel) // 8), max(1, (3 * kernel) // 8)


def inception_kernels(kernel: int) -> tuple[int, int, int]:
    """Kernel sizes of the three parallel convolutions: 40 -> (40, 20, 10)."""
    return kernel, max(1, kernel // 2), max(1, kernel // 4)


def _fcn_block(x: Any, p: Mapping[str, Any], ctx: BuildContext) -> Any:
    return _conv_bn_relu(x, p["filters"], p["kernel_size"])


def _resnet_block(x: Any, p: Mapping[str, Any], ctx: BuildContext) -> Any:
    import keras

    y = x
    for kernel in resnet_kernels(p["kernel_size"])[:-1]:
        y = _conv_bn_relu(y, p["filters"], kernel)
    y = keras.layers.Conv1D(p["filters"], resnet_kernels(p["kernel_size"])[-1],
                            padding="same")(y)
    y = _bn()(y)
    y = keras.layers.Add()([y, _shortcut(x, p["filters"])])
    return keras.layers.Activation("relu")(y)


def _inception(x: Any, p: Mapping[str, Any], ctx: BuildContext) -> Any:
    import keras

    filters = p["filters"]
    stem = x
    if p["bottleneck"] > 0 and int(x.shape[-1]) > 1:  # a 1-channel input needs no bottleneck
        stem = keras.layers.Conv1D(p["bottleneck"], 1, padding="same", use_bias=False)(x)
    branches = [keras.layers.Conv1D(filters, kernel, padding="same", use_bias=False)(stem)
                for kernel in inception_kernels(p["kernel_size"])]
    pooled = keras.layers.MaxPooling1D(3, strides=1, padding="same")(x)
    branches.append(keras.layers.Conv1D(filters, 1, padding="same", use_bias=False)(pooled))
    y = keras.layers.Concatenate(axis=-1)(branches)
    y = _bn()(y)
    if p["residual"]:
        y = keras.layers.Add()([y, _shortcut(x, 4 * filters)])
    return keras.layers.Activation("relu")(y)


def _pool(kind: str):  # type: ignore[no-untyped-def]
    def build(x: Any, p: Mapping[str, Any], ctx: BuildContext) -> Any:
        import keras

        size = min(p["pool_size"], int(x.shape[1]))
        if size <= 1:  # a one-step sequence cannot shrink further
            return x
        layer = keras.layers.MaxPooling1D if kind == "max" else keras.layers.AveragePooling1D
        return layer(size, strides=size, padding="same")(x)

    return build


_filters = Param(int, min=1, max=1024, default=64, doc="filters of each convolution")
_pool_size = Param(int, min=1, max=64, default=2, doc="pool size and stride (time steps)")

SERIES_LAYERS = (
    LayerType(
        "fcn_block",
        _fcn_block,
        {"filters": Param(int, min=1, max=1024, default=128, doc="filters"),
         "kernel_size": Param(int, min=1, max=128, default=8, doc="kernel size")},
        accepts="sequence",
        label=lambda p: f"FCN({p['filters']},k{p['kernel_size']})",
        doc="conv1d + batch norm + ReLU (Wang et al. 2017 FCN)",
    ),
    LayerType(
        "resnet_block",
        _resnet_block,
        {"filters": _filters,
         "kernel_size": Param(int, min=1, max=128, default=8,
                              doc="largest kernel; the block uses k, 5k/8, 3k/8")},
        accepts="sequence",
        label=lambda p: f"ResBlock({p['filters']},k{p['kernel_size']})",
        doc="3 x (conv1d + batch norm + ReLU) with a shortcut (Wang et al. 2017 ResNet)",
    ),
    LayerType(
        "inception",
        _inception,
        {"filters": Param(int, min=1, max=512, default=32,
                          doc="filters per branch (the module outputs 4x as many)"),
         "kernel_size": Param(int, min=1, max=256, default=40,
                              doc="largest kernel; the branches use k, k/2, k/4"),
         "bottleneck": Param(int, min=0, max=512, default=32,
                             doc="channels of the 1x1 bottleneck; 0: none"),
         "residual": Param(bool, default=False, doc="add a shortcut from the module input")},
        accepts="sequence",
        label=lambda p: (f"Inception({p['filters']},k{p['kernel_size']}"
                         + (",res)" if p["residual"] else ")")),
        doc="InceptionTime module: bottleneck, 3 parallel kernels and a max-pool branch",
    ),
    LayerType(
        "max_pool1d",
        _pool("max"),
        {"pool_size": _pool_size},
        accepts="sequence",
        label=lambda p: f"MaxPool1D({p['pool_size']})",
        doc="max pooling over time (stride = pool size)",
        weightless=True,
    ),
    LayerType(
        "avg_pool1d",
        _pool("avg"),
        {"pool_size": _pool_size},
        accepts="sequence",
        label=lambda p: f"AvgPool1D({p['pool_size']})",
        doc="average pooling over time (stride = pool size)",
        weightless=True,
    ),
)
