"""automl: architecture search for deep learning on signals."""

__version__ = "0.1.0"
