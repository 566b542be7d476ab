"""The search engine: the loop that wires space, strategy, store and executor."""

from automl.engine.api import resume_search
from automl.engine.api import run_search
from automl.engine.search import Progress
from automl.engine.search import SearchOutcome

__all__ = ["Progress", "SearchOutcome", "resume_search", "run_search"]
