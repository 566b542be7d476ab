"""Name -> object registries for the four kinds of extension point.

Built-ins and plugins register through the same call, so a plugin layer is as first-class as
``dense``. A registry refuses duplicate names and lists the valid names in its errors.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from typing import Generic
from typing import TypeVar

from automl.errors import PluginError
from automl.errors import UserInputError
from automl.errors import allowed
from automl.errors import did_you_mean

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered object and where it came from (``builtin``, a package, or a file path)."""

    name: str
    kind: str
    source: str
    target: T | str
    version: str = ""

    def load(self) -> T:
        """Resolve a lazy ``"module:attr"`` target (so heavy imports happen only when chosen)."""
        if isinstance(self.target, str):
            module_name, _, attr = self.target.partition(":")
            return getattr(importlib.import_module(module_name), attr)  # type: ignore[no-any-return]
        return self.target


class Registry(Generic[T]):
    """Registry of one kind (``layer``, ``task``, ``reward`` or ``strategy``).

    Example:
        >>> from automl.registry import REWARDS
        >>> @REWARDS.register("double_accuracy")
        ... def double_accuracy(metrics, facts):
        ...     return 2 * metrics["accuracy"]
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self.current_source = "builtin"

    def register(
        self, name: str, obj: T | str | None = None, *, source: str | None = None
    ) -> Callable[[T], T] | T | str:
        """Register ``obj`` under ``name``; used bare as a call or as a decorator."""
        if obj is not None:
            self.add(name, obj, source=source)
            return obj

        def decorator(target: T) -> T:
            self.add(name, target, source=source)
            return target

        return decorator

    def add(self, name: str, obj: T | str, *, source: str | None = None) -> None:
        if not isinstance(name, str) or not name.isidentifier():
            raise PluginError(
                f"{self.kind} name {name!r} must be an identifier (letters, digits, underscores)",
                source=source or self.current_source,
            )
        origin = source or self.current_source
        if name in self._entries:
            first = self._entries[name].source
            raise PluginError(
                f"{self.kind} {name!r} is registered twice (first by {first})", source=origin
            )
        self._entries[name] = Entry(name=name, kind=self.kind, source=origin, target=obj)

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str, *, source: str | None = None, key: str | None = None) -> T:
        """Return the object for ``name``; unknown names list the valid ones."""
        return self.entry(name, source=source, key=key).load()

    def entry(self, name: str, *, source: str | None = None, key: str | None = None) -> Entry[T]:
        if name not in self._entries:
            raise UserInputError(
                f"unknown {self.kind} {name!r}{did_you_mean(name, self._entries)}; "
                f"allowed: {allowed(sorted(self._entries))}",
                source=source,
                key=key,
            )
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(list(self._entries.values()))

    def names(self) -> list[str]:
        return sorted(self._entries)


def restore(registries: dict[str, Registry[Any]], snapshot: dict[str, dict[str, Entry[Any]]]) -> None:
    """Put registries back as they were (tests and plugin reloads)."""
    for kind, registry in registries.items():
        registry._entries = dict(snapshot[kind])


def snapshot(registries: dict[str, Registry[Any]]) -> dict[str, dict[str, Entry[Any]]]:
    return {kind: dict(registry._entries) for kind, registry in registries.items()}
