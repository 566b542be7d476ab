"""The wrappers every strategy runs under in a search: failures told as the worst reward seen,
no repeated architectures until the space is exhausted, the budget passed through."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from automl.space import Architecture
from automl.space import SearchSpace
from automl.space import parse_space
from automl.store.checkpoint import load_checkpoint
from automl.store.checkpoint import save_checkpoint
from automl.strategies import Strategy
from automl.strategies import create_strategy
from automl.strategies.wrappers import FailureAsWorst
from automl.strategies.wrappers import NoRepeats
from automl.strategies.wrappers import guarded
from automl.testing.drive import drive


def tiny_space(**decisions: list[Any]) -> SearchSpace:
    return parse_space({"name": "tiny", "decisions": decisions}, source_name="<tiny>",
                       base_dir=Path("."))


SPACE = tiny_space(a=[1, 2, 3], b=["x", "y"])  # 6 architectures


class Recorder(Strategy):
    """Proposes at random and records every tell it receives."""

    def __init__(self, space: SearchSpace, **kwargs: Any):
        super().__init__(space, **kwargs)
        self.told: list[tuple[int, str, float | None]] = []
        self.asked: list[int] = []

    def ask(self, trial_id: int) -> Architecture | None:
        self.asked.append(trial_id)
        return self.space.sample(self.rng)

    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        self.told.append((trial_id, architecture.id, reward))


class Constant(Recorder):
    """Always proposes the same architecture."""

    def ask(self, trial_id: int) -> Architecture | None:
        self.asked.append(trial_id)
        return self.space.from_flat({"a": 1, "b": "x"})


# ------------------------------------------------------------------------- failures
@pytest.mark.parametrize("reward, successes", [
    ("neg_val_loss", [-0.31, -1.7, -0.05, -12.0]),   # always below 0: 0.0 would be the best
    ("ccc", [0.42, -0.2, 0.8, 0.1]),                   # can be negative
    ("accuracy", [0.91, 0.97, 0.95, 0.93]),            # all near the top
])
def test_a_failure_never_outranks_a_success(reward: str, successes: list[float]):
    inner = Recorder(SPACE)
    wrapper = FailureAsWorst(inner)
    arch = SPACE.sample(np.random.default_rng(0))
    wrapper.tell(0, arch, None)  # before any success: held back, nothing to compare with
    assert inner.told == []
    outcomes = [successes[0], None, successes[1], float("nan"), successes[2], None, successes[3]]
    for trial_id, value in enumerate(outcomes, start=1):
        wrapper.tell(trial_id, arch, value)
        told = inner.told[-1][2]
        assert told is not None and np.isfinite(told)
        if value is None or not np.isfinite(value):
            seen = [o for o in outcomes[:trial_id] if o is not None and np.isfinite(o)]
            assert all(told <= s for s in seen), (told, seen)  # ties with the worst at most
    # The held failure was told right after the first success, as that success's value.
    assert inner.told[0][0] == 1 and inner.told[1] == (0, arch.id, successes[0])
    failures = [r for t, _, r in inner.told if t in (0, 2, 4, 6)]
    assert failures == [successes[0], successes[0], min(successes[:2]), min(successes[:3])]


def test_failure_quantile_and_state_round_trip():
    inner = Recorder(SPACE)
    wrapper = FailureAsWorst(inner, quantile=0.5)
    arch = SPACE.sample(np.random.default_rng(0))
    for trial_id, value in enumerate([0.2, 0.4, 0.6]):
        wrapper.tell(trial_id, arch, value)
    wrapper.tell(3, arch, None)
    assert inner.told[-1][2] == pytest.approx(0.4)
    restored = FailureAsWorst(Recorder(SPACE), quantile=0.5)
    restored.load_state_dict(wrapper.state_dict())
    assert restored.successes == wrapper.successes
    with pytest.raises(ValueError, match="quantile"):
        FailureAsWorst(inner, quantile=1.5)


# ------------------------------------------------------------------------- repeats
def test_no_repeats_until_the_space_is_exhausted():
    inner = Recorder(SPACE, seed=3)
    wrapper = NoRepeats(inner, max_retries=50)
    ids = []
    for trial_id in range(SPACE.size()):
        architecture = wrapper.ask(trial_id)
        ids.append(architecture.id)
        wrapper.tell(trial_id, architecture, float(trial_id))
    assert len(set(ids)) == SPACE.size() == 6  # random search alone repeats within 6 draws
    assert wrapper.repeats_avoided > 0
    # Every repeat the inner strategy proposed was told back to it, from memory.
    assert len(inner.told) == len(inner.asked)
    # Exhausted: a repeat passes through (the loop then reuses the stored result).
    assert wrapper.ask(6).id in ids


def test_repeats_of_children_in_flight_are_avoided_and_told_on_arrival():
    inner = Recorder(SPACE, seed=0)
    wrapper = NoRepeats(inner, max_retries=50)
    asked = {trial_id: wrapper.ask(trial_id) for trial_id in range(4)}
    assert len({a.id for a in asked.values()}) == 4  # all in flight at once, all different
    for trial_id in (2, 0, 3, 1):  # out of order
        wrapper.tell(trial_id, asked[trial_id], 0.5)
    assert not wrapper.in_flight and not wrapper.waiting
    # Each of the inner strategy's proposals was told exactly once.
    assert sorted(t for t, _, _ in inner.told) == sorted(inner.asked)


def test_a_stubborn_strategy_gets_a_new_architecture_after_max_retries():
    inner = Constant(SPACE, seed=5)
    wrapper = NoRepeats(inner, max_retries=3)
    first = wrapper.ask(0)
    wrapper.tell(0, first, 1.0)
    second = wrapper.ask(1)
    assert second.id != first.id and wrapper.untried_proposed == 1
    assert len(inner.asked) == 1 + 4 and len(inner.told) == 1 + 4  # repeats told from memory
    wrapper.tell(1, second, 0.5)
    assert not wrapper.in_flight
    # Its result reaches the strategy as one it did not ask for, under an id of its own.
    told_id, told_architecture, reward = inner.told[-1]
    assert (told_architecture, reward) == (second.id, 0.5) and told_id not in inner.asked
    # Drawn from the seed and the trial id: a restored wrapper proposes the same.
    restored = NoRepeats(Constant(SPACE, seed=5), max_retries=3)
    restored.tell(0, first, 1.0)
    assert restored.ask(1).id == second.id
    # Every other architecture known: nothing new to draw, the repeat passes.
    for trial_id, architecture in enumerate(SPACE.enumerate(), start=2):
        if architecture.id not in (first.id, second.id, SPACE.from_flat({"a": 3, "b": "y"}).id):
            wrapper.tell(trial_id, architecture, 0.1)
    last = SPACE.from_flat({"a": 3, "b": "y"})
    assert wrapper.ask(10).id == last.id  # the one left
    assert wrapper.ask(11).id == first.id  # all six seen: exhausted, the repeat passes


def test_a_key_makes_equivalent_architectures_repeats():
    """Under a key that ignores ``b`` the space holds 3 children: they are proposed once each,
    every other proposal is told to the inner strategy as the architecture it proposed."""
    inner = Recorder(SPACE, seed=3)
    wrapper = NoRepeats(inner, max_retries=50, key=lambda a: str(a.flat["a"]))
    asked = {trial_id: wrapper.ask(trial_id) for trial_id in range(2)}  # both in flight
    wrapper.tell(1, asked[1], 1.0)
    asked[2] = wrapper.ask(2)
    assert wrapper.waiting  # a proposal equivalent to trial 0, told when trial 0 arrives
    for trial_id in (0, 2):
        wrapper.tell(trial_id, asked[trial_id], float(trial_id))
    assert sorted(a.flat["a"] for a in asked.values()) == [1, 2, 3]
    assert sorted(t for t, _, _ in inner.told) == sorted(inner.asked)
    assert wrapper.repeats_avoided == len(inner.asked) - 3 > 0
    # Every architecture the inner strategy proposed got the reward of its own child.
    proposed = {trial_id: architecture_id for trial_id, architecture_id, _ in inner.told}
    by_id = {a.id: a for a in (SPACE.from_flat({"a": a, "b": b})
                               for a in (1, 2, 3) for b in ("x", "y"))}
    reward_of = {a.flat["a"]: r for a, r in ((asked[t], float(t) if t != 1 else 1.0)
                                               for t in asked)}
    assert all(reward == reward_of[by_id[proposed[trial_id]].flat["a"]]
               for trial_id, _, reward in inner.told)
    # Once all six architectures were seen the space is exhausted and a repeat passes at
    # once, not after the 50 retries.
    before = len(inner.asked)
    wrapper.ask(3)
    assert len(wrapper.seen) == 6 and len(inner.asked) - before < 50


def test_guarded_strategy_resumes_exactly(tmp_path):
    space = tiny_space(a=list(range(6)), b=["x", "y", "z"], c=[0.1, 0.2])
    reward = lambda a: float(a.flat["a"]) + (a.flat["b"] == "y") - (a.flat["a"] == 5) * 99  # noqa

    def make(seed: int) -> Strategy:
        strategy = guarded(create_strategy("evolution", space, seed=seed, workers=2,
                                           settings={"population_size": 4, "sample_size": 2}))
        strategy.set_budget(30)
        return strategy

    original = make(0)
    drive(original, lambda a: None if a.flat["a"] == 4 else reward(a), 12, workers=2)
    save_checkpoint(tmp_path / "c.npz", original.state_dict())
    resumed = make(7)
    resumed.load_state_dict(load_checkpoint(tmp_path / "c.npz"))
    assert [original.ask(100 + i).id for i in range(5)] == \
        [resumed.ask(100 + i).id for i in range(5)]


# ------------------------------------------------------------------------- budget
def test_the_budget_reaches_the_strategy_and_scales_dqn_exploration():
    dqn = guarded(create_strategy("dqn", SPACE, seed=0))
    inner = dqn.unwrapped  # type: ignore[attr-defined]
    assert inner.budget is None and inner.exploration_episodes == 100
    dqn.set_budget(200)
    assert inner.budget == 200 and inner.exploration_episodes == 10
    dqn.set_budget(1000)
    assert inner.exploration_episodes == 50
    fixed = create_strategy("dqn", SPACE, settings={"exploration_episodes": 7})
    fixed.set_budget(1000)
    assert fixed.exploration_episodes == 7
