"""Ctrl-C that waits for a strategy call to return.

A learning strategy's ``ask`` and ``tell`` run TensorFlow (a traced update, a first call that
traces). A KeyboardInterrupt raised inside them can surface as another exception (seen: a
``TypeError`` from Keras' LSTM call), so the search would exit with a traceback instead of
stopping cleanly with its resume command. These calls take milliseconds, so holding the
signal until they return costs no responsiveness; the search loop's own handling of Ctrl-C
(end the running children, keep every finished trial) then applies as everywhere else.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold SIGINT inside the block; raise KeyboardInterrupt once it is left if one came.

    A no-op outside the main thread or when SIGINT has another handler than Python's default
    (a host application's own handling is left alone).
    """
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler):
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if received:
        raise KeyboardInterrupt


__all__ = ["interrupts_deferred"]
