"""Which decisions of an architecture change its child, so that children which differ only in
decisions that do nothing are one architecture to the search.

Why: on ACSF1 (seed 0, 30 trials) six children were MiniRocket alone under every pooling and
learning rate of the space. Pooling after a layer that already gives a vector is never applied,
and the learning rate of a child whose head is fitted in closed form is never read, so the six
were one child trained six times, at the price of five trials the search could have spent on
architectures it had not seen. Keyed by :func:`equivalence_key`, the search loop's
``NoRepeats`` wrapper answers such a proposal from memory, as it does an exact repeat.

The rules follow what the builder and the trainer do, from what layer types declare
(:class:`~automl.builder.LayerType`'s ``returns_vector`` and ``frozen``; both False unless a
type says otherwise, so an undeclared or unknown type merges nothing):

* ``pooling`` does nothing when the last layer returns a vector and no layer takes a vector
  (nothing converts a sequence to a vector on the way, and recurrent layers only read the
  pooling before a vector consumer);
* when nothing below the head trains, the child's head is fitted in closed form
  (:mod:`automl.training.closed_form`): of ``train`` only
  :data:`~automl.training.closed_form.TRAIN_KEYS_USED` still count. Nothing trains when every
  layer is ``weightless`` or at or below a ``frozen`` one, and no attention pooling (which has
  weights) turns a sequence into the head's vector;
* below a closed-form head, ``inference_identity`` layers (dropout) count for nothing: the head
  is fitted on the body's outputs outside training, where they pass their input through.

On the README's quickstart space (digits, seed 0, 8 trials) five of the eight children were
dropout alone under one rate or another, one child trained five times, before these last two
rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from automl.builder import LayerType
from automl.errors import UserInputError
from automl.space import Architecture
from automl.space.architecture import canonical_json
from automl.training.closed_form import TRAIN_KEYS_USED

LayerLookup = Callable[[str], "LayerType | None"]


def registered_layer(name: str) -> LayerType | None:
    """The registered layer type ``name``, or None when there is none (a table's space may name
    types no plugin of this process registers)."""
    from automl.registry import LAYERS
    from automl.registry import ensure_builtins

    ensure_builtins()
    try:
        return LAYERS.get(name)
    except UserInputError:
        return None


def effective_form(architecture: Architecture,
                   lookup: LayerLookup = registered_layer) -> dict[str, Any]:
    """The canonical form of ``architecture`` less the decisions that do not change its child."""
    form = architecture.to_dict()
    found = [lookup(str(layer["type"])) for layer in architecture.layers]
    types = [t for t in found if t is not None]
    if len(types) < len(found):
        return form
    if ("pooling" in form and types and types[-1].returns_vector
            and all(t.accepts != "vector" for t in types)):
        del form["pooling"]
    if _head_in_closed_form(types, form.get("pooling")):
        if "train" in form:
            form["train"] = {k: v for k, v in form["train"].items() if k in TRAIN_KEYS_USED}
        if "layers" in form:
            form["layers"] = [layer for layer, t in zip(form["layers"], types, strict=True)
                              if not t.inference_identity]
    return form


def _head_in_closed_form(types: list[LayerType], pooling: str | None) -> bool:
    """Whether nothing below the head trains (the trainer's ``has_fixed_body``): every layer
    weightless or frozen by one at or above it, and no attention pooling (``pooling`` is
    None when no pooling applies)."""
    frozen_up_to = max((i for i, t in enumerate(types) if t.frozen), default=-1)
    trains = any(i > frozen_up_to and not t.weightless for i, t in enumerate(types))
    return not trains and pooling != "attention"


def equivalence_key(architecture: Architecture, lookup: LayerLookup = registered_layer) -> str:
    """Equal for architectures whose children are the same: the architecture's own id when
    every decision counts, else ``~`` and the hash of :func:`effective_form`."""
    form = effective_form(architecture, lookup)
    if form == architecture.to_dict():
        return architecture.id
    return "~" + hashlib.sha256(canonical_json(form).encode()).hexdigest()[:12]


__all__ = ["effective_form", "equivalence_key", "registered_layer"]
