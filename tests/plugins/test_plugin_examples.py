"""The example plugins in plugins/: the attention layer, the raw_audio task, the mnas reward."""

from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from automl.errors import DataError
from automl.errors import SpaceError
from automl.errors import TrialFailedError
from automl.registry import LAYERS
from automl.registry import REWARDS
from automl.registry import TASKS
from automl.registry.discovery import load_plugin_paths
from automl.space import Architecture
from automl.space import parse_space
from tests.plugins.conftest import EXAMPLES

load_plugin_paths([EXAMPLES / "attention.py", EXAMPLES / "raw_audio.py", EXAMPLES / "mnas.py"])

RATE = 8000


def write_wav(path: Path, signal: np.ndarray, rate: int = RATE, width: int = 2,
              channels: int = 1) -> Path:
    """PCM WAV with the standard library (signal in [-1, 1], shape (n,) or (n, channels))."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.repeat(signal[:, None], channels, axis=1) if signal.ndim == 1 else signal
    if width == 1:
        data = np.round(frames * 127 + 128).astype(np.uint8).tobytes()
    elif width == 2:
        data = np.round(frames * 32767).astype("<i2").tobytes()
    elif width == 3:
        values = np.round(frames * (2 ** 23 - 1)).astype("<i4").reshape(-1)
        data = np.stack([values & 255, (values >> 8) & 255, (values >> 16) & 255],
                        axis=1).astype(np.uint8).tobytes()
    else:
        data = np.round(frames * (2 ** 31 - 1)).astype("<i4").tobytes()
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(width)
        handle.setframerate(rate)
        handle.writeframes(data)
    return path


def tones(folder: Path, *, classes: int = 3, per_class: int = 4, seconds: float = 0.25,
          seed: int = 0) -> Path:
    """One sub-folder per class: a tone whose pitch depends on the class, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    for label in range(classes):
        for i in range(per_class):
            pitch = 300.0 * (label + 1) * (1 + 0.02 * rng.standard_normal())
            signal = 0.5 * np.sin(2 * np.pi * pitch * t + rng.uniform(0, 2 * np.pi))
            signal += 0.05 * rng.standard_normal(len(t))
            write_wav(folder / f"class{label}" / f"clip{i}.wav", np.clip(signal, -1, 1))
    return folder


# ---------------------------------------------------------------------------------- attention
def attention_model(*layers: dict, input_shape: tuple[int, ...] = (12, 5)):  # type: ignore[no-untyped-def]
    from automl.builder import ModelSpec
    from automl.builder import build_model

    architecture = Architecture(tuple(layers), {"epochs": 1})
    return build_model(architecture, ModelSpec(input_shape=input_shape, n_outputs=3), seed=0)


def attention(**params: object) -> dict:
    return {"type": "attention", "units": 8, "heads": 0, "pooling": "attention", **params}


@pytest.mark.parametrize("pooling", ["attention", "mean", "max"])
def test_pooling_of_identical_frames_returns_the_frame(pooling: str) -> None:
    """Attention weights sum to one over time, so identical frames pool to that frame."""
    import keras

    inputs = keras.Input(shape=(7, 4))
    layer = LAYERS.get("attention")
    from automl.builder import BuildContext

    pooled = layer.build(inputs, {"units": 8, "heads": 0, "pooling": pooling},
                         BuildContext(index=0, next_accepts="vector"))
    model = keras.Model(inputs, pooled)
    frame = np.array([[0.5, -1.0, 2.0, 3.0]], dtype=np.float32)
    out = np.asarray(model(np.repeat(frame[:, None, :], 7, axis=1)))
    np.testing.assert_allclose(out, frame, rtol=1e-5, atol=1e-5)


def test_attention_on_top_of_recurrent_layers_builds_and_predicts() -> None:
    gru = {"type": "gru", "units": 6, "activation": "tanh", "bidirectional": True}
    for layers in ((gru, attention()), (gru, attention(heads=2, pooling="mean")),
                   (attention(heads=2), gru)):  # before a GRU it returns the sequence
        model = attention_model(*layers)
        out = np.asarray(model(np.random.default_rng(0).normal(size=(2, 12, 5))))
        assert out.shape == (2, 3)
        np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
    names = " ".join(layer.name for layer in attention_model(gru, attention()).layers)
    assert "softmax" in names and "dot" in names
    assert LAYERS.get("attention").describe(attention(heads=2)) == "Attention(8,h2,attention)"


def test_attention_parameters_are_validated_by_the_space() -> None:
    space = parse_space({"task": "japanese_vowels", "layers": {"min": 2, "max": 2, "types": {
        "gru": {"units": [8]}, "attention": {"units": [8, 16], "heads": [0, 2],
                                             "pooling": ["attention", "mean"]}}}},
        source_name="s.yaml", base_dir=Path("."))
    assert space.size() == 9 ** 2  # per layer: gru or 8 attention variants
    with pytest.raises(SpaceError, match=r"pooling\[0\]: 'sum' is not allowed"):
        parse_space({"task": "digits", "layers": {"types": {"attention": {"pooling": ["sum"]}}}},
                    source_name="s.yaml", base_dir=Path("."))


# ---------------------------------------------------------------------------------- raw_audio
def test_raw_audio_loads_wav_folders(tmp_path: Path) -> None:
    folder = tones(tmp_path / "data", classes=3, per_class=5, seconds=0.2)
    task = TASKS.get("raw_audio")
    params = {"path": "data", "frontend": "logmel", "duration": 0.25, "n_mels": 16,
              "frame_length": 256, "frame_step": 128, "fmin": 20.0, "fmax": None}
    data = task.load(params, base_dir=tmp_path, seed=0)
    assert data.class_names == ("class0", "class1", "class2") and data.n_outputs == 3
    assert data.input_shape == (2000, 1)  # 0.25 s at 8 kHz, the 0.2 s clips zero-padded
    assert len(data.y_train) == 9 and len(data.y_val) == 3 and len(data.y_test) == 3
    assert np.all(data.x_train[:, 1600:] == 0) and np.abs(data.x_train).max() <= 1.0
    assert data.extras["sample_rate"] == RATE
    assert folder.is_dir()


def test_raw_audio_front_ends(tmp_path: Path) -> None:
    tones(tmp_path / "data", per_class=3)
    task = TASKS.get("raw_audio")
    fixed = {"path": "data", "duration": 0.25, "n_mels": 16, "frame_length": 256,
             "frame_step": 128, "fmin": 20.0, "fmax": None}  # frontend searched
    data = task.load(fixed, base_dir=tmp_path, seed=0)
    assert task.prepare(data, {"frontend": "raw"}) is data
    mel = task.prepare(data, {"frontend": "logmel"})
    frames = 1 + (2000 - 256) // 128
    assert mel.input_shape == (frames, 16) and mel.x_test.shape[1:] == (frames, 16)
    np.testing.assert_allclose(mel.x_train.mean(axis=(0, 1)), 0.0, atol=1e-4)
    assert np.all(np.isfinite(mel.x_val))
    # tones of different pitch light up different mel bands
    by_class = [mel.x_train[mel.y_train == k].mean(axis=(0, 1)).argmax() for k in range(3)]
    assert by_class == sorted(by_class) and len(set(by_class)) == 3
    assert task.prepare(data, {"frontend": "logmel", "n_mels": 8}).input_shape == (frames, 8)
    with pytest.raises(ValueError, match="n_mels 200 exceeds the 129 frequency bins"):
        task.prepare(data, {"frontend": "logmel", "n_mels": 200})


def test_a_list_makes_the_front_end_a_decision(tmp_path: Path) -> None:
    space = parse_space({"task": {"name": "raw_audio", "path": "data",
                                  "frontend": ["raw", "logmel"], "n_mels": [16, 32]},
                         "layers": {"types": {"conv1d": {"filters": 4}}}},
                        source_name="s.yaml", base_dir=tmp_path)
    names = [d.name for d in space.slots()]
    assert "task.frontend" in names and "task.n_mels" in names
    assert {a.task["frontend"] for a in space.enumerate()} == {"raw", "logmel"}


@pytest.mark.parametrize("width,channels", [(1, 1), (2, 2), (3, 1), (4, 1)])
def test_read_wav_widths_and_channels(tmp_path: Path, width: int, channels: int) -> None:
    read_wav = sys.modules[type(TASKS.get("raw_audio")).__module__].read_wav
    signal = np.sin(np.linspace(0, 20, 400)) * 0.8
    path = write_wav(tmp_path / "x.wav", signal, width=width, channels=channels)
    decoded, rate = read_wav(path)
    assert rate == RATE and decoded.shape == (400,)
    np.testing.assert_allclose(decoded, signal, atol=2.0 / 127 if width == 1 else 1e-4)


def test_raw_audio_bad_data_names_the_file(tmp_path: Path) -> None:
    task = TASKS.get("raw_audio")
    params = {"path": "data", "frontend": "raw", "duration": 0.25}

    def load_error() -> str:
        with pytest.raises(DataError) as info:
            task.load(params, base_dir=tmp_path, seed=0)
        return info.value.one_line()

    assert load_error().endswith("data: task.path: folder not found")
    folder = tones(tmp_path / "data", classes=2, per_class=3)
    bad = folder / "class1" / "clip9.wav"
    bad.write_bytes(b"RIFF garbage")
    assert load_error().startswith(f"{bad}: cannot be read as a PCM WAV file")
    write_wav(bad, np.zeros(100), rate=16000)
    assert load_error() == (f"{bad}: sample rate 16000 Hz differs from 8000 Hz of "
                            f"{folder / 'class0' / 'clip0.wav'}; resample the files to one rate")
    bad.unlink()
    (folder / "class1" / "clip2.wav").unlink()
    assert "has 2 WAV file(s); each class needs at least 3" in load_error()
    with pytest.raises(DataError, match="task.duration: cannot be searched"):
        task.load({"path": "data", "frontend": "raw"}, base_dir=tmp_path, seed=0)


# ---------------------------------------------------------------------------------- mnas
def test_mnas_reward_is_the_mnasnet_formula() -> None:
    reward = REWARDS.get("mnas")
    assert REWARDS.entry("mnas").source == str(EXAMPLES / "mnas.py")
    metrics, facts = {"accuracy": 0.8, "uar": 0.6}, {"params": 200_000, "train_seconds": 3.0}
    assert reward(metrics, facts, metric="accuracy", target_params=100_000.0, w=-0.07) == \
        pytest.approx(0.8 * 2 ** -0.07)
    assert reward(metrics, {"params": 50_000}, metric="uar", target_params=100_000.0,
                  w=-0.07) == pytest.approx(0.6 * 0.5 ** -0.07)
    assert reward(metrics, facts, metric="accuracy", target_params=200_000.0, w=-0.07) == 0.8
    with pytest.raises(TrialFailedError, match="needs validation metric 'ccc'"):
        reward(metrics, facts, metric="ccc", target_params=1.0, w=-0.07)
    space = parse_space({"task": "digits", "reward": {"name": "mnas", "target_params": 5000},
                         "layers": {"types": {"dense": {}}}}, source_name="s.yaml",
                        base_dir=Path("."))
    assert space.reward.params == {"metric": "accuracy", "target_params": 5000.0, "w": -0.07}


# ---------------------------------------------------------------------------------- on Ray
RAW_AUDIO_SPACE = """
task:
  name: raw_audio
  path: data
  frontend: [raw, logmel]
  duration: 0.25
  n_mels: 16
  frame_length: 256
  frame_step: 128
plugins: [{plugin}]
layers:
  types:
    conv1d: {{filters: 4, kernel_size: 5}}
train: {{batch_size: 16, epochs: 1}}
"""


@pytest.mark.slow
def test_raw_audio_search_trains_both_front_ends_on_ray(tmp_path: Path,
                                                        ray_instance: object) -> None:
    from automl.engine import run_search
    from automl.execution import ExecutionSettings
    from automl.space import load_space
    from automl.store import TrialStatus
    from automl.store import TrialStore
    from automl.strategies import create_strategy

    tones(tmp_path / "data", classes=3, per_class=4)
    path = tmp_path / "audio.yaml"
    path.write_text(RAW_AUDIO_SPACE.format(plugin=EXAMPLES / "raw_audio.py"))
    space = load_space(path)

    def first_two_front_ends(seed: int) -> set[str]:
        strategy = create_strategy("random", space, seed=seed)
        return {strategy.ask(0).task["frontend"], strategy.ask(1).task["frontend"]}

    seed = next(s for s in range(50) if len(first_two_front_ends(s)) == 2)
    outcome = run_search(path, strategy="random", trials=2, seed=seed, name="audio",
                         runs_dir=tmp_path / "runs", execution=ExecutionSettings(workers=2))
    trials = TrialStore(outcome.run_path / "trials.sqlite", readonly=True).trials()
    assert [t.status for t in trials] == [TrialStatus.COMPLETE] * 2, [t.error for t in trials]
    assert {t.flat["task.frontend"] for t in trials} == {"raw", "logmel"}
    for trial in trials:  # the task's default reward: UAR on the validation split
        assert trial.reward == trial.metrics["uar"] and trial.params > 0
