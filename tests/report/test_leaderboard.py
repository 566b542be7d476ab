"""Leaderboard: one row per architecture, filters, sorting, every format, a run in progress.

The run is a real run folder and SQLite store filled through the store's own API (no training:
the rows' numbers are chosen so the expected order is known)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from automl.cli.main import main
from automl.errors import UserInputError
from automl.report import leaderboard_rows
from automl.space import load_space
from automl.store import RunFolder
from automl.store import TrialStatus
from automl.store import TrialStore
from tests.conftest import SPACES


@pytest.fixture()
def run(tmp_path: Path) -> tuple[RunFolder, TrialStore, list]:
    """Trials 0-5: four architectures; trial 3 is a cached repeat of 0; trial 4 failed;
    trial 5 is still running (the store stays open for writing, as during a search)."""
    space = load_space(SPACES / "quickstart.yaml")
    rng = np.random.default_rng(0)
    archs: list = []
    while len(archs) < 4:
        a = space.sample(rng)
        if a.id not in {b.id for b in archs}:
            archs.append(a)
    folder = RunFolder.create(tmp_path / "runs", "board", {"name": "q"}, {"strategy": "random"})
    store = TrialStore(folder.db_path)
    plan = [(archs[0], TrialStatus.COMPLETE, 0.90, 30_000), (archs[1], TrialStatus.COMPLETE,
            0.95, 80_000), (archs[2], TrialStatus.COMPLETE, 0.80, 10_000),
            (archs[0], TrialStatus.CACHED, 0.90, 30_000), (archs[3], TrialStatus.FAILED, None,
            None)]
    for trial_id, (arch, status, reward, params) in enumerate(plan):
        store.add_trial(trial_id, arch)
        store.finish_trial(trial_id, status=status, reward=reward, params=params,
                           metrics={} if reward is None else {"accuracy": reward,
                                                               "loss": 1 - reward,
                                                               "mse": 1 - reward},
                           test_metrics={} if reward is None else {"accuracy": reward - 0.01,
                                                                    "mse": 1.01 - reward},
                           error="boom" if reward is None else None,
                           cached_from=0 if status == TrialStatus.CACHED else None)
    store.add_trial(5, archs[3])  # running
    yield folder, store, archs
    store.close()


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_one_row_per_architecture_by_default(run) -> None:
    folder, _, archs = run
    rows = leaderboard_rows([folder])
    assert [r["trial"] for r in rows] == [1, 0, 2, 5]  # the cached repeat is not a rank
    assert rows[1]["trials"] == 2 and rows[0]["trials"] == 1
    # the failed architecture is being trained again: its running trial stands for both
    assert rows[3]["status"] == "running" and rows[3]["trials"] == 2
    assert [r["trial"] for r in leaderboard_rows([folder], unique=False)] == [1, 0, 3, 2, 5, 4]


def test_filters_and_sorting(run) -> None:
    folder, _, _ = run
    assert [r["trial"] for r in leaderboard_rows([folder], where=["params<50000"])] == [0, 2]
    assert [r["trial"] for r in leaderboard_rows(
        [folder], where=["accuracy >= 0.85", "params != 80000"])] == [0]
    assert [r["trial"] for r in leaderboard_rows([folder], sort="params")] == [2, 0, 1, 5]
    assert [r["trial"] for r in leaderboard_rows([folder], sort="loss")][:3] == [1, 0, 2]
    assert [r["trial"] for r in leaderboard_rows([folder], sort="params:desc")][:3] == [1, 0, 2]
    assert [r["trial"] for r in leaderboard_rows([folder], sort="test.accuracy")][:3] == [1, 0, 2]
    # a regression's error: smallest first, as the loss
    assert [r["trial"] for r in leaderboard_rows([folder], sort="mse")][:3] == [1, 0, 2]
    assert [r["trial"] for r in leaderboard_rows([folder], sort="test.mse")][:3] == [1, 0, 2]
    # a categorical decision: alphabetical, or the reverse
    types = [r["flat"]["layers.0.type"] for r in leaderboard_rows([folder], sort="layers.0.type")]
    assert types == sorted(types) and len(set(types)) > 1
    assert [r["flat"]["layers.0.type"] for r in leaderboard_rows(
        [folder], sort="layers.0.type:desc")] == sorted(types, reverse=True)
    assert [r["trial"] for r in leaderboard_rows([folder], statuses=["failed"])] == [4]
    assert [r["rank"] for r in leaderboard_rows([folder], statuses=["complete"])] == [1, 2, 3]
    # a key no row has, or an order with a non-number, is refused instead of keeping no row
    # (or every row)
    with pytest.raises(UserInputError, match="no row has 'foo'; keys: .*accuracy"):
        leaderboard_rows([folder], where=["foo<5"])
    with pytest.raises(UserInputError, match="< needs a number, not 'abc'"):
        leaderboard_rows([folder], where=["params<abc"])


def test_every_format_and_a_run_in_progress(run, capsys, monkeypatch) -> None:
    folder, store, _ = run
    monkeypatch.chdir(folder.path.parent.parent)
    code, out, err = cli(capsys, "leaderboard", "board", "--format", "json", "--all")
    assert code == 0 and len(json.loads(out)) == 6, err
    code, out, _ = cli(capsys, "leaderboard", "board", "--format", "csv", "--test",
                       "--status", "complete,cached")
    table = list(csv.DictReader(io.StringIO(out)))
    assert [r["trial"] for r in table] == ["1", "0", "2"] and "test.accuracy" in table[0]
    code, out, _ = cli(capsys, "leaderboard", "board", "--format", "markdown", "--top", "2")
    lines = out.strip().splitlines()
    assert code == 0 and lines[0].startswith("| rank |") and len(lines) == 4
    code, out, _ = cli(capsys, "leaderboard", "board", "--status", "running")
    assert code == 0 and "running" in out
    code, out, _ = cli(capsys, "leaderboard", "board", "--status", "failed")
    assert code == 0 and "  [boom]" in out  # a child's error, not a style tag to delete
    store.finish_trial(5, status=TrialStatus.COMPLETE, reward=0.99, params=5)  # it finishes
    code, out, _ = cli(capsys, "leaderboard", "board", "--format", "json", "--top", "1")
    assert json.loads(out)[0]["trial"] == 5


@pytest.mark.parametrize("args, words", [
    (("--where", "params<<5"), ["--where", "KEY OP VALUE"]),
    (("--sort", "nothing_here"), ["--sort", "no row has 'nothing_here'", "a decision"]),
    (("--sort", "reward:sideways"), ["--sort", "asc or desc"]),
    (("--status", "done"), ["--status", "unknown status 'done'"]),
])
def test_bad_options_are_one_line_errors(run, capsys, monkeypatch, args, words) -> None:
    folder, _, _ = run
    monkeypatch.chdir(folder.path.parent.parent)
    code, _, err = cli(capsys, "leaderboard", "board", *args)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, err


def test_runs_scored_by_different_rewards_get_a_note(run, capsys, monkeypatch) -> None:
    folder, _, archs = run
    monkeypatch.chdir(folder.path.parent.parent)
    folder.update_info(reward="accuracy")
    other = RunFolder.create(folder.path.parent, "reg", {"name": "r"}, {"reward": "ccc"})
    with TrialStore(other.db_path) as store:
        store.add_trial(0, archs[0])
        store.finish_trial(0, status=TrialStatus.COMPLETE, reward=0.5, params=1)
    code, _, err = cli(capsys, "leaderboard", "board", "reg")
    assert code == 0 and err.strip() == ("note: these runs are scored by different rewards "
                                         "(accuracy: board; ccc: reg); their rewards are "
                                         "ranked on one scale")
    code, _, err = cli(capsys, "leaderboard", "board")
    assert code == 0 and err == ""


def test_two_runs_of_one_name_stay_apart(run, capsys, monkeypatch) -> None:
    """Copies of a run in two runs folders share a folder name: keyed by name, their trials
    merged (rows lost) and the report drew one's architectures for the other's trials."""
    import shutil

    from automl.report import render_report

    folder, _, _ = run
    root = folder.path.parent.parent
    monkeypatch.chdir(root)
    shutil.copytree(folder.path, root / "other" / "board")
    copy = RunFolder(root / "other" / "board")
    rows = leaderboard_rows([folder, copy])
    assert len(rows) == 8  # 4 architectures each
    assert {r["run"] for r in rows} == {"runs/board", "other/board"}
    page = render_report([folder, copy])
    assert "automl comparison: runs/board, other/board" in page
    code, out, _ = cli(capsys, "leaderboard", "runs/board", "other/board", "--format", "csv")
    assert code == 0 and len(list(csv.DictReader(io.StringIO(out)))) == 8
    # one run named twice (by name and by path) is refused, as by the report
    code, _, err = cli(capsys, "leaderboard", "board", "runs/board")
    assert code == 2 and err.strip() == "error: RUN: run 'board' is named twice"


def test_every_format_counts_trials_and_shows_every_metric(run, capsys, monkeypatch) -> None:
    """The table shows the number of trials of an architecture (the README says so) and
    every metric of the rows, in the order CSV and Markdown use; counts are integers."""
    folder, store, archs = run
    store.add_trial(6, archs[2])
    store.finish_trial(6, status=TrialStatus.COMPLETE, reward=0.85, params=7,  # its best
                       metrics={"accuracy": 0.85, "loss": 0.15, "best_epoch": 4.0})
    monkeypatch.chdir(folder.path.parent.parent)
    code, out, _ = cli(capsys, "leaderboard", "board")
    header = out.splitlines()[2]
    assert code == 0 and [w for w in header.replace("┃", " ").split()] == [
        "rank", "trial", "id", "status", "trials", "reward", "accuracy", "mse", "loss",
        "best_epoch", "params", "seconds", "architecture"]
    code, out, _ = cli(capsys, "leaderboard", "board", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert list(table[0])[:10] == ["rank", "run", "trial", "id", "status", "trials", "reward",
                                   "one_shot", "accuracy", "mse"]
    assert [r["trials"] for r in table] == ["1", "2", "2", "2"]
    code, out, _ = cli(capsys, "leaderboard", "board", "--format", "markdown")
    lines = out.splitlines()
    assert lines[0].split(" | ")[5:10] == ["trials", "reward", "accuracy", "mse", "loss"]
    epochs = lines[0].strip("| ").split(" | ").index("best_epoch")
    assert [line.strip("| ").split(" | ")[epochs] for line in lines[2:]] == ["-", "-", "4", "-"]


def test_no_row_to_show_says_so(run, capsys, monkeypatch) -> None:
    folder, _, _ = run
    monkeypatch.chdir(folder.path.parent.parent)
    code, out, _ = cli(capsys, "leaderboard", "board", "--where", "params>1e9")
    assert code == 0 and out.strip().endswith("no trials to show")


def test_a_report_of_a_run_with_no_result_says_so(run, tmp_path: Path) -> None:
    """Every child failed: the page says there is nothing to rank and no plot is left blank."""
    from automl.report import render_report

    _, _, archs = run
    folder = RunFolder.create(tmp_path / "runs", "failing", {"name": "q"}, {"strategy": "random"})
    with TrialStore(folder.db_path) as store:
        store.add_trial(0, archs[0])
        store.finish_trial(0, status=TrialStatus.FAILED, error="boom")
    page = render_report([folder])
    assert "No trial has finished with a result yet" in page
    assert page.count("no trial has a result yet") == 2  # against trials and against time
    assert "no complete trial with a parameter count" in page
    # no update stored: a learner may not have updated yet (it is not said not to learn)
    assert "does not learn (random, grid, ...), or has not updated yet" in page


def test_csv_and_markdown_say_where_a_stopped_trial_stopped(run, capsys, monkeypatch) -> None:
    folder, store, archs = run
    store.add_trial(6, archs[2])
    store.finish_trial(6, status=TrialStatus.STOPPED, reward=0.85, params=7,
                       metrics={"accuracy": 0.85, "loss": 0.15},
                       epochs=[{"epoch": 1, "loss": 0.3}, {"epoch": 2, "loss": 0.15}])
    monkeypatch.chdir(folder.path.parent.parent)
    code, out, _ = cli(capsys, "leaderboard", "board", "--format", "csv", "--all")
    rows = {r["trial"]: r for r in csv.DictReader(io.StringIO(out))}
    assert code == 0 and rows["6"]["status"] == "stopped" and rows["6"]["epochs"] == "2"
    code, out, _ = cli(capsys, "leaderboard", "board", "--format", "markdown", "--all")
    header = out.splitlines()[0].strip("| ").split(" | ")
    (line,) = [x for x in out.splitlines() if "| stopped |" in x]
    assert line.strip("| ").split(" | ")[header.index("epochs")] == "2"
