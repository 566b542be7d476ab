"""Property-based: random and mutated YAML never crash the loader; only SpaceError (or another
UserInputError for plugins) comes out, always with the file and a location."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from automl.errors import UserInputError
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
