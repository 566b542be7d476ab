"""Take the best K children home as one model: their outputs averaged (``export --ensemble``).

Why: on small data sets many children tie on the validation reward (ten validation series give
accuracies in steps of 0.1), so which of them is "the best" is close to chance, while their
average is not. Averaging the class probabilities of a few independently trained networks is
what InceptionTime does with five Inception networks (Fawaz et al. 2020) and what AutoGluon and
auto-sklearn ship as their final model; here the members are the run's best K complete trials
by the leaderboard's order (reward, then validation loss).

The members are the kept models (``--keep-best``), or children trained again from their
recorded seeds where a model was not kept (or with ``retrain``/``refit``, as for one child).
The ensemble is a plain Keras functional model: one input, each member as a nested model, a
Keras ``Average`` layer; it loads with ``keras.saving.load_model(path, safe_mode=True)`` and
Keras alone. Its validation and test metrics are computed here on the run's own splits
(validation only when no member trained on it: refit members and cross-validated ones, whose
fold networks trained on the validation examples) and written to the sidecar beside the
members' own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from automl.atomic_write import atomic_write
from automl.builder.average import average_models
from automl.engine.api import dataset_facts
from automl.engine.export import ExportResult
from automl.engine.export import check_outside_models
from automl.engine.export import run_data
from automl.engine.export import save_model
from automl.engine.export import train_again
from automl.errors import RunError
from automl.errors import UserInputError
from automl.store import ModelFiles
from automl.store import RunFolder
from automl.store import TrialRecord
from automl.store import TrialStore


def export_ensemble(run: str | Path, size: int, out: str | Path, *, retrain: bool = False,
                    refit: bool = False, runs_dir: str | Path = "runs") -> ExportResult:
    """Write the average of the run's best ``size`` complete children to ``out``.

    Raises:
        UserInputError: ``size`` below 2, or ``out`` not ending in ``.keras``.
        RunError: no such run, fewer than two complete trials, or members whose task
            decisions differ (their inputs are not the same).
    """
    import keras

    out = Path(out)
    if size < 2:
        raise UserInputError(f"--ensemble must be at least 2 (got {size}): one child is "
                             "exported without it", key="--ensemble")
    if out.suffix != ".keras":
        raise UserInputError(f"{str(out)!r} must end in .keras (Keras' own format)", key="-o")
    folder = RunFolder.open(run, runs_dir)
    check_outside_models(out, folder)
    members = _members(folder, size)
    prepared = run_data(folder, members[0], "export --ensemble")
    files = ModelFiles(folder.path)
    models, trained_again = [], []
    refits: dict[int, dict[str, Any]] = {}  # per refit member: its epochs and examples
    for record in members:
        kept = files.path(record.trial_id)
        if kept.is_file() and not (retrain or refit):
            models.append(keras.saving.load_model(files.whole(record.trial_id),
                                                  safe_mode=True))
        else:
            model, facts = train_again(folder, record, refit=refit, prepared=prepared)
            models.append(model)
            trained_again.append(record.trial_id)
            if refit:
                refits[record.trial_id] = {k: facts[k] for k in ("refit_epochs",
                                                                 "refit_examples")}
    ensemble = average_model(models, [f"trial_{r.trial_id}" for r in members],
                             name=f"ensemble_of_{len(members)}")
    from automl.training.trainer import evaluate

    data = prepared.data
    # refit or cross-validated members trained on the validation examples: no honest score
    trained_on_validation = refit or any(int(r.arch.train.get("folds") or 0) >= 2
                                         for r in members)
    metrics = (None if trained_on_validation
               else evaluate(ensemble, data, data.x_val, data.y_val))
    test_metrics = evaluate(ensemble, data, data.x_test, data.y_test)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_model(ensemble, out)
    metadata = {
        "run": folder.name,
        "ensemble": [{**_member(r), **refits.get(r.trial_id, {})} for r in members],
        **dataset_facts(data, prepared.task_name),
        "metrics": metrics, "test_metrics": test_metrics,
        "trained_again": trained_again, "retrained": bool(trained_again), "refit": refit,
        "plugins": folder.info().get("plugins", []),
    }
    sidecar = out.with_suffix(".json")
    atomic_write(sidecar, json.dumps(metadata, indent=2))
    return ExportResult(out, sidecar, members[0].trial_id, bool(trained_again), metadata)


def average_model(models: list[Any], names: list[str], *, name: str) -> Any:
    """One Keras model whose output is the mean of ``models``' outputs on the same input;
    members of another shape, or with several inputs or outputs, are refused by name."""
    shape = tuple(models[0].inputs[0].shape[1:])
    for model, member in zip(models, names, strict=True):
        if len(model.inputs) != 1 or len(model.outputs) != 1:
            raise RunError(f"{member} has {len(model.inputs)} inputs and {len(model.outputs)} "
                           "outputs; only one-input, one-output models are averaged",
                           key="--ensemble")
        if tuple(model.inputs[0].shape[1:]) != shape:
            raise RunError(f"{member} takes inputs of shape {tuple(model.inputs[0].shape[1:])}, "
                           f"not {shape}: its task decisions differ", key="--ensemble")
    return average_models(models, names, name=name)


def _members(folder: RunFolder, size: int) -> list[TrialRecord]:
    store = TrialStore(folder.db_path, readonly=True)
    try:
        records = [store.trial(t) for t in store.top_trained(size)]
    finally:
        store.close()
    members = [r for r in records if r is not None]
    if len(members) < 2:
        raise RunError(f"an ensemble needs at least 2 complete trials; run {folder.name} has "
                       f"{len(members)}", source=str(folder.path), key="--ensemble")
    tasks = {json.dumps(dict(r.arch.task), sort_keys=True) for r in members}
    if len(tasks) > 1:
        raise RunError("the best trials were searched with different task decisions "
                       f"({', '.join(sorted(tasks))}): their inputs differ and cannot be "
                       "averaged", source=str(folder.path), key="--ensemble")
    return members


def _member(record: TrialRecord) -> dict[str, Any]:
    return {"trial": record.trial_id, "arch_id": record.arch_id, "summary": record.summary,
            "architecture": record.architecture, "reward": record.reward,
            "metrics": record.metrics, "test_metrics": record.test_metrics}


__all__ = ["average_model", "export_ensemble"]
