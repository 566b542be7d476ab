"""Cluster plumbing without a cluster: staging plugin files for Ray's ``py_modules`` and finding
them again on a worker, and the resource check that refuses a short local Ray but only warns on
a cluster joined with ``--address`` (which may autoscale). The real cluster is in
``test_cluster.py``."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from automl.errors import PluginError
from automl.errors import UserInputError
from automl.execution import ExecutionSettings
from automl.execution import RayExecutor
from automl.execution import default_workers
from automl.execution.shipping import stage_plugins


def test_staged_plugins_are_found_again_where_ray_unpacks_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "team_a").mkdir()
    (tmp_path / "team_b").mkdir()
    (tmp_path / "team_a" / "layers.py").write_text("A = 1\n")
    (tmp_path / "team_b" / "layers.py").write_text("B = 2\n")  # the same name, elsewhere
    package = tmp_path / "pkg"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text("from . import inner\n")
    (package / "inner.py").write_text("C = 3\n")
    (package / "__pycache__" / "inner.cpython-311.pyc").write_bytes(b"\0")
    paths = [str(tmp_path / "team_a" / "layers.py"), str(tmp_path / "team_b" / "layers.py"),
             str(package)]

    shipped, root = stage_plugins(paths, tmp_path / "staging")
    assert root.name == shipped.package == "automl_shipped_plugins"
    assert shipped.members == ("0/layers.py", "1/layers.py", "2/pkg")
    assert not (root / "2" / "pkg" / "__pycache__").exists()
    with pytest.raises(PluginError, match="not on this Ray worker's path"):
        shipped.local_paths()  # the folder is not on sys.path yet

    unpacked = tmp_path / "node" / "_ray_pkg_x"  # Ray unpacks the folder and adds its parent
    unpacked.mkdir(parents=True)
    (root).rename(unpacked / shipped.package)
    monkeypatch.syspath_prepend(str(unpacked))
    local = [Path(p) for p in shipped.local_paths()]
    assert [p.read_text() for p in local[:2]] == ["A = 1\n", "B = 2\n"]
    assert (local[2] / "inner.py").read_text() == "C = 3\n"
    assert all(str(p).startswith(str(unpacked)) for p in local)


def test_short_resources_refused_locally_but_only_a_warning_on_a_cluster(
        caplog: pytest.LogCaptureFixture) -> None:
    local = RayExecutor(ExecutionSettings(workers=4, cpus_per_trial=1.0), None, task_name=None)
    with pytest.raises(UserInputError, match="4 workers x 1 CPUs per trial need 4 CPUs; the "
                                             "Ray cluster has 2") as error:
        local._check_resources({"CPU": 2.0})
    assert error.value.key == "--workers"
    gpus = RayExecutor(ExecutionSettings(workers=2, gpus_per_trial=0.5), None, task_name=None)
    with pytest.raises(UserInputError, match="need 1 GPUs; the Ray cluster has 0"):
        gpus._check_resources({"CPU": 8.0})

    cluster = RayExecutor(ExecutionSettings(workers=4, gpus_per_trial=0.5, address="h:6379"),
                          None, task_name=None)
    with caplog.at_level(logging.WARNING, logger="automl.cluster"):
        cluster._check_resources({"CPU": 1.0})
    assert "need 4 CPUs; the Ray cluster has 1" in caplog.text
    assert "need 2 GPUs; the Ray cluster has 0" in caplog.text
    assert "an autoscaler adds nodes" in caplog.text
    assert cluster._short  # idle workers will make room for the waiting ones
    enough = RayExecutor(ExecutionSettings(workers=2, address="h:6379"), None, task_name=None)
    enough._check_resources({"CPU": 2.0})
    assert not enough._short


def test_default_workers_count_this_machines_cpus_without_an_address() -> None:
    import os

    assert default_workers(1.0) == os.cpu_count()
    assert default_workers(0.3) == int((os.cpu_count() or 1) / 0.3 + 1e-9)
    assert default_workers(64.0) == 1  # at least one



def test_an_address_nobody_answers_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess
    import sys

    from tests.conftest import ROOT
    from tests.conftest import TINY_DIGITS

    with socket.socket() as probe:  # a loopback port that was free a moment ago: nobody there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "space.yaml").write_text(TINY_DIGITS)
    for workers in ([], ["--workers", "1"]):  # counted from the cluster, or given
        result = subprocess.run(
            [sys.executable, "-m", "automl", "search", "space.yaml", "--address",
             f"127.0.0.1:{port}", *workers], cwd=tmp_path, capture_output=True, text=True,
            timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert result.returncode == 2, result.stderr[-2000:]
        assert result.stderr.startswith("error: --address: cannot reach the Ray cluster at "
                                        f"'127.0.0.1:{port}'")
        assert len(result.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "runs").exists()
