"""Architectures: canonical JSON form, flat encoding and stable short id.

The canonical form is the JSON object the builder reads::

    {"layers": [{"type": "gru", "units": 120, "activation": "tanh", "bidirectional": false},
                {"type": "dense", "units": 80, "activation": "relu"}],
     "train": {"optimizer": "adam", "learning_rate": 0.001, "batch_size": 32, "epochs": 10}}

plus ``"task"`` (searched task parameters), ``"decisions"`` (plain categorical decisions) and
``"pooling"`` (the sequence-to-vector step) when the space has them. The *flat encoding* maps
decision names to values::

    num_layers=2, layers.0.type=gru, layers.0.units=120, ..., train.learning_rate=0.001

and the id is the first 12 hex digits of the SHA-256 of the canonical JSON (sorted keys, no
spaces), so the same architecture has the same id in every run, table and export.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

ARCH_ID_LENGTH = 12
"""Hex digits of an architecture id (a prefix of the SHA-256 of its canonical JSON)."""


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the form that is hashed."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _plain_label(layer: Mapping[str, Any]) -> str:
    values = [str(v) for k, v in layer.items() if k != "type"]
    return f"{layer['type']}({','.join(values)})" if values else str(layer["type"])


@dataclass(frozen=True)
class Architecture:
    """One child: its layers, training settings, searched task parameters and plain decisions.

    Build one with :meth:`SearchSpace.architecture` or :meth:`SearchSpace.from_flat`; it is
    immutable and hashable by :attr:`id`.
    """

    layers: tuple[Mapping[str, Any], ...] = ()
    train: Mapping[str, Any] = field(default_factory=dict)
    task: Mapping[str, Any] = field(default_factory=dict)
    decisions: Mapping[str, Any] = field(default_factory=dict)
    has_layers: bool = True
    pooling: str | None = None
    """How a sequence becomes a vector (``avg``, ``max``, ``last``, ``attention``); None: the
    builder's default rule (recurrent layers give their last state, others average)."""

    def to_dict(self) -> dict[str, Any]:
        """The canonical form (a fresh, JSON-serialisable dict)."""
        out: dict[str, Any] = {}
        if self.has_layers:
            out["layers"] = [dict(layer) for layer in self.layers]
        if self.pooling is not None:
            out["pooling"] = self.pooling
        if self.train:
            out["train"] = dict(self.train)
        if self.task:
            out["task"] = dict(self.task)
        if self.decisions:
            out["decisions"] = dict(self.decisions)
        return out

    def to_json(self) -> str:
        return canonical_json(self.to_dict())

    @property
    def id(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:ARCH_ID_LENGTH]

    @property
    def flat(self) -> dict[str, Any]:
        """The flat encoding: decision name -> value, in decision order."""
        flat: dict[str, Any] = {}
        if self.has_layers:
            flat["num_layers"] = len(self.layers)
            for i, layer in enumerate(self.layers):
                flat[f"layers.{i}.type"] = layer["type"]
                for key, value in layer.items():
                    if key != "type":
                        flat[f"layers.{i}.{key}"] = value
            if self.pooling is not None:
                flat["layers.pooling"] = self.pooling
        flat.update({f"train.{k}": v for k, v in self.train.items()})
        flat.update({f"task.{k}": v for k, v in self.task.items()})
        flat.update(self.decisions)
        return flat

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Architecture:
        """Rebuild from the canonical form (as stored in the run database)."""
        return cls(
            layers=tuple(dict(layer) for layer in data.get("layers", ())),
            train=dict(data.get("train", {})),
            task=dict(data.get("task", {})),
            decisions=dict(data.get("decisions", {})),
            has_layers="layers" in data,
            pooling=data.get("pooling"),
        )

    @classmethod
    def from_json(cls, text: str) -> Architecture:
        return cls.from_dict(json.loads(text))

    def summary(self, label: Callable[[Mapping[str, Any]], str] | None = None,
                train_keys: Iterable[str] = ()) -> str:
        """One line such as ``gru(120,tanh) > dense(80,relu) | learning_rate=0.01``.

        An architecture is a plain value and knows no layer types: ``label(layer)`` writes one
        layer (its dict, ``type`` included). The default writes the type and its values; the
        builder's :func:`automl.builder.describe` passes each layer type's own label
        (``GRU(120,tanh)``). ``train_keys``: the training settings to show (those the space
        searches; the fixed ones are the same for every child).
        """
        parts = [label(layer) if label is not None else _plain_label(layer)
                 for layer in self.layers]
        if self.pooling is not None:
            parts.append(f"pool:{self.pooling}")
        text = " > ".join(parts)
        searched = {k: self.train[k] for k in train_keys if k in self.train}
        extras = [f"{k}={v}" for k, v in {**self.task, **self.decisions, **searched}.items()]
        if extras:
            text = (text + " | " if text else "") + " ".join(extras)
        return text or "(empty)"

    def __hash__(self) -> int:
        return hash(self.to_json())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Architecture) and self.to_json() == other.to_json()
