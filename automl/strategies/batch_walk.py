"""Walk the decision process for many architectures at once (imagined episodes in bulk).

:meth:`SearchSpace.decide` builds one architecture; an agent that trains on hundreds of imagined
children per told result needs them in one pass, with its network evaluated on every partial
architecture of a step together. Which decision comes next depends only on the *structural*
choices made so far (depth and layer types), so it is memoised on those: the space is asked once
per distinct structure, not once per child. Episodes are tracked as arrays (a structure id and a
choice per step), so a step costs a few NumPy operations per distinct structure rather than
Python work per episode; each episode's (decision, choice) sequence is assembled only when read.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from typing import Any
from typing import overload

import numpy as np

from automl.space import Decision
from automl.space import SearchSpace

STRUCTURAL_KINDS = ("num_layers", "layer_type")
"""Decision kinds whose value changes which decisions follow."""

_UNSEEN = object()


class WalkedSequences(Sequence[list[tuple[Decision, int]]]):
    """The (decision, choice index) sequence of every episode of one walk, built on access."""

    def __init__(self, decisions: list[list[Decision]], group: np.ndarray, pick: np.ndarray):
        self._decisions = decisions  # per step: the decisions taken, by group index
        self._group = group  # [n, steps]: the group (decision) of each episode's step, or -1
        self._pick = pick  # [n, steps]: the choice index taken there
        self._cache: dict[int, list[tuple[Decision, int]]] = {}

    def __len__(self) -> int:
        return len(self._group)

    @overload
    def __getitem__(self, i: int) -> list[tuple[Decision, int]]: ...

    @overload
    def __getitem__(self, i: slice) -> list[list[tuple[Decision, int]]]: ...

    def __getitem__(self, i: int | slice) -> Any:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(i)
        if i not in self._cache:
            self._cache[i] = self.prefix(i, self._group.shape[1])
        return self._cache[i]

    def __iter__(self) -> Iterator[list[tuple[Decision, int]]]:
        return (self[i] for i in range(len(self)))

    def prefix(self, i: int, steps: int) -> list[tuple[Decision, int]]:
        """Episode ``i``'s first ``steps`` steps."""
        row_group, row_pick = self._group[i], self._pick[i]
        return [(self._decisions[t][row_group[t]], int(row_pick[t])) for t in range(steps)
                if row_group[t] >= 0]


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
             choose: Callable[[int, Decision, np.ndarray], np.ndarray]) -> WalkedSequences:
        """Build ``n`` architectures; return each one's (decision, choice index) sequence.

        Args:
            n: Number of episodes.
            on_step: ``on_step(t, active)`` is called first at each step ``t`` with the indices
                of the episodes still running, ascending (an agent advances its recurrent
                state here).
            choose: ``choose(t, decision, idx)`` returns one choice index per episode in
                ``idx`` (ascending), all of which take ``decision`` at step ``t``; decisions
                are offered in the order of their first episode.
        """
        steps = self.max_steps + 1
        group = np.full((n, steps), -1, dtype=np.int64)
        pick = np.zeros((n, steps), dtype=np.int64)
        decisions: list[list[Decision]] = []
        walked = WalkedSequences(decisions, group, pick)
        structures: list[tuple[int, ...]] = [()]  # structure id -> structural choices so far
        ids: dict[tuple[int, ...], int] = {(): 0}
        structure = np.zeros(n, dtype=np.int64)  # each episode's structure id
        active = np.arange(n)
        for t in range(steps):
            decisions.append([])
            if not len(active):
                break
            uniq, first, inverse = np.unique(structure[active], return_index=True,
                                             return_inverse=True)
            # decision of each distinct structure; groups ordered by their first episode
            order: dict[Decision, list[int]] = {}
            for u in np.argsort(first, kind="stable"):
                decision = self._memo.get((t, structures[uniq[u]]), _UNSEEN)
                if decision is _UNSEEN:
                    episode = int(active[first[u]])
                    chosen = {d.name: d.choices[p] for d, p in walked.prefix(episode, t)}
                    decision = self.space.next_decision(chosen)
                    self._memo[(t, structures[uniq[u]])] = decision  # type: ignore[assignment]
                if decision is not None:
                    order.setdefault(decision, []).append(int(u))  # type: ignore[arg-type]
            if not order:
                break
            label = np.full(len(uniq), -1, dtype=np.int64)  # distinct structure -> group
            for g, members in enumerate(order.values()):
                label[members] = g
            by_episode = label[inverse]
            active = active[by_episode >= 0]
            by_episode = by_episode[by_episode >= 0]
            on_step(t, active)
            for g, decision in enumerate(order):
                idx = active[by_episode == g]
                picks = np.asarray(choose(t, decision, idx), dtype=np.int64)
                decisions[t].append(decision)
                group[idx, t], pick[idx, t] = g, picks
                if decision.kind in STRUCTURAL_KINDS:
                    old = structure[idx]
                    for key in np.unique(np.stack([old, picks], axis=1), axis=0):
                        grown = (*structures[key[0]], int(key[1]))
                        if grown not in ids:
                            ids[grown] = len(structures)
                            structures.append(grown)
                        structure[idx[(old == key[0]) & (picks == key[1])]] = ids[grown]
        return walked


__all__ = ["BatchWalker", "STRUCTURAL_KINDS", "WalkedSequences"]
