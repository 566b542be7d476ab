"""Replace a file so that a crash leaves either the old or the new content, never a mix.

The one way every file of a run or project is rewritten: write a temporary file in the same
folder, flush it to disk, ``os.replace`` it over the target, then flush the folder so that the
rename itself survives a power loss.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

_UMASK = os.umask(0)
os.umask(_UMASK)  # read once, at import (single-threaded): os.umask can only read by setting
"""The process's umask: a new file gets 0o666 & ~umask, as ``open()`` would give it."""


def atomic_write(path: str | Path, data: bytes | str, *,
                 before_replace: Callable[[], None] | None = None) -> None:
    """Write ``data`` (text is UTF-8) to ``path`` atomically and durably.

    ``before_replace`` runs once the temporary file is on disk (fault-injection tests kill the
    process there). A symbolic link is written through (the file it names is replaced); a
    path that is a folder or a device is refused (OSError): the rename would put a
    file in its place.
    """
    path = Path(path)
    if path.is_symlink():  # write the file it names: the rename would replace the link
        path = path.resolve()
    if path.exists() and not path.is_file():  # os.replace would put a file in its place
        raise OSError(f"{path} exists and is not a regular file")
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp makes the file 0o600; the result gets the mode it had, or open()'s default.
        try:
            mode = path.stat().st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_UMASK
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # a platform without directory handles: the rename is as durable as it gets
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


fsync_folder = _fsync_folder
"""Flush a folder so that a rename in it survives a power loss (after ``os.replace``)."""

__all__ = ["atomic_write", "fsync_folder"]
