"""Several trained models of one input as one model whose output is the mean of theirs.

Used where one answer is several networks: a cross-validated child (one network per fold, see
``training/cross_validation.py``) and ``export --ensemble`` (the run's best K children). The
result is a plain Keras functional model (one input, each member nested under its own name, a
Keras ``Average`` layer), so it saves as ``.keras`` and loads with Keras alone in safe mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def average_models(models: Sequence[Any], names: Sequence[str], *, name: str) -> Any:
    """One Keras model whose output is the mean of ``models``' outputs on the same input.

    The members must each take one input of the same shape and give one output (checked by
    the caller, which knows how to name a mismatch to its user).
    """
    import keras

    shape = tuple(models[0].inputs[0].shape[1:])
    inputs = keras.Input(shape=shape, dtype=models[0].inputs[0].dtype, name="inputs")
    outputs = [keras.Model(m.inputs[0], m.outputs[0], name=member)(inputs)
               for m, member in zip(models, names, strict=True)]
    return keras.Model(inputs, keras.layers.Average(name="mean")(outputs), name=name)


__all__ = ["average_models"]
