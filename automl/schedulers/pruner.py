"""Stop unpromising children at epoch rungs with Optuna's pruners (ASHA, Hyperband).

One in-memory Optuna study stands for the search: automl trial ``i`` is Optuna trial number
``i`` (placeholders fill the numbers of trials that never report, so Hyperband's bracket of a
trial, a hash of its number, is the same after a resume). A child reports the monitored
per-epoch value (``val_loss`` by default, from the trainer's ``EpochReport``) at step = epoch;
``should_prune`` answers. The algorithm is Optuna's, not a copy: this module only maps trials
and epochs onto its ask / report / should_prune / tell.

Rebuilding after a resume (:meth:`EpochPruner.replay`): Optuna's successive halving keeps, per
trial, the value it had at each rung it reached (``completed_rung_k``), and decides from the
values other trials left at that rung. Those are a function of each trial's reported epochs
alone, so reporting every stored trial's epochs again (and asking at each, as the child did)
rebuilds the same rung values whatever the order; the stored outcome (stopped or not) is kept,
never re-decided.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import asdict
from dataclasses import dataclass
from typing import Any

from automl.errors import UserInputError
from automl.errors import allowed
from automl.errors import did_you_mean

SCHEDULERS = ("none", "asha", "hyperband")
"""``--scheduler`` values; ``none`` trains every child for its ``train.epochs``."""

STUDY_NAME = "automl"
"""Fixed, because Hyperband hashes ``study_name`` and the trial number to pick a bracket."""


def check_scheduler(name: Any, *, key: str = "--scheduler") -> str:
    """The scheduler name, or a one-line error naming the allowed ones."""
    if not isinstance(name, str) or name not in SCHEDULERS:
        text = name if isinstance(name, str) else repr(name)
        raise UserInputError(f"unknown scheduler {text!r}"
                             f"{did_you_mean(str(name), SCHEDULERS)}; allowed: "
                             f"{allowed(SCHEDULERS)}", key=key)
    return name


@dataclass(frozen=True)
class SchedulerConfig:
    """What the pruner needs (plain values: it travels to a Ray actor).

    Attributes:
        name: ``asha`` (Optuna's ``SuccessiveHalvingPruner``) or ``hyperband``
            (``HyperbandPruner``).
        max_epochs: The largest ``train.epochs`` of the space (Hyperband's ``max_resource``).
        metric: Per-epoch key that ranks children at a rung (Keras' epoch logs); lower is
            better when it ends in ``loss``, else higher.
        min_epochs: Epochs every child trains before its first rung (``min_resource``).
        reduction_factor: About 1 in ``reduction_factor`` children goes on at each rung.
    """

    name: str
    max_epochs: int
    metric: str = "val_loss"
    min_epochs: int = 1
    reduction_factor: int = 3

    @property
    def direction(self) -> str:
        return "minimize" if self.metric.endswith("loss") else "maximize"


def scheduler_config(name: str, train: Mapping[str, Any]) -> SchedulerConfig | None:
    """The pruner's configuration for a space's ``train`` settings; None for ``none``."""
    check_scheduler(name)
    if name == "none":
        return None
    folds = max((int(v or 0) for v in train.get("folds", ())), default=0)
    if folds >= 2:
        raise UserInputError(f"--scheduler {name} stops a child by its epochs, but with "
                             f"train.folds {folds} a child trains {folds} networks in turn; "
                             "allowed with train.folds: none", key="--scheduler")
    epochs = [int(v) for v in train.get("epochs", (10,))]
    return SchedulerConfig(name=name, max_epochs=max(epochs))


class EpochPruner:
    """The search's early-stopping state: Optuna's pruner on an in-memory study.

    Lives in the driver (the in-process executor calls :meth:`report` directly) or in one Ray
    actor that workers ask (``automl.execution.early_stop``).

    Example:
        >>> pruner = EpochPruner(SchedulerConfig("asha", max_epochs=9))
        >>> pruner.report(0, 1, {"val_loss": 0.5})
        True
    """

    def __init__(self, config: SchedulerConfig):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.config = config
        if config.name == "asha":
            pruner: Any = optuna.pruners.SuccessiveHalvingPruner(
                min_resource=config.min_epochs, reduction_factor=config.reduction_factor)
        elif config.name == "hyperband":
            pruner = optuna.pruners.HyperbandPruner(
                min_resource=config.min_epochs, max_resource=config.max_epochs,
                reduction_factor=config.reduction_factor)
        else:
            raise ValueError(f"no pruner for scheduler {config.name!r}")
        self._study = optuna.create_study(  # the sampler is never asked for a value
            study_name=STUDY_NAME, direction=config.direction, pruner=pruner,
            sampler=optuna.samplers.RandomSampler(seed=0))
        self._trials: list[Any] = []
        self._reports: dict[int, dict[int, dict[str, float]]] = {}
        self._stopped: dict[int, int] = {}
        self._finished: set[int] = set()

    def _trial(self, trial_id: int) -> Any:
        while len(self._trials) <= trial_id:
            self._trials.append(self._study.ask())
        return self._trials[trial_id]

    def report(self, trial_id: int, epoch: int, entry: Mapping[str, float]) -> bool:
        """One epoch of a child; False: stop it here.

        An epoch reported again (the child reran after its worker died) gets the answer it got
        the first time: Optuna keeps the first value of a step.
        """
        reports = self._reports.setdefault(trial_id, {})
        if epoch in reports:
            return self._stopped.get(trial_id) != epoch
        reports[epoch] = {k: float(v) for k, v in entry.items()}
        value = entry.get(self.config.metric)
        if value is None or not math.isfinite(float(value)) or trial_id in self._finished:
            return True  # nothing to rank it by: it trains on
        trial = self._trial(trial_id)
        trial.report(float(value), int(epoch))
        if trial.should_prune():
            self._stopped.setdefault(trial_id, epoch)
            return False
        return True

    def finish(self, trial_id: int, status: str) -> list[dict[str, float]]:
        """The child ended (``complete``, ``stopped`` or ``failed``); returns the epochs it
        reported (the store keeps them even when a worker died and its result has none)."""
        reports = self._reports.get(trial_id, {})
        entries = [reports[e] for e in sorted(reports)]
        if trial_id in self._finished:
            return entries
        self._finished.add(trial_id)
        import optuna

        trial = self._trial(trial_id)
        values = [e.get(self.config.metric) for e in entries]
        last = values[-1] if values else None
        if status == "stopped":
            self._study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        elif status == "complete" and last is not None and math.isfinite(last):
            self._study.tell(trial, float(last))
        else:
            self._study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return entries

    def replay(self, trials: Iterable[tuple[int, str, list[Mapping[str, float]]]]) -> int:
        """Rebuild the state from stored trials ``(trial_id, status, epochs)``, in the order
        they were told; the stored outcomes stand. Returns the trials replayed."""
        count = 0
        for trial_id, status, epochs in trials:
            for entry in epochs:
                self.report(trial_id, int(entry["epoch"]), entry)
            if status == "stopped" and epochs:  # the decision that was made, not a new one
                self._stopped[trial_id] = int(epochs[-1]["epoch"])
            self.finish(trial_id, status)
            count += 1
        return count

    def stopped(self) -> dict[int, int]:
        """Trials told to stop, and the epoch each was stopped at."""
        return dict(self._stopped)

    def describe(self) -> dict[str, Any]:
        """The configuration, for logs and ``run.json``."""
        return asdict(self.config)


logging.getLogger("optuna").setLevel(logging.WARNING)

__all__ = ["SCHEDULERS", "EpochPruner", "SchedulerConfig", "check_scheduler",
           "scheduler_config"]
