"""Leaderboard rows from one or more runs: complete and cached trials by reward, failed last."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from automl.store import RunFolder
from automl.store import TrialStatus
from automl.store import TrialStore

_STATUS_ORDER = {TrialStatus.COMPLETE: 0, TrialStatus.CACHED: 0, TrialStatus.RUNNING: 1,
                 TrialStatus.PENDING: 1, TrialStatus.FAILED: 2}


def leaderboard_rows(runs: Sequence[RunFolder], *, top: int | None = None) -> list[dict[str, Any]]:
    """Every trial of the runs as plain dicts, best first (failed trials never top)."""
    rows: list[dict[str, Any]] = []
    for run in runs:
        store = TrialStore(run.db_path, readonly=True)
        try:
            for trial in store.trials():
                rows.append({
                    "run": run.name, "trial": trial.trial_id, "id": trial.arch_id,
                    "status": trial.status.value, "reward": trial.reward,
                    "metrics": trial.metrics, "test_metrics": trial.test_metrics,
                    "params": trial.params, "train_seconds": trial.train_seconds,
                    "summary": trial.summary, "flat": trial.flat, "error": trial.error,
                    "cached_from": trial.cached_from,
                })
        finally:
            store.close()
    rows.sort(key=lambda r: (_STATUS_ORDER[TrialStatus(r["status"])],
                             -(r["reward"] if r["reward"] is not None else float("-inf")),
                             r["run"], r["trial"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows[:top] if top else rows


def to_json(rows: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(rows), indent=2)


def to_csv(rows: Sequence[dict[str, Any]]) -> str:
    metric_names = sorted({k for r in rows for k in r["metrics"]})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rank", "run", "trial", "id", "status", "reward", *metric_names, "params",
                     "train_seconds", "summary"])
    for r in rows:
        writer.writerow([r["rank"], r["run"], r["trial"], r["id"], r["status"], r["reward"],
                         *(r["metrics"].get(m) for m in metric_names), r["params"],
                         r["train_seconds"], r["summary"]])
    return out.getvalue()
