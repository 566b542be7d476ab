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
    (("--sort", "nothing_here"), ["--sort", "no row has a number"]),
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
