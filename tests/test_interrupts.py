"""Ctrl-C during a strategy call is held until the call returns, then stops the search."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from automl.interrupts import interrupts_deferred


@pytest.fixture(autouse=True)
def python_sigint_handler() -> Iterator[None]:
    """Python's own SIGINT handler for each test, whatever the runner set: a job started in the
    background by a non-interactive shell (as some CI runners start the suite) inherits SIGINT
    ignored, and then the deferral is rightly a no-op."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_another_handler_is_left_alone() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with interrupts_deferred():
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_sigint_inside_the_block_is_raised_once_it_is_left() -> None:
    finished = False
    with pytest.raises(KeyboardInterrupt):
        with interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            finished = True  # the block is not cut short
    assert finished
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_without_a_signal_nothing_is_raised_and_the_handler_is_restored() -> None:
    with interrupts_deferred():
        pass
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
