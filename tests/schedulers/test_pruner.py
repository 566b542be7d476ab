"""The early-stopping state (Optuna's pruners behind EpochPruner): it stops children, and a
pruner rebuilt from stored epochs decides like the one that never stopped."""

from __future__ import annotations

import numpy as np
import pytest

from automl.errors import UserInputError
from automl.schedulers import EpochPruner
from automl.schedulers import SchedulerConfig
from automl.schedulers import check_scheduler
from automl.schedulers import scheduler_config

EPOCHS = 9


def _curves(n: int, seed: int = 0) -> list[list[float]]:
    """Validation-loss curves: a child's level is fixed, its loss falls with the epochs."""
    rng = np.random.default_rng(seed)
    return [[float(level / (1 + 0.3 * e) + rng.normal(0, 0.01)) for e in range(EPOCHS)]
            for level in rng.uniform(0.2, 2.0, size=n)]


def _run(pruner: EpochPruner, curves: list[list[float]], trial_ids: range,
         stored: dict[int, tuple[str, list[dict[str, float]]]]) -> None:
    """Children one after another (one worker): report until told to stop."""
    for trial_id in trial_ids:
        epochs: list[dict[str, float]] = []
        status = "complete"
        for epoch, value in enumerate(curves[trial_id], start=1):
            entry = {"epoch": epoch, "loss": value, "val_loss": value}
            epochs.append(entry)
            if not pruner.report(trial_id, epoch, entry) and epoch < EPOCHS:
                status = "stopped"
                break
        assert pruner.finish(trial_id, status) == epochs
        stored[trial_id] = (status, epochs)


@pytest.mark.parametrize("name", ["asha", "hyperband"])
def test_stops_children_and_replay_is_exact(name: str) -> None:
    config = SchedulerConfig(name, max_epochs=EPOCHS)
    curves = _curves(24)
    straight: dict[int, tuple[str, list[dict[str, float]]]] = {}
    _run(EpochPruner(config), curves, range(24), straight)
    stopped = [t for t, (status, _) in straight.items() if status == "stopped"]
    epochs = sum(len(e) for _, e in straight.values())
    assert 8 <= len(stopped) < 24 and epochs < 24 * EPOCHS * 0.7, (len(stopped), epochs)
    assert all(len(straight[t][1]) < EPOCHS for t in stopped)

    # stop after 10 children; rebuild from what the store would hold; go on to 24
    resumed: dict[int, tuple[str, list[dict[str, float]]]] = {}
    _run(EpochPruner(config), curves, range(10), resumed)
    rebuilt = EpochPruner(config)
    assert rebuilt.replay([(t, s, e) for t, (s, e) in sorted(resumed.items())]) == 10
    _run(rebuilt, curves, range(10, 24), resumed)
    assert resumed == straight


def test_replay_keeps_the_stored_outcome_whatever_the_order() -> None:
    """Two workers interleave epochs; the replay (in told order) leaves the same rung values,
    so the next child is stopped or kept exactly as by the pruner that saw the interleaving."""
    config = SchedulerConfig("asha", max_epochs=EPOCHS)
    curves = _curves(12, seed=1)
    live = EpochPruner(config)
    stored: list[tuple[int, str, list[dict[str, float]]]] = []
    lanes = {0: 0, 1: 1}  # worker -> trial
    progress = {0: [], 1: []}
    next_trial = 2
    while lanes:
        for worker in sorted(lanes):
            trial_id = lanes[worker]
            epoch = len(progress[worker]) + 1
            value = curves[trial_id][epoch - 1]
            entry = {"epoch": epoch, "val_loss": value}
            progress[worker].append(entry)
            go_on = live.report(trial_id, epoch, entry)
            if not go_on or epoch == EPOCHS:
                status = "stopped" if not go_on and epoch < EPOCHS else "complete"
                live.finish(trial_id, status)
                stored.append((trial_id, status, progress[worker]))
                progress[worker] = []
                if next_trial < 11:
                    lanes[worker], next_trial = next_trial, next_trial + 1
                else:
                    del lanes[worker]
    assert any(status == "stopped" for _, status, _ in stored)
    rebuilt = EpochPruner(config)
    assert rebuilt.replay(stored) == 11
    answers = {}
    for name, pruner in (("live", live), ("rebuilt", rebuilt)):
        answers[name] = _answers(pruner, curves)
    assert answers["live"] == answers["rebuilt"]
    assert True in answers["live"] and False in answers["live"]


def _answers(pruner: EpochPruner, curves: list[list[float]]) -> list[bool]:
    """The pruner's answers to probe children, each finished before the next (the same
    sequence of decisions for both pruners only if their rung values agree)."""
    answers = []
    for i, curve in enumerate(curves):
        for epoch, value in enumerate(curve[:3], start=1):
            answers.append(pruner.report(11 + i, epoch, {"val_loss": value}))
        pruner.finish(11 + i, "complete")
    return answers


def test_bad_scheduler_names_are_one_line_errors() -> None:
    assert check_scheduler("asha") == "asha"
    with pytest.raises(UserInputError, match=r"did you mean 'hyperband'.*allowed: 'none'"):
        check_scheduler("hyperbandd")
    with pytest.raises(UserInputError, match="unknown scheduler"):
        check_scheduler(3)
    assert scheduler_config("none", {"epochs": (4,)}) is None
    assert scheduler_config("hyperband", {"epochs": (4, 12)}).max_epochs == 12
