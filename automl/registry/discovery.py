"""Plugin discovery: installed plugins load by default; code from a path only when named.

The trust model (docs/plugins.md):

1. built-ins (:func:`automl.registry.ensure_builtins`);
2. installed packages that declare an entry point in the group ``automl.plugins``
   (``[project.entry-points."automl.plugins"] name = "package.module"``): installing a package
   is the user's consent to run it. The source recorded is the distribution name and version.
   An entry point that names a function (``module:register``) has it called after the import;
3. plugin files and folders the user names: ``--plugins PATH`` on the command line, or, on
   ``search`` and ``resume`` only, a space's ``plugins:`` list and the paths a run folder
   recorded (with a one-line notice of what ran). ``validate``, ``show``, ``leaderboard`` and
   ``plugins list`` never import a path nobody named on their command line: a YAML file or run
   folder someone sends you is data until you search with it. These are strict: a broken one
   stops the command.

A plugin that fails (import error, duplicate name, contract violation) is rolled back (nothing it
registered stays), recorded as broken with the reason, and the names it would have provided are
*blocked*: looking one up raises a PluginError that names the plugin, its source and the
problem, so a search that needs it stops before anything trains while every other search runs.
The names of a plugin that failed before registering anything are read from its source with
``ast`` (calls ``<REGISTRY>.register("name", ...)``), without executing it.

Discovery imports no TensorFlow (plugins import Keras inside their build functions) and costs one
``importlib.metadata`` scan (~0.1 s) per process. A Ray worker runs the same discovery when it
starts (:class:`automl.execution.worker.ChildTrainer`) with the driver's path plugins.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import logging
import sys
import traceback
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path
from typing import Any

from automl.errors import PluginError
from automl.registry._registry import Blocked
from automl.registry._registry import LoadSession
from automl.registry._registry import loading

ENTRY_POINT_GROUP = "automl.plugins"
"""Entry-point group an installed plugin package declares."""

NOT_FOUND = "plugin file or folder not found"
NOT_A_PLUGIN = "not a .py file, a package folder or a folder of plugins"
_KIND_OF_REGISTRY = {"LAYERS": "layer", "TASKS": "task", "REWARDS": "reward",
                     "STRATEGIES": "strategy"}


@dataclass
class PluginRecord:
    """One plugin source that discovery found, and what became of it.

    Attributes:
        name: Module stem, package folder name, or entry-point name.
        source: The file or folder (resolved), or the distribution name of an installed package.
        origin: How it was found: ``entry point`` or ``path`` (``plugins:``/``--plugins``).
        version: The distribution's version, or the module's ``__version__``.
        status: ``ok`` or ``broken``.
        reason: Why it is broken.
        provides: (kind, name) registered; for a broken plugin, what it would have provided
            (kind ``?`` when it cannot be told from the source).
        module: The module name it was imported as.
    """

    name: str
    source: str
    origin: str
    version: str = ""
    status: str = "ok"
    reason: str = ""
    provides: tuple[tuple[str, str], ...] = ()
    module: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def label(self) -> str:
        """How messages name the source: a path, or ``distribution version``."""
        if self.origin == "entry point":
            return f"{self.source} {self.version}".strip()
        return self.source

    def error(self) -> PluginError:
        """The one-line error a command that needs this broken plugin stops with."""
        if self.reason in (NOT_FOUND, NOT_A_PLUGIN):
            return PluginError(self.reason, source=self.label)
        return PluginError(f"plugin {self.name!r} is broken: {self.reason}", source=self.label)


class _State:
    def __init__(self) -> None:
        self.records: dict[str, PluginRecord] = {}
        self.entry_points_scanned = False


_STATE = _State()


# ---------------------------------------------------------------------------------- public API
def discover(paths: Sequence[str | Path] = (), *, refresh: bool = False) -> list[PluginRecord]:
    """Load built-ins and installed plugins (entry points), then the named ``paths``.

    Sources already seen in this process are not imported again, so calling this from every
    command costs nothing after the first call. Broken installed plugins are recorded, never
    raised; a broken plugin in ``paths`` (a space's ``plugins:`` or ``--plugins``) is.

    Args:
        paths: Plugin files or folders the user named (strict).
        refresh: Scan entry points again (after installing a package in this process); sources
            already loaded stay as they are.

    Returns:
        Every plugin record of this process, in discovery order.

    Raises:
        PluginError: a plugin in ``paths`` is missing or broken.
    """
    from automl.registry import ensure_builtins

    ensure_builtins()
    if refresh or not _STATE.entry_points_scanned:
        _STATE.entry_points_scanned = True
        importlib.invalidate_caches()
        for entry_point in _entry_points():
            _load_entry_point(entry_point)
    if paths:
        load_plugin_paths(paths, strict=True)
    return plugin_records()


def load_named(paths: Sequence[str | Path], named_by: str = "--plugins") -> None:
    """:func:`discover`, then ``paths`` strictly, with a one-line notice (logger
    ``automl.plugins``; the CLI prints it as ``note: ...``) of the code that ran and who named
    it."""
    discover(paths)
    if paths:
        logging.getLogger("automl.plugins").warning(
            "running plugin code named by %s: %s", named_by, ", ".join(map(str, paths)))


def load_plugin_paths(paths: Sequence[str | Path], *, strict: bool = True) -> list[str]:
    """Import each plugin file (``x.py``), package folder, or folder of plugins.

    Returns:
        The module names loaded (ok plugins only).

    Raises:
        PluginError: with ``strict``, the first missing or broken plugin (one line naming the
            plugin, its source and the problem).
    """
    from automl.registry import ensure_builtins

    ensure_builtins()
    loaded: list[str] = []
    for raw in paths:
        if not str(raw).strip():  # Path("") is the current folder: every .py in it would run
            raise PluginError("an empty path names no plugin; give a plugin file (.py), a "
                              "package folder or a folder of plugins", source="plugins")
        path = Path(raw).resolve()
        items = _folder_items(path) if _is_plain_folder(path) else [path]
        for item in items:
            record = _load_path(item, "path")
            if record.ok:
                loaded.append(record.module)
            elif strict and item == path:
                # a named file or package; a broken member of a named folder is recorded and
                # blocks its names, so only the commands that need it stop
                raise record.error()
    return loaded


def plugin_records() -> list[PluginRecord]:
    """Every plugin source seen in this process, in discovery order."""
    return list(_STATE.records.values())


def broken_plugins() -> list[PluginRecord]:
    return [r for r in _STATE.records.values() if not r.ok]


def path_plugins() -> list[str]:
    """Files and folders of the ok path plugins: what a worker process needs to load to see
    the same plugins as this one."""
    return [r.source for r in _STATE.records.values() if r.ok and r.origin == "path"]


def forget(record: PluginRecord) -> None:
    """Undo a plugin: its registrations, blocked names, module and record (tests, reloads)."""
    from automl.registry import REGISTRIES

    for kind, name in record.provides:
        registry = REGISTRIES.get(kind)
        if registry is not None and name in registry:
            entry = registry._entries[name]
            if entry.source in (record.source, record.label):
                registry.remove(name)
    for registry in REGISTRIES.values():
        registry.unblock(record.label)
    if record.module:
        _purge_modules(record.module)
    for key, value in list(_STATE.records.items()):
        if value is record:
            del _STATE.records[key]


def plugin_rows() -> list[dict[str, Any]]:
    """One row per registered object and per broken plugin, for ``automl plugins list``.

    Keys: ``name``, ``kind``, ``source``, ``origin``, ``version``, ``status`` (``ok`` or
    ``broken``), ``reason``, ``doc``.
    """
    from automl._version import __version__
    from automl.registry import REGISTRIES

    origin_of = {r.source: r for r in _STATE.records.values()}
    rows: list[dict[str, Any]] = []
    for kind, registry in REGISTRIES.items():
        for entry in registry:
            record = origin_of.get(entry.source)
            if entry.is_builtin:
                origin, version = "builtin", __version__
            elif record is not None:
                origin, version = record.origin, entry.version or record.version
            else:
                origin, version = "module", entry.version
            rows.append({"name": entry.name, "kind": kind, "source": entry.source,
                         "origin": origin, "version": version, "status": "ok", "reason": "",
                         "doc": _doc_of(entry.target)})
    for record in _STATE.records.values():
        if record.ok and record.provides:
            continue
        provides = record.provides or (("-", record.name),)  # at least the plugin's name
        for kind, name in provides:
            rows.append({"name": name, "kind": kind, "source": record.source,
                         "origin": record.origin, "version": record.version,
                         "status": record.status,
                         "reason": record.reason or ("registers nothing" if record.ok else ""),
                         "doc": ""})
    return rows


# ---------------------------------------------------------------------------------- sources
def _entry_points() -> list[importlib.metadata.EntryPoint]:
    seen: set[tuple[str, str]] = set()
    out = []
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        key = (_dist_name(entry_point), entry_point.name)
        if key not in seen:  # a distribution found twice on sys.path counts once
            seen.add(key)
            out.append(entry_point)
    return sorted(out, key=lambda e: (_dist_name(e).lower(), e.name))


def _dist_name(entry_point: importlib.metadata.EntryPoint) -> str:
    dist = entry_point.dist
    return str(dist.metadata["Name"]) if dist is not None else entry_point.module


def _load_entry_point(entry_point: importlib.metadata.EntryPoint) -> PluginRecord:
    dist_name = _dist_name(entry_point)
    key = f"entry point {dist_name}:{entry_point.name}"
    if key in _STATE.records:
        return _STATE.records[key]
    version = entry_point.dist.version if entry_point.dist is not None else ""
    record = PluginRecord(entry_point.name, dist_name, "entry point", version=version,
                          module=entry_point.module)
    _STATE.records[key] = record
    with loading(dist_name, version) as session:
        step = "import"
        try:
            target = entry_point.load()
            if inspect.isfunction(target):  # "module:register": a registration hook
                step = f"{entry_point.attr}()"
                target()
        except (Exception, SystemExit) as exc:  # noqa: BLE001 (recorded, never raised here)
            _purge_modules(entry_point.module)
            files = _entry_point_files(entry_point)
            reason = _reason(exc, files)
            if step != "import":  # imported fine: the hook failed
                reason = reason.replace("failed to import", f"{step} failed", 1)
            _mark_broken(record, session, reason, files)
            return record
    record.provides = tuple(session.added)
    return record


def _entry_point_files(entry_point: importlib.metadata.EntryPoint) -> list[Path]:
    top = entry_point.module.split(".")[0]
    files: list[Path] = []
    for item in (entry_point.dist.files or []) if entry_point.dist is not None else []:
        if item.suffix == ".py" and item.parts and item.parts[0] in (top, f"{top}.py"):
            files.append(Path(str(item.locate())))
    if not files:  # editable installs list a finder, not the files
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.submodule_search_locations:
            for location in spec.submodule_search_locations:
                files.extend(sorted(Path(location).rglob("*.py")))
        elif spec is not None and spec.origin and spec.origin.endswith(".py"):
            files.append(Path(spec.origin))
    return files


def _folder_items(folder: Path) -> list[Path]:
    """The plugins in a folder: ``.py`` files and packages, sorted, private names skipped."""
    try:
        children = sorted(folder.iterdir())
    except OSError:
        return []
    return [child for child in children
            if not child.name.startswith(("_", "."))
            and ((child.is_file() and child.suffix == ".py")
                 or (child.is_dir() and (child / "__init__.py").is_file()))]


def _is_plain_folder(path: Path) -> bool:
    return path.is_dir() and not (path / "__init__.py").is_file()


def _module_name(path: Path) -> str:
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    stem = "".join(c if c.isalnum() else "_" for c in path.stem)
    return f"automl_plugin_{stem}_{digest}"


def _load_path(path: Path, origin: str) -> PluginRecord:
    """Import one plugin file or package folder (at most once per process)."""
    key = str(path)
    if key in _STATE.records:
        return _STATE.records[key]
    name = path.stem if path.suffix == ".py" else path.name
    record = PluginRecord(name, key, origin, module=_module_name(path))
    _STATE.records[key] = record
    if path.is_file() and path.suffix == ".py":
        spec = importlib.util.spec_from_file_location(record.module, path)
        files = [path]
    elif path.is_dir() and (path / "__init__.py").is_file():
        spec = importlib.util.spec_from_file_location(
            record.module, path / "__init__.py", submodule_search_locations=[str(path)])
        files = sorted(path.rglob("*.py"))
    else:
        record.status = "broken"
        record.reason = NOT_FOUND if not path.exists() else NOT_A_PLUGIN
        return record
    if spec is None or spec.loader is None:
        record.status, record.reason = "broken", "cannot be imported"
        return record
    module = importlib.util.module_from_spec(spec)
    with loading(key) as session:
        sys.modules[record.module] = module
        try:
            spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 (recorded; strict callers raise)
            _purge_modules(record.module)
            _mark_broken(record, session, _reason(exc, files), files)
            return record
    record.version = str(getattr(module, "__version__", "") or "")
    record.provides = tuple(session.added)
    if record.version:
        _stamp_version(session, record.version)
    return record


def _stamp_version(session: LoadSession, version: str) -> None:
    from automl.registry import REGISTRIES

    for kind, name in session.added:
        registry = REGISTRIES[kind]
        registry._entries[name] = replace(registry._entries[name], version=version)


# ---------------------------------------------------------------------------------- broken
def _reason(exc: BaseException, files: Iterable[Path]) -> str:
    if isinstance(exc, PluginError):
        return exc.message
    text = str(exc).strip().splitlines()
    reason = f"failed to import: {type(exc).__name__}" + (f": {text[0]}" if text else "")
    names = {str(f) for f in files}
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename in names]
    if frames:
        reason += f" ({Path(frames[-1].filename).name}, line {frames[-1].lineno})"
    return reason


def _mark_broken(record: PluginRecord, session: LoadSession, reason: str,
                 files: Iterable[Path]) -> None:
    """Roll back what the plugin registered, record why, and block the names it provides."""
    from automl.registry import REGISTRIES

    for kind, name in session.added:
        REGISTRIES[kind].remove(name)
    names: list[tuple[str, str]] = list(session.added)
    if session.failed is not None:
        names.append(session.failed)
    names.extend(_registered_names(files))
    provides = list(dict.fromkeys(names))
    record.status, record.reason, record.provides = "broken", reason, tuple(provides)
    for kind, name in provides:
        for registry_kind, registry in REGISTRIES.items():
            if kind not in ("?", registry_kind):
                continue
            if name not in registry:
                registry.block(name, Blocked(record.label, reason))
            elif kind != "?" and not registry._entries[name].is_builtin:
                # another plugin holds the name and this one claims it too: refuse to guess
                registry.block(name, Blocked(record.label, reason, ambiguous=True))


def _registered_names(files: Iterable[Path]) -> list[tuple[str, str]]:
    """``(kind, name)`` of each ``X.register("name", ...)`` call in the files (kind ``?`` when
    the registry is not one of LAYERS/TASKS/REWARDS/STRATEGIES by name). Never executes them."""
    names: list[tuple[str, str]] = []
    for path in files:
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "register" and node.args
                    and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str)):
                continue
            receiver = node.func.value
            label = receiver.id if isinstance(receiver, ast.Name) else (
                receiver.attr if isinstance(receiver, ast.Attribute) else "")
            names.append((_KIND_OF_REGISTRY.get(label, "?"), node.args[0].value))
    return names


def _purge_modules(module: str) -> None:
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        del sys.modules[name]


def _doc_of(target: Any) -> str:
    if isinstance(target, str):
        return ""
    doc = getattr(target, "doc", "") or ""
    if not doc and isinstance(target, type):
        doc = (inspect.getdoc(target) or "").strip().splitlines()[0:1]
        doc = doc[0] if doc else ""
    return str(doc)


__all__ = ["ENTRY_POINT_GROUP", "load_named", "PluginRecord", "broken_plugins", "discover",
           "forget", "load_plugin_paths", "path_plugins", "plugin_records", "plugin_rows"]
