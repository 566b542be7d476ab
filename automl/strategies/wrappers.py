"""Behaviour every strategy gets from the search loop, written once as wrappers (in the style of
Ray Tune's ``ConcurrencyLimiter``) instead of living in each algorithm.

* :class:`FailureAsWorst` tells a failed child (reward None) as the worst reward seen so far,
  so a failure never outranks a success whatever the reward's sign or scale: ``neg_val_loss``
  is always below 0 and ``ccc`` can be, and a fixed ``failure_reward: 0.0`` taught controllers
  to make failing children. Failures that arrive before any success are held back and told as
  soon as the first success sets the scale.
* :class:`NoRepeats` keeps a strategy from spending trials on architectures this run already
  evaluated (or is training right now): the repeat is answered from memory (told to the
  strategy with its known reward, which costs no trial) and the strategy is asked again, up to
  ``max_retries`` times, after which a random architecture not yet evaluated is proposed in its
  place; once the space is exhausted repeats pass through and the loop reuses the stored
  result. What counts as a repeat is the ``key`` it is given: the architecture's id
  by default; the search loop passes one under which architectures that differ only in
  decisions their child never uses are the same (:mod:`automl.training.equivalence`).

The wrapped strategy sees its own trial ids (one per proposal it made), so an algorithm that keys
state on trial ids (TPE's open trials) stays consistent. State nests: a wrapper's checkpoint holds
its own JSON state and the inner strategy's, so resume replays through the same stack.
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable
from typing import Any

import numpy as np

from automl.space import Architecture
from automl.strategies.base import Strategy
from automl.strategies.base import StrategyState


class StrategyWrapper(Strategy):
    """Delegates everything to ``inner``; subclasses change ``ask``/``tell``."""

    def __init__(self, inner: Strategy):  # noqa: D107 (no settings of its own)
        self.inner = inner
        self.space = inner.space
        self.seed = inner.seed
        self.workers = inner.workers
        self.settings = inner.settings
        self.rng = inner.rng
        self.budget = inner.budget

    @property
    def unwrapped(self) -> Strategy:
        """The algorithm under every wrapper."""
        return getattr(self.inner, "unwrapped", self.inner)  # through a plugin's guard too

    def set_budget(self, trials: int) -> None:
        self.budget = int(trials)
        self.inner.set_budget(trials)

    def ask(self, trial_id: int) -> Architecture | None:
        return self.inner.ask(trial_id)

    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        self.inner.tell(trial_id, architecture, reward)

    def progress(self) -> dict[str, float] | None:
        return self.inner.progress()

    def wrapper_state(self) -> dict[str, Any]:
        """This wrapper's own JSON-able state."""
        return {}

    def load_wrapper_state(self, meta: dict[str, Any]) -> None:
        """Restore what :meth:`wrapper_state` returned."""

    def state_dict(self) -> StrategyState:
        inner = self.inner.state_dict()
        return StrategyState({"wrapper": self.wrapper_state(), "inner": inner.meta},
                             inner.arrays)

    def load_state_dict(self, state: StrategyState) -> None:
        self.inner.load_state_dict(StrategyState(state.meta["inner"], state.arrays))
        self.load_wrapper_state(state.meta["wrapper"])


def _failed(reward: float | None) -> bool:
    return reward is None or not math.isfinite(reward)


class FailureAsWorst(StrategyWrapper):
    """A failed child is told as a low quantile (default: the minimum) of the rewards seen.

    Args:
        inner: The strategy to wrap.
        quantile: Which quantile of the successful rewards so far a failure gets; 0.0 is the
            worst success, so a failure ties with it and never ranks above any success.
    """

    def __init__(self, inner: Strategy, quantile: float = 0.0):
        super().__init__(inner)
        if not 0.0 <= quantile <= 1.0:
            raise ValueError(f"quantile must be in [0, 1], got {quantile!r}")
        self.quantile = quantile
        self.successes: list[float] = []
        self.held: list[tuple[int, Architecture]] = []

    def failure_value(self) -> float:
        return float(np.quantile(self.successes, self.quantile))

    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        if _failed(reward):
            if not self.successes:
                self.held.append((trial_id, architecture))  # no scale yet: wait for one
                return
            self.inner.tell(trial_id, architecture, self.failure_value())
            return
        assert reward is not None
        self.successes.append(float(reward))
        self.inner.tell(trial_id, architecture, float(reward))
        held, self.held = self.held, []
        for held_id, held_architecture in held:
            self.inner.tell(held_id, held_architecture, self.failure_value())

    def wrapper_state(self) -> dict[str, Any]:
        return {"successes": self.successes,
                "held": [[tid, a.flat] for tid, a in self.held]}

    def load_wrapper_state(self, meta: dict[str, Any]) -> None:
        self.successes = [float(r) for r in meta["successes"]]
        self.held = [(int(tid), self.space.from_flat(flat)) for tid, flat in meta["held"]]


_NOT_ASKED = -1
"""Inner trial id of a proposal the wrapper made itself (:meth:`NoRepeats._untried`)."""


class NoRepeats(StrategyWrapper):
    """Re-ask instead of proposing an architecture already evaluated or in flight.

    Args:
        inner: The strategy to wrap.
        max_retries: Proposals answered from memory per ask before the wrapper proposes a
            random architecture not yet evaluated instead (a strategy that has converged keeps
            proposing its favourite); a repeat passes only when none is found.
        key: Architectures with the same key are the same child (default: the id).
    """

    def __init__(self, inner: Strategy, max_retries: int = 16,
                 key: Callable[[Architecture], str] | None = None):
        super().__init__(inner)
        self.max_retries = max_retries
        self.key = key if key is not None else _architecture_id
        self.known: dict[str, float | None] = {}  # architecture key -> told reward
        self.in_flight: collections.Counter[str] = collections.Counter()
        # architecture key -> (inner id, the architecture it proposed), told on arrival
        self.waiting: dict[str, list[tuple[int, Architecture | None]]] = {}
        self.inner_ids: dict[int, int] = {}  # trial id -> the inner strategy's trial id
        self.next_inner = 0
        self.repeats_avoided = 0
        self.untried_proposed = 0  # random new architectures proposed instead of a repeat
        self.seen: set[str] = set()  # ids of every architecture proposed or told

    def _exhausted(self) -> bool:
        return len(self.seen) >= self.space.size()

    def _new_inner_id(self) -> int:
        self.next_inner += 1
        return self.next_inner - 1

    def ask(self, trial_id: int) -> Architecture | None:
        for attempt in range(self.max_retries + 1):
            inner_id = self._new_inner_id()
            architecture = self.inner.ask(inner_id)
            if architecture is None:
                return None
            key = self.key(architecture)
            repeat = key in self.known or key in self.in_flight
            self.seen.add(architecture.id)
            if repeat and not self._exhausted():
                fresh = self._untried(trial_id) if attempt == self.max_retries else None
                if attempt < self.max_retries or fresh is not None:
                    self.repeats_avoided += 1  # answered from memory
                    if key in self.known:
                        self.inner.tell(inner_id, architecture, self.known[key])
                    else:
                        self.waiting.setdefault(key, []).append((inner_id, architecture))
                    if fresh is None:
                        continue
                    # ALGO LOGIC: the strategy keeps proposing what is known; a random new
                    # architecture tells more than a repeat. Its result reaches the strategy
                    # as one it did not ask for.
                    self.untried_proposed += 1
                    self.inner_ids[trial_id] = _NOT_ASKED
                    self.in_flight[self.key(fresh)] += 1
                    self.seen.add(fresh.id)
                    return fresh
            self.inner_ids[trial_id] = inner_id
            self.in_flight[key] += 1
            return architecture
        raise AssertionError("unreachable: the last attempt always returns")

    def _untried(self, trial_id: int, draws: int = 1000) -> Architecture | None:
        """A uniform draw that is neither known nor in flight (None if ``draws`` find none),
        from a generator seeded by the strategy's seed and the trial id: a resumed search
        draws the same."""
        rng = np.random.default_rng([self.seed, trial_id, 0x6E6F])
        for _ in range(draws):
            architecture = self.space.sample(rng)
            key = self.key(architecture)
            if key not in self.known and key not in self.in_flight:
                return architecture
        return None

    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        key = self.key(architecture)
        inner_id = self.inner_ids.pop(trial_id, None)
        if inner_id is not None and self.in_flight[key] > 0:  # proposed by this wrapper
            self.in_flight[key] -= 1
            if self.in_flight[key] == 0:
                del self.in_flight[key]
        if inner_id is None or inner_id == _NOT_ASKED:  # not a proposal of the strategy's
            inner_id = self._new_inner_id()
        self.known[key] = reward
        self.seen.add(architecture.id)
        self.inner.tell(inner_id, architecture, reward)
        for waiting_id, proposed in self.waiting.pop(key, []):
            self.inner.tell(waiting_id, proposed or architecture, reward)

    def wrapper_state(self) -> dict[str, Any]:
        waiting = {k: [[i, a.to_dict() if a is not None else None] for i, a in v]
                   for k, v in self.waiting.items()}
        return {"known": self.known, "in_flight": dict(self.in_flight), "waiting": waiting,
                "inner_ids": [[t, i] for t, i in self.inner_ids.items()],
                "next_inner": self.next_inner, "repeats_avoided": self.repeats_avoided,
                "untried_proposed": self.untried_proposed, "seen": sorted(self.seen)}

    def load_wrapper_state(self, meta: dict[str, Any]) -> None:
        self.known = {k: None if v is None else float(v) for k, v in meta["known"].items()}
        self.in_flight = collections.Counter({k: int(v) for k, v in meta["in_flight"].items()})
        self.waiting = {k: [_waiting_entry(entry) for entry in v]
                        for k, v in meta["waiting"].items()}
        self.inner_ids = {int(t): int(i) for t, i in meta["inner_ids"]}
        self.next_inner = int(meta["next_inner"])
        self.repeats_avoided = int(meta["repeats_avoided"])
        self.untried_proposed = int(meta.get("untried_proposed", 0))
        # Checkpoints written before ``seen`` count their keys (then the ids).
        self.seen = set(meta.get("seen", [*self.known, *self.in_flight]))


def _waiting_entry(entry: Any) -> tuple[int, Architecture | None]:
    """One waiting proposal from a checkpoint: ``[inner id, architecture]``, or the bare inner
    id of checkpoints written before proposals were kept."""
    if isinstance(entry, list):
        return int(entry[0]), None if entry[1] is None else Architecture.from_dict(entry[1])
    return int(entry), None


def _architecture_id(architecture: Architecture) -> str:
    return architecture.id


def guarded(strategy: Strategy, *, failure_quantile: float = 0.0, max_retries: int = 16,
            key: Callable[[Architecture], str] | None = None) -> Strategy:
    """``strategy`` as the search loop drives it: repeats (under ``key``) avoided, failures
    told as the worst reward seen. Idempotent (an already guarded strategy is returned as it
    is)."""
    if isinstance(strategy, NoRepeats):
        return strategy
    return NoRepeats(FailureAsWorst(strategy, failure_quantile), max_retries, key)


__all__ = ["FailureAsWorst", "NoRepeats", "StrategyWrapper", "guarded"]
