"""``--mode one-shot``: the ENAS phase in the driver, then the top K retrained as ordinary
children through the normal executor.

A one-shot run folder is an ordinary run folder plus ``one_shot.npz`` (the phase's epoch
checkpoint); ``run.json`` says ``"mode": "one-shot"`` and holds the phase's settings. The store's
meta holds ``one_shot`` once the phase is over: every candidate's one-shot score (by
architecture id), the K chosen, the epoch history and, after the retraining, the Kendall tau
between one-shot score and real reward. The retrained children are ordinary trials (Ray by
default), so the leaderboard, export and report treat them as any other; the leaderboard adds
their one-shot score.

Resume: before the phase ended, from its last epoch checkpoint; after, the retraining resumes
as any search does (the store and ``strategy.npz``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from automl.builder.supernet import check_one_shot
from automl.engine.api import _load_data
from automl.engine.api import _log_to
from automl.engine.api import _recorded
from automl.engine.api import _reward_of
from automl.engine.api import _strategy_choice
from automl.engine.api import _unique_name
from automl.engine.api import check_data_unchanged
from automl.engine.api import checked_space
from automl.engine.api import dataset_facts
from automl.engine.api import load_run_space
from automl.engine.api import new_run_info
from automl.engine.api import recorded_execution
from automl.engine.api import start_and_create
from automl.engine.one_shot import OneShotPhase
from automl.engine.one_shot import OneShotSettings
from automl.engine.one_shot import Ranked
from automl.engine.one_shot import check_one_shot_settings
from automl.engine.one_shot import rank
from automl.engine.search import Progress
from automl.engine.search import SearchLoop
from automl.engine.search import SearchOutcome
from automl.engine.search import notices
from automl.errors import RunError
from automl.errors import SpaceError
from automl.errors import UserInputError
from automl.execution import ExecutionSettings
from automl.execution import check_execution
from automl.execution import create_executor
from automl.schedulers import scheduler_config
from automl.space import Architecture
from automl.space import SearchSpace
from automl.store import RunFolder
from automl.store import TrialStatus
from automl.store import TrialStore
from automl.strategies import Strategy
from automl.strategies import StrategyState
from automl.strategies import create_strategy
from automl.training.trainer import model_spec

logger = logging.getLogger("automl.one_shot")

MODE = "one-shot"
ONE_SHOT_STRATEGY_DEFAULTS = {"imagined_batches": 0, "batch_size": None, "repeats": True}
"""The controller's settings in one-shot mode unless the YAML's ``strategy:`` block says
otherwise: no Dyna imagined batches (a shared-weight score costs a millisecond; a reward model
is for rewards that cost a training), one update per controller step (``batch_size`` None:
the ``controller_batch`` architectures a step scores, as in ENAS), and asks that are the
controller's own samples, repeats included (``repeats``: the policy gradient is on-policy, as
in ENAS; without it every ask redrew until it found an architecture the phase had not asked
yet, measured in docs/one_shot.md)."""


class FixedList(Strategy):
    """Proposes the given architectures in order, then nothing (the retraining of the top K)."""

    def __init__(self, space: SearchSpace, architectures: Sequence[Architecture]):
        super().__init__(space)
        self.architectures = list(architectures)
        self.asked = 0

    def ask(self, trial_id: int) -> Architecture | None:
        if self.asked >= len(self.architectures):
            return None
        self.asked += 1
        return self.architectures[self.asked - 1]

    def tell(self, trial_id: int, architecture: Architecture, reward: float | None) -> None:
        """Nothing to learn: the list was decided by the one-shot phase."""

    def state_dict(self) -> StrategyState:
        state = super().state_dict()
        state.meta["asked"] = self.asked
        return state

    def load_state_dict(self, state: StrategyState) -> None:
        super().load_state_dict(state)
        self.asked = int(state.meta["asked"])


def kendall_tau(pairs: Sequence[tuple[float, float]]) -> float | None:
    """Kendall's tau-b between the two columns; None with fewer than 2 pairs or no variation."""
    from scipy.stats import kendalltau

    if len(pairs) < 2:
        return None
    tau = kendalltau([a for a, _ in pairs], [b for _, b in pairs]).statistic
    return float(tau) if math.isfinite(tau) else None


def why_no_tau(pairs: Sequence[tuple[float, float]]) -> str | None:
    """Why :func:`kendall_tau` of these pairs is undefined (None when it is defined)."""
    if len(pairs) < 2:
        return f"{len(pairs)} retrained child(ren) completed; tau needs 2"
    if len({b for _, b in pairs}) < 2:
        return "every retrained child got the same reward"
    if len({a for a, _ in pairs}) < 2:
        return "the one-shot scores are all equal"
    return None


def _controller(space: SearchSpace, seed: int, settings: OneShotSettings,
                strategy: str | None, strategy_settings: dict[str, Any] | None,
                source: str) -> tuple[Any, dict[str, Any]]:
    if strategy not in (None, "reinforce"):
        raise UserInputError(f"one-shot mode trains the reinforce controller, not {strategy!r}",
                             key="--strategy")
    yaml_name = space.strategy.get("name")
    if strategy is None and yaml_name not in (None, "reinforce"):  # not dropped in silence
        raise SpaceError(f"one-shot mode trains the reinforce controller, not {yaml_name!r}; "
                         "name reinforce (or no strategy) here, or give --strategy reinforce",
                         source=space.source, key="strategy.name")
    _, chosen = _strategy_choice(space, "reinforce", strategy_settings)
    chosen = {**ONE_SHOT_STRATEGY_DEFAULTS, **chosen}
    return create_strategy("reinforce", space, seed=seed, workers=settings.controller_batch,
                           settings=chosen, source=source), chosen


def _stored_controller(folder: RunFolder, info: dict[str, Any], space: SearchSpace,
                       settings: OneShotSettings, seed: int) -> Strategy:
    """The run's controller as ``run.json`` describes it (before its checkpoint is loaded)."""
    return create_strategy("reinforce", space, seed=seed, workers=settings.controller_batch,
                           settings=info.get("strategy_settings") or {},
                           source=str(folder.run_json))


def run_one_shot(space: str | Path | SearchSpace, *, settings: OneShotSettings | None = None,
                 strategy: str | None = None, strategy_settings: dict[str, Any] | None = None,
                 seed: int | None = None, name: str | None = None,
                 runs_dir: str | Path = "runs", execution: ExecutionSettings | None = None,
                 max_consecutive_failures: int = 10, overwrite: bool = False,
                 plugins: Sequence[str] = (),
                 on_progress: Callable[[Progress], None] | None = None,
                 on_start: Callable[[RunFolder], None] | None = None,
                 on_epoch: Callable[[dict[str, float]], None] | None = None) -> SearchOutcome:
    """A one-shot search: validate everything, create the run, train the super-network and
    the controller, retrain the top ``settings.retrain_top`` (``outcome.extra`` has the
    Kendall tau and the phase's seconds).

    Example:
        >>> outcome = run_one_shot("search_spaces/lecture_dense.yaml")  # doctest: +SKIP
        >>> outcome.extra["kendall_tau"]  # doctest: +SKIP
    """
    space = checked_space(space, name, plugins)
    settings = check_one_shot_settings(settings or OneShotSettings())
    check_one_shot(space)  # the space alone, before any data is loaded
    execution = check_execution(execution or ExecutionSettings())
    seed = seed if seed is not None else (space.seed or 0)
    reward, reward_params = _reward_of(space)
    space, data, task_name = _load_data(space, seed)
    controller, chosen = _controller(space, seed, settings, strategy, strategy_settings,
                                     space.source)
    check_one_shot(space, model_spec(data))  # the input kind the stacks need
    name = name or _unique_name(Path(runs_dir), space.name)
    run_info = new_run_info(name, space, data, strategy="reinforce", strategy_settings=chosen,
                            seed=seed, trials=settings.retrain_top, execution=execution,
                            mode=MODE, one_shot=asdict(settings))
    executor, run = start_and_create(runs_dir, name, space, data, task_name, run_info,
                                     execution, overwrite=overwrite)
    return _run(run, space, data, task_name, controller, executor, settings, seed, reward,
                reward_params, max_consecutive_failures, on_progress, on_start, on_epoch,
                resume=False, keep_best=execution.keep_best)


def is_one_shot(folder: RunFolder) -> bool:
    return folder.info().get("mode") == MODE


def resume_one_shot(run: str | Path, *, runs_dir: str | Path = "runs",
                    execution: ExecutionSettings | None = None,
                    max_consecutive_failures: int = 10,
                    on_progress: Callable[[Progress], None] | None = None,
                    on_start: Callable[[RunFolder], None] | None = None,
                    on_epoch: Callable[[dict[str, float]], None] | None = None
                    ) -> SearchOutcome:
    """Continue a killed or stopped one-shot run: the phase from its last epoch checkpoint,
    or the retraining as any search resumes."""
    folder = RunFolder.open(run, runs_dir)
    folder.acquire_lock()
    try:
        info, space = load_run_space(folder, "resume")
        TrialStore.check_readable(folder.db_path)  # a damaged store: refused, nothing changed
        check_data_unchanged(folder, info, space)  # the phase must go on with the same data
        settings = _recorded_settings(folder, info)
        stored = recorded_execution(folder)
        execution = check_execution(execution or stored)
        seed = int(info.get("seed", 0))
        reward, reward_params = _reward_of(space)
        space, data, task_name = _load_data(space, seed)
        controller = _stored_controller(folder, info, space, settings, seed)
        executor = create_executor(execution, data, task_name=task_name,
                                   plugin_paths=info.get("plugins", []),
                                   scheduler=scheduler_config(execution.scheduler, space.train))
    except BaseException:
        folder.release_lock()
        raise
    return _run(folder, space, data, task_name, controller, executor, settings, seed, reward,
                reward_params, max_consecutive_failures, on_progress, on_start, on_epoch,
                resume=True, keep_best=execution.keep_best)


def _recorded_settings(folder: RunFolder, info: dict[str, Any]) -> OneShotSettings:
    """The phase's settings as ``run.json`` recorded them; a damaged or edited record is one
    line naming the file (not a flag this resume was never given)."""
    with _recorded(folder):
        recorded = info["one_shot"]
        if not isinstance(recorded, dict):
            raise TypeError(f"one_shot is {type(recorded).__name__}, not an object")
        settings = OneShotSettings(**recorded)
    try:
        return check_one_shot_settings(settings, new=False)
    except UserInputError as exc:
        raise RunError(f"the recorded {exc.key} {exc.message}", source=str(folder.run_json),
                       key="one_shot") from None


def _run(run: RunFolder, space: SearchSpace, data: Any, task_name: str | None,
         controller: Any, executor: Any, settings: OneShotSettings, seed: int, reward: Any,
         reward_params: dict[str, Any], max_consecutive_failures: int,
         on_progress: Callable[[Progress], None] | None,
         on_start: Callable[[RunFolder], None] | None,
         on_epoch: Callable[[dict[str, float]], None] | None, *, resume: bool,
         keep_best: int) -> SearchOutcome:
    try:
        if not run.holds_lock:
            run.acquire_lock()
        with _log_to(run), TrialStore(run.db_path) as store:
            store.set_meta("mode", MODE)
            store.set_meta("dataset", dataset_facts(data, task_name))
            if on_start is not None:
                on_start(run)
            summary = store.meta("one_shot")
            if summary is None:
                if not executor.started:
                    executor.start()
                if hasattr(executor, "warm_up"):
                    executor.warm_up()  # the workers start while the phase trains
                summary = _one_shot_phase(run, space, data, controller, settings, seed, reward,
                                          reward_params, on_epoch, resume=resume)
                store.set_meta("one_shot", summary)
            chosen = [Architecture.from_dict(a) for a in summary["chosen"]]
            if run.info().get("trials") != len(chosen):  # fewer distinct candidates than K
                logging.getLogger("automl.space").warning(
                    "one-shot: the phase ranked %d distinct architectures, so %d are retrained "
                    "(--retrain-top %s)", len(summary["ranking"]), len(chosen),
                    run.info().get("trials"))
                run.update_info(trials=len(chosen))
            if not executor.started:
                executor.start()
            loop = SearchLoop(run, space, FixedList(space, chosen), executor,
                              trials=len(chosen), seed=seed, reward=reward,
                              reward_params=reward_params,
                              max_consecutive_failures=max_consecutive_failures,
                              on_progress=on_progress, keep_best=keep_best, store=store)
            if resume:
                loop.restore_strategy()
                loop.restore_pruner()
            outcome = loop.run_loop()
            # the one-shot ranking (score, ties by loss) against the real reward
            position = {arch_id: i for i, arch_id in enumerate(summary["ranking"])}
            pairs = [(-float(position[t.arch_id]), float(t.reward)) for t in store.trials()
                     if t.status == TrialStatus.COMPLETE and t.reward is not None
                     and t.arch_id in position]
            summary["kendall_tau"] = kendall_tau(pairs)
            summary["kendall_tau_note"] = why_no_tau(pairs)
            summary["retrained"] = len(pairs)
            store.set_meta("one_shot", summary)
            logger.info("one-shot: Kendall tau between one-shot ranking and reward of the %d "
                        "retrained: %s", len(pairs), summary["kendall_tau"])
            outcome.extra.update({"kendall_tau": summary["kendall_tau"],
                                  "kendall_tau_note": summary["kendall_tau_note"],
                                  "one_shot_seconds": summary["seconds"],
                                  "one_shot_epochs": summary["epochs"]})
            return outcome
    finally:
        executor.shutdown()
        run.release_lock()


def _one_shot_phase(run: RunFolder, space: SearchSpace, data: Any, controller: Any,
                    settings: OneShotSettings, seed: int, reward: Any,
                    reward_params: dict[str, Any],
                    on_epoch: Callable[[dict[str, float]], None] | None, *,
                    resume: bool) -> dict[str, Any]:
    phase = OneShotPhase(space, data, controller, reward, reward_params, seed, settings,
                         checkpoint_path=run.one_shot_path)
    try:
        restored = phase.restore()
    except RunError as exc:  # unreadable: nothing of it was loaded, the phase starts again
        restored = False
        notices.warning("%s; the one-shot phase starts again from its first epoch",
                        exc.one_line())
    if restored:
        logger.info("resumed the one-shot phase after epoch %d", phase.epoch)
    elif resume and not run.one_shot_path.exists():
        notices.warning("%s: no one-shot checkpoint (none was written yet, or it was "
                        "removed); the phase starts from its first epoch", run.path)
    ranked = phase.run(on_epoch)
    chosen = ranked[:settings.retrain_top]
    return {"scores": {r.architecture.id: r.score for r in ranked},
            "losses": {r.architecture.id: r.loss for r in ranked},
            "ranking": [r.architecture.id for r in ranked],
            "chosen": [r.architecture.to_dict() for r in chosen],
            "chosen_scores": [r.score for r in chosen],
            "epochs": phase.epoch, "history": phase.history,
            "controller_updates": int(getattr(controller, "step", 0)),
            "seconds": sum(e["seconds"] for e in phase.history) + phase.rank_seconds}


def rescore(run: str | Path, architectures: Sequence[Architecture], *,
            runs_dir: str | Path = "runs") -> list[Ranked]:
    """One-shot scores and losses (whole validation set, the run's final shared weights) of
    any architectures of the run's space, e.g. children an ordinary search trained."""
    folder = RunFolder.open(run, runs_dir)
    info, space = load_run_space(folder, "rescore")
    settings = OneShotSettings(**info["one_shot"])
    seed = int(info.get("seed", 0))
    reward, reward_params = _reward_of(space)
    space, data, _ = _load_data(space, seed)
    controller = _stored_controller(folder, info, space, settings, seed)
    phase = OneShotPhase(space, data, controller, reward, reward_params, seed, settings,
                         checkpoint_path=folder.one_shot_path)
    if not phase.restore():
        raise UserInputError("the run has no one-shot checkpoint", source=str(folder.path))
    return phase.final_scores(list(architectures))


def ranking_tau(ranked: Sequence[Ranked], rewards: Sequence[float]) -> float | None:
    """Kendall tau between the one-shot ranking of ``ranked`` (score, ties by loss) and the
    real ``rewards`` of the same architectures, in the same order."""
    order = {id(r): i for i, r in enumerate(rank(list(ranked)))}
    return kendall_tau([(-float(order[id(r)]), float(w))
                        for r, w in zip(ranked, rewards, strict=True)])


__all__ = ["FixedList", "MODE", "is_one_shot", "kendall_tau", "ranking_tau", "rescore",
           "resume_one_shot", "run_one_shot", "why_no_tau"]
