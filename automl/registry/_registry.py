"""Name -> object registries for the four kinds of extension point.

Built-ins and plugins register through the same call, so a plugin layer is as first-class as
``dense``. A registry refuses duplicate names, checks each object against its kind's contract
when it is registered (so a broken plugin fails at discovery, not in the middle of a search),
and lists the valid names in its errors.

Where an object came from is known without the plugin saying so: discovery opens a
:func:`loading` session around each plugin it imports, and everything registered inside the
session is attributed to that plugin (and rolled back if the plugin fails half-way).
"""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Generic
from typing import TypeVar

from automl.errors import PluginError
from automl.errors import UserInputError
from automl.errors import allowed
from automl.errors import did_you_mean

T = TypeVar("T")

BUILTIN = "builtin"

Contract = Callable[[str, Any], Any]
"""``contract(name, obj) -> obj``: validate (raise :class:`ContractViolation`) and normalise."""


class ContractViolation(Exception):
    """Raised by a contract check; the registry turns it into a PluginError naming the source."""


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

    @property
    def is_builtin(self) -> bool:
        return self.source == BUILTIN


@dataclass(frozen=True)
class Blocked:
    """A name that a broken plugin would have provided: looking it up explains why it is missing.

    Attributes:
        source: The broken plugin (its path, or its distribution and version).
        reason: Why it is broken (import error, duplicate name, contract violation).
        ambiguous: The name is also registered by another plugin, and the broken one tried to
            register it again: which of the two the user meant cannot be known, so the name is
            refused rather than silently resolved to the first.
    """

    source: str
    reason: str
    ambiguous: bool = False


@dataclass
class LoadSession:
    """What one plugin source registered while it was being imported."""

    source: str
    version: str = ""
    added: list[tuple[str, str]] = field(default_factory=list)
    """(kind, name) of each object registered, in order."""
    failed: tuple[str, str] | None = None
    """(kind, name) whose registration was refused (duplicate or contract violation)."""


_SESSIONS: list[LoadSession] = []


@contextlib.contextmanager
def loading(source: str, version: str = "") -> Iterator[LoadSession]:
    """Attribute everything registered inside the block to plugin ``source``."""
    session = LoadSession(source, version)
    _SESSIONS.append(session)
    try:
        yield session
    finally:
        _SESSIONS.remove(session)


def _caller_source() -> str:
    """Source of a registration made outside a discovery session: built-in for automl's own
    modules, else the registering module (a test, a notebook, a plugin imported by hand)."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").startswith(
            "automl.registry"):
        frame = frame.f_back  # type: ignore[assignment]
    module = frame.f_globals.get("__name__", "") if frame is not None else ""
    if module == "automl" or module.startswith("automl."):
        return BUILTIN
    return f"module {module}" if module else "unknown"


class Registry(Generic[T]):
    """Registry of one kind (``layer``, ``task``, ``reward`` or ``strategy``).

    Args:
        kind: The kind, used in every message.
        contract: ``contract(name, obj) -> obj`` run on every registration, or its
            ``"module:function"`` name (imported on first use, so the registry imports nothing
            of the kinds); it raises :class:`ContractViolation` with the problem, and may
            normalise the object (a plain reward function becomes a Reward).

    Example:
        >>> from automl.registry import REWARDS
        >>> @REWARDS.register("double_accuracy")
        ... def double_accuracy(metrics, facts):
        ...     return 2 * metrics["accuracy"]
    """

    def __init__(self, kind: str, contract: Contract | str | None = None):
        self.kind = kind
        self._contract = contract
        self._entries: dict[str, Entry[T]] = {}
        self._blocked: dict[str, Blocked] = {}

    def register(
        self, name: str, obj: T | str | None = None, *, source: str | None = None
    ) -> Callable[[T], T] | T | str:
        """Register ``obj`` under ``name``; used bare as a call or as a decorator.

        Raises:
            PluginError: the name is taken, is not an identifier, or ``obj`` breaks the
                contract of this kind; the message names the source and the problem.
        """
        if obj is not None:
            self.add(name, obj, source=source)
            return obj

        def decorator(target: T) -> T:
            self.add(name, target, source=source)
            return target

        return decorator

    def add(self, name: str, obj: T | str, *, source: str | None = None) -> None:
        session = _SESSIONS[-1] if _SESSIONS else None
        origin = source or (session.source if session else _caller_source())
        version = session.version if session else ""
        try:
            if not isinstance(name, str) or not name.isidentifier():
                raise ContractViolation("the name must be an identifier (letters, digits, "
                                        "underscores)")
            if name in self._entries:
                raise ContractViolation(
                    f"is registered twice (first by {self._entries[name].source})")
            if self.contract is not None:
                obj = self.contract(name, obj)
        except ContractViolation as exc:
            if session is not None:
                session.failed = (self.kind, str(name))
            raise PluginError(f"{self.kind} {name!r} {exc}", source=origin) from None
        self._entries[name] = Entry(name=name, kind=self.kind, source=origin, target=obj,
                                    version=version)
        if session is not None:
            session.added.append((self.kind, name))

    @property
    def contract(self) -> Contract | None:
        """The contract check (resolved from its ``"module:function"`` name on first use)."""
        if isinstance(self._contract, str):
            module, _, attr = self._contract.partition(":")
            self._contract = getattr(importlib.import_module(module), attr)
        return self._contract  # type: ignore[return-value]

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)

    def get(self, name: str, *, source: str | None = None, key: str | None = None) -> T:
        """Return the object for ``name``; unknown names list the valid ones. A plugin's lazy
        ``"module:attr"`` target is imported now and held to this kind's contract: a missing
        module or attribute, or an object that breaks the contract, is a PluginError naming
        the plugin."""
        entry = self.entry(name, source=source, key=key)
        if not isinstance(entry.target, str) or entry.is_builtin:
            return entry.load()
        try:
            obj = entry.load()
        except Exception as exc:  # noqa: BLE001 - any import failure of plugin code
            raise PluginError(f"{self.kind} {name!r}: cannot load {entry.target!r} "
                              f"({exc.__class__.__name__}: {exc})", source=entry.source,
                              ) from None
        if self.contract is not None:
            try:
                obj = self.contract(name, obj)
            except ContractViolation as exc:
                raise PluginError(f"{self.kind} {name!r} ({entry.target}) {exc}",
                                  source=entry.source) from None
        return obj  # type: ignore[no-any-return]

    def entry(self, name: str, *, source: str | None = None, key: str | None = None) -> Entry[T]:
        """Return the entry for ``name``.

        Raises:
            PluginError: ``name`` would come from a broken plugin (the message names it, its
                source and the problem).
            UserInputError: ``name`` is unknown; the message lists the valid names.
        """
        blocked = self._blocked.get(name)
        if blocked is not None and (name not in self._entries or blocked.ambiguous):
            if blocked.ambiguous:
                message = (f"{self.kind} {name!r} is registered by "
                           f"{self._entries[name].source} and again by broken plugin "
                           f"{blocked.source} ({blocked.reason}); remove one of them")
            else:
                message = (f"{self.kind} {name!r} comes from plugin {blocked.source}, which "
                           f"is broken: {blocked.reason}")
            raise PluginError(message, source=source, key=key)
        if name not in self._entries:
            raise UserInputError(
                f"unknown {self.kind} {name!r}{did_you_mean(name, self._entries)}; "
                f"allowed: {allowed(sorted(self._entries))}",
                source=source,
                key=key,
            )
        return self._entries[name]

    # ------------------------------------------------------------------ broken plugins
    def block(self, name: str, blocked: Blocked) -> None:
        """Make looking ``name`` up explain that the plugin providing it is broken."""
        self._blocked.setdefault(name, blocked)

    def unblock(self, source: str) -> None:
        """Forget the names blocked on behalf of plugin ``source``."""
        self._blocked = {n: b for n, b in self._blocked.items() if b.source != source}

    def blocked(self) -> dict[str, Blocked]:
        return dict(self._blocked)

    # ------------------------------------------------------------------ listing
    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[Entry[T]]:
        return iter(list(self._entries.values()))

    def names(self) -> list[str]:
        return sorted(self._entries)


def restore(registries: dict[str, Registry[Any]],
            snapshot: dict[str, dict[str, Entry[Any]]]) -> None:
    """Put registries back as they were (tests and plugin reloads)."""
    for kind, registry in registries.items():
        registry._entries = dict(snapshot[kind])


def snapshot(registries: dict[str, Registry[Any]]) -> dict[str, dict[str, Entry[Any]]]:
    return {kind: dict(registry._entries) for kind, registry in registries.items()}
