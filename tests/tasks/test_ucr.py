"""The ucr task: UCR/UEA sets shipped inside sktime load by name, offline, with the official test
split, a stratified seeded validation cut, per-channel z-normalisation from training statistics
and front zero-padding of variable-length series; bad names fail in one line with close matches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from automl.errors import DataError
from automl.errors import SpaceError
from automl.registry import TASKS
from automl.registry import ensure_builtins
from automl.space import load_space
from automl.tasks.ucr import offline_datasets
from tests.conftest import SPACES

ensure_builtins()


def _load(name: str, seed: int = 0, **params):
    return TASKS.get("ucr").load({"dataset": name, **params}, base_dir=Path("."), seed=seed)


def test_offline_names_are_the_shipped_classification_sets() -> None:
    names = offline_datasets()
    assert {"GunPoint", "ItalyPowerDemand", "ACSF1", "JapaneseVowels", "BasicMotions"} <= set(
        names)
    assert "Tecator" not in names  # a regression set: @targetLabel, no class labels


def test_univariate_set_official_split_normalised_stratified_seeded() -> None:
    data = _load("GunPoint")
    assert data.input_shape == (150, 1) and data.class_names == ("1", "2")
    assert len(data.y_train) + len(data.y_val) == 50 and len(data.y_test) == 150
    assert len(data.y_val) == 10 and sorted(np.bincount(data.y_val)) == [5, 5]  # stratified
    assert abs(float(data.x_train.mean())) < 1e-5 and abs(float(data.x_train.std()) - 1) < 1e-4
    again, other = _load("GunPoint"), _load("GunPoint", seed=1)
    assert np.array_equal(again.x_val, data.x_val)
    assert not np.array_equal(other.x_val, data.x_val)
    held_out = _load("GunPoint", val=0.4)
    assert len(held_out.y_val) == 20


def test_multivariate_set_keeps_class_names() -> None:
    data = _load("BasicMotions")
    assert data.input_shape == (100, 6) and data.n_outputs == 4
    assert {name.lower() for name in data.class_names} == {"standing", "running", "walking",
                                                           "badminton"}
    channel_means = data.x_train.reshape(-1, 6).mean(axis=0)
    assert np.allclose(channel_means, 0, atol=1e-5)  # per channel
    held_out = data.x_val.reshape(-1, 6).mean(axis=0)
    assert not np.allclose(held_out, 0, atol=1e-3)  # statistics of the training split only


def test_variable_length_set_is_padded_at_the_front() -> None:
    data = _load("JapaneseVowels")
    assert data.input_shape == (29, 12) and data.n_outputs == 9 and len(data.y_test) == 370
    lengths = data.extras["lengths"]["train"]
    assert lengths.min() < lengths.max() <= 29  # the longest series (29) is a test one
    i = int(np.argmin(lengths))
    pad = 29 - int(lengths[i])
    assert np.all(data.x_train[i, :pad] == 0) and np.any(data.x_train[i, pad:] != 0)
    real = np.concatenate([data.x_train[k, 29 - n:] for k, n in enumerate(lengths)])
    assert np.allclose(real.mean(axis=0), 0, atol=1e-4)  # statistics of the real frames


def test_the_data_facts_say_how_to_prepare_a_raw_series() -> None:
    """What an exported model's sidecar carries: applied to the raw test series, the stored
    mean, standard deviation and padding give exactly the model's test inputs."""
    from automl.engine.api import dataset_facts
    from automl.tasks.ucr import _read_split

    data = _load("JapaneseVowels")
    facts = dataset_facts(data, "ucr")
    assert facts["task"] == "ucr" and facts["dataset"] == "JapaneseVowels"  # which one of 128
    prep = facts["preprocessing"]
    assert prep["length"] == 29 and len(prep["mean"]) == len(prep["std"]) == 12
    mean, std = np.asarray(prep["mean"]), np.asarray(prep["std"])
    raw, _ = _read_split("JapaneseVowels", "TEST")
    for k in (0, 100, 369):
        ready = np.zeros((prep["length"], 12))
        ready[prep["length"] - len(raw[k]):] = np.nan_to_num((raw[k] - mean) / std)
        np.testing.assert_allclose(ready, data.x_test[k], rtol=1e-5, atol=1e-5)
    digits = dataset_facts(TASKS.get("digits").load({}, base_dir=Path("."), seed=0), "digits")
    assert "preprocessing" not in digits and "dataset" not in digits


def test_bad_name_one_line_with_close_matches(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        _load("gunpont")
    line = info.value.one_line()
    assert "\n" not in line and "close matches: GunPoint" in line and "ACSF1" in line
    text = (SPACES / "timeseries.yaml").read_text().replace("GunPoint", "GunPiont")
    (tmp_path / "bad.yaml").write_text(text)
    with pytest.raises(SpaceError) as space_info:
        load_space(tmp_path / "bad.yaml")
    line = space_info.value.one_line()
    assert "task.dataset" in line and "did you mean 'GunPoint'" in line and "\n" not in line


@pytest.mark.parametrize("name", ["GunPoint", "JapaneseVowels", "BasicMotions"])
def test_the_listing_says_what_the_task_loads(name: str) -> None:
    """``spaces validate --datasets`` reads the .ts files without parsing the values; its facts
    are those of the loaded data set."""
    from automl.tasks.ucr import dataset_info

    info, data = dataset_info(name), _load(name)
    assert (info["max_length"], info["channels"]) == data.input_shape
    assert info["classes"] == data.n_outputs
    assert info["train"] == len(data.y_train) + len(data.y_val)
    assert info["test"] == len(data.y_test)
    lengths = np.concatenate(list(data.extras["lengths"].values()))
    assert info["min_length"] == lengths.min()


def test_cli_lists_the_data_sets_with_their_shapes(capsys: pytest.CaptureFixture[str]) -> None:
    from automl.cli.main import main

    assert main(["spaces", "validate", "--datasets"]) == 0
    rows = {line.split()[1]: line.split()[3:-1:2] for line in capsys.readouterr().out.splitlines()
            if line.startswith("│")}
    assert rows["GunPoint"] == ["1", "150", "2", "50", "150"]
    assert rows["JapaneseVowels"] == ["12", "7-29", "9", "270", "370"]
