"""GPU set-up of TensorFlow in the two kinds of process: workers share GPUs, the driver uses none.

TensorFlow reserves nearly all memory of every GPU it sees at its first operation. A worker
given half a GPU (``--gpus-per-trial 0.5``; Ray sets its ``CUDA_VISIBLE_DEVICES``) would take
the whole card and the second child on it would fail, so workers turn on memory growth. The
driver runs TensorFlow only for the RL controllers, which are tiny: they hide every GPU from
TensorFlow before building their networks, so the driver never holds GPU memory the children
need (children trained in the driver by the in-process executor then run on the CPU too).
"""

from __future__ import annotations

import logging
from typing import Any

logger = logging.getLogger(__name__)


def enable_memory_growth(tf: Any) -> list[str]:
    """Let TensorFlow take GPU memory as it needs it; call before its first operation.
    Returns the names of the GPUs configured (none on a CPU machine)."""
    configured = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
            configured.append(gpu.name)
        except RuntimeError:  # already initialised: the setting can no longer change
            logger.warning("GPU memory growth could not be set for %s: TensorFlow was already "
                           "initialised in this process", gpu.name)
    return configured


def hide_gpus(tf: Any) -> bool:
    """Make TensorFlow in this process use no GPU (the driver). False if it was too late."""
    try:
        tf.config.set_visible_devices([], "GPU")
    except RuntimeError:  # already initialised (e.g. children trained in this process)
        return False
    return True


def tf_module() -> Any:
    """TensorFlow, imported on first use (this module itself imports nothing heavy)."""
    import tensorflow as tf

    return tf


__all__ = ["enable_memory_growth", "hide_gpus", "tf_module"]
