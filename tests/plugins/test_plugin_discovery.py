"""Plugin files named by a space or on the command line; broken plugins are listed and stop only
the searches that need them, with one line and exit code 2; a space or run folder someone sent
runs none of its code on validate, show and leaderboard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from automl.cli.main import main
from automl.registry import LAYERS
from automl.registry import discovery
from tests.plugins.conftest import ROOT
from tests.plugins.conftest import write

GOOD_LAYER = '''
from automl.builder import LayerType
from automl.registry import LAYERS
from automl.space import Param

__version__ = "2.1"


def build(x, params, context):
    import keras

    return keras.layers.Dense(params["units"])(x)


LAYERS.register("good_layer", LayerType("good_layer", build, {
    "units": Param(int, min=1, default=8)}, accepts="vector"))
'''

BROKEN = {
    # an import error: the names are read from the source without running it
    "broken_import.py": '''
        import not_a_module_anyone_has
        from automl.registry import LAYERS

        LAYERS.register("needs_missing", not_a_module_anyone_has.LAYER)
    ''',
    # a duplicate name: twin_a.py loads first (sorted), twin_b.py is broken
    "twin_a.py": '''
        from automl.registry import REWARDS

        REWARDS.register("twin", lambda metrics, facts: 1.0)
    ''',
    "twin_b.py": '''
        from automl.registry import REWARDS

        REWARDS.register("twin_b_other", lambda metrics, facts: 2.0)
        REWARDS.register("twin", lambda metrics, facts: 2.0)
    ''',
    # a reward function with the wrong signature
    "bad_signature.py": '''
        from automl.registry import REWARDS

        @REWARDS.register("bad_sig")
        def bad_sig(metrics):
            return metrics["accuracy"]
    ''',
    # a task without load, a class that is no strategy
    "no_load.py": '''
        from automl.registry import TASKS
        from automl.tasks import Task

        @TASKS.register("no_load")
        class NoLoad(Task):
            pass
    ''',
    "not_strategy.py": '''
        from automl.registry import STRATEGIES

        STRATEGIES.register("not_strategy", dict)
    ''',
    "_private_helper.py": "raise RuntimeError('never imported: private names are skipped')\n",
}

SPACE = """
plugins: [plugins]
task: {task}
reward: {reward}
layers:
  types:
    {layer}: {{units: [4, 8]}}
train: {{epochs: 1}}
"""

# space file -> (space fields, words the one-line error must contain)
NEEDS_BROKEN = {
    "import.yaml": (dict(layer="needs_missing"), ["broken_import.py", "layer 'needs_missing'",
                                                  "ModuleNotFoundError", "line 1"]),
    "twin.yaml": (dict(reward="twin"), ["twin_b.py", "twin_a.py", "registered twice"]),
    "twin_other.yaml": (dict(reward="twin_b_other"), ["twin_b.py", "registered twice"]),
    "signature.yaml": (dict(reward="bad_sig"), ["bad_signature.py",
                                                "fn must accept (metrics, facts"]),
    "task.yaml": (dict(task="no_load"), ["no_load.py", "does not implement load"]),
    "explicit.yaml": (dict(), ["broken_import.py", "ModuleNotFoundError"]),
}


def space_text(task: str = "digits", reward: str = "accuracy", layer: str = "good_layer") -> str:
    return SPACE.format(task=task, reward=reward, layer=layer)


@pytest.fixture()
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_plugins: None) -> Path:
    write(tmp_path / "plugins" / "good_layer.py", GOOD_LAYER)
    for name, text in BROKEN.items():
        write(tmp_path / "plugins" / name, text)
    for name, (fields, _) in NEEDS_BROKEN.items():
        (tmp_path / name).write_text(space_text(**fields))
    explicit = tmp_path / "explicit.yaml"
    explicit.write_text(explicit.read_text().replace("plugins: [plugins]",
                                                     "plugins: [plugins/broken_import.py]"))
    (tmp_path / "good.yaml").write_text(space_text())
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Exit code, stdout and stderr without the ``note:`` lines that name the plugin code run."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, "".join(line for line in err.splitlines(keepends=True)
                              if not line.startswith("note: "))


@pytest.mark.parametrize("space", list(NEEDS_BROKEN))
def test_search_that_needs_a_broken_plugin_stops_with_one_line(
        project: Path, capsys: pytest.CaptureFixture[str], space: str) -> None:
    code, _, err = run_cli(capsys, "search", space, "--runs-dir", "runs", "--workers", "1")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("error: ")
    for word in NEEDS_BROKEN[space][1]:
        assert word in lines[0], lines[0]
    assert not (project / "runs").exists()


def test_strategy_from_a_broken_plugin_stops_the_search(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "search", "good.yaml", "--strategy", "not_strategy",
                           "--runs-dir", "runs")
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "not_strategy.py" in err and "must be a subclass of automl.strategies.Strategy" in err
    assert not (project / "runs").exists()


def test_broken_plugins_do_not_break_the_others(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "spaces", "validate", "good.yaml", "--plugins", "plugins")
    assert code == 0 and "good.yaml: ok (2 architectures" in out, err
    entry = LAYERS.entry("good_layer")
    assert entry.source == str(project / "plugins" / "good_layer.py") and entry.version == "2.1"
    # nothing of a broken plugin stays registered, not even what it registered before failing
    from automl.registry import REWARDS

    assert "twin_b_other" not in REWARDS
    assert REWARDS._entries["twin"].source.endswith("twin_a.py")


def test_list_marks_broken_plugins_with_the_reason(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "plugins", "list", "--format", "json")
    assert code == 0 and "good_layer" not in out  # a folder nobody named is never imported
    code, out, _ = run_cli(capsys, "plugins", "list", "--format", "json", "--plugins", "plugins")
    assert code == 0
    rows = {(r["kind"], r["name"]): r for r in json.loads(out)}
    assert rows[("layer", "good_layer")]["status"] == "ok"
    assert rows[("layer", "good_layer")]["origin"] == "path"
    assert rows[("layer", "dense")]["source"] == "builtin"
    expected = {
        ("layer", "needs_missing"): "ModuleNotFoundError: No module named "
                                    "'not_a_module_anyone_has' (broken_import.py, line 1)",
        ("reward", "twin"): "registered twice",
        ("reward", "twin_b_other"): "registered twice",
        ("reward", "bad_sig"): "fn must accept (metrics, facts",
        ("task", "no_load"): "does not implement load",
        ("strategy", "not_strategy"): "must be a subclass",
    }
    for key, reason in expected.items():
        assert rows[key]["status"] == "broken", rows[key]
        assert reason in rows[key]["reason"], rows[key]
    assert not any("_private_helper" in r["source"] for r in rows.values())
    code, out, _ = run_cli(capsys, "plugins", "list", "--plugins", "plugins")
    assert code == 0 and "good_layer" in out and "6 broken: a search that needs one stops" in out


MARKER_PLUGIN = '''
from pathlib import Path

from automl.builder import LayerType
from automl.registry import LAYERS
from automl.space import Param

Path(__file__).with_name("IMPORTED").write_text("this plugin ran")


def build(x, params, context):
    import keras

    return keras.layers.Dense(params["units"])(x)


LAYERS.register("marked", LayerType("marked", build, {
    "units": Param(int, min=1, default=4)}, accepts="vector"))
'''


def fresh_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The command in a new process, so nothing imported by this test process counts."""
    return subprocess.run([sys.executable, "-m", "automl", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_code_runs_only_when_named_for_a_search(tmp_path: Path, isolated_plugins: None,
                                                caplog: pytest.LogCaptureFixture) -> None:
    from automl import run_search
    from automl.execution import ExecutionSettings

    write(tmp_path / "sent" / "marker_plugin.py", MARKER_PLUGIN)
    marker = tmp_path / "sent" / "IMPORTED"
    space = tmp_path / "sent" / "marked.yaml"
    space.write_text("plugins: [marker_plugin.py]\ntask: digits\nlayers:\n  types:\n"
                     "    marked: {units: [4]}\ntrain: {epochs: 1, batch_size: 256}\n")
    # a space someone sent: validating it runs none of its code, and says why a name is unknown
    result = fresh_cli(tmp_path, "spaces", "validate", "sent/marked.yaml")
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "does not run the space's plugins: marker_plugin.py" in result.stderr
    assert not marker.exists()
    # named on the command line: it runs, with a notice
    result = fresh_cli(tmp_path, "spaces", "validate", "sent/marked.yaml",
                       "--plugins", "sent/marker_plugin.py")
    assert result.returncode == 0, result.stderr
    assert "note: running plugin code named by --plugins: sent/marker_plugin.py" in result.stderr
    assert marker.exists()
    marker.unlink()
    # a search honours the space's plugins:, with a notice; the run folder records them
    with caplog.at_level("WARNING", logger="automl.plugins"):
        outcome = run_search(space, trials=1, runs_dir=tmp_path / "runs", name="r",
                             execution=ExecutionSettings(executor="in_process"))
    assert outcome.best_trial is not None and marker.exists()
    assert f"named by {space} (plugins:)" in caplog.text
    marker.unlink()
    # looking at that run folder (as its recipient would) runs none of its code
    for args in (("leaderboard", "r"), ("show", "r"), ("show", "r", "0")):
        result = fresh_cli(tmp_path, *args, "--runs-dir", "runs")
        assert result.returncode == 0, (args, result.stderr)
        assert not marker.exists(), args
    # show TRIAL prints the Keras summary the worker stored: nothing is rebuilt to show it
    assert "Trainable params" in result.stdout
    assert fresh_cli(tmp_path, "plugins", "register", "sent/marker_plugin.py").returncode == 2


def test_an_empty_plugin_path_is_refused_and_runs_nothing(tmp_path: Path, monkeypatch,
                                                          isolated_plugins: None) -> None:
    """``Path("")`` is the current folder: an empty path used to run every ``.py`` in it."""
    from automl.errors import PluginError
    from automl.errors import SpaceError
    from automl.space import load_space

    write(tmp_path / "marker_plugin.py", MARKER_PLUGIN)
    marker = tmp_path / "IMPORTED"
    space = tmp_path / "space.yaml"
    space.write_text('plugins: ["  "]\ntask: digits\nlayers:\n  types:\n'
                     '    dense: {units: [4]}\n')
    for args in (("plugins", "list", "--plugins", ""), ("spaces", "validate", "space.yaml"),
                 ("search", "space.yaml", "--trials", "1", "--plugins", "")):
        result = fresh_cli(tmp_path, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "an empty path names no plugin" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    with pytest.raises(SpaceError, match=r"plugins\[0\]: an empty path names no plugin"):
        load_space(space, load_plugins=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PluginError, match="an empty path names no plugin"):
        discovery.load_plugin_paths([""])
    assert not marker.exists() and not (tmp_path / "runs").exists()


def test_discovery_is_once_per_process_and_imports_no_tensorflow(tmp_path: Path) -> None:
    write(tmp_path / "plugins" / "good_layer.py", GOOD_LAYER)
    code = (
        "import sys, time\n"
        "from automl.registry.discovery import discover\n"
        "t = time.perf_counter(); first = discover(['plugins'])\n"
        "first_s = time.perf_counter() - t\n"
        "t = time.perf_counter(); again = discover(['plugins'])\n"
        "again_s = time.perf_counter() - t\n"
        "assert [r.source for r in first] == [r.source for r in again]\n"
        "assert any(r.name == 'good_layer' and r.ok for r in first), first\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules\n"
        "print(f'{first_s:.3f} {again_s:.5f}')\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, text=True,
                            capture_output=True, timeout=120,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    first_s, again_s = map(float, result.stdout.split())
    assert first_s < 2.0 and again_s < 0.05, result.stdout


def test_ast_names_of_a_plugin_that_cannot_import(tmp_path: Path) -> None:
    path = write(tmp_path / "p.py", '''
        import automl.registry as r
        from automl.registry import LAYERS
        LAYERS.register("a", None)
        r.TASKS.register("b", None)
        custom_registry.register("c", None)
        LAYERS.register(name_variable, None)
    ''')
    assert discovery._registered_names([path]) == [("layer", "a"), ("task", "b"), ("?", "c")]


def test_bench_worker_processes_load_a_plugin_that_imports_tensorflow(
        tmp_path: Path, isolated_plugins: None, capsys: pytest.CaptureFixture[str]) -> None:
    """A plugin strategy that imports TensorFlow at the top (as a subclass of a learner's module
    does) makes `automl bench` start its processes fresh rather than fork them: they must load
    the plugin files of the parent, or they do not know the strategy."""
    plugin = write(tmp_path / "tf_strategy.py", """
        import tensorflow  # noqa: F401

        from automl.registry import STRATEGIES
        from automl.strategies.random import RandomSearch


        @STRATEGIES.register("random_beside_tensorflow")
        class RandomBesideTensorFlow(RandomSearch):
            pass
        """)
    code = main(["bench", str(ROOT / "search_spaces/tabular_dense.yaml"), "--table",
                 str(ROOT / "benchmarks/tables/tabular_dense.csv"), "--strategies",
                 "random_beside_tensorflow,random", "--seeds", "2", "--budget", "10",
                 "--workers", "2", "--plugins", str(plugin)])
    captured = capsys.readouterr()
    assert "tensorflow" in sys.modules  # so the runs were in spawned processes
    assert code == 0, captured.err
    assert "random_beside_tensorflow" in captured.out and "with 2 processes" in captured.out


def test_the_unloaded_plugins_hint_only_where_a_plugin_could_help(
        tmp_path: Path, isolated_plugins: None) -> None:
    """An error a plugin cannot fix (a bad epochs value) keeps its own line; a plugin folder
    loaded with --plugins is not named as unloaded."""
    from automl.errors import SpaceError
    from automl.registry.discovery import load_plugin_paths
    from automl.space import load_space

    write(tmp_path / "folder" / "marker_plugin.py", MARKER_PLUGIN)
    bad = tmp_path / "bad.yaml"
    bad.write_text("plugins: [folder]\ntask: digits\nlayers: {types: {dense: {units: [4]}}}\n"
                   "train: {epochs: -1}\n")
    with pytest.raises(SpaceError) as info:
        load_space(bad)
    assert "does not run" not in info.value.one_line(), info.value.one_line()
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text("plugins: [folder]\ntask: digits\nlayers: {types: {nope: {}}}\n")
    with pytest.raises(SpaceError, match="does not run the space's plugins: folder"):
        load_space(unknown)
    load_plugin_paths([str(tmp_path / "folder")])
    with pytest.raises(SpaceError) as info:  # loaded, and still unknown: no hint
        load_space(unknown)
    assert "unknown layer 'nope'" in info.value.one_line()
    assert "does not run" not in info.value.one_line()


def test_plugins_list_names_the_code_it_ran_and_refuses_a_missing_path(
        project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "list", "--plugins", "plugins/good_layer.py"]) == 0
    err = capsys.readouterr().err
    assert "note: running plugin code named by --plugins: plugins/good_layer.py" in err
    assert main(["plugins", "list", "--plugins", "plugins/good_layr.py"]) == 2
    assert capsys.readouterr().err.strip() == (
        "error: --plugins: 'plugins/good_layr.py': plugin file or folder not found")


def test_broken_entry_points_are_listed_by_their_names(
        tmp_path: Path, isolated_plugins: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installed package with two broken entry points: each row names its entry point
    (not '-'), and a registration hook that raises is not called an import failure."""
    from automl.registry.discovery import plugin_rows

    site = tmp_path / "site"
    write(site / "ep_hook_mod.py", "def register():\n    raise RuntimeError('hook broke')\n")
    write(site / "ep_broken_mod.py", "import not_a_module_xyz_anywhere\n")
    write(site / "demo_ep-0.1.dist-info" / "METADATA",
          "Metadata-Version: 2.1\nName: demo-ep\nVersion: 0.1\n")
    write(site / "demo_ep-0.1.dist-info" / "entry_points.txt",
          "[automl.plugins]\nhooked = ep_hook_mod:register\nbroken = ep_broken_mod\n")
    monkeypatch.syspath_prepend(str(site))
    discovery.discover(refresh=True)
    rows = {r["name"]: r for r in plugin_rows() if r["source"] == "demo-ep"}
    assert set(rows) == {"hooked", "broken"}, rows
    assert rows["hooked"]["status"] == "broken"
    assert rows["hooked"]["reason"].startswith("register() failed: RuntimeError: hook broke")
    assert rows["broken"]["reason"].startswith("failed to import: ModuleNotFoundError")
