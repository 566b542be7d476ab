"""Built-in tasks: ``digits`` (images as vectors), ``japanese_vowels`` (speech, sequences),
``ucr`` (UCR/UEA time-series sets shipped in sktime, :mod:`automl.tasks.ucr`), ``arrays`` (the
user's own ``.npz`` or ``.csv``, labels as integers or class names). All load offline.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from automl.errors import DataError
from automl.errors import not_utf8
from automl.registry import TASKS
from automl.space.params import Param
from automl.tasks.labels import class_vocabulary
from automl.tasks.labels import encode
from automl.tasks.labels import is_text
from automl.tasks.task import Dataset
from automl.tasks.task import Task
from automl.tasks.task import split_indices
from automl.tasks.ucr import UCR

notes = logging.getLogger("automl.data")


class Digits(Task):
    """scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes) as 64-vectors;
    conv2d layers see them as 8x8x1 images. Stratified 70/15/15 split."""

    name = "digits"
    default_reward = "accuracy"
    doc = "scikit-learn's 8x8 digits, 10 classes (vectors of 64; 8x8 images for conv2d)"

    def load(self, params: Mapping[str, Any], *, base_dir: Path, seed: int) -> Dataset:
        from sklearn.datasets import load_digits

        bunch = load_digits()
        x = (bunch.data / 16.0).astype(np.float32)
        y = bunch.target.astype(np.int64)
        train, val, test = split_indices(len(y), seed, labels=y)
        return Dataset(x[train], y[train], x[val], y[val], x[test], y[test],
                       output="classification", n_outputs=10, image_shape=(8, 8, 1),
                       class_names=tuple(str(i) for i in range(10)))


class JapaneseVowels(Task):
    """Speech: nine male speakers uttering /ae/; 12 LPC cepstral coefficients per frame,
    7-29 frames (UCI / UEA archive, shipped inside sktime). The task is speaker recognition.
    The official 270 training utterances are split 80/20 (stratified, seeded) into train and
    validation; the official 370 test utterances are the test split. Sequences are
    standardised with training statistics and zero-padded at the front to 29 frames, so a
    recurrent layer's last state follows the real frames."""

    name = "japanese_vowels"
    default_reward = "uar"
    doc = "speaker recognition from 12 LPC cepstra per frame, 9 classes (sequences)"

    def load(self, params: Mapping[str, Any], *, base_dir: Path, seed: int) -> Dataset:
        x_fit, y_fit = _load_vowels("train")
        x_test, y_test = _load_vowels("test")
        length = max(x.shape[0] for x in x_fit + x_test)
        stacked = np.concatenate(x_fit)
        mean, std = stacked.mean(axis=0), stacked.std(axis=0) + 1e-6

        def pad(items: list[np.ndarray]) -> np.ndarray:
            out = np.zeros((len(items), length, items[0].shape[1]), dtype=np.float32)
            for i, item in enumerate(items):
                out[i, length - item.shape[0]:] = (item - mean) / std
            return out

        train, val, _ = split_indices(len(y_fit), seed, val=0.2, test=0.0, labels=y_fit)
        xf = pad(x_fit)
        return Dataset(xf[train], y_fit[train], xf[val], y_fit[val], pad(x_test), y_test,
                       output="classification", n_outputs=9,
                       class_names=tuple(f"speaker{i + 1}" for i in range(9)))


def _load_vowels(split: str) -> tuple[list[np.ndarray], np.ndarray]:
    import logging
    import warnings

    logging.getLogger("sktime").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sktime.datasets import load_japanese_vowels

        frame, labels = load_japanese_vowels(split=split, return_type="nested_univ")
    sequences = [
        np.stack([np.asarray(frame.iloc[i, c], dtype=np.float32) for c in range(frame.shape[1])],
                 axis=1)
        for i in range(len(frame))
    ]
    return sequences, np.asarray(labels).astype(np.int64) - 1


class Arrays(Task):
    """Your own data: ``.npz`` with ``x`` and ``y`` (optionally ``x_val``/``y_val`` and
    ``x_test``/``y_test``), or ``.csv`` with a header, numeric feature columns and a label
    column. Missing splits are cut from the training data (seeded, 70/15/15). ``x`` may be
    (n, features), (n, time, features) or (n, height, width, channels). Classification labels
    are integers or class names (strings); the classes are the distinct labels of all splits,
    sorted (numbers by value), kept as the run's class names: 0..K-1 index themselves, 1/2 or
    -1/1 become classes 0 and 1. A relative ``path`` is read from the folder of the YAML file."""

    name = "arrays"
    params = {
        "path": Param(str, default=None, required=True, doc=".npz or .csv file"),
        "output": Param(str, choices=("classification", "regression"),
                        default="classification", doc="what the head predicts"),
        "label_column": Param(str, default="label", doc="CSV column with the labels"),
    }
    doc = "your own .npz (x, y, optional x_val/y_val/x_test/y_test) or .csv file"
    fixed_params = ("path", "output", "label_column")

    def load(self, params: Mapping[str, Any], *, base_dir: Path, seed: int) -> Dataset:
        if not params.get("path"):
            raise DataError("missing key 'path' (a .npz or .csv file)", key="task.path")
        path = (base_dir / params["path"]).resolve()
        output = params.get("output", "classification")
        if path.is_dir():
            raise DataError("is a folder; expected a .npz or .csv file", source=str(path),
                            key="task.path")
        if not path.is_file():
            raise DataError("file not found", source=str(path), key="task.path")
        if path.suffix.lower() == ".npz":
            arrays = _read_npz(path)
        elif path.suffix.lower() == ".csv":
            arrays = _read_csv(path, params.get("label_column", "label"), output)
        else:
            raise DataError(f"unsupported file type {path.suffix!r}; allowed: '.npz', '.csv'",
                            source=str(path), key="task.path")
        return _dataset_from_arrays(arrays, output, seed, str(path))


FLOAT32_MAX = float(np.finfo(np.float32).max)
"""Inputs become float32 for Keras: a larger finite float64 would be infinite there."""

NPZ_ARRAYS = ("x", "y", "x_val", "y_val", "x_test", "y_test")
"""The arrays an ``.npz`` file may hold; others get a ``note:`` line (a misspelt split)."""


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    import zipfile

    key = None
    with path.open("rb") as handle:
        magic = handle.read(6)
    if magic and not magic.startswith((b"PK", b"\x93NUMPY")):  # NumPy would try pickle
        raise DataError("is not an .npz (zip) archive; save one with np.savez(path, x=..., "
                        "y=...)", source=str(path))
    try:
        loaded = np.load(path, allow_pickle=False)
        if not isinstance(loaded, np.lib.npyio.NpzFile):  # a lone .npy under a .npz name
            raise DataError("is a single .npy array, not an .npz archive (save with "
                            "np.savez(path, x=..., y=...))", source=str(path))
        with loaded as data:
            arrays = {}
            for key in data.files:
                arrays[key] = np.asarray(data[key])
    except (EOFError, zipfile.BadZipFile) as exc:  # empty or truncated file
        raise DataError(f"is not a complete .npz archive ({exc or 'empty file'})",
                        source=str(path)) from None
    except ValueError as exc:
        if key is not None and "Object arrays" in str(exc):  # e.g. labels from pandas' .values
            raise DataError("is an object array, which .npz stores only by pickle; save text "
                            "labels as a string array (y.astype(str)) and numbers as a numeric "
                            "one", source=str(path), key=key) from None
        raise DataError(f"cannot be read as .npz without pickle ({exc})", source=str(path)) \
            from None
    except OSError as exc:
        raise DataError(f"cannot be read as .npz without pickle ({exc})", source=str(path)) \
            from None
    for key in ("x", "y"):
        if key not in arrays:
            raise DataError(f"missing array {key!r}; found: {', '.join(sorted(arrays)) or 'none'}",
                            source=str(path), key=key)
    ignored = sorted(set(arrays) - set(NPZ_ARRAYS))
    if ignored:  # e.g. 'X_val': its rows would silently not be the validation split
        notes.warning(f"{path}: arrays not read: {', '.join(ignored)} (read: "
                      f"{', '.join(NPZ_ARRAYS)})")
    return arrays


MISSING_LABELS = ("nan", "NaN", "NAN", "NA", "N/A", "n/a", "#N/A", "null", "NULL")
"""Label cells read as missing rather than as a class (pandas' spellings of a missing value)."""


def _read_csv(path: Path, label_column: str, output: str = "classification"
              ) -> dict[str, np.ndarray]:
    """Numeric feature columns and a label column (numbers, or class names as text).

    Class labels are read as integers only when each is written as its integer is ("7", not
    "007", "+7" or "7.0"), else they are the class names they are written as: read as
    numbers, "007" and "7" would be one class and "070" would be named "70"."""
    import csv
    import re

    import pandas as pd

    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise DataError("expected a header row and at least one data row",
                        source=str(path)) from None
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found is None:
            raise DataError(f"cannot be read as CSV ({' '.join(str(exc).split())[:120]})",
                            source=str(path)) from None
        expected, line, saw = found.groups()
        raise DataError(f"has {saw} fields, the header has {expected}", source=str(path),
                        key=f"line {line}") from None
    except UnicodeDecodeError:
        raise DataError("is not UTF-8 text", source=str(path), key=not_utf8(path)) from None
    if len(frame) < 1:
        raise DataError("expected a header row and at least one data row", source=str(path))
    with path.open(encoding="utf-8", newline="") as handle:  # pandas renames repeats to 'a.1'
        names = [name.strip() for name in next(csv.reader(handle), [])]
    if "" in names:  # pandas' to_csv writes its index under an empty name: a leaked feature
        raise DataError(f"column {names.index('') + 1} has no name (the index pandas' to_csv "
                        "writes? save with index=False, or name the column)", source=str(path),
                        key="line 1")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise DataError(f"column {repeated[0]!r} appears more than once in the header",
                        source=str(path), key="line 1")
    frame.columns = [str(c).strip() for c in frame.columns]  # "a, b, label" names 'label'
    header = list(frame.columns)
    if label_column not in header:
        raise DataError(f"no column {label_column!r}; columns: {', '.join(header)}",
                        source=str(path), key="task.label_column")
    empty = (frame.apply(lambda column: column.str.strip()) == "").to_numpy()
    if empty.any():  # an empty cell, or a row with fewer fields than the header
        row, col = (int(i[0]) for i in np.nonzero(empty))
        raise DataError(f"empty value in column {header[col]!r} (a row with fewer than "
                        f"{len(header)} fields?)", source=str(path), key=f"line {row + 2}")
    features = frame.drop(columns=[label_column])
    numeric = features.apply(lambda column: pd.to_numeric(column.str.strip(), errors="coerce"))
    bad = numeric.isna().to_numpy()
    if bad.any():
        row, col = (int(i[0]) for i in np.nonzero(bad))
        raise DataError(f"non-numeric value {features.iat[row, col]!r} in column "
                        f"{features.columns[col]!r}", source=str(path), key=f"line {row + 2}")
    values = numeric.to_numpy(dtype=np.float64)
    with np.errstate(over="ignore"):
        unusable = ~np.isfinite(values.astype(np.float32))  # inf, or beyond float32's range
    if unusable.any():
        row, col = (int(i[0]) for i in np.nonzero(unusable))
        raise DataError(f"value {features.iat[row, col].strip()!r} in column "
                        f"{features.columns[col]!r} is infinite or beyond float32's range "
                        f"(about ±{FLOAT32_MAX:.1e})", source=str(path), key=f"line {row + 2}")
    labels = frame[label_column].str.strip()
    missing = labels.isin(MISSING_LABELS).to_numpy()
    if missing.any():  # pandas would read these as NaN; as text they would become a class
        row = int(np.nonzero(missing)[0][0])
        raise DataError(f"missing label {labels.iat[row]!r} in column {label_column!r}; drop "
                        "the row, or give its class a name", source=str(path),
                        key=f"line {row + 2}")
    as_numbers = pd.to_numeric(labels, errors="coerce")
    integers = labels.str.fullmatch(r"[+-]?\d+").all()  # exactly (floats lose them > 2**53)
    if output == "classification" and not (
            integers and all(str(int(label)) == label for label in labels)):
        y = labels.to_numpy(dtype=str)  # class names as written: "007", "7.0", "+7"
        fractional = (as_numbers % 1 != 0).to_numpy()  # NaN (text) counts as fractional
        if not as_numbers.isna().any() and fractional.any():  # likelier a regression's
            notes.warning(f"{path}: column {label_column!r} holds decimal numbers (e.g. "
                          f"{labels.iat[int(np.argmax(fractional))]}), read as {len(set(y))} "
                          "class names; for a regression set task.output: regression")
    elif integers:
        whole = [int(label) for label in labels]
        y = (np.asarray(whole, dtype=np.int64) if all(abs(i) < 2**63 for i in whole)
             else labels.to_numpy(dtype=str))  # beyond 64 bits: class names
    elif not as_numbers.isna().any():
        y = as_numbers.to_numpy(dtype=np.float64)
    elif output == "regression":  # a target that is not a number: its line and value
        row = int(np.nonzero(as_numbers.isna().to_numpy())[0][0])
        raise DataError(f"non-numeric target {labels.iat[row]!r} in column {label_column!r}; "
                        "a regression's targets are numbers (or set task.output: "
                        "classification)", source=str(path), key=f"line {row + 2}")
    else:
        y = labels.to_numpy(dtype=str)
    return {"x": values, "y": y}


def _check_no_missing_label(y: np.ndarray, source: str, key: str) -> None:
    """As in a CSV, an empty or NaN-spelt text label is a missing value, not a class."""
    missing = np.isin(np.char.strip(y.astype(str)), ("", *MISSING_LABELS)).reshape(-1)
    if missing.any():
        row = int(np.nonzero(missing)[0][0])
        raise DataError(f"missing label {str(y.reshape(-1)[row]).strip()!r} at row {row}; drop "
                        "the row, or give its class a name", source=source, key=key)


def _integer_labels(y: np.ndarray, source: str, key: str) -> np.ndarray:
    """Numeric class labels as integers (1.0 -> 1), with the one-line errors of bad labels."""
    if y.dtype.kind not in "fiub":
        raise DataError(f"dtype {y.dtype} is neither numbers nor text", source=source, key=key)
    if y.ndim == 2 and y.shape[1] == 1:  # a column vector, as from df[["label"]].to_numpy()
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"shape {y.shape}: expected one label per row", source=source, key=key)
    if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
        raise DataError("classification labels must be integers or class names (text), one "
                        "per row (or set task.output: regression)", source=source, key=key)
    # beyond these, int64 wraps (uint64) or floats stop telling integers apart: two classes
    # would silently become one
    limit = 2**53 if y.dtype.kind == "f" else 2**63 - 1
    if y.size and (y.max() > limit or (y.dtype.kind != "u" and y.min() < -limit)):
        raise DataError(f"labels beyond ±{limit} ({'2**53' if limit == 2**53 else '2**63'}) "
                        "cannot be told apart as numbers; save them as class names "
                        "(y.astype(str))", source=source, key=key)
    return y.astype(np.int64)


def _dataset_from_arrays(arrays: dict[str, np.ndarray], output: str, seed: int,
                         source: str) -> Dataset:
    def check_x(key: str) -> np.ndarray:
        x = arrays[key]
        if x.dtype.kind not in "fiub":
            raise DataError(f"dtype {x.dtype} is not numeric", source=source, key=key)
        if x.ndim not in (2, 3, 4):
            raise DataError(f"shape {x.shape}: expected (n, features), (n, time, features) or "
                            "(n, height, width, channels)", source=source, key=key)
        if not np.all(np.isfinite(x)):
            raise DataError("contains NaN or infinite values", source=source, key=key)
        if 0 in x.shape[1:]:
            raise DataError(f"shape {x.shape}: no features (a CSV needs feature columns "
                            "besides the label)", source=source, key=key)
        if x.shape[0] == 0:
            raise DataError(f"shape {x.shape}: no rows", source=source, key=key)
        with np.errstate(over="ignore"):
            x32 = x.astype(np.float32)
        if not np.all(np.isfinite(x32)):  # finite in float64, infinite as the model sees it
            raise DataError(f"has values beyond float32's range (about ±{FLOAT32_MAX:.1e}); "
                            "scale the inputs", source=source, key=key)
        return x32

    label_keys = [k for k in ("y", "y_val", "y_test") if k in arrays]
    classification = output == "classification"
    if classification:  # labels as class values: text as it is, integers as integers
        arrays = {**arrays, **{key: _integer_labels(arrays[key], source, key)
                               for key in label_keys if not is_text(arrays[key])}}
        for key in label_keys:
            if is_text(arrays[key]):
                _check_no_missing_label(arrays[key], source, key)
    # Class names: one vocabulary over every split, numbers in numeric order. Labels 0..K-1
    # keep their values as indices; others (1/2, -1/1, 3/5/7) become indices 0..K-1 by rank.
    class_names = class_vocabulary(*(arrays[k] for k in label_keys)) if classification else ()
    if classification and not class_names:
        raise DataError(f"shape {arrays['y'].shape}: no rows", source=source, key="y")
    if classification and len(class_names) < 2:
        raise DataError(f"one class only ({', '.join(map(str, class_names)) or 'none'}): "
                        "classification needs at least 2 (or set task.output: regression)",
                        source=source, key="y")

    def check_y(key: str, n: int) -> np.ndarray:
        y = arrays[key]
        if classification:
            if y.ndim == 2 and y.shape[1] == 1:  # text labels as a column vector
                y = y[:, 0]
            if y.ndim != 1 or y.shape[0] != n:
                raise DataError(f"shape {y.shape}: expected one label per row ({n})",
                                source=source, key=key)
            return encode(y, class_names)
        if y.dtype.kind not in "fiub":
            raise DataError(f"dtype {y.dtype} is not numeric", source=source, key=key)
        if y.ndim not in (1, 2):  # reshaped, (n, 2, 2) would become 4 unrelated targets
            raise DataError(f"shape {y.shape}: regression targets are (n,) or (n, targets)",
                            source=source, key=key)
        if y.shape[0] != n:
            raise DataError(f"has {y.shape[0]} rows, its inputs have {n}", source=source, key=key)
        if not np.all(np.isfinite(y)):
            raise DataError("contains NaN or infinite values", source=source, key=key)
        return (y.reshape(n, -1)).astype(np.float32)

    x = check_x("x")
    y = check_y("y", len(x))
    if len(x) < 3:
        raise DataError("need at least 3 examples", source=source, key="x")
    parts: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for split in ("val", "test"):
        if f"x_{split}" in arrays or f"y_{split}" in arrays:
            for key in (f"x_{split}", f"y_{split}"):
                if key not in arrays:
                    raise DataError(f"missing array {key!r} (x_{split} and y_{split} go together)",
                                    source=source, key=key)
            xs = check_x(f"x_{split}")
            if xs.shape[1:] != x.shape[1:]:
                raise DataError(f"shape {xs.shape[1:]} differs from x's {x.shape[1:]}",
                                source=source, key=f"x_{split}")
            parts[split] = (xs, check_y(f"y_{split}", len(xs)))
    labels = y if output == "classification" else None
    want_val = 0.0 if "val" in parts else 0.15
    want_test = 0.0 if "test" in parts else 0.15
    train, val, test = split_indices(len(x), seed, val=want_val, test=want_test, labels=labels)
    parts.setdefault("val", (x[val], y[val]))
    parts.setdefault("test", (x[test], y[test]))
    x_train, y_train = x[train], y[train]
    for split, name in (("val", "validation"), ("test", "test")):
        if len(parts[split][0]) == 0:  # given splits have rows (check_x); a cut one may not
            most = (f", at most {int(np.bincount(y).max())} of a class" if classification
                    else "")
            needs = ("a class with 4 or more (the cut is stratified: 15 % of each class)"
                     if classification else "4 or more (15 % is cut)")
            raise DataError(f"too few examples to cut a {name} split ({len(x)} rows{most}); "
                            f"allowed: {needs}, or give x_{split}/y_{split}", source=source,
                            key="x")
    if classification:
        n_outputs = len(class_names)
        _note_missing_classes(source, class_names, y_train, parts)
    else:
        n_outputs = int(y_train.shape[1])
    return Dataset(x_train, y_train, *parts["val"], *parts["test"], output=output,  # type: ignore[arg-type]
                   n_outputs=n_outputs, class_names=class_names)


def _note_missing_classes(source: str, class_names: tuple[Any, ...], y_train: np.ndarray,
                          parts: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """A ``note:`` for classes a split has no example of. None in training (only in a given
    validation or test split): no child can learn them. None in validation or test (too rare
    for the stratified cut to leave one there): that split's scores, the reward included,
    say nothing about them."""
    every = set(range(len(class_names)))

    def absent_from(y: np.ndarray) -> list[int]:
        return sorted(every - set(np.unique(y).tolist()))

    def named(indices: list[int]) -> str:
        shown = ", ".join(str(class_names[i]) for i in indices[:10])
        return shown + (f" and {len(indices) - 10} more" if len(indices) > 10 else "")

    untrained = absent_from(y_train)
    if untrained:
        where = [name for name, split in (("validation", "val"), ("test", "test"))
                 if np.isin(parts[split][1], untrained).any()]
        one = len(untrained) == 1
        notes.warning(f"{source}: {len(untrained)} {'class has' if one else 'classes have'} "
                      f"no training example: {named(untrained)} (only in the "
                      f"{' and '.join(where)} split); no child can learn "
                      f"{'it' if one else 'them'}")
    for name, split in (("validation", "val"), ("test", "test")):
        unscored = [i for i in absent_from(parts[split][1]) if i not in untrained]
        if unscored:
            one = len(unscored) == 1
            scores = ("validation scores, the reward among them (unless train.folds scores "
                      "out of fold),") if split == "val" else "test scores"
            notes.warning(f"{source}: {len(unscored)} {'class has' if one else 'classes have'} "
                          f"no {name} example: {named(unscored)}; {scores} leave "
                          f"{'it' if one else 'them'} out (give more examples, or "
                          f"x_{split}/y_{split} with every class)")


TASKS.register("digits", Digits())
TASKS.register("japanese_vowels", JapaneseVowels())
TASKS.register("arrays", Arrays())
TASKS.register("ucr", UCR())
