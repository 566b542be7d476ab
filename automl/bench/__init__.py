"""Tabular benchmarks: strategies run by the search loop against a table of measured rewards,
nothing is trained.

``load_table`` reads a CSV of every architecture of a space with its reward; ``run_benchmark``
(one table) and ``run_suite`` (several) run strategies x seeds against them on the table executor
and report regret, evaluations-to-top-k and mean ranks; ``plot_benchmark`` draws the best-so-far
curves. The format is described in ``docs/benchmark.md``.
"""

from automl.bench.metrics import RunTrace
from automl.bench.metrics import overall
from automl.bench.metrics import summarize
from automl.bench.plot import plot_benchmark
from automl.bench.runner import run_benchmark
from automl.bench.runner import run_one
from automl.bench.runner import run_simulated
from automl.bench.runner import run_suite
from automl.bench.table import Table
from automl.bench.table import TableRow
from automl.bench.table import load_table
from automl.bench.table import row_for
from automl.bench.table import table_columns
from automl.bench.table import write_table

__all__ = ["RunTrace", "Table", "TableRow", "load_table", "overall", "plot_benchmark",
           "row_for", "run_benchmark", "run_one", "run_simulated", "run_suite", "summarize",
           "table_columns", "write_table"]
