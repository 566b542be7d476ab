"""`automl spaces validate FILE...`: check search spaces without training anything."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from automl.cli._common import console
from automl.cli._common import plugin_path
from automl.cli._common import quiet_stderr


def register(subparsers: Any) -> None:
    spaces = subparsers.add_parser("spaces", help="work with search space files")
    commands = spaces.add_subparsers(dest="spaces_command", required=True, metavar="COMMAND")
    validate = commands.add_parser("validate", help="validate YAML search spaces")
    validate.add_argument("files", nargs="*", help="YAML files")
    validate.add_argument("--datasets", action="store_true",
                          help="list the UCR/UEA data sets the ucr task loads offline")
    validate.add_argument("--data", action="store_true",
                          help="also load each space's task data and check it as a search "
                               "would (a data file's values, labels, splits, folds)")
    validate.add_argument("--plugins", action="append", default=[], type=plugin_path,
                          metavar="PATH",
                          help="load this plugin file or folder first (repeatable); a space's "
                               "own plugins: run only on search and resume")
    validate.set_defaults(handler=run_validate)


def run_validate(args: argparse.Namespace) -> int:
    from automl.errors import UserInputError
    from automl.registry.discovery import load_named

    load_named(args.plugins)
    if args.datasets:
        _list_datasets()
    elif not args.files:
        raise UserInputError("give YAML files to validate, or --datasets", key="spaces validate")
    failed = 0
    for path in args.files:  # every file is checked: one line for each bad one
        try:
            console.print(_validated_line(path, data=args.data), markup=False)
        except UserInputError as exc:
            if len(args.files) == 1:
                raise
            failed += 1
            sys.stderr.write(f"error: {exc.one_line()}\n")
    return 2 if failed else 0


def _validated_line(path: str, *, data: bool) -> str:
    """``PATH: ok (...)`` for a space that passes every check (``data``: of its task's data
    too); a UserInputError for the first defect."""
    from automl.space import load_space
    from automl.strategies import check_strategy_block

    space = load_space(path)
    if space.strategy:  # the learners' modules import Keras: keep TensorFlow's notices off
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        with quiet_stderr():
            check_strategy_block(space)
    facts = _data_line(space) if data else ""
    size, decisions = space.size(), len(space.slots())
    reward = space.reward.name if space.reward else _default_reward(space)
    if reward is None:  # no task (a benchmark table's space), or a plugin's task
        reward = "the task default" if space.task else "-"
    elif space.reward is None:
        reward += " (the task default)"
    return (f"{path}: ok ({size:,} architecture{'s' if size != 1 else ''}, "
            f"{decisions} decision slot{'s' if decisions != 1 else ''}, "
            f"task {space.task.name if space.task else '-'}, reward {reward})"
            + (f"; data: {facts}" if facts else ""))


def _default_reward(space: Any) -> str | None:
    """The task's default reward, or None where the task is not known here (one of the
    space's own plugins, which validate does not run)."""
    from automl.engine import reward_name
    from automl.errors import UserInputError

    try:
        return reward_name(space)
    except UserInputError:
        return None


def _data_line(space: Any) -> str:
    """The task data's sizes and shape, once every check a search makes of it passed."""
    from automl.engine import check_space_data

    facts = check_space_data(space)
    sizes = facts["sizes"]
    n = facts["n_outputs"]
    kind = (f"{n} classes" if facts["output"] == "classification"
            else f"{facts['output']}, {n} output{'s' if n != 1 else ''}")
    folds = facts.get("folds_auto")
    settled = ""
    if folds is not None:
        settled = (f"; folds: auto -> {folds} (cross-validated)" if folds
                   else "; folds: auto -> one validation split")
    return (f"{sizes['train']:,} train, {sizes['val']:,} validation, {sizes['test']:,} test "
            f"examples of shape {tuple(facts['input_shape'])}; {kind}{settled}")


def _list_datasets() -> None:
    from rich.table import Table

    from automl.tasks.ucr import dataset_info
    from automl.tasks.ucr import offline_datasets

    names = offline_datasets()
    if not names:
        console.print("UCR/UEA data sets available offline: none (install sktime)", markup=False)
        return
    table = Table(title="UCR/UEA data sets available offline (task: {name: ucr, dataset: "
                        "NAME})", title_justify="left")
    for column in ("dataset", "channels", "length", "classes", "train", "test"):
        table.add_column(column, justify="left" if column == "dataset" else "right")
    for name in names:
        info = dataset_info(name)
        low, high = info["min_length"], info["max_length"]
        table.add_row(name, str(info["channels"]), str(high) if low == high else f"{low}-{high}",
                      str(info["classes"]), str(info["train"]), str(info["test"]))
    console.print(table)
