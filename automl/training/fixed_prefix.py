"""Train the layers after a fixed prefix on that prefix's outputs, computed once.

Why: ``minirocket`` freezes itself and every layer below it, so a child such as
``MiniRocket > ResBlock`` trains only what comes after. ``model.fit`` still ran the frozen
convolutions on every batch of every epoch: on ACSF1 (1,460 steps, 10,000 features) such
children took up to 18 minutes, most of it recomputing the same features. The prefix's output
is small (10,000 numbers a series), so it is computed once per split and the rest of the model
is fitted on it; the layers are the model's own, so the whole model is trained and saves as
one (``benchmarks/fixed_prefix.py``: 7x faster at 30 epochs).

A prefix qualifies when every layer in it has no trainable weight and either cannot behave
differently in training (a convolution, a reshape, a pooling) or is frozen (``trainable``
False: dropout below ``minirocket`` is frozen with it, so it drops nothing, as under the
closed-form head). The prefix ends at a tensor every path to the output goes through, and it
is used only when it holds weights (it costs something to compute) and its outputs for all
three splits fit in :data:`CACHE_BYTES`.
"""

from __future__ import annotations

import inspect
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.builder.chunks import outputs_in_chunks
from automl.tasks.task import Dataset

CACHE_BYTES = 2 * 2**30
"""Most memory the prefix's outputs for the three splits may take (float32)."""


@dataclass(frozen=True)
class FixedPrefix:
    """``prefix``: the inputs to the cut; ``rest``: the cut to the outputs (the same layers
    as the full model, so training ``rest`` trains it)."""

    prefix: Any
    rest: Any


def _behaves_the_same_in_training(layer: Any) -> bool:
    call = getattr(layer, "call", None)
    try:
        return call is None or "training" not in inspect.signature(call).parameters
    except (TypeError, ValueError):
        return False


def _is_fixed(layer: Any) -> bool:
    return not layer.trainable_weights and (
        not layer.trainable or _behaves_the_same_in_training(layer))


def split_fixed_prefix(model: Any, n_examples: int) -> FixedPrefix | None:
    """The longest fixed prefix of ``model`` that is worth computing once for
    ``n_examples`` inputs, or None."""
    import keras

    layers = [layer for layer in model.layers
              if not isinstance(layer, keras.layers.InputLayer)]
    run = 0
    while run < len(layers) and _is_fixed(layers[run]):
        run += 1
    for layer in reversed(layers[:run]):  # model.layers is in topological order
        cut = layer.output
        if isinstance(cut, list | tuple):
            continue
        try:
            rest = keras.Model(cut, model.outputs[0])
        except ValueError:  # another path to the output skips this tensor
            continue
        prefix = keras.Model(model.inputs[0], cut)
        if not any(inner.weights for inner in prefix.layers):
            return None
        size = 4 * n_examples * math.prod(int(d) for d in cut.shape[1:])
        return FixedPrefix(prefix, rest) if size <= CACHE_BYTES else None
    return None


def on_prefix_outputs(split: FixedPrefix, data: Dataset) -> tuple[Dataset, float]:
    """``data`` with its inputs replaced by the prefix's outputs, and the seconds it took."""
    started = time.perf_counter()
    splits = (data.x_train, data.x_val, data.x_test)
    # One pass over the three splits: a heavy prefix is compiled once, not once a split.
    outputs = outputs_in_chunks(split.prefix, np.concatenate(splits))
    ends = np.cumsum([len(x) for x in splits])
    inputs = data.with_inputs(*np.split(outputs, ends[:-1]))
    return inputs, time.perf_counter() - started


__all__ = ["CACHE_BYTES", "FixedPrefix", "on_prefix_outputs", "split_fixed_prefix"]
