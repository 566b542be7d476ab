"""The kept-model folder: promotion is one rename, sync keeps exactly the top K."""

from __future__ import annotations

from pathlib import Path

from automl.store import ModelFiles


def test_promote_discard_and_sync_keep_exactly_the_named_trials(tmp_path: Path) -> None:
    files = ModelFiles(tmp_path)
    assert files.kept() == [] and files.sync([1]) == []  # no folder yet: nothing to do
    for trial in (1, 2, 3):
        files.write_pending(trial, f"model {trial}".encode())
    assert files.promote(1) and files.promote(2)
    assert not files.promote(7)  # nothing pending for 7
    assert files.kept() == [1, 2]
    assert files.path(2).read_bytes() == b"model 2"
    files.write_pending(2, b"model 2, trained again")  # a rerun replaces the kept file whole
    assert files.promote(2) and files.path(2).read_bytes() == b"model 2, trained again"
    assert files.sync([2, 3], pending=False) == [1]  # 1 fell out of the top; 3 still in flight
    assert files.pending_path(3).is_file()
    (files.folder / ".x.keras.tmp").write_bytes(b"half")  # a writer killed mid-write
    assert files.sync([2, 3]) == []  # on resume: no pending or temporary files survive
    assert sorted(p.name for p in files.folder.iterdir()) == ["2.keras"]
