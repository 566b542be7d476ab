"""Plugin files for the nodes of a Ray cluster.

A search loads plugin files and package folders by path on the driver; on another node those
paths do not exist. With ``--address`` the executor copies them into one staging folder,
``automl_shipped_plugins/<i>/<name>``, which Ray uploads with the job (``runtime_env``
``py_modules``: local folders are only uploaded at the job level) and unpacks on every node,
on the worker's ``sys.path``. A trainer there finds its copy as the namespace package of that
name and loads each member by path, as the driver did. The name is the same for every search:
Ray names an upload by a hash of its content that leaves out the folder's own name, so two
searches shipping the same files share one unpacked copy, which must be found under the name
the first one gave it. Only the named files and package folders
travel: a layer that reads a data file beside its source at build time must be installed on
every node instead (an ``automl.plugins`` entry point).
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automl.errors import PluginError
from automl.execution.worker import ChildTrainer

_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
PACKAGE = "automl_shipped_plugins"


@dataclass(frozen=True)
class ShippedPlugins:
    """Where a worker finds the plugins the driver staged.

    Attributes:
        package: The staging folder's name, importable as a namespace package on the workers.
        members: Each plugin's path inside it (``0/attention.py``), in the driver's order.
    """

    package: str
    members: tuple[str, ...]

    def local_paths(self) -> list[str]:
        """The members' paths on this node (inside Ray's unpacked copy)."""
        spec = importlib.util.find_spec(self.package)
        locations = list(spec.submodule_search_locations or []) if spec is not None else []
        for location in map(Path, locations):
            if all((location / member).exists() for member in self.members):
                return [str(location / member) for member in self.members]
        raise PluginError(f"the plugin files shipped with the job ({self.package}) are not "
                          "on this Ray worker's path", source="runtime_env py_modules")


def stage_plugins(paths: Sequence[str], folder: Path) -> tuple[ShippedPlugins, Path]:
    """Copy the plugin files and package folders ``paths`` into ``folder``.

    Returns:
        What workers need to find them, and the staging folder to hand to ``py_modules``.
    """
    root = folder / PACKAGE
    members: list[str] = []
    for i, raw in enumerate(paths):
        path = Path(raw)
        target = root / str(i) / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            shutil.copytree(path, target, ignore=_SKIP)
        else:
            shutil.copy2(path, target)
        members.append(f"{i}/{path.name}")
    return ShippedPlugins(PACKAGE, tuple(members)), root


class ShippedPluginTrainer(ChildTrainer):
    """A :class:`ChildTrainer` that loads the driver's plugin files from the copy Ray shipped to
    its node."""

    def __init__(self, data: Any, task_name: str | None, shipped: ShippedPlugins,
                 threads: int = 1):
        super().__init__(data, task_name, shipped.local_paths(), threads)


__all__ = ["ShippedPluginTrainer", "ShippedPlugins", "stage_plugins"]
