"""Ctrl-C during a strategy call is held until the call returns, then stops the search."""

from __future__ import annotations

import os
import signal

import pytest

from automl.interrupts import interrupts_deferred


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
