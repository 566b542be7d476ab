"""Cross-cutting behaviour that wraps any strategy (placeholder; being written)."""

from __future__ import annotations

from automl.strategies.base import Strategy


def guarded(strategy: Strategy) -> Strategy:
    """The strategy the search loop drives (placeholder: returns it unchanged)."""
    return strategy
