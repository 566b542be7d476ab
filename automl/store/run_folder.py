"""The run folder: ``runs/<name>/`` with the resolved config, the trial database, the strategy
checkpoint and the logs. Run names cannot escape the runs folder; a run is created whole or not
at all; one search at a time holds a run's lock.

Layout::

    runs/<name>/
      config.yaml        the resolved search space (what was actually searched)
      run.json           strategy, seed, workers, requested trials, versions, creation time
      trials.sqlite      the trial store (WAL mode)
      strategy.npz       the strategy's last checkpoint (JSON meta + arrays, no pickle)
      one_shot.npz       --mode one-shot: super-network weights and controller at the last epoch
      models/<trial>.keras  the trained models of the best K children (``ModelFiles``)
      logs/search.log    the driver's log (TensorFlow and Ray noise stays out of the terminal)
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from automl.atomic_write import atomic_write
from automl.errors import RunError
from automl.errors import short

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def check_run_name(name: str) -> str:
    """Return ``name`` if it is a safe folder name, else raise RunError."""
    if not _NAME.match(name) or ".." in name:
        raise RunError(
            f"invalid run name {name!r}: use letters, digits, '.', '_' and '-' (at most 100, "
            "starting with a letter or digit, no '..')", key="--name")
    return name


class RunFolder:
    """Paths of one run and the operations on them."""

    def __init__(self, path: Path):
        self.path = path
        self._lock_handle: Any = None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def run_json(self) -> Path:
        return self.path / "run.json"

    @property
    def db_path(self) -> Path:
        return self.path / "trials.sqlite"

    @property
    def checkpoint_path(self) -> Path:
        return self.path / "strategy.npz"

    @property
    def one_shot_path(self) -> Path:
        """The one-shot phase's checkpoint (super-network, controller; ``--mode one-shot``)."""
        return self.path / "one_shot.npz"

    @property
    def log_dir(self) -> Path:
        return self.path / "logs"

    # ------------------------------------------------------------------ create / open
    @classmethod
    def create(cls, runs_dir: str | Path, name: str, config: Mapping[str, Any],
               run_info: Mapping[str, Any], *, overwrite: bool = False) -> RunFolder:
        """Create ``runs_dir/name`` whole (built in a hidden temporary folder, then renamed)."""
        check_run_name(name)
        runs = Path(runs_dir)
        if not overwrite:
            cls.check_free(runs, name)
        runs.mkdir(parents=True, exist_ok=True)
        target = runs / name
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=".tmp", dir=runs))
        try:
            (tmp / "logs").mkdir()
            (tmp / "config.yaml").write_text(
                yaml.safe_dump(dict(config), sort_keys=False), encoding="utf-8")
            (tmp / "run.json").write_text(json.dumps(dict(run_info), indent=2),
                                          encoding="utf-8")
            if target.exists():
                folder = cls(target)
                folder.acquire_lock()
                shutil.rmtree(target)
                folder.release_lock()
            try:
                os.rename(tmp, target)
            except OSError:
                raise RunError(f"run {name!r} already exists in {runs}", key="--name") from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return cls(target)

    @staticmethod
    def check_free(runs_dir: str | Path, name: str) -> None:
        """Refuse a name already taken, saying how to resume or replace that run."""
        target = Path(runs_dir) / check_run_name(name)
        if target.exists():
            raise RunError(f"run {name!r} already exists in {runs_dir}; resume it with "
                           f"'automl resume {target}' (or search --resume), or pass --overwrite "
                           "or another --name", key="--name")

    @classmethod
    def open(cls, run: str | Path, runs_dir: str | Path = "runs") -> RunFolder:
        """Open an existing run given as a folder path or as a name inside ``runs_dir``."""
        candidate = Path(run)
        if not (candidate / "run.json").is_file() and isinstance(run, str):
            # a name reads only a folder directly inside runs_dir; one that check_run_name
            # refuses (a folder renamed by hand, "my run") can be read, never made
            if "/" not in run and os.sep not in run and run not in ("", ".", ".."):
                candidate = Path(runs_dir) / run
        if not (candidate / "run.json").is_file():
            raise RunError(f"no run found at {run!s} (looked for run.json there and in "
                           f"{runs_dir}/)", source=str(run))
        return cls(candidate)

    def info(self) -> dict[str, Any]:
        """``run.json``; one that is not a JSON object (edited, or damaged) is a RunError."""
        try:
            info = json.loads(self.run_json.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise RunError(f"cannot be read as JSON ({exc.__class__.__name__}: "
                           f"{str(exc)[:80]})", source=str(self.run_json)) from None
        if not isinstance(info, dict):
            raise RunError(f"holds {short(info)}; expected the JSON object a run writes",
                           source=str(self.run_json))
        return info

    def update_info(self, **changes: Any) -> None:
        atomic_write(self.run_json, json.dumps({**self.info(), **changes}, indent=2))

    # ------------------------------------------------------------------ lock
    def acquire_lock(self) -> None:
        """Hold the run's lock for this process; another search on the same run is refused."""
        handle = open(self.path / ".lock", "a+")  # noqa: SIM115 (held until release_lock)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise RunError(f"run is in use by another search ({holder})",
                           source=str(self.path)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {time.strftime('%Y-%m-%d %H:%M:%S')}")
        handle.flush()
        self._lock_handle = handle
        # Holding the lock, any temporary file here was left by a writer that was killed.
        for stale in self.path.glob(".*.tmp"):
            stale.unlink(missing_ok=True)

    @property
    def holds_lock(self) -> bool:
        return self._lock_handle is not None

    def release_lock(self) -> None:
        if self._lock_handle is not None:
            fcntl.flock(self._lock_handle, fcntl.LOCK_UN)
            self._lock_handle.close()
            self._lock_handle = None
