"""A plugin's strategy held to the ask/tell contract while it runs.

Registration checks a plugin strategy's class (a :class:`Strategy` subclass with ``ask``,
``tell`` and a dataclass ``Settings``); what its methods do can only be seen when they run. A
plugin that raises, or whose ``ask`` returns something other than an
:class:`~automl.space.Architecture` (or None), would otherwise end a search with a traceback
from deep inside the loop that blames this project. :class:`PluginGuard` turns both into a
one-line :class:`StrategyFailed` naming the plugin, the method and the error; the exception
keeps the plugin's own as its ``__cause__`` for its author.

The guard keeps no state: its checkpoint is the plugin's own, so runs made before it existed
resume unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from typing import TypeVar

from automl.errors import AutomlError
from automl.errors import PluginError
from automl.space import Architecture
from automl.strategies.base import Strategy
from automl.strategies.base import StrategyState
from automl.strategies.wrappers import StrategyWrapper

T = TypeVar("T")


class StrategyFailed(PluginError):
    """A plugin strategy raised, or broke the ask/tell contract, while a search ran it."""


def plugin_call(name: str, source: str, method: str, call: Callable[[], T]) -> T:
    """``call()``, with anything but the project's own errors as a :class:`StrategyFailed`
    naming strategy ``name`` of plugin ``source`` and its ``method``."""
    try:
        return call()
    except AutomlError:
        raise
    except Exception as exc:
        raise StrategyFailed(f"{method}() raised {type(exc).__name__}: {exc}",
                             source=f"{source}: strategy {name!r}") from exc


class PluginGuard(StrategyWrapper):
    """Delegates to ``inner`` (a plugin's strategy named ``name`` from ``source``)."""

    def __init__(self, inner: Strategy, *, name: str, source: str):  # noqa: D107
        super().__init__(inner)
        self.name = name
        self.source = source

    def _call(self, method: str, call: Callable[[], T]) -> T:
        return plugin_call(self.name, self.source, method, call)

    def set_budget(self, trials: int) -> None:
        self.budget = int(trials)
        self._call("set_budget", lambda: self.inner.set_budget(trials))

    def ask(self, trial_id: int) -> Architecture | None:
        architecture = self._call("ask", lambda: self.inner.ask(trial_id))
        if architecture is not None and not isinstance(architecture, Architecture):
            raise StrategyFailed(f"ask() returned {type(architecture).__name__}; expected an "
                                 "automl.space.Architecture (e.g. from self.space.sample) or "
                                 "None", source=f"{self.source}: strategy {self.name!r}")
        return architecture

    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        self._call("tell", lambda: self.inner.tell(trial_id, architecture, reward))

    def progress(self) -> dict[str, float] | None:
        return self._call("progress", self.inner.progress)

    def state_dict(self) -> StrategyState:
        return self._call("state_dict", self.inner.state_dict)

    def load_state_dict(self, state: StrategyState) -> None:
        self._call("load_state_dict", lambda: self.inner.load_state_dict(state))

    def __getattr__(self, attribute: str) -> Any:  # anything else a caller reads
        if attribute == "inner":  # not set yet (a copy being made): no endless recursion
            raise AttributeError(attribute)
        return getattr(self.inner, attribute)


__all__ = ["PluginGuard", "StrategyFailed", "plugin_call"]
