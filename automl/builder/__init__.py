"""Child builder: Architecture + task facts -> keras.Model (builds, never fits)."""

from automl.builder.build import ModelSpec
from automl.builder.build import build_model
from automl.builder.build import convert
from automl.builder.describe import describe
from automl.builder.layer_type import BuildContext
from automl.builder.layer_type import LayerType

__all__ = ["BuildContext", "LayerType", "ModelSpec", "build_model", "convert", "describe"]
