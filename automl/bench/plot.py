"""Plot of benchmark reports: best-so-far reward against evaluations, one line per strategy,
one panel per table.

Drawn on a bare :class:`matplotlib.figure.Figure` with the Agg canvas, so it never touches the
global pyplot backend (safe on headless machines and inside other programs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from automl.errors import UserInputError


def plot_benchmark(reports: Mapping[str, Any] | Sequence[Mapping[str, Any]],
                   path: str | Path) -> Path:
    """Write a PNG (or any format matplotlib knows from the suffix) of the reports' curves.

    Each strategy is its median best-so-far reward over seeds with the interquartile range
    shaded; dashed lines mark the table's optimum and its top-1 % threshold. Several reports
    (a suite) get one panel each, two panels to a row.

    Args:
        reports: One table's report (:func:`automl.bench.run_benchmark`) or the list of a
            suite's (``run_suite(...)["tables"]``).
        path: The image file to write (folders are created).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [reports] if isinstance(reports, Mapping) else list(reports)
    columns = 1 if len(panels) == 1 else 2
    rows = math.ceil(len(panels) / columns)
    path = Path(path)
    figure = Figure(figsize=(7.5 * columns, 4.5 * rows), dpi=120, layout="constrained")
    FigureCanvasAgg(figure)
    for index, report in enumerate(panels):
        _panel(figure.add_subplot(rows, columns, index + 1), report)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path)
    except (OSError, ValueError) as exc:
        raise UserInputError(f"cannot write the plot: {exc}", source=str(path)) from None
    return path


def _panel(axes: Any, report: Mapping[str, Any]) -> None:
    for name, entry in report["strategies"].items():
        curve = entry["curve"]
        x = range(1, len(curve["median"]) + 1)
        (line,) = axes.plot(x, curve["median"], label=name, linewidth=1.6)
        axes.fill_between(x, curve["q25"], curve["q75"], color=line.get_color(), alpha=0.18,
                          linewidth=0)
    axes.axhline(report["optimum"], color="black", linestyle="--", linewidth=0.8,
                 label="table optimum")
    axes.axhline(report["thresholds"]["top1"], color="grey", linestyle=":", linewidth=0.8,
                 label="top 1 %")
    axes.set_xscale("log")
    axes.set_xlabel("evaluations")
    axes.set_ylabel(f"best {report['metric']} so far")
    axes.set_title(f"{report.get('label', report['space'])}: median and IQR over "
                   f"{len(report['seeds'])} seeds")
    axes.legend(loc="lower right", fontsize="small")
    axes.grid(True, alpha=0.3)
