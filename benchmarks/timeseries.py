"""Searches on UCR/UEA data sets against MiniRocket + ridge, side by side.

For each data set: a search of N trials (``search_spaces/timeseries.yaml`` with the task's
``dataset`` replaced) through :func:`automl.run_search`, then sktime's MiniRocket (multivariate
variant, 10,000 features) with scikit-learn's ``RidgeClassifierCV`` on the same split: fitted on
the search's training + validation series (the official training split), scored on the official
test split. Both see the task's inputs (per-channel z-normalised, variable-length sets padded).
Prints the best child's validation and test accuracy (best by reward, i.e. validation accuracy,
ties broken by the lower validation loss; the test split never selects), the
MiniRocket test accuracy and the wall times of both. With ``--refit``, also the test accuracy of
the best child refit on training + validation for its best epoch (``automl export --refit``),
which sees the same series MiniRocket is fitted on. With ``--ensemble K``, also the test
accuracy of the average of the best K children (``automl export --ensemble K``; the search keeps
their models). With ``--folds K``, children are cross-validated (``train.folds``): the best
child's validation accuracy is its out-of-fold accuracy over the whole official training split
and its test accuracy that of the mean of its K fold networks. Not a test: a script that prints
figures.

    pip install -e '.[bench]'    # numba, for sktime's MiniRocket
    python benchmarks/timeseries.py [--datasets GunPoint,ItalyPowerDemand,ACSF1,JapaneseVowels]
        [--trials 30] [--strategy random] [--workers 2] [--epochs N] [--folds K] [--refit]
        [--ensemble K]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASETS = "GunPoint,ItalyPowerDemand,ACSF1,JapaneseVowels"


def minirocket(data: Any, seed: int) -> tuple[float, float]:
    """(test accuracy, wall seconds) of MiniRocket + RidgeClassifierCV on ``data``'s split."""
    import numpy as np
    from sklearn.linear_model import RidgeClassifierCV
    from sktime.transformations.panel.rocket import MiniRocketMultivariate

    started = time.perf_counter()
    x_fit = np.concatenate([data.x_train, data.x_val]).transpose(0, 2, 1).astype(np.float64)
    y_fit = np.concatenate([data.y_train, data.y_val])
    transform = MiniRocketMultivariate(random_state=seed).fit(x_fit)
    ridge = RidgeClassifierCV(alphas=np.logspace(-3, 3, 10)).fit(transform.transform(x_fit), y_fit)
    x_test = data.x_test.transpose(0, 2, 1).astype(np.float64)
    accuracy = float(ridge.score(transform.transform(x_test), data.y_test))
    return accuracy, time.perf_counter() - started


def search(config: dict[str, Any], dataset: str, args: argparse.Namespace,
           runs_dir: Path) -> dict[str, Any]:
    """Run one search and return its best child's figures."""
    from automl import ExecutionSettings
    from automl import run_search
    from automl.report import leaderboard_rows
    from automl.space import parse_space
    from automl.store import RunFolder

    config = {**config, "name": f"ts-{dataset}",
              "task": {**config["task"], "dataset": dataset}}
    if args.epochs is not None:
        config["train"] = {**config["train"], "epochs": args.epochs}
    if args.folds is not None:
        config["train"] = {**config["train"], "folds": args.folds}
    space = parse_space(config, source_name=f"{args.space} ({dataset})",
                        base_dir=Path(args.space).resolve().parent)
    execution = ExecutionSettings(workers=args.workers)
    execution = replace(execution, keep_best=max(execution.keep_best, args.ensemble))
    started = time.perf_counter()
    outcome = run_search(space, strategy=args.strategy, trials=args.trials, seed=args.seed,
                         runs_dir=runs_dir, execution=execution)
    wall = time.perf_counter() - started
    # the leaderboard's first row: best by reward; ties (10 validation series give coarse
    # accuracies) by validation loss
    best = leaderboard_rows([RunFolder(outcome.run_path)], statuses=["complete"])[0]
    row = {"run": str(outcome.run_path), "search_seconds": wall,
           "val_accuracy": best["metrics"].get("accuracy"),
           "test_accuracy": best["test_metrics"].get("accuracy"),
           "best": best["summary"], "counts": outcome.counts,
           "folds": int((best["flat"] or {}).get("train.folds") or 0)}
    if args.refit:
        from automl.engine import export_model

        started = time.perf_counter()
        refit = export_model(outcome.run_path, str(best["trial"]),
                             outcome.run_path / "refit.keras", refit=True)
        row.update(refit_test_accuracy=refit.metadata["refit_test_metrics"]["accuracy"],
                   refit_epochs=refit.metadata["refit_epochs"],
                   refit_seconds=time.perf_counter() - started)
    if args.ensemble:
        from automl.engine import export_ensemble

        started = time.perf_counter()
        ensemble = export_ensemble(outcome.run_path, args.ensemble,
                                   outcome.run_path / "ensemble.keras")
        row.update(ensemble_val_accuracy=(ensemble.metadata["metrics"] or {}).get("accuracy"),
                   ensemble_test_accuracy=ensemble.metadata["test_metrics"]["accuracy"],
                   ensemble_members=[m["summary"] for m in ensemble.metadata["ensemble"]],
                   ensemble_member_test=[m["test_metrics"].get("accuracy")
                                         for m in ensemble.metadata["ensemble"]],
                   ensemble_seconds=time.perf_counter() - started)
    return row


def _folds(text: str) -> int | str:
    return text if text == "auto" else int(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default=DEFAULT_DATASETS,
                        help=f"comma-separated names (default: {DEFAULT_DATASETS})")
    parser.add_argument("--space", default=str(ROOT / "search_spaces" / "timeseries.yaml"))
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--strategy", default="random")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the space's train.epochs (the most, with early stopping)")
    parser.add_argument("--folds", type=_folds, default=None, metavar="K",
                        help="override the space's train.folds: cross-validated children, "
                             "scored on K folds of the official training split; auto: 5 "
                             "below 100 training series, else none")
    parser.add_argument("--refit", action="store_true", help="also refit the best child on "
                        "training + validation and print its test accuracy")
    parser.add_argument("--ensemble", type=int, default=0, metavar="K",
                        help="also average the best K children (kept during the search; "
                             "automl export --ensemble K) and print the average's test "
                             "accuracy")
    parser.add_argument("--runs-dir", default=None, help="keep the runs here (default: a "
                        "temporary folder)")
    parser.add_argument("--skip-search", action="store_true", help="MiniRocket only")
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from automl.registry import TASKS
    from automl.registry import ensure_builtins

    ensure_builtins()
    config = yaml.safe_load(Path(args.space).read_text(encoding="utf-8"))
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        runs_dir = Path(args.runs_dir or tmp)
        for dataset in [d.strip() for d in args.datasets.split(",") if d.strip()]:
            data = TASKS.get("ucr").load({"dataset": dataset, **{
                k: v for k, v in config["task"].items() if k not in ("name", "dataset")}},
                base_dir=ROOT, seed=args.seed)
            row: dict[str, Any] = {}
            row["minirocket_test_accuracy"], row["minirocket_seconds"] = minirocket(
                data, args.seed)
            if not args.skip_search:
                row.update(search(config, dataset, args, runs_dir))
            results[dataset] = row
            print(json.dumps({dataset: row}), flush=True)
    _print_table(results, args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")


def _gap(row: dict[str, Any], key: str) -> float | None:
    """How far the best child (as chosen, or refit) is above MiniRocket on test."""
    return None if row.get(key) is None else row[key] - row["minirocket_test_accuracy"]


def _print_table(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    def fmt(value: Any, digits: int = 4) -> str:
        return "-" if value is None else f"{value:.{digits}f}"

    print(f"\n{args.trials} trials, strategy {args.strategy}, {args.workers} workers, "
          f"space {Path(args.space).name}")
    print(f"{'dataset':<18} {'child val':>9} {'child test':>10} {'refit test':>10} "
          f"{'ensemble':>9} {'MiniRocket':>10} {'gap child':>9} {'gap refit':>9} "
          f"{'search s':>9} {'MiniRocket s':>12} {'folds':>5}  best child")
    for name, r in results.items():
        print(f"{name:<18} {fmt(r.get('val_accuracy')):>9} {fmt(r.get('test_accuracy')):>10} "
              f"{fmt(r.get('refit_test_accuracy')):>10} {fmt(r.get('ensemble_test_accuracy')):>9} "
              f"{fmt(r['minirocket_test_accuracy']):>10} {fmt(_gap(r, 'test_accuracy'), 3):>9} "
              f"{fmt(_gap(r, 'refit_test_accuracy'), 3):>9} "
              f"{fmt(r.get('search_seconds'), 0):>9} {fmt(r['minirocket_seconds'], 1):>12} "
              f"{r.get('folds', '-'):>5}  "
              f"{r.get('best', '')}")


if __name__ == "__main__":
    main()
