"""`automl search` and `automl resume`: run a search with a live progress display."""

from __future__ import annotations

import argparse
import os
from typing import Any

from automl.cli._common import console
from automl.cli._common import err_console
from automl.cli._common import format_seconds
from automl.cli._common import non_negative_float
from automl.cli._common import non_negative_int
from automl.cli._common import positive_float
from automl.cli._common import positive_int
from automl.cli._common import quiet_stderr


def scheduler_name(text: str) -> str:
    """``--scheduler``: one of :data:`automl.schedulers.SCHEDULERS` (one-line error else)."""
    from automl.errors import UserInputError
    from automl.schedulers import check_scheduler

    try:
        return check_scheduler(text)
    except UserInputError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _add_execution_flags(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    d = (lambda value: value) if defaults else (lambda value: None)
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="children trained at once (default: CPUs / --cpus-per-trial, "
                             "and GPUs / --gpus-per-trial when set, of this machine or, with "
                             "--address, of the Ray cluster now)")
    parser.add_argument("--cpus-per-trial", type=positive_float, default=d(1.0),
                        help="CPUs per child, fractions allowed (default 1)")
    parser.add_argument("--gpus-per-trial", type=non_negative_float, default=d(0.0),
                        help="GPUs per child; 0.5 puts two children on one GPU (default 0)")
    parser.add_argument("--address", default=None,
                        help="Ray cluster to join ('auto' or host:port); default: local Ray")
    parser.add_argument("--max-retries", type=non_negative_int, default=d(2),
                        help="reruns of a child whose worker process died (default 2)")
    parser.add_argument("--trial-timeout", type=positive_float, default=None,
                        help="seconds of training after which a child is ended as failed; "
                             "waiting for a worker does not count (default: none)")
    parser.add_argument("--max-consecutive-failures", type=positive_int, default=10,
                        help="stop the search after this many failures in a row (default 10)")
    parser.add_argument("--recycle-after", type=positive_int, default=d(100),
                        help="children per worker process before it is replaced (default 100)")
    parser.add_argument("--keep-best", type=non_negative_int, default=d(3), metavar="K",
                        help="keep the trained models of the best K children in the run "
                             "folder, models/TRIAL.keras (default 3; 0: none)")


def register(subparsers: Any) -> None:
    search = subparsers.add_parser("search", help="run an architecture search",
                                   description="Run an architecture search on a YAML space.")
    search.add_argument("space", help="search space YAML file")
    search.add_argument("--strategy", default=None,
                        help="random, reinforce, dqn, tpe, evolution or a plugin "
                             "(default: the YAML's strategy, else random)")
    search.add_argument("--trials", type=positive_int, default=None,
                        help="number of trials (default: the YAML's trials)")
    search.add_argument("--seed", type=non_negative_int, default=None, help="random seed")
    search.add_argument("--name", default=None, help="run name (default: SPACE-DATE-TIME)")
    search.add_argument("--runs-dir", default="runs", help="folder of runs (default: runs)")
    existing = search.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true",
                          help="replace an existing run of the same name")
    existing.add_argument("--resume", action="store_true",
                          help="if a run of this name exists, resume it instead of refusing")
    search.add_argument("--plugins", action="append", default=[], metavar="PATH",
                        help="plugin file or folder to load (repeatable)")
    search.add_argument("--top", type=positive_int, default=10,
                        help="leaderboard rows printed at the end (default 10)")
    search.add_argument("--scheduler", type=scheduler_name, default="none",
                        help="stop unpromising children at epoch rungs: none (default), asha "
                             "or hyperband (Optuna's pruners, on val_loss); kept for resume")
    _add_execution_flags(search, defaults=True)
    search.set_defaults(handler=run_search_command)

    resume = subparsers.add_parser("resume", help="resume a stopped or killed search",
                                   description="Continue a run to its requested trials.")
    resume.add_argument("run", help="run folder (runs/NAME) or name")
    resume.add_argument("--trials", type=positive_int, default=None,
                        help="total number of trials wanted (default: as first requested)")
    resume.add_argument("--runs-dir", default="runs", help="folder of runs (default: runs)")
    resume.add_argument("--top", type=positive_int, default=10)
    _add_execution_flags(resume, defaults=False)
    resume.set_defaults(handler=run_resume_command)


def _execution(args: argparse.Namespace, base: Any = None) -> Any:
    from automl.execution import ExecutionSettings
    from automl.execution import default_workers

    values = vars(base).copy() if base is not None else {}
    if base is None and args.workers is None:
        values["workers"] = default_workers(args.cpus_per_trial, args.gpus_per_trial,
                                            address=args.address)
    for field in ("workers", "cpus_per_trial", "gpus_per_trial", "address", "max_retries",
                  "trial_timeout", "recycle_after", "keep_best", "scheduler"):
        value = getattr(args, field, None)
        if value is not None:
            values[field] = value
    return ExecutionSettings(**values)


class ProgressView:
    """Live progress on a terminal; plain event lines otherwise (CI logs)."""

    def __init__(self) -> None:
        self.live: Any = None
        self.interactive = console.is_terminal

    def __call__(self, progress: Any) -> None:
        line = (f"[{progress.done}/{progress.total}] running {progress.running}  "
                f"failed {progress.failed}  cached {progress.cached}  "
                + (f"stopped {progress.stopped}  " if progress.stopped else "")
                + "best "
                f"{'-' if progress.best_reward is None else f'{progress.best_reward:.4f}'}  "
                f"elapsed {format_seconds(progress.elapsed)}  ETA {format_seconds(progress.eta)}")
        if self.interactive:
            from rich.live import Live
            from rich.text import Text

            if self.live is None:
                self.live = Live(Text(line), console=console, refresh_per_second=4,
                                 transient=True)
                self.live.start()
            if progress.last_event:
                self.live.console.print(f"  {progress.last_event}", markup=False)
            self.live.update(Text(line))
        elif progress.last_event:
            console.print(f"{line}  | {progress.last_event}", markup=False)

    def stop(self) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


def _finish(outcome: Any, top: int) -> int:
    from automl.cli.runs import print_leaderboard
    from automl.store import RunFolder

    counts = outcome.counts
    console.print(
        f"Search finished in {format_seconds(outcome.seconds)}: "
        f"{counts.get('complete', 0)} complete, {counts.get('failed', 0)} failed, "
        f"{counts.get('cached', 0)} cached"
        + (f", {counts['stopped']} stopped early" if counts.get("stopped") else "")
        + f"; run folder {outcome.run_path}", markup=False)
    print_leaderboard([RunFolder(outcome.run_path)], top=top)
    return 0


def _run(call: Any, top: int) -> int:
    from automl.errors import SearchAbortedError

    view = ProgressView()
    run_path: list[str] = []
    try:
        outcome = call(view, lambda run: run_path.append(str(run.path)))
    except KeyboardInterrupt:
        view.stop()
        where = run_path[0] if run_path else "the run folder"
        err_console.print(f"Interrupted: running children were ended; finished trials are "
                          f"stored. Resume with: automl resume {where}", markup=False)
        return 130
    except SearchAbortedError as exc:
        view.stop()
        where = run_path[0] if run_path else "the run folder"
        err_console.print(f"error: {exc} (automl resume {where})", markup=False)
        return 1
    finally:
        view.stop()
    return _finish(outcome, top)


def run_search_command(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from pathlib import Path

    from automl.engine import run_search

    if args.resume and args.name and (Path(args.runs_dir) / args.name / "run.json").is_file():
        args.run = str(Path(args.runs_dir) / args.name)
        return run_resume_command(args)

    def call(view: Any, on_start: Any) -> Any:
        with quiet_stderr() as quiet:
            return run_search(
                args.space, strategy=args.strategy, trials=args.trials, seed=args.seed,
                name=args.name, runs_dir=args.runs_dir, execution=_execution(args),
                max_consecutive_failures=args.max_consecutive_failures,
                overwrite=args.overwrite, plugins=args.plugins, on_progress=view,
                on_start=lambda run: (on_start(run), quiet.retarget(
                    str(run.log_dir / "stderr.log"))))

    return _run(call, args.top)


def run_resume_command(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from automl.engine import resume_search
    from automl.execution import ExecutionSettings
    from automl.store import RunFolder

    folder = RunFolder.open(args.run, args.runs_dir)
    stored = ExecutionSettings(**folder.info().get("execution", {}))

    def call(view: Any, on_start: Any) -> Any:
        with quiet_stderr(str(folder.log_dir / "stderr.log")):
            return resume_search(
                folder.path, trials=args.trials, execution=_execution(args, stored),
                max_consecutive_failures=args.max_consecutive_failures, on_progress=view,
                on_start=on_start)

    return _run(call, args.top)
