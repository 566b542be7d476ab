"""TPE and regularized evolution beyond the shared contract."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from optuna.trial import TrialState

from automl.errors import UserInputError
from automl.space import Architecture
from automl.space import SearchSpace
from automl.space import load_space
from automl.store.checkpoint import load_checkpoint
from automl.store.checkpoint import save_checkpoint
from automl.strategies import create_strategy
from automl.strategies.evolution import RegularizedEvolution
from automl.strategies.tpe import TPE
from automl.testing.known_reward import hidden_target
from automl.testing.known_reward import match_reward

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mixed() -> SearchSpace:
    return load_space(ROOT / "search_spaces" / "signals_mixed.yaml")


@pytest.fixture(scope="module")
def dense() -> SearchSpace:
    return load_space(ROOT / "search_spaces" / "lecture_dense.yaml")


SETTINGS = {"tpe": {"n_startup_trials": 5},
            "evolution": {"population_size": 8, "sample_size": 3}}


@pytest.mark.parametrize("name", ["tpe", "evolution"])
def test_resume_after_every_tell_matches_uninterrupted(name: str, mixed: SearchSpace,
                                                       tmp_path: Path) -> None:
    """Checkpoint after every tell, out of order with 4 in flight: same proposals throughout."""
    reward = match_reward(mixed, hidden_target(mixed, 1))

    def run(restore_each_time: bool) -> list[str]:
        strategy = create_strategy(name, mixed, seed=1, workers=4, settings=SETTINGS[name])
        rng = np.random.default_rng(0)
        in_flight: list[tuple[int, Architecture]] = []
        proposed: list[str] = []
        for trial_id in range(40):
            architecture = strategy.ask(trial_id)
            assert architecture is not None
            proposed.append(architecture.id)
            in_flight.append((trial_id, architecture))
            if len(in_flight) == 4:
                done_id, done = in_flight.pop(int(rng.integers(4)))
                strategy.tell(done_id, done, reward(done))
                if restore_each_time:
                    save_checkpoint(tmp_path / "s.npz", strategy.state_dict())
                    strategy = create_strategy(name, mixed, seed=99, workers=4,
                                               settings=SETTINGS[name])
                    strategy.load_state_dict(load_checkpoint(tmp_path / "s.npz"))
        return proposed

    assert run(restore_each_time=True) == run(restore_each_time=False)


# ---------------------------------------------------------------------------------------- TPE
def test_tpe_uses_slots_so_layer_types_never_clash(mixed: SearchSpace) -> None:
    tpe = create_strategy("tpe", mixed, seed=0, settings={"n_startup_trials": 3})
    reward = match_reward(mixed, hidden_target(mixed, 0))
    for trial_id in range(25):  # past start-up: TPE models units of gru, lstm and dense apart
        architecture = tpe.ask(trial_id)
        tpe.tell(trial_id, architecture, reward(architecture))
    names = {name for t in tpe._study.trials for name in t.params}
    assert "layers.0.gru.units" in names or "layers.0.dense.units" in names
    assert not any(name.endswith(".units") and name.count(".") == 2 for name in names)


def test_tpe_failures_and_replayed_results(mixed: SearchSpace) -> None:
    rng = np.random.default_rng(0)
    tpe = create_strategy("tpe", mixed, seed=0)
    asked = tpe.ask(0)
    tpe.tell(0, asked, None)
    tpe.tell(7, space_sample := mixed.sample(rng), 0.5)  # never asked: added as history
    trials = tpe._study.trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE]
    assert trials[1].value == 0.5
    assert mixed.from_flat(_flat(mixed, trials[1].params)) == space_sample

    scored = create_strategy("tpe", mixed, seed=0, settings={"failure_reward": 0.0})
    scored.tell(0, scored.ask(0), None)
    assert scored._study.trials[0].state == TrialState.COMPLETE
    assert scored._study.trials[0].value == 0.0


def test_tpe_tell_with_another_architecture_closes_the_asked_one(mixed: SearchSpace) -> None:
    tpe = create_strategy("tpe", mixed, seed=0)
    tpe.ask(0)
    other = mixed.sample(np.random.default_rng(5))
    tpe.tell(0, other, 0.25)
    states = [t.state for t in tpe._study.trials]
    assert states == [TrialState.FAIL, TrialState.COMPLETE]


def test_tpe_learns_faster_than_random(dense: SearchSpace) -> None:
    """On the lecture space (813,615 architectures) TPE finds closer matches than random."""
    best = {"tpe": [], "random": []}
    for seed in range(3):
        reward = match_reward(dense, hidden_target(dense, seed))
        for name in best:
            strategy = create_strategy(name, dense, seed=seed)
            values = []
            for trial_id in range(60):
                architecture = strategy.ask(trial_id)
                values.append(reward(architecture))
                strategy.tell(trial_id, architecture, values[-1])
            best[name].append(np.mean(values[-20:]))
    assert np.mean(best["tpe"]) > np.mean(best["random"]) + 0.1, best


def _flat(space: SearchSpace, params: dict[str, object]) -> dict[str, object]:
    by_slot = {d.slot: d.name for d in space.slots()}
    return {by_slot[slot]: value for slot, value in params.items()}


# ---------------------------------------------------------------------------------- evolution
def test_evolution_mutates_exactly_one_decision(dense: SearchSpace) -> None:
    evolution = create_strategy("evolution", dense, seed=0)
    assert isinstance(evolution, RegularizedEvolution)
    rng = np.random.default_rng(0)
    depth_changes = 0
    for _ in range(300):
        parent = dense.sample(rng)
        child = evolution.mutate(parent)
        assert dense.from_flat(child.flat) == child != parent
        changed = _changed(dense, parent, child)
        assert len(changed) == 1, (parent.flat, child.flat)
        depth_changes += changed == ["num_layers"]
    assert depth_changes > 0


def _changed(space: SearchSpace, parent: Architecture, child: Architecture) -> list[str]:
    """Decisions present in both whose value differs."""
    before = {d.name: d.choices[i] for d, i in space.decisions_of(parent)}
    after = {d.name: d.choices[i] for d, i in space.decisions_of(child)}
    return sorted(n for n in before.keys() & after.keys() if before[n] != after[n])


def test_evolution_type_change_keeps_valid_values(mixed: SearchSpace) -> None:
    evolution = create_strategy("evolution", mixed, seed=0)
    parent = mixed.from_flat({"num_layers": 1, "layers.0.type": "dense", "layers.0.units": 32,
                              "layers.0.activation": "tanh", "train.optimizer": "adam",
                              "train.learning_rate": 0.001})
    for _ in range(200):
        child = evolution.mutate(parent)
        if child.layers and child.layers[0]["type"] in ("gru", "lstm"):
            assert child.layers[0]["units"] == 32  # still allowed, so kept
        if child.layers and child.layers[0]["type"] == "conv1d":
            assert child.layers[0]["activation"] == "tanh"


def test_evolution_random_until_population_full_then_ages(dense: SearchSpace) -> None:
    evolution = create_strategy("evolution", dense, seed=0,
                                settings={"population_size": 4, "sample_size": 4})
    asked = [evolution.ask(i) for i in range(6)]  # nothing told yet: all random
    assert evolution.n_random == 6 and evolution.n_mutations == 0
    rewards = [0.9, 0.1, 0.2, 0.3]
    for i, r in enumerate(rewards):
        evolution.tell(i, asked[i], r)
    evolution.tell(99, evolution.ask(6), None)  # a failed child does not join
    assert evolution.n_mutations == 1 and len(evolution.population) == 4
    # S = P: the tournament winner is the best member; the child differs from it in one place.
    child = evolution.ask(7)
    assert len(_changed(dense, asked[0], child)) == 1
    # Aging: the next result removes the oldest member (the best one), not the worst.
    evolution.tell(7, child, 0.0)
    assert len(evolution.population) == 4
    assert max(r for _, r in evolution.population) == 0.3
    assert evolution.progress() == {"population": 4.0, "population_best": 0.3,
                                    "population_mean": pytest.approx(0.15)}
    assert evolution.progress() is None


def test_evolution_rejects_bad_settings(dense: SearchSpace) -> None:
    with pytest.raises(UserInputError, match="sample_size"):
        create_strategy("evolution", dense, settings={"population_size": 3, "sample_size": 5})


def test_classes_are_registered() -> None:
    from automl.registry import STRATEGIES

    assert STRATEGIES.get("tpe") is TPE
    assert STRATEGIES.get("evolution") is RegularizedEvolution
