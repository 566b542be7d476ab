"""A search on a real two-node Ray cluster on this machine (loopback only), joined with
``automl search --address`` from a separate process as a user would. One search checks the
cluster and GPU paths together (each Ray worker costs a TensorFlow import, so one search is
much cheaper than two): plugin files travel to the nodes with the job; default workers come from
the cluster's resources; the trial clock starts when the worker is up; half a logical GPU per
trial puts two children on each GPU at once, each seeing its GPU in ``CUDA_VISIBLE_DEVICES``.

The cluster is its own: its processes, sockets and logs live in a private ``RAY_TMPDIR``, and
the test stops exactly the processes it started, so the test session's shared Ray instance (and
any other Ray on this machine) is untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from automl.engine.search import child_seed
from automl.store import TrialStore
from tests.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.ray]  # starts a two-node cluster of its own

NODE = {"num_cpus": 1, "num_gpus": 1}  # each node: one logical GPU (this machine has none)
IMPORT_DELAY = TIMEOUT = 30  # seconds; a loaded 2-core machine needs the margin

PROBE = '''
import json
import os
import time
from pathlib import Path

import ray

from automl.builder import LayerType
from automl.registry import LAYERS
from automl.space import Param

if "py_modules_files" in __file__:  # loaded from the copy Ray unpacked on a node
    import keras  # noqa: F401 (start-up work, so that a child's own training stays short)

    time.sleep({import_delay})  # a slow worker start-up, which must not count as training


def build(x, params, context):
    log = Path(params["log"])
    node = ray.get_runtime_context().get_node_id()
    cuda = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    # wait for the other child on this node's GPU: both must be training at the same time
    (log / f"on-{{node}}-{{cuda}}-{{context.seed}}").touch()
    deadline = time.monotonic() + 120
    while len(list(log.glob(f"on-{{node}}-{{cuda}}-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    record = {{"file": __file__, "seed": context.seed, "node": node, "cuda": cuda,
              "partner": len(list(log.glob(f"on-{{node}}-{{cuda}}-*"))) >= 2}}
    (log / f"{{context.seed}}.json").write_text(json.dumps(record))
    return x


LAYERS.register("probe", LayerType("probe", build, {{
    "log": Param(str, default=""),
    "tag": Param(int, min=0, max=99, default=0),
}}, accepts="vector"))
'''

SPACE = """
name: cluster
task: digits
layers:
  min: 1
  max: 1
  types:
    probe:
      log: {log}
      tag: [0, 1, 2, 3, 4, 5, 6, 7]
train:
  batch_size: 256
  epochs: 1
"""


DENSE_SPACE = """
name: small
task: digits
layers:
  min: 1
  max: 1
  types:
    dense:
      units: [4, 8, 16, 32]
train:
  batch_size: 256
  epochs: 1
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[dict]:
    """A head node and a second node, each with 1 CPU and 1 logical GPU; stopped at the end."""
    tmpdir = tempfile.mkdtemp(prefix="rc", dir="/tmp")  # short: Unix socket paths are capped
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_TMPDIR": tmpdir,
           "RAY_AUTH_MODE": "disabled", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.execution.ray_cluster", json.dumps(NODE),
         json.dumps(NODE)], cwd=ROOT, env=env, text=True, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = holder.stdout.readline()  # type: ignore[union-attr]
        assert line, "the cluster did not start"
        yield {**json.loads(line), "tmpdir": tmpdir, "env": env}
    finally:
        holder.stdin.close()  # type: ignore[union-attr]
        try:
            holder.wait(timeout=60)
        except subprocess.TimeoutExpired:
            holder.kill()
        # anything of this cluster still alive (ours by its private folder) is ended by pid
        for process in psutil.process_iter(["pid", "cmdline"]):
            if tmpdir in " ".join(process.info["cmdline"] or []):
                process.kill()
        shutil.rmtree(tmpdir, ignore_errors=True)


def test_search_on_two_nodes_with_a_shipped_plugin_and_half_a_gpu_per_trial(
        cluster: dict, tmp_path: Path) -> None:
    """Trials on both nodes; every worker loads the plugin from the copy Ray shipped, not the
    driver's path; no --workers: 4, from the cluster's 2 CPUs and 2 logical GPUs (this machine
    has no GPU); two children train at once on each node's GPU, see it in
    CUDA_VISIBLE_DEVICES, and the store records that id; a worker start-up of 30 s does not
    count against a 30 s trial timeout."""
    log = tmp_path / "log"
    log.mkdir()
    plugin = tmp_path / "probe.py"
    plugin.write_text(PROBE.format(import_delay=IMPORT_DELAY))
    (tmp_path / "space.yaml").write_text(SPACE.format(log=log))
    result = subprocess.run(
        [sys.executable, "-m", "automl", "search", "space.yaml", "--name", "c", "--plugins",
         "probe.py", "--address", cluster["address"], "--strategy", "random", "--seed", "1",
         "--trials", "4", "--cpus-per-trial", "0.5", "--gpus-per-trial", "0.5",
         "--trial-timeout", str(TIMEOUT)],
        cwd=tmp_path, env=cluster["env"], text=True, capture_output=True, timeout=500)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "note: running plugin code named by --plugins: probe.py" in result.stderr
    info = json.loads((tmp_path / "runs" / "c" / "run.json").read_text())
    assert info["execution"]["workers"] == 4
    store = TrialStore(tmp_path / "runs" / "c" / "trials.sqlite", readonly=True)
    trials = store.trials()
    store.close()
    assert [t.status.value for t in trials] == ["complete"] * 4, [t.error for t in trials]
    assert sorted(t.node for t in trials) == sorted([cluster["head"], cluster["second"]] * 2)
    assert [t.gpus for t in trials] == ["0"] * 4  # each node's one logical GPU
    seen = {r["seed"]: r for r in (json.loads(p.read_text()) for p in log.glob("*.json"))}
    for trial in trials:
        record = seen[child_seed(1, trial.trial_id)]
        assert record["node"] == trial.node and record["cuda"] == trial.gpus
        assert record["partner"], record  # the other child on that GPU trained at the same time
        assert record["file"].startswith(cluster["tmpdir"]), record  # Ray's unpacked copy
        assert "py_modules_files" in record["file"]


def test_a_cluster_smaller_than_the_workers_is_accepted_and_finishes(cluster: dict,
                                                                     tmp_path: Path) -> None:
    """An autoscaling cluster starts small: 3 workers of 1 CPU on 2 CPUs is a notice, not an
    error; the third child waits, and when the others are done their idle workers are ended so
    that it gets a CPU (otherwise they would hold both CPUs and the search would never end)."""
    (tmp_path / "space.yaml").write_text(DENSE_SPACE)
    result = subprocess.run(
        [sys.executable, "-m", "automl", "search", "space.yaml", "--name", "s", "--address",
         cluster["address"], "--strategy", "random", "--trials", "3", "--workers", "3"],
        cwd=tmp_path, env=cluster["env"], text=True, capture_output=True, timeout=420)
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("note: 3 workers x 1 CPUs per trial need 3 CPUs; the Ray cluster has 2 now; "
            "children wait until the cluster has room") in result.stderr
    store = TrialStore(tmp_path / "runs" / "s" / "trials.sqlite", readonly=True)
    assert [t.status.value for t in store.trials()] == ["complete"] * 3
    store.close()
