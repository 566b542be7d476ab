"""Named kill points for fault-injection tests of resume (inactive unless the variable is set).

``AUTOML_FAILPOINTS="after_submit:2,checkpoint_written:5"`` makes the driver SIGKILL itself the
2nd time it passes ``after_submit`` and the 5th time it passes ``checkpoint_written``; it is how
``tests/test_faults.py`` proves that a search killed at any of these moments resumes exactly.

Points: ``after_submit`` (a child was handed to a worker), ``after_store`` (a result is stored,
not yet told), ``after_tell`` (told, not yet checkpointed), ``checkpoint_tmp`` (checkpoint
written to its temporary file, not yet renamed), ``checkpoint_written``.
"""

from __future__ import annotations

import os
import signal

_ENV = "AUTOML_FAILPOINTS"
_hits: dict[str, int] = {}


def failpoint(name: str) -> None:
    spec = os.environ.get(_ENV)
    if not spec:
        return
    _hits[name] = _hits.get(name, 0) + 1
    for item in spec.split(","):
        point, _, count = item.partition(":")
        if point == name and _hits[name] == int(count or 1):
            os.kill(os.getpid(), signal.SIGKILL)
