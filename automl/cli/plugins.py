"""`automl plugins list|new|register|unregister`: see, scaffold and record plugins."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from automl.cli._common import console


def register(subparsers: Any) -> None:
    plugins = subparsers.add_parser(
        "plugins", help="list, scaffold and register plugins",
        description="Layer types, tasks, rewards and strategies from installed packages "
                    "(entry point group 'automl.plugins'), the project's plugins/ folder and "
                    "registered paths.")
    commands = plugins.add_subparsers(dest="plugins_command", required=True, metavar="COMMAND")

    listing = commands.add_parser("list", help="every layer, task, reward and strategy, with "
                                  "its source and status")
    listing.add_argument("--format", choices=("table", "json"), default="table",
                         help="output format (default: table)")
    listing.add_argument("--plugins", action="append", default=[], metavar="PATH",
                         help="also load this plugin file or folder (repeatable)")
    listing.set_defaults(handler=run_list)

    new = commands.add_parser("new", help="scaffold a pip-installable plugin package")
    new.add_argument("name", metavar="NAME", help="registered name (a lowercase identifier)")
    new.add_argument("--kind", required=True, choices=("layer", "task", "reward", "strategy"),
                     help="what the plugin provides")
    new.add_argument("--dir", default=".", help="folder to create automl-NAME/ in (default: .)")
    new.set_defaults(handler=run_new)

    add = commands.add_parser("register", help="load a plugin file or folder in every later "
                              "command run from this folder")
    add.add_argument("path", metavar="PATH", help="plugin .py file or folder")
    add.set_defaults(handler=run_register)

    remove = commands.add_parser("unregister", help="stop loading a registered plugin path")
    remove.add_argument("path", metavar="PATH", help="a registered plugin .py file or folder")
    remove.set_defaults(handler=run_unregister)


def run_list(args: argparse.Namespace) -> int:
    from automl.registry.discovery import discover
    from automl.registry.discovery import load_plugin_paths
    from automl.registry.discovery import plugin_rows

    discover()
    load_plugin_paths(args.plugins, strict=False)  # listing shows broken ones; never stops
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

    discover()  # so a name that is taken already is refused now, not after installing
    files = scaffold_plugin(args.name, args.kind, args.dir)
    folder = files[0]
    for path in files[1:]:
        console.print(f"created {path}", markup=False)
    console.print(f"Next: pip install -e {folder} && python -m pytest -q {folder / 'tests'}",
                  markup=False)
    return 0


def run_register(args: argparse.Namespace) -> int:
    from automl.registry.discovery import load_plugin_paths
    from automl.registry.discovery import plugin_records
    from automl.registry.project import config_file
    from automl.registry.project import register_path

    project = Path.cwd()
    resolved, added = register_path(args.path, project)
    load_plugin_paths([resolved], strict=False)
    records = [r for r in plugin_records()
               if r.source == str(resolved) or Path(r.source).parent == resolved]
    what = "; ".join(
        (", ".join(f"{kind} {name!r}" for kind, name in r.provides) or "nothing")
        if r.ok else f"broken: {r.reason}" for r in records) or "nothing"
    verb = "registered" if added else "already registered"
    console.print(f"{verb} {resolved} in {config_file(project)} ({what})", markup=False)
    return 0


def run_unregister(args: argparse.Namespace) -> int:
    from automl.registry.project import config_file
    from automl.registry.project import unregister_path

    project = Path.cwd()
    resolved = unregister_path(args.path, project)
    console.print(f"unregistered {resolved} from {config_file(project)}", markup=False)
    return 0
