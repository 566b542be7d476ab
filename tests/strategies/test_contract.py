"""The contract every registered strategy passes (built-ins and plugins alike).

Parametrised over ``STRATEGIES.names()``, so a newly registered strategy is tested here without
touching this file. Budgets are tiny: this checks the ask/tell contract, not learning.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import math
import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from automl.registry import STRATEGIES
from automl.registry import ensure_builtins
from automl.space import Architecture
from automl.space import SearchSpace
from automl.space import load_space
from automl.store.checkpoint import load_checkpoint
from automl.store.checkpoint import save_checkpoint
from automl.strategies import Strategy
from automl.strategies import create_strategy
from automl.testing.drive import drive
from automl.testing.known_reward import hidden_target
from automl.testing.known_reward import match_reward

ensure_builtins()
NAMES = STRATEGIES.names()
ROOT = Path(__file__).resolve().parents[2]
SPACES = ("quickstart", "signals_mixed")
WORKERS = 4

# Settings that make a learning strategy leave its random start-up phase within these budgets.
FAST: dict[str, dict[str, object]] = {
    "tpe": {"n_startup_trials": 4},
    "evolution": {"population_size": 6, "sample_size": 3},
}


@pytest.fixture(scope="module", params=SPACES)
def space(request: pytest.FixtureRequest) -> SearchSpace:
    return load_space(ROOT / "search_spaces" / f"{request.param}.yaml")


def make(name: str, space: SearchSpace, seed: int = 0) -> Strategy:
    return create_strategy(name, space, seed=seed, workers=WORKERS, settings=FAST.get(name))


def checked(space: SearchSpace, reward: Callable[[Architecture], float],
            seen: list[Architecture] | None = None) -> Callable[[Architecture], float]:
    """Wrap ``reward`` so that every proposed architecture is checked to be valid."""

    def wrapped(architecture: Architecture) -> float:
        assert isinstance(architecture, Architecture)
        assert space.from_flat(architecture.flat) == architecture, architecture.to_dict()
        if seen is not None:
            seen.append(architecture)
        return reward(architecture)

    return wrapped


@pytest.mark.parametrize("name", NAMES)
def test_proposes_only_valid_architectures(name: str, space: SearchSpace) -> None:
    strategy = make(name, space)
    reward = match_reward(space, hidden_target(space, 0))
    rewards = drive(strategy, checked(space, reward), budget=20, workers=WORKERS, seed=1)
    assert len(rewards) == 20


@pytest.mark.parametrize("name", NAMES)
def test_any_non_negative_seed_is_accepted(name: str) -> None:
    """Seeds of 2**32 and more (NumPy's legacy seeding, under Optuna, stops below 2**32)."""
    space = load_space(ROOT / "search_spaces" / "quickstart.yaml")
    reward = match_reward(space, hidden_target(space, 0))
    rewards = drive(make(name, space, seed=2**40 + 3), checked(space, reward), budget=6,
                    workers=2, seed=1)
    assert len(rewards) == 6


@pytest.mark.parametrize("name", NAMES)
def test_unknown_trial_ids_and_failed_children(name: str, space: SearchSpace) -> None:
    strategy = make(name, space, seed=3)
    reward = match_reward(space, hidden_target(space, 3))
    rng = np.random.default_rng(3)
    # Results replayed from an earlier run: ids never asked, some children failed.
    for i in range(10):
        architecture = space.sample(rng)
        strategy.tell(10_000 + i, architecture, None if i % 3 == 0 else reward(architecture))
        _check_progress(strategy)
    calls = iter(range(1_000))

    def flaky(architecture: Architecture) -> float:
        return None if next(calls) % 4 == 0 else reward(architecture)  # type: ignore[return-value]

    drive(strategy, checked(space, flaky), budget=16, workers=WORKERS, seed=2)
    assert space.from_flat(strategy.ask(99).flat) is not None


@pytest.mark.parametrize("name", NAMES)
def test_checkpoint_resume_proposes_the_same(name: str, space: SearchSpace,
                                             tmp_path: Path) -> None:
    reward = match_reward(space, hidden_target(space, 5))
    original = make(name, space, seed=5)
    drive(original, reward, budget=14, workers=WORKERS, seed=5)
    # Leave two children in flight and a replayed failure in the history.
    first, second = original.ask(14), original.ask(15)
    original.tell(14, first, reward(first))
    original.tell(20_000, space.sample(np.random.default_rng(0)), None)

    path = tmp_path / "strategy.npz"
    state = original.state_dict()
    json.dumps(state.meta)  # the meta must be plain JSON
    save_checkpoint(path, state)
    restored = make(name, space, seed=12_345)  # another seed: everything must come from the state
    restored.load_state_dict(load_checkpoint(path))

    proposals: list[list[str]] = []
    for strategy in (original, restored):
        strategy.tell(15, second, reward(second))
        seen: list[Architecture] = []
        drive(strategy, checked(space, reward, seen), budget=10, workers=WORKERS, seed=6,
              start_id=16)
        proposals.append([a.id for a in seen])
    assert proposals[0] == proposals[1]


@pytest.mark.parametrize("name", NAMES)
def test_settings_have_defaults_and_docstrings(name: str) -> None:
    cls = STRATEGIES.get(name)
    settings = cls.Settings
    assert dataclasses.is_dataclass(settings)
    fields = dataclasses.fields(settings)
    for field in fields:
        has_default = (field.default is not dataclasses.MISSING
                       or field.default_factory is not dataclasses.MISSING)
        assert has_default, f"{name}: setting {field.name!r} has no default"
    if fields:
        documented = _documented_fields(settings)
        missing = [f.name for f in fields if f.name not in documented]
        assert not missing, f"{name}: settings without a docstring: {missing}"


def _check_progress(strategy: Strategy) -> None:
    stats = strategy.progress()
    if stats is not None:
        assert all(isinstance(k, str) for k in stats)
        assert all(isinstance(v, (int, float)) and math.isfinite(v) for v in stats.values())


def _documented_fields(cls: type) -> set[str]:
    """Field names followed by a string literal in the class body (attribute docstrings)."""
    documented: set[str] = set()
    for klass in cls.__mro__:
        if not dataclasses.is_dataclass(klass):
            continue
        tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        body = tree.body[0].body  # type: ignore[attr-defined]
        for node, after in zip(body, body[1:], strict=False):
            if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                    and isinstance(after, ast.Expr) and isinstance(after.value, ast.Constant)
                    and isinstance(after.value.value, str)):
                documented.add(node.target.id)
    return documented
