"""Fixtures for plugin tests: put the registries and discovery back as they were after a test,
write small plugin files, install a package into the running environment (and uninstall it)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from automl.registry import REGISTRIES
from automl.registry import discovery

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "plugins"


@pytest.fixture()
def isolated_plugins() -> Iterator[None]:
    """Whatever a test registers, blocks or discovers is undone afterwards."""
    discovery.load_plugin_paths([])  # built-ins in place before the snapshot
    entries = {kind: dict(r._entries) for kind, r in REGISTRIES.items()}
    blocked = {kind: dict(r._blocked) for kind, r in REGISTRIES.items()}
    state = discovery._STATE
    records, scanned = dict(state.records), state.entry_points_scanned
    modules = set(sys.modules)
    yield
    for kind, registry in REGISTRIES.items():
        registry._entries = entries[kind]
        registry._blocked = blocked[kind]
    state.records, state.entry_points_scanned = records, scanned
    for name in set(sys.modules) - modules:
        if name.startswith("automl_plugin_"):
            del sys.modules[name]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def pip(*args: str) -> subprocess.CompletedProcess[str]:
    """pip of the running interpreter (the test environment), quiet, no network needed."""
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q",
                           *args], text=True, capture_output=True, timeout=300, check=True)


def install(*folders: Path) -> None:
    """A plain (non-editable) install, so Ray worker processes that started before it find
    the modules in site-packages too."""
    pip("install", "--no-deps", "--no-build-isolation", "--no-index",
        *(str(f) for f in folders))


def uninstall(*dists: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q",
                    "uninstall", "-y", *dists], text=True, capture_output=True, timeout=300)
