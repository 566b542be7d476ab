"""One-shot mode end to end through the CLI on the session's Ray instance: killed after its
first epoch, resumed, it ends with the ranking of an uninterrupted phase; the retrained top K
are ordinary trials with their one-shot score on the leaderboard; bad one-shot input is one
line with exit code 2 and nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from automl.engine.one_shot import Ranked
from automl.engine.one_shot_api import FixedList
from automl.engine.one_shot_api import kendall_tau
from automl.engine.one_shot_api import ranking_tau
from tests.cli.test_cli import automl
from tests.conftest import TINY_DIGITS

ONE_SHOT_SPACE = TINY_DIGITS.replace("learning_rate: [0.01, 0.003]", "learning_rate: 0.01")
FLAGS = ["--mode", "one-shot", "--one-shot-epochs", "3", "--controller-steps", "2",
         "--controller-batch", "3", "--candidates", "12", "--retrain-top", "2", "--seed", "4",
         "--uniform-fraction", "0.34"]  # epoch 1 trains uniform paths, epochs 2-3 the controller's


@pytest.mark.parametrize(("args", "key"), [
    (["tiny.yaml", "--mode", "one-shot"], "train.learning_rate"),  # a searched train.* value
    (["fixed.yaml", "--retrain-top", "3"], "--retrain-top"),       # a one-shot flag, no mode
    (["fixed.yaml", "--mode", "one-shot", "--trials", "3"], "--trials"),
    (["fixed.yaml", "--mode", "one-shot", "--strategy", "dqn"], "--strategy"),
    (["tpe.yaml", "--mode", "one-shot"], "strategy.name"),  # the YAML's strategy, not dropped
    # a scheduler would stop the retrained children, which are the run's honest answers
    (["fixed.yaml", "--mode", "one-shot", "--scheduler", "asha"], "--scheduler"),
    (["fixed.yaml", "--mode", "one-shot", "--retrain-top", "5", "--candidates", "2"],
     "--retrain-top"),
    (["fixed.yaml", "--mode", "one-shot", "--finetune-top", "3"], "--finetune-top"),
    (["fixed.yaml", "--mode", "one-shot", "--uniform-fraction", "0.4", "--one-shot-epochs",
      "1"], "--uniform-fraction"),
], ids=["searched-train", "flag-without-mode", "trials", "strategy", "yaml-strategy",
        "scheduler", "retrain-more-than-ranked", "finetune-top-alone", "no-uniform-epoch"])
def test_bad_one_shot_input_is_one_line(tmp_path: Path, args: list[str], key: str) -> None:
    (tmp_path / "tiny.yaml").write_text(TINY_DIGITS)
    (tmp_path / "fixed.yaml").write_text(ONE_SHOT_SPACE)
    (tmp_path / "tpe.yaml").write_text(ONE_SHOT_SPACE + "strategy: {name: tpe}\n")
    (tmp_path / "runs").mkdir()
    result = automl("search", *args, cwd=tmp_path, env={"RAY_AUTH_MODE": "disabled"})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and key in lines[0], lines
    assert list((tmp_path / "runs").iterdir()) == []


@pytest.mark.parametrize(("flags", "key"), [
    (["fixed.yaml", "--seed", "5"], "--seed"),
    (["fixed.yaml", "--mode", "one-shot"], "--mode"),
    (["fixed.yaml", "--strategy", "random"], "--strategy"),
    (["fixed.yaml", "--scheduler", "asha"], "--scheduler"),
    (["tiny.yaml"], "--resume"),  # another space file
], ids=["seed", "mode", "strategy", "scheduler", "space"])
def test_search_resume_refuses_settings_the_run_was_not_made_with(
        tmp_path: Path, flags: list[str], key: str) -> None:
    """``search --resume`` continues a run as it was made; a different setting given with it
    is one line, not silently dropped (the run folder stays as it was)."""
    from automl.store import RunFolder

    (tmp_path / "tiny.yaml").write_text(TINY_DIGITS)
    (tmp_path / "fixed.yaml").write_text(ONE_SHOT_SPACE)
    folder = RunFolder.create(tmp_path / "runs", "r", {"name": "r"}, {
        "name": "r", "space_source": str(tmp_path / "fixed.yaml"), "strategy": "reinforce",
        "seed": 4, "trials": 4, "execution": {"scheduler": "none"}})
    before = {p.name: p.read_bytes() for p in folder.path.iterdir() if p.is_file()}
    result = automl("search", *flags, "--name", "r", "--resume", cwd=tmp_path,
                    env={"RAY_AUTH_MODE": "disabled"})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {key}:"), lines
    assert "--resume continues it as it was made" in lines[0]
    assert {p.name: p.read_bytes() for p in folder.path.iterdir() if p.is_file()} == before


def test_search_resume_knows_the_space_file_by_its_folder_and_its_bytes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run records the file as typed (relative to where the search started), its folder
    and its digest: the same file named from elsewhere is the run's, a same-named file in
    another folder is not, and an edited file is refused, not silently replaced by the copy
    stored in the run."""
    import argparse
    import hashlib

    from automl.cli.search import _ONE_SHOT_FLAGS
    from automl.cli.search import _check_resume_matches
    from automl.errors import UserInputError
    from automl.store import RunFolder

    space = tmp_path / "fixed.yaml"
    space.write_text(ONE_SHOT_SPACE)
    folder = RunFolder.create(tmp_path / "runs", "r", {"name": "r"}, {
        "name": "r", "space_source": "fixed.yaml", "base_dir": str(tmp_path),
        "space_sha256": hashlib.sha256(space.read_bytes()).hexdigest(),
        "strategy": "reinforce", "seed": 4, "trials": 4, "execution": {"scheduler": "none"}})

    def check(path: str) -> None:
        args = argparse.Namespace(space=path, name="r", mode=None, strategy=None, seed=None,
                                  scheduler="none", **dict.fromkeys(_ONE_SHOT_FLAGS))
        _check_resume_matches(args, folder.path)

    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    check("../fixed.yaml")  # the run's own file, named from another folder
    (tmp_path / "sub" / "fixed.yaml").write_text(ONE_SHOT_SPACE)
    with pytest.raises(UserInputError, match="was made from another space file"):
        check("fixed.yaml")
    space.write_text(ONE_SHOT_SPACE.replace("trials", "description: edited\ntrials", 1))
    with pytest.raises(UserInputError, match=r"\.\./fixed.yaml changed since run 'r' was made"):
        check("../fixed.yaml")


@pytest.mark.parametrize("fraction", [-0.1, 1.5, "half", True])
def test_uniform_fraction_outside_zero_to_one_is_refused(fraction: object) -> None:
    from automl.engine.one_shot import OneShotSettings
    from automl.engine.one_shot import check_one_shot_settings
    from automl.errors import UserInputError

    with pytest.raises(UserInputError, match="in \\[0, 1\\]") as raised:
        check_one_shot_settings(OneShotSettings(uniform_fraction=fraction))  # type: ignore[arg-type]
    assert raised.value.key == "--uniform-fraction"


@pytest.mark.parametrize("steps", [-1, 2.5, True])
def test_finetune_steps_must_be_a_whole_number_at_least_zero(steps: object) -> None:
    from automl.engine.one_shot import OneShotSettings
    from automl.engine.one_shot import check_one_shot_settings
    from automl.errors import UserInputError

    with pytest.raises(UserInputError, match=">= 0") as raised:
        check_one_shot_settings(OneShotSettings(finetune_steps=steps))  # type: ignore[arg-type]
    assert raised.value.key == "--finetune-steps"


def test_final_scores_fine_tune_each_candidate_and_put_the_shared_weights_back(
        tmp_path: Path) -> None:
    """The final ranking's scores: each candidate trains its own path from the shared weights
    (its validation loss falls), the weights and optimiser slots are exactly as before
    afterwards, and a candidate's score does not depend on which others are scored."""
    space = tmp_path / "fixed.yaml"
    space.write_text(ONE_SHOT_SPACE)
    phase, ranked = _uninterrupted_phase(space)
    candidates = [r.architecture for r in ranked[:4]]
    variables = [*phase.net.variables, *phase.optimizer.variables]
    before = [v.numpy().copy() for v in variables]

    shared = phase.final_scores_with(candidates, steps=0)
    tuned = phase.final_scores_with(candidates, steps=30)
    assert all((v.numpy() == b).all() for v, b in zip(variables, before, strict=True))
    assert sum(t.loss for t in tuned) < sum(s.loss for s in shared) - 0.05, (tuned, shared)
    alone = phase.final_scores_with(candidates[::-1], steps=30)[::-1]
    assert [(t.score, t.loss) for t in alone] == [(t.score, t.loss) for t in tuned]


CONV_SPACE = """
name: conv
task: japanese_vowels
layers:
  min: 1
  max: 2
  types:
    conv1d: {filters: [8, 16], kernel_size: [3, 5], activation: [relu, tanh]}
  pooling: [avg, max]
train: {learning_rate: 0.01, batch_size: 32, epochs: 2}
"""


def test_controller_sampled_conv1d_paths_train_the_shared_weights(tmp_path: Path) -> None:
    """No uniform warm-up: every minibatch goes through a path the controller sampled, in a
    conv1d space (filters and kernel sizes sliced). Sub-networks spread over the space, trained
    only through the shared weights, lose validation loss, and the phase ranks its candidates
    by a validation reward well above chance (9 speakers)."""
    (tmp_path / "conv.yaml").write_text(CONV_SPACE)
    phase = _phase(tmp_path / "conv.yaml", seed=1, epochs=4, candidates=8, uniform_fraction=0.0)
    fixed = list(phase.space.enumerate())[::12]  # sub-networks of every depth, width, kernel

    def validation_losses() -> list[float]:
        return [phase.evaluate(a, phase.data.x_val, phase.data.y_val).loss for a in fixed]

    before = validation_losses()
    ranked = phase.run()
    after = validation_losses()
    assert np.mean(after) < np.mean(before) - 0.15, (before, after)  # measured: 2.22 -> 1.91
    assert sum(a < b for a, b in zip(after, before, strict=True)) >= len(fixed) - 1
    assert len(ranked) >= 2 and ranked[0].score > 2 / 9, ranked[0]
    assert all(layer["type"] == "conv1d" for r in ranked for layer in r.architecture.layers)


def _phase(space_file: Path, *, seed: int, **settings: object):  # type: ignore[no-untyped-def]
    """A one-shot phase in this process (no run folder, no checkpoints): small budgets, the
    mode's controller defaults."""
    from automl.engine.api import _load_data
    from automl.engine.api import _reward_of
    from automl.engine.one_shot import OneShotPhase
    from automl.engine.one_shot import OneShotSettings
    from automl.engine.one_shot_api import ONE_SHOT_STRATEGY_DEFAULTS
    from automl.space import load_space
    from automl.strategies import create_strategy

    space = load_space(space_file)
    settings = {"controller_steps": 2, "controller_batch": 3, "retrain_top": 2, **settings}
    controller = create_strategy("reinforce", space, seed=seed, workers=3,
                                 settings=ONE_SHOT_STRATEGY_DEFAULTS)
    reward, params = _reward_of(space)
    space, data, _ = _load_data(space, seed)
    return OneShotPhase(space, data, controller, reward, params, seed,
                        OneShotSettings(**settings))  # type: ignore[arg-type]


def _uninterrupted_phase(space_file: Path):  # type: ignore[no-untyped-def]
    """The one-shot phase of FLAGS in this process, without checkpoints or a kill."""
    phase = _phase(space_file, seed=4, epochs=3, candidates=12, uniform_fraction=0.34)
    return phase, phase.run()


@pytest.mark.slow
def test_one_shot_search_killed_resumed_and_retrained_on_ray(
        ray_instance, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    address = ray_instance.get_runtime_context().gcs_address
    space = tmp_path / "fixed.yaml"
    space.write_text(ONE_SHOT_SPACE)
    killed = automl("search", str(space), *FLAGS, "--name", "os", "--workers", "1",
                    "--address", address, cwd=tmp_path,
                    env={"AUTOML_FAILPOINTS": "one_shot_epoch:1"})
    assert killed.returncode == -9, killed.stderr[-2000:]
    run = tmp_path / "runs" / "os"
    assert json.loads((run / "run.json").read_text())["mode"] == "one-shot"
    assert (run / "one_shot.npz").is_file()
    shown = _cli(capsys, "show", str(run))  # how far it got, from its last checkpoint
    assert "the shared-weight phase has not finished (1 of 3 epochs;" in shown, shown
    assert "One-shot phase per epoch" in shown and "requested; " not in shown  # no counts yet

    resumed = automl("resume", "os", "--address", address, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Kendall tau" in resumed.stdout and "one-shot" in resumed.stdout
    assert "one-shot epoch 1:" not in resumed.stdout  # the resume continues after epoch 1
    assert "one-shot epoch 2:" in resumed.stdout and "one-shot epoch 3:" in resumed.stdout

    # the resumed phase ends where an uninterrupted one does: same weights, optimiser slots and
    # controller state (its last checkpoint), same ranking
    phase, ranked = _uninterrupted_phase(space)
    from automl.store.checkpoint import load_checkpoint

    stored, straight = load_checkpoint(run / "one_shot.npz"), phase.state()
    assert stored.arrays.keys() == straight.arrays.keys()
    for key, value in straight.arrays.items():
        np.testing.assert_array_equal(stored.arrays[key], value, err_msg=key)
    assert stored.meta["strategy"] == straight.meta["strategy"]
    summary = json.loads(_cli(capsys, "show", str(run), "--format", "json"))["one_shot"]
    assert summary["epochs"] == 3 and len(summary["history"]) == 3
    # one controller update per controller step (2 per epoch), repeated samples included:
    # the tiny space has 20 architectures, so most steps draw one of them twice
    assert summary["controller_updates"] == 6
    assert summary["scores"] == {r.architecture.id: r.score for r in ranked}
    assert summary["ranking"] == [r.architecture.id for r in ranked]
    assert [a["layers"] for a in summary["chosen"]] == [
        list(map(dict, r.architecture.layers)) for r in ranked[:2]]
    # sampled sub-networks train the shared weights: the training loss goes down
    losses = [e["loss"] for e in phase.history]
    assert losses[-1] < losses[0] - 0.2, losses
    assert [e["loss"] for e in summary["history"]] == pytest.approx(losses, rel=1e-6)

    # the top 2 were retrained as ordinary children, scored both ways
    board = json.loads(_cli(capsys, "leaderboard", str(run), "--format", "json"))
    assert len(board) == 2 and all(r["status"] == "complete" for r in board)
    assert {r["id"] for r in board} == {r.architecture.id for r in ranked[:2]}
    for row in board:
        assert row["one_shot"] == pytest.approx(summary["scores"][row["id"]])
        assert row["reward"] > 0.3 and row["test_metrics"]["accuracy"] > 0.3
    # tau of the one-shot ranking (score, ties by validation loss) against the real reward
    position = {arch_id: i for i, arch_id in enumerate(summary["ranking"])}
    expected = kendall_tau([(-position[r["id"]], r["reward"]) for r in board])
    assert summary["kendall_tau"] == expected and summary["retrained"] == 2
    assert "one-shot" in _cli(capsys, "leaderboard", str(run))
    trial = _cli(capsys, "show", str(run), str(board[0]["trial"]))
    assert "One-shot score" in trial and "rank" in trial
    from automl.report import render_report  # the report shows both scores and the tau

    page = render_report([run])
    tau = "- (" if expected is None else f"{expected:.3f})"  # undefined: it says why
    assert f"one-shot (Kendall tau {tau}" in page and "<th>one-shot score</th>" in page
    assert f"<td>{summary['scores'][board[0]['id']]:.4f}</td>" in page


def _cli(capsys: pytest.CaptureFixture, *args: str) -> str:
    """The command's stdout, run in this process (reading a run starts no TensorFlow)."""
    from automl.cli.main import main

    capsys.readouterr()
    assert main(list(args)) == 0
    return capsys.readouterr().out


def test_fixed_list_proposes_in_order_and_resumes(tmp_path: Path) -> None:
    from automl.space import load_space

    path = tmp_path / "fixed.yaml"
    path.write_text(ONE_SHOT_SPACE)
    space = load_space(path)
    chosen = list(space.enumerate())[:3]
    strategy = FixedList(space, chosen)
    assert strategy.ask(0) == chosen[0]
    again = FixedList(space, chosen)
    again.load_state_dict(strategy.state_dict())
    assert [again.ask(1), again.ask(2), again.ask(3)] == [chosen[1], chosen[2], None]
    assert kendall_tau([(0.1, 0.5), (0.2, 0.7), (0.3, 0.6)]) == pytest.approx(1 / 3)
    assert kendall_tau([(0.1, 0.5)]) is None
    # accuracy ties on a small validation set: the ranking breaks them by validation loss
    ranked = [Ranked(chosen[0], 0.9, 0.5), Ranked(chosen[1], 0.9, 0.3),
              Ranked(chosen[2], 0.8, 0.1)]
    assert ranking_tau(ranked, [0.7, 0.8, 0.6]) == pytest.approx(1.0)
    assert kendall_tau([(r.score, w) for r, w in zip(ranked, [0.7, 0.8, 0.6], strict=True)]
                       ) < 1.0
