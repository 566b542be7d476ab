"""Take a child home: one trial's trained model as a ``.keras`` file, with a JSON sidecar.

A search keeps the models of its best K children (``models/<trial>.keras``); exporting one of
them copies the file. Any other complete trial, or any trial with ``retrain=True``, is trained
again here from its recorded architecture, training settings and child seed (the run's plugins
are loaded for that, with a notice, as on resume: retraining runs the run's code). With
``refit=True`` the retraining also learns from the validation split, for the epochs the search
chose (:mod:`automl.training.refit`): the model to deploy once the search has chosen.

The models are plain Keras: built-in layers only (the ``attention`` example plugin composes Keras
layers), so ``keras.saving.load_model(path, safe_mode=True)`` loads them with Keras alone.

The sidecar (``model.json`` beside ``model.keras``) says what the model is: run, trial,
architecture id and JSON, task, output kind, class names in output order, input shape, the
stored validation and test metrics, and whether the weights were retrained (and refit: then also
the epochs, the training examples and the refit model's test metrics).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import NamedTuple

from automl.atomic_write import atomic_write
from automl.engine.api import check_data_unchanged
from automl.engine.api import dataset_facts
from automl.engine.api import load_run_space
from automl.engine.api import load_task_data
from automl.engine.search import child_seed
from automl.errors import RunError
from automl.errors import UserInputError
from automl.store import ModelFiles
from automl.store import RunFolder
from automl.store import TrialRecord
from automl.store import TrialStatus
from automl.store import TrialStore
from automl.tasks.task import Dataset


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_model` wrote."""

    path: Path
    metadata_path: Path
    trial_id: int
    retrained: bool
    metadata: dict[str, Any]


def check_outside_models(out: Path, folder: RunFolder) -> None:
    """Refuse an export into the run's ``models/``: it would replace a kept model (and a
    later export of that trial would ship another child's weights under its metrics)."""
    models = ModelFiles(folder.path).folder.resolve()
    if models == out.resolve() or models in out.resolve().parents:
        raise UserInputError(f"{str(out)!r} is inside the run's models folder ({models}), "
                             "where the search keeps its models; give a path outside it",
                             key="-o")


def export_model(run: str | Path, trial: str | None, out: str | Path, *,
                 retrain: bool = False, refit: bool = False,
                 runs_dir: str | Path = "runs") -> ExportResult:
    """Write the model of ``trial`` (a number or architecture id; None: the best) to ``out``;
    ``refit``: trained again on the training and validation splits together.

    Raises:
        RunError: no such run or trial, or the trial has no model (failed, still running).
        UserInputError: ``out`` does not end in ``.keras``.
    """
    out = Path(out)
    if out.suffix != ".keras":
        raise UserInputError(f"{str(out)!r} must end in .keras (Keras' own format)", key="-o")
    folder = RunFolder.open(run, runs_dir)
    check_outside_models(out, folder)
    info = folder.info()  # read before anything is written: a damaged run.json writes nothing
    store = TrialStore(folder.db_path, readonly=True)
    try:
        record = _trial(folder, store, trial)
        source = store.trial(record.cached_from) if record.cached_from is not None else record
        dataset = store.meta("dataset") or {}
    finally:
        store.close()
    if source is None:
        raise RunError(f"trial {record.trial_id} reuses trial {record.cached_from}, which the "
                       "store does not hold", source=str(folder.db_path), key="TRIAL")
    files = ModelFiles(folder.path)
    retrained = retrain or refit or not files.path(source.trial_id).is_file()
    kept = None if retrained else files.whole(source.trial_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    if kept is None:
        dataset = {**dataset, **_retrain(folder, source, out, refit=refit)}
    else:
        atomic_write(out, kept.read_bytes())
    metadata = {
        "run": folder.name, "trial": record.trial_id, "trained_as_trial": source.trial_id,
        "arch_id": source.arch_id, "summary": source.summary,
        "architecture": source.architecture, **dataset,
        "metrics": source.metrics, "test_metrics": source.test_metrics,
        "reward": source.reward, "params": source.params, "retrained": retrained,
        "refit": refit,
        "plugins": info.get("plugins", []),
        "seed": child_seed(int(info.get("seed", 0)), source.trial_id),
    }
    folds = int((source.architecture.get("train") or {}).get("folds") or 0)
    if folds >= 2:  # cross-validated: scored out of fold over train + val; params per network
        metadata.update(folds=folds, networks=1 if refit else folds)
    if refit:  # as an ensemble's sidecar: the metrics are the exported model's own
        metadata.update(metrics=None, test_metrics=metadata.pop("refit_test_metrics"),
                        search_metrics=source.metrics, search_test_metrics=source.test_metrics)
    sidecar = out.with_suffix(".json")
    atomic_write(sidecar, json.dumps(metadata, indent=2))
    return ExportResult(out, sidecar, record.trial_id, retrained, metadata)


def load_run_data(run: str | Path, trial: str | None = None, *,
                  runs_dir: str | Path = "runs") -> Dataset:
    """The training, validation and test splits a run's search used, for ``trial``'s task
    decisions (None: the best trial's), rebuilt from the run's space and seed: what an exported
    model was chosen and scored on (e.g. the test rows the ``arrays`` task cut from a file).
    Loads the run's plugins, with a notice, when its task comes from one."""
    folder = RunFolder.open(run, runs_dir)
    store = TrialStore(folder.db_path, readonly=True)
    try:
        record = _trial(folder, store, trial)
    finally:
        store.close()
    return run_data(folder, record, "loading its data").data


def _trial(folder: RunFolder, store: TrialStore, key: str | None) -> TrialRecord:
    record = store.best() if key is None else store.find_trial(str(key))
    if record is None:
        what = "no complete trial" if key is None else f"no trial {key!r}"
        raise RunError(f"{what} in run {folder.name}", source=str(folder.path), key="TRIAL")
    if record.status not in (TrialStatus.COMPLETE, TrialStatus.CACHED):
        raise RunError(f"trial {record.trial_id} is {record.status.value}: only complete or "
                       "cached trials have a model to export", source=str(folder.path),
                       key="TRIAL")
    return record


def _retrain(folder: RunFolder, record: TrialRecord, out: Path, *,
             refit: bool) -> dict[str, Any]:
    """Train the child again with its recorded seed (``refit``: on training + validation) and
    save it to ``out`` (atomically)."""
    model, facts = train_again(folder, record, refit=refit)
    save_model(model, out)
    return facts


class RunData(NamedTuple):
    """A run's data as its search saw it: the seed children derive theirs from, the task."""

    seed: int
    task_name: str
    data: Dataset


def run_data(folder: RunFolder, record: TrialRecord, purpose: str) -> RunData:
    """The run's data prepared for ``record``'s task decisions: the splits the search trained
    and scored the child on. Loads the run's plugins (with a notice naming ``purpose``)."""
    from automl.registry import TASKS

    info, space = load_run_space(folder, purpose)
    check_data_unchanged(folder, info, space, doing=purpose)
    if space.task is None:
        raise RunError("the run's space declares no task, so its children cannot be "
                       "retrained or scored", source=str(folder.config_path), key="task")
    seed = int(info.get("seed", 0))
    loaded, _ = load_task_data(space, seed)
    data = TASKS.get(space.task.name).prepare(loaded, loaded.child_params(record.arch.task))
    return RunData(seed, space.task.name, data)


def train_again(folder: RunFolder, record: TrialRecord, *, refit: bool,
                prepared: RunData | None = None) -> tuple[Any, dict[str, Any]]:
    """The child trained again with its recorded seed (``refit``: on training + validation,
    for the epochs its search chose) and what the sidecar says about that training."""
    from automl.training.refit import refit_architecture
    from automl.training.refit import with_validation_in_training
    from automl.training.trainer import train_child

    seed, task_name, data = prepared or run_data(
        folder, record, "export --refit" if refit else "export --retrain")
    facts = dataset_facts(data, task_name)
    architecture = record.arch
    if refit:
        architecture = refit_architecture(architecture, record.metrics)
        data = with_validation_in_training(data)
    trained = train_child(architecture, data, seed=child_seed(seed, record.trial_id),
                          keep_model=True)
    if refit:  # validation examples trained the model: only its test metrics say anything
        return trained["model"], {
            **facts, "refit_epochs": len(trained["epochs"]),
            "refit_examples": len(data.x_train), "refit_test_metrics": trained["test_metrics"]}
    return trained["model"], {**facts, "retrained_metrics": trained["metrics"]}


def save_model(model: Any, out: Path) -> None:
    """``model.save(out)`` through a temporary file: ``out`` is whole or untouched."""
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".keras", dir=out.parent)
    os.close(fd)
    try:
        model.save(tmp)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["ExportResult", "RunData", "export_model", "run_data", "save_model", "train_again"]
