"""`automl plugins new`: a pip-installable package whose own test passes, for every kind."""

from __future__ import annotations

import os
import py_compile
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from automl.cli.main import main
from automl.registry.scaffold import KINDS
from automl.registry.scaffold import scaffold_plugin
from tests.plugins.conftest import ROOT
from tests.plugins.conftest import pip


def test_generated_files_declare_the_entry_point_and_compile(tmp_path: Path) -> None:
    for kind in KINDS:
        files = scaffold_plugin(f"my_{kind}", kind, tmp_path)
        folder = files[0]
        assert folder == tmp_path / f"automl-my-{kind}"
        project = tomllib.loads((folder / "pyproject.toml").read_text())
        assert project["project"]["entry-points"]["automl.plugins"] == {
            f"my_{kind}": f"automl_my_{kind}"}
        for path in files[1:]:
            if path.suffix == ".py":
                py_compile.compile(str(path), doraise=True)


@pytest.mark.parametrize("args,problem", [
    (["Bad-Name", "--kind", "layer"], "is not a lowercase ASCII Python identifier"),
    # a valid identifier, but no distribution name and no bare TOML key
    (["\u00fcn\u00ef", "--kind", "layer"], "is not a lowercase ASCII Python identifier"),
    (["_x", "--kind", "layer"], "start and end with a letter or digit"),
    (["a__b", "--kind", "task"], "use single underscores"),
    (["dense", "--kind", "layer"], "layer 'dense' exists already (from builtin)"),
    (["taken", "--kind", "reward"], "exists already; choose another name or --dir"),
])
def test_new_refuses_bad_names_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           args: list[str], problem: str) -> None:
    (tmp_path / "automl-taken").mkdir()
    assert main(["plugins", "new", *args, "--dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and problem in err[0], err


@pytest.mark.slow
def test_generated_packages_install_and_their_tests_pass(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folders = []
    for kind in KINDS:
        assert main(["plugins", "new", f"scaffolded_{kind}", "--kind", kind,
                     "--dir", str(tmp_path)]) == 0
        folders.append(tmp_path / f"automl-scaffolded-{kind}")
    assert "Next: pip install -e" in capsys.readouterr().out
    # pip builds and installs them (into a folder of their own: no Ray worker is involved, so
    # the shared environment stays untouched); the generated tests find them by entry point
    site = tmp_path / "site"
    pip("install", "--no-deps", "--no-build-isolation", "--no-index", "--target", str(site),
        *(str(folder) for folder in folders))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         *(str(folder / "tests") for folder in folders)],
        cwd=tmp_path, text=True, capture_output=True, timeout=300,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
             "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "11 passed" in result.stdout, result.stdout[-2000:]
