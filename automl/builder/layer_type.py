"""The layer-type contract: what a building block accepts and how it builds.

A layer type declares its parameters (so spaces validate before anything trains), the tensor
kind it accepts, and a ``build`` function. The builder converts between kinds by a fixed rule
(see :mod:`automl.builder.build`), so every architecture a valid space produces builds.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Literal

from automl.registry._contracts import require_accepts
from automl.registry._registry import ContractViolation
from automl.space.params import Param
from automl.space.params import check_params

TensorKind = Literal["vector", "sequence", "image", "any"]
TENSOR_KINDS: tuple[str, ...] = ("vector", "sequence", "image", "any")


@dataclass(frozen=True)
class BuildContext:
    """What a layer's build function may need to know beyond its own parameters.

    Attributes:
        index: Position of the layer in the architecture (0-based).
        next_accepts: The kind the next shape-changing consumer wants: the next layer that is not
            ``any``, or ``"vector"`` for the task's head. Recurrent layers return sequences only
            when this is ``"sequence"``.
        seed: Seed of the child, for layers with their own randomness.
        pooling: The architecture's sequence-to-vector step (``avg``, ``max``, ``last``,
            ``attention``) or None for the default rule. Recurrent layers followed by a vector
            consumer return their sequences when it is ``avg``, ``max`` or ``attention``, so
            the pooling sees every step.
        inputs: The model's input tensor, with ``examples``.
        examples: Some training inputs, for layers whose initial weights depend on the data
            (``minirocket``'s biases); None when the model is built without data.
    """

    index: int
    next_accepts: str
    seed: int = 0
    pooling: str | None = None
    inputs: Any = None
    examples: Any = None

    def values(self, x: Any) -> Any:
        """The values of tensor ``x`` on :attr:`examples` (a NumPy array), or None without
        examples: the layers built so far, run as they are initialised."""
        if self.examples is None or self.inputs is None:
            return None
        if x is self.inputs:
            return self.examples
        import keras

        from automl.builder.chunks import outputs_in_chunks

        return outputs_in_chunks(keras.Model(self.inputs, x), self.examples)


@dataclass(frozen=True)
class LayerType:
    """A registered building block.

    Args:
        name: Name used in spaces (``layers.types.<name>``).
        params: Declared parameters, with allowed values and defaults.
        accepts: Tensor kind the layer takes: ``vector`` (batch, features), ``sequence``
            (batch, time, features), ``image`` (batch, height, width, channels) or ``any``.
        build: ``build(x, params, context) -> y`` on Keras tensors (functional API).
        label: ``label(params) -> str`` for one-line summaries, e.g. ``GRU(120,tanh)``.
        doc: One line for listings.
        returns_vector: Its output is always a vector, whatever follows it (when it is the
            last layer, the architecture's ``pooling`` is never used).
        frozen: Nothing in it trains and it freezes every layer below it (when it is the
            last layer and returns a vector, the child's head is fitted in closed form and the
            training settings of gradient descent do not apply).
        weightless: It has no weights at all (dropout, pooling over time): a child whose
            layers are all weightless or frozen has nothing to train below its head either.
        inference_identity: Outside training it passes its input through unchanged
            (dropout): below a closed-form head, fitted on the body's inference outputs, it
            changes nothing.

    The last four let :mod:`automl.training.equivalence` tell architectures apart only by what
    changes the child; they default to False, which never merges anything.
    """

    name: str
    build: Callable[[Any, Mapping[str, Any], BuildContext], Any]
    params: Mapping[str, Param] = field(default_factory=dict)
    accepts: str = "any"
    label: Callable[[Mapping[str, Any]], str] | None = None
    doc: str = ""
    returns_vector: bool = False
    frozen: bool = False
    weightless: bool = False
    inference_identity: bool = False

    def describe(self, params: Mapping[str, Any]) -> str:
        if self.label is not None:
            return self.label(params)
        inner = ",".join(str(params[k]) for k in self.params if k in params)
        return f"{self.name}({inner})" if inner else self.name


def check_layer(name: str, obj: Any) -> Any:
    """A :class:`~automl.builder.LayerType` whose ``build(x, params, context)`` is callable and
    whose parameters are declared with Param (so spaces validate before anything trains)."""
    if not isinstance(obj, LayerType):
        raise ContractViolation(f"must be an automl.builder.LayerType, got {type(obj).__name__}")
    if obj.name != name:
        raise ContractViolation(f"is registered under a different name than its "
                                f"LayerType.name {obj.name!r}")
    if not callable(obj.build):
        raise ContractViolation("build is not callable")
    require_accepts(obj.build, "build", "(x, params, context)", None, {}, None)
    check_params(obj.params, defaults_required=True)
    if obj.accepts not in TENSOR_KINDS:
        raise ContractViolation(f"accepts {obj.accepts!r}; allowed: "
                                f"{', '.join(map(repr, TENSOR_KINDS))}")
    for flag in ("returns_vector", "frozen", "weightless", "inference_identity"):
        if not isinstance(getattr(obj, flag), bool):  # a truthy string would merge children
            raise ContractViolation(f"{flag} is {getattr(obj, flag)!r}; allowed: True, False")
    if obj.label is not None:
        if not callable(obj.label):
            raise ContractViolation("label is not callable")
        require_accepts(obj.label, "label", "(params)", {})
    return obj
