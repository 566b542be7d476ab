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
* when the last layer is frozen (it freezes all below it) and returns a vector (so no
  attention pooling with weights of its own follows), the child's head is fitted in closed
  form (:mod:`automl.training.closed_form`): of ``train`` only
  :data:`~automl.training.closed_form.TRAIN_KEYS_USED` still count.
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
    types = [lookup(str(layer["type"])) for layer in architecture.layers]
    if not types or any(t is None for t in types):
        return form
    last = types[-1]
    assert last is not None
    if ("pooling" in form and last.returns_vector
            and all(t is not None and t.accepts != "vector" for t in types)):
        del form["pooling"]
    if last.frozen and last.returns_vector and "train" in form:
        form["train"] = {k: v for k, v in form["train"].items() if k in TRAIN_KEYS_USED}
    return form


def equivalence_key(architecture: Architecture, lookup: LayerLookup = registered_layer) -> str:
    """Equal for architectures whose children are the same: the architecture's own id when
    every decision counts, else ``~`` and the hash of :func:`effective_form`."""
    form = effective_form(architecture, lookup)
    if form == architecture.to_dict():
        return architecture.id
    return "~" + hashlib.sha256(canonical_json(form).encode()).hexdigest()[:12]


__all__ = ["effective_form", "equivalence_key", "registered_layer"]
