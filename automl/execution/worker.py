"""The code that trains children: one long-lived trainer per worker slot.

On Ray it runs inside a worker process: TensorFlow is imported once per process and the dataset
arrives once per process (from Ray's object store); the process is replaced every
``recycle_after`` children, a bound on what TensorFlow keeps across models (the graphs it
left in its gradient registry are removed after each child: ``tf_leaks.py``). The in-process
executor runs the same trainer in the driver, so both train a child with the same code.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import socket
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from automl.errors import TrialFailedError
from automl.execution.tf_leaks import GradientRegistrySweep


def quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore")
    for name in ("tensorflow", "absl", "keras"):
        logging.getLogger(name).setLevel(logging.ERROR)


class ChildTrainer:
    """Trains children in this process (wrapped as a Ray actor by the executor).

    Args:
        data: The task's loaded Dataset (resolved by Ray from the object store).
        task_name: Registered task, for its worker-side ``prepare`` (searched front ends).
        plugin_paths: Plugin files/folders to load so plugin layers and tasks resolve here too.
        threads: Threads TensorFlow may use (the CPUs this trial was given).
        own_process: The trainer owns its process (a Ray actor): quiet TensorFlow and size its
            thread pools. False in the driver (in-process execution), whose logging, warnings
            and TensorFlow settings are the caller's.
    """

    def __init__(self, data: Any, task_name: str | None, plugin_paths: Sequence[str] = (),
                 threads: int = 1, *, own_process: bool = True):
        if own_process:
            quiet_tensorflow()
            os.environ["OMP_NUM_THREADS"] = str(max(1, threads))  # before TensorFlow loads
            import tensorflow as tf

            from automl.tf_devices import enable_memory_growth

            tf.config.threading.set_intra_op_parallelism_threads(max(1, threads))
            tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, threads)))
            enable_memory_growth(tf)  # two children on one GPU must not fight for all of it
        self._own_process = own_process
        from automl.registry.discovery import discover

        # the driver's discovery, repeated here: built-ins, installed plugins, the run's paths
        discover(plugin_paths)
        self._data = data
        self._task_name = task_name
        self._prepared: dict[str, Any] = {}
        self._children = 0
        self._where: dict[str, Any] | None = None
        self._sweep = GradientRegistrySweep()
        if own_process:
            # TensorFlow, Keras and the plugins are loaded for good: keep the collector from
            # walking their objects again in every clear_session's full collection (0.3 s a
            # child on a busy core, more than the rest of the overhead together)
            gc.freeze()

    def ping(self) -> int:
        return os.getpid()

    def _data_for(self, task_params: dict[str, Any]) -> Any:
        key = json.dumps(task_params, sort_keys=True)
        if key not in self._prepared:
            data = self._data
            if self._task_name is not None:  # prepare runs even when nothing is searched
                from automl.registry import TASKS

                data = TASKS.get(self._task_name).prepare(data, data.child_params(task_params))
            self._prepared = {key: data}  # keep one front end at a time: bounded memory
        return self._prepared[key]

    def train(self, architecture_json: str, seed: int,
              model_out: Mapping[str, Any] | None = None,
              stop: Callable[[int, Mapping[str, float]], bool] | None = None) -> dict[str, Any]:
        """Train one child; never raises for the child's own errors (they come back as text).

        Args:
            model_out: Where the trained model goes (the run keeps its best K):
                ``{"path": ..., "host": ...}``, the pending file the driver named and the
                driver's host. On the driver's host the model is saved to ``path``
                (``model_file`` in the result); on another machine the ``.keras`` file's bytes
                come back in the result (``model_bytes``) and the driver writes them.
            stop: The scheduler's per-epoch question (``--scheduler``): False ends training
                there, and the result says so (``stopped_at``, when before ``train.epochs``).

        A trained child's result carries ``costs``: seconds of each phase (the trainer's
        ``build``, ``compile``, ``fit``, ``evaluate``, then ``summary``, ``save_model``,
        ``clear_session``, and ``worker``, all of this call), ``child`` (children this process
        has trained, this one included) and ``rss_mb`` (this process's resident memory after
        the child), so overhead and leaks are measured where they happen.
        """
        from automl.space import Architecture
        from automl.training.recipe import Recipe
        from automl.training.trainer import keras_summary
        from automl.training.trainer import train_child

        received = time.perf_counter()
        if self._where is None or not self._own_process:  # an actor's node and GPUs are fixed
            self._where = _placement()
        where = dict(self._where)
        architecture = Architecture.from_json(architecture_json)
        report = EpochLog(stop, Recipe.from_train(dict(architecture.train)).epochs)
        if self._own_process:
            self._sweep.mark()
        try:
            out = train_child(architecture, self._data_for(dict(architecture.task)), seed=seed,
                              keep_model=True, report=report)
            costs = out.pop("costs")
            out["stopped_at"] = report.stopped_at
            model = out.pop("model")
            clock = time.perf_counter()
            out["keras_summary"] = keras_summary(out.pop("summary_model", None) or model)
            costs["summary"] = time.perf_counter() - clock
            if model_out is not None:
                clock = time.perf_counter()
                out.update(_save_model(model, model_out))
                costs["save_model"] = time.perf_counter() - clock
            del model  # nothing here holds the child now: clear_session can free it
        except TrialFailedError as exc:
            return {"ok": False, "error": str(exc), "epochs": report.entries, **where}
        except Exception as exc:  # noqa: BLE001 (any error of one child fails that child alone)
            text = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            detail = traceback.format_exc(limit=-3)
            return {"ok": False, "error": f"{text}\n{detail}", "epochs": report.entries,
                    **where}
        finally:
            self._children += 1
            clock = time.perf_counter()
            if self._own_process:  # Keras' global state grows with every model built here
                import keras

                self._sweep.sweep()  # TensorFlow's own hold on the child's graphs, then
                keras.backend.clear_session()  # its full collection frees them
            cleared = time.perf_counter() - clock
        costs.update(clear_session=cleared, worker=time.perf_counter() - received,
                     child=self._children, rss_mb=resident_mb())
        return {"ok": True, **out, "costs": costs, **where}


class EpochLog:
    """The trainer's ``EpochReport`` for one child: keeps the epochs it reported (a failed
    child's come back too) and asks the scheduler, if any, whether to go on.

    A scheduler that cannot answer (its actor is gone) never fails the child: it trains on.
    """

    def __init__(self, stop: Callable[[int, Mapping[str, float]], bool] | None, planned: int):
        self.stop = stop
        self.planned = planned
        self.entries: list[dict[str, float]] = []
        self.stopped_at: int | None = None

    def __call__(self, epoch: int, metrics: Mapping[str, float]) -> bool:
        self.entries.append(dict(metrics))
        if self.stop is None:
            return True
        try:
            go_on = self.stop(epoch, metrics)
        except Exception as exc:  # noqa: BLE001
            logging.getLogger(__name__).warning("the scheduler did not answer (%s); the child "
                                                "trains on", exc)
            self.stop = None
            return True
        if not go_on and epoch < self.planned:
            self.stopped_at = epoch
            return False
        return True


def _save_model(model: Any, model_out: Mapping[str, Any]) -> dict[str, Any]:
    """Save on this machine when it is the driver's, else return the file's bytes. A model that
    cannot be saved (a full disk) costs the run that file, not the child its result."""
    import tempfile
    from pathlib import Path

    path = Path(str(model_out["path"]))
    try:
        if model_out.get("host") == socket.gethostname() and path.parent.is_dir():
            model.save(path)
            return {"model_file": str(path)}
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / "model.keras"
            model.save(local)
            return {"model_bytes": local.read_bytes()}
    except Exception as exc:  # noqa: BLE001
        return {"model_error": f"{type(exc).__name__}: {exc}"[:500]}


def resident_mb(pid: int | str = "self") -> float | None:
    """Resident memory of a process in MB (``VmRSS`` in ``/proc/<pid>/status``); None where
    there is no such file (not Linux, or the process is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _placement() -> dict[str, Any]:
    """Where the child trains: host and process, plus Ray's node and GPUs inside a Ray worker
    (Ray is only asked when this process is connected to it, so in-process training never
    imports it)."""
    where: dict[str, Any] = {"host": socket.gethostname(), "pid": os.getpid()}
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        try:
            where["node"] = ray.get_runtime_context().get_node_id()
            where["gpus"] = ",".join(str(g) for g in ray.get_gpu_ids())
        except Exception:  # noqa: BLE001 (placement is informative; never fail a child for it)
            pass
    return where
