"""How well do one-shot scores rank architectures? Shared weights, a short fine-tune from them,
and the same short training from a fresh super-network, against children trained in full.

For one space and seed: the one-shot phase with the mode's defaults (in this process), then
``--architectures`` architectures drawn uniformly from the space, each scored on the whole
validation set (a) under the final shared weights, (b) after N steps of its own path from the
shared weights, for each N of ``--steps`` (the shared weights are put back after each), and
(c) after N steps from an untrained super-network; then each trained as an ordinary child
(the in-process trainer, the space's full recipe). Prints Kendall tau between each score and
the trained validation reward, by score and by validation loss, and the seconds each scoring
took. Not a test: a script that prints figures.

    python benchmarks/one_shot_ranking.py [--space lecture_dense] [--seed 0]
        [--architectures 20] [--steps 10,50,120] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="lecture_dense")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--architectures", type=int, default=20)
    parser.add_argument("--steps", default="10,50,120")
    parser.add_argument("--out", default=None, help="also write the figures as JSON here")
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    import numpy as np

    from automl.engine.api import _load_data
    from automl.engine.api import _reward_of
    from automl.engine.one_shot import OneShotPhase
    from automl.engine.one_shot import OneShotSettings
    from automl.engine.one_shot_api import ONE_SHOT_STRATEGY_DEFAULTS
    from automl.engine.one_shot_api import kendall_tau
    from automl.execution.in_process import InProcessExecutor
    from automl.space import load_space
    from automl.strategies import create_strategy

    space = load_space(ROOT / "search_spaces" / f"{args.space}.yaml")
    space, data, task_name = _load_data(space, args.seed)
    reward, params = _reward_of(space)
    settings = OneShotSettings()

    def phase() -> OneShotPhase:
        controller = create_strategy("reinforce", space, seed=args.seed,
                                     workers=settings.controller_batch,
                                     settings=ONE_SHOT_STRATEGY_DEFAULTS)
        return OneShotPhase(space, data, controller, reward, params, args.seed, settings)

    trained_phase = phase()
    started = time.perf_counter()
    trained_phase.run()
    print(f"{args.space} seed {args.seed}: one-shot phase {time.perf_counter() - started:.0f} s",
          flush=True)
    fresh_phase = phase()

    rng = np.random.default_rng([args.seed, 100])
    chosen: dict[str, object] = {}
    while len(chosen) < args.architectures:
        architecture = space.sample(rng)
        chosen.setdefault(architecture.id, architecture)
    architectures = list(chosen.values())

    scores: dict[str, list[tuple[float, float]]] = {}
    seconds: dict[str, float] = {}
    variants = [("shared", trained_phase, 0)]
    for steps in map(int, args.steps.split(",")):
        variants += [(f"shared + {steps} steps", trained_phase, steps),
                     (f"fresh + {steps} steps", fresh_phase, steps)]
    for label, source, steps in variants:
        started = time.perf_counter()
        ranked = source.final_scores_with(architectures, steps=steps)
        seconds[label] = time.perf_counter() - started
        scores[label] = [(r.score, r.loss) for r in ranked]

    executor = InProcessExecutor(data, task_name=task_name)
    executor.start()
    trained = []
    for trial_id, architecture in enumerate(architectures):
        executor.submit(trial_id, architecture.to_json(), seed=args.seed)
        [outcome] = executor.wait()
        trained.append(float(reward(outcome.result["metrics"], {
            "params": outcome.result.get("params", 0), "train_seconds": 0.0}, **params)))
    executor.shutdown()

    rows = []
    print(f"{'scores':<22} {'tau (score)':>11} {'tau (-loss)':>11} {'seconds':>8}")
    for label, _, _ in variants:
        by_score = kendall_tau([(s, w) for (s, _), w in zip(scores[label], trained,
                                                              strict=True)])
        by_loss = kendall_tau([(-loss, w) for (_, loss), w in zip(scores[label], trained,
                                                                   strict=True)])
        rows.append({"scores": label, "tau_score": by_score, "tau_loss": by_loss,
                     "seconds": seconds[label]})
        print(f"{label:<22} {by_score:>11.2f} {by_loss:>11.2f} {seconds[label]:>8.1f}")
    if args.out:
        Path(args.out).write_text(json.dumps({
            "space": args.space, "seed": args.seed, "rows": rows, "trained": trained,
            "architectures": [a.to_json() for a in architectures], "scores": scores},
            indent=1))


if __name__ == "__main__":
    main()
