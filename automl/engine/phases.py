"""Seconds the search loop spends in each of its own steps (store, tell, checkpoint, ask, ...).

The driver's share of a child's overhead is the time between its slot's previous result arriving
and the child being submitted; this says which step that time went to, without a profiler.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class PhaseClock:
    """Accumulates the duration of every timed step, by name (``seconds[name]``: one entry per
    time the step ran)."""

    def __init__(self) -> None:
        self.seconds: dict[str, list[float]] = {}

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds.setdefault(name, []).append(time.perf_counter() - started)


__all__ = ["PhaseClock"]
