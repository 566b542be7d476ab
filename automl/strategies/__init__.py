"""Ask/tell search strategies (no Ray here). Look them up by name with :func:`create_strategy`."""

from __future__ import annotations

from typing import Any

from automl.space import SearchSpace
from automl.strategies.base import Strategy
from automl.strategies.base import StrategyState


def create_strategy(name: str, space: SearchSpace, *, seed: int = 0, workers: int = 1,
                    settings: dict[str, Any] | None = None, source: str | None = None) -> Strategy:
    """Instantiate the registered strategy ``name`` (errors list the valid names); a plugin's
    comes inside a :class:`~automl.strategies.plugin_guard.PluginGuard`, so that what it
    raises while a search runs is one line naming it."""
    from automl.errors import PluginError
    from automl.errors import UserInputError
    from automl.registry import STRATEGIES
    from automl.registry import ensure_builtins
    from automl.strategies.plugin_guard import PluginGuard
    from automl.strategies.plugin_guard import plugin_call

    ensure_builtins()
    cls = STRATEGIES.get(name, source=source, key="strategy")
    entry = STRATEGIES.entry(name)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise PluginError(f"strategy {name!r} is not a subclass of automl.strategies.Strategy",
                          source=entry.source)
    try:
        if entry.is_builtin:
            return cls(space, seed=seed, workers=workers, **(settings or {}))
        inner = plugin_call(name, entry.source, "__init__",
                            lambda: cls(space, seed=seed, workers=workers, **(settings or {})))
    except UserInputError as exc:
        if exc.source is None and (exc.key or "").startswith("strategy"):
            exc.source = source  # a setting of the YAML's strategy block: name the file
            exc.args = (exc.one_line(),)
        raise
    return PluginGuard(inner, name=name, source=entry.source)


def check_strategy_block(space: SearchSpace) -> None:
    """The YAML ``strategy:`` block's settings checked against its strategy's ``Settings``
    (unknown keys, wrong types) and ranges (:meth:`Strategy.check_settings`), naming the
    space's file, without building the strategy (the name itself is checked when the space
    is read)."""
    from automl.errors import UserInputError
    from automl.registry import STRATEGIES
    from automl.registry import ensure_builtins
    from automl.strategies.base import make_settings

    block = dict(space.strategy)
    name = block.pop("name", None)
    ensure_builtins()
    if not name or name not in STRATEGIES.names():
        return
    cls = STRATEGIES.get(name)
    if isinstance(cls, type) and issubclass(cls, Strategy):
        settings = make_settings(cls.Settings, block, source=str(space.source))
        try:
            cls.check_settings(settings)
        except UserInputError as exc:
            exc.source = exc.source or str(space.source)
            exc.args = (exc.one_line(),)
            raise


__all__ = ["Strategy", "StrategyState", "check_strategy_block", "create_strategy"]
