"""A small drawing of one architecture: input, its layers as stacked boxes, the head (SVG).

Drawn from what the store recorded (layer types and the summary's labels), so the report needs
no registry and runs no plugin code. Box width grows with the layer's units (or filters), so a
wide layer looks wide; the colour is the layer type's.
"""

from __future__ import annotations

import html
import math
import zlib
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

_PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
            "#9c755f", "#ff9da7", "#bab0ac")
_KNOWN = {"dense": 0, "conv1d": 1, "conv2d": 1, "gru": 2, "lstm": 2, "attention": 3,
          "dropout": 9, "batchnorm": 4, "pool": 5}


def colour_of(layer_type: str) -> str:
    index = _KNOWN.get(layer_type, zlib.crc32(layer_type.encode()) % len(_PALETTE))
    return _PALETTE[index]


def _size_of(layer: Mapping[str, Any]) -> float | None:
    for key in ("units", "filters"):
        value = layer.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value)
    return None


def architecture_svg(layers: Sequence[Mapping[str, Any]], labels: Sequence[str],
                     *, input_text: str = "input", head_text: str = "head") -> str:
    """Boxes top to bottom: input, one per layer (labelled ``labels[i]``), head."""
    box_h, gap, width = 18, 5, 230
    rows: list[tuple[str, str, float]] = [(input_text, "#dddddd", 0.45)]
    for i, layer in enumerate(layers):
        label = labels[i] if i < len(labels) else str(layer.get("type", "?"))
        size = _size_of(layer)
        fraction = 0.5 if size is None else min(1.0, 0.35 + 0.1 * math.log2(max(size, 1)) / 1.5)
        rows.append((label, colour_of(str(layer.get("type", ""))), fraction))
    rows.append((head_text, "#888888", 0.45))
    height = len(rows) * (box_h + gap) + gap
    parts = [f'<svg class="arch" xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" role="img">']
    for i, (label, colour, fraction) in enumerate(rows):
        w = width * fraction
        x, y = (width - w) / 2, gap + i * (box_h + gap)
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{box_h}" rx="3" '
                     f'fill="{colour}" fill-opacity="0.85"/>')
        parts.append(f'<text x="{width / 2}" y="{y + box_h - 5}" text-anchor="middle" '
                     f'font-size="10" font-family="sans-serif" fill="#111">'
                     f'{html.escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def layer_labels(summary: str) -> list[str]:
    """The per-layer labels of a stored summary (``Dense(16,relu) > GRU(32) | lr=0.01``)."""
    layers_part = summary.split(" | ", 1)[0]
    return [p.strip() for p in layers_part.split(" > ") if p.strip()]


__all__ = ["architecture_svg", "colour_of", "layer_labels"]
