"""Helpers for the contract checks that each kind defines beside its class.

A broken plugin should fail when it is discovered, with a message that names the plugin and the
problem, not an hour into a search when the first child that uses it is built. Each kind's check
(``builder.layer_type.check_layer``, ``tasks.task.check_task``,
``training.rewards.check_reward``, ``strategies.base.check_strategy``) raises
:class:`ContractViolation` with the problem (the registry adds the kind, the name and the
source) and returns the object to store, possibly normalised. The registry names each check by
``"module:function"`` and imports it on first use: it knows nothing of the kinds.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from automl.registry._registry import ContractViolation

PARAM_KINDS = (int, float, bool, str)
"""Types a declared parameter may have."""


def signature_of(fn: Callable[..., Any], what: str) -> inspect.Signature:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        raise ContractViolation(f"{what} has no inspectable signature") from None


def require_accepts(fn: Callable[..., Any], what: str, shape: str, *args: Any,
                    **kwargs: Any) -> None:
    """Raise unless ``fn`` can be called with ``args`` and ``kwargs`` (described as ``shape``)."""
    signature = signature_of(fn, what)
    try:
        signature.bind(*args, **kwargs)
    except TypeError:
        raise ContractViolation(
            f"{what} must accept {shape}; its signature is {signature}") from None


__all__ = ["ContractViolation", "PARAM_KINDS", "require_accepts", "signature_of"]
