"""`automl plugins list|new`: see and scaffold plugins."""

from __future__ import annotations

import argparse
import json
from typing import Any

from automl.cli._common import check_folder
from automl.cli._common import console
from automl.cli._common import plugin_path


def register(subparsers: Any) -> None:
    plugins = subparsers.add_parser(
        "plugins", help="list and scaffold plugins",
        description="Layer types, tasks, rewards and strategies from installed packages "
                    "(entry point group 'automl.plugins', loaded by default) and plugin files "
                    "named with --plugins or, on search and resume, a space's plugins: list.")
    commands = plugins.add_subparsers(dest="plugins_command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="every layer, task, reward and strategy, with "
                                  "its source and status")
    listing.add_argument("--format", choices=("table", "json"), default="table",
                         help="output format (default: table)")
    listing.add_argument("--plugins", action="append", default=[], type=plugin_path,
                         metavar="PATH",
                         help="also load this plugin file or folder (repeatable)")
    listing.set_defaults(handler=run_list)

    new = commands.add_parser("new", help="scaffold a pip-installable plugin package")
    new.add_argument("name", metavar="NAME", help="registered name (a lowercase identifier)")
    new.add_argument("--kind", required=True, choices=("layer", "task", "reward", "strategy"),
                     help="what the plugin provides")
    new.add_argument("--dir", default=".", help="folder to create automl-NAME/ in (default: .)")
    new.set_defaults(handler=run_new)


def run_list(args: argparse.Namespace) -> int:
    import logging
    from pathlib import Path

    from automl.errors import PluginError
    from automl.registry.discovery import discover
    from automl.registry.discovery import load_plugin_paths
    from automl.registry.discovery import plugin_rows

    missing = [raw for raw in args.plugins if not Path(raw).exists()]
    if missing:  # a typo lists nothing of what was meant: refused, as by every command
        raise PluginError(f"{missing[0]!r}: plugin file or folder not found", key="--plugins")
    discover()
    load_plugin_paths(args.plugins, strict=False)  # listing shows broken ones; never stops
    if args.plugins:  # the code that ran, as every command that runs plugin code says
        logging.getLogger("automl.plugins").warning(
            "running plugin code named by --plugins: %s", ", ".join(map(str, args.plugins)))
    rows = plugin_rows()
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for column in ("name", "kind", "source", "version", "status"):
        table.add_column(column, overflow="fold")
    for row in rows:
        status = "ok" if row["status"] == "ok" and not row["reason"] else (
            f"{row['status']}: {row['reason']}")
        table.add_row(row["name"], row["kind"], row["source"], row["version"] or "-", status,
                      style="red" if row["status"] == "broken" else None)
    console.print(table)
    broken = sum(1 for row in rows if row["status"] == "broken")
    if broken:
        console.print(f"{broken} broken: a search that needs one stops before training; "
                      "others run.", markup=False)
    return 0


def run_new(args: argparse.Namespace) -> int:
    from automl.registry.discovery import discover
    from automl.registry.scaffold import scaffold_plugin

    check_folder(args.dir, "--dir")
    discover()  # so a name that is taken already is refused now, not after installing
    files = scaffold_plugin(args.name, args.kind, args.dir)
    folder = files[0]
    for path in files[1:]:
        console.print(f"created {path}", markup=False)
    console.print(f"Next: pip install -e {folder} && python -m pytest -q {folder / 'tests'}",
                  markup=False)
    return 0
