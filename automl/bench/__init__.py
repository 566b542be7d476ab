"""Tabular benchmarks: strategies run against a table of measured rewards, nothing is trained.

``load_table`` reads a CSV of every architecture of a space with its reward; ``run_benchmark``
runs strategies x seeds against it and reports regret and evaluations-to-top-k;
``plot_benchmark`` draws the best-so-far curves. The format is described in
``docs/benchmark.md``.
"""

from automl.bench.plot import plot_benchmark
from automl.bench.runner import RunTrace
from automl.bench.runner import run_benchmark
from automl.bench.runner import run_one
from automl.bench.runner import summarize
from automl.bench.table import Table
from automl.bench.table import TableRow
from automl.bench.table import load_table
from automl.bench.table import row_for
from automl.bench.table import table_columns
from automl.bench.table import write_table

__all__ = ["RunTrace", "Table", "TableRow", "load_table", "plot_benchmark", "row_for",
           "run_benchmark", "run_one", "summarize", "table_columns", "write_table"]
