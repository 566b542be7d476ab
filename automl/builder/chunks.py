"""How many examples one forward call may take without running out of memory.

Why: prediction used to go through a child in chunks of 1,024 examples, which is harmless for
networks whose activations are a few kilobytes an example, but a ``minirocket`` body on ACSF1
(1,460 steps, 10,000 features) holds about 120 MB of convolution outputs per series, and two
children predicting 100 series each took 9 GB apiece until Ray's memory monitor killed them.
"""

from __future__ import annotations

import math
from typing import Any

CALL_BYTES = 256 * 2**20
"""Activation memory one forward call aims to stay under."""
MAX_ROWS = 1024


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


__all__ = ["activation_bytes", "rows_per_call"]
