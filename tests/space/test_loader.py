"""The space loader: shipped spaces validate, bad files give one-line errors with a location."""

from __future__ import annotations

from pathlib import Path

import pytest

from automl.errors import SpaceError
from automl.space import load_space
from tests.conftest import SPACES
from tests.conftest import TINY_DIGITS


@pytest.mark.parametrize("path", sorted(SPACES.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_spaces_validate(path: Path) -> None:
    space = load_space(path)
    assert space.size() >= 2
    assert space.slots()


def test_lecture_space_is_the_lecture_s() -> None:
    space = load_space(SPACES / "lecture_dense.yaml")
    assert (space.min_layers, space.max_layers) == (1, 5)
    assert space.layer_types["dense"]["units"] == (40, 80, 120, 160, 200)
    assert set(space.layer_types["dense"]["activation"]) == {"tanh", "relu", "sigmoid"}
    assert space.size() == sum(15**k for k in range(1, 6))
    gru = load_space(SPACES / "lecture_gru.yaml")
    assert gru.task.name == "japanese_vowels" and gru.reward.name == "uar"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


BAD = {
    "malformed": ("layers: [unclosed", "YAML syntax error"),
    "unknown_layer": (TINY_DIGITS.replace("dense:", "dnese:"), "unknown layer 'dnese'"),
    "unknown_task": (TINY_DIGITS.replace("task: digits", "task: digitz"), "unknown task"),
    "unknown_reward": (TINY_DIGITS.replace("reward: accuracy", "reward: acc"), "unknown reward"),
    "empty_choice": (TINY_DIGITS.replace("units: [8, 16]", "units: []"), "empty choice list"),
    "min_gt_max": (TINY_DIGITS.replace("min: 1", "min: 3"), "greater than max"),
    "negative_trials": (TINY_DIGITS.replace("trials: 4", "trials: -4"), "below the minimum"),
    "unknown_key": (TINY_DIGITS.replace("reward: accuracy", "reward: accuracy\nlayerz: 1"),
                    "did you mean 'layers'"),
    "bad_activation": (TINY_DIGITS.replace("[relu, tanh]", "[relu, rleu]"),
                       "did you mean 'relu'"),
    "bad_type": (TINY_DIGITS.replace("units: [8, 16]", "units: [8, many]"),
                 "is not an integer"),
    "not_mapping": ("- just\n- a list\n", "expected a mapping"),
    "bad_schedule": (TINY_DIGITS.replace("epochs: 2", "epochs: 2\n  lr_schedule: cosin"),
                     "did you mean 'cosine'"),
    "bad_patience": (TINY_DIGITS.replace("epochs: 2", "epochs: 2\n  patience: [5, -1]"),
                     "below the minimum"),
    "bad_class_weight": (TINY_DIGITS.replace("epochs: 2", "epochs: 2\n  class_weight: auto"),
                         "allowed: 'none', 'balanced'"),
    "bad_pooling": (TINY_DIGITS.replace("  max: 2\n", "  max: 2\n  pooling: [avg, mean]\n"),
                    "'mean' is not allowed; allowed: 'avg', 'max', 'last', 'attention'"),
    "empty_file": ("", "empty"),
    "same_value": ("decisions:\n  width: [64, 64.0, 128]\n",
                   "choice 64.0 cannot be told apart from 64"),
    "same_text": ("decisions:\n  tag: [1, '1', 2]\n", "choice '1' cannot be told apart from 1"),
    "same_boolean_text": ("decisions:\n  flag: [true, 'True']\n",
                          "choice 'True' cannot be told apart from True"),
    "empty_string_choice": ("decisions:\n  tag: ['', x]\n",
                            "an empty string cannot be a choice"),
    "duplicate_choice": ("decisions:\n  lr: [0.001, 1e-3]\n", "duplicate choice 0.001"),
    # its settings would be dropped where no strategy is built from the block (bench)
    "unknown_strategy": (TINY_DIGITS + "strategy: {name: evolutoin, sample_size: 5}\n",
                         "unknown strategy 'evolutoin' (did you mean 'evolution'?)"),
}

WHERE = {
    "unknown_layer": "layers.types.dnese", "unknown_task": "task.name",
    "unknown_reward": "reward.name", "empty_choice": "layers.types.dense.units",
    "min_gt_max": "layers.min", "negative_trials": "trials", "unknown_key": "layerz",
    "bad_activation": "layers.types.dense.activation[1]",
    "bad_type": "layers.types.dense.units[1]", "malformed": "line 1",
    "bad_schedule": "train.lr_schedule", "bad_patience": "train.patience[1]",
    "bad_class_weight": "train.class_weight", "bad_pooling": "layers.pooling[1]",
    "same_value": "decisions.width[1]", "same_text": "decisions.tag[1]",
    "same_boolean_text": "decisions.flag[1]", "empty_string_choice": "decisions.tag[0]",
    "duplicate_choice": "decisions.lr[1]", "unknown_strategy": "strategy.name",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_spaces_name_file_key_and_allowed(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    path = _write(tmp_path, text)
    with pytest.raises(SpaceError) as info:
        load_space(path)
    line = info.value.one_line()
    assert "\n" not in line
    assert str(path) in line
    assert expected in line
    if case in WHERE:
        assert WHERE[case] in line
    if case in ("unknown_layer", "unknown_task", "unknown_reward", "unknown_strategy"):
        assert "allowed:" in line


def test_a_file_that_is_not_utf8_is_named_by_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\u00e9\ndecisions:\n  x: [1, 2]\n".encode("latin-1"))
    with pytest.raises(SpaceError) as info:
        load_space(path)
    assert info.value.one_line() == f"{path}: line 1, column 10, byte 0xe9: is not UTF-8 text"


def test_missing_file() -> None:
    with pytest.raises(SpaceError, match="file not found"):
        load_space("does/not/exist.yaml")


def test_grid_fixed_and_searched_values(tmp_path: Path) -> None:
    path = _write(tmp_path, TINY_DIGITS.replace("units: [8, 16]",
                                                "units: {min: 40, max: 200, step: 40}"))
    space = load_space(path)
    assert space.layer_types["dense"]["units"] == (40, 80, 120, 160, 200)
    assert space.train["batch_size"] == (128,)
    assert space.train["optimizer"] == ("adam",)  # default, fixed
    names = {d.name for d in space.slots()}
    assert "train.batch_size" not in names and "train.learning_rate" in names


def test_plain_decisions_space(tmp_path: Path) -> None:
    path = _write(tmp_path, "decisions:\n  edge0: [a, b, c]\n  edge1: [a, b]\n")
    space = load_space(path)
    assert space.size() == 6 and space.task is None
    assert sorted(a.flat["edge0"] + a.flat["edge1"] for a in space.enumerate())[0] == "aa"


def test_exponent_numbers_without_a_dot_are_numbers(tmp_path: Path) -> None:
    """``1e-4`` is a float (YAML 1.2, JSON), not the text PyYAML's YAML 1.1 makes of it: a
    learning rate written so was refused as "not a number", and a table's choices mixed text
    with numbers. Other YAML stays as yaml.safe_load reads it."""
    path = tmp_path / "lr.yaml"
    path.write_text(TINY_DIGITS.replace("[0.01, 0.003]", "[1e-2, 3E-03]"))
    assert load_space(path).train["learning_rate"] == (0.01, 0.003)
    path.write_text("name: t\ndecisions:\n  alpha: [1e-08, 1.5e-07, 1]\n  tag: [x1e4, 1e]\n")
    space = load_space(path)
    assert space.decisions["alpha"] == (1e-08, 1.5e-07, 1)
    assert space.decisions["tag"] == ("x1e4", "1e")


def test_recipe_settings_and_pooling_are_decisions_only_when_named(tmp_path: Path) -> None:
    """Spaces that name neither keep their architectures (and ids); named ones search them."""
    old = load_space(_write(tmp_path, TINY_DIGITS))
    sample = old.sample(__import__("numpy").random.default_rng(0))
    assert set(sample.train) == {"optimizer", "learning_rate", "batch_size", "epochs"}
    assert "pooling" not in sample.to_dict()
    text = TINY_DIGITS.replace("  max: 2\n", "  max: 2\n  pooling: [avg, attention]\n")
    text = text.replace("epochs: 2", "epochs: 20\n  patience: [0, 5]\n  lr_schedule: plateau\n"
                        "  class_weight: balanced")
    space = load_space(_write(tmp_path, text))
    names = [d.name for d in space.slots()]
    assert "layers.pooling" in names and "train.patience" in names
    assert "train.lr_schedule" not in names  # fixed: in every architecture, never a decision
    assert space.size() == old.size() * 2 * 2
    seen = set()
    for arch in space.enumerate():
        assert arch.train["lr_schedule"] == "plateau" and arch.train["class_weight"] == "balanced"
        assert space.from_flat(arch.flat) == arch  # the flat encoding carries the pooling
        seen.add((arch.pooling, arch.train["patience"]))
    assert seen == {("avg", 0), ("avg", 5), ("attention", 0), ("attention", 5)}
    assert "pool:attention" in next(a for a in space.enumerate()
                                    if a.pooling == "attention").summary()
    again = load_space(_write(tmp_path, __import__("yaml").safe_dump(dict(space.config))))
    assert list(again.enumerate()) == list(space.enumerate())  # the run's config resumes
