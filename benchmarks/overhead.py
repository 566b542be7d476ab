"""Per-trial overhead and memory of a long search of tiny children, printed side by side.

One random search on Ray (workers recycled every ``recycle_after`` children and the best 3
models kept, as shipped) of ``--trials`` tiny children: a 1-3 layer dense net on digits, 1 epoch.
Every trained child's costs come from the store (``TrialStore.costs``): the worker times each
phase of its call (build, compile, fit, evaluate, summary, save_model, clear_session) and the
loop adds ``round_trip`` (submitted to result back) and ``driver_gap`` (the slot's previous
result back to this child submitted). Per trial:

    overhead = driver_gap + round_trip - fit      (everything outside model.fit)

split into the driver's gap, Ray's transport (``round_trip - worker``) and the worker's time
outside fit. The first child of each worker process also waits for the process to start
(TensorFlow's import): shown apart, and spread over ``recycle_after`` children.

Memory: the driver's resident memory (``VmRSS``) when the 20th and the last trial finish, and
each worker's after the child at trial 20 and at the last trial, plus every worker process's
first child and its last before recycling, so the growth within a process and across recycles
can be told apart.

    python benchmarks/overhead.py [--trials 200] [--workers 1] [--epochs 1] [--keep-best 3]
        [--recycle-after N (default: as shipped)] [--strategy random]

Not a test: a script that prints figures (say what else ran on the machine: the load average is
printed at the start and the end).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

SPACE = """
name: overhead
task: digits
reward: accuracy
layers:
  min: 1
  max: 3
  types:
    dense:
      units: [8, 16, 32, 64]
      activation: [relu, tanh, elu]
train:
  learning_rate: [0.001, 0.003, 0.01]
  batch_size: 64
  epochs: {epochs}
"""

WORKER_PHASES = ("build", "compile", "evaluate", "summary", "save_model", "clear_session")
DRIVER_PHASES = ("store", "models", "tell", "checkpoint", "ask", "store_ask", "submit")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} on {os.cpu_count()} CPUs"


def quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(name: str, values: Sequence[float], unit: float = 1000.0) -> str:
    if not values:
        return f"  {name:<34} {'-':>9} {'-':>9} {'-':>9}   n=0"
    return (f"  {name:<34} {statistics.median(values) * unit:>9.1f} "
            f"{quantile(values, 0.95) * unit:>9.1f} {statistics.fmean(values) * unit:>9.1f}"
            f"   n={len(values)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--keep-best", type=int, default=3)
    parser.add_argument("--recycle-after", type=int, default=None,
                        help="default: the shipped ExecutionSettings.recycle_after")
    parser.add_argument("--strategy", default="random")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from automl import ExecutionSettings
    from automl import run_search
    from automl.execution.ray_executor import start_local_ray
    from automl.execution.worker import resident_mb
    from automl.store import TrialStore

    if args.recycle_after is None:
        args.recycle_after = ExecutionSettings().recycle_after
    print(f"start: {load()}")
    start_local_ray(num_cpus=max(2, args.workers), log_to_driver=False, logging_level="ERROR")
    mark = 20
    driver_rss: dict[int, float | None] = {}

    def on_progress(progress: object) -> None:
        done = int(getattr(progress, "done", 0))
        for at in (mark, args.trials):
            if done >= at and at not in driver_rss:
                driver_rss[at] = resident_mb()

    with tempfile.TemporaryDirectory() as tmp:
        space = Path(tmp) / "space.yaml"
        space.write_text(SPACE.format(epochs=args.epochs))
        started = time.perf_counter()
        outcome = run_search(
            space, strategy=args.strategy, trials=args.trials, seed=args.seed, name="overhead",
            runs_dir=Path(tmp) / "runs", on_progress=on_progress,
            execution=ExecutionSettings(workers=args.workers, keep_best=args.keep_best,
                                        recycle_after=args.recycle_after))
        wall = time.perf_counter() - started
        store = TrialStore(outcome.run_path / "trials.sqlite", readonly=True)
        costs = store.costs()
        statuses = {t.trial_id: t.status.value for t in store.trials()}
        store.close()
    end_load = load()
    trained = sorted(t for t in costs if "fit" in costs[t])
    fits = [costs[t]["fit"] for t in trained]
    print(f"{args.trials} trials ({len(trained)} trained, "
          f"{sum(1 for s in statuses.values() if s == 'cached')} cached), {args.workers} "
          f"worker(s), strategy {args.strategy}, {args.epochs} epoch(s), keep_best "
          f"{args.keep_best}, recycle_after {args.recycle_after}: wall {wall:.1f} s, "
          f"sum of fit {sum(fits):.1f} s")
    print(f"end:   {end_load}")

    def overhead(c: dict[str, float]) -> float:
        return c.get("driver_gap", 0.0) + c["round_trip"] - c["fit"]

    steady = [t for t in trained if costs[t].get("child", 0) > 1 and "round_trip" in costs[t]]
    fresh = [t for t in trained if costs[t].get("child", 0) == 1 and "round_trip" in costs[t]]
    print(f"\nper trial, ms            {'median':>27} {'p95':>9} {'mean':>9}")
    print(row("fit (not overhead)", fits))
    print(row("OVERHEAD outside fit, all trials",
              [overhead(costs[t]) for t in trained if "round_trip" in costs[t]]))
    print(row("OVERHEAD, warm workers", [overhead(costs[t]) for t in steady]))
    print(row("OVERHEAD, 1st child of a process", [overhead(costs[t]) for t in fresh]))
    print("  of which (warm workers):")
    print(row("driver gap (result -> next submit)",
              [costs[t]["driver_gap"] for t in steady if "driver_gap" in costs[t]]))
    print(row("Ray transport (round trip - worker)",
              [costs[t]["round_trip"] - costs[t]["worker"] for t in steady]))
    print(row("worker outside fit", [costs[t]["worker"] - costs[t]["fit"] for t in steady]))
    for phase in WORKER_PHASES:
        print(row(f"  worker: {phase}", [costs[t][phase] for t in steady if phase in costs[t]]))
    driver = outcome.extra.get("driver_seconds", {})
    print("  driver steps (each time it ran):")
    for phase in DRIVER_PHASES:
        print(row(f"  driver: {phase}", driver.get(phase, [])))
    if fresh and args.recycle_after:
        start_cost = statistics.median(overhead(costs[t]) for t in fresh) - statistics.median(
            overhead(costs[t]) for t in steady) if steady else float("nan")
        print(f"  worker start-up {start_cost:.2f} s per process, spread over "
              f"{args.recycle_after} children: {start_cost / args.recycle_after * 1000:.0f} ms "
              "per trial")

    print("\nresident memory, MB")
    first, last = min(trained), max(trained)
    at_mark = min((t for t in trained if t >= mark - 1), default=first)
    d20, dend = driver_rss.get(mark), driver_rss.get(args.trials)
    if d20 and dend:
        print(f"  driver   at trial {mark}: {d20:7.1f}   at trial {args.trials}: {dend:7.1f}   "
              f"growth {100 * (dend / d20 - 1):+.1f} %")
    w20, wend = costs[at_mark].get("rss_mb"), costs[last].get("rss_mb")
    if w20 and wend:
        print(f"  worker   at trial {at_mark + 1}: {w20:7.1f}   at trial {last + 1}: "
              f"{wend:7.1f}   growth {100 * (wend / w20 - 1):+.1f} %  (child "
              f"{costs[at_mark].get('child')} and {costs[last].get('child')} of their process)")
    print("  each worker process: trial of its 1st child, RSS after it -> last child, RSS "
          "after it (the last before a recycle)")
    processes: list[list[int]] = []
    for t in trained:
        if costs[t].get("child") == 1 or not processes:
            processes.append([])
        processes[-1].append(t)
    if args.workers == 1:
        for trials_of in processes:
            a, b = trials_of[0], trials_of[-1]
            ra, rb = costs[a].get("rss_mb") or 0.0, costs[b].get("rss_mb") or 0.0
            growth = 100 * (rb / ra - 1) if ra else 0.0
            print(f"    trial {a + 1:>4}: {ra:7.1f} -> trial {b + 1:>4} (child "
                  f"{costs[b].get('child')}): {rb:7.1f}  {growth:+.1f} %")
    else:
        print("    (with several workers the processes interleave; run with --workers 1)")


if __name__ == "__main__":
    main()
