"""The ``raw_audio`` task: a folder of WAV files, one sub-folder per class, as raw waveform or
log-mel spectrogram.

Layout (class names are the sub-folder names, in sorted order)::

    data/
      dog/  bark1.wav  bark2.wav ...
      cat/  meow1.wav ...

Files are read with the standard library's ``wave`` (PCM, 8/16/24/32 bit, mono or mixed down to
mono) and NumPy, cut or zero-padded to ``duration`` seconds, and split 60/20/20 per class
(seeded). Nothing is downloaded.

The front end is a task parameter, so it can be searched like a layer: a list in the YAML makes
it a decision (``task.frontend``), searched jointly with the architecture::

    task:
      name: raw_audio
      path: data                 # relative to the YAML file
      frontend: [raw, logmel]    # a decision
      n_mels: [40, 64]           # a decision (used by logmel children)

``load`` runs once in the driver and validates every file (a bad or missing file stops the
search before anything trains, naming the file). ``prepare`` runs in the worker, once per front
end: ``raw`` gives the waveform as a sequence (samples, 1); ``logmel`` computes
``log(mel(|STFT|^2) + 1e-6)`` with ``tf.signal`` as a sequence (frames, n_mels), standardised
per mel band with training statistics.
"""

from __future__ import annotations

import wave
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from automl.errors import DataError
from automl.registry import TASKS
from automl.space import Param
from automl.tasks import Dataset
from automl.tasks import Task
from automl.tasks import split_indices

__version__ = "1.0.0"

MIN_PER_CLASS = 3
"""Files a class needs so that train, validation and test each get one."""


@TASKS.register("raw_audio")
class RawAudio(Task):
    """Audio classification from a folder of WAV files (one sub-folder per class)."""

    name = "raw_audio"
    fixed_params = ("path", "duration")
    params = {
        "path": Param(str, default=None, doc="folder with one sub-folder of WAV files per "
                                             "class (relative to the YAML file)"),
        "frontend": Param(str, choices=("raw", "logmel"), default="logmel",
                          doc="raw waveform, or log-mel spectrogram (tf.signal)"),
        "duration": Param(float, min=0.01, max=600.0, default=1.0,
                          doc="seconds kept per file (longer cut, shorter zero-padded)"),
        "n_mels": Param(int, min=1, max=512, default=40, doc="mel bands (logmel)"),
        "frame_length": Param(int, min=16, max=1 << 16, default=400,
                              doc="STFT window in samples (400 = 25 ms at 16 kHz)"),
        "frame_step": Param(int, min=1, max=1 << 16, default=160,
                            doc="STFT hop in samples (160 = 10 ms at 16 kHz)"),
        "fmin": Param(float, min=0.0, max=1e6, default=20.0, doc="lowest mel frequency (Hz)"),
        "fmax": Param(float, min=1.0, max=1e6, default=None,
                      doc="highest mel frequency (Hz); default: half the sample rate"),
    }
    output = "classification"
    default_reward = "uar"
    doc = "WAV folder (one sub-folder per class) as raw waveform or log-mel spectrogram"

    def load(self, params: Mapping[str, Any], *, base_dir: Path, seed: int) -> Dataset:
        for key in ("path", "duration"):
            if key not in params:  # a list in the YAML made it a decision
                raise DataError("cannot be searched (give one value)", key=f"task.{key}")
        if not params.get("path"):
            raise DataError("missing key 'path' (a folder with one sub-folder per class)",
                            key="task.path")
        folder = (Path(base_dir) / params["path"]).resolve()
        if not folder.is_dir():
            raise DataError("folder not found", source=str(folder), key="task.path")
        classes = sorted(p for p in folder.iterdir()
                         if p.is_dir() and not p.name.startswith("."))
        if len(classes) < 2:
            raise DataError(f"found {len(classes)} class sub-folder(s); need at least 2 (one "
                            "sub-folder of WAV files per class)", source=str(folder))
        signals: list[np.ndarray] = []
        labels: list[int] = []
        rate: tuple[int, Path] | None = None
        for label, class_dir in enumerate(classes):
            files = sorted(p for p in class_dir.iterdir()
                           if p.suffix.lower() == ".wav" and not p.name.startswith("."))
            if len(files) < MIN_PER_CLASS:
                raise DataError(f"has {len(files)} WAV file(s); each class needs at least "
                                f"{MIN_PER_CLASS} (train, validation, test)",
                                source=str(class_dir))
            for file in files:
                signal, file_rate = read_wav(file)
                if rate is None:
                    rate = (file_rate, file)
                elif file_rate != rate[0]:
                    raise DataError(f"sample rate {file_rate} Hz differs from {rate[0]} Hz of "
                                    f"{rate[1]}; resample the files to one rate",
                                    source=str(file))
                signals.append(signal)
                labels.append(label)
        assert rate is not None
        sample_rate = rate[0]
        samples = max(1, int(round(params["duration"] * sample_rate)))
        x = np.zeros((len(signals), samples, 1), dtype=np.float32)
        for i, signal in enumerate(signals):
            kept = signal[:samples]
            x[i, :len(kept), 0] = kept
        fixed = {k: v for k, v in params.items() if k != "path"}
        if fixed.get("frontend") != "raw":  # log-mel children will use the fixed settings
            check_frontend({**_defaults(), **fixed}, sample_rate, samples)
        y = np.asarray(labels, dtype=np.int64)
        train, val, test = split_indices(len(y), seed, val=0.2, test=0.2, labels=y)
        return Dataset(x[train], y[train], x[val], y[val], x[test], y[test],
                       output="classification", n_outputs=len(classes),
                       class_names=tuple(c.name for c in classes),
                       extras={"sample_rate": sample_rate, "task_params": fixed})

    def prepare(self, data: Dataset, params: Mapping[str, Any]) -> Dataset:
        """Compute the front end for one child; ``params`` are its searched task parameters."""
        settings = {**_defaults(), **dict(data.extras.get("task_params", {})), **params}
        if settings["frontend"] == "raw":
            return data
        sample_rate = int(data.extras["sample_rate"])
        problem = check_frontend(settings, sample_rate, data.input_shape[0], raise_=False)
        if problem:
            raise ValueError(problem)
        train, val, test = (log_mel(x, sample_rate, settings)
                            for x in (data.x_train, data.x_val, data.x_test))
        # standardise each mel band with training statistics
        mean = train.mean(axis=(0, 1), keepdims=True)
        std = train.std(axis=(0, 1), keepdims=True) + 1e-6
        return data.with_inputs(*((part - mean) / std for part in (train, val, test)))


def _defaults() -> dict[str, Any]:
    return {key: param.default for key, param in RawAudio.params.items()}


def fft_length(frame_length: int) -> int:
    """Smallest power of two >= the window (what the STFT uses)."""
    return 1 << (int(frame_length) - 1).bit_length()


def check_frontend(settings: Mapping[str, Any], sample_rate: int, samples: int, *,
                   raise_: bool = True) -> str | None:
    """Check the log-mel settings against the data.

    Returns:
        The problem, or None (with ``raise_``, a problem is raised as DataError instead).
    """
    nyquist = sample_rate / 2
    fmax = settings.get("fmax") or nyquist
    bins = fft_length(settings["frame_length"]) // 2 + 1
    checks = (
        (settings["frame_length"] > samples, "task.frame_length",
         f"frame_length {settings['frame_length']} is longer than the {samples} samples kept "
         f"(duration x {sample_rate} Hz)"),
        (fmax > nyquist, "task.fmax",
         f"fmax {fmax} Hz is above half the sample rate ({nyquist} Hz)"),
        (settings["fmin"] >= fmax, "task.fmin",
         f"fmin {settings['fmin']} Hz is not below fmax {fmax} Hz"),
        (settings["n_mels"] > bins, "task.n_mels",
         f"n_mels {settings['n_mels']} exceeds the {bins} frequency bins of a "
         f"{settings['frame_length']}-sample window"),
    )
    for failed, key, problem in checks:
        if failed:
            if raise_:
                raise DataError(problem, key=key)
            return problem
    return None


def log_mel(x: np.ndarray, sample_rate: int, settings: Mapping[str, Any],
            chunk: int = 256) -> np.ndarray:
    """(n, samples, 1) waveforms -> (n, frames, n_mels) log-mel spectrograms (tf.signal)."""
    import tensorflow as tf

    length = fft_length(settings["frame_length"])
    mel_matrix = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=settings["n_mels"], num_spectrogram_bins=length // 2 + 1,
        sample_rate=sample_rate, lower_edge_hertz=settings["fmin"],
        upper_edge_hertz=settings.get("fmax") or sample_rate / 2)
    out = []
    for start in range(0, len(x), chunk):
        signals = tf.constant(x[start:start + chunk, :, 0])
        stft = tf.signal.stft(signals, frame_length=settings["frame_length"],
                              frame_step=settings["frame_step"], fft_length=length)
        power = tf.square(tf.abs(stft))
        out.append(tf.math.log(tf.tensordot(power, mel_matrix, 1) + 1e-6).numpy())
    if not out:
        return np.zeros((0, 0, settings["n_mels"]), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Read a PCM WAV file as mono float32 in [-1, 1] and its sample rate.

    Raises:
        DataError: the file is not a readable PCM WAV file or has no samples (names the file).
    """
    try:
        with wave.open(str(path), "rb") as handle:
            channels = handle.getnchannels()
            width = handle.getsampwidth()
            rate = handle.getframerate()
            raw = handle.readframes(handle.getnframes())
    except (wave.Error, EOFError, OSError) as exc:
        raise DataError(f"cannot be read as a PCM WAV file ({exc or type(exc).__name__})",
                        source=str(path)) from None
    if width == 1:
        data = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 3:
        bytes3 = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        values = bytes3[:, 0] | (bytes3[:, 1] << 8) | (bytes3[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
        data = values.astype(np.float32) / float(1 << 23)
    elif width == 4:
        data = np.frombuffer(raw, dtype="<i4").astype(np.float32) / float(1 << 31)
    else:
        raise DataError(f"unsupported sample width of {width} bytes", source=str(path))
    usable = len(data) - len(data) % channels
    if usable == 0 or rate <= 0:
        raise DataError("has no samples", source=str(path))
    return data[:usable].reshape(-1, channels).mean(axis=1), rate
