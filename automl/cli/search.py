"""`automl search` and `automl resume`: run a search with a live progress display."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from automl.cli._common import check_folder
from automl.cli._common import console
from automl.cli._common import err_console
from automl.cli._common import format_seconds
from automl.cli._common import non_empty
from automl.cli._common import non_negative_float
from automl.cli._common import non_negative_int
from automl.cli._common import plugin_path
from automl.cli._common import positive_float
from automl.cli._common import positive_int
from automl.cli._common import quiet_stderr
from automl.cli._common import ray_address


def scheduler_name(text: str) -> str:
    """``--scheduler``: one of :data:`automl.schedulers.SCHEDULERS` (one-line error else)."""
    from automl.errors import UserInputError
    from automl.schedulers import check_scheduler

    try:
        return check_scheduler(text)
    except UserInputError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def _add_execution_flags(parser: argparse.ArgumentParser) -> None:
    """The execution flags, all defaulting to None: ``_execution`` fills in the run's stored
    settings (resume) or ExecutionSettings' defaults (a new run), so a flag not given never
    overrides what a resumed run was made with."""
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="children trained at once (default: CPUs / --cpus-per-trial, "
                             "and GPUs / --gpus-per-trial when set, of this machine or, with "
                             "--address, of the Ray cluster now)")
    parser.add_argument("--cpus-per-trial", type=positive_float, default=None,
                        help="CPUs per child, fractions allowed (default 1)")
    parser.add_argument("--gpus-per-trial", type=non_negative_float, default=None,
                        help="GPUs per child; 0.5 puts two children on one GPU (default 0)")
    parser.add_argument("--address", type=ray_address, default=None,
                        help="Ray cluster to join ('auto' or host:port); default: local Ray")
    parser.add_argument("--max-retries", type=non_negative_int, default=None,
                        help="reruns of a child whose worker process died (default 2)")
    parser.add_argument("--trial-timeout", type=positive_float, default=None,
                        help="seconds of training after which a child is ended as failed; "
                             "waiting for a worker does not count (default: none)")
    parser.add_argument("--max-consecutive-failures", type=positive_int, default=10,
                        help="stop the search after this many failures in a row (default 10)")
    parser.add_argument("--recycle-after", type=positive_int, default=None,
                        help="children per worker process before it is replaced (default 100)")
    parser.add_argument("--keep-best", type=non_negative_int, default=None, metavar="K",
                        help="keep the trained models of the best K children in the run "
                             "folder, models/TRIAL.keras (default 3; 0: none)")


def register(subparsers: Any) -> None:
    search = subparsers.add_parser("search", help="run an architecture search",
                                   description="Run an architecture search on a YAML space.")
    search.add_argument("space", help="search space YAML file")
    search.add_argument("--strategy", type=non_empty, default=None,
                        help="random, reinforce, dqn, tpe, evolution or a plugin "
                             "(default: the YAML's strategy, else dqn)")
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
    search.add_argument("--plugins", action="append", default=[], type=plugin_path, metavar="PATH",
                        help="plugin file or folder to load (repeatable)")
    search.add_argument("--top", type=positive_int, default=10,
                        help="leaderboard rows printed at the end (default 10)")
    search.add_argument("--scheduler", type=scheduler_name, default=None,
                        help="stop unpromising children at epoch rungs: none (default), asha "
                             "or hyperband (Optuna's pruners, on val_loss); kept for resume")
    search.add_argument("--mode", choices=("standard", "one-shot"), default=None,
                        help="standard: every child trains from scratch (default); one-shot: "
                             "ENAS weight sharing, one super-network trained with the "
                             "reinforce controller, then the top K retrained (dense, gru or "
                             "conv1d stacks)")
    one_shot = search.add_argument_group("one-shot mode (--mode one-shot)")
    one_shot.add_argument("--retrain-top", type=positive_int, default=None, metavar="K",
                          help="architectures retrained from scratch after the one-shot "
                               "phase (default 5)")
    one_shot.add_argument("--one-shot-epochs", type=positive_int, default=None,
                          help="epochs of shared-weight training (default 20)")
    one_shot.add_argument("--controller-steps", type=positive_int, default=None,
                          help="controller updates per epoch (default 5)")
    one_shot.add_argument("--controller-batch", type=positive_int, default=None,
                          help="architectures scored per controller update (default 8)")
    one_shot.add_argument("--candidates", type=positive_int, default=None,
                          help="architectures sampled from the trained controller and ranked "
                               "on the whole validation set (default 100)")
    one_shot.add_argument("--uniform-fraction", type=float, default=None, metavar="F",
                          help="share of the epochs, first, that train uniformly sampled "
                               "paths before the controller's (0 to 1; default 0)")
    one_shot.add_argument("--finetune-steps", type=int, default=None, metavar="N",
                          help="minibatches each candidate trains from the shared weights "
                               "before its final score (default 0: none)")
    one_shot.add_argument("--finetune-top", type=positive_int, default=None, metavar="T",
                          help="candidates, the best by shared-weight score, that are "
                               "fine-tuned and ranked again (default 20)")
    # no defaults here: `search --resume` keeps what the run stored unless a flag is given
    # (a new search gets ExecutionSettings' defaults in _execution)
    _add_execution_flags(search)
    search.set_defaults(handler=run_search_command)

    resume = subparsers.add_parser("resume", help="resume a stopped or killed search",
                                   description="Continue a run to its requested trials.")
    resume.add_argument("run", help="run folder (runs/NAME) or name")
    resume.add_argument("--trials", type=positive_int, default=None,
                        help="total number of trials wanted (default: as first requested)")
    resume.add_argument("--runs-dir", default="runs", help="folder of runs (default: runs)")
    resume.add_argument("--top", type=positive_int, default=10)
    _add_execution_flags(resume)
    resume.set_defaults(handler=run_resume_command)


def _execution(args: argparse.Namespace, base: Any = None) -> Any:
    from automl.execution import ExecutionSettings
    from automl.execution import default_workers

    values = vars(base if base is not None else ExecutionSettings()).copy()
    for field in ("workers", "cpus_per_trial", "gpus_per_trial", "address", "max_retries",
                  "trial_timeout", "recycle_after", "keep_best", "scheduler"):
        value = getattr(args, field, None)
        if value is not None:  # given: it wins; else the run's stored value, or the default
            values[field] = value
    if base is None and args.workers is None:
        values["workers"] = default_workers(values["cpus_per_trial"], values["gpus_per_trial"],
                                            address=values["address"])
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


_ONE_SHOT_FLAGS = {"retrain_top": "--retrain-top", "one_shot_epochs": "--one-shot-epochs",
                   "controller_steps": "--controller-steps",
                   "controller_batch": "--controller-batch", "candidates": "--candidates",
                   "uniform_fraction": "--uniform-fraction",
                   "finetune_steps": "--finetune-steps", "finetune_top": "--finetune-top"}


def _check_resume_matches(args: argparse.Namespace, folder: Path) -> None:
    """``search --resume`` continues the run as it was made: a space file, mode, strategy,
    seed, scheduler or one-shot setting given that differs from the run's is refused (one
    line) rather than ignored."""
    from automl.engine.api import space_file_digest
    from automl.errors import UserInputError
    from automl.store import RunFolder

    info = RunFolder(folder).info()
    mode = info.get("mode") or "standard"
    given_space = Path(args.space).resolve()
    source = info.get("space_source")
    if isinstance(source, str) and source != "<dict>":
        # the file the run was made from: its name in the YAML's folder (base_dir is
        # absolute; the source is the path as typed, relative to where the search started)
        base = info.get("base_dir")
        made_from = (Path(base) / Path(source).name if isinstance(base, str)
                     else Path(source)).resolve()
        if given_space != made_from:
            raise UserInputError(f"run {args.name!r} was made from another space file "
                                 f"({made_from}); --resume continues it as it was made "
                                 "(give another --name for a new run)", key="--resume")
        digest = info.get("space_sha256")
        if digest and given_space.is_file() and space_file_digest(str(given_space)) != digest:
            raise UserInputError(f"{args.space} changed since run {args.name!r} was made; "
                                 "--resume continues the run as it was made, from the space "
                                 f"stored in it (automl resume {args.name}), or give another "
                                 "--name for a new run with the edited space", key="--resume")
    stored = {"--mode": mode, "--strategy": info.get("strategy"), "--seed": info.get("seed"),
              "--scheduler": (info.get("execution") or {}).get("scheduler", "none")}
    given = {"--mode": args.mode, "--strategy": args.strategy, "--seed": args.seed,
             "--scheduler": args.scheduler}  # None: not given
    if mode == "one-shot":
        recorded = info.get("one_shot")  # a damaged one is named when the resume reads it
        recorded = recorded if isinstance(recorded, dict) else {}
        for field, flag in _ONE_SHOT_FLAGS.items():
            key = "epochs" if field == "one_shot_epochs" else field
            stored[flag] = recorded.get(key)
            given[flag] = getattr(args, field)
    for flag, value in given.items():
        if value is not None and value != stored[flag]:
            raise UserInputError(f"run {args.name!r} was made with {flag} {stored[flag]}, not "
                                 f"{value}; --resume continues it as it was made (give "
                                 "another --name for a new run)", key=flag)


def one_shot_settings(args: argparse.Namespace) -> Any:
    """The one-shot flags as settings; refuses them without ``--mode one-shot`` and refuses
    ``--trials`` with it (one line, exit code 2)."""
    from dataclasses import replace

    from automl.engine.one_shot import OneShotSettings
    from automl.errors import UserInputError

    given = {k: getattr(args, k) for k in _ONE_SHOT_FLAGS if getattr(args, k) is not None}
    if args.mode != "one-shot":
        if given:
            flag = _ONE_SHOT_FLAGS[next(iter(given))]
            raise UserInputError("is a setting of --mode one-shot", key=flag)
        return None
    if args.trials is not None:
        raise UserInputError("one-shot mode trains no search children; the retrained ones "
                             "are set with --retrain-top", key="--trials")
    if args.scheduler not in (None, "none"):
        raise UserInputError(f"one-shot mode retrains its chosen architectures to the end, "
                             f"which {args.scheduler} would stop early; allowed: none",
                             key="--scheduler")
    if "finetune_top" in given and not given.get("finetune_steps"):
        raise UserInputError("sets how many candidates --finetune-steps fine-tunes; give "
                             "--finetune-steps N (N >= 1) with it", key="--finetune-top")
    renamed = {("epochs" if k == "one_shot_epochs" else k): v for k, v in given.items()}
    return replace(OneShotSettings(), **renamed)


def _finish(outcome: Any, top: int) -> int:
    from automl.cli.runs import print_leaderboard
    from automl.store import RunFolder

    if "kendall_tau" in outcome.extra:
        tau = outcome.extra["kendall_tau"]
        console.print(f"One-shot phase: {outcome.extra['one_shot_epochs']} epochs in "
                      f"{format_seconds(outcome.extra['one_shot_seconds'])}; Kendall tau "
                      "between the one-shot ranking and the reward of the retrained: "
                      + (f"- ({outcome.extra.get('kendall_tau_note') or 'undefined'})"
                         if tau is None else f"{tau:.3f}"),
                      markup=False)
    counts = outcome.counts
    # a one-shot search: its phase, then the retraining (outcome.seconds)
    seconds = outcome.seconds + outcome.extra.get("one_shot_seconds", 0.0)
    console.print(
        f"Search finished in {format_seconds(seconds)}: "
        f"{counts.get('complete', 0)} complete, {counts.get('failed', 0)} failed, "
        f"{counts.get('cached', 0)} cached"
        + (f", {counts['stopped']} stopped early" if counts.get("stopped") else "")
        + f"; run folder {outcome.run_path}", markup=False)
    print_leaderboard([RunFolder(outcome.run_path)], top=top)
    if outcome.extra.get("proposed_nothing_more"):  # fewer trials than asked for: say why
        done = sum(counts.get(s, 0) for s in ("complete", "failed", "cached", "stopped"))
        err_console.print(f"note: the strategy ({outcome.extra['proposed_nothing_more']}) had "
                          f"nothing more to propose after {done} trials (a grid or a space "
                          "that is done, or a strategy whose ask() returns None)",
                          markup=False)
    failed = counts.get("failed", 0)
    if outcome.best_reward is None and failed:  # nothing to export or build on: say so
        err_console.print(
            f"error: no child succeeded ({failed} failed; the leaderboard above gives their "
            f"errors, automl show {outcome.run_path} TRIAL one in full)", markup=False)
        return 1
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

    from automl.engine import run_search

    check_folder(args.runs_dir, "--runs-dir", writable=True)
    if args.resume and args.name and (Path(args.runs_dir) / args.name / "run.json").is_file():
        args.run = str(Path(args.runs_dir) / args.name)
        _check_resume_matches(args, Path(args.run))
        return run_resume_command(args)

    settings = one_shot_settings(args)
    if settings is not None:
        from automl.engine.one_shot_api import run_one_shot

        def call_one_shot(view: Any, on_start: Any) -> Any:
            with quiet_stderr() as quiet:
                return run_one_shot(
                    args.space, settings=settings, strategy=args.strategy, seed=args.seed,
                    name=args.name, runs_dir=args.runs_dir, execution=_execution(args),
                    max_consecutive_failures=args.max_consecutive_failures,
                    overwrite=args.overwrite, plugins=args.plugins, on_progress=view,
                    on_start=_logging_to(quiet, on_start), on_epoch=_print_epoch)

        return _run(call_one_shot, args.top)

    def call(view: Any, on_start: Any) -> Any:
        with quiet_stderr() as quiet:
            return run_search(
                args.space, strategy=args.strategy, trials=args.trials, seed=args.seed,
                name=args.name, runs_dir=args.runs_dir, execution=_execution(args),
                max_consecutive_failures=args.max_consecutive_failures,
                overwrite=args.overwrite, plugins=args.plugins, on_progress=view,
                on_start=_logging_to(quiet, on_start))

    return _run(call, args.top)


def _print_epoch(entry: dict[str, float]) -> None:
    """One line per epoch of a one-shot phase (a search's or a resume's)."""
    console.print(f"one-shot epoch {entry['epoch']}: loss {entry['loss']:.4f}, "
                  f"controller mean reward {entry['mean_reward']:.4f}", markup=False)


def run_resume_command(args: argparse.Namespace) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from automl.engine import resume_search
    from automl.engine.api import recorded_execution
    from automl.store import RunFolder

    folder = RunFolder.open(args.run, args.runs_dir)
    check_folder(folder.path, "RUN", writable=True)
    stored = recorded_execution(folder)
    from automl.engine.one_shot_api import is_one_shot

    if is_one_shot(folder):
        from automl.engine.one_shot_api import resume_one_shot

        if getattr(args, "trials", None) is not None:
            from automl.errors import UserInputError

            raise UserInputError("a one-shot run retrains the K it chose; --trials does not "
                                 "apply", key="--trials")

        def call_one_shot(view: Any, on_start: Any) -> Any:
            with quiet_stderr() as quiet:  # the run's log once it resumes: a refusal adds none
                return resume_one_shot(
                    folder.path, execution=_execution(args, stored),
                    max_consecutive_failures=args.max_consecutive_failures,
                    on_progress=view, on_start=_logging_to(quiet, on_start),
                    on_epoch=_print_epoch)

        return _run(call_one_shot, args.top)

    def call(view: Any, on_start: Any) -> Any:
        with quiet_stderr() as quiet:
            return resume_search(
                folder.path, trials=args.trials, execution=_execution(args, stored),
                max_consecutive_failures=args.max_consecutive_failures, on_progress=view,
                on_start=_logging_to(quiet, on_start))

    return _run(call, args.top)


def _logging_to(quiet: Any, on_start: Any) -> Any:
    """``on_start`` that also sends the quieted stderr to the run's ``logs/stderr.log``."""
    return lambda run: (on_start(run), quiet.retarget(str(run.log_dir / "stderr.log")))
