"""How many examples one forward call may take without running out of memory.

Why: prediction used to go through a child in chunks of 1,024 examples, which is harmless for
networks whose activations are a few kilobytes an example, but a ``minirocket`` body on ACSF1
(1,460 steps, 10,000 features) holds about 120 MB of convolution outputs per series, and two
children predicting 100 series each took 9 GB apiece until Ray's memory monitor killed them.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

CALL_BYTES = 256 * 2**20
"""Activation memory one forward call aims to stay under."""
MAX_ROWS = 1024
COMPILE_FROM_CALLS = 8
"""A model whose activations cut its calls below :data:`MAX_ROWS` rows goes through one
compiled function from this many calls on: a MiniRocket body of ~180 layers on ACSF1 (2
series a call) took 9.4 s eagerly for 80 series and 2.3 s compiled. A light model (whole
chunks of :data:`MAX_ROWS`) stays eager: tracing a fresh child costs more than it saves."""


def activation_bytes(model: Any) -> int:
    """Bytes of every layer's output for one example (float32), summed: an upper bound on
    what one example holds during a forward pass."""
    total = 0
    for layer in model.layers:
        outputs = layer.output if isinstance(layer.output, list | tuple) else [layer.output]
        for tensor in outputs:
            total += math.prod(int(d) for d in tensor.shape[1:] if d is not None)
    return 4 * total


def rows_per_call(model: Any) -> int:
    """Examples per forward call: as many as fit in :data:`CALL_BYTES`, 1 to 1,024."""
    return max(1, min(MAX_ROWS, CALL_BYTES // max(1, activation_bytes(model))))


def outputs_in_chunks(model: Any, x: np.ndarray) -> np.ndarray:
    """``model``'s outputs on ``x`` (inference mode), :func:`rows_per_call` examples a call."""
    rows = rows_per_call(model)
    call = model
    if rows < MAX_ROWS and len(x) >= COMPILE_FROM_CALLS * rows:
        import tensorflow as tf

        call = tf.function(model, reduce_retracing=True)
    return np.concatenate([np.asarray(call(x[i:i + rows], training=False))
                           for i in range(0, len(x), rows)])


__all__ = ["activation_bytes", "outputs_in_chunks", "rows_per_call"]
