"""How much two TensorFlow fits slow each other on this machine, without Ray or automl.

One Keras fit (one TensorFlow thread) alone in a plain process, then two at once in two
processes pinned to CPUs 0 and 1, alternated ``--repeats`` times, three fits per process; then
the same for a pure-Python loop and a cache-resident NumPy matmul. The throughput of two at
once over one is what a second worker could add at best, before anything Ray or the search
loop costs (docs/benchmark.md, "Scale figures"). ``--unpinned`` adds the fits without pinning,
as Ray's workers run: a fit alone may then spread over both cores (Keras' input pipeline has
its own threads, outside TensorFlow's one-thread setting), which a pinned fit cannot. Not a
test: a script that prints figures (Linux: it pins processes with ``os.sched_setaffinity``).

    python benchmarks/contention.py [--model gru|mlp] [--repeats 2] [--unpinned]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import time

THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS",
                    "OPENBLAS_NUM_THREADS")


def _fits(model: str, cpu: int | None, start_at: float, out: mp.Queue) -> None:
    for variable in THREAD_VARIABLES:
        os.environ[variable] = "1"
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    import keras
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    rng = np.random.default_rng(0)
    if model == "gru":  # the lecture's GRU stacks on JapaneseVowels-sized data
        x, y = rng.normal(size=(270, 29, 12)).astype("float32"), rng.integers(9, size=270)
        layers = [keras.Input((29, 12)), keras.layers.GRU(120, return_sequences=True),
                  keras.layers.GRU(120), keras.layers.Dense(9, activation="softmax")]
        epochs = 15
    else:  # the default worker part of benchmarks/scale.py, on digits-sized data
        x, y = rng.random((1797, 64)).astype("float32"), rng.integers(10, size=1797)
        layers = [keras.Input((64,)), keras.layers.Dense(128, activation="relu"),
                  keras.layers.Dense(128, activation="relu"),
                  keras.layers.Dense(10, activation="softmax")]
        epochs = 8
    time.sleep(max(0.0, start_at - time.time()))  # both processes start their fits together
    seconds = []
    for _ in range(3):
        started = time.perf_counter()
        net = keras.Sequential(layers)
        net.compile("adam", "sparse_categorical_crossentropy")
        net.fit(x, y, epochs=epochs, batch_size=32, verbose=0, validation_split=0.2)
        seconds.append(time.perf_counter() - started)
    out.put(seconds)


def _compute(kind: str, cpu: int, start_at: float, out: mp.Queue) -> None:
    os.sched_setaffinity(0, {cpu})
    import numpy as np

    time.sleep(max(0.0, start_at - time.time()))
    started = time.perf_counter()
    if kind == "python":
        total = 0
        for i in range(6_000_000):
            total += i * i % 7
    else:
        a = np.random.default_rng(0).random((256, 256))
        for _ in range(400):
            a = a @ a
            a /= a.max()
    out.put([time.perf_counter() - started])


def _run(target, what: str, processes: int, delay: float,  # type: ignore[no-untyped-def]
         pin: bool = True) -> list[float]:
    out: mp.Queue = mp.Queue()
    start_at = time.time() + delay
    workers = [mp.Process(target=target, args=(what, cpu if pin else None, start_at, out))
               for cpu in range(processes)]
    for worker in workers:
        worker.start()
    seconds = [s for _ in workers for s in out.get()]
    for worker in workers:
        worker.join()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=("gru", "mlp"), default="gru")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--unpinned", action="store_true",
                        help="also run the fits without pinning processes to CPUs")
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    print(f"{'work':<16} {'alone s':>8} {'two at once s':>14} {'slower':>7} {'throughput':>10}")
    runs = [(_fits, args.model, 12.0, True)]
    if args.unpinned:
        runs.append((_fits, args.model, 12.0, False))
    runs += [(_compute, "python", 1.0, True), (_compute, "matmul", 1.0, True)]
    for target, what, delay, pin in runs:
        alone, together = [], []
        for _ in range(args.repeats):
            alone += _run(target, what, 1, delay, pin)
            together += _run(target, what, 2, delay, pin)
        one, two = statistics.mean(alone), statistics.mean(together)
        label = what if pin else f"{what} unpinned"
        print(f"{label:<16} {one:>8.2f} {two:>14.2f} {100 * (two / one - 1):>6.0f}% "
              f"{2 * one / two:>9.2f}x", flush=True)


if __name__ == "__main__":
    main()
