"""A benchmark suite: several spaces in one `automl bench`, ranked across tables; its errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from automl.bench import load_table
from automl.bench import overall
from automl.bench import row_for
from automl.bench import run_suite
from automl.bench import write_table
from automl.bench.metrics import average_ranks
from automl.cli.main import main
from automl.space import load_space

OPS = ("conv", "pool", "skip", "zero")


def write_space_and_table(folder: Path, name: str, *, seconds: bool) -> tuple[Path, Path]:
    """A 4 x 4 x 3 space of plain decisions and its full table, ``name.yaml`` + ``name.csv``."""
    space_path = folder / f"{name}.yaml"
    space_path.write_text(f"name: {name}\ndecisions:\n  a: [{', '.join(OPS)}]\n"
                          f"  b: [{', '.join(OPS)}]\n  width: [8, 16, 32]\n")
    space = load_space(space_path)
    rows = []
    for architecture in space.enumerate():
        flat = architecture.flat
        score = OPS.index(flat["a"]) + OPS.index(flat["b"]) + [8, 16, 32].index(flat["width"])
        result: dict[str, Any] = {"reward": score / 8}
        if seconds:
            result["seconds"] = float(flat["width"])
        rows.append(row_for(architecture, result))
    return space_path, write_table(folder / f"{name}.csv", rows, space=space)


@pytest.fixture
def two_tables(tmp_path: Path) -> list[tuple[Path, Path]]:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    return [write_space_and_table(tmp_path / "one", "alpha", seconds=True),
            write_space_and_table(tmp_path / "two", "beta", seconds=False)]


def test_average_ranks_share_ties() -> None:
    assert average_ranks({"a": 5.0, "b": 3.0, "c": 5.0}) == {"a": 2.5, "b": 1.0, "c": 2.5}
    assert average_ranks({"a": 1.0, "b": 2.0, "c": 3.0}) == {"a": 1.0, "b": 2.0, "c": 3.0}


def test_overall_by_hand() -> None:
    def report(optimum: float, hits: dict[str, list[int]]) -> dict[str, Any]:
        return {"space": f"s{optimum}", "optimum": optimum, "worst": 0.0, "budgets": [10],
                "strategies": {name: {
                    "runs": len(h),
                    "evals_to_top1": {"median": sorted(h)[1], "reached": 1.0},
                    "evals_to_top5": {"median": 1.0, "reached": 1.0},
                    "per_seed": {"evals_to_top1": h, "evals_to_top5": [1, 1, 1],
                                 "regret": {"10": [optimum / 2] * 3}}}
                    for name, h in hits.items()}}

    reports = [report(1.0, {"x": [1, 2, 3], "y": [4, 5, 6]}),
               report(4.0, {"x": [9, 9, 9], "y": [2, 2, 2]})]
    result = overall(reports, ["x", "y"])["strategies"]
    assert result["x"]["ranks"]["top1"] == [1.0, 2.0]
    assert result["x"]["mean_rank"] == {"top1": 1.5, "top5": 1.5}
    assert result["y"]["mean_rank"]["top1"] == 1.5
    assert result["x"]["evals_to_top1"]["median"] == 6.0  # pooled: 1, 2, 3, 9, 9, 9
    assert result["x"]["normalized_regret"]["10"]["median"] == 0.5


def test_suite_api(two_tables: list[tuple[Path, Path]]) -> None:
    tables = [load_table(csv, load_space(yaml)) for yaml, csv in two_tables]
    suite = run_suite(tables, ["random", "evolution"], seeds=3, budget=20, processes=1,
                      workers=2)
    assert [r["space"] for r in suite["tables"]] == ["alpha", "beta"]
    assert suite["tables"][0]["time_budgets"] and suite["tables"][1]["time_budgets"] is None
    assert suite["simulated_workers"] == 2 and suite["seeds"] == [0, 1, 2]
    ranks = {name: e["mean_rank"]["top1"] for name, e in suite["overall"]["strategies"].items()}
    assert sorted(ranks) == ["evolution", "random"] and sum(ranks.values()) == 3.0
    json.dumps(suite)


def test_cli_suite_end_to_end(two_tables: list[tuple[Path, Path]], tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    (alpha_yaml, alpha_csv), (beta_yaml, _) = two_tables
    out = tmp_path / "out" / "suite.json"
    plot = tmp_path / "out" / "suite.png"
    # alpha's table given with --table; beta's found next to its YAML.
    code = main(["bench", str(alpha_yaml), str(beta_yaml), "--table", str(alpha_csv),
                 "--strategies", "random,evolution", "--seeds", "3", "--budget", "30",
                 "--simulated-workers", "2", "--workers", "2", "--json", str(out),
                 "--plot", str(plot)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "alpha: 48 rows" in printed and "beta: 48 rows" in printed
    assert "overall: 2 tables" in printed and "mean rank top 1 %" in printed
    assert "regret@25" in printed and "regret@30" in printed and "2 children at a time" in printed
    report = json.loads(out.read_text())
    assert [t["space"] for t in report["tables"]] == ["alpha", "beta"]
    assert report["tables"][1]["table"].endswith("beta.csv")
    assert set(report["overall"]["strategies"]) == {"random", "evolution"}
    for entry in report["overall"]["strategies"].values():
        assert 1.0 <= entry["mean_rank"]["top1"] <= 2.0 and len(entry["ranks"]["top1"]) == 2
        assert {"median", "q25", "q75", "reached"} <= set(entry["evals_to_top5"])
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_runs_in_this_process_keep_tensorflow_notices_off_the_terminal(
        two_tables: list[tuple[Path, Path]]) -> None:
    """With --workers 1 a learner imports TensorFlow in the CLI's own process, whose C++
    start-up notices (absl, CUDA stubs, CPU features) used to reach the terminal."""
    (alpha_yaml, alpha_csv), _ = two_tables
    result = subprocess.run([sys.executable, "-m", "automl", "bench", str(alpha_yaml),
                             "--table", str(alpha_csv), "--strategies", "reinforce",
                             "--seeds", "1", "--budget", "6", "--workers", "1"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "reinforce" in result.stdout and result.stderr == ""


@pytest.mark.slow
def test_ctrl_c_stops_a_bench_at_once_and_ends_its_workers(
        two_tables: list[tuple[Path, Path]], tmp_path: Path) -> None:
    """Ctrl-C reaches the bench and its two worker processes (one process group, as in a
    terminal): one line, exit code 130, no worker left, without waiting for the runs in
    progress (each ask of this plugin strategy takes 1 s: 30 evaluations a run)."""
    import os
    import signal
    import time

    import psutil

    marker = tmp_path / "asked"
    plugin = tmp_path / "slow.py"
    plugin.write_text(
        "import time\nfrom pathlib import Path\n"
        "from automl.registry import STRATEGIES\n"
        "from automl.strategies.random import RandomSearch\n\n\n"
        "@STRATEGIES.register('slow')\nclass Slow(RandomSearch):\n"
        "    def ask(self, trial_id):\n"
        f"        Path({str(marker)!r}).touch()\n"
        "        time.sleep(1.0)\n        return super().ask(trial_id)\n")
    (alpha_yaml, alpha_csv), _ = two_tables
    bench = subprocess.Popen(
        [sys.executable, "-m", "automl", "bench", str(alpha_yaml), "--table", str(alpha_csv),
         "--strategies", "slow", "--seeds", "4", "--budget", "30", "--workers", "2",
         "--plugins", str(plugin), "--json", str(tmp_path / "out.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not marker.exists() and time.monotonic() < deadline and bench.poll() is None:
        time.sleep(0.1)
    assert marker.exists(), bench.communicate()[1]
    workers = psutil.Process(bench.pid).children(recursive=True)
    assert workers
    os.killpg(bench.pid, signal.SIGINT)
    started = time.monotonic()
    out, err = bench.communicate(timeout=60)
    assert bench.returncode == 130, err
    assert time.monotonic() - started < 15  # a run in progress would take 30 s more
    lines = [line for line in err.splitlines() if not line.startswith("note: running plugin")]
    assert lines == ["Interrupted after 0 of 4 runs; nothing written (a bench has no resume: "
                     "run it again)"], err
    assert not any(w.is_running() and w.status() != psutil.STATUS_ZOMBIE for w in workers)
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["{beta}", "--table", "{a}", "--table", "{a}"], "--table: 2 tables for 1 space(s)"),
    (["{lone}"], "lone.yaml: no --table given for it and no table next to it"),
    (["{alpha}", "{beta}", "--table", "{missing}"], "missing.csv: file not found"),
    (["{alpha}", "--strategies", "random,evolutin"], "unknown strategy 'evolutin'"),
    (["{alpha}", "--strategies", "random,"], "an empty name in 'random,' (a stray comma?)"),
    # an output that is an input: the report would replace the table it was made from
    (["{alpha}", "--json", "{a}"], "--json: '{a}' is an input of this command"),
    (["{alpha}", "--plot", "{alpha}"], "--plot: '{alpha}' is an input of this command"),
    (["{alpha}", "--json", "/dev/null"], "--json: '/dev/null' is not a regular file"),
    (["{alpha}", "--json", "{out}", "--plot", "{out}"],
     "--plot: '{out}' is also the --json report"),
    (["{a}", "--table", "{alpha}"], "{a}: a table, not a search space: give the space's YAML"),
    # a suite's tables given in the wrong order: named with the YAML they were read against
    (["{lone}", "{alpha}", "--table", "{a}", "--table", "{a}"], "(read as the table of {lone})"),
    (["{typo}", "--table", "{a}"],
     "{typo}: strategy.name: unknown strategy 'evolutoin' (did you mean 'evolution'?)"),
], ids=["too-many-tables", "no-table-beside", "missing-table", "unknown-strategy",
        "stray-comma", "json-is-the-table", "plot-is-the-space", "json-is-a-device",
        "json-is-the-plot", "table-first", "tables-swapped", "misspelt-strategy-block"])
def test_cli_suite_errors_are_one_line(two_tables: list[tuple[Path, Path]], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str], argv: list[str],
                                       message: str) -> None:
    (alpha_yaml, alpha_csv), (beta_yaml, _) = two_tables
    lone = tmp_path / "lone.yaml"
    lone.write_text("name: lone\ndecisions:\n  x: [1, 2]\n")
    typo = tmp_path / "typo.yaml"  # its settings would silently not apply
    typo.write_text(alpha_yaml.read_text() + "strategy: {name: evolutoin, sample_size: 2}\n")
    names = {"alpha": alpha_yaml, "beta": beta_yaml, "a": alpha_csv, "lone": lone,
             "missing": tmp_path / "missing.csv", "out": tmp_path / "same.png", "typo": typo}
    before = alpha_csv.read_bytes(), alpha_yaml.read_bytes()
    code = main(["bench", *(arg.format(**names) for arg in argv), "--budget", "5"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and message.format(**names) in err and "Traceback" not in err
    assert (alpha_csv.read_bytes(), alpha_yaml.read_bytes()) == before


def test_cli_seed_range_runs_those_seeds(two_tables: list[tuple[Path, Path]], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """``--seeds A-B`` is a second set of seeds: seed 5 of a 5-7 run is the same search as
    seed 5 of a 0-5 run."""
    alpha_yaml, alpha_csv = two_tables[0]
    outs = []
    for seeds in ("5-7", "6"):
        out = tmp_path / f"{seeds}.json"
        code = main(["bench", str(alpha_yaml), "--table", str(alpha_csv), "--strategies",
                     "random", "--seeds", seeds, "--budget", "12", "--workers", "1",
                     "--json", str(out)])
        assert code == 0
        outs.append(json.loads(out.read_text()))
    assert "3 seeds (5-7)" in capsys.readouterr().out
    assert outs[0]["seeds"] == [5, 6, 7] and outs[1]["seeds"] == list(range(6))
    per_seed = [out["strategies"]["random"]["per_seed"] for out in outs]
    first, second = per_seed[0]["seed"].index(5), per_seed[1]["seed"].index(5)
    for key in ("best", "evals_to_top1", "evals_to_top5"):
        assert per_seed[0][key][first] == per_seed[1][key][second]
    assert per_seed[0]["regret"]["12"][first] == per_seed[1]["regret"]["12"][second]


@pytest.mark.parametrize("flag", [["--simulated-workers", "0"], ["--seeds", "many"],
                                  ["--seeds", "9-3"], ["--seeds", "-4"], ["--bogus"],
                                  ["--plot", ""], ["--json", ""]])
def test_cli_bad_flags_exit_2(two_tables: list[tuple[Path, Path]], flag: list[str],
                              capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["bench", str(two_tables[0][0]), *flag])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")


def test_a_failing_plugin_strategy_and_a_bad_strategy_block_are_one_line(
        two_tables: list[tuple[Path, Path]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """A plugin strategy that raises is one line naming the plugin, the table and the seed
    (not a traceback, exit 2); a bad ``strategy:`` block is named by its YAML before any
    run."""
    (alpha_yaml, alpha_csv), _ = two_tables
    plugin = tmp_path / "broken.py"
    plugin.write_text("from automl.registry import STRATEGIES\n"
                      "from automl.strategies.random import RandomSearch\n\n\n"
                      "@STRATEGIES.register('broken')\nclass Broken(RandomSearch):\n"
                      "    def tell(self, trial_id, architecture, reward):\n"
                      "        raise ValueError('no tells today')\n")
    code = main(["bench", str(alpha_yaml), "--table", str(alpha_csv), "--strategies", "broken",
                 "--seeds", "1", "--budget", "5", "--workers", "1", "--plugins", str(plugin)])
    err = [line for line in capsys.readouterr().err.splitlines()
           if not line.startswith("note: running plugin")]
    assert code == 2 and err == [f"error: {plugin}: strategy 'broken': failed on {alpha_csv}, "
                                 "seed 0: tell() raised ValueError: no tells today"], err
    bad = tmp_path / "bad.yaml"
    bad.write_text(alpha_yaml.read_text() + "strategy: {name: evolution, population: 0}\n")
    code = main(["bench", str(bad), "--table", str(alpha_csv), "--seeds", "1", "--budget", "5"])
    err = capsys.readouterr().err.splitlines()
    assert code == 2 and err[-1].startswith(f"error: {bad}: strategy.population"), err


def test_one_space_for_several_tables_names_each_table(two_tables: list[tuple[Path, Path]],
                                                      tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """One YAML read against two CSVs (a NAS-Bench-201 space on two data sets): each report
    and the overall table name the table (the plot's panels use the same label), so the two
    are never merged."""
    alpha_yaml, alpha_csv = two_tables[0]
    other = tmp_path / "alpha_hard.csv"
    other.write_text(alpha_csv.read_text())
    out = tmp_path / "one_space.json"
    code = main(["bench", str(alpha_yaml), str(alpha_yaml), "--table", str(alpha_csv),
                 "--table", str(other), "--strategies", "random", "--seeds", "2", "--budget",
                 "6", "--workers", "1", "--json", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "alpha (alpha): 48 rows" in printed and "alpha (alpha_hard): 48 rows" in printed
    report = json.loads(out.read_text())
    assert [t["label"] for t in report["tables"]] == ["alpha (alpha)", "alpha (alpha_hard)"]
    assert report["overall"]["tables"] == ["alpha (alpha)", "alpha (alpha_hard)"]
    assert [t["space"] for t in report["tables"]] == ["alpha", "alpha"]


def test_a_space_s_own_plugins_are_named_and_workers_without_times_are_noted(
        two_tables: list[tuple[Path, Path]], tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The code a space's ``plugins:`` runs gets the note a search gives it; simulated workers
    on a table without ``seconds`` run in lockstep, which is said too."""
    _, (beta_yaml, beta_csv) = two_tables
    plugin = tmp_path / "first_pick.py"
    plugin.write_text("from automl.registry import STRATEGIES\n"
                      "from automl.strategies.random import RandomSearch\n\n\n"
                      "@STRATEGIES.register('first_pick')\nclass FirstPick(RandomSearch):\n"
                      "    pass\n")
    space = tmp_path / "with_plugin.yaml"
    space.write_text(beta_yaml.read_text() + "plugins: [first_pick.py]\n")
    code = main(["bench", str(space), "--table", str(beta_csv), "--strategies", "first_pick",
                 "--seeds", "1", "--budget", "4", "--workers", "1", "--simulated-workers", "2"])
    err = capsys.readouterr().err
    assert code == 0, err
    assert f"note: running plugin code named by {space} (plugins:): {plugin}" in err
    assert f"note: {beta_csv} has no 'seconds' column: every child takes the same" in err
