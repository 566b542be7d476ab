"""The tabular benchmark: table loading, metrics checked by hand, and the CLI end to end."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from automl.bench import RunTrace
from automl.bench import load_table
from automl.bench import row_for
from automl.bench import run_benchmark
from automl.bench import summarize
from automl.bench import table_columns
from automl.bench import write_table
from automl.bench.metrics import best_by_time
from automl.bench.metrics import budgets_for
from automl.cli.main import main
from automl.errors import DataError
from automl.errors import UserInputError
from automl.space import SearchSpace
from automl.space import load_space

ROOT = Path(__file__).resolve().parents[2]
OPS = ("conv", "pool", "skip", "zero")
OP_SCORE = {"conv": 3, "pool": 2, "skip": 1, "zero": 0}
WIDTHS = (8, 16, 32)


def toy_reward(flat: dict[str, Any]) -> float:
    """A known landscape: conv beats pool beats skip beats zero; wider is better."""
    score = sum(OP_SCORE[flat[f"edge{i}"]] for i in range(3)) + WIDTHS.index(flat["width"])
    return score / 11  # optimum (conv, conv, conv, 32) = 1.0


@pytest.fixture
def toy(tmp_path: Path) -> tuple[SearchSpace, Path]:
    """A 4 x 4 x 4 x 3 = 192-architecture space of plain decisions and its full table."""
    yaml_path = tmp_path / "toy.yaml"
    yaml_path.write_text("name: toy\ndecisions:\n"
                         + "".join(f"  edge{i}: [{', '.join(OPS)}]\n" for i in range(3))
                         + f"  width: [{', '.join(map(str, WIDTHS))}]\n")
    space = load_space(yaml_path)
    rows = [row_for(a, {"reward": toy_reward(a.flat), "seconds": 10.0 * a.flat["width"],
                        "params": a.flat["width"] * 100})
            for a in space.enumerate()]
    table_path = write_table(tmp_path / "toy.csv", rows, space=space)
    return space, table_path


@pytest.fixture
def line_space(tmp_path: Path) -> SearchSpace:
    """One decision x in 0..99: rewards 0.00 .. 0.99, top 1 % = 0.99, top 5 % >= 0.95."""
    path = tmp_path / "line.yaml"
    path.write_text("name: line\ndecisions:\n  x: [" + ", ".join(map(str, range(100))) + "]\n")
    return load_space(path)


def write_line_table(space: SearchSpace, path: Path, *, seconds: bool = False) -> Path:
    rows = []
    for architecture in space.enumerate():
        x = architecture.flat["x"]
        result: dict[str, Any] = {"reward": x / 100}
        if seconds:
            result["seconds"] = 1.0 + x % 3
        rows.append(row_for(architecture, result))
    return write_table(path, rows, space=space)


# ------------------------------------------------------------------------------------ the table
def test_table_round_trip_on_a_layered_space(tmp_path: Path) -> None:
    space = load_space(ROOT / "search_spaces" / "quickstart.yaml")
    architectures = list(space.enumerate())
    rows = [row_for(a, {"reward": i / len(architectures), "accuracy": 0.5})
            for i, a in enumerate(architectures)]
    path = write_table(tmp_path / "quick.csv", rows, space=space)
    header = path.read_text().splitlines()[0].split(",")
    assert header[:len(table_columns(space))] == table_columns(space)
    assert table_columns(space)[:3] == ["num_layers", "layers.0.type", "layers.0.units"]
    assert "train.epochs" in header  # fixed settings are written and ignored on loading
    table = load_table(path, space)
    assert len(table) == space.size() == len(architectures)
    assert table.lookup(architectures[7]).reward == pytest.approx(7 / len(architectures))
    assert table.optimum == pytest.approx((len(architectures) - 1) / len(architectures))
    by_metric = load_table(path, space, metric="accuracy")
    assert by_metric.optimum == 0.5


def test_thresholds_by_hand(line_space: SearchSpace, tmp_path: Path) -> None:
    table = load_table(write_line_table(line_space, tmp_path / "line.csv"), line_space)
    assert table.optimum == pytest.approx(0.99)
    assert table.worst == 0.0
    assert table.top_threshold(0.01) == pytest.approx(0.99)  # the single best row
    assert table.top_threshold(0.05) == pytest.approx(0.95)  # the 5th best row


@pytest.mark.parametrize(("edit", "message"), [
    (lambda lines: lines.__setitem__(3, lines[3].replace("conv", "maxconv", 1)),
     "line 4, column 'edge0': 'maxconv' is not a choice; allowed: 'conv', 'pool'"),
    (lambda lines: lines.__setitem__(2, lines[2].replace(",16,", ",,", 1)),
     "line 3, column 'width': empty, but this row's architecture has this decision"),
    (lambda lines: lines.__setitem__(5, lines[5].rsplit(",", 3)[0] + ",high,10,1"),
     "line 6, column 'reward': expected a number, found 'high'"),
    (lambda lines: lines.append(lines[1]), "architecture"),
    (lambda lines: lines.__setitem__(0, lines[0].replace("reward", "score")),
     "line 1: no column 'reward'"),
    (lambda lines: lines.__setitem__(0, lines[0].replace("edge1", "edge_1")),
     "column 'edge1': missing column 'edge1' (needed by this row's architecture) (did you "
     "mean 'edge_1'?)"),
    (lambda lines: lines.__setitem__(0, lines[0].replace("edge1", "Edge1")),
     "(did you mean 'Edge1'?)"),  # a case typo is the closest name
    (lambda lines: lines.__setitem__(4, lines[4] + ",extra"),
     "line 5: 8 cells, but the header has 7"),
    # NaN in any spelling is a missing value: a failed child's reward, never a time
    (lambda lines: lines.__setitem__(2, ",".join(lines[2].rsplit(",", 2)[:1] + ["-nan", "1"])),
     "line 3, column 'seconds': expected a number, found '-nan'"),
    (lambda lines: lines.__setitem__(0, lines[0].replace("edge0", "e0")),
     "line 1: no column 'edge0' (a decision of the space); the header has: 'e0', 'edge1'"),
    # finite each, infinite once simulated clocks add them up
    (lambda lines: [lines.__setitem__(i, ",".join(lines[i].rsplit(",", 2)[:1] + ["1e308", "1"]))
                    for i in (1, 2)],
     "the 'seconds' column adds up to more than a float holds (largest 1e+308)"),
], ids=["bad-choice", "empty-decision", "bad-number", "duplicate", "no-metric",
        "missing-column", "missing-column-case", "extra-cell", "nan-seconds",
        "first-decision-absent", "huge-seconds"])
def test_table_errors_name_file_line_and_column(toy: tuple[SearchSpace, Path], edit: Any,
                                                message: str) -> None:
    space, path = toy
    lines = path.read_text().splitlines()
    edit(lines)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as info:
        load_table(path, space)
    assert str(path) in str(info.value)
    assert message in str(info.value)


def test_real_world_csv_quirks(toy: tuple[SearchSpace, Path]) -> None:
    """A byte-order mark (spreadsheet exports) is read; ``-nan`` rewards are failed children;
    a decision column named as the metric is refused."""
    space, path = toy
    lines = path.read_text().splitlines()
    lines[1] = ",".join(lines[1].rsplit(",", 3)[:1] + ["-nan", "", ""])
    path.write_text("\ufeff" + "\r\n".join(lines) + "\r\n", encoding="utf-8")
    table = load_table(path, space)
    assert len(table) == 192 and len(table.rewards()) == 191
    with pytest.raises(DataError, match="'width' describes the architecture, not its result; "
                                        "the reward column is one of: 'reward', 'seconds', "
                                        "'params'$"):
        load_table(path, space, metric="width")


def test_the_reward_columns_offered_are_results(tmp_path: Path) -> None:
    """A table written by tabulate also holds each row's fixed settings and id: none of them
    is offered as the reward column, and choosing one is refused as a decision is."""
    space_path = tmp_path / "one.yaml"
    space_path.write_text("name: one\ntask: digits\n"
                          "layers: {min: 1, max: 1, types: {dense: {units: [4, 8]}}}\n"
                          "train: {epochs: 2}\n")
    space = load_space(space_path)
    rows = [row_for(a, {"reward": 0.5, "seconds": 1.0, "id": a.id, "val_accuracy": 0.5})
            for a in space.enumerate()]
    table = write_table(tmp_path / "one.csv", rows, space=space)
    offered = "the reward column is one of: 'reward', 'seconds', 'val_accuracy'$"
    for metric in ("id", "num_layers", "train.epochs", "layers.0.activation"):
        with pytest.raises(DataError, match=f"{metric!r} describes the architecture.*{offered}"):
            load_table(table, space, metric=metric)
    with pytest.raises(DataError, match=f"no column 'val_acc'.*{offered}"):
        load_table(table, space, metric="val_acc")


def test_a_space_of_plain_decisions_has_no_fixed_settings(toy: tuple[SearchSpace, Path]) -> None:
    """Columns such as ``train.accuracy`` or ``num_layers`` (pandas' json_normalize names) are
    results in a ``decisions:`` space: it has no layers or training settings they could be."""
    space, path = toy
    lines = path.read_text().splitlines()
    lines[0] += ",train.accuracy,num_layers"
    lines[1:] = [f"{line},{i / 1000},{i % 3}" for i, line in enumerate(lines[1:])]
    path.write_text("\n".join(lines) + "\n")
    table = load_table(path, space, metric="train.accuracy")
    assert table.optimum == pytest.approx(0.191)
    assert load_table(path, space, metric="num_layers").optimum == 2


def test_rows_are_named_by_their_first_line(toy: tuple[SearchSpace, Path]) -> None:
    """A quoted cell may span lines (spreadsheet exports); an error names the line its row
    starts on, and the rows after it keep their own lines. A byte that is not UTF-8 is named
    by line and column."""
    space, path = toy
    lines = path.read_text().splitlines()
    lines[2] = '"maxconv\n",' + lines[2].split(",", 1)[1]  # physical lines 3 and 4
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 3, column 'edge0': 'maxconv' is not a choice"):
        load_table(path, space)
    lines[2] = '"conv\n",' + lines[2].split(",", 1)[1]  # valid once stripped
    lines[4] = lines[4].replace("conv", "maxconv", 1).replace("pool", "maxpool", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 6, column 'edge"):
        load_table(path, space)
    path.write_bytes(b"\n".join(line.encode() for line in lines[:2]) + b"\nconv,caf\xe9\n")
    with pytest.raises(DataError, match=r"line 3, column 9, byte 0xe9: is not UTF-8 text"):
        load_table(path, space)


def test_missing_table_and_failed_rows(toy: tuple[SearchSpace, Path], tmp_path: Path) -> None:
    space, path = toy
    with pytest.raises(DataError, match="file not found"):
        load_table(tmp_path / "nope.csv", space)
    lines = path.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 3)[0] + ",,,"  # a failed child: no reward, no seconds
    path.write_text("\n".join(lines) + "\n")
    table = load_table(path, space)
    assert sum(row.reward is None for row in table.rows.values()) == 1


# ---------------------------------------------------------------------------------- the metrics
def test_metrics_by_hand(line_space: SearchSpace, tmp_path: Path) -> None:
    table = load_table(write_line_table(line_space, tmp_path / "l.csv", seconds=True),
                       line_space)
    traces = [  # rewards as the strategy would have seen them; seconds are 1 + x % 3
        RunTrace("a", 0, [0.10, 0.50, None, 0.96, 0.99], [2, 3, 1, 1, 1], list("abcde"), 0.1),
        RunTrace("a", 1, [0.20, 0.20, 0.40, 0.59, 0.79], [3, 3, 2, 3, 2], list("aabcd"), 0.1),
        RunTrace("a", 2, [0.95, 0.00, 0.00, 0.00, 0.00], [3, 1, 1, 1, 1], list("abbbb"), 0.1),
    ]
    report = summarize(table, traces, budget=5)
    a = report["strategies"]["a"]
    assert report["budgets"] == [5]
    # Best found: 0.99, 0.79, 0.95 -> regret 0.00, 0.20, 0.04.
    assert a["per_seed"]["best"] == pytest.approx([0.99, 0.79, 0.95])
    assert a["regret"]["5"] == pytest.approx({"median": 0.04, "q25": 0.02, "q75": 0.12})
    # Top 5 % (>= 0.95): evaluation 4, never (counts as 5), evaluation 1. Top 1 %: 5, 5, 5.
    assert a["per_seed"]["evals_to_top5"] == [4, 5, 1]
    assert a["evals_to_top5"] == {"median": 4.0, "q25": 2.5, "q75": 4.5,
                                  "reached": pytest.approx(2 / 3)}
    assert a["evals_to_top1"] == {"median": 5.0, "q25": 5.0, "q75": 5.0,
                                  "reached": pytest.approx(1 / 3)}
    from automl.cli.bench import _evals  # the share as printed: never a rounded-up 100 %

    assert _evals(a["evals_to_top5"]) == "4 [2.5\u20134.5] (66.7%)"
    assert _evals({**a["evals_to_top5"], "reached": 199 / 200}) == "4 [2.5\u20134.5] (99.5%)"
    assert _evals({**a["evals_to_top5"], "reached": 1999 / 2000}).endswith("(99.9%)")
    # Repeats count as evaluations but add nothing: 5, 4 and 2 distinct architectures.
    assert a["unique"]["median"] == 4
    assert a["failed"]["median"] == 0
    # Median best-so-far curve over the three seeds, evaluation by evaluation.
    assert a["curve"]["median"] == pytest.approx([0.20, 0.50, 0.50, 0.95, 0.95])
    # Simulated time: median seconds of the table is 2, so budgets are 5 * 2 * fractions.
    assert report["time_budgets"] == [1.0, 2.5, 5.0, 10.0]
    at_5s = a["regret_at_seconds"]["5.0"]  # finished by 5 s: seeds see 0.50, 0.20, 0.95
    assert at_5s["median"] == pytest.approx(0.49)
    assert best_by_time([0.5, None, 0.7], [1, 1, 5], 2.0, floor=0.0) == 0.5
    assert best_by_time([None], [1], 0.5, floor=0.0) == 0.0


def test_time_budgets_and_reward_spans(line_space: SearchSpace, tmp_path: Path) -> None:
    table = load_table(write_line_table(line_space, tmp_path / "t.csv", seconds=True),
                       line_space)
    trace = RunTrace("random", 0, [0.5] * 5, [1.0] * 5, list("abcde"), 0.1)
    typical = float(np.median([1.0 + x % 3 for x in range(100)]))
    # 50 workers on a 5-evaluation budget run 5 children at once, not 50.
    report = summarize(table, [trace], 5, workers=50)
    assert report["time_budgets"][-1] == pytest.approx(5 * typical / 5)
    # Children that take no time give no time axis.
    zero = tmp_path / "zero.csv"
    zero.write_text("x,reward,seconds\n" + "".join(f"{x},{x / 100},0\n" for x in range(100)))
    assert summarize(load_table(zero, line_space), [trace], 5)["time_budgets"] is None
    huge = tmp_path / "huge.csv"
    huge.write_text("x,reward\n" + "".join(f"{x},{'-' if x % 2 else ''}1e308\n"
                                             for x in range(100)))
    with pytest.raises(DataError, match="span more than a float holds"):
        load_table(huge, line_space)


def test_budgets() -> None:
    assert budgets_for(5) == [5]
    assert budgets_for(100) == [10, 25, 50, 100]
    assert budgets_for(200) == [10, 25, 50, 100, 200]
    assert budgets_for(120) == [10, 25, 50, 100, 120]


def test_run_with_a_scripted_strategy(line_space: SearchSpace, tmp_path: Path,
                                      enumerate_strategy: str) -> None:
    """Enumeration proposes x = 0, 1, 2, ...: every number below follows by hand."""
    table = load_table(write_line_table(line_space, tmp_path / "l.csv"), line_space)
    report = run_benchmark(table, [enumerate_strategy], seeds=2, budget=100, processes=1)
    entry = report["strategies"][enumerate_strategy]
    assert report["budgets"] == [10, 25, 50, 100]
    assert entry["regret"]["10"]["median"] == pytest.approx(0.99 - 0.09)
    assert entry["regret"]["50"]["median"] == pytest.approx(0.99 - 0.49)
    assert entry["regret"]["100"]["median"] == pytest.approx(0.0)
    assert entry["evals_to_top5"] == {"median": 96.0, "q25": 96.0, "q75": 96.0, "reached": 1.0}
    assert entry["evals_to_top1"] == {"median": 100.0, "q25": 100.0, "q75": 100.0,
                                      "reached": 1.0}
    assert report["time_budgets"] is None and "regret_at_seconds" not in entry
    json.dumps(report)


def test_parallel_runs_match_serial_runs(toy: tuple[SearchSpace, Path]) -> None:
    space, path = toy
    table = load_table(path, space)
    serial = run_benchmark(table, ["random", "evolution"], seeds=3, budget=30, processes=1)
    parallel = run_benchmark(table, ["random", "evolution"], seeds=3, budget=30, processes=2)
    for name in ("random", "evolution"):
        assert serial["strategies"][name]["per_seed"] == parallel["strategies"][name]["per_seed"]
        assert serial["strategies"][name]["curve"] == parallel["strategies"][name]["curve"]


def test_partial_table_and_bad_arguments(toy: tuple[SearchSpace, Path]) -> None:
    space, path = toy
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:20]) + "\n")  # 19 of 192 architectures
    table = load_table(path, space)
    with pytest.raises(DataError, match=r"architecture [0-9a-f]{12} .* is not in the table"):
        run_benchmark(table, ["random"], seeds=1, budget=50, processes=1)
    with pytest.raises(DataError, match="is not in the table"):  # raised in a worker process
        run_benchmark(table, ["random", "evolution"], seeds=4, budget=50, processes=2)
    with pytest.raises(UserInputError, match="unknown strategy 'randm'.*did you mean 'random'"):
        run_benchmark(table, ["randm"], seeds=1, budget=5)
    with pytest.raises(UserInputError, match="--budget"):
        run_benchmark(table, ["random"], seeds=1, budget=0)


# ------------------------------------------------------------------------------------- the CLI
def test_cli_end_to_end(toy: tuple[SearchSpace, Path], tmp_path: Path,
                        capsys: pytest.CaptureFixture[str]) -> None:
    space, table_path = toy
    out_json, out_png = tmp_path / "out" / "bench.json", tmp_path / "out" / "bench.png"
    code = main(["bench", str(tmp_path / "toy.yaml"), "--table", str(table_path),
                 "--strategies", "random,tpe,evolution", "--seeds", "3", "--budget", "40",
                 "--json", str(out_json), "--plot", str(out_png), "--workers", "2"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "evals to top 1 %" in printed and "regret@40" in printed and "evolution" in printed
    report = json.loads(out_json.read_text())
    assert set(report["strategies"]) == {"random", "tpe", "evolution"}
    assert report["rows"] == 192 and report["optimum"] == pytest.approx(1.0)
    assert report["budgets"] == [10, 25, 40]
    assert len(report["strategies"]["tpe"]["curve"]["median"]) == 40
    assert report["time_budgets"] is not None  # the table has seconds
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for entry in report["strategies"].values():
        curve = np.array(entry["curve"]["median"])
        assert np.all(np.diff(curve) >= 0) and curve[-1] <= 1.0


def test_cli_errors_are_one_line(toy: tuple[SearchSpace, Path], tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    space, table_path = toy
    code = main(["bench", str(tmp_path / "toy.yaml"), "--table", str(table_path),
                 "--strategies", "random,bogus", "--budget", "5"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "unknown strategy 'bogus'" in err and "'random'" in err
    code = main(["bench", str(tmp_path / "toy.yaml"), "--table", str(tmp_path / "x.csv")])
    assert code == 2 and "x.csv: file not found" in capsys.readouterr().err
    code = main(["bench", str(tmp_path / "toy.yaml"), "--table", str(table_path),
                 "--metric", "acc"])
    assert code == 2 and "no column 'acc'" in capsys.readouterr().err
    code = main(["bench", str(tmp_path / "nope.yaml")])  # not "no table next to it"
    assert code == 2 and "nope.yaml: file not found" in capsys.readouterr().err
    # refused before any run: more evaluations than the table has, a plot type nobody writes
    # (and the --json of such a run is not left behind)
    for flags, message in ((["--budget", "193"], "--budget: 193 is more than the 192 "
                                                 "architectures"),
                           (["--plot", str(tmp_path / "p.xyz"), "--json",
                             str(tmp_path / "r.json")], "--plot: cannot write a '.xyz' plot"),
                           (["--json", str(tmp_path / "new") + "/"],
                            "is a folder; give a file name"),
                           (["--json", str(tmp_path / "r.json"), "--plot",
                             "/proc/no/p.png"], "--plot: cannot write in '/proc'")):
        code = main(["bench", str(tmp_path / "toy.yaml"), "--table", str(table_path),
                     "--seeds", "1", *flags])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "new").exists()
    # a plot named without a type is a PNG, and the output says so
    code = main(["bench", str(tmp_path / "toy.yaml"), "--table", str(table_path), "--seeds",
                 "1", "--budget", "5", "--strategies", "random", "--plot",
                 str(tmp_path / "curves")])
    assert code == 0 and f"plot: {tmp_path / 'curves.png'}" in capsys.readouterr().out
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_cell_for_a_decision_the_row_does_not_have_is_refused(tmp_path: Path) -> None:
    """A one-layer row with a second layer's units filled in (a shifted column, a wrong
    ``num_layers``) would load with a reward that belongs to another architecture."""
    from automl.errors import DataError
    from tests.conftest import ROOT
    from tests.conftest import SPACES

    lines = (ROOT / "benchmarks" / "tables" / "tabular_dense.csv").read_text().splitlines()
    cells = lines[1].split(",")
    assert cells[0] == "1" and cells[3] == ""  # num_layers 1, layers.1.units empty
    cells[3] = "40"
    lines[1] = ",".join(cells)
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"t.csv: line 2, column 'layers.1.units': '40', but "
                                        r"this row's architecture has no such decision"):
        load_table(tmp_path / "t.csv", load_space(SPACES / "tabular_dense.yaml"))
