"""SearchSpace: the validated space and the decision process that walks it.

Every consumer walks the same decision sequence: random sampling, the REINFORCE controller, the
gymnasium environment, Optuna's define-by-run TPE, enumeration for tables. A decision is a named
categorical choice; single-valued settings are fixed and never become decisions.

Decision order: ``num_layers``; then for each layer ``layers.i.type`` and the searched parameters
of the chosen type (in declaration order); then ``layers.pooling`` (the sequence-to-vector step),
``train.*``, ``task.*`` and plain decisions.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any

from automl.errors import SpaceError
from automl.errors import allowed
from automl.errors import short
from automl.space.architecture import Architecture


@dataclass(frozen=True)
class Decision:
    """One categorical choice in the decision sequence.

    Attributes:
        name: Flat-encoding key, e.g. ``layers.1.units``.
        kind: What is being chosen, shared across positions, e.g. ``dense.units``; a controller
            keeps one output head per kind.
        choices: The allowed values, in space order.
        slot: Position-specific identity (``layers.1.dense.units``), used for fixed-size
            observations: two layer types sharing a parameter name get different slots.
    """

    name: str
    kind: str
    choices: tuple[Any, ...]
    slot: str

    def index(self, value: Any) -> int:
        """Index of ``value`` in :attr:`choices` (floats compared by value)."""
        for i, choice in enumerate(self.choices):
            if _same(choice, value):
                return i
        raise SpaceError(
            f"{short(value)} is not a choice of this decision; allowed: {allowed(self.choices)}",
            key=self.name,
        )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=1e-12, abs_tol=0.0)
    return bool(a == b)


@dataclass(frozen=True)
class TaskSetting:
    """The task of a space: registered name, fixed parameters, searched parameters."""

    name: str
    fixed: Mapping[str, Any] = field(default_factory=dict)
    searched: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RewardSetting:
    """The reward of a space: registered name and its parameters."""

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchSpace:
    """A validated search space. Build it with :func:`automl.space.load_space`.

    Attributes:
        name: Space name (from the YAML ``name`` or the file name).
        source: The file it was read from (for messages), or ``<dict>``.
        task: Task setting, or None for an abstract space (plain decisions only).
        reward: Reward setting, or None to use the task's default reward.
        trials: Default number of trials for a search.
        min_layers: Smallest depth.
        max_layers: Largest depth.
        layer_types: Per layer type, per parameter, the tuple of allowed values.
        train: Per training setting, the tuple of allowed values.
        decisions: Plain categorical decisions that build nothing (tabular spaces).
        strategy: The ``strategy:`` block (name and settings), possibly empty.
        plugins: Plugin paths listed in the YAML, resolved against its folder.
        config: The resolved configuration as a plain mapping (written into the run folder).
        pooling: The allowed sequence-to-vector steps (``layers.pooling``); empty when the space
            names none (the builder's default rule, and nothing in the architecture).
    """

    name: str
    source: str
    task: TaskSetting | None
    reward: RewardSetting | None
    trials: int
    min_layers: int
    max_layers: int
    layer_types: Mapping[str, Mapping[str, tuple[Any, ...]]]
    train: Mapping[str, tuple[Any, ...]]
    decisions: Mapping[str, tuple[Any, ...]]
    strategy: Mapping[str, Any]
    plugins: tuple[str, ...]
    config: Mapping[str, Any]
    base_dir: Path = Path(".")
    seed: int | None = None
    pooling: tuple[str, ...] = ()

    # ------------------------------------------------------------------ the decision process
    @property
    def has_layers(self) -> bool:
        return bool(self.layer_types)

    def _sequence(self, chosen: Mapping[str, Any]) -> Iterator[Decision]:
        """Decisions in order, branching on the values already chosen."""
        if self.has_layers:
            if self.min_layers < self.max_layers:
                depths = tuple(range(self.min_layers, self.max_layers + 1))
                yield Decision("num_layers", "num_layers", depths, "num_layers")
            depth = chosen.get("num_layers", self.min_layers)
            types = tuple(self.layer_types)
            for i in range(depth):
                if len(types) > 1:
                    yield Decision(f"layers.{i}.type", "layer_type", types, f"layers.{i}.type")
                layer_type = chosen.get(f"layers.{i}.type", types[0])
                for param, values in self.layer_types[layer_type].items():
                    if len(values) > 1:
                        yield Decision(
                            f"layers.{i}.{param}",
                            f"{layer_type}.{param}",
                            values,
                            f"layers.{i}.{layer_type}.{param}",
                        )
            if len(self.pooling) > 1:
                yield Decision("layers.pooling", "pooling", self.pooling, "layers.pooling")
        for key, values in self.train.items():
            if len(values) > 1:
                yield Decision(f"train.{key}", f"train.{key}", values, f"train.{key}")
        if self.task is not None:
            for key, values in self.task.searched.items():
                yield Decision(f"task.{key}", f"task.{key}", values, f"task.{key}")
        for key, values in self.decisions.items():
            if len(values) > 1:
                yield Decision(key, f"decision.{key}", values, key)

    def next_decision(self, chosen: Mapping[str, Any]) -> Decision | None:
        """The first decision not yet in ``chosen``, or None when the architecture is complete."""
        for decision in self._sequence(chosen):
            if decision.name not in chosen:
                return decision
        return None

    def decide(self, choose: Callable[[Decision, dict[str, Any]], Any]) -> Architecture:
        """Walk the decision process, asking ``choose(decision, chosen_so_far)`` for each value."""
        chosen: dict[str, Any] = {}
        # One pass: the sequence reads ``chosen`` lazily, so it branches on each value as soon as
        # it is set (next_decision per step would replay the sequence, quadratic in its length).
        for decision in self._sequence(chosen):
            chosen[decision.name] = choose(decision, chosen)
        return self.architecture(chosen)

    def decisions_of(self, architecture: Architecture) -> list[tuple[Decision, int]]:
        """The decision sequence that produces ``architecture``, with each choice's index."""
        flat = architecture.flat
        chosen: dict[str, Any] = {}
        out: list[tuple[Decision, int]] = []
        for decision in self._sequence(chosen):  # one pass, as in decide
            if decision.name not in flat:
                raise SpaceError(f"missing decision {decision.name!r}", source=self.source)
            index = decision.index(flat[decision.name])
            chosen[decision.name] = decision.choices[index]
            out.append((decision, index))
        return out

    def from_decisions(self, steps: Sequence[tuple[Decision, int]]) -> Architecture:
        """Inverse of :meth:`decisions_of`: the architecture a (decision, choice index)
        sequence makes (as a batch walk of the decision process returns them)."""
        return self.architecture({d.name: d.choices[i] for d, i in steps})

    def architecture(self, chosen: Mapping[str, Any]) -> Architecture:
        """Complete architecture from the chosen decision values (fixed settings filled in)."""
        layers: list[dict[str, Any]] = []
        if self.has_layers:
            types = tuple(self.layer_types)
            for i in range(chosen.get("num_layers", self.min_layers)):
                layer_type = chosen.get(f"layers.{i}.type", types[0])
                layer: dict[str, Any] = {"type": layer_type}
                for param, values in self.layer_types[layer_type].items():
                    layer[param] = chosen.get(f"layers.{i}.{param}", values[0])
                layers.append(layer)
        train = {k: chosen.get(f"train.{k}", v[0]) for k, v in self.train.items()}
        task = {}
        if self.task is not None:
            task = {k: chosen[f"task.{k}"] if f"task.{k}" in chosen else v[0]
                    for k, v in self.task.searched.items()}
        decisions = {k: chosen.get(k, v[0]) for k, v in self.decisions.items()}
        pooling = chosen.get("layers.pooling", self.pooling[0]) if self.pooling else None
        return Architecture(tuple(layers), train, task, decisions, has_layers=self.has_layers,
                            pooling=pooling if self.has_layers else None)

    def from_flat(self, flat: Mapping[str, Any], *, parse_strings: bool = False) -> Architecture:
        """Architecture from a flat encoding (a table row, a stored trial); validates values.

        Args:
            flat: Decision name -> value. Keys of fixed settings are ignored.
            parse_strings: Accept values written as text (CSV cells) by matching them against
                the string form of each choice.
        """
        chosen: dict[str, Any] = {}
        for decision in self._sequence(chosen):  # one pass, as in decide
            if decision.name not in flat:
                raise SpaceError(
                    f"missing decision {decision.name!r}", source=self.source, key=decision.name
                )
            value = flat[decision.name]
            if parse_strings and isinstance(value, str):
                index = _parse_choice(decision, value, self.source)
            else:
                index = decision.index(value)
            chosen[decision.name] = decision.choices[index]
        return self.architecture(chosen)

    # ------------------------------------------------------------------ static views
    def slots(self) -> list[Decision]:
        """Every decision that can occur, each position once (for fixed-size encodings)."""
        seen: dict[str, Decision] = {}
        for chosen in self._branch_representatives():
            for decision in self._sequence(chosen):
                seen.setdefault(decision.slot, decision)
        order = {slot: i for i, slot in enumerate(self._slot_order())}
        return sorted(seen.values(), key=lambda d: order.get(d.slot, len(order)))

    def _slot_order(self) -> list[str]:
        names = ["num_layers"]
        for i in range(self.max_layers):
            names.append(f"layers.{i}.type")
            for layer_type, params in self.layer_types.items():
                names.extend(f"layers.{i}.{layer_type}.{p}" for p in params)
        names.append("layers.pooling")
        names.extend(f"train.{k}" for k in self.train)
        if self.task is not None:
            names.extend(f"task.{k}" for k in self.task.searched)
        names.extend(self.decisions)
        return names

    def _branch_representatives(self) -> Iterator[dict[str, Any]]:
        """One chosen-dict per (depth = max, all layers of type t), enough to reach every slot."""
        types = list(self.layer_types) or [None]
        for layer_type in types:
            chosen: dict[str, Any] = {"num_layers": self.max_layers}
            for i in range(self.max_layers):
                chosen[f"layers.{i}.type"] = layer_type
            yield chosen

    def kinds(self) -> dict[str, tuple[Any, ...]]:
        """Decision kind -> vocabulary (union of choices, first-seen order)."""
        vocab: dict[str, list[Any]] = {}
        for decision in self.slots():
            values = vocab.setdefault(decision.kind, [])
            for choice in decision.choices:
                if not any(_same(choice, v) for v in values):
                    values.append(choice)
        return {kind: tuple(values) for kind, values in vocab.items()}

    def max_choices(self) -> int:
        return max((len(d.choices) for d in self.slots()), default=1)

    def size(self) -> int:
        """Number of distinct architectures."""
        per_layer = sum(
            math.prod(len(v) for v in params.values()) for params in self.layer_types.values()
        )
        depth_count = (
            sum(per_layer**depth for depth in range(self.min_layers, self.max_layers + 1))
            if self.has_layers
            else 1
        )
        rest = math.prod(len(v) for v in self.train.values()) * max(1, len(self.pooling))
        rest *= math.prod(len(v) for v in self.decisions.values())
        if self.task is not None:
            rest *= math.prod(len(v) for v in self.task.searched.values())
        return int(depth_count * rest)

    def enumerate(self) -> Iterator[Architecture]:
        """Every architecture, in a deterministic order (for tables of small spaces)."""

        def expand(chosen: dict[str, Any]) -> Iterator[dict[str, Any]]:
            decision = self.next_decision(chosen)
            if decision is None:
                yield chosen
                return
            for value in decision.choices:
                yield from expand({**chosen, decision.name: value})

        for chosen in expand({}):
            yield self.architecture(chosen)

    def sample(self, rng: Any) -> Architecture:
        """Uniform choice at every decision (``rng``: a ``numpy.random.Generator``)."""
        return self.decide(lambda d, _: d.choices[int(rng.integers(len(d.choices)))])


def reads_as(choice: Any, text: str) -> bool:
    """Whether a table cell holding ``text`` names ``choice``: the same text, a boolean in any
    case (``true``), or a number of the same value (``1e-3`` for 0.001)."""
    if str(choice) == text or (isinstance(choice, bool) and text.lower() == str(choice).lower()):
        return True
    if isinstance(choice, (int, float)) and not isinstance(choice, bool):
        try:
            return _same(choice, float(text))
        except ValueError:
            return False
    return False


def same_in_a_table(a: Any, b: Any) -> bool:
    """Whether two choices could not be told apart: equal values (64 and 64.0), or one's text
    read from a table cell names the other (1 and '1', True and 'true')."""
    return _same(a, b) or reads_as(a, str(b)) or reads_as(b, str(a))


@functools.lru_cache(maxsize=65_536)
def _cell_index(types: tuple[type, ...], choices: tuple[Any, ...], text: str) -> int | None:
    """Index of the first choice ``text`` names (a table has the same few texts on every row;
    the types are part of the key because True == 1 and 1 == 1.0 hash alike)."""
    return next((i for i, choice in enumerate(choices) if reads_as(choice, text)), None)


def _parse_choice(decision: Decision, text: str, source: str) -> int:
    """Index of the choice a table cell names."""
    index = _cell_index(tuple(map(type, decision.choices)), decision.choices, text)
    if index is not None:
        return index
    raise SpaceError(
        f"{short(text)} is not a choice; allowed: {allowed(decision.choices)}",
        source=source,
        key=decision.name,
    )
