"""Plugin paths recorded for a project by ``automl plugins register`` (``.automl/plugins.yaml``).

The file lives in the project folder (the working directory of later commands) and is read by
discovery in every command and every Ray worker. It is written atomically (temporary file +
``os.replace``) and read with ``yaml.safe_load``. Paths inside the project are stored relative
to it, so the project can be moved; others are stored absolute.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from automl.atomic_write import atomic_write
from automl.errors import PluginError

CONFIG_PATH = Path(".automl") / "plugins.yaml"
_HEADER = "# Plugin files and folders loaded by every automl command run from this folder.\n" \
          "# Written by `automl plugins register` / `automl plugins unregister`.\n"


def config_file(project_dir: Path) -> Path:
    return project_dir / CONFIG_PATH


def registered_paths(project_dir: Path) -> list[Path]:
    """The recorded plugin paths, resolved (an absent file means none).

    Raises:
        PluginError: the file is not valid YAML or not a mapping ``plugins: [paths]``.
    """
    path = config_file(project_dir)
    if not path.is_file():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError, yaml.YAMLError) as exc:
        raise PluginError(f"cannot be read ({type(exc).__name__})", source=str(path)) from None
    if data is None:
        return []
    if not isinstance(data, dict) or set(data) - {"plugins"} or not isinstance(
            data.get("plugins", []), list) or not all(
            isinstance(item, str) for item in data.get("plugins", [])):
        raise PluginError("expected a mapping 'plugins:' with a list of paths",
                          source=str(path), key="plugins")
    return [(project_dir / item).resolve() for item in data.get("plugins", [])]


def _stored_form(path: Path, project_dir: Path) -> str:
    try:
        return path.relative_to(project_dir.resolve()).as_posix()
    except ValueError:
        return str(path)


def _write(project_dir: Path, paths: list[Path]) -> Path:
    target = config_file(project_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = _HEADER + yaml.safe_dump(
        {"plugins": [_stored_form(p, project_dir) for p in paths]}, sort_keys=False)
    atomic_write(target, text)
    return target


def register_path(path: str | Path, project_dir: Path) -> tuple[Path, bool]:
    """Record ``path`` (a ``.py`` file or a folder); returns (resolved path, newly added).

    Raises:
        PluginError: the path does not exist or is neither a ``.py`` file nor a folder.
    """
    resolved = (project_dir / path).resolve()
    if not resolved.exists():
        raise PluginError("not found", source=str(path))
    if not (resolved.is_dir() or (resolved.is_file() and resolved.suffix == ".py")):
        raise PluginError("not a .py file or a folder", source=str(path))
    paths = registered_paths(project_dir)
    if resolved in paths:
        return resolved, False
    _write(project_dir, [*paths, resolved])
    return resolved, True


def unregister_path(path: str | Path, project_dir: Path) -> Path:
    """Remove ``path`` from the record; returns the resolved path removed.

    Raises:
        PluginError: the path is not registered (the message lists the registered ones).
    """
    resolved = (project_dir / path).resolve()
    paths = registered_paths(project_dir)
    if resolved not in paths:
        listed = ", ".join(_stored_form(p, project_dir) for p in paths) or "none"
        raise PluginError(f"is not registered; registered: {listed}", source=str(path))
    _write(project_dir, [p for p in paths if p != resolved])
    return resolved
