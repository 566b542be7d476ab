"""benchmarks/seed_sets.py: the share of fresh seed sets that would pass a line, bootstrapped
from real `automl bench --json` reports of the shipped table."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from automl.cli.main import main
from tests.bench.conftest import benchmark_script

ROOT = Path(__file__).resolve().parents[2]


def _seed_sets():  # type: ignore[no-untyped-def]
    return benchmark_script("seed_sets")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two runs on the shipped table: seeds 0-3, then 4-7 and a renamed strategy's rows."""
    folder = tmp_path_factory.mktemp("seed_sets")
    paths = []
    for seeds in ("0-3", "4-7"):
        path = folder / f"{seeds}.json"
        assert main(["bench", str(ROOT / "search_spaces/tabular_dense.yaml"), "--table",
                     str(ROOT / "benchmarks/tables/tabular_dense.csv"), "--strategies",
                     "random,evolution,tpe", "--seeds", seeds, "--budget", "30", "--workers",
                     "1", "--json", str(path)]) == 0
        paths.append(path)
    return paths


def test_pass_shares_follow_the_line_and_the_scale(reports: list[Path],
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    seed_sets = _seed_sets()
    capsys.readouterr()
    # Evaluations scaled by 0.01 are below any other strategy's (at least 1 each): every set
    # passes; scaled by 100 they are above the budget: none does.
    assert seed_sets.main([*map(str, reports), "--strategy", "evolution", "--ahead-of",
                           "random,tpe", "--set-size", "4", "--draws", "50",
                           "--scales", "0.01,100"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "8 seeds (0-7), 1 tables" in out
    assert "measured seeds 0-3:" in out and "measured seeds 4-7:" in out
    assert "x0.01 100.0% pass; 0%" in out and "x100 0.0% pass; 100%" in out
    assert seed_sets.main([*map(str, reports), "--strategy", "tpe", "--within", "1.25", "--of",
                           "random", "--set-size", "4", "--draws", "50",
                           "--scales", "0.01,100"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "share missing the mean rank" in out
    assert "x0.01 100.0% pass; 0%; 0%" in out and "x100 0.0% pass; 100%; 100%" in out


def test_measured_sets_match_the_reports_medians(reports: list[Path],
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    seed_sets = _seed_sets()
    capsys.readouterr()
    assert seed_sets.main([str(reports[0]), "--strategy", "evolution", "--ahead-of", "random",
                           "--set-size", "4", "--draws", "1", "--scales", "1"]) == 0
    out = capsys.readouterr().out
    entries = json.loads(reports[0].read_text())["strategies"]
    medians = {name: np.median(entries[name]["per_seed"]["evals_to_top1"])
               for name in ("evolution", "random")}
    verdict = "pass" if medians["evolution"] < medians["random"] else "miss tabular_dense"
    assert f"measured seeds 0-3: {verdict}" in out


def test_bad_input_is_one_line_with_exit_code_2(reports: list[Path], tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    seed_sets = _seed_sets()
    not_json = tmp_path / "notes.json"
    not_json.write_text("not json")
    capsys.readouterr()
    assert seed_sets.main([str(not_json), "--strategy", "a", "--ahead-of", "b"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "notes.json: not a report of `automl bench --json`" in err
    assert seed_sets.main([str(reports[0]), "--strategy", "dqn", "--ahead-of", "random"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needed ['dqn', 'random']" in err


def test_reports_of_other_settings_are_not_pooled(reports: list[Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A seed that never reached the top counts as the budget: a report of budget 5 pooled
    with budget 30 would pass lines it should miss. So would 4 workers pooled with 1."""
    seed_sets = _seed_sets()
    for key, value in (("budget", 5), ("simulated_workers", 4)):
        other = json.loads(reports[1].read_text())
        other[key] = value  # as a run with that setting records it
        changed = tmp_path / f"{key}.json"
        changed.write_text(json.dumps(other))
        capsys.readouterr()
        assert seed_sets.main([str(reports[0]), str(changed), "--strategy", "evolution",
                               "--ahead-of", "random"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert f"{key}.json: made with other settings than {reports[0]}" in err
        assert f"{key} {30 if key == 'budget' else 1} against {value}" in err


@pytest.mark.parametrize(("flags", "says"), [
    (["--alias", "dqn"], "argument --alias: 'dqn' is not NAME=AS"),
    (["--scales", "abc"], "argument --scales: 'abc' is not comma-separated positive numbers"),
    (["--scales", "1,,0.9"], "is not comma-separated positive numbers"),
    (["--scales", "0"], "every factor must be a positive number"),
])
def test_bad_flags_are_one_line_before_any_output(reports: list[Path], flags: list[str],
                                                  says: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    seed_sets = _seed_sets()
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        seed_sets.main([str(reports[0]), "--strategy", "evolution", "--ahead-of", "random",
                        *flags])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and says in captured.err and "Traceback" not in captured.err


def test_a_missing_file_is_named_as_missing(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    seed_sets = _seed_sets()
    capsys.readouterr()
    assert seed_sets.main([str(tmp_path / "gone.json"), "--strategy", "a", "--ahead-of",
                           "b"]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'gone.json'}: file not found\n"
