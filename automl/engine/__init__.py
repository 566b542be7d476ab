"""The search engine: the loop that wires space, strategy, store and executor."""

from automl.engine.api import check_space_data
from automl.engine.api import resume_search
from automl.engine.api import reward_name
from automl.engine.api import run_search
from automl.engine.ensemble import export_ensemble
from automl.engine.export import ExportResult
from automl.engine.export import export_model
from automl.engine.export import load_run_data
from automl.engine.search import Progress
from automl.engine.search import SearchOutcome

__all__ = ["ExportResult", "Progress", "SearchOutcome", "check_space_data", "export_ensemble",
           "export_model", "load_run_data", "resume_search", "reward_name", "run_search"]
