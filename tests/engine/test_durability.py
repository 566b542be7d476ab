"""Durability of the store and the strategy checkpoint: a search process is SIGKILLed between
the store write and the checkpoint write (a real kill, by a failpoint), resumed, and the resumed
search is exactly the uninterrupted one. Real SQLite store and checkpoint files; the children
are look-ups in the shipped benchmark table (no Ray, no training), so each search is fast.

The order of the two writes, per result: the result's transaction commits (``synchronous=FULL``:
the WAL is fsynced before COMMIT returns), then the strategy is told, then the checkpoint is
written (``atomic_write``: temp file, fsync, rename). A kill can therefore leave the store ahead
of the checkpoint (any point after the commit), never the checkpoint ahead of the store: the
checkpoint is written only after the commit of every event it has seen has returned, a killed
process cannot take back a write the kernel has, and after a power cut the fsynced WAL still
holds it. The closest real kill to "checkpoint ahead" is right after the checkpoint is written
(``checkpoint_written``: the two are equal); the test kills there too and asserts that the
checkpoint is never ahead at any kill point. A checkpoint ahead of the store can only come from
outside the process (a disk that acknowledges fsyncs it did not do, a store restored from an
older copy); :func:`test_a_checkpoint_ahead_of_the_store_is_rebuilt_from_the_store` makes one by
editing the store and checks that resume rebuilds the strategy from the store's journal.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from automl.builder import describe
from automl.store import RunFolder
from automl.store import TrialStore
from automl.store import load_checkpoint
from tests.engine.table_search import ROOT
from tests.engine.table_search import search

TRIALS = 20

# (failpoint, what the killed folder holds); the 7th result: well inside the search, after
# several checkpoints
KILL_POINTS = [
    ("after_store:7", "store ahead"),  # result committed; not told, not checkpointed
    ("after_tell:7", "store ahead"),  # told (its update statistics stored); not checkpointed
    ("checkpoint_tmp:7", "store ahead"),  # checkpoint in its temp file, not renamed
    ("checkpoint_written:7", "equal"),  # checkpoint caught up: the nearest to "ahead"
]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    return search(tmp_path_factory.mktemp("straight") / "run", TRIALS)


@pytest.mark.parametrize(("point", "expected"), KILL_POINTS, ids=[p for p, _ in KILL_POINTS])
def test_killed_between_store_and_checkpoint_resumes_exactly(
        tmp_path: Path, uninterrupted: list[tuple], point: str, expected: str) -> None:
    run = RunFolder(tmp_path / "run")
    killed = subprocess.run(
        [sys.executable, "-m", "tests.engine.table_search", str(run.path), str(TRIALS)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), "AUTOML_FAILPOINTS": point})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]

    store = TrialStore(run.db_path, readonly=True)
    journal = store.max_event_seq()
    told = [t for t in store.trials() if t.told_seq is not None]
    store.close()
    checkpoint_seq = int(load_checkpoint(run.checkpoint_path).meta["seq"])
    assert len(told) == 7  # the 7th result is in the store in every case
    assert checkpoint_seq <= journal  # never ahead: the order holds at the instant of the kill
    assert (checkpoint_seq == journal) == (expected == "equal"), (checkpoint_seq, journal)
    if point.startswith("checkpoint_tmp"):
        assert list(run.path.glob(".*.tmp"))  # the half-written checkpoint, left unused

    assert search(run.path, TRIALS, resume=True) == uninterrupted
    with sqlite3.connect(run.db_path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert not list(run.path.glob(".*.tmp"))
    store = TrialStore(run.db_path, readonly=True)  # summaries in the layer types' own words
    assert all(t.summary == describe(t.arch, ["learning_rate"])  # the one searched setting
               and t.summary.startswith("Dense(")
               and t.summary.endswith(f" | learning_rate={t.arch.train['learning_rate']}")
               for t in store.trials())
    store.close()


def test_a_checkpoint_ahead_of_the_store_is_rebuilt_from_the_store(
        tmp_path: Path, uninterrupted: list[tuple]) -> None:
    """Not reachable by a kill (see the module docstring): made by removing the last result from
    the store after the search, as a disk that lied about an fsync or an older copy of the
    store would. Resume must not load the checkpoint (it would tell that result twice) but
    rebuild the strategy by replaying the store, and then go on exactly."""
    run = RunFolder(tmp_path / "run")
    search(run.path, TRIALS // 2)
    with sqlite3.connect(run.db_path) as db:
        db.execute("UPDATE trials SET status='running', reward=NULL, told_seq=NULL, "
                   "finished_at=NULL WHERE told_seq=(SELECT MAX(told_seq) FROM trials)")
    store = TrialStore(run.db_path, readonly=True)
    assert int(load_checkpoint(run.checkpoint_path).meta["seq"]) > store.max_event_seq()
    store.close()
    assert search(run.path, TRIALS, resume=True) == uninterrupted
