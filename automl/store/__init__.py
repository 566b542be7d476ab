"""Everything persisted: run folders, the SQLite trial store, strategy checkpoints."""

from automl.store.checkpoint import Checkpoint
from automl.store.checkpoint import load_checkpoint
from automl.store.checkpoint import load_checkpoint_meta
from automl.store.checkpoint import save_checkpoint
from automl.store.model_files import ModelFiles
from automl.store.run_folder import RunFolder
from automl.store.run_folder import check_run_name
from automl.store.trial_store import TrialRecord
from automl.store.trial_store import TrialStatus
from automl.store.trial_store import TrialStore
from automl.store.trial_store import ranking_key

__all__ = ["Checkpoint", "ModelFiles", "RunFolder", "TrialRecord", "TrialStatus", "TrialStore",
           "check_run_name", "load_checkpoint", "load_checkpoint_meta", "ranking_key",
           "save_checkpoint"]
