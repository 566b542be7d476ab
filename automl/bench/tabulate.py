"""Tabulate a small space: train every architecture once and write a benchmark table.

It is a grid search run through the ordinary search loop (Ray workers, retries, the SQLite store,
resume after a kill), followed by an export of the run's trials as a table CSV (the format
:mod:`automl.bench.table` reads). Re-running the same command resumes the tabulation.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from automl.engine.api import resume_search
from automl.engine.api import run_search
from automl.engine.search import Progress
from automl.errors import UserInputError
from automl.execution import ExecutionSettings
from automl.space import SearchSpace
from automl.space import load_space
from automl.store import RunFolder
from automl.store import TrialRecord
from automl.store import TrialStatus
from automl.store import TrialStore
from automl.training.equivalence import equivalence_key

DEFAULT_MAX_SIZE = 5000


def _check_same_tabulation(folder: RunFolder, space: SearchSpace, seed: int) -> None:
    """A run of this name continues only if it is this tabulation interrupted: the grid over
    the same space file with the same seed. Anything else (a search of that name, the space
    edited since) would be trained on and then tabulated against the wrong space."""
    from automl.engine.api import space_file_digest
    from automl.errors import RunError

    info = folder.info()
    if info.get("strategy") != "grid":
        why = f"it is not a tabulation (strategy {info.get('strategy')!r})"
    elif info.get("space_sha256") != space_file_digest(space.source):
        why = f"its space file differs from {space.source}"
    elif info.get("seed") != seed:
        why = f"it was made with --seed {info.get('seed')}, not {seed}"
    else:
        return
    raise RunError(f"run {folder.name} exists and {why}; give another --name, or resume the "
                   "tabulation with the space and seed it was made with",
                   source=str(folder.path), key="--name")


def tabulate(space_path: str | Path, out: str | Path, *, execution: ExecutionSettings,
             max_size: int = DEFAULT_MAX_SIZE, runs_dir: str | Path = "runs",
             name: str | None = None, seed: int = 0,
             on_progress: Callable[[Progress], None] | None = None) -> dict[str, Any]:
    """Train every architecture of the space (resuming an interrupted tabulation) and write
    ``out``. Returns a summary (rows, failed, seconds, run folder)."""
    from automl.bench.table import write_table

    if execution.scheduler != "none":  # a table row is a fully trained child
        raise UserInputError(f"a table holds fully trained children; tabulate runs without a "
                             f"scheduler (got {execution.scheduler!r})", key="scheduler")
    space = load_space(space_path, load_plugins=True)  # it trains them: a search
    size = space.size()
    if size > max_size:
        raise UserInputError(f"the space has {size:,} architectures, more than the limit "
                             f"{max_size:,}; shrink it or raise --max-size",
                             source=str(space_path), key="--max-size")
    name = name or f"tabulate-{space.name}"
    folder = Path(runs_dir) / name
    if (folder / "run.json").is_file():
        _check_same_tabulation(RunFolder(folder), space, seed)
        outcome = resume_search(folder, trials=size, execution=execution,
                                on_progress=on_progress)
    else:
        outcome = run_search(space, strategy="grid", trials=size, seed=seed, name=name,
                             runs_dir=runs_dir, execution=execution, on_progress=on_progress)
    store = TrialStore(RunFolder(outcome.run_path).db_path, readonly=True)
    try:
        trials = [t for t in store.trials() if t.status.is_finished()]
    finally:
        store.close()
    rows, shared = table_rows(space, trials)
    write_table(out, rows, space=space)
    return {"rows": len(rows), "failed": sum(1 for r in rows if r["reward"] is None),
            "shared": shared, "seconds": outcome.seconds, "run": str(outcome.run_path),
            "out": str(out)}


def table_rows(space: SearchSpace, trials: list[TrialRecord]) -> tuple[list[dict[str, Any]], int]:
    """A row for every architecture of ``space`` whose child has finished, and how many of them
    share an equivalent architecture's result.

    The search loop trains architectures that differ only in decisions their child never uses
    once (:mod:`automl.training.equivalence`): the others never become trials of their own, yet
    a table must list every architecture of its space. Each gets the result, and the training
    seconds, of the child it is: a search on the table that proposes it first would have
    trained that child for that long."""
    from automl.bench.table import row_for

    trained: dict[str, TrialRecord] = {}
    for trial in sorted(trials, key=lambda t: (t.status == TrialStatus.CACHED, t.trial_id)):
        trained.setdefault(equivalence_key(trial.arch), trial)
    rows, shared = [], 0
    for architecture in space.enumerate():
        trial = trained.get(equivalence_key(architecture))
        if trial is None:
            continue
        shared += trial.arch_id != architecture.id
        result: dict[str, Any] = {
            "reward": trial.reward if trial.status != TrialStatus.FAILED else None,
            "seconds": trial.train_seconds, "params": trial.params, "id": architecture.id}
        result.update({f"val_{k}": v for k, v in trial.metrics.items()})
        result.update({f"test_{k}": v for k, v in trial.test_metrics.items()})
        rows.append(row_for(architecture, result))
    return rows, shared
