"""Run folders that arrive damaged or edited (a copy without its store, a store cut short, rows
this code did not write, a truncated run.json or kept model): every reader says which file and
what, in one line, writes nothing, and a resume refuses before it changes anything or, for a
damaged checkpoint, replays the store. The run is made in process (no Ray), once per module."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from automl.execution import ExecutionSettings
from automl.store import ModelFiles
from automl.store import TrialStore
from tests.conftest import TINY_DIGITS


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished 4-trial random search that kept its best 2 models."""
    from automl.engine import run_search

    root = tmp_path_factory.mktemp("made")
    space = root / "tiny.yaml"
    space.write_text(TINY_DIGITS.replace("epochs: 2", "epochs: 1"))
    outcome = run_search(space, strategy="random", trials=4, seed=1, name="r",
                         runs_dir=root / "runs",
                         execution=ExecutionSettings(executor="in_process", keep_best=2))
    return outcome.run_path


def _sql(run: Path, statement: str, *args: object) -> None:
    import sqlite3

    db = sqlite3.connect(run / "trials.sqlite")
    db.execute(statement, args)
    db.commit()
    db.close()


def _truncate(path: Path, size: int) -> None:
    path.write_bytes(path.read_bytes()[:size])


def _html_metric(run: Path) -> None:
    _sql(run, "UPDATE trials SET metrics=?",  # every row: whichever a command reads
         json.dumps({"accuracy": "<img src=x onerror=alert(1)>"}))


DAMAGES = {  # what a run folder someone sent, or a crash, can hold -> what the line says
    "store-truncated": (lambda run: _truncate(run / "trials.sqlite", 5000),
                        "trials.sqlite: the run's store cannot be read"),
    "store-missing": (lambda run: (run / "trials.sqlite").unlink(),
                      "trials.sqlite: the run's store is missing"),
    "store-not-sqlite": (lambda run: (run / "trials.sqlite").write_text("hello"),
                         "trials.sqlite: the run's store cannot be read"),
    "unknown-status": (lambda run: _sql(run, "UPDATE trials SET status='done' WHERE trial_id=0"),
                       "trial 0: status 'done' is not one of"),
    "metric-is-html": (_html_metric, ": metrics.accuracy holds '<img"),
    "metrics-not-an-object": (lambda run: _sql(run, "UPDATE trials SET metrics='[1, 2]'"),
                              "metrics holds [1, 2]; expected a JSON object"),
    "reward-is-text": (lambda run: _sql(run, "UPDATE trials SET reward='high'"),
                       "reward holds 'high'; expected a number or nothing"),
    "table-missing": (lambda run: _sql(run, "DROP TABLE epochs"),
                      "the run's store lacks its table 'epochs'"),
    "run-json-truncated": (lambda run: _truncate(run / "run.json", 100),
                           "run.json: cannot be read as JSON"),
    "run-json-a-list": (lambda run: (run / "run.json").write_text("[1, 2]"),
                        "run.json: holds [1, 2]; expected the JSON object a run writes"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_a_damaged_run_is_one_line_and_writes_nothing(made: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture,
                                                      damage: str) -> None:
    from automl.cli.main import main

    run = tmp_path / "runs" / "d"
    shutil.copytree(made, run)
    edit, says = DAMAGES[damage]
    edit(run)
    out = tmp_path / "out"
    out.mkdir()
    commands = [["show", str(run)], ["report", str(run), "-o", str(out / "r.html")]]
    if not damage.startswith("run-json"):  # these read the store alone
        commands += [["leaderboard", str(run)], ["show", str(run), "0"]]
    if damage != "unknown-status":  # the best trial, which export reads, is whole
        commands.append(["export", str(run), "-o", str(out / "m.keras")])
    for command in commands:
        assert main(command) == 2, command
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error:") and says in err[0], (command, err)
        assert not list(out.iterdir()), command


def test_a_damaged_kept_model_is_named_not_copied(made: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    from automl.cli.main import main

    run = tmp_path / "d"
    shutil.copytree(made, run)
    best = TrialStore(run / "trials.sqlite", readonly=True)
    try:
        kept = ModelFiles(run).path(best.best().trial_id)
    finally:
        best.close()
    _truncate(kept, 1000)
    for command in (["export", str(run), "-o", str(tmp_path / "out" / "m.keras")],
                    ["export", str(run), "--ensemble", "2", "-o",
                     str(tmp_path / "out" / "e.keras")]):
        assert main(command) == 2, command
        # --ensemble loads the run's plugins first, with its "note:" line
        err = [line for line in capsys.readouterr().err.splitlines()
               if not line.startswith("note: running plugin code")]
        assert len(err) == 1 and f"{kept}: the kept model is damaged" in err[0], err
        assert "--retrain" in err[0]
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_a_leaderboard_of_every_run_names_and_skips_a_damaged_one(
        made: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from automl.cli.main import main

    runs = tmp_path / "runs"
    shutil.copytree(made, runs / "good")
    shutil.copytree(made, runs / "killed")
    _sql(runs / "killed", "DROP TABLE strategy_updates")
    assert main(["leaderboard", "--runs-dir", str(runs)]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == (f"note: skipping {runs / 'killed' / 'trials.sqlite'}: the "
                                    "run's store lacks its table 'strategy_updates' (a search "
                                    "killed while starting); resuming the run repairs it")
    assert "Leaderboard (good)" in captured.out


def test_a_run_folder_renamed_by_hand_is_read_by_its_name_never_outside_the_runs_folder(
        made: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Every run lists a folder whose name ``--name`` would refuse ("my run"): naming it
    reads it too, while a name still cannot reach outside the runs folder."""
    from automl.cli.main import main
    from automl.errors import RunError
    from automl.store import RunFolder

    runs = tmp_path / "runs"
    shutil.copytree(made, runs / "my run")
    shutil.copytree(made, tmp_path / "outside")
    assert main(["leaderboard", "--runs-dir", str(runs)]) == 0
    assert main(["show", "my run", "--runs-dir", str(runs)]) == 0
    assert "my run" in capsys.readouterr().out
    # its report into a folder that does not exist yet: made, as export's and bench's are
    assert main(["report", "my run", "--runs-dir", str(runs), "-o",
                 str(tmp_path / "new" / "r.html")]) == 0
    assert (tmp_path / "new" / "r.html").read_text().startswith("<!DOCTYPE html>")
    for name in ("../outside", "..", ".", ""):
        with pytest.raises(RunError, match="no run found"):
            RunFolder.open(name, runs)


def test_resume_refuses_a_damaged_store_unchanged_and_replays_a_damaged_checkpoint(
        made: Path, tmp_path: Path) -> None:
    from automl.engine import resume_search
    from automl.errors import RunError
    from automl.errors import UserInputError

    run = tmp_path / "runs" / "d"
    shutil.copytree(made, run)
    (run / ".lock").unlink(missing_ok=True)
    store, info = (run / "trials.sqlite").read_bytes(), (run / "run.json").read_bytes()
    in_process = ExecutionSettings(executor="in_process", keep_best=2)
    with pytest.raises(UserInputError, match="--trials: 3 is fewer than the 4 trials"):
        resume_search(run, trials=3, execution=in_process)  # would say 3 of a 4-trial run
    assert (run / "run.json").read_bytes() == info
    _truncate(run / "trials.sqlite", 5000)
    damaged = (run / "trials.sqlite").read_bytes()
    with pytest.raises(RunError, match="trials.sqlite: the run's store cannot be read"):
        resume_search(run, trials=5, execution=in_process)
    assert (run / "run.json").read_bytes() == info  # a refused resume changes nothing
    assert (run / "trials.sqlite").read_bytes() == damaged
    # the store is the journal: a damaged checkpoint costs a replay of it, nothing else
    (run / "trials.sqlite").write_bytes(store)
    _truncate(run / "strategy.npz", 300)
    resume_search(run, trials=5, execution=in_process)
    log = (run / "logs" / "search.log").read_text()
    assert "the checkpoint cannot be read (BadZipFile); rebuilding the strategy" in log
    resumed = TrialStore(run / "trials.sqlite", readonly=True)
    try:
        assert sum(resumed.counts().values()) == 5
    finally:
        resumed.close()


def test_an_ensemble_of_more_children_than_completed_says_how_many_it_averages(
        made: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Two of the four children complete (both kept): ``--ensemble 5`` averages those two and
    says so, instead of exporting a smaller ensemble without a word."""
    from automl.cli.main import main

    run = tmp_path / "runs" / "r"
    shutil.copytree(made, run)
    kept = ModelFiles(run).kept()
    _sql(run, "UPDATE trials SET status='failed', reward=NULL, error='boom' WHERE trial_id "
              f"NOT IN ({kept[0]}, {kept[1]})")
    assert main(["export", str(run), "--ensemble", "5", "-o", str(tmp_path / "e.keras")]) == 0
    captured = capsys.readouterr()
    assert ("note: --ensemble 5: the run has 2 complete children; the ensemble averages those"
            in captured.err)
    assert json.loads((tmp_path / "e.json").read_text())["trained_again"] == []


def test_search_resume_keeps_the_stored_settings_and_keep_best_0_keeps_no_model(
        made: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """``search --resume`` without execution flags continues with what the run stored (it
    used to apply the search defaults: --keep-best 3, --scheduler none over a stored asha);
    an explicit flag that contradicts the run is refused; ``--keep-best 0`` on a resume
    removes the models kept before."""
    from automl.cli.main import main

    runs = tmp_path / "runs"
    shutil.copytree(made, runs / "r")
    run = runs / "r"
    (run / ".lock").unlink(missing_ok=True)
    info = json.loads((run / "run.json").read_text())
    space = str(Path(info["base_dir"]) / Path(info["space_source"]).name)
    assert main(["search", space, "--name", "r", "--resume", "--runs-dir", str(runs),
                 "--trials", "4"]) == 0
    assert json.loads((run / "run.json").read_text())["execution"]["keep_best"] == 2
    assert len(ModelFiles(run).kept()) == 2
    info["execution"]["scheduler"] = "asha"
    (run / "run.json").write_text(json.dumps(info))
    capsys.readouterr()
    assert main(["search", space, "--name", "r", "--resume", "--runs-dir", str(runs),
                 "--scheduler", "none"]) == 2
    assert "--scheduler: run 'r' was made with --scheduler asha, not none" in \
        capsys.readouterr().err
    info["execution"]["scheduler"] = "none"
    (run / "run.json").write_text(json.dumps(info))
    assert main(["resume", str(run), "--keep-best", "0"]) == 0
    assert ModelFiles(run).kept() == []
