"""Architectures: canonical form, flat encoding, stable id, decision process."""

from __future__ import annotations

import numpy as np

from automl.space import Architecture
from automl.space import load_space
from tests.conftest import SPACES


def test_id_is_stable_and_canonical() -> None:
    a = Architecture(({"type": "dense", "units": 40, "activation": "tanh"},),
                     {"optimizer": "adam", "learning_rate": 0.001, "batch_size": 32,
                      "epochs": 10})
    b = Architecture(({"activation": "tanh", "units": 40, "type": "dense"},),
                     {"epochs": 10, "batch_size": 32, "learning_rate": 0.001,
                      "optimizer": "adam"})
    assert a.id == b.id
    assert len(a.id) == 12
    assert Architecture.from_json(a.to_json()) == a
    assert a.summary() == "dense(40,tanh)"  # a plain value: no registry is consulted
    assert a.summary(lambda layer: layer["type"].upper()) == "DENSE"


def test_the_builder_describes_layers_in_their_types_words() -> None:
    from automl.builder import describe

    a = Architecture(({"type": "gru", "units": 8, "activation": "tanh", "bidirectional": False},
                      {"type": "unknown_plugin_layer", "size": 3}), {"epochs": 1},
                     decisions={"window": 20})
    assert describe(a) == "GRU(8,tanh) > unknown_plugin_layer(3) | window=20"
    assert a.summary() == "gru(8,tanh,False) > unknown_plugin_layer(3) | window=20"
    # the training settings a space searches tell two children apart in every listing
    assert describe(a, ["epochs", "batch_size"]) == (
        "GRU(8,tanh) > unknown_plugin_layer(3) | window=20 epochs=1")


def test_id_value_is_pinned() -> None:
    # The id is a hash of the canonical JSON: it must not change between versions.
    a = Architecture(({"type": "dense", "units": 40, "activation": "tanh"},), {"epochs": 1})
    assert a.to_json() == '{"layers":[{"activation":"tanh","type":"dense","units":40}],' \
                          '"train":{"epochs":1}}'
    import hashlib

    assert a.id == hashlib.sha256(a.to_json().encode()).hexdigest()[:12]


def test_flat_round_trip_and_decisions_for_every_shipped_space() -> None:
    rng = np.random.default_rng(0)
    for path in sorted(SPACES.glob("*.yaml")):
        space = load_space(path)
        for _ in range(20):
            arch = space.sample(rng)
            assert space.from_flat(arch.flat) == arch
            assert space.from_flat({k: str(v) for k, v in arch.flat.items()},
                                   parse_strings=True) == arch
            decisions = space.decisions_of(arch)
            rebuilt = space.architecture({d.name: d.choices[i] for d, i in decisions})
            assert rebuilt == arch
            slots = {d.slot for d in space.slots()}
            assert {d.slot for d, _ in decisions} <= slots


def test_enumerate_matches_size() -> None:
    space = load_space(SPACES / "quickstart.yaml")
    archs = list(space.enumerate())
    assert len(archs) == space.size() == 144
    assert len({a.id for a in archs}) == 144


def test_flat_encoding_names() -> None:
    space = load_space(SPACES / "lecture_gru.yaml")
    arch = space.sample(np.random.default_rng(1))
    flat = arch.flat
    assert flat["num_layers"] == len(arch.layers)
    assert flat["layers.0.type"] == "gru"
    assert "train.learning_rate" in flat
