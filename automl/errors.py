"""One exception root for everything the project raises on purpose.

The CLI turns every :class:`UserInputError` into one line on stderr and exit code 2; anything else
is a bug and keeps its traceback (in the run's log file).
"""

from __future__ import annotations

import difflib
import reprlib
from collections.abc import Iterable
from pathlib import Path

MAX_LINE = 1000
"""Longest one-line error, a safety net: values quoted from user input are abbreviated with
:func:`short` where the message is made (a YAML alias bomb gives a line of under 300
characters); this bound catches any message that quotes a value in full."""

_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 2, 40, 40
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 6


class AutomlError(Exception):
    """Root of the project's exceptions."""


class UserInputError(AutomlError):
    """Bad input from the user (YAML, CLI flag, data file, plugin): exit code 2, one line.

    Args:
        message: What is wrong and what is allowed.
        source: The file (or flag, or plugin) the problem is in.
        key: Where in that source (a dotted YAML path, a column, a field).
    """

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None):
        self.message = message
        self.source = source
        self.key = key
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """``source: key: message`` on one line of at most :data:`MAX_LINE` characters."""
        where = _elide(" ".join(": ".join(p for p in (self.source, self.key) if p).split()), 120)
        message = " ".join(self.message.split())
        if not where:
            return _elide(message, MAX_LINE)
        return f"{where}: {_elide(message, MAX_LINE - len(where) - 2)}"


class SpaceError(UserInputError):
    """A search-space YAML file is invalid."""


class DataError(UserInputError):
    """A data file (arrays, CSV, WAV folder, benchmark table) is missing or malformed."""


class PluginError(UserInputError):
    """A plugin failed to import, registered a name twice or broke its contract."""


class RunError(UserInputError):
    """A run folder cannot be created, found or resumed as asked."""


class TrialFailedError(AutomlError):
    """A child failed on its own (NaN loss, bad shapes): stored as failed, never retried."""


class SearchAbortedError(AutomlError):
    """The search stopped on purpose (too many consecutive failures); the run can be resumed."""


def not_utf8(path: str | Path) -> str:
    """Where the first byte of ``path`` that is not UTF-8 sits (``line 3, column 6, byte
    0xe9``): a decoding error raised while streaming knows only its offset in a chunk, and a
    user fixing a file needs the line."""
    raw = Path(path).read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
        line = raw.count(b"\n", 0, start) + 1
        column = start - (raw.rfind(b"\n", 0, start) + 1) + 1
        return f"line {line}, column {column}, byte 0x{raw[start]:02x}"
    return "a byte"  # the file changed since the error


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """Return ' (did you mean 'x'?)' for the closest candidate, or '' when none is close (a
    candidate that differs only in case is the closest: 'Op' for 'op')."""
    names = [str(c) for c in candidates]
    same = [name for name in names if name.casefold() == str(word).casefold()]
    close = same or difflib.get_close_matches(str(word), names, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def allowed(names: Iterable[object], limit: int = 20) -> str:
    """Format a list of allowed values for an error message (the first ``limit`` of them)."""
    names = list(names)
    shown = ", ".join(short(n) for n in names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def short(value: object) -> str:
    """``repr(value)`` abbreviated to tens of characters, for messages that quote user input."""
    return _SHORT.repr(value)


def _elide(text: str, limit: int) -> str:
    """``text`` cut in the middle to at most ``limit`` characters."""
    if len(text) <= limit:
        return text
    head = max(limit - 40, limit // 2)
    return f"{text[:head]} ... {text[len(text) - (limit - head - 5):]}"
