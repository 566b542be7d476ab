'''Scaffold a pip-installable plugin package (``automl plugins new NAME --kind KIND``).

The package declares its module in the ``automl.plugins`` entry-point group, so installing it is
all it takes for every automl command (and every Ray worker) to find it. It comes with a test
that passes as generated and shows how to check the plugin without running a search. The
generated files are templates shipped as package data (``registry/templates/``).
'''

from __future__ import annotations

import keyword
from importlib.resources import files
from pathlib import Path

from automl.errors import PluginError
from automl.errors import allowed

KINDS = ("layer", "task", "reward", "strategy")

TEMPLATES = "templates"
"""Package-data folder of the generated files: ``str.format`` templates, one per file kind
(``layer.py.tmpl``, ``layer_test.py.tmpl``, ..., ``pyproject.toml.tmpl``, ``README.md.tmpl``)."""


def _template(name: str) -> str:
    return (files("automl.registry") / TEMPLATES / f"{name}.tmpl").read_text(encoding="utf-8")


MAX_NAME = 64
"""Longest plugin name: it becomes folder and file names, which file systems limit."""


def scaffold_plugin(name: str, kind: str, directory: str | Path = ".") -> list[Path]:
    """Write a plugin package for the ``kind`` named ``name`` into ``directory/automl-NAME``.

    Returns:
        The files written, the package folder first.

    Raises:
        PluginError: the name is not a lowercase identifier, the kind is unknown, the name is
            taken in this process, or the folder exists.
    """
    from automl.registry import REGISTRIES

    if kind not in KINDS:
        raise PluginError(f"unknown kind {kind!r}; allowed: {allowed(KINDS)}", key="--kind")
    # ASCII: the name is also a distribution name and a bare key in pyproject.toml
    if (not name.isascii() or not name.isidentifier() or keyword.iskeyword(name)
            or name != name.lower()):
        raise PluginError(f"{name!r} is not a lowercase ASCII Python identifier (a-z, digits, "
                          "underscores)", key="NAME")
    if name.startswith("_") or name.endswith("_") or "__" in name:
        # the distribution name collapses them ('automl-x' for '_x'): a package whose name is
        # not what its files say
        raise PluginError(f"{name!r}: start and end with a letter or digit, and use single "
                          "underscores", key="NAME")
    if len(name) > MAX_NAME:
        raise PluginError(f"is {len(name)} characters long; at most {MAX_NAME}", key="NAME")
    if name in REGISTRIES[kind]:
        raise PluginError(f"{kind} {name!r} exists already (from "
                          f"{REGISTRIES[kind].entry(name).source}); choose another name",
                          key="NAME")
    dist = "automl-" + name.replace("_", "-")
    folder = Path(directory) / dist
    if folder.exists():
        raise PluginError("exists already; choose another name or --dir", source=str(folder))
    module = f"automl_{name}"
    words = {"name": name, "kind": kind, "dist": dist, "module": module,
             "cls": "".join(part.capitalize() for part in name.split("_")) or "Plugin",
             "func": name}
    written = {
        folder / "pyproject.toml": _template("pyproject.toml").format(**words),
        folder / "README.md": _template("README.md").format(**words),
        folder / f"{module}.py": _template(f"{kind}.py").format(**words),
        folder / "tests" / f"test_{name}.py": _template(f"{kind}_test.py").format(**words),
    }
    for path, text in written.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return [folder, *written]
