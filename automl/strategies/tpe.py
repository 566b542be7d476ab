"""TPE: Optuna's Tree-structured Parzen Estimator (Bergstra et al. 2011) behind our ask/tell.

The architecture is built define-by-run: :meth:`SearchSpace.decide` walks the decision process
and each decision becomes one ``trial.suggest_categorical`` call, so a conditional space (a
layer's parameters exist only for the chosen depth and type) needs no translation.

Optuna parameter names are the decisions' *slots* (``layers.1.gru.units``), not their flat names
(``layers.1.units``): a flat name can carry different choices depending on the layer type
(``units`` of a GRU versus an LSTM), and TPE must never see one parameter name with two sets of
choices. A slot always has the same choices.

Exact resume. The study is the journal of everything TPE conditions on: the trials in creation
order, each with its parameters and state (running, complete with a value, failed), and for a
running trial the multivariate sample that ``constant_liar`` reads back. The checkpoint holds
that journal, the two Mersenne-Twister states of the sampler (TPE's own and its random start-up
sampler) and the order of the sampler's decision groups (``group=True``).
:meth:`TPE.load_state_dict` rebuilds an identical in-memory study with ``study.add_trial`` and
puts that state back, so the next proposals are the ones the uninterrupted strategy would have
made. The RNGs and groups are private Optuna attributes (checked against Optuna 5.0); the
contract tests catch a version that moves them.

Example:
    >>> from automl.space import load_space
    >>> from automl.strategies import create_strategy
    >>> space = load_space("search_spaces/quickstart.yaml")
    >>> tpe = create_strategy("tpe", space, seed=0, settings={"n_startup_trials": 5})
    >>> architecture = tpe.ask(0)
    >>> tpe.tell(0, architecture, 0.9)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import CategoricalDistribution
from optuna.trial import TrialState

from automl.space import Architecture
from automl.space import SearchSpace
from automl.strategies.base import Strategy
from automl.strategies.base import StrategyState

_STATES = {"running": TrialState.RUNNING, "complete": TrialState.COMPLETE,
           "fail": TrialState.FAIL}


@dataclass
class TPESettings:
    """Settings of :class:`TPE` (the ``strategy:`` block of a space YAML)."""

    n_startup_trials: int = 10
    """Finished children proposed at random before TPE models anything (Optuna's default)."""

    n_ei_candidates: int = 24
    """Candidates drawn from the good-density model; the one with the best l(x)/g(x) ratio wins."""

    multivariate: bool = True
    """Model decisions jointly (multivariate TPE) instead of one density per decision: layer
    parameters interact, so the joint model learns faster on architecture spaces."""

    group: bool = True
    """Split the conditional space into groups of decisions that always occur together and model
    each group jointly. Needs ``multivariate``; without it a conditional space falls back to
    independent sampling for every decision that is not always present."""

    constant_liar: bool = True
    """Count children still training as bad results while proposing, so that parallel workers
    do not all receive the same architecture."""

    prior_weight: float = 1.0
    """Weight of the uniform prior mixed into each density; larger explores more."""

    failure_reward: float | None = None
    """Reward a failed child is told as. None: the trial is marked FAIL and TPE ignores it (so
    it may be proposed again); a number (e.g. 0.0) teaches TPE to avoid architectures that
    fail."""


class TPE(Strategy):
    """Optuna's TPESampler through ask/tell, one in-memory study per strategy.

    Args:
        space: The search space to propose from.
        seed: Seed of the sampler.
        workers: Children trained at once (unused: ``constant_liar`` handles parallelism).
        settings: Values for :class:`TPESettings`.
    """

    Settings = TPESettings

    def __init__(self, space: SearchSpace, *, seed: int = 0, workers: int = 1,
                 **settings: Any):
        super().__init__(space, seed=seed, workers=workers, **settings)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._study = self._new_study()
        self._journal: list[dict[str, Any]] = []  # one entry per study trial, in number order
        self._pending: dict[int, tuple[int, str]] = {}  # trial_id -> (study number, arch id)
        self._slot_choices = {d.slot: list(d.choices) for d in space.slots()}

    def _new_study(self) -> optuna.Study:
        s = self.settings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ExperimentalWarning for group / constant_liar
            sampler = optuna.samplers.TPESampler(
                n_startup_trials=s.n_startup_trials, n_ei_candidates=s.n_ei_candidates,
                multivariate=s.multivariate, group=s.group and s.multivariate,
                constant_liar=s.constant_liar, prior_weight=s.prior_weight,
                warn_independent_sampling=False,
                seed=self.seed % 2**32)  # NumPy's legacy seeding, under Optuna, stops at 2**32
        return optuna.create_study(direction="maximize", sampler=sampler)

    # ------------------------------------------------------------------ ask / tell
    def ask(self, trial_id: int) -> Architecture | None:
        # ALGO LOGIC: define-by-run; each decision is one categorical suggestion.
        trial = self._study.ask()
        architecture = self.space.decide(
            lambda decision, _: trial.suggest_categorical(decision.slot, list(decision.choices)))
        self._journal.append({"params": dict(trial.params), "state": "running", "value": None})
        self._pending[trial_id] = (trial.number, architecture.id)
        return architecture

    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        value = self._value(reward)
        pending = self._pending.pop(trial_id, None)
        if pending is not None and pending[1] == architecture.id:
            number = pending[0]
            if value is None:
                self._study.tell(number, state=TrialState.FAIL)
            else:
                self._study.tell(number, value)
            self._journal[number].update(state="fail" if value is None else "complete",
                                         value=value)
            return
        if pending is not None:
            # The search loop told another architecture under this id: close the asked one.
            self._study.tell(pending[0], state=TrialState.FAIL)
            self._journal[pending[0]].update(state="fail", value=None)
        # A result TPE did not ask for (replayed after a resume, or cached): add it as history.
        params = {d.slot: d.choices[i] for d, i in self.space.decisions_of(architecture)}
        entry = {"params": params, "state": "fail" if value is None else "complete",
                 "value": value}
        self._add(entry)
        self._journal.append(entry)

    def _value(self, reward: float | None) -> float | None:
        if reward is None or not math.isfinite(reward):
            return self.settings.failure_reward
        return float(reward)

    def _add(self, entry: dict[str, Any]) -> None:
        distributions = {name: CategoricalDistribution(self._slot_choices[name])
                         for name in entry["params"]}
        self._study.add_trial(optuna.trial.create_trial(
            params=entry["params"], distributions=distributions,
            value=entry["value"] if entry["state"] == "complete" else None,
            state=_STATES[entry["state"]], system_attrs=entry.get("system_attrs")))

    # ------------------------------------------------------------------ checkpoint
    def state_dict(self) -> StrategyState:
        state = super().state_dict()
        sampler = self._study.sampler
        trials = self._study.get_trials(deepcopy=False)
        journal = [
            # A running trial's system attrs hold the relative (multivariate) sample that
            # constant_liar reads back, parameters the architecture did not use included.
            {**entry, "system_attrs": dict(trials[number].system_attrs)}
            if entry["state"] == "running" else entry
            for number, entry in enumerate(self._journal)]
        state.meta.update(
            journal=journal,
            pending=[[tid, number, arch_id] for tid, (number, arch_id) in self._pending.items()],
            tpe_rng=_rng_state(sampler._rng.rng),  # type: ignore[attr-defined]
            random_rng=_rng_state(sampler._random_sampler._rng.rng),  # type: ignore[attr-defined]
            groups=[sorted(group) for group in self._groups().search_spaces]
            if self._groups() is not None else None,
        )
        return state

    def _groups(self) -> Any:
        """The sampler's decomposition of the space into groups of co-occurring decisions.

        Optuna refines it incrementally; with results told out of order its group *order* (and
        so the order in which TPE draws random numbers) depends on the order results arrived,
        which a rebuilt study cannot know. The checkpoint therefore keeps it.
        """
        decomposed = self._study.sampler._group_decomposed_search_space  # type: ignore[attr-defined]
        return None if decomposed is None else decomposed._search_space

    def load_state_dict(self, state: StrategyState) -> None:
        super().load_state_dict(state)
        meta = state.meta
        self._study = self._new_study()
        self._journal = []
        for entry in meta["journal"]:
            self._add(entry)
            self._journal.append({k: v for k, v in entry.items() if k != "system_attrs"})
        self._pending = {int(tid): (int(number), str(arch_id))
                         for tid, number, arch_id in meta["pending"]}
        sampler = self._study.sampler
        sampler._rng.rng.set_state(_rng_from_json(meta["tpe_rng"]))  # type: ignore[attr-defined]
        sampler._random_sampler._rng.rng.set_state(  # type: ignore[attr-defined]
            _rng_from_json(meta["random_rng"]))
        if meta.get("groups") is not None and self._groups() is not None:
            self._groups()._search_spaces = [
                {name: CategoricalDistribution(self._slot_choices[name]) for name in group}
                for group in meta["groups"]]


def _rng_state(rng: Any) -> dict[str, Any]:
    """A ``numpy.random.RandomState`` state as JSON (the 624-word key as a list)."""
    state = rng.get_state(legacy=False)
    return {"bit_generator": state["bit_generator"],
            "state": {"key": [int(k) for k in state["state"]["key"]],
                      "pos": int(state["state"]["pos"])},
            "has_gauss": int(state["has_gauss"]), "gauss": float(state["gauss"])}


def _rng_from_json(data: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    return {"bit_generator": data["bit_generator"],
            "state": {"key": np.asarray(data["state"]["key"], dtype=np.uint32),
                      "pos": int(data["state"]["pos"])},
            "has_gauss": int(data["has_gauss"]), "gauss": float(data["gauss"])}
