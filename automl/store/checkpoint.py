"""Atomic strategy checkpoints: one ``.npz`` file holding the JSON meta and the named arrays.

Written to a temporary file in the same folder, flushed to disk, then ``os.replace``d over the
old one, so a kill at any moment leaves either the old or the new checkpoint, never a torn one.
Loaded with ``allow_pickle=False``: a checkpoint a user receives cannot run code.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from automl.failpoints import failpoint
from automl.strategies.base import StrategyState

_META_KEY = "__meta__"


def save_checkpoint(path: str | Path, state: StrategyState) -> None:
    """Write ``state`` to ``path`` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if _META_KEY in state.arrays:
        raise ValueError(f"array name {_META_KEY!r} is reserved")
    meta = np.frombuffer(json.dumps(state.meta).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **{_META_KEY: meta}, **state.arrays)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(buffer.getvalue())
            handle.flush()
            os.fsync(handle.fileno())
        failpoint("checkpoint_tmp")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path) -> StrategyState:
    """Read a checkpoint written by :func:`save_checkpoint` (no pickle)."""
    with np.load(Path(path), allow_pickle=False) as data:
        meta = json.loads(bytes(data[_META_KEY]).decode("utf-8"))
        arrays = {key: np.array(data[key]) for key in data.files if key != _META_KEY}
    return StrategyState(meta=meta, arrays=arrays)
