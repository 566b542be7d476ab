"""Declared parameters: what a layer type, task or setting accepts, so spaces validate early.

A plugin's layer type declares, for example, ``units = Param(int, min=1, default=64)`` and
``activation = Param(str, choices=("relu", "tanh"), default="relu")``; the space loader then
rejects ``units: [0]`` or ``activation: [rleu]`` before anything trains.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from automl.errors import allowed
from automl.errors import did_you_mean
from automl.errors import short
from automl.registry._contracts import PARAM_KINDS
from automl.registry._registry import ContractViolation

_KINDS: dict[type, str] = {
    int: "an integer", float: "a number", bool: "true or false", str: "a string"}


@dataclass(frozen=True)
class Param:
    """One parameter a building block accepts.

    Args:
        kind: ``int``, ``float``, ``bool`` or ``str``.
        choices: The only values allowed, if the parameter is categorical.
        min: Smallest allowed value (numbers only), inclusive.
        max: Largest allowed value (numbers only), inclusive.
        default: Value used when a space does not mention the parameter.
        doc: One line for ``automl plugins list`` and the docs.
        required: A space must give it (a task's data file or data set): its absence is
            refused when the space is read, not when the data is loaded.
    """

    kind: type
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    default: Any = None
    doc: str = ""
    required: bool = False

    def check(self, value: Any) -> str | None:
        """Return why ``value`` is not allowed, or None when it is."""
        if self.kind is bool:
            ok = isinstance(value, bool)
        elif self.kind is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif self.kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            ok = ok and math.isfinite(value)
        else:
            ok = isinstance(value, self.kind)
        if not ok:
            return f"{short(value)} is not {_KINDS.get(self.kind, self.kind.__name__)}"
        if self.choices is not None and value not in self.choices:
            return (
                f"{short(value)} is not allowed{did_you_mean(value, map(str, self.choices))}; "
                f"allowed: {allowed(self.choices)}"
            )
        if self.min is not None and value < self.min:
            return f"{short(value)} is below the minimum {self.min}"
        if self.max is not None and value > self.max:
            return f"{short(value)} is above the maximum {self.max}"
        return None

    def normalise(self, value: Any) -> Any:
        """Return the value in its canonical Python type (e.g. 1 -> 1.0 for floats)."""
        return float(value) if self.kind is float else value


def check_params(params: Any, *, defaults_required: bool) -> dict[str, Any]:
    """Declared parameters: a mapping of identifiers to :class:`~automl.space.params.Param`.

    Args:
        params: The declared parameters.
        defaults_required: Layer parameters need a valid default (a space that omits one gets
            it); task and reward parameters may default to None ("not given").
    """
    if not isinstance(params, Mapping):
        raise ContractViolation(f"params must be a mapping of names to Param, got "
                                f"{type(params).__name__}")
    for key, param in params.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ContractViolation(f"parameter name {key!r} is not an identifier")
        if not isinstance(param, Param):
            raise ContractViolation(f"parameter {key!r} must be an automl.space.Param, got "
                                    f"{type(param).__name__}")
        if param.kind not in PARAM_KINDS:
            raise ContractViolation(f"parameter {key!r} has kind {param.kind!r}; allowed: int, "
                                    "float, bool, str")
        for choice in param.choices or ():
            problem = param.check(choice)
            if problem:
                raise ContractViolation(f"parameter {key!r} choice {problem}")
        if param.default is None and not defaults_required:
            continue
        problem = param.check(param.default)
        if problem:
            raise ContractViolation(f"parameter {key!r} default {problem}")
    return dict(params)
