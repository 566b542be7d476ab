"""Property-based: random and mutated YAML never crash the loader; only SpaceError (or another
UserInputError for plugins) comes out, always with the file and a location."""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from automl.errors import MAX_LINE
from automl.errors import UserInputError
from automl.space import load_space
from automl.space import parse_space
from tests.conftest import TINY_DIGITS

BASE = yaml.safe_load(TINY_DIGITS)

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
KEYS = ["name", "task", "reward", "trials", "seed", "layers", "train", "decisions", "strategy",
        "layers.min", "layers.max", "layers.types", "layers.types.dense",
        "layers.types.dense.units", "layers.types.dense.activation", "train.learning_rate",
        "train.epochs", "train.optimizer", "task.name", "bogus", "layers.types.gru"]


def _set(doc: dict, dotted: str, value: object) -> dict:
    node = doc
    parts = dotted.split(".")
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value
    return doc


def _check(data: object) -> None:
    try:
        parse_space(data, source_name="fuzz.yaml", base_dir=__import__("pathlib").Path("."))
    except UserInputError as exc:
        line = exc.one_line()
        assert "fuzz.yaml" in line and "\n" not in line
        assert exc.key, line
        assert len(line) <= MAX_LINE, line


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(values)
def test_random_documents(data: object) -> None:
    _check(data)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.tuples(st.sampled_from(KEYS), values), min_size=1, max_size=3))
def test_mutated_valid_space(mutations: list) -> None:
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    for key, value in mutations:
        _set(doc, key, value)
    _check(doc)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(max_size=200))
def test_random_text_through_yaml(tmp_path_factory, text: str) -> None:
    from automl.space import load_space

    path = tmp_path_factory.mktemp("fuzz") / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_space(path)
    except UserInputError as exc:
        assert str(path) in exc.one_line() and exc.key


def _alias_bomb(levels: int) -> str:
    """A YAML list whose items define anchors that expand to 9 ** levels strings."""
    items = ['&a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    items += [f"&a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, levels)]
    return f"[{', '.join(items)}]"


@pytest.mark.parametrize("line", [
    f"units: {_alias_bomb(6)}",
    f"activation: {_alias_bomb(6)}",
    f"units: [{'9' * 5000}]",
    f"{'k' * 5000}: [1]",
])
def test_errors_stay_short_for_alias_bombs_and_long_values(tmp_path, line: str) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(["name: bomb", "layers:", "  min: 1", "  max: 2", "  types:",
                               "    dense:", f"      {line}", ""]))
    with pytest.raises(UserInputError) as caught:
        load_space(path)
    message = caught.value.one_line()
    assert "bomb.yaml" in message and len(message) < 300, (len(message), message[:200])
