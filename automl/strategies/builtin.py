"""Built-in strategies, registered lazily so that choosing one imports only its dependencies."""

from automl.registry import STRATEGIES

STRATEGIES.register("random", "automl.strategies.random:RandomSearch")
STRATEGIES.register("reinforce", "automl.strategies.reinforce:Reinforce")
STRATEGIES.register("tpe", "automl.strategies.tpe:TPE")
STRATEGIES.register("evolution", "automl.strategies.evolution:RegularizedEvolution")
STRATEGIES.register("dqn", "automl.strategies.dqn:DQN")
STRATEGIES.register("grid", "automl.strategies.grid:GridSearch")
