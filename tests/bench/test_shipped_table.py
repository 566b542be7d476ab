"""On the shipped table (every architecture of search_spaces/tabular_dense.yaml trained once),
REINFORCE and DQN reach the table's top 5 % in fewer evaluations than random search (12 seeds,
budget 30: a regression in either learner fails CI). One process: the test runs beside the Ray
group of tests/conftest.py, which it should not crowd out.

Its time is the fixed cost of building each learner (REINFORCE about 2.5 s a search, DQN about
1.5 s), so seeds are what it costs. 12 seeds keep a margin of about two: medians 6.5 (REINFORCE)
and 7 (DQN) against random search's 15.5 (20 seeds: 7 and 7 against 15, for 35 s more)."""

from __future__ import annotations

import pytest

from automl.bench.runner import run_benchmark
from automl.bench.table import load_table
from automl.space import load_space
from tests.conftest import ROOT
from tests.conftest import SPACES

TABLE = ROOT / "benchmarks" / "tables" / "tabular_dense.csv"


def test_shipped_table_is_complete() -> None:
    space = load_space(SPACES / "tabular_dense.yaml")
    table = load_table(TABLE, space)
    assert len(table) == space.size() == 1638
    assert 0.95 < table.optimum <= 1.0


@pytest.mark.slow
def test_learning_strategies_beat_random_to_the_top_5_percent() -> None:
    table = load_table(TABLE, load_space(SPACES / "tabular_dense.yaml"))
    report = run_benchmark(table, ["random", "reinforce", "dqn"], seeds=12, budget=30,
                           processes=1, quiet_workers=True)
    evals = {name: entry["evals_to_top5"]["median"]
             for name, entry in report["strategies"].items()}
    assert evals["reinforce"] < evals["random"], evals
    assert evals["dqn"] < evals["random"], evals
