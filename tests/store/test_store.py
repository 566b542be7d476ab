"""The SQLite trial store, run folders and atomic checkpoints."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from automl.errors import RunError
from automl.space import Architecture
from automl.store import RunFolder
from automl.store import TrialStatus
from automl.store import TrialStore
from automl.store import check_run_name
from automl.store import load_checkpoint
from automl.store import save_checkpoint
from automl.strategies import StrategyState

ARCH = Architecture(({"type": "dense", "units": 8, "activation": "relu"},), {"epochs": 1})


def test_trial_lifecycle_and_readonly_reader(tmp_path: Path) -> None:
    store = TrialStore(tmp_path / "t.sqlite")
    store.add_trial(0, ARCH)
    reader = TrialStore(tmp_path / "t.sqlite", readonly=True)
    assert reader.trials()[0].status == TrialStatus.RUNNING
    store.finish_trial(0, status=TrialStatus.COMPLETE, reward=0.5, metrics={"accuracy": 0.5},
                       params=10, train_seconds=1.0, told_seq=1,
                       epochs=[{"epoch": 1, "loss": 1.0}], costs={"fit": 1.0, "worker": 1.2})
    store.add_trial(1, ARCH)
    store.finish_trial(1, status=TrialStatus.FAILED, error="boom", told_seq=2)
    record = reader.trial(0)
    assert record.reward == 0.5 and record.flat["layers.0.units"] == 8
    assert reader.epochs(0) == [{"epoch": 1, "loss": 1.0}]
    assert reader.costs() == {0: {"fit": 1.0, "worker": 1.2}}  # a failed child has none
    assert reader.best().trial_id == 0
    assert reader.completed_result(ARCH.id).trial_id == 0
    assert reader.counts() == {"complete": 1, "failed": 1}
    assert reader.find_trial(ARCH.id[:6]).trial_id == 0
    assert reader.find_trial(ARCH.id[:6].upper()).trial_id == 0
    for key in ("", "%", "_", ARCH.id[:3] + "%"):  # no wildcard finds a trial
        assert reader.find_trial(key) is None
    assert store.integrity_ok()


def test_a_trial_number_is_never_read_as_the_start_of_an_id(tmp_path: Path) -> None:
    """``show RUN 7`` in a run without trial 7 is no trial, not the child whose id starts
    with 7; a prefix of several ids names them; a whole id of digits still finds its trial."""
    archs = [Architecture(({"type": "dense", "units": units},), {}) for units in range(1, 3000)]
    digits = next(a for a in archs if a.id[0] in "456789")  # not a trial number of the 4
    letter = next(a for a in archs if a.id[0] == "e")
    other = next(a for a in archs if a.id[0] == "e" and a is not letter)
    all_digits = next(a for a in archs if a.id.isdigit())
    store = TrialStore(tmp_path / "t.sqlite")
    for trial_id, arch in enumerate((digits, letter, other, all_digits)):
        store.add_trial(trial_id, arch)
    assert store.find_trial(digits.id[0]) is None  # once, the first trial starting so
    assert store.find_trial(digits.id).trial_id == 0
    with pytest.raises(RunError, match=r"TRIAL: 'e' starts 2 architecture ids \(.*\); give more"):
        store.find_trial("e")
    assert store.find_trial(letter.id[:6]).trial_id == 1
    assert store.find_trial(all_digits.id).trial_id == 3
    store.close()


def test_readers_of_a_closed_store_leave_no_files_beside_it(tmp_path: Path) -> None:
    """A finished search's store is read by leaderboard, show, report and export; a read-only
    reader of a WAL file would create -wal and -shm files beside it that it cannot remove."""
    with TrialStore(tmp_path / "t.sqlite") as store:
        store.add_trial(0, ARCH)
        reader = TrialStore(tmp_path / "t.sqlite", readonly=True)  # while the search runs
        assert reader.trials()[0].trial_id == 0
        reader.close()
    for _ in range(2):
        with TrialStore(tmp_path / "t.sqlite", readonly=True) as reader:
            assert len(reader.trials()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.sqlite"]
    with TrialStore(tmp_path / "t.sqlite") as store:  # resumed: WAL again
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.add_trial(1, ARCH)
    assert len(TrialStore(tmp_path / "t.sqlite", readonly=True).trials()) == 2


def test_a_reader_of_a_store_without_tables_gets_one_line(tmp_path: Path) -> None:
    """The moment after a search creates its SQLite file and before it writes the tables, a
    leaderboard (or any reader) gets a one-line error, not sqlite's 'no such table'."""
    import sqlite3

    sqlite3.connect(tmp_path / "t.sqlite").close()  # the file exists, empty
    with pytest.raises(RunError, match="no tables yet") as info:
        TrialStore(tmp_path / "t.sqlite", readonly=True)
    assert "\n" not in info.value.one_line() and "t.sqlite" in info.value.one_line()
    TrialStore(tmp_path / "t.sqlite").close()  # the writer creates them
    assert TrialStore(tmp_path / "t.sqlite", readonly=True).trials() == []


def test_equal_rewards_rank_by_validation_loss_everywhere(tmp_path: Path) -> None:
    """Tiny validation sets tie often: the lower validation loss wins the tie in the store's
    best trial, the kept models and the leaderboard; a NaN loss ranks last."""
    from automl.report import leaderboard_rows

    folder = RunFolder.create(tmp_path / "runs", "ties", {"name": "ties"}, {"strategy": "random"})
    store = TrialStore(folder.db_path)
    for trial_id, reward, loss in [(0, 0.9, 0.40), (1, 0.9, float("nan")), (2, 0.9, 0.25),
                                   (3, 0.8, 0.01), (4, 0.9, 0.40)]:
        architecture = Architecture(({"type": "dense", "units": 8 + trial_id,
                                      "activation": "relu"},), {"epochs": 1})
        store.add_trial(trial_id, architecture)
        store.finish_trial(trial_id, status=TrialStatus.COMPLETE, reward=reward,
                           metrics={"accuracy": reward, "loss": loss}, told_seq=trial_id + 1)
    assert store.best().trial_id == 2
    assert store.top_trained(4) == [2, 0, 4, 1]
    assert [r["trial"] for r in leaderboard_rows([folder])] == [2, 0, 4, 1, 3]
    store.close()


def test_checkpoint_round_trip_without_pickle(tmp_path: Path) -> None:
    path = tmp_path / "ck.npz"
    state = StrategyState({"a": [1, 2], "rng": {"x": 1}}, {"w": np.arange(6.0).reshape(2, 3)})
    save_checkpoint(path, state)
    loaded = load_checkpoint(path)
    assert loaded.meta == state.meta and np.array_equal(loaded.arrays["w"], state.arrays["w"])
    assert not list(tmp_path.glob("*.tmp"))
    with np.load(path, allow_pickle=False) as data:  # readable with pickle disabled
        assert "w" in data.files


@pytest.mark.parametrize("name", ["../escape", "/abs", "a/b", "..", ".hidden", "", "x" * 200])
def test_run_names_cannot_escape(name: str) -> None:
    with pytest.raises(RunError):
        check_run_name(name)


def test_run_folder_is_created_whole_and_locked(tmp_path: Path) -> None:
    run = RunFolder.create(tmp_path, "r1", {"name": "x"}, {"strategy": "random"})
    assert run.config_path.is_file() and run.info()["strategy"] == "random"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    with pytest.raises(RunError, match="already exists"):
        RunFolder.create(tmp_path, "r1", {}, {})
    run.acquire_lock()
    with pytest.raises(RunError, match="in use"):
        RunFolder.open(tmp_path / "r1").acquire_lock()
    run.release_lock()


def test_a_refused_resume_leaves_the_run_folder_byte_identical(tmp_path: Path) -> None:
    from automl import resume_search

    run = RunFolder.create(tmp_path, "r1", {"name": "x"}, {"strategy": "random", "trials": 4})
    run.acquire_lock()  # a search is running on it

    def snapshot() -> dict[str, bytes]:
        return {str(p.relative_to(run.path)): p.read_bytes()
                for p in sorted(run.path.rglob("*")) if p.is_file()}

    before = snapshot()
    with pytest.raises(RunError, match="in use"):
        resume_search(run.path, trials=10)
    assert snapshot() == before
    run.release_lock()
