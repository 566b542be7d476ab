"""One-shot search (ENAS weight sharing) + retraining of the top K against an ordinary
REINFORCE search, same space and seed, on one local Ray instance.

For each space it prints: wall time of each search (the one-shot one includes its retraining),
the ratio, total training epochs (children's epochs; for one-shot also the shared-weight
epochs), the best test metric (the test metric of the child with the best validation reward;
the test split never chooses anything), and Kendall tau between one-shot score and trained
reward: over the K retrained children, and over 20 children of the ordinary search re-scored
with the one-shot run's final shared weights, each after the run's fine-tune steps, as the
final candidates are (20 spread evenly over its reward ranking, and its 20 best). With
``--reseed``, those children are also trained again with another seed (in this process), and
the tau between their two trained rewards is printed beside: how well one training ranks the
architectures by another, the most any cheaper score can be expected to reach. Not a test: a
script that prints figures.

The driver imports TensorFlow and Keras before either clock starts (``import_seconds`` in the
output): both modes pay that import once in a user's process, and without it here the search
that runs first in this process (the one-shot one) would pay it alone.

    python benchmarks/one_shot.py [--spaces lecture_dense lecture_gru] [--trials 100]
        [--one-shot-epochs E] [--controller-steps S] [--retrain-top 5] [--workers 2]
        [--finetune-steps N] [--seed 0] [--runs-dir DIR] [--out FILE] [--ordinary-from FILE]
        [--reseed]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METRIC = {"accuracy": "accuracy", "uar": "uar"}


def _best_test(store, metric: str) -> tuple[float | None, float | None]:  # type: ignore[no-untyped-def]
    best = store.best()
    if best is None:
        return None, None
    return best.reward, best.test_metrics.get(metric)


def _pick(trials: list, n: int) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    """n distinct architectures spread evenly over the reward ranking, and the n best."""
    ranked = sorted({t.arch_id: t for t in trials}.values(), key=lambda t: -t.reward)
    if len(ranked) <= n:
        return ranked, ranked
    step = (len(ranked) - 1) / (n - 1)
    return [ranked[round(i * step)] for i in range(n)], ranked[:n]


def _retrained_rewards(space, trials: list, seed: int) -> list[float]:  # type: ignore[no-untyped-def]
    """Each trial's architecture trained again (in this process) with a seed of its own."""
    from automl.engine.api import _load_data
    from automl.engine.api import _reward_of
    from automl.engine.search import child_seed
    from automl.registry import TASKS
    from automl.training.trainer import train_child

    space, data, task_name = _load_data(space, seed)
    task = TASKS.get(task_name)
    reward, params = _reward_of(space)
    rewards = []
    for t in trials:
        result = train_child(t.arch, task.prepare(data, dict(t.arch.task)),
                             seed=child_seed(seed + 7919, t.trial_id))
        rewards.append(float(reward(result["metrics"], {
            "params": result["params"], "train_seconds": result["train_seconds"]}, **params)))
    return rewards


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="+", default=["lecture_dense", "lecture_gru"])
    parser.add_argument("--trials", type=int, default=100,
                        help="children of the ordinary REINFORCE search (default 100)")
    parser.add_argument("--one-shot-epochs", type=int, default=None,
                        help="epochs of shared training (default: the mode's default)")
    parser.add_argument("--controller-steps", type=int, default=None)
    parser.add_argument("--retrain-top", type=int, default=5)
    parser.add_argument("--no-step-baseline", action="store_true",
                        help="tell the controller raw scores (OneShotSettings.step_baseline)")
    parser.add_argument("--uniform-fraction", type=float, default=None,
                        help="epochs of uniform path sampling first (OneShotSettings)")
    parser.add_argument("--finetune-steps", type=int, default=None,
                        help="fine-tune steps of each final candidate (OneShotSettings; "
                             "0: the shared-weight score as is)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rescored", type=int, default=20,
                        help="children of the ordinary search re-scored (default 20)")
    parser.add_argument("--ordinary-from", default=None, metavar="JSON",
                        help="reuse the ordinary searches of an earlier --out file (their "
                             "runs in --runs-dir) instead of running them again")
    parser.add_argument("--reseed", action="store_true", help="also train the re-scored "
                        "children again with another seed: tau between two trainings")
    parser.add_argument("--out", default=None, help="also write the figures as JSON here")
    parser.add_argument("--runs-dir", default=None,
                        help="keep the run folders here (default: a temporary folder)")
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from dataclasses import replace

    from automl import ExecutionSettings
    from automl import run_search
    from automl.engine.one_shot import OneShotSettings
    from automl.engine.one_shot_api import kendall_tau
    from automl.engine.one_shot_api import ranking_tau
    from automl.engine.one_shot_api import rescore
    from automl.engine.one_shot_api import run_one_shot
    from automl.execution.ray_executor import start_local_ray
    from automl.space import load_space
    from automl.store import TrialStore

    started = time.perf_counter()
    import keras  # noqa: F401  (both modes import it; see the module docstring)
    import tensorflow  # noqa: F401
    import_seconds = time.perf_counter() - started
    start_local_ray(num_cpus=args.workers, log_to_driver=False, logging_level="ERROR")
    settings = OneShotSettings(retrain_top=args.retrain_top)
    if args.one_shot_epochs is not None:
        settings = replace(settings, epochs=args.one_shot_epochs)
    if args.no_step_baseline:
        settings = replace(settings, step_baseline=False)
    if args.uniform_fraction is not None:
        settings = replace(settings, uniform_fraction=args.uniform_fraction)
    if args.finetune_steps is not None:
        settings = replace(settings, finetune_steps=args.finetune_steps)
    if args.controller_steps is not None:
        settings = replace(settings, controller_steps=args.controller_steps)
    execution = ExecutionSettings(workers=args.workers, keep_best=0)
    results = []
    earlier = ({r["space"]: r for r in json.loads(Path(args.ordinary_from).read_text())}
               if args.ordinary_from else {})
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(args.runs_dir) if args.runs_dir else Path(tmp) / "runs"
        for name in args.spaces:
            path = ROOT / "search_spaces" / f"{name}.yaml"
            space = load_space(path)
            metric = METRIC.get(space.reward.name if space.reward else "accuracy", "accuracy")
            row: dict = {"space": name, "trials": args.trials, "seed": args.seed,
                         "one_shot_settings": vars(settings), "metric": metric,
                         "import_seconds": import_seconds}

            started = time.perf_counter()
            shot = run_one_shot(path, settings=settings, seed=args.seed, name=f"os-{name}",
                                runs_dir=runs, execution=execution, overwrite=True)
            row["one_shot_wall"] = time.perf_counter() - started
            store = TrialStore(shot.run_path / "trials.sqlite", readonly=True)
            summary = store.meta("one_shot")
            row["one_shot_phase_seconds"] = summary["seconds"]
            row["one_shot_child_epochs"] = sum(store.epoch_counts().values())
            row["one_shot_shared_epochs"] = summary["epochs"]
            row["one_shot_best_val"], row["one_shot_best_test"] = _best_test(store, metric)
            row["tau_retrained"] = summary["kendall_tau"]
            row["retrained"] = [{"summary": t.summary, "one_shot": summary["scores"][t.arch_id],
                                 "loss": summary["losses"][t.arch_id],
                                 "reward": t.reward, "test": t.test_metrics.get(metric)}
                                for t in store.trials()]
            store.close()

            ordinary_path = runs / f"rl-{name}"
            if name in earlier:
                row["ordinary_wall"] = earlier[name]["ordinary_wall"]
                row["ordinary_reused"] = str(ordinary_path)
            else:
                started = time.perf_counter()
                run_search(path, strategy="reinforce", trials=args.trials, seed=args.seed,
                           name=f"rl-{name}", runs_dir=runs, execution=execution,
                           overwrite=True)
                row["ordinary_wall"] = time.perf_counter() - started
            store = TrialStore(ordinary_path / "trials.sqlite", readonly=True)
            row["ordinary_epochs"] = sum(store.epoch_counts().values())
            row["ordinary_best_val"], row["ordinary_best_test"] = _best_test(store, metric)
            trained = [t for t in store.trials() if t.status.value == "complete"]
            store.close()
            spread, top = _pick(trained, args.rescored)
            for label, chosen in (("spread", spread), ("top", top)):
                scored = rescore(shot.run_path, [t.arch for t in chosen])
                row[f"tau_{label}"] = ranking_tau(scored, [t.reward for t in chosen])
                row[f"tau_{label}_score_only"] = kendall_tau(
                    [(r.score, t.reward) for r, t in zip(scored, chosen, strict=True)])
                row[f"rescored_{label}"] = [
                    {"summary": t.summary, "one_shot": r.score, "loss": r.loss,
                     "reward": t.reward} for r, t in zip(scored, chosen, strict=True)]
                if args.reseed:
                    again = _retrained_rewards(space, chosen, args.seed)
                    row[f"tau_{label}_reseeded"] = kendall_tau(
                        [(a, t.reward) for a, t in zip(again, chosen, strict=True)])
                    for entry, reward in zip(row[f"rescored_{label}"], again, strict=True):
                        entry["reward_reseeded"] = reward
            row["wall_ratio"] = row["one_shot_wall"] / row["ordinary_wall"]
            if row["one_shot_best_test"] is not None and row["ordinary_best_test"]:
                row["test_difference_points"] = 100 * (row["one_shot_best_test"]
                                                       - row["ordinary_best_test"])
            results.append(row)
            print(json.dumps(row, indent=1, default=str), flush=True)
    print()
    print(f"{'space':<14} {'wall os/rl s':>14} {'ratio':>6} {'epochs os(+shared)/rl':>22} "
          f"{'test os/rl':>12} {'diff pt':>8} {'tau K':>6} {'tau 20':>7} {'tau top20':>9} "
          f"{'reseeded 20/top20':>17}")
    for r in results:
        def f(key: str, fmt: str = ".3f", r: dict = r) -> str:
            value = r.get(key)
            return "-" if value is None else format(value, fmt)
        print(f"{r['space']:<14} {f('one_shot_wall', '.0f'):>6}/{f('ordinary_wall', '.0f'):<7} "
              f"{f('wall_ratio'):>6} "
              f"{r['one_shot_child_epochs']:>8}(+{r['one_shot_shared_epochs']})/"
              f"{r.get('ordinary_epochs', '-'):<8} "
              f"{f('one_shot_best_test'):>6}/{f('ordinary_best_test'):<5} "
              f"{f('test_difference_points', '.1f'):>8} {f('tau_retrained', '.2f'):>6} "
              f"{f('tau_spread', '.2f'):>7} {f('tau_top', '.2f'):>9} "
              f"{f('tau_spread_reseeded', '.2f'):>8}/{f('tau_top_reseeded', '.2f'):<8}")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
