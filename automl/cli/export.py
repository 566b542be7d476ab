"""`automl export`: write one child's trained model, or the average of the best K, as a
``.keras`` file (the engine does it)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from automl.cli._common import check_output_file
from automl.cli._common import console
from automl.cli._common import non_empty
from automl.cli._common import quiet_stderr


def register(subparsers: Any) -> None:
    export = subparsers.add_parser(
        "export", help="write a trial's trained model as a .keras file",
        description="Write the kept model of a trial (or retrain it from its recorded "
                    "architecture, settings and seed) to a .keras file with a .json sidecar.")
    export.add_argument("run", help="run folder or name")
    export.add_argument("trial", nargs="?", default=None,
                        help="trial number or architecture id (prefix); default: the best")
    export.add_argument("--best", action="store_true", help="the best trial (the default)")
    export.add_argument("-o", "--output", type=non_empty, required=True,
                        metavar="FILE.keras",
                        help="where to write the model (FILE.json gets its metadata)")
    export.add_argument("--retrain", action="store_true",
                        help="train the child again even if its model was kept")
    export.add_argument("--refit", action="store_true",
                        help="train the child again on the training and validation splits "
                             "together, for the epochs its search training chose (its best "
                             "epoch under early stopping): the model to deploy")
    export.add_argument("--ensemble", type=int, default=None, metavar="K",
                        help="write one model averaging the outputs of the run's best K "
                             "children (kept models, or retrained where none was kept), with "
                             "its own validation and test metrics in the sidecar")
    export.add_argument("--runs-dir", default="runs", help="folder of runs (default: runs)")
    export.set_defaults(handler=run_export)


def run_export(args: argparse.Namespace) -> int:
    from automl.errors import UserInputError

    if args.best and args.trial is not None:
        raise UserInputError("give a TRIAL or --best, not both", key="--best")
    if args.ensemble is not None and (args.trial is not None or args.best):
        raise UserInputError("give a TRIAL, --best or --ensemble, not two of them",
                             key="--ensemble")
    check_output_file(args.output, "-o")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if args.ensemble is not None:
        return _export_ensemble(args)
    from automl.engine import export_model

    with quiet_stderr():
        result = export_model(args.run, args.trial, args.output, retrain=args.retrain,
                              refit=args.refit, runs_dir=args.runs_dir)
    plugins = result.metadata.get("plugins") or []
    if result.retrained and plugins:  # the notice went to the quieted stderr: say it again
        sys.stderr.write(f"note: ran plugin code named by the run's run.json (to retrain): "
                         f"{', '.join(plugins)}\n")
    how = "retrained from its recorded seed" if result.retrained else "kept weights"
    if result.metadata["refit"]:
        test = ", ".join(f"{k} {v:.4f}" for k, v in result.metadata["test_metrics"].items())
        epochs = result.metadata["refit_epochs"]
        how = (f"refit on {result.metadata['refit_examples']} training + validation examples "
               f"for {epochs} epoch{'s' if epochs != 1 else ''}; test {test}")
    console.print(f"trial {result.trial_id} ({result.metadata['arch_id']}, {how}) -> "
                  f"{result.path} (metadata {result.metadata_path})", markup=False)
    return 0


def _export_ensemble(args: argparse.Namespace) -> int:
    from automl.engine import export_ensemble

    with quiet_stderr():
        result = export_ensemble(args.run, args.ensemble, args.output, retrain=args.retrain,
                                 refit=args.refit, runs_dir=args.runs_dir)
    meta = result.metadata
    if meta["trained_again"] and meta["plugins"]:
        sys.stderr.write(f"note: ran plugin code named by the run's run.json (to retrain): "
                         f"{', '.join(meta['plugins'])}\n")
    if len(meta["ensemble"]) < args.ensemble:
        sys.stderr.write(f"note: --ensemble {args.ensemble}: the run has "
                         f"{len(meta['ensemble'])} complete children; the ensemble averages "
                         "those\n")
    trials = ", ".join(str(m["trial"]) for m in meta["ensemble"])
    scores = [f"{split} " + ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
              for split, metrics in (("validation", meta["metrics"]),
                                     ("test", meta["test_metrics"])) if metrics]
    again = (f"; trained again: {', '.join(map(str, meta['trained_again']))}"
             if meta["trained_again"] else "")
    console.print(f"ensemble of trials {trials}{again} -> {result.path} (metadata "
                  f"{result.metadata_path}); {'; '.join(scores)}", markup=False)
    return 0
