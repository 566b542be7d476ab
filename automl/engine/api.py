"""Start or resume a search: validate everything first, then create the run, then loop.

Nothing is written under the runs folder until the space, the strategy settings, the reward and
the data have all been validated, so bad input leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import hashlib
import logging
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from automl._version import __version__
from automl.engine.search import Progress
from automl.engine.search import SearchLoop
from automl.engine.search import SearchOutcome
from automl.engine.search import check_trials
from automl.errors import PluginError
from automl.errors import RunError
from automl.errors import SpaceError
from automl.errors import UserInputError
from automl.execution import ExecutionSettings
from automl.execution import Executor
from automl.execution import check_execution
from automl.execution import create_executor
from automl.registry.discovery import load_named
from automl.registry.discovery import path_plugins
from automl.schedulers import scheduler_config
from automl.space import FOLDS_AUTO
from automl.space import METRIC_REWARDS
from automl.space import VALIDATION_METRICS
from automl.space import SearchSpace
from automl.space import load_space
from automl.space import parse_space
from automl.store import RunFolder
from automl.store import TrialStatus
from automl.store import TrialStore
from automl.store import check_run_name
from automl.strategies import Strategy
from automl.strategies import check_strategy_block
from automl.strategies import create_strategy
from automl.tasks.task import check_dataset
from automl.training.cross_validation import AUTO_PER_CLASS_BELOW
from automl.training.cross_validation import AUTO_POOL_BELOW
from automl.training.cross_validation import auto_folds
from automl.training.rewards import Reward

DEFAULT_STRATEGY = "dqn"
"""The strategy of a search that names none: of the five, DQN reached the top 1 % of the
benchmark tables in the fewest children, one child at a time and with 4 in flight, on the five
development tables (50 seeds) and on eleven held-out tables no default was tuned on
(docs/benchmark.md, "DQN, the default strategy")."""


def _strategy_choice(space: SearchSpace, name: str | None,
                     settings: dict[str, Any] | None) -> tuple[str, dict[str, Any]]:
    """CLI name wins; YAML settings apply when the YAML names the same strategy. A space with
    nothing to learn (no decision) gets random search by default."""
    from automl.registry import STRATEGIES
    from automl.registry import ensure_builtins

    yaml_block = dict(space.strategy)
    yaml_name = yaml_block.pop("name", None)
    if name:  # a name given here (--strategy) is not the YAML's: an unknown one names the flag
        ensure_builtins()
        STRATEGIES.entry(name, key="--strategy")
    chosen = name or yaml_name or (DEFAULT_STRATEGY if space.kinds() else "random")
    merged = dict(yaml_block) if chosen == yaml_name else {}
    merged.update(settings or {})
    return chosen, merged


def _load_data(space: SearchSpace, seed: int) -> tuple[SearchSpace, Any, str | None]:
    """The task's data and name, and the space with what depends on the data settled
    (``train.folds: auto``), before any strategy or child sees it."""
    data, task_name = load_task_data(space, seed)
    _check_folds(space, data)
    settled = _settled_folds(space, data)
    _check_validation_size(settled, data)
    return settled, data, task_name


def check_space_data(space: SearchSpace, seed: int | None = None) -> dict[str, Any]:
    """Load ``space``'s task data with the checks a search makes of it (reward, data file,
    folds) before its run folder exists, and return :func:`dataset_facts`: what
    ``automl spaces validate --data`` prints. Nothing is written."""
    _reward_of(space)
    settled, data, task_name = _load_data(space, seed if seed is not None else (space.seed or 0))
    facts = dataset_facts(data, task_name)
    if (space.config.get("train") or {}).get("folds") == FOLDS_AUTO:  # what auto became here
        facts["folds_auto"] = settled.train["folds"][0]
    return facts


def reward_name(space: SearchSpace) -> str | None:
    """The reward a search of ``space`` is scored by: its ``reward:`` or its task's default
    for the task's output kind (what ``run.json`` records); None for a space with neither."""
    if space.reward is None and space.task is None:
        return None
    return _reward_of(space)[0].name


def _check_folds(space: SearchSpace, data: Any) -> None:
    """A ``train.folds`` beyond the examples there are would fail every child it is given
    to, once the search runs: refused here, before the run folder exists."""
    size = len(data.y_train) + len(data.y_val)
    for folds in space.train.get("folds", ()):
        if isinstance(folds, int) and not isinstance(folds, bool) and folds > size:
            raise SpaceError(f"{folds} folds need at least {folds} examples in training + "
                             f"validation; the task has {size}; allowed: at most {size}",
                             source=space.source, key="train.folds")


def _check_validation_size(space: SearchSpace, data: Any) -> None:
    """The CCC of fewer than two targets is 0 whatever a child predicts, so a search scored on
    one validation example would rank its children by nothing: refused. Cross-validated
    children are scored out of fold over the whole pool instead."""
    folds = space.train.get("folds", ())
    one_split = not folds or 0 in folds
    if one_split and len(data.y_val) < 2 and reward_name(space) == "ccc":
        raise SpaceError(f"ccc needs at least 2 validation examples; the task has "
                         f"{len(data.y_val)}; allowed: more data, a larger validation split, "
                         "train.folds or another reward (neg_val_loss)", source=space.source,
                         key="reward")


def _settled_folds(space: SearchSpace, data: Any) -> SearchSpace:
    """``train.folds: auto`` as a number for this task, so every architecture, the scheduler
    and the reports read an integer. The run keeps the ``auto`` its YAML says; a resume loads
    the same data and settles it the same way."""
    if tuple(space.train.get("folds", ())) != (FOLDS_AUTO,):
        return space
    classes = data.n_outputs if data.output == "classification" else 0
    folds = auto_folds(len(data.y_train) + len(data.y_val), classes)
    return dataclasses.replace(space, train={**space.train, "folds": (folds,)})


def _log_settled_folds(space: SearchSpace) -> None:
    """Say in the run's log what ``train.folds: auto`` became."""
    if (space.config.get("train") or {}).get("folds") == FOLDS_AUTO:
        folds = space.train["folds"][0]
        logging.getLogger("automl.search").info(
            "train.folds auto: %s (cross-validated below %d training + validation examples "
            "or %d per class)", f"{folds} folds" if folds else "one validation split",
            AUTO_POOL_BELOW, AUTO_PER_CLASS_BELOW)


def load_task_data(space: SearchSpace, seed: int) -> tuple[Any, str | None]:
    """The task's data as its ``load`` gives it for ``seed`` (checked: a plugin's failure or a
    malformed Dataset is one line naming it), and the task's name."""
    from automl.registry import TASKS

    if space.task is None:
        raise SpaceError("this space declares no task, so it cannot train children "
                         "(use it with 'automl bench')", source=space.source, key="task")
    task = TASKS.get(space.task.name)
    entry = TASKS.entry(space.task.name)
    where = space.source if entry.is_builtin else f"{entry.source}: task {space.task.name!r}"
    try:
        data = task.load(space.task.fixed, base_dir=space.base_dir, seed=seed)
    except UserInputError as exc:
        if exc.source is None and (exc.key or "").startswith("task."):
            exc.source = space.source  # a setting of the YAML's task block: name the file
            exc.args = (exc.one_line(),)
        raise
    except Exception as exc:
        if entry.is_builtin:  # a defect of this project: its traceback is what to report
            raise
        raise PluginError(f"load() raised {type(exc).__name__}: {exc}", source=where) from exc
    data = check_dataset(data, source=where)
    return dataclasses.replace(data, task_params=dict(space.task.fixed)), space.task.name


def _reward_of(space: SearchSpace) -> tuple[Reward, dict[str, Any]]:
    """The reward and its parameters; checked here so a missing reward fails before training."""
    from automl.registry import REWARDS
    from automl.registry import TASKS

    if space.reward is not None:
        return REWARDS.get(space.reward.name), dict(space.reward.params)
    if space.task is None:
        raise SpaceError("this space declares no task, so it cannot train children "
                         "(use it with 'automl bench')", source=space.source, key="task")
    name = TASKS.get(space.task.name).default_reward
    output = space.task.fixed.get("output")
    if output in VALIDATION_METRICS and name in METRIC_REWARDS and \
            name not in VALIDATION_METRICS[output]:
        # e.g. arrays' accuracy for a regression: its children never report it, and every
        # one would fail; the output kind's own metric instead
        name = next(r for r in METRIC_REWARDS if r in VALIDATION_METRICS[output])
    REWARDS.entry(name, source=space.source, key="reward")
    return REWARDS.get(name), {}


def dataset_facts(data: Any, task_name: str | None) -> dict[str, Any]:
    """What a model's user needs to know of its data (stored with the run: export writes it
    next to the model, without loading the data again)."""
    facts = {"task": task_name, "output": data.output, "n_outputs": int(data.n_outputs),
             "input_shape": list(data.input_shape), "class_names": list(data.class_names),
             "sizes": {"train": len(data.x_train), "val": len(data.x_val),
                       "test": len(data.x_test)}}
    if data.extras.get("dataset"):  # which of a task's data sets (e.g. ucr's GunPoint)
        facts["dataset"] = data.extras["dataset"]
    if data.extras.get("preprocessing"):  # how raw inputs become model inputs (e.g. ucr)
        facts["preprocessing"] = data.extras["preprocessing"]
    return facts


@contextlib.contextmanager
def _log_to(run: RunFolder) -> Iterator[None]:
    handler = logging.FileHandler(run.log_dir / "search.log", encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("automl")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()


def _unique_name(runs_dir: Path, base: str) -> str:
    """``SPACE-DATE-TIME``, with a suffix if a run of that name exists already."""
    stem = check_run_name(f"{base}-{datetime.datetime.now():%Y%m%d-%H%M%S}"[:90])
    name, n = stem, 1
    while (runs_dir / name).exists():
        n += 1
        name = f"{stem}-{n}"
    return name


def checked_space(space: str | Path | SearchSpace, name: str | None,
                  plugins: Sequence[str]) -> SearchSpace:
    """The run name checked, the named plugins loaded, then the space and its own plugins."""
    if name is not None:
        check_run_name(name)
    load_named(plugins)
    if not isinstance(space, SearchSpace):
        space = load_space(space, load_plugins=True)
    load_named(space.plugins, named_by=f"{space.source} (plugins:)")
    check_strategy_block(space)
    return space


def space_file_digest(source: str) -> str | None:
    """SHA-256 of a space file's bytes; None for a space that is not a file (a dict)."""
    path = Path(source)
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def data_file_digests(space: SearchSpace) -> dict[str, str]:
    """SHA-256 of the data file a task reads (its ``path`` setting), by resolved path: a
    resume must continue on the data the run's children were trained and ranked on."""
    path = space.task.fixed.get("path") if space.task is not None else None
    if not isinstance(path, str) or not path:
        return {}
    file = (Path(space.base_dir) / path).resolve()
    digest = space_file_digest(str(file))
    return {str(file): digest} if digest else {}


def check_data_unchanged(folder: RunFolder, info: dict[str, Any], space: SearchSpace, *,
                         doing: str = "a resume") -> None:
    """A RunError when the data file the run recorded (``data_sha256``) changed since: a
    resume, a retrained export or the rebuilt splits would silently use other data than the
    children were trained and ranked on."""
    recorded = info.get("data_sha256")
    if not isinstance(recorded, dict):
        return  # a run made before digests were recorded
    now = data_file_digests(space)
    for file, digest in recorded.items():
        if now.get(file) != digest:
            raise RunError(f"{file} changed since the run was made (or is gone); {doing} "
                           "needs the data its children were trained and ranked on: restore "
                           "the file, or start a new run", source=str(folder.run_json),
                           key="data_sha256")


def new_run_info(name: str, space: SearchSpace, data: Any, *, strategy: str,
                 strategy_settings: dict[str, Any], seed: int, trials: int,
                 execution: ExecutionSettings, **extra: Any) -> dict[str, Any]:
    """The ``run.json`` of a new run (``extra``: what a mode adds, e.g. one-shot settings)."""
    return {
        "name": name, "space_source": space.source, "base_dir": str(space.base_dir),
        # what the space file said: `search --resume` refuses a file edited since
        "space_sha256": space_file_digest(space.source),
        "data_sha256": data_file_digests(space),
        **extra,
        # what its rewards measure: a leaderboard of several runs says when they differ
        "reward": _reward_of(space)[0].name,
        "strategy": strategy, "strategy_settings": strategy_settings, "seed": seed,
        "trials": trials, "execution": vars(execution),
        # every path plugin this process loaded, so workers (and a resume from another
        # folder) load the same ones
        "plugins": path_plugins(),
        # the task's class names in index order, so reports speak the user's labels
        "class_names": list(getattr(data, "class_names", ()) or ()),
        "created_at": datetime.datetime.now().isoformat(timespec="seconds"),
        "automl_version": __version__,
    }


def start_and_create(runs_dir: str | Path, name: str, space: SearchSpace, data: Any,
                     task_name: str | None, run_info: dict[str, Any],
                     execution: ExecutionSettings, *, overwrite: bool
                     ) -> tuple[Executor, RunFolder]:
    """Start the executor, then create the run folder whole: too few CPUs/GPUs (the start
    fails) must leave nothing behind."""
    if not overwrite:
        RunFolder.check_free(runs_dir, name)
    executor = create_executor(execution, data, task_name=task_name,
                               plugin_paths=run_info["plugins"],
                               scheduler=scheduler_config(execution.scheduler, space.train))
    executor.start()
    try:
        run = RunFolder.create(runs_dir, name, space.config, run_info, overwrite=overwrite)
    except BaseException:
        executor.shutdown()
        raise
    return executor, run


def run_search(space: str | Path | SearchSpace, *, strategy: str | None = None,
               strategy_settings: dict[str, Any] | None = None, trials: int | None = None,
               seed: int | None = None, name: str | None = None,
               runs_dir: str | Path = "runs", execution: ExecutionSettings | None = None,
               max_consecutive_failures: int = 10, overwrite: bool = False,
               plugins: Sequence[str] = (),
               on_progress: Callable[[Progress], None] | None = None,
               on_start: Callable[[RunFolder], None] | None = None) -> SearchOutcome:
    """Run a new search and return its summary (the run folder holds everything).

    Children train on Ray by default; ``execution=ExecutionSettings(executor="in_process")``
    trains them one at a time in this process instead (no Ray; tests and debugging). The choice
    is stored in ``run.json``, so a resume uses it too unless given other settings.

    Example:
        >>> from automl import run_search
        >>> outcome = run_search("search_spaces/quickstart.yaml", trials=4)  # doctest: +SKIP
        >>> outcome.best_reward  # doctest: +SKIP
    """
    space = checked_space(space, name, plugins)
    execution = check_execution(execution or ExecutionSettings())
    trials = check_trials(trials if trials is not None else space.trials)
    seed = seed if seed is not None else (space.seed or 0)
    strategy_name, settings = _strategy_choice(space, strategy, strategy_settings)
    reward, reward_params = _reward_of(space)
    space, data, task_name = _load_data(space, seed)
    instance = create_strategy(strategy_name, space, seed=seed, workers=execution.workers,
                               settings=settings, source=space.source)
    name = name or _unique_name(Path(runs_dir), space.name)
    run_info = new_run_info(name, space, data, strategy=strategy_name,
                            strategy_settings=settings, seed=seed, trials=trials,
                            execution=execution)
    executor, run = start_and_create(runs_dir, name, space, data, task_name, run_info,
                                     execution, overwrite=overwrite)
    return _run(run, space, instance, executor, trials, seed, reward, reward_params,
                max_consecutive_failures, on_progress, on_start, resume=False,
                keep_best=execution.keep_best, dataset=dataset_facts(data, task_name))


def load_run_space(folder: RunFolder, purpose: str) -> tuple[dict[str, Any], SearchSpace]:
    """The run's recorded facts and its space, after loading the plugins the run recorded (with
    their notice naming ``purpose``): the one door through which a run folder's code runs."""
    info = folder.info()
    load_named(info.get("plugins", []), named_by=f"{folder.run_json} ({purpose})")
    try:
        config = yaml.safe_load(folder.config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError, yaml.YAMLError) as exc:
        raise RunError(f"cannot read the run's config ({type(exc).__name__})",
                       source=str(folder.config_path)) from None
    space = parse_space(config, source_name=str(folder.config_path),
                        base_dir=Path(info.get("base_dir", ".")), load_plugins=True)
    return info, space


def resume_search(run: str | Path, *, trials: int | None = None,
                  runs_dir: str | Path = "runs", execution: ExecutionSettings | None = None,
                  max_consecutive_failures: int = 10,
                  on_progress: Callable[[Progress], None] | None = None,
                  on_start: Callable[[RunFolder], None] | None = None) -> SearchOutcome:
    """Continue a stopped or killed search to ``trials`` finished trials (default: as asked)."""
    folder = RunFolder.open(run, runs_dir)
    folder.acquire_lock()  # before anything here changes: a refused resume changes nothing
    executor: Executor | None = None
    try:
        info, space = load_run_space(folder, "resume")
        TrialStore.check_readable(folder.db_path)  # a damaged store: refused, nothing changed
        check_data_unchanged(folder, info, space)
        stored = recorded_execution(folder)  # keep_best: as recorded
        with _recorded(folder):
            recorded_trials, seed = int(info["trials"]), int(info.get("seed", 0))
            strategy_name = str(info["strategy"])
        execution = check_execution(execution or stored)
        trials = check_trials(trials if trials is not None else recorded_trials)
        finished = _finished_trials(folder)
        if trials < finished:  # it would only rewrite run.json to say fewer than it holds
            raise UserInputError(f"{trials} is fewer than the {finished} trials run "
                                 f"{folder.name!r} has finished; allowed: at least {finished}",
                                 key="--trials")
        reward, reward_params = _reward_of(space)
        space, data, task_name = _load_data(space, seed)
        instance = create_strategy(strategy_name, space, seed=seed,
                                   workers=int(stored.workers),
                                   settings=info.get("strategy_settings") or {},
                                   source=str(folder.run_json))
        executor = create_executor(execution, data, task_name=task_name,
                                   plugin_paths=info.get("plugins", []),
                                   scheduler=scheduler_config(execution.scheduler, space.train))
        executor.start()  # an --address that cannot be reached: refused before run.json changes
        # a --keep-best given to this resume holds for later ones too
        folder.update_info(trials=trials, execution={**info.get("execution", {}),
                                                     "keep_best": execution.keep_best})
    except BaseException:
        if executor is not None and executor.started:
            executor.shutdown()
        folder.release_lock()
        raise
    return _run(folder, space, instance, executor, trials, seed, reward, reward_params,
                max_consecutive_failures, on_progress, on_start, resume=True,
                keep_best=execution.keep_best, dataset=dataset_facts(data, task_name))


@contextlib.contextmanager
def _recorded(folder: RunFolder) -> Iterator[None]:
    """Reading ``run.json``'s fields: one that is missing or of another type (an edited or
    damaged file) is one line naming the file."""
    try:
        yield
    except (KeyError, TypeError, ValueError) as exc:
        raise RunError(f"does not hold what a run records ({exc.__class__.__name__}: "
                       f"{str(exc)[:80]})", source=str(folder.run_json)) from None


def recorded_execution(folder: RunFolder) -> ExecutionSettings:
    """The execution settings the run recorded (a resume keeps them unless told otherwise)."""
    with _recorded(folder):
        return ExecutionSettings(**folder.info().get("execution", {}))


def _finished_trials(folder: RunFolder) -> int:
    """Trials the run's store holds as finished (0 for a store a killed start-up left
    without its tables: the resume writes them)."""
    try:
        with TrialStore(folder.db_path, readonly=True) as store:
            counts = store.counts()
    except RunError:
        return 0
    finished = {status.value for status in TrialStatus if status.is_finished()}
    return sum(n for status, n in counts.items() if status in finished)


def _run(run: RunFolder, space: SearchSpace, strategy: Strategy, executor: Executor,
         trials: int, seed: int, reward: Reward, reward_params: dict[str, Any],
         max_consecutive_failures: int, on_progress: Callable[[Progress], None] | None,
         on_start: Callable[[RunFolder], None] | None, *, resume: bool,
         keep_best: int, dataset: dict[str, Any]) -> SearchOutcome:
    try:
        if not run.holds_lock:
            run.acquire_lock()
        if not executor.started:
            executor.start()
        with _log_to(run):
            _log_settled_folds(space)
            loop = SearchLoop(run, space, strategy, executor, trials=trials, seed=seed,
                              reward=reward, reward_params=reward_params,
                              max_consecutive_failures=max_consecutive_failures,
                              on_progress=on_progress, keep_best=keep_best)
            try:
                loop.store.set_meta("dataset", dataset)  # what export and report say of it
                if resume:
                    replayed = loop.restore_strategy()
                    logging.getLogger("automl.search").info(
                        "resumed %s: %d result(s) replayed into the strategy", run.name,
                        replayed)
                    if loop.restore_pruner():
                        logging.getLogger("automl.search").info(
                            "resumed %s: the scheduler's rungs rebuilt from the store",
                            run.name)
                if on_start is not None:
                    on_start(run)
                return loop.run_loop()
            finally:
                loop.store.close()
    finally:
        executor.shutdown()
        run.release_lock()
