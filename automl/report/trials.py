"""Read a run's trials for notebooks and scripts: records or a pandas DataFrame."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automl.store import RunFolder
from automl.store import TrialRecord
from automl.store import TrialStore


def load_trials(run: str | Path, runs_dir: str | Path = "runs") -> list[TrialRecord]:
    """Every trial of a run (given as a folder or a name in ``runs_dir``), in trial order."""
    folder = RunFolder.open(run, runs_dir)
    store = TrialStore(folder.db_path, readonly=True)
    try:
        return store.trials()
    finally:
        store.close()


def trials_dataframe(run: str | Path, runs_dir: str | Path = "runs") -> Any:
    """A DataFrame, one row per trial: status, reward, ``metric.*``, ``test.*``, params,
    seconds, summary and the flat encoding as columns."""
    import pandas as pd

    rows = []
    for t in load_trials(run, runs_dir):
        rows.append({
            "trial": t.trial_id, "id": t.arch_id, "status": t.status.value, "reward": t.reward,
            **{f"metric.{k}": v for k, v in t.metrics.items()},
            **{f"test.{k}": v for k, v in t.test_metrics.items()},
            "params": t.params, "train_seconds": t.train_seconds, "summary": t.summary,
            "error": t.error, **t.flat,
        })
    return pd.DataFrame(rows)
