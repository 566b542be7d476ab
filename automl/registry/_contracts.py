"""The contract of each kind, checked when an object is registered.

A broken plugin should fail when it is discovered, with a message that names the plugin and the
problem, not an hour into a search when the first child that uses it is built. Each check raises
:class:`ContractViolation` with the problem (the registry adds the kind, the name and the source)
and returns the object to store, possibly normalised.

The contract classes are imported inside the checks: the registry package imports nothing of the
rest of automl at import time, and none of these imports TensorFlow.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from collections.abc import Mapping
from typing import Any

from automl.registry._registry import ContractViolation

PARAM_KINDS = (int, float, bool, str)


def _signature(fn: Callable[..., Any], what: str) -> inspect.Signature:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        raise ContractViolation(f"{what} has no inspectable signature") from None


def _accepts(fn: Callable[..., Any], what: str, shape: str, *args: Any, **kwargs: Any) -> None:
    signature = _signature(fn, what)
    try:
        signature.bind(*args, **kwargs)
    except TypeError:
        raise ContractViolation(
            f"{what} must accept {shape}; its signature is {signature}") from None


def check_params(params: Any, *, defaults_required: bool) -> dict[str, Any]:
    """Declared parameters: a mapping of identifiers to :class:`~automl.space.params.Param`.

    Args:
        params: The declared parameters.
        defaults_required: Layer parameters need a valid default (a space that omits one gets
            it); task and reward parameters may default to None ("not given").
    """
    from automl.space.params import Param

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


def check_layer(name: str, obj: Any) -> Any:
    """A :class:`~automl.builder.LayerType` whose ``build(x, params, context)`` is callable and
    whose parameters are declared with Param (so spaces validate before anything trains)."""
    from automl.builder.layer_type import TENSOR_KINDS
    from automl.builder.layer_type import LayerType

    if not isinstance(obj, LayerType):
        raise ContractViolation(f"must be an automl.builder.LayerType, got {type(obj).__name__}")
    if obj.name != name:
        raise ContractViolation(f"is registered under a different name than its "
                                f"LayerType.name {obj.name!r}")
    if not callable(obj.build):
        raise ContractViolation("build is not callable")
    _accepts(obj.build, "build", "(x, params, context)", None, {}, None)
    check_params(obj.params, defaults_required=True)
    if obj.accepts not in TENSOR_KINDS:
        raise ContractViolation(f"accepts {obj.accepts!r}; allowed: "
                                f"{', '.join(map(repr, TENSOR_KINDS))}")
    if obj.label is not None:
        if not callable(obj.label):
            raise ContractViolation("label is not callable")
        _accepts(obj.label, "label", "(params)", {})
    return obj


def check_task(name: str, obj: Any) -> Any:
    """A :class:`~automl.tasks.Task` instance (a Task subclass is instantiated) that implements
    ``load``, declares its parameters, its output and a default reward."""
    from automl.tasks.task import Task

    if isinstance(obj, type) and issubclass(obj, Task):
        try:
            obj = obj()
        except Exception as exc:  # noqa: BLE001 (a failing constructor is a contract problem)
            raise ContractViolation(f"cannot be instantiated without arguments "
                                    f"({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, Task):
        raise ContractViolation(f"must be an automl.tasks.Task (instance or subclass), got "
                                f"{type(obj).__name__}")
    if type(obj).load is Task.load:
        raise ContractViolation("does not implement load(params, *, base_dir, seed)")
    _accepts(obj.load, "load", "(params, *, base_dir, seed)", {}, base_dir=None, seed=0)
    _accepts(obj.prepare, "prepare", "(data, params)", None, {})
    if not obj.name:
        obj.name = name
    elif obj.name != name:
        raise ContractViolation(f"is registered under a different name than its "
                                f"Task.name {obj.name!r}")
    check_params(obj.params, defaults_required=False)
    if obj.output not in ("classification", "regression"):
        raise ContractViolation(f"output {obj.output!r}; allowed: 'classification', "
                                "'regression'")
    if not isinstance(obj.default_reward, str) or not obj.default_reward.isidentifier():
        raise ContractViolation(f"default_reward {obj.default_reward!r} is not a reward name")
    if not isinstance(obj.loss, str) or not obj.loss:
        raise ContractViolation(f"loss {obj.loss!r} is not a Keras loss name")
    return obj


def check_reward(name: str, obj: Any) -> Any:
    """A :class:`~automl.training.rewards.Reward`, or a function ``fn(metrics, facts,
    **params)`` whose keyword parameters with defaults become its declared parameters."""
    from automl.space.params import Param
    from automl.training.rewards import Reward

    if not isinstance(obj, Reward):
        if not callable(obj) or isinstance(obj, type):
            raise ContractViolation(f"must be an automl.training.rewards.Reward or a function "
                                    f"fn(metrics, facts, **params), got {type(obj).__name__}")
        params = {}
        parameters = list(_signature(obj, "the reward function").parameters.values())
        for parameter in parameters[2:]:
            if parameter.default is inspect.Parameter.empty or parameter.kind not in (
                    parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY):
                continue
            if type(parameter.default) not in PARAM_KINDS:
                raise ContractViolation(
                    f"parameter {parameter.name!r} has default {parameter.default!r}; declare "
                    "it with Reward(name, fn, params={...: Param(...)}) instead")
            params[parameter.name] = Param(type(parameter.default), default=parameter.default)
        doc = (inspect.getdoc(obj) or "").strip().splitlines()
        obj = Reward(name, obj, params, doc=doc[0] if doc else "")
    if obj.name != name:
        raise ContractViolation(f"is registered under a different name than its Reward.name "
                                f"{obj.name!r}")
    if not callable(obj.fn):
        raise ContractViolation("fn is not callable")
    params = check_params(obj.params, defaults_required=False)
    shape = "(metrics, facts, **params)" + (f" with params {', '.join(params)}" if params else "")
    _accepts(obj.fn, "fn", shape, {}, {}, **{k: p.default for k, p in params.items()})
    return obj


def check_strategy(name: str, obj: Any) -> Any:
    """A subclass of :class:`~automl.strategies.Strategy` that implements ask and tell and has a
    dataclass ``Settings``; or a lazy ``"module:Class"`` string (checked when it is chosen)."""
    import dataclasses

    if isinstance(obj, str):
        module, _, attr = obj.partition(":")
        if not module or not attr:
            raise ContractViolation(f"lazy target {obj!r} must look like 'package.module:Class'")
        return obj
    from automl.strategies.base import Strategy

    if not (isinstance(obj, type) and issubclass(obj, Strategy)):
        raise ContractViolation(f"must be a subclass of automl.strategies.Strategy, got "
                                f"{obj!r}")
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        raise ContractViolation(f"does not implement {missing}")
    if not dataclasses.is_dataclass(obj.Settings):
        raise ContractViolation("Settings must be a dataclass (one field per setting)")
    return obj


CONTRACTS: dict[str, Callable[[str, Any], Any]] = {
    "layer": check_layer,
    "task": check_task,
    "reward": check_reward,
    "strategy": check_strategy,
}
