"""What TensorFlow keeps of every child a worker trains, and how the worker gives it back.

Each traced train step of a Keras model on TensorFlow registers a gradient function under a
fresh name (``CustomGradient-<uid>``, from the optimizer's all-reduce of the default
distribution strategy) in TensorFlow's process-wide gradient registry, which is never pruned.
The entry holds the traced graph, so every child left its whole ``FuncGraph`` behind: about
5 MB per child on the digits net, the "TensorFlow leak" workers are recycled for. Clearing
Keras' session does not touch the registry.

:class:`GradientRegistrySweep` notes the names present before a child and removes the ones the
child added once it is done (its model is gone; nothing can ask for those gradients again).
The registry is TensorFlow's private state: where it is not found, the sweep does nothing and
recycling workers (``recycle_after``) still bounds the growth.
"""

from __future__ import annotations

from typing import Any

PREFIX = "CustomGradient-"


def _registry() -> dict[str, Any] | None:
    try:
        from tensorflow.python.framework import ops
    except ImportError:
        return None
    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return registry if isinstance(registry, dict) else None


class GradientRegistrySweep:
    """``mark()`` before a child, ``sweep()`` after it: drops the child's custom gradients."""

    def __init__(self) -> None:
        self._before: set[str] | None = None

    def mark(self) -> None:
        registry = _registry()
        self._before = None if registry is None else set(registry)

    def sweep(self) -> int:
        """Remove the custom-gradient entries added since :meth:`mark`; returns how many."""
        registry = _registry()
        if registry is None or self._before is None:
            return 0
        added = [name for name in registry
                 if name.startswith(PREFIX) and name not in self._before]
        for name in added:
            del registry[name]
        self._before = None
        return len(added)


__all__ = ["GradientRegistrySweep"]
