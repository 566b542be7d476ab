"""Shared CLI helpers: argument types that fail in one line, quiet imports, output."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

from rich.console import Console

# Off a terminal (CI logs, pipes) keep tables readable instead of folding them at 80 columns.
# markup off: table cells and lines carry user text (a child's error "[loss became NaN ...]", a
# run folder named by hand) that Rich would otherwise read as style tags and delete
console = Console(markup=False, highlight=False, soft_wrap=True,
                  width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, markup=False, highlight=False, soft_wrap=True)


def _number_type(kind: type, *, minimum: float, inclusive: bool, name: str) -> Any:
    """An argparse ``type=`` that accepts finite numbers of ``kind`` above ``minimum``."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'an integer' if kind is int else 'a number'}") from None
        ok = value >= minimum if inclusive else value > minimum
        if not ok or value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"{text} is not a {name}")
        return value

    return parse


positive_int = _number_type(int, minimum=1, inclusive=True, name="positive integer")
non_negative_int = _number_type(int, minimum=0, inclusive=True, name="non-negative integer")
positive_float = _number_type(float, minimum=0, inclusive=False, name="positive number")
non_negative_float = _number_type(float, minimum=0, inclusive=True, name="non-negative number")


def non_empty(text: str) -> str:
    """An argparse ``type=`` for a value that means something only when given: an empty
    ``--strategy`` or ``--sort`` was silently the default, an empty ``-o`` the default file."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty value; leave the flag out for the default")
    return text


def plugin_path(text: str) -> str:
    """An argparse ``type=`` for ``--plugins``: an empty path would name the current folder,
    and load every ``.py`` file in it."""
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path names no plugin; give a plugin file "
                                         "(.py), a package folder or a folder of plugins")
    return text


def ray_address(text: str) -> str:
    """An argparse ``type=`` for ``--address``: what ``ray.init`` takes, checked before Ray
    starts (it answers an empty or portless address with a traceback)."""
    address = text.strip()
    if address == "auto":
        return address
    host, colon, port = address.removeprefix("ray://").rpartition(":")
    if not (colon and host and port.isdigit() and 0 < int(port) < 65536):
        raise argparse.ArgumentTypeError(f"{text!r} is not a Ray address; allowed: 'auto', "
                                         "host:port or ray://host:port")
    return address


def check_output_file(path: str | os.PathLike[str] | None, flag: str) -> None:
    """Refuse, before any work, an output file that cannot be written: an existing folder, a
    name ending in a separator, a parent that exists and is not a folder, or a folder this
    process may not write in (missing parents are created later)."""
    from pathlib import Path

    from automl.errors import UserInputError

    if path is None:
        return
    target = Path(path)
    if target.is_dir() or str(path).endswith(("/", os.sep)):
        raise UserInputError(f"{str(path)!r} is a folder; give a file name", key=flag)
    if target.exists() and not target.is_file():  # the write would replace the device itself
        raise UserInputError(f"{str(path)!r} is not a regular file (a device or a pipe); give "
                             "a file name", key=flag)
    check_folder(target.resolve().parent, flag, writable=True)


def check_not_an_input(path: str | os.PathLike[str] | None,
                       inputs: Sequence[str | os.PathLike[str]], flag: str) -> None:
    """Refuse an output file that is one of the command's input files (a ``--json`` naming
    the table it reads would replace the table with the report)."""
    from pathlib import Path

    from automl.errors import UserInputError

    if path is None or not Path(path).exists():
        return
    for given in inputs:
        if Path(given).exists() and os.path.samefile(path, given):
            raise UserInputError(f"{str(path)!r} is an input of this command ({given}); give "
                                 "another file name", key=flag)


def check_folder(path: str | os.PathLike[str], flag: str, *, writable: bool = False) -> None:
    """Refuse, before any work, a folder argument that names an existing file (or sits under
    one); with ``writable``, also one this process may not write in (a read-only mount: a
    search would fail only once Ray is up, with a traceback)."""
    from pathlib import Path

    from automl.errors import UserInputError

    target = Path(path)
    existing = next((p for p in (target, *target.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        raise UserInputError(f"{str(existing)!r} is a file, not a folder", key=flag)
    if writable:  # the nearest folder that exists: missing ones are created later
        where = next(p for p in (target.absolute(), *target.absolute().parents) if p.exists())
        try:  # a file made and removed at once: access() says yes to root, even under /proc
            with tempfile.TemporaryFile(dir=where):
                pass
        except OSError as exc:
            raise UserInputError(f"cannot write in {str(where)!r} ({exc.strerror})",
                                 key=flag) from None


_terminal: list[Any] = []
"""The real standard error while a :class:`QuietStderr` holds file descriptor 2."""


def terminal_stderr() -> Any:
    """Where lines meant for the user go: the real standard error, even while the noise of
    TensorFlow and Ray is sent to a log file (a replaced ``sys.stderr``, e.g. a test's
    capture, is used as it is)."""
    return _terminal[-1] if _terminal and sys.stderr is sys.__stderr__ else sys.stderr


class QuietStderr:
    """Send file descriptor 2 (TensorFlow's C++ notices, Ray's warnings) to a log file.

    Starts on a temporary file; ``retarget(path)`` moves it to the run's log once the run folder
    exists, so the noise ends up in ``runs/<name>/logs/`` instead of the terminal. Lines for the
    user (which plugin code runs) still reach it through :func:`terminal_stderr`.
    """

    def __init__(self, log_path: str | None = None):
        self.log_path = log_path
        self._saved = -1
        self._target: Any = None
        self._terminal: Any = None

    def __enter__(self) -> QuietStderr:
        sys.stderr.flush()
        self._saved = os.dup(2)
        self._terminal = os.fdopen(os.dup(self._saved), "w", buffering=1)
        _terminal.append(self._terminal)
        self._open(self.log_path)
        return self

    def _open(self, path: str | None) -> None:
        target = open(path, "a") if path else tempfile.TemporaryFile("w")  # noqa: SIM115
        sys.stderr.flush()
        os.dup2(target.fileno(), 2)
        if self._target is not None:
            self._target.close()
        self._target = target

    def retarget(self, path: str) -> None:
        self._open(path)

    def __exit__(self, *exc: object) -> None:
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._target.close()
        _terminal.remove(self._terminal)
        self._terminal.close()


def quiet_stderr(log_path: str | None = None) -> QuietStderr:
    return QuietStderr(log_path)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
