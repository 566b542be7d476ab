"""Forward calls sized by a model's activation memory; heavy models called many times go
through one compiled function, with the same outputs as eager calls."""

from __future__ import annotations

import numpy as np

from automl.builder import chunks


def _model():  # type: ignore[no-untyped-def]
    import keras

    inputs = keras.Input((32, 2))
    x = keras.layers.Conv1D(8, 3, padding="same")(inputs)
    return keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(x)))


def test_heavy_models_called_many_times_are_compiled_with_the_same_outputs(monkeypatch) -> None:
    import tensorflow as tf

    model = _model()
    x = np.random.default_rng(0).normal(size=(37, 32, 2)).astype("float32")
    expected = np.asarray(model(x, training=False))
    traced: list[object] = []
    real_function = tf.function

    def spy(fn=None, **kwargs):  # type: ignore[no-untyped-def]
        if fn is model:
            traced.append(fn)
        return real_function(fn, **kwargs) if fn is not None else real_function(**kwargs)

    monkeypatch.setattr(tf, "function", spy)
    # Light: whole chunks of MAX_ROWS rows, eager.
    np.testing.assert_allclose(chunks.outputs_in_chunks(model, x), expected, atol=1e-5)
    assert not traced
    # Heavy (3 rows a call, 13 calls): compiled once, the last short chunk included.
    monkeypatch.setattr(chunks, "CALL_BYTES", 3 * chunks.activation_bytes(model))
    assert chunks.rows_per_call(model) == 3
    np.testing.assert_allclose(chunks.outputs_in_chunks(model, x), expected, atol=1e-5)
    assert traced == [model]
    # Heavy but few calls: eager, no tracing for a handful of rows.
    np.testing.assert_allclose(chunks.outputs_in_chunks(model, x[:6]), expected[:6], atol=1e-5)
    assert traced == [model]
