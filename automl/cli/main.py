"""The `automl` command. Renders; never computes. Bad input: one line on stderr, exit code 2."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from automl._version import __version__

# Command modules, each with register(subparsers); imported lazily so `automl --help` is quick.
COMMAND_MODULES = (
    "automl.cli.search",
    "automl.cli.runs",
    "automl.cli.export",
    "automl.cli.report",
    "automl.cli.spaces",
    "automl.cli.bench",
    "automl.cli.tabulate",
    "automl.cli.plugins",
)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad flag is one line (no usage block) with exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"error: {self.prog}: {message}\n")
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="automl", description="Architecture search for deep learning on "
                     "signals: REINFORCE and DQN controllers, Keras children on Ray.")
    parser.add_argument("--version", action="version", version=f"automl {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                       parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from automl.errors import UserInputError

    parser = build_parser()
    args = parser.parse_args(argv)
    _show_plugin_notices()
    try:
        return int(args.handler(args) or 0)
    except UserInputError as exc:
        sys.stderr.write(f"error: {exc.one_line()}\n")
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:  # commands with work to keep catch it first and say more
        sys.stderr.write("Interrupted\n")
        return 130


NOTICE_LOGGERS = ("automl.plugins", "automl.cluster", "automl.space", "automl.data",
                  "automl.resume")
"""Loggers whose records the user must see (which plugin code runs; a cluster too small for the
workers asked, advice on a valid space, parts of a data file not read, what a resume could not
continue), one ``note: ...`` line each on stderr."""


def _show_plugin_notices() -> None:
    """Which plugin code a command runs, and what a cluster lacks, one line each on stderr
    (``note: ...``)."""
    import logging

    class Notice(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:  # the user's stderr, even while a
            from automl.cli._common import terminal_stderr  # search sends fd 2 to a log file

            stream = terminal_stderr()
            stream.write(f"note: {record.getMessage()}\n")
            stream.flush()

    for name in NOTICE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(type(h).__name__ == "Notice" for h in logger.handlers):
            logger.addHandler(Notice())


if __name__ == "__main__":
    sys.exit(main())
