"""Which architectures an agent has tried, so it can sample only among the untried ones.

A converged controller keeps proposing its favourite architecture; retrying until it happens to
propose something new wastes its asks (on a 1,638-architecture table, a REINFORCE controller
spent 178 of 200 evaluations on repeats). Instead the agent masks, at each decision, the choices
below which every architecture was already tried: it samples from its own policy restricted to
the untried architectures, in one pass, and learns from real results exactly as before.

The tree is keyed on the choice indices along the decision sequence: the decisions of a step
depend only on the choices before it, so a prefix of indices names one node. A node is closed
once all of its decision's choices are closed; a leaf is closed when its architecture is tried.
Nothing needs the size of a subtree, so any space works, however deep or conditional.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

import numpy as np

from automl.space import Architecture
from automl.space import SearchSpace


class TriedTree:
    """Prefix tree of tried decision sequences, closing subtrees with nothing left to try.

    Args:
        space: The space the architectures come from.
    """

    def __init__(self, space: SearchSpace):
        self.space = space
        self.tried: dict[str, Architecture] = {}  # architecture id -> architecture
        self._closed: dict[tuple[int, ...], set[int]] = {}  # node -> its closed choices
        self.exhausted = False
        """Every architecture of the space was tried (the root closed)."""

    def __len__(self) -> int:
        return len(self.tried)

    def add(self, architecture: Architecture) -> None:
        """Mark ``architecture`` as tried (again: no-op). Raises SpaceError if not in space."""
        if architecture.id in self.tried:
            return
        steps = self.space.decisions_of(architecture)
        self.tried[architecture.id] = architecture
        picks = tuple(index for _, index in steps)
        for t in range(len(steps) - 1, -1, -1):
            closed = self._closed.setdefault(picks[:t], set())
            closed.add(picks[t])
            if len(closed) < len(steps[t][0].choices):
                break
        else:
            self.exhausted = True

    def propose(self, draw: Callable[[bool], Architecture], redraws: int,
                draw_many: Callable[[int], list[Architecture]] | None = None,
                pick: Callable[[list[Architecture]], int] | None = None) -> Architecture:
        """An architecture from ``draw(restricted)``, conditioned on being untried, then marked
        tried. Draws unrestricted up to ``redraws`` times (exact rejection sampling while the
        untried mass is not tiny), then once restricted to :meth:`open_choices`.

        ``draw_many(k)``, when given, makes ``k`` unrestricted draws in one vectorised pass: a
        converged agent's redraws then cost one batch instead of ``k`` walks of the space.
        ``pick(candidates)``, when given, chooses among the distinct untried architectures of
        the redraws (their index in the list); without it the first one is proposed."""
        architecture = None
        if redraws > 0:
            first = draw(False)
            if first.id not in self.tried:
                architecture = first
            elif redraws > 1:
                more = (draw_many(redraws - 1) if draw_many is not None
                        else (draw(False) for _ in range(redraws - 1)))
                if pick is None:
                    architecture = next((a for a in more if a.id not in self.tried), None)
                else:
                    keyed = ((a.id, a) for a in more)  # one hash per redraw
                    fresh = list({k: a for k, a in keyed if k not in self.tried}.values())
                    architecture = fresh[pick(fresh)] if fresh else None
        if architecture is None:
            architecture = draw(True)
        self.add(architecture)
        return architecture

    def open_choices(self, prefix: tuple[int, ...], width: int) -> np.ndarray:
        """Boolean mask over the ``width`` choices of the decision after ``prefix``: True where
        an untried architecture remains below. All True once the space is exhausted (the
        agent then repeats, and the search loop reuses the stored result)."""
        mask = np.ones(width, dtype=bool)
        if not self.exhausted:
            mask[list(self._closed.get(prefix, ()))] = False
        return mask

    def state(self) -> list[dict[str, Any]]:
        """JSON-able: the tried architectures, in the order they were added."""
        return [a.to_dict() for a in self.tried.values()]

    def load_state(self, architectures: Iterable[dict[str, Any]]) -> None:
        self.tried, self._closed, self.exhausted = {}, {}, False
        for data in architectures:
            self.add(Architecture.from_dict(data))


__all__ = ["TriedTree"]
