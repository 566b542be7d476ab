"""Atomic strategy checkpoints: one ``.npz`` file holding the JSON meta and the named arrays.

Written with :func:`~automl.atomic_write.atomic_write`, so a kill at any moment leaves either the
old or the new checkpoint, never a torn one.
Loaded with ``allow_pickle=False``: a checkpoint a user receives cannot run code.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import Any
from typing import Protocol

import numpy as np

from automl.atomic_write import atomic_write
from automl.errors import RunError
from automl.failpoints import failpoint

_META_KEY = "__meta__"


class State(Protocol):
    """What a checkpoint holds: JSON-able ``meta`` and named NumPy ``arrays`` (a strategy's
    ``StrategyState`` has this shape; the store needs to know nothing else of strategies)."""

    meta: dict[str, Any]
    arrays: dict[str, np.ndarray]


@dataclass
class Checkpoint:
    """A loaded checkpoint; pass it to ``Strategy.load_state_dict`` as it is."""

    meta: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


def save_checkpoint(path: str | Path, state: State) -> None:
    """Write ``state`` to ``path`` atomically (:func:`~automl.atomic_write.atomic_write`)."""
    if _META_KEY in state.arrays:
        raise ValueError(f"array name {_META_KEY!r} is reserved")
    meta = np.frombuffer(json.dumps(state.meta).encode("utf-8"), dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, **{_META_KEY: meta}, **state.arrays)
    atomic_write(path, buffer.getvalue(), before_replace=lambda: failpoint("checkpoint_tmp"))


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint written by :func:`save_checkpoint` (no pickle).

    Raises:
        RunError: the file is not a whole checkpoint (damaged, truncated, edited): the
            caller decides whether to rebuild from the store or refuse.
    """
    return _read(path, arrays=True)


def load_checkpoint_meta(path: str | Path) -> dict[str, Any]:
    """Only the meta object of a checkpoint (``show`` of a one-shot phase in progress: its
    epoch and history, without reading the super-network's weights)."""
    return _read(path, arrays=False).meta


def _read(path: str | Path, *, arrays: bool) -> Checkpoint:
    try:
        with np.load(Path(path), allow_pickle=False) as data:
            meta = json.loads(bytes(data[_META_KEY]).decode("utf-8"))
            values = ({key: np.array(data[key]) for key in data.files if key != _META_KEY}
                      if arrays else {})
    except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise RunError(f"the checkpoint cannot be read ({exc.__class__.__name__})",
                       source=str(path)) from None
    if not isinstance(meta, dict):
        raise RunError("the checkpoint holds no meta object", source=str(path))
    return Checkpoint(meta=meta, arrays=values)
