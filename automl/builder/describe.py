"""One-line descriptions of architectures in each layer type's own words (``GRU(120,tanh)``).

The label belongs to the layer type (:attr:`LayerType.label`), and layer types live in the layer
registry, so the lookup is here, beside the builder, not on :class:`~automl.space.Architecture`
(a plain value). A type that is not registered (a plugin not loaded in this process) is
written plainly, as ``Architecture.summary()`` does.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any

from automl.space import Architecture


def describe_layer(layer: Mapping[str, Any]) -> str:
    """``layer`` (its dict, ``type`` included) as its registered type labels it."""
    from automl.registry import LAYERS
    from automl.registry import ensure_builtins

    ensure_builtins()
    params = {k: v for k, v in layer.items() if k != "type"}
    if layer["type"] in LAYERS:
        return str(LAYERS.get(layer["type"]).describe(params))
    values = ",".join(map(str, params.values()))
    return f"{layer['type']}({values})" if values else str(layer["type"])


def describe(architecture: Architecture, train_keys: Iterable[str] = ()) -> str:
    """One line such as ``GRU(120,tanh) > Dense(80,relu) | window=20 learning_rate=0.01``
    (``train_keys``: the training settings the space searches)."""
    return architecture.summary(describe_layer, train_keys)


__all__ = ["describe", "describe_layer"]
