"""The ask/tell strategy interface. It knows nothing of Ray or Keras models.

The search loop calls ``ask(trial_id)`` for each free worker and ``tell(trial_id,
architecture, reward)`` when a child finishes, in any order. ``tell`` always carries the
architecture, so a strategy can learn from results it did not propose in this process (replayed
after a resume, or cached from an earlier trial). ``reward is None`` means the child failed. A
child the scheduler stopped early (``--scheduler asha``) is told the reward of its model at the
epoch it stopped at, a low-fidelity value; the store flags it (status ``stopped``).

State is saved as JSON-able ``meta`` plus named NumPy ``arrays`` (never pickle); see
:mod:`automl.store.checkpoint`.
"""

from __future__ import annotations

import dataclasses
import inspect
from abc import ABC
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import ClassVar

import numpy as np

from automl.errors import UserInputError
from automl.errors import allowed
from automl.errors import did_you_mean
from automl.registry._registry import ContractViolation
from automl.space import Architecture
from automl.space import SearchSpace

MAX_NETWORK_UNITS = 4096
"""Largest layer a learner's own network (REINFORCE's LSTM, DQN's Q-network) may have: its
controller proposes architectures, it is not one; a typo of 10**8 would end the search in
an out-of-memory error rather than here."""


@dataclass
class StrategyState:
    """A strategy's checkpoint: JSON-able values and named arrays (weights, buffers)."""

    meta: dict[str, Any] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class NoSettings:
    """A strategy without settings."""


class Strategy(ABC):
    """Base class of search strategies.

    Subclasses set ``Settings`` to a dataclass whose fields (with defaults and one docstring
    each) are the settings a user may give under ``strategy:`` in the YAML.

    Args:
        space: The search space to propose from.
        seed: Seed of every random choice the strategy makes.
        workers: Number of children trained at once (batch-based strategies use it).
        settings: Values for the fields of ``Settings``.
    """

    Settings: ClassVar[type] = NoSettings

    def __init__(self, space: SearchSpace, *, seed: int = 0, workers: int = 1,
                 **settings: Any):
        self.space = space
        self.seed = seed
        self.workers = workers
        self.settings = make_settings(self.Settings, settings, source=None)
        self.check_settings(self.settings)
        self.rng = np.random.default_rng(seed)
        self.budget: int | None = None

    @classmethod
    def check_settings(cls, settings: Any) -> None:
        """Refuse settings outside their range with a UserInputError keyed ``strategy.NAME``
        and no source (the caller names the YAML file). Unknown keys and wrong types are
        refused by :func:`make_settings`; ``automl spaces validate`` runs both, without
        building the strategy."""
        return None  # most strategies: any value of the right type works

    def set_budget(self, trials: int) -> None:
        """Told by the search loop before the first ask (and again on resume): the number of
        trials the search will run, so schedules (exploration, entropy) scale with the search
        instead of assuming a fixed length. Like Ray Tune's ``set_search_properties``."""
        self.budget = int(trials)

    @abstractmethod
    def ask(self, trial_id: int) -> Architecture | None:
        """Propose the architecture for ``trial_id``, or None for "not now, ask again later"."""

    @abstractmethod
    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        """Receive the reward of a finished child (None if it failed)."""

    def state_dict(self) -> StrategyState:
        """Everything needed to continue exactly where the strategy is (RNG included)."""
        return StrategyState(meta={"rng": self.rng.bit_generator.state})

    def load_state_dict(self, state: StrategyState) -> None:
        self.rng.bit_generator.state = state.meta["rng"]

    def progress(self) -> dict[str, float] | None:
        """Statistics of the update made by the last ``tell``, if it made one (then cleared)."""
        return None


def make_settings(settings_class: type, values: Mapping[str, Any], *,
                  source: str | None) -> Any:
    """Build a settings dataclass, refusing unknown keys and wrong types with one line."""
    fields = {f.name: f for f in dataclasses.fields(settings_class)}
    for key in values:
        if key not in fields:
            raise UserInputError(
                f"unknown setting {key!r}{did_you_mean(key, fields)}; "
                f"allowed: {allowed(fields) or 'none'}", source=source, key=f"strategy.{key}")
    converted: dict[str, Any] = {}
    for key, value in values.items():
        expected = fields[key].type
        converted[key] = _convert(value, expected, source, f"strategy.{key}")
    return settings_class(**converted)


def _convert(value: Any, expected: Any, source: str | None, key: str) -> Any:
    text = expected if isinstance(expected, str) else getattr(expected, "__name__", str(expected))
    if value is None and "None" in text:
        return None
    is_number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if text.startswith("float") and is_number:
        return float(value)
    if text.startswith("int") and isinstance(value, int) and not isinstance(value, bool):
        return value
    if text.startswith("bool") and isinstance(value, bool):
        return value
    if text.startswith("str") and isinstance(value, str):
        return value
    if text.startswith(("float", "int", "bool", "str")):
        raise UserInputError(f"{value!r} is not of type {text}", source=source, key=key)
    return value


def check_strategy(name: str, obj: Any) -> Any:
    """A subclass of :class:`~automl.strategies.Strategy` that implements ask and tell and has a
    dataclass ``Settings``; or a lazy ``"module:Class"`` string (checked when it is chosen)."""
    if isinstance(obj, str):
        module, _, attr = obj.partition(":")
        if not module or not attr:
            raise ContractViolation(f"lazy target {obj!r} must look like 'package.module:Class'")
        return obj
    if not (isinstance(obj, type) and issubclass(obj, Strategy)):
        raise ContractViolation(f"must be a subclass of automl.strategies.Strategy, got "
                                f"{obj!r}")
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(getattr(obj, "__abstractmethods__", ())))
        raise ContractViolation(f"does not implement {missing}")
    if not dataclasses.is_dataclass(obj.Settings):
        raise ContractViolation("Settings must be a dataclass (one field per setting)")
    return obj
