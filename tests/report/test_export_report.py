"""Keeping the best models, exporting one, and the HTML report, on real small runs.

One REINFORCE search on the session's Ray instance (resumed once) serves the keep-best, export,
show and report tests; the ranking-change test and the attention export train in this process.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from automl.execution import ExecutionSettings
from automl.store import ModelFiles
from automl.store import RunFolder
from automl.store import TrialStore
from tests.conftest import ROOT
from tests.conftest import TINY_DIGITS

pytestmark = pytest.mark.slow

ATTENTION = ROOT / "plugins" / "attention.py"
NOTES_SCREENSHOT = Path("/work/notes/report_screenshot.png")

LOAD_AND_PREDICT = """
import sys, numpy as np, keras
x = np.load(sys.argv[1])
for n, path in enumerate(sys.argv[2:]):
    model = keras.saving.load_model(path, safe_mode=True)
    np.save(f"p{n}.npy", np.asarray(model(x, training=False)))
assert not any(m == "automl" or m.startswith("automl.") for m in sys.modules), "automl loaded"
"""


def automl_cli(*args: str, cwd: Path, python_flags: tuple[str, ...] = ()
               ) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *python_flags, "-m", "automl", *args], cwd=cwd,
                          text=True, capture_output=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def predict_in_fresh_process(models: list[Path], x: np.ndarray, tmp: Path) -> list[np.ndarray]:
    """Load each model with Keras alone (no automl, no plugin) and predict ``x``."""
    np.save(tmp / "x.npy", x)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", LOAD_AND_PREDICT, str(tmp / "x.npy"),
                           *map(str, models)], cwd=tmp,
                          env={**env, "TF_CPP_MIN_LOG_LEVEL": "3"},
                          text=True, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return [np.load(tmp / f"p{n}.npy") for n in range(len(models))]


def digits_validation(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from automl.registry import TASKS

    data = TASKS.get("digits").load({}, base_dir=ROOT, seed=seed)
    return data.x_val, data.y_val


@pytest.fixture(scope="module")
def searched(ray_instance, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A 5-trial REINFORCE search on Ray keeping its best 2, then stray files planted and a
    resume to 7 trials; returns the run and what its models folder held after the first part."""
    from automl.engine import resume_search
    from automl.engine import run_search

    root = tmp_path_factory.mktemp("searched")
    space = root / "tiny.yaml"
    space.write_text(TINY_DIGITS.replace("trials: 4", "trials: 5"))
    runs = root / "runs"
    run_search(space, strategy="reinforce", strategy_settings={"batch_size": 2}, seed=1,
               name="r", runs_dir=runs,
               execution=ExecutionSettings(workers=2, keep_best=2))
    run = RunFolder(runs / "r")
    files = ModelFiles(run.path)
    store = TrialStore(run.db_path, readonly=True)
    first = {"kept": files.kept(), "top": store.top_trained(2)}
    store.close()
    files.path(999).write_bytes(b"not a model")  # a trial that is not in the store's top 2
    files.pending_path(3).write_bytes(b"half")  # a pending file a kill left behind
    # resumed in this process: new Ray actors would pay the TensorFlow import again
    resume_search(run.path, trials=7, execution=ExecutionSettings(executor="in_process",
                                                                   keep_best=2))
    return {"run": run, "root": root, "first": first}


def test_keep_best_keeps_the_top_k_and_resume_keeps_them_consistent(searched: dict) -> None:
    run: RunFolder = searched["run"]
    assert searched["first"]["kept"] == sorted(searched["first"]["top"])
    assert len(searched["first"]["kept"]) == 2
    store = TrialStore(run.db_path, readonly=True)
    try:
        assert sum(store.counts().values()) == 7
        top = store.top_trained(2)
        assert ModelFiles(run.path).kept() == sorted(top)
        assert sorted(p.name for p in (run.path / "models").iterdir()) == \
            sorted(f"{t}.keras" for t in top)  # the stray and the pending file are gone
        assert run.info()["execution"]["keep_best"] == 2
        assert all(store.keras_summary(t.trial_id) for t in store.trials()
                   if t.status.value == "complete")
    finally:
        store.close()


def test_kept_models_are_replaced_as_the_ranking_changes(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Grid order makes every child larger; the reward is the size: each child takes the top
    spot, so the one kept model is replaced after every result. The driver claims another
    host name, so the trainer sends the model's bytes back as a worker on another node does,
    and the driver writes them."""
    import types

    import automl.engine.search as search_module
    from automl.engine.search import SearchLoop
    from automl.execution.in_process import InProcessExecutor
    from automl.registry import TASKS
    from automl.space import parse_space
    from automl.store import RunFolder
    from automl.strategies import create_strategy
    from automl.training.rewards import Reward

    space = parse_space({"name": "grow", "task": "digits", "layers": {
        "min": 1, "max": 1, "types": {"dense": {"units": [4, 8, 16]}}},
        "train": {"epochs": 1, "batch_size": 256}}, source_name="grow.yaml", base_dir=tmp_path)
    run = RunFolder(tmp_path / "grow")
    run.path.mkdir()
    monkeypatch.setattr(search_module, "socket",
                        types.SimpleNamespace(gethostname=lambda: "driver-elsewhere"))
    written: list[int] = []
    real_write = ModelFiles.write_pending
    monkeypatch.setattr(ModelFiles, "write_pending", lambda self, trial, data: (
        written.append(trial), real_write(self, trial, data))[1])
    kept_at_tell: list[list[int]] = []
    loop = SearchLoop(run, space, create_strategy("grid", space), InProcessExecutor(
        TASKS.get("digits").load({}, base_dir=tmp_path, seed=0), task_name="digits"),
        trials=3, seed=0, reward=Reward("size", lambda metrics, facts: facts["params"]),
        keep_best=1, on_told=lambda told: kept_at_tell.append(ModelFiles(run.path).kept()))
    loop.run_loop()
    assert kept_at_tell == [[0], [1], [2]]
    assert written == [0, 1, 2]  # every model came back as bytes
    assert not list(run.path.glob("models/.pending-*"))
    import keras

    largest = keras.saving.load_model(ModelFiles(run.path).path(2), safe_mode=True)
    assert largest.count_params() == (64 * 16 + 16) + (16 * 10 + 10)  # Dense(16) and the head


def test_export_round_trip_loads_with_safe_mode_and_predicts_the_same(
        searched: dict, tmp_path: Path) -> None:
    run: RunFolder = searched["run"]
    store = TrialStore(run.db_path, readonly=True)
    best = store.best()
    not_kept = next(t for t in store.trials() if t.status.value == "complete"
                    and t.trial_id not in store.top_trained(2))
    store.close()
    done = automl_cli("export", str(run.path), "--best", "-o", str(tmp_path / "best.keras"),
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "kept weights" in done.stdout
    meta = json.loads((tmp_path / "best.json").read_text())
    assert meta["arch_id"] == best.arch_id and meta["retrained"] is False
    assert meta["class_names"] == [str(i) for i in range(10)] and meta["task"] == "digits"
    # a child whose model was not kept is retrained from its recorded seed (in this process,
    # which has TensorFlow loaded already)
    from automl.engine import export_model

    retrained = export_model("r", str(not_kept.trial_id), tmp_path / "other.keras",
                             runs_dir=run.path.parent)
    assert retrained.retrained and retrained.metadata["trial"] == not_kept.trial_id
    x_val, y_val = digits_validation(seed=1)
    predictions, again = predict_in_fresh_process([tmp_path / "best.keras", retrained.path],
                                                  x_val, tmp_path)
    from automl.training.metrics import classification_metrics

    # the stored validation metrics were computed from the trained child's own predictions
    assert classification_metrics(y_val, predictions) == pytest.approx(best.metrics, abs=1e-6)
    assert classification_metrics(y_val, again)["accuracy"] == pytest.approx(
        not_kept.metrics["accuracy"], abs=0.02)
    # the run's own splits, rebuilt from its space and seed, score the exported model as stored
    import keras

    from automl import load_run_data

    data = load_run_data(run.path)
    np.testing.assert_array_equal(data.x_val, x_val)
    model = keras.saving.load_model(tmp_path / "best.keras", safe_mode=True)
    assert classification_metrics(data.y_test, model.predict(data.x_test, verbose=0)) == (
        pytest.approx(best.test_metrics, abs=1e-6))


def test_ensemble_averages_the_best_children_and_loads_with_keras_alone(
        searched: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``export --ensemble 2``: the two kept models averaged, in the leaderboard's order; its
    sidecar's metrics are the averaged model's own; a third member without a kept model is
    trained again from its recorded seed. (The CLI runs in this process, which has TensorFlow
    loaded already; the model is then loaded in a fresh one with Keras alone.)"""
    from automl.cli.main import main

    run: RunFolder = searched["run"]
    store = TrialStore(run.db_path, readonly=True)
    top = store.top_trained(3)
    store.close()
    assert main(["export", str(run.path), "--ensemble", "2", "-o",
                 str(tmp_path / "ens.keras")]) == 0
    out = capsys.readouterr().out
    assert f"ensemble of trials {top[0]}, {top[1]}" in " ".join(out.split()), out
    meta = json.loads((tmp_path / "ens.json").read_text())
    assert [m["trial"] for m in meta["ensemble"]] == top[:2] and meta["trained_again"] == []
    assert meta["class_names"] == [str(i) for i in range(10)]
    files = ModelFiles(run.path)
    x_val, y_val = digits_validation(seed=1)
    averaged, first, second = predict_in_fresh_process(
        [tmp_path / "ens.keras", files.path(top[0]), files.path(top[1])], x_val, tmp_path)
    np.testing.assert_allclose(averaged, (first + second) / 2, atol=1e-6)
    from automl.training.metrics import classification_metrics

    assert classification_metrics(y_val, averaged) == pytest.approx(meta["metrics"], abs=1e-6)
    from automl.engine import export_ensemble

    three = export_ensemble(run.path, 3, tmp_path / "three.keras")
    assert three.metadata["trained_again"] == [top[2]]
    assert set(three.metadata["test_metrics"]) >= {"accuracy", "uar"}


@pytest.mark.parametrize("args, says", [
    (["export", "nowhere", "-o", "m.keras"], "no run found"),
    (["export", "RUN", "zzz", "-o", "m.keras"], "no trial 'zzz'"),
    (["export", "RUN", "9" * 23, "-o", "m.keras"], f"no trial '{'9' * 23}'"),  # > 64 bits
    (["show", "RUN", "9" * 23], f"no trial '{'9' * 23}'"),
    (["export", "RUN", "-o", "m.h5"], "must end in .keras"),
    (["export", "RUN", "0", "--best", "-o", "m.keras"], "not both"),
    (["export", "RUN", "--ensemble", "1", "-o", "m.keras"], "at least 2"),
    (["export", "RUN", "0", "--ensemble", "2", "-o", "m.keras"], "not two of them"),
    (["export", "RUN", "1", "-o", "RUN/models/0.keras"], "inside the run's models folder"),
    (["export", "RUN", "--ensemble", "2", "-o", "RUN/models/x.keras"], "inside the run's models"),
    (["report", "RUN", "-o", "r.pdf"], "must end in .html"),
    (["report", "RUN", "RUN"], "named twice"),
    (["leaderboard", "RUN", "--where", "reward<nan"], "< needs a number, not NaN"),
])
def test_export_and_report_bad_input_is_one_line_exit_2(
        searched: dict, tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str],
        says: str) -> None:
    from automl.cli.main import main

    kept = {p.name: p.read_bytes() for p in (searched["run"].path / "models").iterdir()}
    args = [a.replace("RUN", str(searched["run"].path), 1) if a.startswith("RUN") else a
            for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and says in err[0], err
    assert not list(tmp_path.iterdir())
    assert {p.name: p.read_bytes() for p in (searched["run"].path / "models").iterdir()} == kept


def test_export_of_a_plugin_attention_model_loads_with_keras_alone(tmp_path: Path) -> None:
    from automl.engine import export_model
    from automl.engine import run_search

    rng = np.random.default_rng(0)
    y = rng.integers(3, size=90)
    x = rng.normal(size=(90, 6, 4)).astype(np.float32) + y[:, None, None]
    np.savez(tmp_path / "seq.npz", x=x, y=y)
    (tmp_path / "att.yaml").write_text(f"""
name: att
task: {{name: arrays, path: seq.npz}}
plugins: [{ATTENTION}]
layers:
  min: 2
  max: 2
  types:
    gru: {{units: 8}}
    attention: {{units: 8, heads: 2, pooling: attention}}
train: {{epochs: 1, batch_size: 32}}
""")
    outcome = run_search(tmp_path / "att.yaml", strategy="random", trials=1, name="att",
                         runs_dir=tmp_path / "runs",
                         execution=ExecutionSettings(executor="in_process", keep_best=1))
    store = TrialStore(outcome.run_path / "trials.sqlite", readonly=True)
    trial = store.best()
    store.close()
    assert trial is not None and "Attention" in trial.summary
    result = export_model(outcome.run_path, None, tmp_path / "att.keras")
    assert not result.retrained
    from automl.registry import TASKS
    from automl.training.metrics import classification_metrics

    data = TASKS.get("arrays").load({"path": "seq.npz"}, base_dir=tmp_path, seed=0)
    [predictions] = predict_in_fresh_process([result.path], data.x_val, tmp_path)
    assert classification_metrics(data.y_val, predictions) == pytest.approx(trial.metrics,
                                                                           abs=1e-6)


def test_show_and_report_read_files_only(searched: dict, tmp_path: Path) -> None:
    """``show RUN TRIAL`` prints the stored Keras summary and ``report`` renders, neither
    importing TensorFlow, Keras or the run's plugins."""
    run: RunFolder = searched["run"]
    shown = automl_cli("show", str(run.path), "0", cwd=tmp_path, python_flags=("-X", "importtime"))
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "Total params" in shown.stdout and "Param #" in shown.stdout
    report = automl_cli("report", str(run.path), "-o", str(tmp_path / "r.html"), cwd=tmp_path,
                        python_flags=("-X", "importtime"))
    assert report.returncode == 0, report.stderr[-2000:]
    for done in (shown, report):
        imported = {line.split("|")[-1].strip() for line in done.stderr.splitlines()
                    if line.startswith("import time:")}
        assert not imported & {"tensorflow", "keras", "ray"}, imported & {"tensorflow", "keras"}


def test_show_of_a_run_without_stored_summaries_says_so(searched: dict, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture) -> None:
    import sqlite3

    from automl.cli.main import main

    old = tmp_path / "old"
    shutil.copytree(searched["run"].path, old)
    db = sqlite3.connect(old / "trials.sqlite")
    db.execute("DROP TABLE keras_summaries")  # as a run made before summaries were stored
    db.commit()
    db.close()
    assert main(["show", str(old), "0"]) == 0
    out = capsys.readouterr().out
    assert "no Keras summary stored" in out and "Total params" not in out


# ------------------------------------------------------------------------- report in Chromium
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("Debian's chromium is not installed and could not be installed here "
                    "(.ci/run installs it: apt-get install -y chromium)")
    return found


def headless(browser: str, page: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--enable-logging=stderr", "--v=1", *args, page.as_uri()],
        text=True, capture_output=True, timeout=120, cwd=page.parent)


CONSOLE_ERROR = re.compile(r":CONSOLE[:(]\d+\)?\] .*|Uncaught|Failed to load resource")
"""A console message of the page (``INFO:CONSOLE:1] "boom", source: ...``) or a load error;
the report has no scripts, so any message is a defect."""


def test_report_opens_in_headless_chromium_with_every_plot(searched: dict,
                                                           tmp_path: Path) -> None:
    from automl.report import write_report

    browser = chromium()
    # the console check catches what it is meant to catch
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>console.error('boom')</script></body></html>")
    caught = CONSOLE_ERROR.search(headless(browser, broken, "--dump-dom").stderr)
    assert caught and "boom" in caught.group(0)

    run: RunFolder = searched["run"]
    page = write_report([run], tmp_path / "report.html")
    fetches = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//"""
                         r"""|url\(\s*["']?(?:https?:)?//|<link""")
    assert not fetches.findall(page.read_text())  # self-contained: nothing to fetch
    dom = headless(browser, page, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert not CONSOLE_ERROR.search(dom.stderr), CONSOLE_ERROR.findall(dom.stderr)
    figures = dict(re.findall(r'<figure class="plot" id="([\w-]+)">(.*?)</figure>', dom.stdout,
                              flags=re.S))
    assert set(figures) == {"best-vs-trials", "best-vs-time", "rewards-by-status",
                            "reward-vs-params", "controller"}
    for ident, svg in figures.items():
        assert svg.lstrip().startswith("<svg"), ident
        assert len(re.findall(r"<path ", svg)) >= 5, ident  # axes, ticks and the data
    for key in ("mean_reward", "baseline", "entropy"):
        assert key.replace("_", " ") in figures["controller"]
    top = dom.stdout.split('id="top"')[1].split("<tbody>")[1].split("</tbody>")[0]
    rows = re.findall(r"<tr>(.*?)</tr>", top, flags=re.S)
    assert 1 <= len(rows) <= 10 and all('class="arch"' in r for r in rows)
    assert "test accuracy" in dom.stdout and "keep_best: 2" in dom.stdout
    shot = tmp_path / "report.png"
    done = headless(browser, page, f"--screenshot={shot}", "--window-size=1200,2600")
    assert done.returncode == 0 and shot.stat().st_size > 20_000, done.stderr[-2000:]
    if NOTES_SCREENSHOT.parent.is_dir():
        shutil.copyfile(shot, NOTES_SCREENSHOT)

    # two runs: one comparison page, their curves overlaid with a legend naming both
    twin = RunFolder(run.path.parent / "r-copy")
    if not twin.path.exists():
        shutil.copytree(run.path, twin.path)
    html = write_report([run, twin], tmp_path / "both.html").read_text()
    assert "automl comparison: r, r-copy" in html
    best_curves = html.split('id="best-vs-trials"')[1].split("</figure>")[0]
    legend = re.findall(r"<text[^>]*>([^<]*)</text>", best_curves)
    assert legend[-2:] == ["r", "r-copy"]  # one curve per run, named in the legend
    assert "<th>run</th>" in html


def test_export_refit_trains_on_training_and_validation_for_the_chosen_epochs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``export --refit``: the best child of an early-stopped search trained again on both
    splits for its best epoch; the sidecar's test metrics are the exported model's own. The
    search's children are cross-validated (``train.folds: 2``): the plain export is the mean of
    the two fold networks and predicts the stored test metrics; the refit is one network."""
    from automl.engine import run_search
    from automl.registry import TASKS

    (tmp_path / "es.yaml").write_text(TINY_DIGITS.replace("  epochs: 2", """  epochs: 8
  patience: 2
  monitor: accuracy
  folds: 2"""))
    outcome = run_search(tmp_path / "es.yaml", strategy="random", trials=2, name="es",
                         runs_dir=tmp_path / "runs", seed=3,
                         execution=ExecutionSettings(executor="in_process", keep_best=1))
    with TrialStore(outcome.run_path / "trials.sqlite", readonly=True) as store:
        best = store.best()
        assert best is not None
        epochs, summary = store.epochs(best.trial_id), store.keras_summary(best.trial_id)
    assert 1 <= best.metrics["best_epoch"] <= 8
    assert {e["fold"] for e in epochs} == {1.0, 2.0} and epochs[-1]["epoch"] == len(epochs)
    assert summary and "fold_" not in summary  # one fold's network, as a user reads it
    from automl.cli.main import main

    assert main(["show", str(outcome.run_path), str(best.trial_id)]) == 0
    shown = capsys.readouterr().out
    assert "out of fold" in shown and "Fold 2 epochs: 1:" in shown
    done = automl_cli("export", str(outcome.run_path), "--refit", "-o",
                      str(tmp_path / "refit.keras"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    plain = automl_cli("export", str(outcome.run_path), "-o", str(tmp_path / "cv.keras"),
                       cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr[-2000:]
    meta = json.loads((tmp_path / "refit.json").read_text())
    data = TASKS.get("digits").load({}, base_dir=ROOT, seed=3)
    assert meta["refit"] and meta["retrained"] and meta["trial"] == best.trial_id
    assert meta["refit_epochs"] == int(best.metrics["best_epoch"])
    assert meta["refit_examples"] == len(data.x_train) + len(data.x_val)
    assert meta["sizes"]["train"] == len(data.x_train)  # the search's own split, as stored
    # cross-validated: the sidecar says so, and how many networks the file holds
    assert (meta["folds"], meta["networks"]) == (2, 1)
    assert json.loads((tmp_path / "cv.json").read_text())["networks"] == 2
    assert f"for {meta['refit_epochs']} epoch" in done.stdout and "test accuracy" in done.stdout
    refit, mean = predict_in_fresh_process([tmp_path / "refit.keras", tmp_path / "cv.keras"],
                                           data.x_test, tmp_path)
    from automl.training.metrics import classification_metrics

    assert classification_metrics(data.y_test, refit) == pytest.approx(
        meta["test_metrics"], abs=1e-6)  # the exported model's, as in an ensemble's sidecar
    assert meta["metrics"] is None and meta["search_test_metrics"] == best.test_metrics
    assert classification_metrics(data.y_test, mean) == pytest.approx(best.test_metrics,
                                                                      abs=1e-6)
    # the fold networks trained on the validation examples: an average of such children
    # reports no validation score
    assert main(["export", str(outcome.run_path), "--ensemble", "2", "-o",
                 str(tmp_path / "both.keras")]) == 0
    both = json.loads((tmp_path / "both.json").read_text())
    assert both["metrics"] is None and both["test_metrics"]["accuracy"] > 0
    # refit members: each says for how many epochs and on how many examples it was refit
    assert main(["export", str(outcome.run_path), "--ensemble", "2", "--refit", "-o",
                 str(tmp_path / "both_refit.keras")]) == 0
    members = json.loads((tmp_path / "both_refit.json").read_text())["ensemble"]
    assert [m["refit_epochs"] for m in members] == [int(m["metrics"]["best_epoch"])
                                                    for m in members]
    assert {m["refit_examples"] for m in members} == {len(data.x_train) + len(data.x_val)}
