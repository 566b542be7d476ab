"""The tried tree: agents sample among untried architectures until the space is exhausted."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from automl.space import Architecture
from automl.space import Decision
from automl.space import SearchSpace
from automl.space import load_space
from automl.strategies import create_strategy
from automl.strategies.tried import TriedTree

# 1-2 layers of two types with different parameters, and a training setting: 84 architectures.
SMALL = """
name: small_conditional
task: digits
layers:
  min: 1
  max: 2
  types:
    dense:
      units: [40, 80]
      activation: [relu, tanh]
    dropout:
      rate: [0.1, 0.5]
train:
  learning_rate: [0.001, 0.01]
"""


@pytest.fixture(scope="module")
def space(tmp_path_factory: pytest.TempPathFactory) -> SearchSpace:
    path = tmp_path_factory.mktemp("tried") / "small.yaml"
    path.write_text(SMALL)
    return load_space(path)


def sample_untried(space: SearchSpace, tree: TriedTree,
                   rng: np.random.Generator) -> Architecture:
    """Uniform choices restricted to the tree's open ones (what the agents do with a policy)."""
    prefix: list[int] = []

    def choose(decision: Decision, chosen: dict[str, Any]) -> Any:
        allowed = tree.open_choices(tuple(prefix), len(decision.choices))
        index = int(rng.choice(np.flatnonzero(allowed)))
        prefix.append(index)
        return decision.choices[index]

    return space.decide(choose)


def test_open_choices_reach_every_architecture_once_then_reopen(space: SearchSpace) -> None:
    tree, rng = TriedTree(space), np.random.default_rng(0)
    seen = []
    for _ in range(space.size()):
        assert not tree.exhausted
        architecture = sample_untried(space, tree, rng)
        tree.add(architecture)
        seen.append(architecture.id)
    assert len(set(seen)) == space.size() == len(tree)
    assert tree.exhausted
    assert tree.open_choices((), 2).all()  # exhausted: anything goes (the loop reuses results)


def test_a_subtree_closes_when_all_its_architectures_are_tried(space: SearchSpace) -> None:
    tree = TriedTree(space)
    one_layer = [a for a in space.enumerate() if a.flat["num_layers"] == 1]
    for architecture in one_layer[:-1]:
        tree.add(architecture)
    assert tree.open_choices((), 2).all()
    tree.add(one_layer[-1])
    tree.add(one_layer[-1])  # adding twice changes nothing
    assert tree.open_choices((), 2).tolist() == [False, True]  # num_layers = 1 is used up
    restored = TriedTree(space)
    restored.load_state(tree.state())
    assert restored.open_choices((), 2).tolist() == [False, True]
    assert len(restored) == len(one_layer)


def test_a_pick_chooses_among_the_distinct_untried_redraws(space: SearchSpace) -> None:
    tried, a, b, c = list(space.enumerate())[:4]
    shown: list[list[str]] = []

    def pick(candidates: list[Architecture]) -> int:
        shown.append([x.id for x in candidates])
        return len(candidates) - 1

    for chooser, expected in ((None, a), (pick, c)):
        tree = TriedTree(space)
        tree.add(tried)
        proposed = tree.propose(lambda restricted: tried, 7,
                                lambda n: [tried, a, a, b, tried, c][:n], chooser)
        assert proposed == expected and proposed.id in tree.tried
    assert shown == [[a.id, b.id, c.id]]  # each once, in draw order, the tried one left out


@pytest.mark.parametrize("name", ["reinforce", "dqn"])
def test_agents_propose_no_repeat_until_the_space_is_exhausted(space: SearchSpace,
                                                               name: str) -> None:
    """Without the loop's NoRepeats wrapper: the agent itself proposes only untried ones,
    including those still in flight (asked, not told)."""
    strategy = create_strategy(name, space, seed=3, workers=3)
    target = next(iter(space.enumerate()))
    ids, in_flight = [], []
    for trial_id in range(space.size()):
        architecture = strategy.ask(trial_id)
        ids.append(architecture.id)
        in_flight.append((trial_id, architecture))
        if len(in_flight) == 3:  # three workers: tell the oldest
            told_id, told = in_flight.pop(0)
            strategy.tell(told_id, told, float(told == target))
    assert len(set(ids)) == space.size()
    assert strategy.ask(10_000) is not None  # an exhausted space still gets proposals


def test_reinforce_with_repeats_proposes_its_own_samples(space: SearchSpace) -> None:
    """``repeats`` (one-shot mode's setting): every ask is one draw of the controller as it is,
    repeats included, so the policy gradient sees the policy's own samples."""
    asking = create_strategy("reinforce", space, seed=5, settings={"repeats": True})
    sampling = create_strategy("reinforce", space, seed=5)
    asked = [asking.ask(trial_id).id for trial_id in range(2 * space.size())]
    drawn = [sampling._sample(restricted=False).id for _ in range(2 * space.size())]
    assert asked == drawn
    assert len(set(asked)) < len(asked)
