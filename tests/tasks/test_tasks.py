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


def test_npz_arrays_not_read_get_a_note(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A misspelt split ('X_val') is not silently ignored: its rows would not be the validation
    split the user meant."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 4)), rng.integers(2, size=30)
    path = _npz(tmp_path, x=x, y=y, X_val=x[:5], Y_val=y[:5])
    with caplog.at_level("WARNING", logger="automl.data"):
        TASKS.get("arrays").load({"path": str(path)}, base_dir=tmp_path, seed=0)
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: arrays not read: X_val, Y_val (read: x, y, x_val, y_val, x_test, y_test)"]


def test_a_class_only_in_the_given_test_split_gets_a_note(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A class no training example has cannot be learnt: every child gets it wrong on test,
    which the user should hear of before blaming the search."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 4)), rng.integers(2, size=30)
    path = _npz(tmp_path, x=x, y=y, x_test=x[:6], y_test=np.array([0, 1, 2, 2, 0, 1]))
    with caplog.at_level("WARNING", logger="automl.data"):
        data = TASKS.get("arrays").load({"path": str(path)}, base_dir=tmp_path, seed=0)
    assert data.n_outputs == 3
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: 1 class has no training example: 2 (only in the test split); no child can "
        "learn it"]
    caplog.clear()
    path = _npz(tmp_path, x=x, y=y, x_test=x[:6], y_test=y[:6])
    with caplog.at_level("WARNING", logger="automl.data"):
        TASKS.get("arrays").load({"path": str(path)}, base_dir=tmp_path, seed=0)
    assert not caplog.records


def test_a_class_too_rare_for_the_cut_splits_gets_a_note(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """3 examples of a class in 100: the stratified 15 % cut leaves none in validation or
    test, and the reward (uar too) silently scores one class only."""
    rng = np.random.default_rng(0)
    path = _npz(tmp_path, x=rng.normal(size=(100, 4)), y=np.array([0] * 97 + [1] * 3))
    with caplog.at_level("WARNING", logger="automl.data"):
        data = TASKS.get("arrays").load({"path": str(path)}, base_dir=tmp_path, seed=0)
    assert set(np.unique(data.y_val)) == {0}
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: 1 class has no validation example: 1; validation scores, the reward among "
        "them (unless train.folds scores out of fold), leave it out (give more examples, or "
        "x_val/y_val with every class)",
        f"{path}: 1 class has no test example: 1; test scores leave it out (give more "
        "examples, or x_test/y_test with every class)"]


@pytest.mark.parametrize("case", ["missing", "nan", "fractional_label", "shape", "no_y", "dtype",
                                  "object_labels", "one_class", "no_features", "empty_file",
                                  "truncated", "npy_renamed", "folder",
                                  "missing_text_label"])
def test_arrays_bad_data(tmp_path: Path, case: str) -> None:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(20, 4)), rng.integers(2, size=20)
    if case == "missing":
        path = tmp_path / "nope.npz"
    elif case == "nan":
        x[3, 1] = np.nan
        path = _npz(tmp_path, x=x, y=y)
    elif case == "fractional_label":
        path = _npz(tmp_path, x=x, y=y + 0.5)
    elif case == "shape":
        path = _npz(tmp_path, x=x, y=y[:10])
    elif case == "no_y":
        path = _npz(tmp_path, x=x)
    elif case == "object_labels":  # what pandas' .values gives for a column of names
        path = _npz(tmp_path, x=x, y=np.array(["a", "b"] * 10, dtype=object))
    elif case == "missing_text_label":  # a class named 'nan' would be learnt
        path = _npz(tmp_path, x=x, y=np.array(["a", "b", "nan", "a"] * 5))
    elif case == "one_class":
        path = _npz(tmp_path, x=x, y=np.ones(20))
    elif case == "no_features":
        path = _npz(tmp_path, x=np.zeros((20, 0)), y=y)
    elif case == "empty_file":
        path = tmp_path / "empty.npz"
        path.write_bytes(b"")
    elif case == "truncated":
        whole = _npz(tmp_path, x=x, y=y).read_bytes()
        path = tmp_path / "cut.npz"
        path.write_bytes(whole[: len(whole) // 2])
    elif case == "folder":
        path = tmp_path / "data.npz"
        path.mkdir()
    elif case == "npy_renamed":
        np.save(tmp_path / "lone.npy", x)
        path = (tmp_path / "lone.npy").rename(tmp_path / "lone.npz")
    else:
        path = _npz(tmp_path, x=np.array(["a"] * 20), y=y)
    with pytest.raises(DataError) as info:
        TASKS.get("arrays").load({"path": str(path)}, base_dir=tmp_path, seed=0)
    line = info.value.one_line()
    assert str(path.resolve()) in line and "\n" not in line
    if case == "object_labels":
        assert ": y: " in line and "y.astype(str)" in line
    if case == "missing_text_label":
        assert ": y: missing label 'nan' at row 2" in line
    if case == "fractional_label":  # decimal labels are likelier a regression's targets
        assert "(or set task.output: regression)" in line


def _odd_npz(tmp_path: Path, case: str) -> Path:
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 5)), np.arange(40) % 2
    if case == "text_file":
        path = tmp_path / "text.npz"
        path.write_text("hello")  # NumPy would try to unpickle it, and say so
        return path
    arrays = {
        "empty_test": {"x": x, "y": y, "x_test": x[:0], "y_test": y[:0]},
        "no_room_for_test": {"x": x[:6], "y": y[:6], "x_val": x[:4], "y_val": y[:4]},
        "uint64_labels": {"x": x, "y": y.astype(np.uint64) * np.uint64(2**63 + 5)},
        "huge_float_labels": {"x": x, "y": np.array([1e20, 2e20, 0.0, 1.0] * 10)},
        "beyond_float32": {"x": np.full((40, 5), 1e300), "y": y},
        "targets_3d": {"x": x, "y": rng_targets(len(x))},
        "no_rows": {"x": x[:0], "y": y[:0]},
    }[case]
    return _npz(tmp_path, **arrays)


def rng_targets(n: int) -> np.ndarray:
    return np.random.default_rng(1).normal(size=(n, 2, 2))


@pytest.mark.parametrize("case, message", [
    ("text_file", "is not an .npz (zip) archive"),
    ("empty_test", "x_test: shape (0, 5): no rows"),
    ("no_rows", "y: shape (0,): no rows"),  # not "one class only (none)"
    ("no_room_for_test", "x: too few examples to cut a test split (6 rows, at most 3 of a "
                         "class); allowed: a class with 4 or more (the cut is stratified: 15 % "
                         "of each class), or give x_test/y_test"),
    ("uint64_labels", "y: labels beyond"),  # int64 wrapped them to negative numbers
    ("huge_float_labels", "y: labels beyond"),  # 1e20 and 2e20 were one class
    ("beyond_float32", "x: has values beyond float32's range"),  # NaN losses in every child
    # flattened, (n, 2, 2) targets were 4 unrelated outputs
    ("targets_3d", "y: shape (40, 2, 2): regression targets are (n,) or (n, targets)"),
])
def test_arrays_that_loaded_then_failed_every_child_are_refused(tmp_path: Path, case: str,
                                                                 message: str) -> None:
    path = _odd_npz(tmp_path, case)
    output = "regression" if case == "targets_3d" else "classification"
    with pytest.raises(DataError) as info:
        TASKS.get("arrays").load({"path": str(path), "output": output}, base_dir=tmp_path,
                                 seed=0)
    line = info.value.one_line()
    assert str(path.resolve()) in line and message in line, line


def test_csv_header_spaces_and_long_integer_labels(tmp_path: Path) -> None:
    """``a, b, label`` names a column 'label'; integer labels beyond 2**53 stay distinct
    (read as floats they were one class)."""
    rows = "".join(f"{i}, {i % 5}, {12345678901234567 + i % 3}\n" for i in range(30))
    (tmp_path / "ids.csv").write_text("a, b, label\n" + rows)
    data = TASKS.get("arrays").load({"path": "ids.csv"}, base_dir=tmp_path, seed=0)
    assert data.class_names == ("12345678901234567", "12345678901234568", "12345678901234569")


def test_csv_class_labels_not_written_as_their_integers_stay_names(tmp_path: Path) -> None:
    """Read as numbers, "007" and "7" were one class and "070" was named "70"; a regression
    target still reads "007" as 7."""
    labels = ["007", "7", "070", "7.0"]
    (tmp_path / "codes.csv").write_text("a,label\n" + "".join(
        f"{i},{labels[i % 4]}\n" for i in range(40)))
    data = TASKS.get("arrays").load({"path": "codes.csv"}, base_dir=tmp_path, seed=0)
    assert data.class_names == ("007", "7", "7.0", "070")  # by value, then as written
    regression = TASKS.get("arrays").load({"path": "codes.csv", "output": "regression"},
                                          base_dir=tmp_path, seed=0)
    assert sorted(set(regression.y_train.ravel().tolist())) == [7.0, 70.0]
    (tmp_path / "words.csv").write_text("a,label\n" + "".join(f"{i},{i}\n" for i in range(9))
                                        + "9,ten\n")
    with pytest.raises(DataError) as info:  # the CSV's own words: column, line and value
        TASKS.get("arrays").load({"path": "words.csv", "output": "regression"},
                                 base_dir=tmp_path, seed=0)
    assert info.value.one_line().endswith(
        "words.csv: line 11: non-numeric target 'ten' in column 'label'; a regression's "
        "targets are numbers (or set task.output: classification)")


def _named_rows(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Features whose first column identifies the row, and text labels by row."""
    x = np.stack([np.arange(n), np.arange(n) % 7], axis=1).astype(np.float64)
    names = np.array(["walking", "running", "sitting"])[np.arange(n) % 3]
    return x, names


def _labels_by_row(data) -> dict[int, str]:
    out = {}
    for x, y in ((data.x_train, data.y_train), (data.x_val, data.y_val),
                 (data.x_test, data.y_test)):
        for row, label in zip(x[:, 0].astype(int), y, strict=True):
            out[int(row)] = data.class_names[int(label)]
    return out


def test_text_labels_in_csv_and_npz_round_trip_to_class_names(tmp_path: Path) -> None:
    x, names = _named_rows(60)
    csv = tmp_path / "named.csv"
    csv.write_text("id,mod,activity\n" + "\n".join(
        f"{int(a)},{int(b)},{label}" for (a, b), label in zip(x, names, strict=True)))
    from_csv = TASKS.get("arrays").load({"path": "named.csv", "label_column": "activity"},
                                        base_dir=tmp_path, seed=0)
    assert from_csv.class_names == ("running", "sitting", "walking")
    assert from_csv.n_outputs == 3 and from_csv.y_train.dtype == np.int64
    assert _labels_by_row(from_csv) == {i: str(names[i]) for i in range(60)}
    npz = _npz(tmp_path, x=x[:40], y=names[:40], x_test=x[40:], y_test=names[40:])
    from_npz = TASKS.get("arrays").load({"path": str(npz)}, base_dir=tmp_path, seed=0)
    assert from_npz.class_names == from_csv.class_names
    assert _labels_by_row(from_npz) == {i: str(names[i]) for i in range(60)}
    numbered = TASKS.get("arrays").load(
        {"path": str(_npz(tmp_path, x=x, y=x[:, 1].astype(int)))}, base_dir=tmp_path, seed=0)
    assert numbered.class_names == tuple(str(i) for i in range(7))  # integers: index = label
    assert set(numbered.y_train) <= set(range(7))


@pytest.mark.parametrize("values", [(1, 2), (-1, 1), (3, 5, 7), (1.0, 2.0)])
def test_integer_labels_are_class_values(tmp_path: Path, values: tuple) -> None:
    """UCR-style labels (1/2, -1/1, ...) are classes by value: no output for a class that never
    occurs, and the names are the values as the user wrote them."""
    x, _ = _named_rows(60)
    labels = np.array(values)[np.arange(60) % len(values)]
    data = TASKS.get("arrays").load({"path": str(_npz(tmp_path, x=x, y=labels))},
                                    base_dir=tmp_path, seed=0)
    names = tuple(str(int(v)) for v in values)
    assert data.class_names == names and data.n_outputs == len(values)
    assert _labels_by_row(data) == {i: names[i % len(values)] for i in range(60)}
    csv = tmp_path / "numbered.csv"
    csv.write_text("id,mod,label\n" + "\n".join(
        f"{int(a)},{int(b)},{int(v)}" for (a, b), v in zip(x, labels, strict=True)))
    from_csv = TASKS.get("arrays").load({"path": "numbered.csv"}, base_dir=tmp_path, seed=0)
    assert from_csv.class_names == names
    assert _labels_by_row(from_csv) == _labels_by_row(data)


@pytest.mark.parametrize("text, message", [
    ("a,b,label\n1,2,x\n3,oops,y\n", "line 3: non-numeric value 'oops' in column 'b'"),
    ("a,b,label\n1,2,x\n3,4,y\n1e39,1,x\n",
     "line 4: value '1e39' in column 'a' is infinite or beyond float32's range"),
    ("a,b,label\n1,2,x\n3,inf,y\n5,6,x\n", "line 3: value 'inf' in column 'b' is infinite"),
    ("a,b,label\n1,2,x\n3,4,5,6\n", "line 3: has 4 fields, the header has 3"),
    ("a,b,label\n1,2,x\n3,4\n", "line 3: empty value in column 'label'"),
    ("a,b,kind\n1,2,x\n", "no column 'label'; columns: a, b, kind"),
    ("", "expected a header row and at least one data row"),
    ("label\nx\ny\nx\n", "no features"),
    ("a,label\n1,x\n2,x\n3,x\n", "one class only (x)"),
    ("a,a,label\n1,2,x\n3,4,y\n", "line 1: column 'a' appears more than once"),
    ("a,label\n1,1\n2,2\n3,nan\n", "line 4: missing label 'nan' in column 'label'"),
    ("a,label\n1,x\n2,N/A\n3,y\n", "line 3: missing label 'N/A' in column 'label'"),
    # pandas' to_csv writes its index under an empty name: it would be a (leaking) feature
    (",a,label\n0,1,x\n1,2,y\n2,3,x\n", "line 1: column 1 has no name (the index pandas'"),
])
def test_csv_errors_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        TASKS.get("arrays").load({"path": "bad.csv"}, base_dir=tmp_path, seed=0)
    line = info.value.one_line()
    assert "\n" not in line and str(path.resolve()) in line and message in line


def test_a_csv_that_is_not_utf8_is_named_by_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "latin1.csv").write_bytes("a,label\n1,x\n2,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(DataError, match="line 3, column 6, byte 0xe9: is not UTF-8 text"):
        TASKS.get("arrays").load({"path": "latin1.csv"}, base_dir=tmp_path, seed=0)


def test_class_names_reach_the_run_and_show(tmp_path: Path, capsys) -> None:
    from automl import ExecutionSettings
    from automl import run_search
    from automl.cli.main import main
    from automl.store import RunFolder

    x, names = _named_rows(45)
    (tmp_path / "named.csv").write_text("id,mod,label\n" + "\n".join(
        f"{int(a)},{int(b)},{label}" for (a, b), label in zip(x, names, strict=True)))
    (tmp_path / "space.yaml").write_text(
        "task: {name: arrays, path: named.csv}\ntrials: 1\n"
        "layers: {types: {dense: {units: [4, 8]}}}\ntrain: {epochs: 1}\n")
    outcome = run_search(tmp_path / "space.yaml", runs_dir=tmp_path / "runs", name="named",
                         execution=ExecutionSettings(executor="in_process"))
    assert RunFolder(outcome.run_path).info()["class_names"] == ["running", "sitting",
                                                                 "walking"]
    capsys.readouterr()
    assert main(["show", str(outcome.run_path)]) == 0
    assert "Classes (3, index order): 0=running, 1=sitting, 2=walking" in capsys.readouterr().out
    assert main(["leaderboard", "--runs-dir", str(tmp_path / "runs")]) == 0
    # the finished search closed its store: its readers leave no -wal/-shm files beside it
    assert not list(outcome.run_path.glob("trials.sqlite-*"))


def test_decimal_csv_labels_get_a_note_and_column_labels_are_read(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Decimal numbers in a CSV's label column are read as class names, as written, with a
    note that a regression needs ``task.output: regression``; labels saved as a column
    vector (n, 1), numbers or text, are one label per row; ``.NPZ`` is an .npz."""
    rng = np.random.default_rng(0)
    rows = "".join(f"{i},{[0.5, 1.5][i % 2]}\n" for i in range(30))
    (tmp_path / "graded.csv").write_text("a,label\n" + rows)
    with caplog.at_level("WARNING", logger="automl.data"):
        data = TASKS.get("arrays").load({"path": "graded.csv"}, base_dir=tmp_path, seed=0)
    assert data.class_names == ("0.5", "1.5")
    assert "column 'label' holds decimal numbers (e.g. 0.5), read as 2 class names; for a " \
           "regression set task.output: regression" in caplog.text
    x = rng.normal(size=(30, 3))
    for name, y in (("numbers.NPZ", np.arange(30)[:, None] % 2),
                    ("text.npz", np.array([["a"], ["b"]] * 15))):
        with (tmp_path / name).open("wb") as handle:  # a path would get '.npz' appended
            np.savez(handle, x=x, y=y)
        data = TASKS.get("arrays").load({"path": name}, base_dir=tmp_path, seed=0)
        assert len(data.class_names) == 2 and data.y_train.ndim == 1
