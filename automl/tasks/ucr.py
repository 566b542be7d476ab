"""The ``ucr`` task: any UCR/UEA classification data set shipped inside sktime, by name.

``task: {name: ucr, dataset: GunPoint}``. Nothing is downloaded: the names allowed are the data
sets whose ``.ts`` train and test files sktime ships (:func:`offline_datasets`, listed by
``automl spaces validate --datasets``).

* Splits: the archive's official test split is the test split; validation is cut from the
  official training split (stratified, seeded, ``val`` of it).
* Normalisation: per channel, with the mean and standard deviation of the training split (all
  its time steps), so validation and test never inform it. Missing values become 0 (the mean).
* Shapes: (n, time, channels) for univariate (1 channel) and multivariate sets alike.
* Variable length (JapaneseVowels, PLAID): each series is normalised, then zero-padded **at the
  front** to the longest series of the data set. After normalisation a zero is the training
  mean, so the padding reads as "nothing happening"; a recurrent layer's last state and the
  ``last`` pooling follow the real end of every series. No Keras ``Masking`` is used (the
  convolutional blocks could not honour it); ``extras["lengths"]`` holds the true lengths.
* Exported models: ``extras["preprocessing"]`` (the training mean and standard deviation per
  channel, the padded length) goes into the run's data facts, so an exported model's sidecar
  says how to prepare a raw series for it.
* Labels: the archive's class names (``"1"``, ``"Standing"``), kept in ``class_names``.
"""

from __future__ import annotations

import difflib
import importlib.util
import logging
import warnings
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from automl.errors import DataError
from automl.space.params import Param
from automl.tasks.labels import class_vocabulary
from automl.tasks.labels import encode
from automl.tasks.task import Dataset
from automl.tasks.task import Task
from automl.tasks.task import split_indices


@lru_cache(maxsize=1)
def data_folder() -> Path | None:
    """sktime's folder of shipped data sets, found without importing sktime (fast)."""
    spec = importlib.util.find_spec("sktime")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"
    return folder if folder.is_dir() else None


def _is_classification(train_file: Path) -> bool:
    """The ``.ts`` header says ``@classLabel true`` (regression sets say ``@targetLabel``)."""
    with train_file.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            text = line.strip().lower()
            if text.startswith("@classlabel"):
                return text.split()[1:2] == ["true"]
            if text.startswith("@data"):
                return False
    return False


@lru_cache(maxsize=1)
def offline_datasets() -> tuple[str, ...]:
    """Names of the classification data sets sktime ships (train and test ``.ts`` files)."""
    folder = data_folder()
    if folder is None:
        return ()
    names = []
    for item in sorted(folder.iterdir(), key=lambda p: p.name.lower()):
        train, test = item / f"{item.name}_TRAIN.ts", item / f"{item.name}_TEST.ts"
        if train.is_file() and test.is_file() and _is_classification(train):
            names.append(item.name)
    return tuple(names)


def _header_and_lengths(path: Path) -> tuple[dict[str, list[str]], list[int]]:
    """A ``.ts`` file's ``@key values`` header (keys lower-cased) and the length of each series
    (values of its first channel; rows are ``v,v,...:v,v,...:label``)."""
    header: dict[str, list[str]] = {}
    lengths: list[int] = []
    in_data = False
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if in_data:
                lengths.append(text.split(":", 1)[0].count(",") + 1)
            elif text.lower().startswith("@data"):
                in_data = True
            elif text.startswith("@"):
                key, *values = text.split()
                header[key[1:].lower()] = values
    return header, lengths


def dataset_info(name: str) -> dict[str, Any]:
    """What ``automl spaces validate --datasets`` lists of a shipped set, read from its ``.ts``
    files without parsing the values: channels, series length (``min_length`` <
    ``max_length`` when it varies), classes and split sizes."""
    folder = data_folder()
    assert folder is not None
    header, train = _header_and_lengths(folder / name / f"{name}_TRAIN.ts")
    _, test = _header_and_lengths(folder / name / f"{name}_TEST.ts")
    univariate = header.get("univariate", ["true"])[0].lower() == "true"
    return {"name": name, "channels": 1 if univariate else int(header["dimensions"][0]),
            "min_length": min(train + test), "max_length": max(train + test),
            "classes": len(header.get("classlabel", ["true"])[1:]), "train": len(train),
            "test": len(test)}


def check_dataset(name: str) -> str:
    """``name`` if it is shipped offline, else a DataError listing the close matches."""
    names = offline_datasets()
    if not names:
        raise DataError("no UCR/UEA data sets found: install sktime (pip install sktime)",
                        key="task.dataset")
    if name in names:
        return name
    folded = {n.lower(): n for n in names}
    close = difflib.get_close_matches(name.lower(), list(folded), n=3, cutoff=0.5)
    hint = (f"close matches: {', '.join(folded[c] for c in close)}; " if close else "")
    raise DataError(f"unknown data set {name!r}; {hint}available offline: {', '.join(names)}",
                    key="task.dataset")


def _read_split(name: str, split: str) -> tuple[list[np.ndarray], np.ndarray]:
    """(series as (time, channels) float arrays, labels as strings) of one official split."""
    folder = data_folder()
    assert folder is not None  # check_dataset ran first
    logging.getLogger("sktime").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from sktime.datasets import load_from_tsfile

        frame, labels = load_from_tsfile(str(folder / name / f"{name}_{split}.ts"),
                                         return_data_type="nested_univ")
    series = [np.stack([np.asarray(frame.iloc[i, c], dtype=np.float64)
                        for c in range(frame.shape[1])], axis=1) for i in range(len(frame))]
    return series, np.asarray(labels).astype(str)


def _pad_front(series: list[np.ndarray], length: int) -> np.ndarray:
    out = np.zeros((len(series), length, series[0].shape[1]), dtype=np.float32)
    for i, item in enumerate(series):
        out[i, length - item.shape[0]:] = item
    return out


class UCR(Task):
    """A UCR/UEA classification data set shipped inside sktime, with its official test split
    (see the module docstring for normalisation and padding)."""

    name = "ucr"
    default_reward = "accuracy"
    doc = "a UCR/UEA time-series classification data set shipped inside sktime, by name"
    fixed_params = ("dataset", "val")

    def __init__(self) -> None:
        names = offline_datasets()
        self.params = {
            "dataset": Param(str, choices=names or None, default=None, required=True,
                             doc="data set name (automl spaces validate --datasets lists them)"),
            "val": Param(float, min=0.05, max=0.5, default=0.2,
                         doc="fraction of the official training split held out for validation"),
        }

    def load(self, params: Mapping[str, Any], *, base_dir: Path, seed: int) -> Dataset:
        if not params.get("dataset"):
            raise DataError(f"missing key 'dataset'; available offline: "
                            f"{', '.join(offline_datasets()) or 'none'}", key="task.dataset")
        name = check_dataset(str(params["dataset"]))
        fit_series, fit_labels = _read_split(name, "TRAIN")
        test_series, test_labels = _read_split(name, "TEST")
        class_names = class_vocabulary(fit_labels, test_labels)
        y_fit, y_test = encode(fit_labels, class_names), encode(test_labels, class_names)
        train, val, _ = split_indices(len(y_fit), seed, val=float(params.get("val", 0.2)),
                                      test=0.0, labels=y_fit)
        if len(val) == 0:
            raise DataError(f"{name}: too few training series to cut a validation split",
                            key="task.val")
        stacked = np.concatenate([fit_series[i] for i in train])
        mean = np.nanmean(stacked, axis=0)
        std = np.nanstd(stacked, axis=0)
        std = np.where(std > 1e-8, std, 1.0)

        def normalise(items: list[np.ndarray]) -> list[np.ndarray]:
            return [np.nan_to_num((item - mean) / std, nan=0.0) for item in items]

        fit_norm, test_norm = normalise(fit_series), normalise(test_series)
        length = max(item.shape[0] for item in fit_norm + test_norm)
        x_fit, x_test = _pad_front(fit_norm, length), _pad_front(test_norm, length)
        lengths = np.asarray([item.shape[0] for item in fit_series], dtype=np.int64)
        return Dataset(x_fit[train], y_fit[train], x_fit[val], y_fit[val], x_test, y_test,
                       output="classification", n_outputs=len(class_names),
                       class_names=class_names,
                       extras={"dataset": name, "lengths": {
                           "train": lengths[train], "val": lengths[val],
                           "test": np.asarray([s.shape[0] for s in test_series])},
                           "preprocessing": preprocessing(mean, std, length)})


def preprocessing(mean: np.ndarray, std: np.ndarray, length: int) -> dict[str, Any]:
    """How a raw series (time, channels) becomes a model input, for an exported model's user:
    ``(x - mean) / std`` per channel, missing values to 0, zeros in front up to ``length``."""
    return {"normalise": "(x - mean) / std per channel; missing values become 0",
            "mean": [float(v) for v in mean], "std": [float(v) for v in std],
            "pad": "zeros in front", "length": int(length)}
