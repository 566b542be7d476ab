"""`automl leaderboard` and `automl show`: read runs, never compute."""

from __future__ import annotations

import argparse
import bisect
import json
from collections.abc import Sequence
from typing import Any

from automl.cli._common import console
from automl.cli._common import err_console
from automl.cli._common import non_empty
from automl.cli._common import positive_int


def register(subparsers: Any) -> None:
    board = subparsers.add_parser("leaderboard", help="rank the trials of one or more runs")
    board.add_argument("runs", nargs="*", help="run folders or names (default: every run)")
    board.add_argument("--top", type=positive_int, default=None, help="rows to show")
    board.add_argument("--format", choices=("table", "json", "csv", "markdown"), default="table")
    board.add_argument("--all", action="store_true",
                       help="every trial (default: one row per architecture, its best trial)")
    board.add_argument("--status", action="append", default=[], metavar="STATUS",
                       help="only trials with this status: complete, cached, stopped, "
                            "failed, running, pending (repeatable, or comma-separated)")
    board.add_argument("--sort", type=non_empty, default=None, metavar="KEY",
                       help="sort by reward, params, train_seconds, a metric (accuracy, loss), "
                            "test.METRIC or a decision (num_layers, layers.0.activation: "
                            "text in alphabetical order); KEY:asc / KEY:desc to choose the order")
    board.add_argument("--where", action="append", type=non_empty, default=[],
                       metavar="COND",
                       help='keep rows meeting KEY OP VALUE, e.g. "params<50000" (repeatable)')
    board.add_argument("--test", action="store_true", help="add the test metrics as columns")
    board.add_argument("--runs-dir", default="runs", help="folder of runs (default: runs)")
    board.set_defaults(handler=run_leaderboard)

    show = subparsers.add_parser("show", help="one run's progress, or one trial in detail")
    show.add_argument("run", help="run folder or name")
    show.add_argument("trial", nargs="?", default=None,
                      help="trial number or architecture id (prefix)")
    show.add_argument("--runs-dir", default="runs", help="folder of runs (default: runs)")
    show.add_argument("--format", choices=("table", "json"), default="table")
    show.set_defaults(handler=run_show)


def _open_runs(names: Sequence[str], runs_dir: str) -> list[Any]:
    from pathlib import Path

    from automl.errors import RunError
    from automl.store import RunFolder
    from automl.store import TrialStore

    if names:
        return [RunFolder.open(name, runs_dir) for name in names]
    root = Path(runs_dir)
    if root.exists() and not root.is_dir():
        raise RunError(f"{runs_dir!r} is a file, not a folder of runs", key="--runs-dir")
    runs = sorted(p for p in root.glob("*/run.json")) if root.is_dir() else []
    if not runs:
        raise RunError(f"no runs found in {runs_dir}/", key="--runs-dir")
    readable = []
    for path in runs:  # every run: one damaged run is named and skipped, not fatal to all
        try:
            with TrialStore(RunFolder(path.parent).db_path, readonly=True) as store:
                store.trials()  # a row this code did not write names the run, too
        except RunError as exc:
            err_console.print(f"note: skipping {exc.one_line()}", markup=False)
            continue
        readable.append(RunFolder(path.parent))
    if not readable:
        raise RunError(f"no readable runs in {runs_dir}/", key="--runs-dir")
    return readable


def print_leaderboard(runs: Sequence[Any], *, top: int | None = None,
                      rows: list[dict[str, Any]] | None = None, test: bool = False) -> None:
    from rich.table import Table

    from automl.report import leaderboard_rows
    from automl.report.leaderboard import format_number
    from automl.report.leaderboard import metric_columns
    from automl.report.leaderboard import run_labels

    rows = leaderboard_rows(runs, top=top) if rows is None else rows
    metric_names = metric_columns(rows)
    test_names = metric_columns(rows, "test_metrics") if test else []
    shot = any(r.get("one_shot") is not None for r in rows)
    counted = any(r.get("trials", 1) > 1 for r in rows)  # a column only where one repeats
    table = Table(title=f"Leaderboard ({', '.join(run_labels(runs))})", title_justify="left")
    for column in ("rank", *(["run"] if len(runs) > 1 else []), "trial", "id", "status",
                   *(["trials"] if counted else []), "reward", *(["one-shot"] if shot else []),
                   *metric_names, *(f"test.{m}" for m in test_names), "params", "seconds",
                   "architecture"):
        left = column in ("id", "status", "architecture", "run")
        table.add_column(column, justify="left" if left else "right",
                         # an id folded over two lines cannot be copied
                         no_wrap=column == "id", overflow="ellipsis" if column == "id" else "fold")
    for r in rows:
        table.add_row(
            str(r["rank"]), *([r["run"]] if len(runs) > 1 else []), str(r["trial"]), r["id"],
            r["status"], *([str(r.get("trials", 1))] if counted else []),
            format_number(r["reward"]), *([format_number(r.get("one_shot"))] if shot else []),
            *(format_number(r["metrics"].get(m), m) for m in metric_names),
            *(format_number(r["test_metrics"].get(m), m) for m in test_names),
            "-" if r["params"] is None else f"{r['params']:,}",
            "-" if r["train_seconds"] is None else f"{r['train_seconds']:.1f}",
            _architecture_cell(r))
    console.print(table)
    if not rows:
        console.print("no trials to show", markup=False)


def _architecture_cell(row: dict[str, Any]) -> str:
    if row["status"] == "failed":
        return f"{row['summary']}  [{(row['error'] or '').splitlines()[0][:80]}]"
    if row["status"] == "stopped":  # a partial result: say how partial
        return f"{row['summary']}  [stopped early at epoch {row.get('epochs') or '?'}]"
    return str(row["summary"])


def run_leaderboard(args: argparse.Namespace) -> int:
    from automl.report import leaderboard_rows
    from automl.report import to_csv
    from automl.report import to_json
    from automl.report import to_markdown

    runs = _open_runs(args.runs, args.runs_dir)
    _note_mixed_rewards(runs)
    statuses = [s.strip() for item in args.status for s in item.split(",") if s.strip()]
    rows = leaderboard_rows(runs, top=args.top, unique=not args.all, statuses=statuses,
                            sort=args.sort, where=args.where)
    if args.format == "table":
        print_leaderboard(runs, rows=rows, test=args.test)
    elif args.format == "json":
        print(to_json(rows))
    elif args.format == "markdown":
        print(to_markdown(rows, test=args.test), end="")
    else:
        print(to_csv(rows, test=args.test), end="")
    return 0


def _note_mixed_rewards(runs: Sequence[Any]) -> None:
    """Runs scored by different rewards (accuracy, ccc, neg_val_loss) are still ranked on one
    scale: say so (runs made before ``run.json`` named the reward are left out)."""
    from automl.errors import RunError
    from automl.report.leaderboard import run_labels

    rewards: dict[str, list[str]] = {}
    for run, label in zip(runs, run_labels(runs), strict=True):
        try:
            reward = run.info().get("reward")
        except RunError:
            continue
        if isinstance(reward, str):
            rewards.setdefault(reward, []).append(label)
    if len(rewards) > 1:
        err_console.print("note: these runs are scored by different rewards ("
                          + "; ".join(f"{name}: {', '.join(names)}"
                                      for name, names in sorted(rewards.items()))
                          + "); their rewards are ranked on one scale")


def _print_one_shot_history(history: list[dict[str, Any]]) -> None:
    """The shared-weight phase per epoch (at most about 20 rows, the last one always)."""
    from rich.table import Table

    if not history:
        return
    table = Table(title="One-shot phase per epoch", title_justify="left")
    for column in ("epoch", "loss", "controller mean reward", "best", "seconds"):
        table.add_column(column, justify="right")
    step = max(1, len(history) // 20)
    for e in history[::step] if history[::step][-1] is history[-1] else [
            *history[::step], history[-1]]:
        table.add_row(str(e["epoch"]), _fmt(e["loss"]), _fmt(e["mean_reward"]),
                      _fmt(e["best_reward"]), f"{e['seconds']:.1f}")
    console.print(table)


def _one_shot_phase(run: Any) -> dict[str, Any]:
    """How far an unfinished one-shot phase got: its last checkpoint's epoch and history
    (none yet: 0 epochs)."""
    from automl.errors import RunError
    from automl.store import load_checkpoint_meta

    path = run.path / "one_shot.npz"
    try:
        meta = load_checkpoint_meta(path) if path.is_file() else {}
    except RunError:
        meta = {}
    return {"epochs": int(meta.get("epoch", 0)), "history": list(meta.get("history", []))}


def run_show(args: argparse.Namespace) -> int:
    from automl.store import RunFolder
    from automl.store import TrialStore

    run = RunFolder.open(args.run, args.runs_dir)
    store = TrialStore(run.db_path, readonly=True)
    try:
        if args.trial is None:
            return _show_run(run, store, args.format)
        return _show_trial(run, store, args.trial, args.format)
    finally:
        store.close()


def _show_run(run: Any, store: Any, fmt: str) -> int:
    from rich.table import Table

    info = run.info()
    updates = store.strategy_updates()
    counts = store.counts()
    one_shot = store.meta("one_shot")
    phase = (_one_shot_phase(run) if one_shot is None and info.get("mode") == "one-shot"
             else None)  # killed or still in its shared-weight phase
    if fmt == "json":
        print(json.dumps({"run": run.name, "info": info, "counts": counts,
                          "strategy_updates": updates, "one_shot": one_shot,
                          "one_shot_phase": phase}, indent=2))
        return 0
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    console.print(f"Run {run.name}: strategy {info.get('strategy')}, seed {info.get('seed')}, "
                  f"{info.get('trials')} trials requested"
                  + (f"; {statuses}" if statuses else ""), markup=False)
    if phase is not None:
        total = (info.get("one_shot") or {}).get("epochs", "?")
        console.print(f"Mode one-shot: the shared-weight phase has not finished ("
                      f"{phase['epochs']} of {total} epochs; automl resume continues it from "
                      "its last epoch)", markup=False)
        _print_one_shot_history(phase["history"])
    if one_shot is not None:
        tau = one_shot.get("kendall_tau")
        console.print(f"Mode one-shot: {one_shot['epochs']} epochs of shared training, "
                      f"{one_shot.get('controller_updates', 0)} controller updates, "
                      f"{len(one_shot['scores'])} candidates ranked, top "
                      f"{len(one_shot['chosen'])} retrained; Kendall tau (one-shot ranking vs "
                      f"reward): {_tau_text(tau, one_shot)}", markup=False)
        _print_one_shot_history(one_shot.get("history", []))
    names = info.get("class_names") or []
    if names:
        console.print(f"Classes ({len(names)}, index order): "
                      + ", ".join(f"{i}={name}" for i, name in enumerate(names)), markup=False)
    if updates:
        keys = [k for k in updates[-1] if k not in ("step", "told_seq", "created_at")]
        table = Table(title=f"Strategy progress ({len(updates)} updates)", title_justify="left")
        for column in ("update", "after trial", "results told", *keys):
            table.add_column(column, justify="right")
        # told_seq numbers asks and tells together; name the trial told then instead
        told = sorted((t.told_seq, t.trial_id) for t in store.trials() if t.told_seq)
        seqs = [seq for seq, _ in told]
        numbered = list(enumerate(updates, start=1))  # the update's number, not a
        shown = (numbered if len(numbered) <= 20  # strategy's own step counter (DQN's
                 else numbered[:: max(1, len(numbered) // 20)])  # counts gradient steps)
        for number, u in shown if shown[-1] is numbered[-1] else [*shown, numbered[-1]]:
            count = bisect.bisect_right(seqs, u["told_seq"])
            trial = told[count - 1][1] if count and seqs[count - 1] == u["told_seq"] else "-"
            table.add_row(str(number), str(trial), str(count),
                          *(_fmt(u.get(k)) for k in keys))
        console.print(table)
    print_leaderboard([run], top=10)
    return 0


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _show_trial(run: Any, store: Any, key: str, fmt: str) -> int:
    from automl.errors import RunError

    trial = store.find_trial(key)
    if trial is None:
        raise RunError(f"no trial {key!r} in run {run.name}", source=str(run.path), key="TRIAL")
    epochs = store.epochs(trial.trial_id)
    if fmt == "json":
        scores = (store.meta("one_shot") or {}).get("scores", {})
        print(json.dumps({**trial.to_dict(), "epochs": epochs,
                          "one_shot": scores.get(trial.arch_id),
                          "keras_summary": _keras_summary(run, trial, store)}, indent=2))
        return 0
    console.print(f"Trial {trial.trial_id} of run {run.name}  id {trial.arch_id}  "
                  f"status {trial.status.value}", markup=False)
    console.print(f"Architecture: {trial.summary}", markup=False)
    console.print(f"Reward: {trial.reward}", markup=False)
    one_shot = store.meta("one_shot")
    if one_shot is not None and trial.arch_id in one_shot.get("scores", {}):
        console.print(f"One-shot score (validation reward under the shared weights, rank "
                      f"{one_shot['ranking'].index(trial.arch_id) + 1} of "
                      f"{len(one_shot['ranking'])}): {one_shot['scores'][trial.arch_id]}",
                      markup=False)
    folds = int((trial.architecture.get("train") or {}).get("folds") or 0)
    how = (f" (out of fold: training + validation in {folds} folds; test: the mean of the "
           f"{folds} fold networks)" if folds >= 2 else "")
    console.print(f"Validation metrics{how}: {json.dumps(trial.metrics)}", markup=False)
    console.print(f"Test metrics (reported, never used for selection): "
                  f"{json.dumps(trial.test_metrics)}", markup=False)
    console.print(f"Parameters: {trial.params}  train seconds: {trial.train_seconds}  "
                  f"host: {trial.host}  attempts: {trial.attempts}", markup=False)
    if trial.error:
        console.print(f"Error: {trial.error}", markup=False)
    if trial.status.value == "stopped":
        from automl.training.recipe import Recipe

        planned = Recipe.from_train(trial.architecture.get("train", {})).epochs
        console.print(f"Stopped early by the scheduler after epoch {len(epochs)} of {planned}: "
                      "the reward and metrics are those of that epoch's model, a partial "
                      "result", markup=False)
    if epochs and "fold" in epochs[0]:  # a cross-validated child: one line per fold
        for fold in sorted({int(e["fold"]) for e in epochs}):
            console.print(f"Fold {fold} epochs: " + "  ".join(
                f"{int(e['fold_epoch'])}:{e['val_loss']:.4f}" for e in epochs
                if int(e["fold"]) == fold and "val_loss" in e) + "  (epoch:val_loss)",
                markup=False)
    elif epochs:
        console.print("Epochs: " + "  ".join(
            f"{int(e['epoch'])}:{e['val_loss']:.4f}" for e in epochs if "val_loss" in e)
            + "  (epoch:val_loss)", markup=False)
    console.print("Flat encoding:", markup=False)
    for k, v in trial.flat.items():
        console.print(f"  {k} = {v}", markup=False)
    console.print(_keras_summary(run, trial, store), markup=False)
    return 0


def _keras_summary(run: Any, trial: Any, store: Any) -> str:
    """The Keras summary the worker stored when it trained the child (nothing is built here: a
    run folder someone sent is data, and loading its dataset would take longer than reading)."""
    text = store.keras_summary(trial.trial_id)
    if text is None and trial.cached_from is not None:
        text = store.keras_summary(trial.cached_from)
    if text is not None:
        return text
    if trial.status.value in ("running", "pending"):
        return "(no Keras summary yet: the child is still training)"
    return ("(no Keras summary stored for this trial: it failed before its model was built, or "
            "the run was made by an automl that did not store summaries)")


def _tau_text(tau: float | None, one_shot: dict[str, Any]) -> str:
    """The Kendall tau of a one-shot run, or why it is undefined."""
    if tau is not None:
        return f"{tau:.3f}"
    note = one_shot.get("kendall_tau_note")
    return f"- ({note})" if note else "-"
