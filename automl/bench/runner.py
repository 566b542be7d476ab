"""Tabular benchmark runs: strategies driven by the real search loop against table look-ups.

Each (table, strategy, seed) run is an ordinary :class:`~automl.engine.search.SearchLoop` on a
:class:`~automl.execution.TableExecutor`: the loop asks, caches repeated architectures, stores
results, tells the strategy in completion order and handles failed children exactly as in a real
search; only training is replaced by a look-up with simulated training time. The store is an
in-memory SQLite database and the per-result strategy checkpoint is off (nothing is resumed), so
a run of 200 evaluations costs milliseconds more than the strategy itself. Nothing is trained
and Ray is not involved, so 20 seeds of 5 strategies take minutes, and differences between
strategies can be told from noise (Ying et al. 2019, NAS-Bench-101, use the same protocol).

:func:`run_one` is the direct sequential ask/tell loop without the search loop, kept as the
reference the simulated loop reproduces with one worker. The metrics are in
:mod:`automl.bench.metrics`.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED
from concurrent.futures import Future
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import wait
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from automl.bench.metrics import RunTrace
from automl.bench.metrics import overall
from automl.bench.metrics import summarize
from automl.bench.table import Table
from automl.errors import PluginError
from automl.errors import UserInputError
from automl.registry.discovery import discover
from automl.registry.discovery import path_plugins
from automl.strategies.plugin_guard import StrategyFailed

if TYPE_CHECKING:
    from automl.training.rewards import Reward

Job = tuple[int, str, int, int, dict[str, Any], int]
"""(table index, strategy, seed, budget, strategy settings, simulated workers)."""


def run_one(table: Table, strategy: str, seed: int, budget: int,
            settings: Mapping[str, Any] | None = None) -> RunTrace:
    """The direct sequential loop: ask, look up, tell, one child at a time, no search loop.

    It charges a repeat of an architecture that succeeded before no time (the search loop
    reuses its stored result), so :func:`run_simulated` with one worker must give exactly this
    trace; the test of that equality is what keeps the loop honest.
    """
    from automl.strategies import create_strategy
    from automl.strategies.wrappers import guarded

    start = time.perf_counter()
    instance = guarded(create_strategy(strategy, table.space, seed=seed, workers=1,
                                       settings=dict(settings or {}), source="bench"))
    instance.set_budget(budget)
    trace = RunTrace(strategy, seed, [], [], [], 0.0)
    succeeded: set[str] = set()
    clock = 0.0
    for trial_id in range(budget):
        architecture = instance.ask(trial_id)
        if architecture is None:
            raise PluginError(f"strategy {strategy!r} returned None from ask() with no child in "
                              "flight; it would wait forever", source="bench")
        row = table.lookup(architecture)
        seconds = 0.0 if architecture.id in succeeded else row.seconds or 0.0
        if row.reward is not None:
            succeeded.add(architecture.id)
        clock += seconds
        instance.tell(trial_id, architecture, row.reward)
        trace.rewards.append(row.reward)
        trace.seconds.append(seconds)
        trace.ids.append(architecture.id)
        trace.times.append(clock)
    trace.wall_seconds = time.perf_counter() - start
    return trace


def run_simulated(table: Table, strategy: str, seed: int, budget: int,
                  settings: Mapping[str, Any] | None = None, *, workers: int = 1) -> RunTrace:
    """One run of the search loop on the table, ``workers`` children in flight at once.

    The trace is in the order results were told (completion order); a cached repeat is an
    evaluation that costs no simulated time.

    Raises:
        PluginError: The strategy stopped proposing before the budget was spent.
        DataError: It proposed an architecture the table lacks.
    """
    from automl.engine.search import SearchLoop
    from automl.engine.search import Told
    from automl.execution import TableExecutor
    from automl.store import RunFolder
    from automl.store import TrialStore
    from automl.strategies import create_strategy

    start = time.perf_counter()
    instance = create_strategy(strategy, table.space, seed=seed, workers=workers,
                               settings=dict(settings or {}), source="bench")
    told: list[Told] = []
    store = TrialStore(":memory:")
    try:
        # Nothing is written under the run folder (in-memory store, no checkpoint); it only
        # names the run.
        loop = SearchLoop(RunFolder(Path(f"bench-{table.space.name}-{strategy}-{seed}")),
                          table.space, instance, TableExecutor(table, workers=workers),
                          trials=budget, seed=seed, reward=table_reward(table.metric),
                          max_consecutive_failures=None, on_told=told.append, store=store,
                          checkpoint=False)
        loop.run_loop()
    finally:
        store.close()
    if len(told) < budget:
        from automl.registry import STRATEGIES

        entry = STRATEGIES.entry(strategy)
        raise PluginError(f"strategy {strategy!r} stopped proposing on {table.path}, seed "
                          f"{seed}, after {len(told)} of {budget} evaluations (ask() returned "
                          "None with no child in flight)",
                          source="bench" if entry.is_builtin else entry.source)
    return RunTrace(strategy, seed, [t.reward for t in told],
                    [t.train_seconds for t in told], [t.architecture.id for t in told],
                    time.perf_counter() - start, [t.at for t in told])


def table_reward(metric: str) -> Reward:
    """The reward of a bench: the table's metric, which the table executor reports as the
    child's only validation metric (no task reward is involved)."""
    from automl.training.rewards import Reward

    def read(metrics: Mapping[str, float], facts: Mapping[str, Any]) -> float:
        return float(metrics[metric])

    return Reward(metric, read, doc=f"the benchmark table's {metric!r} column")


# ---------------------------------------------------------------------------------- parallel runs
_WORKER_TABLES: list[Table] = []


def _init_worker(tables: list[Table], quiet: bool, plugins: list[str]) -> None:
    global _WORKER_TABLES
    _WORKER_TABLES = tables
    # Ctrl-C reaches the whole process group: the parent alone handles it (it ends the
    # workers), so no worker dies mid-run with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # One thread per process for TensorFlow's ops and BLAS: the pool runs one process per core,
    # and the controllers' tensors are small. Measured: a REINFORCE run on HPOBench car took
    # 18 s instead of 40 s with two processes on two cores.
    for variable in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OPENBLAS_NUM_THREADS",
                     "OMP_NUM_THREADS"):
        os.environ.setdefault(variable, "1")
    if quiet:
        # TensorFlow-based strategies print C++ notices on import; errors still come back to
        # the parent as exceptions with their messages.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    # A spawned process starts with the built-ins only: load the plugin files the parent
    # loaded (a forked one has them already, and loading a source twice is a no-op).
    discover(plugins)


def _run_job(tables: Sequence[Table], job: Job) -> RunTrace:
    index, strategy, seed, budget, settings, workers = job
    try:
        return run_simulated(tables[index], strategy, seed, budget, settings, workers=workers)
    except StrategyFailed as exc:  # a plugin's failure: one line naming it, the run, the error
        raise StrategyFailed(f"failed on {tables[index].path}, seed {seed}: {exc.message}",
                             source=exc.source) from None


def _run_in_worker(job: Job) -> RunTrace:
    return _run_job(_WORKER_TABLES, job)


def _context() -> Any:
    """Fork (plugins registered in this process stay registered, tables are not copied) unless
    TensorFlow is already loaded here: a forked TensorFlow runtime can deadlock, so then start
    fresh processes."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and "tensorflow" not in sys.modules:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _run_jobs(tables: list[Table], jobs: list[Job], processes: int, quiet: bool,
              on_run: Callable[[RunTrace], None] | None) -> tuple[list[RunTrace], int]:
    """Every job's trace, in job order, and the number of processes used."""
    used = 1 if processes <= 1 or len(jobs) == 1 else processes
    if used == 1:
        traces = []
        for job in jobs:
            traces.append(_run_job(tables, job))
            if on_run is not None:
                on_run(traces[-1])
        return traces, used
    pool = ProcessPoolExecutor(max_workers=processes, mp_context=_context(),
                               initializer=_init_worker,
                               initargs=(tables, quiet, path_plugins()))
    try:
        futures: dict[Future[RunTrace], int] = {pool.submit(_run_in_worker, job): i
                                                for i, job in enumerate(jobs)}
        results: dict[int, RunTrace] = {}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=futures.__getitem__):
                results[futures[future]] = future.result()  # a job's error is raised here
                if on_run is not None:
                    on_run(results[futures[future]])
    except KeyboardInterrupt:
        _end_workers(pool)  # a run in progress is not waited for: Ctrl-C stops now
        raise
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # do not run the queued jobs
        raise
    pool.shutdown()
    return [results[i] for i in range(len(jobs))], used


def _end_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel the queued runs and end the worker processes without waiting for their runs
    (``ProcessPoolExecutor`` has no public way to end them before Python 3.14's
    ``terminate_workers``)."""
    processes = list(getattr(pool, "_processes", {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
    if manager is not None:  # it closes its wake-up pipe as it ends: Python's exit hook then
        manager.join(timeout=10)  # finds it closed, instead of writing to a closing one


def _check(strategies: Sequence[str], seeds: int | Sequence[int], budget: int,
           workers: int) -> list[int]:
    from automl.registry import STRATEGIES
    from automl.registry import ensure_builtins

    ensure_builtins()
    if budget < 1:
        raise UserInputError(f"must be at least 1, got {budget}", key="--budget")
    if workers < 1:
        raise UserInputError(f"must be at least 1, got {workers}", key="--simulated-workers")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise UserInputError("at least one seed is needed", key="--seeds")
    if not strategies:
        raise UserInputError("no strategy given", key="--strategies")
    for name in strategies:
        STRATEGIES.entry(name, key="--strategies")  # unknown names list the valid ones
    return seed_list


def run_suite(tables: Sequence[Table], strategies: Sequence[str], seeds: int | Sequence[int],
              budget: int, *, processes: int = 2, workers: int = 1,
              settings: Mapping[str, Mapping[str, Any]] | None = None,
              on_run: Callable[[RunTrace], None] | None = None,
              quiet_workers: bool = False) -> dict[str, Any]:
    """Run every strategy with every seed on every table and compare across tables.

    Args:
        tables: Loaded tables (:func:`automl.bench.load_table`).
        strategies: Registered strategy names.
        seeds: Number of seeds (0..n-1) or the seeds themselves.
        budget: Evaluations per run.
        processes: Runs in parallel processes (1: in this process).
        workers: Simulated workers: children in flight at once within a run.
        settings: Per strategy name, settings for it. By default each table's space
            ``strategy:`` block applies to the strategy it names.
        on_run: Called with each finished run (progress display).
        quiet_workers: Send the worker processes' stderr to /dev/null (the CLI does, to hide
            TensorFlow's start-up notices).

    Returns:
        ``{"tables": [one :func:`summarize` report per table], "overall": :func:`overall`,
        "strategies", "budget", "seeds", "simulated_workers", "wall_seconds", "processes"}``.

    Raises:
        UserInputError: an unknown strategy, a bad budget or seed count, or an architecture
            that is not in a table.
    """
    seed_list = _check(strategies, seeds, budget, workers)
    tables = list(tables)
    jobs: list[Job] = []
    for index, table in enumerate(tables):
        chosen = dict(settings) if settings is not None else _space_settings(table)
        jobs.extend((index, name, seed, budget, dict(chosen.get(name, {})), workers)
                    for seed in seed_list for name in strategies)
    start = time.perf_counter()
    traces, used = _run_jobs(tables, jobs, processes, quiet_workers, on_run)
    reports = [summarize(table, [t for job, t in zip(jobs, traces, strict=True)
                                 if job[0] == index], budget, strategies, workers=workers)
               for index, table in enumerate(tables)]
    for report, label in zip(reports, table_labels(tables), strict=True):
        report["label"] = label
    return {"tables": reports, "overall": overall(reports, strategies),
            "strategies": list(strategies), "budget": budget, "seeds": seed_list,
            "simulated_workers": workers, "wall_seconds": time.perf_counter() - start,
            "processes": used}


def run_benchmark(table: Table, strategies: Sequence[str], seeds: int | Sequence[int],
                  budget: int, *, processes: int = 2, workers: int = 1,
                  settings: Mapping[str, Mapping[str, Any]] | None = None,
                  on_run: Callable[[RunTrace], None] | None = None,
                  quiet_workers: bool = False) -> dict[str, Any]:
    """:func:`run_suite` on one table; returns that table's report (see
    :func:`~automl.bench.metrics.summarize`) with ``wall_seconds`` and ``processes``."""
    suite = run_suite([table], strategies, seeds, budget, processes=processes,
                      workers=workers, settings=settings, on_run=on_run,
                      quiet_workers=quiet_workers)
    return {**suite["tables"][0], "wall_seconds": suite["wall_seconds"],
            "processes": suite["processes"]}


def table_labels(tables: Sequence[Table]) -> list[str]:
    """How the reports name each table: its space's name, or, where one space serves several
    tables (one NAS-Bench-201 YAML on three data sets), ``space (CSV name)``, or the CSV's
    path where even those collide."""
    names = [table.space.name for table in tables]
    labels = [name if names.count(name) == 1 else f"{name} ({Path(table.path).stem})"
              for name, table in zip(names, tables, strict=True)]
    return [label if labels.count(label) == 1 else f"{table.space.name} ({table.path})"
            for label, table in zip(labels, tables, strict=True)]


def _space_settings(table: Table) -> dict[str, dict[str, Any]]:
    block = dict(table.space.strategy)
    name = block.pop("name", None)
    return {name: block} if name else {}


__all__ = ["run_benchmark", "run_one", "run_simulated", "run_suite", "table_labels",
           "table_reward"]
