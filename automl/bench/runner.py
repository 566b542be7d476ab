"""Tabular benchmark: run strategies against table look-ups instead of training children.

Each (strategy, seed) run asks for ``budget`` architectures one at a time and is told the
table's reward for each, exactly as the search loop would tell a trained child's reward. Nothing
is trained and Ray is not involved, so 20 seeds of 5 strategies take minutes, and differences
between strategies can be told from noise (Ying et al. 2019, NAS-Bench-101, use the same protocol).

Reported per strategy (median and interquartile range over seeds):

* **regret** at evaluation budgets 10, 25, 50, 100, ...: the table's optimum minus the best
  reward found so far. A repeated architecture counts as an evaluation again (the strategy spent
  a trial on it) but cannot raise the best-so-far, so repeats are never rewarded.
* **evaluations to the top 1 % / 5 %** of the table: the first evaluation whose reward is at
  least the ``ceil(0.01 n)``-th best reward; a run that never gets there counts as ``budget``
  (``reached`` says in how many seeds it did).
* **regret against simulated training time**, when the table has ``seconds``: evaluations run
  one after another, each costing its row's seconds.

Before the first successful child, the best-so-far is the table's worst reward.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.bench.table import Table
from automl.errors import PluginError
from automl.errors import UserInputError

BUDGETS = (10, 25, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000)
"""Evaluation counts at which regret is reported (those below the budget, plus the budget)."""

TOPS = {"top1": 0.01, "top5": 0.05}
"""Table fractions whose first hit is reported as "evaluations to reach"."""

TIME_FRACTIONS = (0.1, 0.25, 0.5, 1.0)
"""Simulated-time budgets, as fractions of ``budget`` times the table's median seconds."""


@dataclass
class RunTrace:
    """What one (strategy, seed) run saw, evaluation by evaluation.

    Attributes:
        strategy: Registered strategy name.
        seed: Seed of the strategy.
        rewards: Table reward of each evaluation (None: the child failed).
        seconds: Table training time of each evaluation (0 when the table has none).
        ids: Architecture id of each evaluation.
        wall_seconds: Time spent in ask, tell and look-ups.
    """

    strategy: str
    seed: int
    rewards: list[float | None]
    seconds: list[float]
    ids: list[str]
    wall_seconds: float


def run_one(table: Table, strategy: str, seed: int, budget: int,
            settings: Mapping[str, Any] | None = None) -> RunTrace:
    """Run one strategy with one seed for ``budget`` sequential evaluations."""
    from automl.strategies import create_strategy

    start = time.perf_counter()
    instance = create_strategy(strategy, table.space, seed=seed, workers=1,
                               settings=dict(settings or {}), source="bench")
    rewards: list[float | None] = []
    seconds: list[float] = []
    ids: list[str] = []
    for trial_id in range(budget):
        architecture = instance.ask(trial_id)
        if architecture is None:
            raise PluginError(f"strategy {strategy!r} returned None from ask() with no child in "
                              "flight; it would wait forever", source="bench")
        row = table.lookup(architecture)
        instance.tell(trial_id, architecture, row.reward)
        rewards.append(row.reward)
        seconds.append(row.seconds or 0.0)
        ids.append(architecture.id)
    return RunTrace(strategy, seed, rewards, seconds, ids, time.perf_counter() - start)


# ---------------------------------------------------------------------------------- parallel runs
_WORKER_TABLE: Table | None = None


def _init_worker(table: Table, quiet: bool) -> None:
    global _WORKER_TABLE
    _WORKER_TABLE = table
    if quiet:
        # TensorFlow-based strategies print C++ notices on import; errors still come back to
        # the parent as exceptions with their messages.
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)


def _run_in_worker(job: tuple[str, int, int, dict[str, Any]]) -> RunTrace:
    assert _WORKER_TABLE is not None
    strategy, seed, budget, settings = job
    return run_one(_WORKER_TABLE, strategy, seed, budget, settings)


def _context() -> Any:
    """Fork (plugins registered in this process stay registered) unless TensorFlow is already
    loaded here: a forked TensorFlow runtime can deadlock, so then start fresh processes."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and "tensorflow" not in sys.modules:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def run_benchmark(table: Table, strategies: Sequence[str], seeds: int | Sequence[int],
                  budget: int, *, processes: int = 2,
                  settings: Mapping[str, Mapping[str, Any]] | None = None,
                  on_run: Callable[[RunTrace], None] | None = None,
                  quiet_workers: bool = False) -> dict[str, Any]:
    """Run every strategy with every seed against ``table`` and summarise.

    Args:
        table: The loaded table (:func:`automl.bench.load_table`).
        strategies: Registered strategy names.
        seeds: Number of seeds (0..n-1) or the seeds themselves.
        budget: Evaluations per run.
        processes: Runs in parallel processes (1: in this process).
        settings: Per strategy name, settings for it. By default the space's ``strategy:``
            block applies to the strategy it names.
        on_run: Called with each finished run (progress display).
        quiet_workers: Send the worker processes' stderr to /dev/null (the CLI does, to hide
            TensorFlow's start-up notices).

    Returns:
        A JSON-able report; see :func:`summarize`.

    Raises:
        UserInputError: an unknown strategy, a bad budget or seed count, or an architecture
            that is not in the table.
    """
    from automl.registry import STRATEGIES
    from automl.registry import ensure_builtins

    ensure_builtins()
    if budget < 1:
        raise UserInputError(f"must be at least 1, got {budget}", key="--budget")
    seed_list = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise UserInputError("at least one seed is needed", key="--seeds")
    if not strategies:
        raise UserInputError("no strategy given", key="--strategies")
    for name in strategies:
        STRATEGIES.entry(name, key="--strategies")  # unknown names list the valid ones
    settings = dict(settings) if settings is not None else _space_settings(table)

    jobs = [(name, seed, budget, dict(settings.get(name, {})))
            for seed in seed_list for name in strategies]
    start = time.perf_counter()
    traces: list[RunTrace] = []
    used = 1 if processes <= 1 or len(jobs) == 1 else processes
    if used == 1:
        for name, seed, _, job_settings in jobs:
            traces.append(run_one(table, name, seed, budget, job_settings))
            if on_run is not None:
                on_run(traces[-1])
    else:
        pool = ProcessPoolExecutor(max_workers=processes, mp_context=_context(),
                                   initializer=_init_worker, initargs=(table, quiet_workers))
        try:
            for trace in pool.map(_run_in_worker, jobs):
                traces.append(trace)
                if on_run is not None:
                    on_run(trace)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)  # do not run the queued jobs
            raise
        pool.shutdown()
    report = summarize(table, traces, budget, strategies)
    report["wall_seconds"] = time.perf_counter() - start
    report["processes"] = used
    return report


def _space_settings(table: Table) -> dict[str, dict[str, Any]]:
    block = dict(table.space.strategy)
    name = block.pop("name", None)
    return {name: block} if name else {}


# ------------------------------------------------------------------------------------ metrics
def budgets_for(budget: int) -> list[int]:
    """The reported evaluation budgets: the standard ones below ``budget``, then ``budget``."""
    return [b for b in BUDGETS if b < budget] + [budget]


def best_so_far(rewards: Sequence[float | None], floor: float) -> np.ndarray:
    """Running maximum of the successful rewards; ``floor`` until the first success."""
    values = np.array([floor if r is None else r for r in rewards], dtype=float)
    return np.maximum.accumulate(np.maximum(values, floor)) if len(values) else values


def evals_to_reach(rewards: Sequence[float | None], threshold: float, budget: int) -> int:
    """1-based index of the first reward >= ``threshold``, or ``budget`` when none is."""
    for i, reward in enumerate(rewards):
        if reward is not None and reward >= threshold:
            return i + 1
    return budget


def best_by_time(rewards: Sequence[float | None], seconds: Sequence[float], limit: float,
                 floor: float) -> float:
    """Best reward among the evaluations finished within ``limit`` simulated seconds."""
    finished = np.cumsum(np.asarray(seconds, dtype=float)) <= limit + 1e-9
    done = [r for r, ok in zip(rewards, finished, strict=True) if ok and r is not None]
    return max(done, default=floor)


def _stats(values: Sequence[float]) -> dict[str, float]:
    q25, median, q75 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return {"median": float(median), "q25": float(q25), "q75": float(q75)}


def summarize(table: Table, traces: Sequence[RunTrace], budget: int,
              strategies: Sequence[str] | None = None) -> dict[str, Any]:
    """Per-strategy metrics of ``traces`` (see the module docstring); plain JSON types only."""
    optimum, floor = table.optimum, table.worst
    thresholds = {name: table.top_threshold(fraction) for name, fraction in TOPS.items()}
    budgets = budgets_for(budget)
    time_budgets: list[float] | None = None
    if table.has_seconds:
        typical = float(np.median([r.seconds or 0.0 for r in table.rows.values()]))
        time_budgets = [round(budget * typical * f, 6) for f in TIME_FRACTIONS]
    names = list(strategies) if strategies is not None else sorted({t.strategy for t in traces})

    per_strategy: dict[str, Any] = {}
    for name in names:
        runs = sorted((t for t in traces if t.strategy == name), key=lambda t: t.seed)
        if not runs:
            continue
        curves = np.stack([best_so_far(t.rewards, floor) for t in runs])
        entry: dict[str, Any] = {
            "runs": len(runs),
            "regret": {str(b): _stats(optimum - curves[:, b - 1]) for b in budgets},
            "curve": {key: [float(v) for v in values] for key, values in zip(
                ("q25", "median", "q75"), np.percentile(curves, [25, 50, 75], axis=0),
                strict=True)},
            "unique": _stats([len(set(t.ids)) for t in runs]),
            "failed": _stats([sum(r is None for r in t.rewards) for t in runs]),
            "run_seconds": _stats([t.wall_seconds for t in runs]),
            "per_seed": {"seed": [t.seed for t in runs],
                         "best": [float(c[-1]) for c in curves]},
        }
        for top, threshold in thresholds.items():
            hits = [evals_to_reach(t.rewards, threshold, budget) for t in runs]
            reached = [any(r is not None and r >= threshold for r in t.rewards) for t in runs]
            entry[f"evals_to_{top}"] = {"median": float(np.median(hits)),
                                        "reached": sum(reached) / len(runs)}
            entry["per_seed"][f"evals_to_{top}"] = hits
        if time_budgets is not None:
            entry["regret_at_seconds"] = {
                str(limit): _stats([optimum - best_by_time(t.rewards, t.seconds, limit, floor)
                                     for t in runs])
                for limit in time_budgets}
        per_strategy[name] = entry

    return {
        "space": table.space.name,
        "table": table.path,
        "metric": table.metric,
        "rows": len(table),
        "space_size": table.space.size(),
        "optimum": optimum,
        "thresholds": thresholds,
        "budget": budget,
        "seeds": sorted({t.seed for t in traces}),
        "budgets": budgets,
        "time_budgets": time_budgets,
        "strategies": per_strategy,
    }
