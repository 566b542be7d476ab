"""Executors: the table executor's simulated clock by hand, the executor settings, and a real
tiny search trained in this process without Ray."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from automl.bench import Table
from automl.errors import DataError
from automl.errors import UserInputError
from automl.execution import ExecutionSettings
from automl.execution import Executor
from automl.execution import InProcessExecutor
from automl.execution import RayExecutor
from automl.execution import TableExecutor
from automl.execution import check_execution
from automl.store import TrialStatus
from automl.store import TrialStore
from tests.conftest import TINY_TABLE_SECONDS
from tests.conftest import tiny_table

ROOT = Path(__file__).resolve().parents[2]
SECONDS = TINY_TABLE_SECONDS


def arch(table: Table, x: int) -> str:
    return table.space.from_flat({"x": x}).to_json()


def test_every_executor_meets_the_protocol() -> None:
    assert isinstance(TableExecutor(None), Executor)  # type: ignore[arg-type]
    assert isinstance(InProcessExecutor(None, task_name=None), Executor)
    assert isinstance(RayExecutor(ExecutionSettings(), None, task_name=None), Executor)


def test_table_executor_clock_by_hand(tmp_path: Path) -> None:
    table = tiny_table(tmp_path)
    executor = TableExecutor(table, workers=3)
    executor.start()
    for trial_id, x in enumerate((0, 1, 2)):  # finish at 4, 1, 2
        executor.submit(trial_id, arch(table, x), seed=0)
    assert executor.free_slots == 0 and sorted(executor.running) == [0, 1, 2]
    first = executor.wait()
    assert [o.trial_id for o in first] == [1] and executor.now() == 1.0
    assert first[0].result == {"ok": True, "metrics": {"reward": 0.1}, "test_metrics": {},
                               "params": None, "train_seconds": 1.0}
    assert first[0].attempts == 1
    executor.submit(3, arch(table, 3), seed=0)  # starts at 1, finishes at 2: ties with trial 2
    tied = executor.wait()
    assert [o.trial_id for o in tied] == [2, 3] and executor.now() == 2.0
    executor.submit(4, arch(table, 5), seed=0)  # the failed row: finishes at 4, ties trial 0
    executor.submit(5, arch(table, 4), seed=0)  # finishes at 5
    last = executor.wait()
    assert [o.trial_id for o in last] == [0, 4] and executor.now() == 4.0
    assert last[1].result["ok"] is False and "empty 'reward'" in last[1].result["error"]
    assert [o.trial_id for o in executor.wait()] == [5] and executor.now() == 5.0
    assert executor.wait() == [] and executor.now() == 5.0
    with pytest.raises(DataError, match="is not in the table"):
        executor.submit(6, '{"decisions":{"x":9}}', seed=0)


def test_table_executor_refuses_an_overfull_slot(tmp_path: Path) -> None:
    table = tiny_table(tmp_path)
    executor = TableExecutor(table, workers=1)
    executor.submit(0, arch(table, 0), seed=0)
    with pytest.raises(RuntimeError, match="busy"):
        executor.submit(1, arch(table, 1), seed=0)
    executor.shutdown()
    assert executor.running == [] and executor.free_slots == 1


def test_execution_settings_are_checked() -> None:
    with pytest.raises(UserInputError, match="unknown executor 'inprocess'.*in_process"):
        check_execution(ExecutionSettings(executor="inprocess"))
    with pytest.raises(UserInputError, match="one child at a time"):
        check_execution(ExecutionSettings(executor="in_process", workers=2))
    with pytest.raises(UserInputError, match="unknown scheduler 'ash'.*'asha'"):
        check_execution(ExecutionSettings(scheduler="ash"))
    assert check_execution(ExecutionSettings()).executor == "ray"


@pytest.mark.slow
def test_in_process_search_without_ray(tmp_path: Path) -> None:
    from automl.engine import run_search

    ray_before = "ray" in sys.modules and sys.modules["ray"].is_initialized()
    outcome = run_search(ROOT / "search_spaces" / "quickstart.yaml", trials=2, seed=0,
                         name="inproc", runs_dir=tmp_path / "runs",
                         execution=ExecutionSettings(executor="in_process"))
    if not ray_before:  # another test of this session may have started Ray already
        assert "ray" not in sys.modules or not sys.modules["ray"].is_initialized()
    store = TrialStore(outcome.run_path / "trials.sqlite", readonly=True)
    trials = store.trials()
    store.close()
    assert [t.trial_id for t in trials] == [0, 1]
    assert all(t.status in (TrialStatus.COMPLETE, TrialStatus.CACHED) for t in trials)
    complete = [t for t in trials if t.status == TrialStatus.COMPLETE]
    assert complete and all(0 < t.reward <= 1 and t.params > 0 for t in complete)
    assert all(t.host and (t.node is None or ray_before) for t in complete)  # no Ray node
    assert (outcome.run_path / "strategy.npz").is_file()
    assert sum(outcome.counts.values()) == 2


def test_local_ray_listens_on_loopback_only(ray_instance) -> None:
    """Every socket the local Ray processes listen on is a loopback address (Ray's GCS, raylet,
    workers and agents; this test's instance is started as the executor starts its own)."""
    import ipaddress

    import psutil

    ray_processes = [p for p in psutil.process_iter(["cmdline"])
                     if any(part in " ".join(p.info["cmdline"] or [])
                            for part in ("gcs_server", "raylet", "ray::", "runtime_env"))]
    ray_processes.append(psutil.Process())  # the driver's own core worker
    listening = []
    for process in ray_processes:
        try:
            sockets = process.net_connections(kind="inet")
            listening += [(process.name(), c.laddr.ip) for c in sockets
                          if c.status == psutil.CONN_LISTEN]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    assert len(listening) >= 3  # at least the GCS, the raylet and the driver
    for _, address in listening:
        ip = ipaddress.ip_address(address.split("%")[0])
        ip = getattr(ip, "ipv4_mapped", None) or ip
        assert ip.is_loopback, f"a Ray process listens on {address}: {listening}"
