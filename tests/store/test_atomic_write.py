"""atomic_write: a file replaced whole, with the permissions open() would give it."""

from __future__ import annotations

import stat
from pathlib import Path

from automl.atomic_write import atomic_write


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_files_get_open_s_mode_and_rewrites_keep_theirs(tmp_path: Path) -> None:
    reference = tmp_path / "by_open.txt"
    reference.write_text("x")
    new = tmp_path / "sub" / "report.json"
    atomic_write(new, "{}")
    assert new.read_text() == "{}"
    assert _mode(new) == _mode(reference)  # not mkstemp's 0o600
    shared = tmp_path / "shared.csv"
    shared.write_text("a")
    shared.chmod(0o664)
    atomic_write(shared, "b")
    assert shared.read_text() == "b" and _mode(shared) == 0o664
    private = tmp_path / "private.json"
    private.write_text("a")
    private.chmod(0o600)
    atomic_write(private, "b")
    assert _mode(private) == 0o600
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_link_is_written_through_and_a_device_is_refused(tmp_path: Path) -> None:
    """The rename would replace the link itself, or (as root) the device node with a file."""
    import os

    import pytest

    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "report.json"
    target.write_text("old")
    link = tmp_path / "report.json"
    link.symlink_to(target)
    atomic_write(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OSError, match="is not a regular file"):
        atomic_write(tmp_path / "pipe", "x")
    assert stat.S_ISFIFO((tmp_path / "pipe").lstat().st_mode)
