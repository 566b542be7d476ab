"""Walk the decision process for many architectures at once (imagined episodes in bulk).

:meth:`SearchSpace.decide` builds one architecture; an agent that trains on hundreds of imagined
children per told result needs them in one pass, with its network evaluated on every partial
architecture of a step together. Which decision comes next depends only on the *structural*
choices made so far (depth and layer types), so it is memoised on those: the space is asked once
per distinct structure, not once per child.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from automl.space import Decision
from automl.space import SearchSpace

STRUCTURAL_KINDS = ("num_layers", "layer_type")
"""Decision kinds whose value changes which decisions follow."""

_UNSEEN = object()


class BatchWalker:
    """Drives ``n`` episodes of the decision process in lockstep.

    Args:
        space: The search space.
    """

    def __init__(self, space: SearchSpace):
        self.space = space
        self.max_steps = len(space.slots())
        self._memo: dict[tuple[Any, ...], Decision | None] = {}

    def walk(self, n: int, on_step: Callable[[int, np.ndarray], None],
             choose: Callable[[int, Decision, np.ndarray], np.ndarray]
             ) -> list[list[tuple[Decision, int]]]:
        """Build ``n`` architectures; return each one's (decision, choice index) sequence.

        Args:
            n: Number of episodes.
            on_step: ``on_step(t, active)`` is called first at each step ``t`` with the indices
                of the episodes still running (an agent advances its recurrent state here).
            choose: ``choose(t, decision, idx)`` returns one choice index per episode in
                ``idx``, all of which take ``decision`` at step ``t``.
        """
        chosen: list[dict[str, Any]] = [{} for _ in range(n)]
        structure: list[tuple[Any, ...]] = [() for _ in range(n)]
        sequences: list[list[tuple[Decision, int]]] = [[] for _ in range(n)]
        active = np.arange(n)
        for t in range(self.max_steps + 1):
            groups: dict[Decision, list[int]] = {}
            for i in active:
                key = (t, structure[i])
                decision = self._memo.get(key, _UNSEEN)
                if decision is _UNSEEN:
                    decision = self.space.next_decision(chosen[i])
                    self._memo[key] = decision  # type: ignore[assignment]
                if decision is not None:
                    groups.setdefault(decision, []).append(int(i))  # type: ignore[arg-type]
            if not groups:
                break
            active = np.array(sorted(i for idx in groups.values() for i in idx))
            on_step(t, active)
            for decision, members in groups.items():
                idx = np.array(members)
                picks = choose(t, decision, idx)
                structural = decision.kind in STRUCTURAL_KINDS
                for i, pick in zip(members, picks, strict=True):
                    pick = int(pick)
                    chosen[i][decision.name] = decision.choices[pick]
                    sequences[i].append((decision, pick))
                    if structural:
                        structure[i] = (*structure[i], pick)
        return sequences


__all__ = ["BatchWalker", "STRUCTURAL_KINDS"]
