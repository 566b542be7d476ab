"""The one-shot super-network (ENAS, Pham et al. 2018): every architecture of a space is a
sub-network of one set of weights.

What it can express (:func:`check_one_shot` says so before anything is written):

* a stack of ``dense`` layers on a vector input, or of ``gru`` and/or ``conv1d`` layers on a
  sequence input (the type chosen per layer when the space has both: each position owns the
  weights of each type), of depth ``layers.min``..``layers.max``, optionally mixed per layer
  with ``dropout`` (no weights; its rate may be searched);
* ``units`` (``filters`` for conv1d) as the first columns of the widest kernel of each
  position: layer ``i`` owns one kernel of shape ``(D, W)`` (dense), ``(D, 3W)`` / ``(W, 3W)``
  / ``(2, 3W)`` (GRU, gates ``[z, r, h]`` in Keras' layout, ``reset_after=True``) or
  ``(K, D, W)`` (conv1d), ``W`` the widest choice, ``K`` the largest ``kernel_size`` and ``D``
  ``max(W, input features)``; a sub-network of ``u`` units uses columns ``[0, u)`` of each
  gate block and the rows its input width needs;
* conv1d ``kernel_size`` as the centre taps of the largest kernel (once-for-all's elastic
  kernels, Cai et al. 2020): a kernel of ``k`` taps uses rows ``[o, o + k)``, ``o =
  (K - 1) // 2 - (k - 1) // 2``, which with 'same' padding lines up with the ``k``-tap
  convolution the builder makes;
* the activation of each layer (parameter-free, so any choice shares the same kernel);
* the head: one ``(D, outputs)`` kernel, sliced by the width of the last weighted layer;
* for sequence stacks, the sequence-to-vector step ``avg``, ``max`` or ``last`` (or none: the
  last state of a GRU stack, the average over time otherwise, as the builder does).

Why masks instead of slices in the forward pass: every architecture runs through the same
traced graph (fixed shapes), with the unused columns multiplied by zero after each layer, so
they get no gradient and contribute nothing downstream. Layers beyond the depth are skipped
with ``tf.cond``. :meth:`SuperNet.extract` gives the sliced weights of one sub-network in
``build_model``'s order, and the tests check that the builder's standalone model with those
weights computes the same outputs as the masked super-network.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from automl.builder.build import ModelSpec
from automl.errors import SpaceError
from automl.space import Architecture
from automl.space import SearchSpace

WEIGHTED = ("dense", "gru", "conv1d")
"""Layer types with a shared form (their kernels are slices of the widest one)."""
PARAMETER_FREE = ("dropout",)
"""Layer types without weights that may be mixed with the weighted types."""
POOLINGS = ("avg", "max", "last")
"""Sequence-to-vector steps the sequence super-networks have (no weights)."""
_SUPPORTED_PARAMS = {"dense": {"units", "activation"},
                     "gru": {"units", "activation", "bidirectional"},
                     "conv1d": {"filters", "kernel_size", "activation"},
                     "dropout": {"rate"}}
_SUPPORT = ("one-shot supports stacks of dense (vector input), or gru and conv1d (sequence "
            "input) layers, optionally mixed with dropout, with searched depth, units or "
            "filters, kernel size and activation")


def check_one_shot(space: SearchSpace, spec: ModelSpec | None = None) -> tuple[str, ...]:
    """Refuse, with one line naming the decision, a space the super-network cannot express.

    Called on the space alone (before any data is loaded) and again with the task's
    ``ModelSpec`` (input kind); both before a run folder exists. Returns the weighted layer
    types (``("dense",)``, or one or both of ``gru`` and ``conv1d``).
    """
    if not space.has_layers:
        raise SpaceError(f"the space has no layers; {_SUPPORT}", source=space.source,
                         key="layers")
    weighted = [t for t in space.layer_types if t in WEIGHTED]
    for name in space.layer_types:
        if name not in WEIGHTED + PARAMETER_FREE:
            raise SpaceError(f"layer type {name!r} has no shared form; {_SUPPORT}",
                             source=space.source, key=f"layers.types.{name}")
    if not weighted or ("dense" in weighted and len(weighted) > 1):
        raise SpaceError(f"the space must have dense alone, or gru and/or conv1d, has "
                         f"{', '.join(weighted) or 'none of them'}; {_SUPPORT}",
                         source=space.source, key="layers.types")
    cells = tuple(weighted)
    sequence = cells != ("dense",)
    for name, params in space.layer_types.items():
        for param, values in params.items():
            if param not in _SUPPORTED_PARAMS[name]:
                raise SpaceError(f"parameter {param!r} has no shared form; {_SUPPORT}",
                                 source=space.source, key=f"layers.types.{name}.{param}")
            if param == "bidirectional" and tuple(values) != (False,):
                raise SpaceError("one-shot supports unidirectional gru only (bidirectional: "
                                 "false)", source=space.source,
                                 key=f"layers.types.{name}.bidirectional")
    for key, values in space.train.items():
        if len(values) > 1:
            raise SpaceError(f"train.{key} is searched ({len(values)} values); one-shot "
                             "trains one set of shared weights with one training setting, so "
                             "train.* must be fixed", source=space.source, key=f"train.{key}")
    if space.task is not None and space.task.searched:
        key = next(iter(space.task.searched))
        raise SpaceError("searched task parameters change the data the shared weights see; "
                         "one-shot needs them fixed", source=space.source, key=f"task.{key}")
    if space.decisions:
        key = next(iter(space.decisions))
        raise SpaceError("plain decisions build nothing a super-network can share; "
                         f"{_SUPPORT}", source=space.source, key=key)
    if space.pooling and (not sequence or any(p not in POOLINGS for p in space.pooling)):
        raise SpaceError(f"one-shot supports layers.pooling {', '.join(POOLINGS)} after gru or "
                         f"conv1d layers only, got {', '.join(space.pooling)}",
                         source=space.source, key="layers.pooling")
    if spec is not None:
        want = 3 if sequence else 2
        if len(spec.input_shape) + 1 != want:
            kind = {2: "vector", 3: "sequence", 4: "image"}.get(len(spec.input_shape) + 1, "?")
            raise SpaceError(f"one-shot {' and '.join(cells)} stacks need a "
                             f"{'sequence' if sequence else 'vector'} input; the task "
                             f"gives a {kind} input", source=space.source, key="task")
    return cells


@dataclass(frozen=True)
class Encoded:
    """One architecture as the super-network's fixed-shape inputs (all NumPy)."""

    active: np.ndarray
    """``[L]`` 1.0 for layers present (depth)."""
    dropout: np.ndarray
    """``[L]`` 1.0 where the layer is a dropout layer."""
    rate: np.ndarray
    """``[L]`` dropout rate (0 elsewhere)."""
    mask: np.ndarray
    """``[L, W]`` 1.0 on the first ``units`` (conv1d: ``filters``) columns of weighted
    layers."""
    taps: np.ndarray
    """``[L, K]`` 1.0 on the centre ``kernel_size`` taps of conv1d layers (``K`` 1 and all
    ones for dense and GRU stacks)."""
    kind: np.ndarray
    """``[L, T]`` one-hot of each weighted layer's type among the space's weighted types."""
    activation: np.ndarray
    """``[L, A]`` one-hot activation of weighted layers."""
    pooling: np.ndarray
    """``[3]`` one-hot of avg / max / last (sequence stacks; :meth:`SuperNet.pooling_of`)."""


class SuperNet:
    """Shared weights for every sub-network of a one-shot space, with a masked forward pass.

    Args:
        space: A space :func:`check_one_shot` accepts.
        spec: The task's input shape and head.
        seed: Seeds the initial weights (Keras' defaults: Glorot-uniform kernels, orthogonal
            recurrent kernels, zero biases, drawn with NumPy for the widest shapes).
    """

    def __init__(self, space: SearchSpace, spec: ModelSpec, *, seed: int = 0):
        import keras

        self.cells = check_one_shot(space, spec)
        self.sequence = self.cells != ("dense",)
        self.space = space
        self.spec = spec
        self.layers = space.max_layers
        self.width = max(int(max(space.layer_types[c][_width_key(c)])) for c in self.cells)
        self.kernel_taps = (int(max(space.layer_types["conv1d"].get("kernel_size", (1,))))
                            if "conv1d" in self.cells else 1)
        self.features = int(spec.input_shape[-1])
        self.depth_in = max(self.width, self.features)
        self.activations = tuple(dict.fromkeys(
            a for name, p in space.layer_types.items() if name in WEIGHTED
            for a in p.get("activation", ("tanh" if name == "gru" else "relu",))))
        self.has_dropout = "dropout" in space.layer_types
        rng = np.random.default_rng(seed)
        arrays: dict[str, np.ndarray] = {}
        for i in range(self.layers):
            for cell in self.cells:
                gates = 3 if cell == "gru" else 1
                shape = (self.depth_in, gates * self.width)
                if cell == "conv1d":
                    shape = (self.kernel_taps, *shape)
                arrays[self._name(i, cell, "kernel")] = _glorot(rng, shape)
                if cell == "gru":
                    arrays[self._name(i, cell, "recurrent_kernel")] = np.concatenate(
                        [_orthogonal(rng, self.width) for _ in range(gates)], axis=1)
                    arrays[self._name(i, cell, "bias")] = np.zeros((2, gates * self.width),
                                                                   np.float32)
                else:
                    arrays[self._name(i, cell, "bias")] = np.zeros(self.width, np.float32)
        arrays["head.kernel"] = _glorot(rng, (self.depth_in, spec.n_outputs))
        arrays["head.bias"] = np.zeros(spec.n_outputs, np.float32)
        self.names = list(arrays)
        self.variables = [keras.Variable(arrays[n], name=n.replace(".", "_"), dtype="float32")
                          for n in self.names]
        self._var = dict(zip(self.names, self.variables, strict=True))
        self._traced: dict[str, Any] = {}

    def _name(self, i: int, cell: str, part: str) -> str:
        """A weight's name: ``layer{i}.{part}`` with one weighted type (the names of runs
        made before types could be mixed), ``layer{i}.{cell}.{part}`` with several."""
        return f"layer{i}.{part}" if len(self.cells) == 1 else f"layer{i}.{cell}.{part}"

    # ------------------------------------------------------------------ encoding
    def encode(self, architecture: Architecture) -> Encoded:
        """The architecture's masks and one-hots (its layers must be in this space)."""
        n, w = self.layers, self.width
        active, dropout, rate = np.zeros(n, np.float32), np.zeros(n, np.float32), np.zeros(
            n, np.float32)
        mask = np.zeros((n, w), np.float32)
        taps = np.zeros((n, self.kernel_taps), np.float32)
        kind = np.zeros((n, len(self.cells)), np.float32)
        activation = np.zeros((n, len(self.activations)), np.float32)
        for i, layer in enumerate(architecture.layers):
            active[i] = 1.0
            if layer["type"] == "dropout":
                dropout[i], rate[i] = 1.0, float(layer["rate"])
                continue
            mask[i, :int(layer[_width_key(layer["type"])])] = 1.0
            first, k = self._first_tap(layer)
            taps[i, first:first + k] = 1.0
            kind[i, self.cells.index(layer["type"])] = 1.0
            activation[i, self.activations.index(layer["activation"])] = 1.0
        pooling = np.zeros(len(POOLINGS), np.float32)
        pooling[POOLINGS.index(self.pooling_of(architecture))] = 1.0
        return Encoded(active, dropout, rate, mask, taps, kind, activation, pooling)

    def _first_tap(self, layer: Mapping[str, Any]) -> tuple[int, int]:
        """(first row, taps) of a layer's kernel within the largest: the centre ``k`` taps,
        aligned as 'same' padding aligns a ``k``-tap kernel (module docstring)."""
        if layer["type"] != "conv1d":
            return 0, 1
        k = int(layer["kernel_size"])
        return (self.kernel_taps - 1) // 2 - (k - 1) // 2, k

    @staticmethod
    def pooling_of(architecture: Architecture) -> str:
        """The sequence-to-vector step the builder gives ``architecture``: its pooling decision,
        else the last state when its last weighted layer is a GRU, else (conv1d last, or
        dropout layers only) the average over time
        (:func:`~automl.builder.build.sequence_to_vector`)."""
        if architecture.pooling:
            return architecture.pooling
        weighted = [layer["type"] for layer in architecture.layers if layer["type"] != "dropout"]
        return "last" if weighted and weighted[-1] == "gru" else "avg"

    def _widths(self, architecture: Architecture) -> list[int]:
        """Input width of each layer, then of the head (dropout keeps the width it gets)."""
        widths, current = [], self.features
        for layer in architecture.layers:
            widths.append(current)
            if layer["type"] != "dropout":
                current = int(layer[_width_key(layer["type"])])
        return [*widths, current]

    def extract(self, architecture: Architecture) -> list[np.ndarray]:
        """The sub-network's weights in the order of ``build_model(architecture).get_weights()``
        (a dropout layer has none)."""
        widths = self._widths(architecture)
        out: list[np.ndarray] = []
        for i, layer in enumerate(architecture.layers):
            if layer["type"] == "dropout":
                continue
            cell = layer["type"]
            units, fan_in = int(layer[_width_key(cell)]), widths[i]
            kernel = self._value(self._name(i, cell, "kernel"))
            bias = self._value(self._name(i, cell, "bias"))
            if cell == "dense":
                out += [kernel[:fan_in, :units], bias[:units]]
            elif cell == "conv1d":
                first, k = self._first_tap(layer)
                out += [kernel[first:first + k, :fan_in, :units], bias[:units]]
            else:
                cols = np.concatenate([np.arange(g * self.width, g * self.width + units)
                                       for g in range(3)])
                recurrent = self._value(self._name(i, cell, "recurrent_kernel"))
                out += [kernel[:fan_in, cols], recurrent[:units, cols], bias[:, cols]]
        out += [self._value("head.kernel")[:widths[-1]], self._value("head.bias")]
        return [np.ascontiguousarray(w) for w in out]

    def param_count(self, architecture: Architecture) -> int:
        """Parameters of the standalone child (what the builder's model would count)."""
        widths = self._widths(architecture)
        total = (widths[-1] + 1) * self.spec.n_outputs
        for i, layer in enumerate(architecture.layers):
            cell = layer["type"]
            if cell != "dropout":
                units = int(layer[_width_key(cell)])
                taps = self._first_tap(layer)[1]
                total += ((widths[i] + 1) * units if cell == "dense"
                          else (taps * widths[i] + 1) * units if cell == "conv1d"
                          else 3 * units * (widths[i] + units + 2))
        return total

    def _value(self, name: str) -> np.ndarray:
        return np.asarray(self._var[name].numpy())

    # ------------------------------------------------------------------ weights
    def get_weights(self) -> dict[str, np.ndarray]:
        return {n: self._value(n) for n in self.names}

    def set_weights(self, arrays: Mapping[str, np.ndarray]) -> None:
        for name, variable in self._var.items():
            variable.assign(np.asarray(arrays[name], np.float32))

    # ------------------------------------------------------------------ the forward pass
    def forward(self, x: Any, enc: Sequence[Any], *, training: bool = False,
                seed: Any = None) -> Any:
        """Outputs (probabilities or regression values) of the sub-network ``enc`` encodes.

        ``enc`` is (active, dropout, rate, mask, taps, kind, activation, pooling) as tensors;
        ``seed`` a ``[2]`` int tensor for the stateless dropout masks (training only).
        """
        import tensorflow as tf

        active, dropout, rate, mask, taps, kind, activation, pooling = enc
        h = tf.convert_to_tensor(x, tf.float32)
        if self.depth_in > self.features:
            pad = [[0, 0]] * (len(h.shape) - 1) + [[0, self.depth_in - self.features]]
            h = tf.pad(h, pad)
        for i in range(self.layers):
            def run(h: Any = h, i: int = i) -> Any:
                def weighted() -> Any:
                    if len(self.cells) == 1:
                        return self._layer(h, i, self.cells[0], mask[i], taps[i], activation[i])
                    return tf.switch_case(  # only the chosen type's layer runs
                        tf.cast(tf.argmax(kind[i]), tf.int32),
                        [lambda cell=cell: self._layer(h, i, cell, mask[i], taps[i],
                                                       activation[i]) for cell in self.cells])
                if not self.has_dropout:
                    return weighted()
                if training:
                    def dropped() -> Any:
                        return tf.nn.experimental.stateless_dropout(
                            h, rate=tf.minimum(rate[i], 0.95), seed=seed + i)
                else:
                    def dropped() -> Any:
                        return h
                return tf.cond(dropout[i] > 0, dropped, weighted)
            h = tf.cond(active[i] > 0, run, lambda h=h: h)
        if self.sequence:
            pooled = tf.stack([tf.reduce_mean(h, axis=1), tf.reduce_max(h, axis=1),
                               h[:, -1, :]])
            h = tf.tensordot(pooling, pooled, axes=1)
        logits = tf.matmul(h, self._var["head.kernel"]) + self._var["head.bias"]
        if self.spec.output == "classification":
            return tf.nn.softmax(logits)
        return logits

    def _act(self, z: Any, onehot: Any) -> Any:
        """The chosen activation: a one-hot sum (exact: the others are multiplied by 0)."""
        import keras
        import tensorflow as tf

        out = tf.zeros_like(z)
        for k, name in enumerate(self.activations):
            out += onehot[k] * keras.activations.get(name)(z)
        return out

    def _pad(self, y: Any) -> Any:
        import tensorflow as tf

        if self.depth_in == self.width:
            return y
        return tf.pad(y, [[0, 0]] * (len(y.shape) - 1) + [[0, self.depth_in - self.width]])

    def _layer(self, h: Any, i: int, cell: str, mask: Any, taps: Any, onehot: Any) -> Any:
        import tensorflow as tf

        kernel = self._var[self._name(i, cell, "kernel")]
        bias = self._var[self._name(i, cell, "bias")]
        if cell == "dense":
            return self._pad(self._act(tf.matmul(h, kernel) + bias, onehot) * mask)
        if cell == "conv1d":  # taps outside the centre k are multiplied by zero
            z = tf.nn.conv1d(h, kernel * taps[:, None, None], stride=1, padding="SAME")
            return self._pad(self._act(z + bias, onehot) * mask)
        recurrent = self._var[self._name(i, cell, "recurrent_kernel")]
        w = self.width
        x_proj = tf.einsum("btd,dk->btk", h, kernel) + bias[0]

        def step(state: Any, x_t: Any) -> Any:
            inner = tf.matmul(state, recurrent) + bias[1]
            z = tf.sigmoid(x_t[:, :w] + inner[:, :w])
            r = tf.sigmoid(x_t[:, w:2 * w] + inner[:, w:2 * w])
            candidate = self._act(x_t[:, 2 * w:] + r * inner[:, 2 * w:], onehot)
            return (z * state + (1.0 - z) * candidate) * mask

        # tf.scan, not a Python loop over time: one small graph whatever the length (an
        # unrolled 29-step, 5-layer stack took two minutes to trace).
        states = tf.scan(step, tf.transpose(x_proj, [1, 0, 2]),
                         initializer=tf.zeros([tf.shape(h)[0], w]))
        return self._pad(tf.transpose(states, [1, 0, 2]))

    def predict(self, x: np.ndarray, architecture: Architecture, *,
                batch_size: int = 1024) -> np.ndarray:
        """Outputs of the sub-network on ``x`` (inference: no dropout)."""
        fn = self._function("predict")
        enc = _tensors(self.encode(architecture))
        return np.concatenate([np.asarray(fn(x[i:i + batch_size], *enc))
                               for i in range(0, len(x), batch_size)])

    def predict_many(self, x: np.ndarray, architectures: Sequence[Architecture], *,
                     batch_size: int = 1024) -> np.ndarray:
        """Outputs of each sub-network on ``x``, ``[len(architectures), len(x), ...]``: the
        same values as :meth:`predict` one by one, in one traced call per chunk of ``x``
        (the call's overhead, not its arithmetic, is most of a small network's score)."""
        fn = self._function("predict_many")
        enc = [np.stack(column) for column in zip(*(_tensors(self.encode(a))
                                                     for a in architectures), strict=True)]
        return np.concatenate([np.asarray(fn(x[i:i + batch_size], *enc))
                               for i in range(0, len(x), batch_size)], axis=1)

    def _function(self, kind: str) -> Any:
        """The traced forward pass (once per kind: every architecture shares its graph):
        ``predict`` for one architecture, ``predict_many`` mapped over a stack of them."""
        import tensorflow as tf

        if kind not in self._traced:
            signature = self.input_signature()
            if kind == "predict":
                def call(x: Any, *enc: Any) -> Any:
                    return self.forward(x, enc, training=False)
            else:  # "predict_many": each encoded input gains a leading architecture axis
                signature = [signature[0], *[tf.TensorSpec([None, *spec.shape], spec.dtype)
                                             for spec in signature[1:]]]

                def call(x: Any, *enc: Any) -> Any:
                    return tf.map_fn(lambda one: self.forward(x, one, training=False), enc,
                                     fn_output_signature=tf.float32)

            self._traced[kind] = tf.function(call, autograph=False, input_signature=signature)
        return self._traced[kind]

    def input_signature(self) -> list[Any]:
        """TensorSpecs of (x, *encoded) for traced functions over any architecture."""
        import tensorflow as tf

        return [tf.TensorSpec([None, *self.spec.input_shape], tf.float32),
                *[tf.TensorSpec([self.layers], tf.float32)] * 3,
                tf.TensorSpec([self.layers, self.width], tf.float32),
                tf.TensorSpec([self.layers, self.kernel_taps], tf.float32),
                tf.TensorSpec([self.layers, len(self.cells)], tf.float32),
                tf.TensorSpec([self.layers, len(self.activations)], tf.float32),
                tf.TensorSpec([len(POOLINGS)], tf.float32)]


def _tensors(enc: Encoded) -> list[np.ndarray]:
    return [enc.active, enc.dropout, enc.rate, enc.mask, enc.taps, enc.kind, enc.activation,
            enc.pooling]


def encoded_arrays(enc: Encoded) -> list[np.ndarray]:
    """The encoded architecture in the order :meth:`SuperNet.forward` takes it."""
    return _tensors(enc)


def _width_key(cell: str) -> str:
    """The parameter that sets a weighted layer's width."""
    return "filters" if cell == "conv1d" else "units"


def _glorot(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Keras' Glorot-uniform: fans of a conv kernel count its taps (receptive field)."""
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    limit = np.sqrt(6.0 / (receptive * (shape[-2] + shape[-1])))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def _orthogonal(rng: np.random.Generator, n: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(n, n)))
    return (q * np.sign(np.diag(r))).astype(np.float32)


__all__ = ["Encoded", "SuperNet", "check_one_shot", "encoded_arrays"]
