"""`automl report`: one self-contained HTML page of one or more runs (the report package
renders it; this only parses and names the file)."""

from __future__ import annotations

import argparse
from typing import Any

from automl.cli._common import check_output_file
from automl.cli._common import console
from automl.cli._common import non_empty


def register(subparsers: Any) -> None:
    report = subparsers.add_parser(
        "report", help="write a self-contained HTML report of one or more runs",
        description="Plots, the top architectures and the settings of a run; several runs are "
                    "compared on one page. Reads files only: no plugin code runs.")
    report.add_argument("runs", nargs="+", help="run folders or names")
    report.add_argument("-o", "--output", type=non_empty, default=None,
                        metavar="FILE.html",
                        help="where to write the page (default: RUN/report.html for one run, "
                             "report.html for several)")
    report.add_argument("--runs-dir", default="runs", help="folder of runs (default: runs)")
    report.set_defaults(handler=run_report)


def run_report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from automl.errors import UserInputError
    from automl.report import write_report
    from automl.report.leaderboard import run_labels
    from automl.store import RunFolder

    runs = [RunFolder.open(name, args.runs_dir) for name in args.runs]
    labels = run_labels(runs)  # one run named twice: refused
    out = Path(args.output) if args.output else (
        runs[0].path / "report.html" if len(runs) == 1 else Path("report.html"))
    if out.suffix.lower() not in (".html", ".htm"):
        raise UserInputError(f"{str(out)!r} must end in .html", key="-o")
    check_output_file(out, "-o")  # missing folders are made, as export's and bench's are
    path = write_report(runs, out)
    console.print(f"report of {', '.join(labels)} -> {path} "
                  f"({path.stat().st_size / 1024:.0f} KiB)", markup=False)
    return 0
