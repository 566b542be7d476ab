"""`automl bench SPACE.yaml --table TABLE.csv`: compare strategies on a table, training nothing."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from automl.cli._common import console
from automl.cli._common import err_console
from automl.cli._common import positive_int
from automl.errors import UserInputError


def register(subparsers: Any) -> None:
    bench = subparsers.add_parser(
        "bench", help="compare strategies on a benchmark table (no training)",
        description="Run each strategy with each seed against table look-ups and report regret "
        "and evaluations to reach the table's top 1 %% / 5 %%. See docs/benchmark.md.")
    bench.add_argument("space", metavar="SPACE.yaml", help="the search space of the table")
    bench.add_argument("--table", required=True, metavar="TABLE.csv",
                       help="CSV with one row per architecture (see docs/benchmark.md)")
    bench.add_argument("--strategies", metavar="A,B,...", default=None,
                       help="comma-separated strategy names (default: every registered one)")
    bench.add_argument("--seeds", type=positive_int, default=20, metavar="N",
                       help="seeds per strategy, 0..N-1 (default 20)")
    bench.add_argument("--budget", type=positive_int, default=100, metavar="N",
                       help="evaluations per run (default 100)")
    bench.add_argument("--metric", default="reward", metavar="COLUMN",
                       help="table column to maximise (default: reward)")
    bench.add_argument("--json", metavar="OUT.json", default=None,
                       help="write the full report (curves, per-seed results) as JSON")
    bench.add_argument("--plot", metavar="OUT.png", default=None,
                       help="write best-so-far curves (median and IQR per strategy)")
    bench.add_argument("--workers", type=positive_int, default=2, metavar="P",
                       help="parallel processes (default 2; 1 runs in this process)")
    bench.add_argument("--plugins", action="append", default=[], metavar="PATH",
                       help="plugin file or folder to load (repeatable)")
    bench.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from automl.bench import load_table
    from automl.bench import plot_benchmark
    from automl.bench import run_benchmark
    from automl.registry import STRATEGIES
    from automl.registry import ensure_builtins
    from automl.registry.discovery import load_plugin_paths
    from automl.space import load_space

    ensure_builtins()
    load_plugin_paths(args.plugins)
    space = load_space(args.space)
    load_plugin_paths(space.plugins)
    strategies = _strategies(args.strategies, STRATEGIES.names())
    table = load_table(args.table, space, metric=args.metric)
    console.print(f"{args.table}: {len(table):,} of {space.size():,} architectures, "
                  f"best {args.metric} {table.optimum:.4g}; {len(strategies)} strategies x "
                  f"{args.seeds} seeds x {args.budget} evaluations", markup=False)

    total = len(strategies) * args.seeds
    done = [0]

    def on_run(trace: Any) -> None:
        done[0] += 1
        if err_console.is_terminal:
            err_console.print(f"\r{done[0]}/{total} runs", end="", markup=False)

    report = run_benchmark(table, strategies, args.seeds, args.budget, processes=args.workers,
                           on_run=on_run, quiet_workers=True)
    if err_console.is_terminal:
        err_console.print("\r", end="")
    for table_view in render(report):
        console.print(table_view)
    console.print(f"{total} runs in {report['wall_seconds']:.1f} s with {report['processes']} "
                  "processes. Medians over seeds; regret = table optimum - best found "
                  "(quartiles in --json, IQR bands in --plot).",
                  markup=False)
    if args.json:
        _write_json(Path(args.json), report)
        console.print(f"report: {args.json}", markup=False)
    if args.plot:
        plot_benchmark(report, args.plot)
        console.print(f"plot: {args.plot}", markup=False)
    return 0


def _strategies(text: str | None, registered: list[str]) -> list[str]:
    from automl.errors import allowed
    from automl.errors import did_you_mean

    if text is None:
        return registered
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UserInputError("no strategy given", key="--strategies")
    for name in names:
        if name not in registered:
            raise UserInputError(f"unknown strategy {name!r}{did_you_mean(name, registered)}; "
                                 f"allowed: {allowed(registered)}", key="--strategies")
    if len(set(names)) != len(names):
        raise UserInputError("a strategy is listed twice", key="--strategies")
    return names


def render(report: dict[str, Any]) -> list[Any]:
    """The summary tables.

    First: evaluations to the top 1 % / 5 % (with the share of seeds that got there when not
    all did) and median regret at each evaluation budget. Second, when the table has training
    times: median regret at each simulated-time budget.
    """
    from rich.table import Table as RichTable

    evals = RichTable(title=f"{report['space']}: {report['rows']:,} rows, "
                      f"{len(report['seeds'])} seeds, metric {report['metric']}")
    evals.add_column("strategy")
    evals.add_column("evals to top 1 %", justify="right")
    evals.add_column("evals to top 5 %", justify="right")
    for budget in report["budgets"]:
        evals.add_column(f"regret@{budget}", justify="right")
    for name, entry in report["strategies"].items():
        cells = [name]
        for top in ("top1", "top5"):
            hit = entry[f"evals_to_{top}"]
            reached = f" ({hit['reached']:.0%})" if hit["reached"] < 1 else ""
            cells.append(f"{hit['median']:g}{reached}")
        cells.extend(_stat(entry["regret"][str(budget)]) for budget in report["budgets"])
        evals.add_row(*cells)
    views = [evals]
    if report["time_budgets"]:
        timed = RichTable(title="regret against simulated training time (one child at a time)")
        timed.add_column("strategy")
        for limit in report["time_budgets"]:
            timed.add_column(f"@{_duration(limit)}", justify="right")
        for name, entry in report["strategies"].items():
            timed.add_row(name, *(_stat(entry["regret_at_seconds"][str(limit)])
                                  for limit in report["time_budgets"]))
        views.append(timed)
    return views


def _stat(stats: dict[str, float]) -> str:
    return f"{stats['median']:.3g}"


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.3g}h"
    if seconds >= 60:
        return f"{seconds / 60:.3g}min"
    return f"{seconds:.3g}s"


def _write_json(path: Path, report: dict[str, Any]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    except OSError as exc:
        raise UserInputError(f"cannot write the report: {exc.strerror}", source=str(path)) \
            from None
