"""The trained weights a run keeps: ``runs/<name>/models/<trial_id>.keras`` for its best K.

A worker writes each finished child to a *pending* file (``models/.pending-<trial_id>.keras``,
the name the driver gave it; Keras insists on the ``.keras`` suffix), or returns the file's
bytes when it runs on another machine and the driver writes them there. Once the trial's result
is in the store, the driver either promotes the pending file with one ``os.replace`` (so a kept
file is always a whole model) or deletes it, and then deletes the kept files that fell out of
the top K. A kill in between leaves at most a pending file, which :meth:`ModelFiles.sync`
removes on resume, together with kept files whose trials are no longer in the store's top K.
This module only moves files: which trials are the top K is the caller's (the store's) answer.
"""

from __future__ import annotations

import os
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

from automl.atomic_write import atomic_write
from automl.atomic_write import fsync_folder
from automl.errors import RunError

_KEPT = re.compile(r"^(\d+)\.keras$")
_PENDING_PREFIX = ".pending-"


class ModelFiles:
    """The ``models/`` folder of one run."""

    def __init__(self, run_path: str | Path):
        self.folder = Path(run_path) / "models"

    def path(self, trial_id: int) -> Path:
        """Where the kept model of ``trial_id`` lives (it may not exist)."""
        return self.folder / f"{int(trial_id)}.keras"

    def whole(self, trial_id: int) -> Path:
        """The kept model of ``trial_id``, checked to be a whole ``.keras`` archive (every
        member's checksum): a kept file damaged since, or edited, is a RunError, not a copy
        that will not load or a traceback from Keras."""
        path = self.path(trial_id)
        try:
            with zipfile.ZipFile(path) as archive:
                bad = archive.testzip()
        except (OSError, zipfile.BadZipFile, EOFError) as exc:
            raise RunError(f"the kept model is damaged ({exc.__class__.__name__}); export it "
                           "with --retrain to train it again", source=str(path)) from None
        if bad is not None:
            raise RunError(f"the kept model is damaged (member {bad!r}); export it with "
                           "--retrain to train it again", source=str(path))
        return path

    def pending_path(self, trial_id: int) -> Path:
        """Where a worker on this machine writes the child it just trained."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder / f"{_PENDING_PREFIX}{int(trial_id)}.keras"

    def kept(self) -> list[int]:
        """Trial ids that have a kept model, in ascending order."""
        if not self.folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.folder.iterdir()
                      if (m := _KEPT.match(p.name)))

    def write_pending(self, trial_id: int, data: bytes) -> Path:
        """Write the bytes a remote worker returned as the pending file of ``trial_id``."""
        path = self.pending_path(trial_id)
        atomic_write(path, data)
        return path

    def promote(self, trial_id: int) -> bool:
        """Make the pending file of ``trial_id`` its kept model (atomic); False if none."""
        pending = self.pending_path(trial_id)
        if not pending.is_file():
            return False
        os.replace(pending, self.path(trial_id))
        fsync_folder(self.folder)
        return True

    def discard_pending(self, trial_id: int) -> None:
        if self.folder.is_dir():
            self.pending_path(trial_id).unlink(missing_ok=True)

    def sync(self, top: Iterable[int], *, pending: bool = True) -> list[int]:
        """Remove kept models whose trial is not in ``top`` and (``pending=True``, when no child
        is in flight: a resume) every pending file; returns the trial ids whose kept files were
        removed."""
        if not self.folder.is_dir():
            return []
        wanted = {int(t) for t in top}
        removed: list[int] = []
        for path in self.folder.iterdir():
            match = _KEPT.match(path.name)
            if match and int(match.group(1)) not in wanted:
                path.unlink(missing_ok=True)
                removed.append(int(match.group(1)))
            elif pending and (path.name.startswith(_PENDING_PREFIX)
                              or path.name.endswith(".tmp")):
                path.unlink(missing_ok=True)
        return sorted(removed)


__all__ = ["ModelFiles"]
