"""The `automl` command: bad input gives exit code 2 and one line, nothing under runs/; a real
search through the CLI on the session's Ray instance."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.conftest import SPACES
from tests.conftest import TINY_DIGITS


def automl(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "automl", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


BAD_SPACES = {
    "malformed.yaml": "layers: [oops",
    "unknown_layer.yaml": TINY_DIGITS.replace("dense:", "dense2:"),
    "unknown_task.yaml": TINY_DIGITS.replace("task: digits", "task: mnist"),
    "unknown_reward.yaml": TINY_DIGITS.replace("reward: accuracy", "reward: f1"),
    "empty_choice.yaml": TINY_DIGITS.replace("[relu, tanh]", "[]"),
    "min_gt_max.yaml": TINY_DIGITS.replace("max: 2", "max: 0"),
    "missing_data.yaml": "task: {name: arrays, path: nothing.npz}\n"
                         "layers: {types: {dense: {units: 8}}}\n",
    **{f"{bad}_data.yaml": f"task: {{name: arrays, path: {bad}.npz}}\n"
                           "layers: {types: {dense: {units: 8}}}\n"
       for bad in ("nan", "shape", "dtype", "labels")},
    "bad_csv.yaml": "task: {name: arrays, path: bad.csv}\nlayers: {types: {dense: {}}}\n",
    "bad_dataset.yaml": "task: {name: ucr, dataset: GunPiont}\n"
                        "layers: {types: {fcn_block: {}}}\n",
    "duplicate_key.yaml": TINY_DIGITS + "trials: 3\ntrials: 4\n",
    "reward_not_reported.yaml": TINY_DIGITS.replace("reward: accuracy", "reward: ccc"),
    "unsafe_name.yaml": TINY_DIGITS.replace("name: tiny", "name: ../outside"),
    "bad_strategy_setting.yaml": TINY_DIGITS + "strategy: {name: evolution, populaton: 8}\n",
    "strategy_out_of_range.yaml": TINY_DIGITS + "strategy: {name: reinforce, planned: -4}\n",
    "no_dataset.yaml": "task: {name: ucr}\nlayers: {types: {fcn_block: {}}}\n",
    "searched_dataset.yaml": "task: {name: ucr, dataset: [GunPoint, ItalyPowerDemand]}\n"
                             "layers: {types: {fcn_block: {}}}\n",
    "searched_output.yaml": "task: {name: arrays, path: ok.npz, output: [classification, "
                            "regression]}\nlayers: {types: {dense: {units: 8}}}\n",
    "empty_npz.yaml": "task: {name: arrays, path: empty.npz}\n"
                      "layers: {types: {dense: {units: 8}}}\n",
    "one_class.yaml": "task: {name: arrays, path: one_class.npz}\n"
                      "layers: {types: {dense: {units: 8}}}\n",
}


def _write_bad_data(folder: Path) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 4)), rng.integers(3, size=30)
    x_nan = x.copy()
    x_nan[2, 2] = np.nan
    np.savez(folder / "nan.npz", x=x_nan, y=y)
    np.savez(folder / "shape.npz", x=x, y=y[:20])
    np.savez(folder / "dtype.npz", x=np.array([["a"] * 4] * 30), y=y)
    np.savez(folder / "labels.npz", x=x, y=y + 0.5)  # labels must be integers or text
    (folder / "bad.csv").write_text("a,b,label\n1,2,0\n3,oops,1\n")
    np.savez(folder / "ok.npz", x=x, y=y)
    np.savez(folder / "one_class.npz", x=x, y=np.zeros(30))
    (folder / "empty.npz").write_bytes(b"")
    (folder / "a_file").write_text("not a folder")
    (folder / "a_folder.keras").mkdir()


@pytest.mark.parametrize("args", [
    *[["search", name] for name in BAD_SPACES],
    ["search", "missing.yaml"],
    ["search", "ok.yaml", "--trials", "-3"],
    ["search", "ok.yaml", "--trials", "zero"],
    ["search", "ok.yaml", "--workers", "0"],
    ["search", "ok.yaml", "--strategy", "nope"],
    ["search", "ok.yaml", "--scheduler", "ashaa"],
    ["search", "ok.yaml", "--name", "../outside"],
    ["search", "ok.yaml", "--bogus-flag"],
    ["search", "ok.yaml", "--plugins", "no_such_plugin.py"],
    ["search", "ok.yaml", "--workers", "64"],
    ["leaderboard", "no_such_run"],
    ["show", "no_such_run", "3"],
    ["resume", "no_such_run"],
    ["spaces", "validate", "malformed.yaml"],
    ["spaces", "validate", "duplicate_key.yaml"],
    ["spaces", "validate", "reward_not_reported.yaml"],
    ["spaces", "validate", "bad_strategy_setting.yaml"],
    ["spaces", "validate", "strategy_out_of_range.yaml"],
    ["spaces", "validate", "no_dataset.yaml"],
    ["search", "ok.yaml", "--runs-dir", "a_file"],
    ["tabulate", "ok.yaml", "--out", "t.csv", "--seed", "-1"],
    ["tabulate", "ok.yaml", "--out", "a_folder.keras"],
    ["tabulate", "ok.yaml", "--out", "t.csv", "--runs-dir", "a_file/runs"],
    ["export", "no_such_run", "-o", "a_folder.keras"],
    ["report", "no_such_run", "-o", "a_file/r.html"],
    ["plugins", "new", "x" * 300, "--kind", "layer"],
    ["plugins", "new", "fine", "--kind", "layer", "--dir", "a_file"],
], ids=lambda a: "-".join(a)[:60])
def test_bad_input_exit_2_one_line_nothing_written(tmp_path: Path, args: list[str]) -> None:
    for name, text in BAD_SPACES.items():
        (tmp_path / name).write_text(text)
    (tmp_path / "ok.yaml").write_text(TINY_DIGITS)
    _write_bad_data(tmp_path)
    (tmp_path / "runs").mkdir()
    result = automl(*args, cwd=tmp_path, env={"RAY_AUTH_MODE": "disabled"})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error:")
    assert "Traceback" not in result.stderr
    assert list((tmp_path / "runs").iterdir()) == []
    if "unsafe_name.yaml" in args:  # the YAML's key is named, not a --name never given
        assert "unsafe_name.yaml: name: '../outside' cannot name runs" in lines[0]
    if "bad_strategy_setting.yaml" in args:  # named by file and key, before Ray starts
        assert "bad_strategy_setting.yaml: strategy.populaton: unknown setting" in lines[0]
    if "no_dataset.yaml" in args:  # knowable from the YAML alone: no --data needed
        assert "no_dataset.yaml: task.dataset: missing key 'dataset'; allowed: " in lines[0]
    if "nope" in args:  # a name from the command line is the flag's, not the YAML's
        assert lines[0].startswith("error: --strategy: unknown strategy 'nope'"), lines[0]
    if "strategy_out_of_range.yaml" in args:  # a range, too, by file and key (not "reinforce")
        assert lines[0] == "error: strategy_out_of_range.yaml: strategy.planned: must be >= 0, " \
                           "got -4", lines[0]


@pytest.mark.parametrize(("args", "says"), [
    (["search", "ok.yaml", "--address", ""], "argument --address: '' is not a Ray address"),
    (["search", "ok.yaml", "--address", "localhost:notaport"], "is not a Ray address"),
    (["search", "ok.yaml", "--strategy", ""], "argument --strategy: an empty value"),
    (["leaderboard", "--sort", ""], "argument --sort: an empty value"),
    (["leaderboard", "--where", ""], "argument --where: an empty value"),
    (["report", "no_such_run", "-o", ""], "argument -o/--output: an empty value"),
    (["export", "no_such_run", "-o", ""], "argument -o/--output: an empty value"),
    # a folder no one may write in: refused before Ray starts, not by an OSError inside it
    (["search", "ok.yaml", "--runs-dir", "/proc/runs"], "--runs-dir: cannot write in '/proc'"),
], ids=lambda a: "-".join(a)[:60] if isinstance(a, list) else None)
def test_flags_that_were_ignored_or_failed_inside_are_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
        args: list[str], says: str) -> None:
    """In this process (argparse exits with code 2 itself): each used to be a traceback from
    Ray or the store, or silently the default."""
    from automl.cli.main import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.yaml").write_text(TINY_DIGITS)
    try:
        code = main(args)
    except SystemExit as exit_:
        code = exit_.code
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and says in err[0], err
    assert not (tmp_path / "runs").exists()


def test_spaces_validate_ok() -> None:
    result = automl("spaces", "validate", *map(str, sorted(SPACES.glob("*.yaml"))), cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok (") == len(list(SPACES.glob("*.yaml")))


def test_spaces_validate_checks_every_file(tmp_path: Path) -> None:
    """A bad file among several does not hide the others: one line for each bad one."""
    (tmp_path / "ok.yaml").write_text(TINY_DIGITS)
    for name in ("bad_strategy_setting.yaml", "malformed.yaml"):
        (tmp_path / name).write_text(BAD_SPACES[name])
    result = automl("spaces", "validate", "bad_strategy_setting.yaml", "ok.yaml",
                    "malformed.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout.count(": ok (") == 1 and "ok.yaml: ok (" in result.stdout
    errors = result.stderr.strip().splitlines()
    assert [line.split(":")[1].strip() for line in errors] == [
        "bad_strategy_setting.yaml", "malformed.yaml"], result.stderr


def test_spaces_validate_notes_a_patience_that_never_stops(tmp_path: Path) -> None:
    shipped = (SPACES / "timeseries.yaml").read_text()
    assert "patience: 30" in shipped and "epochs: 150" in shipped
    (tmp_path / "short.yaml").write_text(shipped.replace("epochs: 150", "epochs: 15"))
    (tmp_path / "long.yaml").write_text(shipped)
    (tmp_path / "reg.yaml").write_text(  # class weights for a task without classes
        "task: {name: arrays, path: d.npz, output: regression}\n"
        "layers: {min: 1, max: 1, types: {dense: {units: [8]}}}\n"
        "train: {class_weight: [none, balanced]}\n")
    result = automl("spaces", "validate", "short.yaml", "long.yaml", "reg.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok (") == 3
    # the reward a search would be scored by, named even where the YAML leaves it to the task
    assert "reg.yaml: ok (2 architectures, 1 decision slot, task arrays, reward ccc (the task " \
        "default))" in " ".join(result.stdout.split()), result.stdout
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert notes == ["note: short.yaml: train.patience 30 >= train.epochs 15: no child stops "
                     "early (the best epoch's weights are still restored)",
                     "note: reg.yaml: train.class_weight balanced weighs classes, and this "
                     "regression task has none: its children train unweighted"], result.stderr


@pytest.mark.slow
def test_cli_search_leaderboard_show(ray_instance, tmp_path: Path) -> None:
    address = ray_instance.get_runtime_context().gcs_address
    space = tmp_path / "tiny.yaml"
    space.write_text(TINY_DIGITS)
    result = automl("search", str(space), "--trials", "3", "--workers", "2", "--name", "c3",
                    "--address", address, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Leaderboard" in result.stdout and "Search finished" in result.stdout
    assert "Traceback" not in result.stderr and "oneDNN" not in result.stderr
    board = automl("leaderboard", "runs/c3", "--format", "json", "--all", cwd=tmp_path)
    rows = json.loads(board.stdout)
    assert len(rows) == 3
    for row in rows:
        assert row["status"] in ("complete", "cached", "failed")
        assert set(row) >= {"id", "status", "reward", "metrics", "params", "flat", "summary"}
    top = automl("leaderboard", "c3", "--top", "1", "--format", "csv", cwd=tmp_path)
    assert len(top.stdout.strip().splitlines()) == 2
    shown = automl("show", "c3", str(rows[0]["trial"]), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert "Total params" in shown.stdout and rows[0]["id"] in shown.stdout
    again = automl("search", str(space), "--name", "c3", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr


def test_a_refused_resume_leaves_the_run_as_it_was(tmp_path: Path) -> None:
    """A resume whose cluster cannot be reached is refused before it writes anything: not
    run.json (rewritten before, with a new time), not the run's stderr log."""
    from automl.engine import run_search
    from automl.execution import ExecutionSettings
    from automl.store import RunFolder

    (tmp_path / "ok.yaml").write_text(TINY_DIGITS)
    outcome = run_search(tmp_path / "ok.yaml", strategy="random", trials=1, name="r",
                         runs_dir=tmp_path / "runs",
                         execution=ExecutionSettings(executor="in_process", keep_best=0))
    outcome_run = RunFolder(outcome.run_path)  # as the CLI makes runs: on Ray
    outcome_run.update_info(execution={**outcome_run.info()["execution"], "executor": "ray"})

    def state() -> dict[str, tuple[bytes, int]]:
        return {str(p): (p.read_bytes(), p.stat().st_mtime_ns)  # .lock: who held it last
                for p in outcome.run_path.rglob("*") if p.is_file() and p.name != ".lock"}

    before = state()
    result = automl("resume", "r", "--runs-dir", "runs", "--address", "127.0.0.1:1",
                    cwd=tmp_path, env={"RAY_AUTH_MODE": "disabled"})
    assert result.returncode == 2 and "cannot reach the Ray cluster" in result.stderr, \
        result.stderr[-2000:]
    assert state() == before
