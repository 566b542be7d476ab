"""What a benchmark reports: regret, evaluations to the table's top, simulated-time regret, and
ranks of strategies across tables.

Per table and strategy, over seeds (median and quartiles):

* **regret** at evaluation budgets 10, 25, 50, 100, ...: the table's optimum minus the best
  reward found so far. A repeated architecture counts as an evaluation again (the strategy spent
  a trial on it) but cannot raise the best-so-far, so repeats are never rewarded.
* **evaluations to the top 1 % / 5 %** of the table: the first evaluation whose reward is at
  least the ``ceil(0.01 n)``-th best reward; a run that never gets there counts as ``budget``
  (``reached`` says in how many seeds it did).
* **regret against simulated time**, when the table has ``seconds``: the best reward among the
  results that had *completed* by then. With one simulated worker that is the running sum of the
  children's seconds; with K workers it is each result's completion time.

Before the first successful child, the best-so-far is the table's worst reward.

Across tables, each strategy's **rank** per table (1 = fewest median evaluations to the top 1 %;
ties share the average rank) is averaged into a **mean rank**, the way HPO benchmarks compare
optimisers on tables whose rewards have different scales; evaluations to the top are pooled over
tables and seeds, and regret is normalised by each table's range (optimum - worst).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import numpy as np

from automl.bench.table import Table

BUDGETS = (10, 25, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000)
"""Evaluation counts at which regret is reported (those below the budget, plus the budget)."""

TOPS = {"top1": 0.01, "top5": 0.05}
"""Table fractions whose first hit is reported as "evaluations to reach"."""

TIME_FRACTIONS = (0.1, 0.25, 0.5, 1.0)
"""Simulated-time budgets, as fractions of ``budget`` x the table's median seconds / workers."""


@dataclass
class RunTrace:
    """What one (strategy, seed) run saw, evaluation by evaluation, in the order results were
    told to the strategy (completion order).

    Attributes:
        strategy: Registered strategy name.
        seed: Seed of the strategy.
        rewards: Table reward of each evaluation (None: the child failed).
        seconds: Simulated training time of each evaluation (0 for a cached repeat, and when
            the table has no ``seconds``).
        ids: Architecture id of each evaluation.
        wall_seconds: Real time the run took (ask, tell, look-ups, the loop).
        times: Simulated time at which each result was told; default: the running sum of
            ``seconds`` (children evaluated one after another).
    """

    strategy: str
    seed: int
    rewards: list[float | None]
    seconds: list[float]
    ids: list[str]
    wall_seconds: float
    times: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.times and self.seconds:
            self.times = [float(t) for t in np.cumsum(np.asarray(self.seconds, dtype=float))]


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


def best_within(rewards: Sequence[float | None], times: Sequence[float], limit: float,
                floor: float) -> float:
    """Best reward among the results told by simulated time ``limit``."""
    done = [r for r, t in zip(rewards, times, strict=True) if t <= limit + 1e-9 and r is not None]
    return max(done, default=floor)


def best_by_time(rewards: Sequence[float | None], seconds: Sequence[float], limit: float,
                 floor: float) -> float:
    """Best reward among children evaluated one after another, each costing its ``seconds``,
    that finished within ``limit``."""
    return best_within(rewards, np.cumsum(np.asarray(seconds, dtype=float)).tolist(), limit,
                       floor)


def stats(values: Sequence[float]) -> dict[str, float]:
    """Median and quartiles."""
    q25, median, q75 = np.percentile(np.asarray(values, dtype=float), [25, 50, 75])
    return {"median": float(median), "q25": float(q25), "q75": float(q75)}


def summarize(table: Table, traces: Sequence[RunTrace], budget: int,
              strategies: Sequence[str] | None = None, *, workers: int = 1) -> dict[str, Any]:
    """Per-strategy metrics of ``traces`` on one table; plain JSON types only.

    Args:
        table: The table the traces ran on.
        traces: One per (strategy, seed), each ``budget`` evaluations long.
        budget: Evaluations per run.
        strategies: Report order (default: sorted names of the traces).
        workers: Simulated workers the runs used (scales the simulated-time budgets).
    """
    optimum, floor = table.optimum, table.worst
    thresholds = {name: table.top_threshold(fraction) for name, fraction in TOPS.items()}
    budgets = budgets_for(budget)
    time_budgets: list[float] | None = None
    # The time budgets: fractions of the time `budget` typical children take on `workers` at
    # once (no more at once than there are children), from the successful children's times.
    typical = float(np.median([r.seconds for r in table.rows.values()
                               if r.reward is not None and r.seconds is not None] or [0.0]))
    if table.has_seconds and typical > 0:
        time_budgets = [round(budget * typical * f / min(workers, budget), 6)
                        for f in TIME_FRACTIONS]
    names = list(strategies) if strategies is not None else sorted({t.strategy for t in traces})

    per_strategy: dict[str, Any] = {}
    for name in names:
        runs = sorted((t for t in traces if t.strategy == name), key=lambda t: t.seed)
        if not runs:
            continue
        curves = np.stack([best_so_far(t.rewards, floor) for t in runs])
        entry: dict[str, Any] = {
            "runs": len(runs),
            "regret": {str(b): stats(optimum - curves[:, b - 1]) for b in budgets},
            "curve": {key: [float(v) for v in values] for key, values in zip(
                ("q25", "median", "q75"), np.percentile(curves, [25, 50, 75], axis=0),
                strict=True)},
            "unique": stats([len(set(t.ids)) for t in runs]),
            "failed": stats([sum(r is None for r in t.rewards) for t in runs]),
            "run_seconds": stats([t.wall_seconds for t in runs]),
            "simulated_seconds": stats([t.times[-1] if t.times else 0.0 for t in runs]),
            "per_seed": {"seed": [t.seed for t in runs],
                         "best": [float(c[-1]) for c in curves],
                         "regret": {str(b): [float(optimum - c[b - 1]) for c in curves]
                                    for b in budgets}},
        }
        for top, threshold in thresholds.items():
            hits = [evals_to_reach(t.rewards, threshold, budget) for t in runs]
            reached = [any(r is not None and r >= threshold for r in t.rewards) for t in runs]
            entry[f"evals_to_{top}"] = {**stats(hits), "reached": sum(reached) / len(runs)}
            entry["per_seed"][f"evals_to_{top}"] = hits
        if time_budgets is not None:
            entry["regret_at_seconds"] = {
                str(limit): stats([optimum - best_within(t.rewards, t.times, limit, floor)
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
        "worst": floor,
        "thresholds": thresholds,
        "budget": budget,
        "seeds": sorted({t.seed for t in traces}),
        "budgets": budgets,
        "simulated_workers": workers,
        "time_budgets": time_budgets,
        "strategies": per_strategy,
    }


def average_ranks(values: Mapping[str, float]) -> dict[str, float]:
    """Rank 1 for the smallest value; tied values share the average of their ranks."""
    ordered = sorted(values.values())
    return {name: float(np.mean([i + 1 for i, v in enumerate(ordered) if v == value]))
            for name, value in values.items()}


def overall(reports: Sequence[Mapping[str, Any]], strategies: Sequence[str]) -> dict[str, Any]:
    """Strategies across tables: mean rank by median evaluations to the top 1 % and 5 %
    (ranked per table), pooled evaluations to the top, and regret normalised by each table's
    range, pooled over tables and seeds."""
    ranks: dict[str, dict[str, list[float]]] = {name: {top: [] for top in TOPS}
                                                for name in strategies}
    for report in reports:
        for top in TOPS:
            medians = {name: report["strategies"][name][f"evals_to_{top}"]["median"]
                       for name in strategies}
            for name, rank in average_ranks(medians).items():
                ranks[name][top].append(rank)
    budgets = reports[0]["budgets"] if reports else []
    result: dict[str, Any] = {}
    for name in strategies:
        entries = [report["strategies"][name] for report in reports]
        entry: dict[str, Any] = {
            "mean_rank": {top: float(np.mean(ranks[name][top])) for top in TOPS},
            "ranks": ranks[name],
        }
        for top in TOPS:
            hits = [h for e in entries for h in e["per_seed"][f"evals_to_{top}"]]
            reached = sum(e[f"evals_to_{top}"]["reached"] * e["runs"] for e in entries)
            entry[f"evals_to_{top}"] = {**stats(hits), "reached": reached / len(hits)}
        entry["normalized_regret"] = {
            str(b): stats([r / _range(report) for report, e in zip(reports, entries, strict=True)
                           for r in e["per_seed"]["regret"][str(b)]])
            for b in budgets}
        result[name] = entry
    return {"tables": [report.get("label", report["space"]) for report in reports],
            "budgets": budgets,
            "strategies": result}


def _range(report: Mapping[str, Any]) -> float:
    spread = float(report["optimum"]) - float(report["worst"])
    return spread if spread > 0 else 1.0


__all__ = ["BUDGETS", "TIME_FRACTIONS", "TOPS", "RunTrace", "average_ranks", "best_by_time",
           "best_so_far", "best_within", "budgets_for", "evals_to_reach", "overall", "stats",
           "summarize"]
