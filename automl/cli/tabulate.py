"""`automl tabulate`: train every architecture of a small space and write a benchmark table."""

from __future__ import annotations

import argparse
import os
from typing import Any

from automl.cli._common import check_folder
from automl.cli._common import check_not_an_input
from automl.cli._common import check_output_file
from automl.cli._common import console
from automl.cli._common import format_seconds
from automl.cli._common import non_negative_int
from automl.cli._common import positive_int
from automl.cli._common import quiet_stderr


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tabulate", help="train every architecture of a small space into a table CSV",
        description="Train every architecture of a small space once, on Ray, and write a "
                    "benchmark table (decision columns, reward, seconds, params, metrics). "
                    "Running it again resumes an interrupted tabulation.")
    parser.add_argument("space", help="search space YAML file")
    parser.add_argument("--out", required=True, help="table CSV to write")
    parser.add_argument("--max-size", type=positive_int, default=5000,
                        help="refuse spaces with more architectures (default 5000)")
    parser.add_argument("--name", default=None,
                        help="run name of the tabulation (default: tabulate-SPACE)")
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument("--seed", type=non_negative_int, default=0)
    from automl.cli.search import _add_execution_flags

    _add_execution_flags(parser)
    parser.set_defaults(handler=run_tabulate)


def run_tabulate(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from automl.bench.tabulate import tabulate
    from automl.cli.search import ProgressView
    from automl.cli.search import _execution

    check_output_file(args.out, "--out")
    check_not_an_input(args.out, [args.space], "--out")  # the table would replace the space
    check_folder(args.runs_dir, "--runs-dir")
    view = ProgressView()
    try:
        with quiet_stderr():
            summary = tabulate(args.space, args.out, execution=_execution(args),
                               max_size=args.max_size, runs_dir=args.runs_dir, name=args.name,
                               seed=args.seed, on_progress=view)
    except KeyboardInterrupt:
        view.stop()
        console.print("Interrupted; run the same command again to resume.", markup=False)
        return 130
    finally:
        view.stop()
    shared = (f"; {summary['shared']} the result of an equivalent architecture"
              if summary["shared"] else "")
    console.print(f"Wrote {summary['out']}: {summary['rows']} rows ({summary['failed']} failed"
                  f"{shared}) in {format_seconds(summary['seconds'])}; run folder "
                  f"{summary['run']}", markup=False)
    return 0
