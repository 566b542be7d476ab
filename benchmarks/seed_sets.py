"""How often would a fresh set of seeds pass a line? A bootstrap over `automl bench --json` files.

A claim such as "DQN is ahead of evolution on every table" is read on the medians of one set of
seeds (20 by default). Those medians move between sets by as much as the strategies differ, so
one set passing or failing says little. This script pools every seed the files hold, draws
many sets of ``--set-size`` seeds with replacement from them (per strategy and table), and
prints the share of drawn sets that pass the line, the share that fail each table, the sets as
measured (consecutive blocks of seeds), and the same shares with the strategy's evaluations
scaled by a factor: how much better it would have to be to pass nearly every set.

Two lines, as in docs/benchmark.md:

    # ahead of each named strategy (a smaller median) on every table
    python benchmarks/seed_sets.py run_a.json run_b.json --strategy dqn --ahead-of evolution,random
    # at most 1.25 x TPE's median on every table, and a mean rank no worse than TPE's
    python benchmarks/seed_sets.py run_a.json run_b.json --strategy dqn --within 1.25 --of tpe

Later files replace earlier ones for the same (strategy, table, seed); ``--alias dqn_c=dqn``
reads a plugin's rows as another strategy's. Files made with another budget, metric or number
of simulated workers are refused: a seed that never reached the top counts as the budget.
Mean ranks are among every strategy the files hold (or those ``--among`` names) for all the
seeds used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from automl.bench.metrics import average_ranks

SAME_SETTINGS = ("budget", "metric", "simulated_workers")
"""What every pooled report must share: a seed that never reached the top counts as the budget,
and a search with 4 workers is not one with 1."""


class MixedReports(ValueError):
    """Reports that cannot be pooled (:data:`SAME_SETTINGS` differ)."""


def load(paths: list[Path], aliases: dict[str, str], metric: str
         ) -> dict[str, dict[str, dict[int, float]]]:
    """``{strategy: {table: {seed: evaluations}}}`` from bench JSON files, later ones winning."""
    out: dict[str, dict[str, dict[int, float]]] = {}
    first: tuple[Path, dict[str, object]] | None = None
    for path in paths:
        if not path.is_file():
            raise ValueError(f"{path}: file not found")
        try:
            report = json.loads(path.read_text())
            for table in report.get("tables", [report]):  # a suite, or one table's report
                settings = {key: table.get(key, 1 if key == "simulated_workers" else None)
                            for key in SAME_SETTINGS}
                first = first or (path, settings)
                if settings != first[1]:
                    differ = [f"{key} {first[1][key]} against {settings[key]}"
                              for key in SAME_SETTINGS if settings[key] != first[1][key]]
                    raise MixedReports(f"{path}: made with other settings than {first[0]} "
                                       f"({', '.join(differ)}); pool only reports of one "
                                       "setting")
                for name, entry in table["strategies"].items():
                    seeds, values = entry["per_seed"]["seed"], entry["per_seed"][metric]
                    cells = out.setdefault(aliases.get(name, name), {}).setdefault(
                        table.get("label", table["space"]), {})
                    cells.update(zip(seeds, map(float, values), strict=True))
        except MixedReports:
            raise
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path}: not a report of `automl bench --json` "
                             f"({type(exc).__name__}: {exc})") from None
    return out


def as_array(data: dict[str, dict[str, dict[int, float]]], among: list[str] | None
             ) -> tuple[list[str], list[str], list[int], np.ndarray]:
    """Strategies (``among``, or all), and the tables and seeds every one of them has;
    ``[strategy, table, seed]`` evaluations."""
    strategies = sorted(name for name in data if among is None or name in among)
    if not strategies:
        return [], [], [], np.zeros((0, 0, 0))
    tables = sorted(set.intersection(*(set(data[s]) for s in strategies)))
    if not tables:
        return strategies, [], [], np.zeros((len(strategies), 0, 0))
    seeds = sorted(set.intersection(*(set(data[s][t]) for s in strategies for t in tables)))
    values = np.array([[[data[s][t][seed] for seed in seeds] for t in tables]
                       for s in strategies])
    return strategies, tables, seeds, values


def failing_tables(medians: np.ndarray, strategies: list[str], args: argparse.Namespace
                   ) -> tuple[np.ndarray, bool]:
    """Per table, whether ``args.strategy`` misses the line on these medians ``[strategy,
    table]``; and whether it misses the mean-rank part (``--within`` only)."""
    i = strategies.index(args.strategy)
    if args.within is not None:
        j = strategies.index(args.of)
        ranks = [average_ranks(dict(zip(strategies, medians[:, t], strict=True)))
                 for t in range(medians.shape[1])]
        rank_miss = np.mean([r[args.strategy] for r in ranks]) > np.mean([r[args.of]
                                                                          for r in ranks])
        return medians[i] > args.within * medians[j], bool(rank_miss)
    others = [strategies.index(name) for name in args.ahead_of]
    return np.any(medians[i] >= medians[others], axis=0), False


def _alias(text: str) -> tuple[str, str]:
    name, equals, alias = text.partition("=")
    if not (equals and name and alias):
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=AS (e.g. dqn_c=dqn)")
    return name, alias


def _scales(text: str) -> list[float]:
    try:
        scales = [float(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not comma-separated positive numbers (e.g. 1,0.9,0.8)") from None
    if not all(0 < scale < float("inf") for scale in scales):
        raise argparse.ArgumentTypeError(f"{text!r}: every factor must be a positive number")
    return scales


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="`automl bench --json` files")
    parser.add_argument("--strategy", required=True, help="the strategy the line is about")
    line = parser.add_mutually_exclusive_group(required=True)
    line.add_argument("--ahead-of", type=lambda s: s.split(","),
                      help="comma-separated strategies it must beat on every table")
    line.add_argument("--within", type=float, help="at most this factor of --of's median")
    parser.add_argument("--of", help="the strategy --within compares with")
    parser.add_argument("--metric", default="evals_to_top1",
                        choices=["evals_to_top1", "evals_to_top5"])
    parser.add_argument("--set-size", type=int, default=20, help="seeds per set (default 20)")
    parser.add_argument("--draws", type=int, default=4000, help="bootstrap sets (default 4000)")
    parser.add_argument("--scales", type=_scales, default=[1, 0.9, 0.8, 0.7],
                        help="comma-separated factors applied to the strategy's evaluations "
                        "(default 1,0.9,0.8,0.7)")
    parser.add_argument("--alias", action="append", default=[], metavar="NAME=AS", type=_alias,
                        help="read strategy NAME as AS (repeatable)")
    parser.add_argument("--among", type=lambda s: s.split(","),
                        help="comma-separated strategies to use (default: all in the files)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.within is not None and not args.of:
        parser.error("--within needs --of")
    if args.set_size < 1 or args.draws < 1:
        parser.error("--set-size and --draws must be at least 1")
    aliases = dict(args.alias)
    try:
        data = load(args.files, aliases, args.metric)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    strategies, tables, seeds, values = as_array(data, args.among)
    named = [args.strategy] + (args.ahead_of or [args.of])
    missing = [name for name in named if name not in strategies]
    if missing or not tables or not seeds:
        print(f"error: the files hold strategies {strategies}, {len(tables)} tables and "
              f"{len(seeds)} seeds shared by all; needed {named}", file=sys.stderr)
        return 2

    print(f"{len(seeds)} seeds ({seeds[0]}-{seeds[-1]}), {len(tables)} tables, strategies "
          f"{', '.join(strategies)}; line: {args.strategy} "
          + (f"ahead of {', '.join(args.ahead_of)}" if args.ahead_of else
             f"within {args.within} x {args.of} and a mean rank no worse")
          + f"; {args.metric}")
    print("tables: " + ", ".join(tables))
    size = args.set_size
    for start in range(0, len(seeds) - size + 1, size):
        block = values[:, :, start:start + size]
        fails, rank_miss = failing_tables(np.median(block, axis=2), strategies, args)
        missed = [t for t, f in zip(tables, fails, strict=True) if f] + ["mean rank"] * rank_miss
        print(f"  measured seeds {seeds[start]}-{seeds[start + size - 1]}: "
              + ("pass" if not missed else "miss " + ", ".join(missed)))

    rng = np.random.default_rng(args.seed)
    i = strategies.index(args.strategy)
    print(f"bootstrap sets of {size} seeds ({args.draws} draws): share passing; share failing "
          "each table" + ("; share missing the mean rank" if args.within is not None else ""))
    for scale in args.scales:
        passed, table_fails, rank_misses = 0, np.zeros(len(tables)), 0
        for _ in range(args.draws):
            picks = rng.integers(0, len(seeds), size=values.shape[:2] + (size,))
            sample = np.take_along_axis(values, picks, axis=2)
            sample[i] *= scale
            fails, rank_miss = failing_tables(np.median(sample, axis=2), strategies, args)
            passed += not (fails.any() or rank_miss)
            table_fails += fails
            rank_misses += rank_miss
        shares = " ".join(f"{f / args.draws:4.0%}" for f in table_fails)
        extra = f"; {rank_misses / args.draws:4.0%}" if args.within is not None else ""
        print(f"  x{scale:<4g} {passed / args.draws:6.1%} pass; {shares}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
