"""Built-in strategies, registered lazily so that choosing one imports only its dependencies."""

from automl.registry import STRATEGIES

STRATEGIES.register("random", "automl.strategies.random:RandomSearch")
