"""`automl bench SPACE.yaml [SPACE.yaml ...] [--table TABLE.csv ...]`: compare strategies on
benchmark tables, training nothing. One space is one table's report; several are a suite, ranked
across tables."""

from __future__ import annotations

import argparse
import json
import logging
import os
from pathlib import Path
from typing import Any

from automl.cli._common import check_not_an_input
from automl.cli._common import check_output_file
from automl.cli._common import console
from automl.cli._common import err_console
from automl.cli._common import non_empty
from automl.cli._common import plugin_path
from automl.cli._common import positive_int
from automl.cli._common import quiet_stderr
from automl.cli._common import terminal_stderr
from automl.errors import DataError
from automl.errors import UserInputError

SHOWN_REGRET = (25, 50, 100, 200)
"""Evaluation budgets whose regret the console shows (those within the budget, and the budget);
the JSON report has them all."""


def register(subparsers: Any) -> None:
    bench = subparsers.add_parser(
        "bench", help="compare strategies on benchmark tables (no training)",
        description="Run each strategy with each seed through the search loop against table "
        "look-ups (simulated training time) and report regret, evaluations to reach the "
        "table's top 1 % / 5 % and, for several tables, each strategy's mean rank. "
        "See docs/benchmark.md.")
    bench.add_argument("spaces", nargs="+", metavar="SPACE.yaml",
                       help="search spaces of the tables (several: a suite)")
    bench.add_argument("--table", action="append", default=[], metavar="TABLE.csv",
                       type=non_empty,
                       help="CSV with one row per architecture, one per space in the same "
                       "order (default: the CSV next to the YAML with the same name)")
    bench.add_argument("--strategies", metavar="A,B,...", default=None,
                       help="comma-separated strategy names (default: every registered one)")
    bench.add_argument("--seeds", type=seed_range, default=range(20), metavar="N|A-B",
                       help="seeds per strategy: N runs seeds 0..N-1, A-B runs seeds A to B "
                       "inclusive (a second set of seeds to check a claim; default 20)")
    bench.add_argument("--budget", type=positive_int, default=100, metavar="N",
                       help="evaluations per run (default 100)")
    bench.add_argument("--simulated-workers", type=positive_int, default=1, metavar="K",
                       help="children in flight at once in each simulated search; results "
                       "come back in simulated completion order (default 1)")
    bench.add_argument("--metric", default="reward", metavar="COLUMN",
                       help="table column to maximise (default: reward)")
    bench.add_argument("--json", metavar="OUT.json", default=None, type=non_empty,
                       help="write the full report (curves, per-seed results, ranks) as JSON")
    bench.add_argument("--plot", metavar="OUT.png", default=None, type=non_empty,
                       help="write best-so-far curves (median and IQR per strategy, one panel "
                       "per table)")
    bench.add_argument("--workers", type=positive_int, default=2, metavar="P",
                       help="parallel processes (default 2; 1 runs in this process)")
    bench.add_argument("--plugins", action="append", default=[], type=plugin_path, metavar="PATH",
                       help="plugin file or folder to load (repeatable)")
    bench.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from automl.bench import load_table
    from automl.bench import run_suite
    from automl.registry import STRATEGIES
    from automl.registry import ensure_builtins
    from automl.registry.discovery import load_named
    from automl.space import load_space
    from automl.strategies import check_strategy_block

    ensure_builtins()
    load_named(args.plugins)
    pairs = table_paths(args.spaces, args.table)
    spaces = [load_space(space, load_plugins=True) for space, _ in pairs]
    for space in spaces:  # named by file here, not by a worker once the runs have started
        load_named(space.plugins, named_by=f"{space.source} (plugins:)")  # the note of a search
        if space.strategy:
            check_strategy_block(space)
    strategies = _strategies(args.strategies, STRATEGIES.names())
    for _, table_path in pairs:  # every file is checked before the slow loading starts
        if Path(table_path).is_dir():
            raise DataError("is a folder, not a table CSV", source=table_path)
        if not Path(table_path).is_file():
            raise DataError("file not found", source=table_path)
    if args.plot is not None and not Path(args.plot).suffix:
        args.plot += ".png"  # what matplotlib would write, named as such in the output
    check_output_file(args.json, "--json")
    check_output_file(args.plot, "--plot")
    if args.json and args.plot and Path(args.json).resolve() == Path(args.plot).resolve():
        raise UserInputError(f"{args.plot!r} is also the --json report; give two files",
                             key="--plot")
    inputs = [path for pair in pairs for path in pair] + list(args.plugins)
    check_not_an_input(args.json, inputs, "--json")
    check_not_an_input(args.plot, inputs, "--plot")
    _check_plot_format(args.plot)
    tables = []
    for space, (space_path, table_path) in zip(spaces, pairs, strict=True):
        try:
            table = load_table(table_path, space, metric=args.metric)
        except DataError as exc:
            if len(pairs) == 1 or exc.key == "--metric":
                raise
            # in a suite, a table given in the wrong order fails against another YAML
            raise DataError(f"{exc.message} (read as the table of {space_path})",
                            source=exc.source, key=exc.key) from None
        console.print(f"{table_path}: {len(table):,} of {space.size():,} architectures, "
                      f"best {args.metric} {table.optimum:.4g}", markup=False)
        if args.simulated_workers > 1 and not table.has_seconds:
            err_console.print(f"note: {table_path} has no 'seconds' column: every child "
                              "takes the same simulated time, so the workers run in "
                              "lockstep batches", markup=False)
        tables.append(table)
    smallest = min(tables, key=len)
    if args.budget > len(smallest):  # no strategy can propose more distinct architectures
        raise UserInputError(f"{args.budget} is more than the {len(smallest):,} architectures "
                             f"of {smallest.path}; allowed: at most {len(smallest):,}",
                             key="--budget")
    console.print(f"{len(strategies)} strategies x {_describe(args.seeds)} x {args.budget} "
                  f"evaluations, {args.simulated_workers} simulated worker(s)", markup=False)

    total = len(tables) * len(strategies) * len(args.seeds)
    done = [0]
    progress = err_console.is_terminal  # asked before the notices are sent away

    def on_run(trace: Any) -> None:
        done[0] += 1
        if progress:
            stream = terminal_stderr()
            stream.write(f"\r{done[0]}/{total} runs")
            stream.flush()

    # A table's failed children are facts of the benchmark, not news: keep the loop's
    # per-failure warnings off the terminal while the runs go.
    loop_logger = logging.getLogger("automl.search")
    level = loop_logger.level
    loop_logger.setLevel(logging.ERROR)
    # Runs in this process (--workers 1) import TensorFlow here: its C++ start-up notices
    # go where the worker processes' go, away from the terminal.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        with quiet_stderr():
            suite = run_suite(tables, strategies, list(args.seeds), args.budget,
                              processes=args.workers, workers=args.simulated_workers,
                              on_run=on_run, quiet_workers=True)
    except KeyboardInterrupt:
        line_start = "\r" if progress else ""  # over the progress count
        err_console.print(f"{line_start}Interrupted after {done[0]} of {total} runs; nothing "
                          "written (a bench has no resume: run it again)")
        return 130
    finally:
        loop_logger.setLevel(level)
    if progress:
        err_console.print("\r", end="")
    for report in suite["tables"]:
        for view in render(report):
            console.print(view)
    if len(tables) > 1:
        console.print(render_overall(suite))
    console.print(f"{total} runs in {suite['wall_seconds']:.1f} s with {suite['processes']} "
                  "processes. Medians over seeds [quartiles]; regret = table optimum - best "
                  "found (all quartiles in --json, IQR bands in --plot).", markup=False)
    if args.plot:  # first: matplotlib is likelier to fail than the JSON, and then writes none
        from automl.bench import plot_benchmark

        plot_benchmark(suite["tables"], args.plot)
        console.print(f"plot: {args.plot}", markup=False)
    if args.json:
        _write_json(Path(args.json), _json_report(suite))
        console.print(f"report: {args.json}", markup=False)
    return 0


def seed_range(text: str) -> range:
    """An argparse ``type=`` for ``--seeds``: ``N`` is seeds 0..N-1, ``A-B`` seeds A..B."""
    first, dash, last = text.partition("-")
    if not dash:
        return range(positive_int(text))
    try:
        low, high = int(first), int(last)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a count N or a range A-B of seeds (e.g. 20 or 20-39)") from None
    if low < 0 or high < low:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a seed range A-B needs 0 <= A <= B (e.g. 20-39)")
    return range(low, high + 1)


def _describe(seeds: range) -> str:
    if seeds.start == 0:
        return f"{len(seeds)} seeds"
    return f"{len(seeds)} seeds ({seeds.start}-{seeds.stop - 1})"


def table_paths(spaces: list[str], tables: list[str]) -> list[tuple[str, str]]:
    """Pair each space with its table: the ``--table`` values in order, then for the spaces
    left the CSV next to the YAML with the same name."""
    if len(tables) > len(spaces):
        raise UserInputError(f"{len(tables)} tables for {len(spaces)} space(s); give at most "
                             "one --table per space, in the order of the spaces", key="--table")
    for space in spaces:
        if Path(space).suffix.lower() == ".csv":  # bench T.csv --table S.yaml
            raise DataError("a table, not a search space: give the space's YAML first and "
                            "its table with --table (automl bench SPACE.yaml --table "
                            "TABLE.csv)", source=space)
        if not Path(space).is_file():
            raise DataError("file not found" if not Path(space).exists() else "is not a file",
                            source=space)
    pairs = list(zip(spaces, tables, strict=False))
    for space in spaces[len(tables):]:
        beside = Path(space).with_suffix(".csv")
        if not beside.is_file():
            raise DataError(f"no --table given for it and no table next to it ({beside})",
                            source=space)
        pairs.append((space, str(beside)))
    return pairs


def _strategies(text: str | None, registered: list[str]) -> list[str]:
    from automl.errors import allowed
    from automl.errors import did_you_mean

    if text is None:
        return registered
    names = [name.strip() for name in text.split(",")]
    if not any(names):
        raise UserInputError("no strategy given", key="--strategies")
    if not all(names):
        raise UserInputError(f"an empty name in {text!r} (a stray comma?); give names "
                             "separated by commas, e.g. random,tpe", key="--strategies")
    for name in names:
        if name not in registered:
            raise UserInputError(f"unknown strategy {name!r}{did_you_mean(name, registered)}; "
                                 f"allowed: {allowed(registered)}", key="--strategies")
    if len(set(names)) != len(names):
        raise UserInputError("a strategy is listed twice", key="--strategies")
    return names


def shown_budgets(budget: int) -> list[int]:
    """Regret columns of the console: 25, 50, 100, 200 within the budget, and the budget."""
    shown = [b for b in SHOWN_REGRET if b < budget]
    return [*shown, budget]


def render(report: dict[str, Any]) -> list[Any]:
    """One table's views.

    First: evaluations to the top 1 % / 5 % (median [q25-q75], with the share of seeds that got
    there when not all did) and median regret at the shown budgets. Second, when the table has
    training times: median regret at each simulated-time budget.
    """
    from rich.table import Table as RichTable

    evals = RichTable(title=f"{report.get('label', report['space'])}: {report['rows']:,} rows, "
                      f"{len(report['seeds'])} seeds, metric {report['metric']}")
    evals.add_column("strategy")
    evals.add_column("evals to top 1 %", justify="right")
    evals.add_column("evals to top 5 %", justify="right")
    budgets = shown_budgets(report["budget"])
    for budget in budgets:
        evals.add_column(f"regret@{budget}", justify="right")
    for name, entry in report["strategies"].items():
        cells = [name, _evals(entry["evals_to_top1"]), _evals(entry["evals_to_top5"])]
        cells.extend(_stat(entry["regret"][str(budget)]) for budget in budgets)
        evals.add_row(*cells)
    views = [evals]
    if report["time_budgets"]:
        workers = report.get("simulated_workers", 1)
        timed = RichTable(title="regret against simulated training time ("
                          + ("one child at a time)" if workers == 1
                             else f"{workers} children at a time)"))
        timed.add_column("strategy")
        for limit in report["time_budgets"]:
            timed.add_column(f"@{_duration(limit)}", justify="right")
        for name, entry in report["strategies"].items():
            timed.add_row(name, *(_stat(entry["regret_at_seconds"][str(limit)])
                                  for limit in report["time_budgets"]))
        views.append(timed)
    return views


def render_overall(suite: dict[str, Any]) -> Any:
    """Strategies across the suite's tables, best mean rank (by the top 1 %) first."""
    from rich.table import Table as RichTable

    overall = suite["overall"]
    view = RichTable(title=f"overall: {len(overall['tables'])} tables "
                     f"({', '.join(overall['tables'])}); rank 1 = fewest evaluations to the top")
    view.add_column("strategy")
    view.add_column("mean rank top 1 %", justify="right")
    view.add_column("mean rank top 5 %", justify="right")
    view.add_column("evals to top 1 %", justify="right")
    view.add_column("evals to top 5 %", justify="right")
    budgets = shown_budgets(suite["budget"])
    for budget in budgets:
        view.add_column(f"norm. regret@{budget}", justify="right")
    entries = sorted(overall["strategies"].items(),
                     key=lambda item: (item[1]["mean_rank"]["top1"],
                                       item[1]["mean_rank"]["top5"]))
    for name, entry in entries:
        view.add_row(name, f"{entry['mean_rank']['top1']:.2f}",
                     f"{entry['mean_rank']['top5']:.2f}", _evals(entry["evals_to_top1"]),
                     _evals(entry["evals_to_top5"]),
                     *(_stat(entry["normalized_regret"][str(b)]) for b in budgets))
    return view


def _evals(hit: dict[str, float]) -> str:
    percent = min(round(hit["reached"] * 100, 1), 99.9)  # never a "100%" short of every seed
    reached = f" ({percent:g}%)" if hit["reached"] < 1 else ""
    return f"{hit['median']:g} [{hit['q25']:g}\u2013{hit['q75']:g}]{reached}"


def _stat(stats: dict[str, float]) -> str:
    return f"{stats['median']:.3g}"


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.3g}h"
    if seconds >= 60:
        return f"{seconds / 60:.3g}min"
    return f"{seconds:.3g}s"


def _json_report(suite: dict[str, Any]) -> dict[str, Any]:
    """One table: its report, as before suites existed; several: the whole suite."""
    if len(suite["tables"]) == 1:
        return {**suite["tables"][0], "wall_seconds": suite["wall_seconds"],
                "processes": suite["processes"]}
    return suite


def _check_plot_format(path: str | None) -> None:
    """The plot's file type must be one matplotlib writes: checked before the runs."""
    if path is None or not Path(path).suffix:
        return
    from matplotlib.figure import Figure

    formats = sorted(Figure().canvas.get_supported_filetypes())
    if Path(path).suffix[1:].lower() not in formats:
        raise UserInputError(f"cannot write a {Path(path).suffix!r} plot; allowed: "
                             f"{', '.join('.' + f for f in formats)}", key="--plot")


def _write_json(path: Path, report: dict[str, Any]) -> None:
    from automl.atomic_write import atomic_write

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(report, indent=1) + "\n")
    except OSError as exc:
        raise UserInputError(f"cannot write the report: {exc.strerror}", source=str(path)) \
            from None
