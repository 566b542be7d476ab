"""Leaderboard rows from one or more runs: complete and cached trials by reward, then trials the
scheduler stopped early (``stopped``: partial results), running ones, failed last.

One row per architecture and run by default (a cached repeat is the same result, not a new
rank; ``unique=False`` keeps every trial), filtered by status and by conditions such as
``params<50000``, sorted by the reward or any stored number. The store is opened read-only, so
a leaderboard works while a search is writing to it.
"""

from __future__ import annotations

import csv
import io
import json
import operator
import os
import re
from collections.abc import Sequence
from typing import Any

from automl.errors import UserInputError
from automl.errors import allowed
from automl.store import RunFolder
from automl.store import TrialStatus
from automl.store import TrialStore
from automl.store import ranking_key

_STATUS_ORDER = {TrialStatus.COMPLETE: 0, TrialStatus.CACHED: 0, TrialStatus.STOPPED: 1,
                 TrialStatus.RUNNING: 2, TrialStatus.PENDING: 2, TrialStatus.FAILED: 3}
"""Full results first; a child stopped early (a partial result) ranks below every full one."""


_OPERATORS = {"<=": operator.le, ">=": operator.ge, "!=": operator.ne, "==": operator.eq,
              "<": operator.lt, ">": operator.gt, "=": operator.eq}
_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(<=|>=|!=|==|<|>|=)\s*([^<>=!\s].*?)\s*$")
_LOWER_IS_BETTER = ("params", "train_seconds", "trial", "mse", "mae", "rmse")
"""Keys sorted smallest first by default (also any metric named ``...loss``, and each of
these as a test metric, ``test.mse``)."""


def run_labels(runs: Sequence[RunFolder]) -> list[str]:
    """How rows and plots name each run: its folder's name, or, where two runs share one
    (copies in two runs folders), the paths that tell them apart; keyed by name alone their
    trials would merge. One run given twice is refused."""
    resolved = [run.path.resolve() for run in runs]
    if len(set(resolved)) != len(resolved):
        twice = next(run for run, path in zip(runs, resolved, strict=True)
                     if resolved.count(path) > 1)
        raise UserInputError(f"run {twice.name!r} is named twice", key="RUN")
    names = [run.name for run in runs]
    return [name if names.count(name) == 1 else _shown_path(path)
            for name, path in zip(names, resolved, strict=True)]


def _shown_path(path: os.PathLike[str]) -> str:
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def leaderboard_rows(runs: Sequence[RunFolder], *, top: int | None = None,
                     unique: bool = True, statuses: Sequence[str] = (),
                     sort: str | None = None, where: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The trials of the runs as plain dicts, best first (failed trials never top).

    Args:
        top: Keep the first ``top`` rows.
        unique: One row per (run, architecture): its best trial, with ``trials`` counting them.
        statuses: Keep only these statuses (``complete``, ``cached``, ``failed``, ...).
        sort: A key of :func:`row_value` (``reward``, ``params``, ``accuracy``,
            ``test.accuracy``, ...), best first: descending, except for losses, ``params`` and
            ``train_seconds``; ``KEY:asc`` or ``KEY:desc`` chooses. Rows without it come last.
        where: Conditions ``KEY OP VALUE`` (``<``, ``<=``, ``>``, ``>=``, ``==``, ``!=``), all
            of which a row must meet.
    """
    rows: list[dict[str, Any]] = []
    for run, label in zip(runs, run_labels(runs), strict=True):
        store = TrialStore(run.db_path, readonly=True)
        try:
            epochs = store.epoch_counts()
            # --mode one-shot: each retrained child's score under the shared weights
            one_shot = (store.meta("one_shot") or {}).get("scores", {})
            for trial in store.trials():
                rows.append({
                    "run": label, "trial": trial.trial_id, "id": trial.arch_id,
                    "status": trial.status.value, "reward": trial.reward,
                    "metrics": trial.metrics, "test_metrics": trial.test_metrics,
                    "params": trial.params, "train_seconds": trial.train_seconds,
                    "summary": trial.summary, "flat": trial.flat, "error": trial.error,
                    "cached_from": trial.cached_from, "epochs": epochs.get(trial.trial_id),
                    "one_shot": one_shot.get(trial.arch_id),
                })
        finally:
            store.close()
    rows.sort(key=lambda r: (_STATUS_ORDER[TrialStatus(r["status"])],
                             ranking_key(r["reward"], r["metrics"] or {}, 0), r["run"],
                             r["trial"]))
    known = {s.value for s in TrialStatus}
    for status in statuses:
        if status not in known:
            raise UserInputError(f"unknown status {status!r}; allowed: {allowed(sorted(known))}",
                                 key="--status")
    if statuses:
        rows = [r for r in rows if r["status"] in statuses]
    if unique:
        best: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            kept = best.setdefault((row["run"], row["id"]), row)
            kept["trials"] = kept.get("trials", 0) + 1
        rows = list(best.values())
    for condition in where:
        _check_condition(rows, condition)
        rows = [r for r in rows if _meets(r, condition)]
    if sort:
        rows = _sorted(rows, sort)
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows[:top] if top else rows


ROW_KEYS = ("reward", "params", "train_seconds", "trial", "one_shot")
"""Numbers every leaderboard row has by these names, besides its metrics and decisions."""


def row_value(row: dict[str, Any], key: str) -> Any:
    """A row's number by name: ``reward``, ``params``, ``train_seconds``, ``trial``,
    ``one_shot`` (the score under shared weights, one-shot runs), a metric (``accuracy``,
    ``loss``), a test metric (``test.accuracy``) or a decision (``num_layers``)."""
    if key in ROW_KEYS:
        return row[key]
    if key.startswith("test."):
        return row["test_metrics"].get(key[5:])
    if key in row["metrics"]:
        return row["metrics"][key]
    return row["flat"].get(key)


def _check_condition(rows: Sequence[dict[str, Any]], condition: str) -> None:
    """A key no row has, or an order comparison with a non-number, would silently keep no row
    or every row: refuse both."""
    match = _CONDITION.match(condition)
    if not match:
        return  # _meets names the syntax error
    key, op, text = match.groups()
    if rows and all(row_value(r, key) is None for r in rows):
        keys = sorted({*ROW_KEYS, *(k for r in rows for k in r["metrics"]),
                       *(f"test.{k}" for r in rows for k in r["test_metrics"]),
                       *(k for r in rows for k in r["flat"])})
        raise UserInputError(f"no row has {key!r}; keys: {', '.join(keys)}", key="--where")
    if op in ("<", "<=", ">", ">="):
        try:
            number = float(text)
        except ValueError:
            raise UserInputError(f"{condition!r}: {op} needs a number, not {text!r}",
                                 key="--where") from None
        if number != number:  # every comparison with NaN is false: no row, and no reason
            raise UserInputError(f"{condition!r}: {op} needs a number, not NaN",
                                 key="--where")


def _meets(row: dict[str, Any], condition: str) -> bool:
    match = _CONDITION.match(condition)
    if not match:
        raise UserInputError(f"{condition!r} is not KEY OP VALUE; OP is one of "
                             f"{allowed(['<', '<=', '>', '>=', '==', '!='])}", key="--where")
    key, op, text = match.groups()
    value = row_value(row, key)
    if value is None:
        return False
    try:
        wanted: Any = float(text)
    except ValueError:
        wanted = text.strip("'\"")
        value = str(value)
    try:
        return bool(_OPERATORS[op](value, wanted))
    except TypeError:
        return False


def _sorted(rows: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    key, _, direction = sort.partition(":")
    if direction not in ("", "asc", "desc"):
        raise UserInputError(f"{sort!r}: the direction must be asc or desc", key="--sort")
    ascending = direction == "asc" or (
        not direction and (key.removeprefix("test.") in _LOWER_IS_BETTER
                           or key.endswith("loss")))
    present = [r for r in rows if isinstance(row_value(r, key), (int, float))]
    if not present:  # a categorical decision (layers.0.activation): alphabetical
        present = [r for r in rows if isinstance(row_value(r, key), str)]
        ascending = direction != "desc"
    if rows and not present:
        metrics = sorted({m for r in rows for m in r["metrics"]}) or ["accuracy", "loss"]
        raise UserInputError(f"no row has {key!r}; try {', '.join(ROW_KEYS)} (one-shot runs), "
                             f"a metric of these runs ({', '.join(metrics)}), test.METRIC or "
                             "a decision (num_layers, layers.0.units)", key="--sort")
    present.sort(key=lambda r: row_value(r, key), reverse=not ascending)
    return present + [r for r in rows if r not in present]


def to_json(rows: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(rows), indent=2)


METRIC_ORDER = ("accuracy", "uar", "ccc", "mse", "mae", "rmse", "loss")
"""The built-in metrics in the order every leaderboard format shows them; others (a plugin's,
``best_epoch``) follow by name."""

COUNT_METRICS = ("best_epoch",)
"""Metrics that count (epochs): shown as integers, not to four decimals."""


def metric_columns(rows: Sequence[dict[str, Any]], key: str = "metrics") -> list[str]:
    """The metrics the rows have (``key``: ``metrics`` or ``test_metrics``), in one order for
    the table, CSV, Markdown and the HTML report."""
    names = {k for r in rows for k in r[key]}
    return ([m for m in METRIC_ORDER if m in names]
            + sorted(names.difference(METRIC_ORDER)))


def format_number(value: Any, name: str = "") -> str:
    """A cell's text: counts as integers, other floats to four decimals, None as ``-``."""
    if value is None:
        return "-"
    if name in COUNT_METRICS and isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def to_markdown(rows: Sequence[dict[str, Any]], *, test: bool = False) -> str:
    """A GitHub-flavoured Markdown table (for reports, issues and notebooks)."""
    metric_names = metric_columns(rows)
    test_names = metric_columns(rows, "test_metrics") if test else []
    shot = any(r.get("one_shot") is not None for r in rows)
    counted = any("trials" in r for r in rows)
    stopped = any(r["status"] == "stopped" for r in rows)  # where each stopped: its epochs
    header = ["rank", "run", "trial", "id", "status", *(["trials"] if counted else []),
              "reward", *(["one_shot"] if shot else []), *metric_names,
              *(f"test.{m}" for m in test_names), "params", *(["epochs"] if stopped else []),
              "architecture"]

    def cell(value: Any, name: str = "") -> str:
        return format_number(value, name).replace("|", "\\|")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        values = [cell(r["rank"]), cell(r["run"]), cell(r["trial"]), cell(r["id"]),
                  cell(r["status"]), *([cell(r.get("trials"))] if counted else []),
                  cell(r["reward"]), *([cell(r.get("one_shot"))] if shot else []),
                  *(cell(r["metrics"].get(m), m) for m in metric_names),
                  *(cell(r["test_metrics"].get(m), m) for m in test_names), cell(r["params"]),
                  *([cell(r.get("epochs"))] if stopped else []), cell(r["summary"])]
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def to_csv(rows: Sequence[dict[str, Any]], *, test: bool = False) -> str:
    metric_names = metric_columns(rows)
    test_names = metric_columns(rows, "test_metrics") if test else []
    counted = any("trials" in r for r in rows)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["rank", "run", "trial", "id", "status", *(["trials"] if counted else []),
                     "reward", "one_shot", *metric_names,
                     *(f"test.{m}" for m in test_names), "params", "train_seconds", "epochs",
                     "summary"])
    for r in rows:
        writer.writerow([r["rank"], r["run"], r["trial"], r["id"], r["status"],
                         *([r.get("trials")] if counted else []), r["reward"],
                         r.get("one_shot"), *(r["metrics"].get(m) for m in metric_names),
                         *(r["test_metrics"].get(m) for m in test_names), r["params"],
                         r["train_seconds"], r.get("epochs"), r["summary"]])
    return out.getvalue()
