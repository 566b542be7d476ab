"""Built-in tasks load offline with fixed, seeded splits; bad data files fail in one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from automl.errors import DataError
from automl.registry import TASKS
from automl.registry import ensure_builtins

ensure_builtins()


def test_digits_split_is_seeded_and_disjoint() -> None:
    a = TASKS.get("digits").load({}, base_dir=Path("."), seed=0)
    b = TASKS.get("digits").load({}, base_dir=Path("."), seed=0)
    assert np.array_equal(a.x_val, b.x_val)
    assert len(a.y_train) + len(a.y_val) + len(a.y_test) == 1797
    assert a.input_shape == (64,) and a.image_shape == (8, 8, 1) and a.n_outputs == 10


def test_japanese_vowels_is_speech_sequences() -> None:
    data = TASKS.get("japanese_vowels").load({}, base_dir=Path("."), seed=0)
    assert data.input_shape == (29, 12)
    assert len(data.y_test) == 370 and len(data.y_train) + len(data.y_val) == 270
    assert set(np.unique(data.y_train)) == set(range(9))
    assert TASKS.get("japanese_vowels").default_reward == "uar"


def _npz(tmp_path: Path, **arrays) -> Path:
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return path


def test_arrays_npz_and_csv(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 5)), rng.integers(3, size=60)
    path = _npz(tmp_path, x=x, y=y)
    data = TASKS.get("arrays").load({"path": str(path)}, base_dir=tmp_path, seed=0)
    assert data.n_outputs == 3 and data.x_train.dtype == np.float32
    csv = tmp_path / "data.csv"
    csv.write_text("a,b,label\n" + "\n".join(f"{i},{i * 2},{i % 2}" for i in range(30)))
    data = TASKS.get("arrays").load({"path": "data.csv"}, base_dir=tmp_path, seed=0)
    assert data.input_shape == (2,) and data.n_outputs == 2


@pytest.mark.parametrize("case", ["missing", "nan", "negative_label", "shape", "no_y", "dtype"])
def test_arrays_bad_data(tmp_path: Path, case: str) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 4)), rng.integers(2, size=20)
    if case == "missing":
        path = tmp_path / "nope.npz"
    elif case == "nan":
        x[3, 1] = np.nan
        path = _npz(tmp_path, x=x, y=y)
    elif case == "negative_label":
        y[0] = -1
        path = _npz(tmp_path, x=x, y=y)
    elif case == "shape":
        path = _npz(tmp_path, x=x, y=y[:10])
    elif case == "no_y":
        path = _npz(tmp_path, x=x)
    else:
        path = _npz(tmp_path, x=np.array(["a"] * 20), y=y)
    with pytest.raises(DataError) as info:
        TASKS.get("arrays").load({"path": str(path)}, base_dir=tmp_path, seed=0)
    assert str(path.resolve()) in info.value.one_line()
