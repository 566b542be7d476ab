"""What training the layers after MiniRocket on its outputs computed once saves, side by side.

For each child (layers after a ``minirocket`` layer, so the prefix is frozen) on a UCR data set:
the same training twice in one process, once through the whole model every batch (what
``model.fit`` did before ``training/fixed_prefix.py``) and once on the prefix's outputs; prints
both wall times, their ratio, the phases and both validation/test accuracies. Both start from
the same seed, weights and batches; the features differ by float rounding (the frozen
convolutions summed in calls of 2 series against batches of 16, ~1e-6), so the two trainings
agree for a few epochs and then drift apart as any two runs with different rounding do.
Not a test: a script that prints figures.

    python benchmarks/fixed_prefix.py [--dataset ACSF1] [--epochs 10] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHILDREN = {
    "MiniRocket > FCN(64,k8) > pool:avg": (
        [{"type": "minirocket", "features": 10000, "max_dilations": 32},
         {"type": "fcn_block", "filters": 64, "kernel_size": 8}], "avg"),
    "MiniRocket > ResBlock(32,k8) > pool:max": (
        [{"type": "minirocket", "features": 10000, "max_dilations": 32},
         {"type": "resnet_block", "filters": 32, "kernel_size": 8}], "max"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="ACSF1")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from automl.registry import TASKS
    from automl.registry import ensure_builtins
    from automl.space import Architecture
    from automl.training.trainer import train_child

    ensure_builtins()
    task = yaml.safe_load((ROOT / "search_spaces/timeseries.yaml").read_text())["task"]
    data = TASKS.get("ucr").load({**{k: v for k, v in task.items() if k != "name"},
                                  "dataset": args.dataset}, base_dir=ROOT, seed=args.seed)
    print(f"{args.dataset}: {len(data.x_train)} training series of shape {data.input_shape}, "
          f"{args.epochs} epochs, batch 16")
    print(f"{'child':42} {'mode':14} {'seconds':>8} {'val acc':>8} {'test acc':>8}  phases (s)")
    for name, (layers, pooling) in CHILDREN.items():
        arch = Architecture(tuple(layers), {"epochs": args.epochs, "batch_size": 16,
                                            "learning_rate": 0.001}, pooling=pooling)
        seconds = {}
        for reuse in (False, True):
            started = time.perf_counter()
            out = train_child(arch, data, seed=args.seed, reuse_fixed_prefix=reuse)
            seconds[reuse] = time.perf_counter() - started
            mode = "prefix once" if reuse else "whole model"
            print(f"{name:42} {mode:14} {seconds[reuse]:8.1f} "
                  f"{out['metrics']['accuracy']:8.3f} {out['test_metrics']['accuracy']:8.3f}  "
                  + ", ".join(f"{k} {v:.1f}" for k, v in out["costs"].items()), flush=True)
        print(f"{name:42} {'ratio':14} {seconds[False] / seconds[True]:8.1f}x")
        print(f"{name:42} {'per epoch':14} {(seconds[False] - seconds[True]) / args.epochs:8.2f} "
              "s saved")


if __name__ == "__main__":
    main()
