"""Plugin discovery: load plugin files or folders given by path (more sources to come)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

from automl.errors import PluginError


def load_plugin_paths(paths: Sequence[str], *, strict: bool = True) -> list[str]:
    """Import each plugin file (``x.py``) or package folder; their import registers them.

    Returns the module names loaded. With ``strict`` a broken plugin raises PluginError.
    """
    from automl.registry import REGISTRIES

    loaded = []
    for raw in paths:
        path = Path(raw).resolve()
        if path.is_dir() and (path / "__init__.py").is_file():
            module_name, file = f"automl_plugin_{path.name}", path / "__init__.py"
        elif path.is_file() and path.suffix == ".py":
            module_name, file = f"automl_plugin_{path.stem}", path
        else:
            raise PluginError("not a .py file or a package folder", source=str(path))
        if module_name in sys.modules:
            loaded.append(module_name)
            continue
        spec = importlib.util.spec_from_file_location(module_name, file)
        if spec is None or spec.loader is None:
            raise PluginError("cannot be imported", source=str(path))
        module = importlib.util.module_from_spec(spec)
        for registry in REGISTRIES.values():
            registry.current_source = str(path)
        try:
            sys.modules[module_name] = module
            spec.loader.exec_module(module)
        except PluginError:
            sys.modules.pop(module_name, None)
            raise
        except Exception as exc:  # noqa: BLE001 (any import error becomes one line)
            sys.modules.pop(module_name, None)
            if strict:
                raise PluginError(f"failed to import: {type(exc).__name__}: {exc}",
                                  source=str(path)) from None
        finally:
            for registry in REGISTRIES.values():
                registry.current_source = "builtin"
        loaded.append(module_name)
    return loaded
