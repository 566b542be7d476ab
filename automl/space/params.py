"""Declared parameters: what a layer type, task or setting accepts, so spaces validate early.

A plugin's layer type declares, for example, ``units = Param(int, min=1, default=64)`` and
``activation = Param(str, choices=("relu", "tanh"), default="relu")``; the space loader then
rejects ``units: [0]`` or ``activation: [rleu]`` before anything trains.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from automl.errors import allowed
from automl.errors import did_you_mean
from automl.errors import short

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
    """

    kind: type
    choices: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    default: Any = None
    doc: str = ""

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
