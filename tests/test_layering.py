"""The import layering of pyproject.toml's import-linter contracts: no package imports one above
it, no import circle inside a package, strategies import neither Ray nor the builder, the
executors or the store, and an Architecture (a plain value) knows no registry."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")  # import-linter's command
    result = subprocess.run([str(lint_imports)], cwd=ROOT, text=True, capture_output=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout and "4 kept, 0 broken" in result.stdout, result.stdout
