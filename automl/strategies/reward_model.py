"""A learned reward model over architectures, for Dyna-style imagined episodes.

Sutton's Dyna (1991) lets an agent learn from a model of its environment between real steps.
Here the environment's only reward is a child's score, so the model is a regression from
architecture to reward over everything told so far: a Gaussian process whose kernel compares two
architectures decision by decision. The REINFORCE controller and the DQN agent train on
architectures *they* sample, scored by the model's optimistic estimate (mean + ``beta`` x std);
the agent, not the model, still proposes every real child.

Why a GP with this kernel:

* The distance between two architectures sums, over the decision slots of the space, 0 for the
  same value, 1 for different categorical values (activations, layer types), the normalised
  index distance for numeric grids (units 40..200, learning rates), and 1 when a slot exists in
  only one of them (a layer the other does not have). ``k = exp(-distance / lengthscale)``.
* Rewards are replaced by normal scores of their ranks before fitting (as TPE splits on
  quantiles): the model is blind to the reward's units and to outliers (a diverged regression
  child with a loss of 500 next to typical losses of 0.3).
* Lengthscale and noise are chosen by marginal likelihood from a small grid every few fits, so
  no setting is tuned to one benchmark. Fitting is a Cholesky of an n x n matrix: about 3 ms for
  500 children in NumPy.
* Children still training (asked, not yet told) can enter the fit as *fantasies*
  (Ginsbourger et al. 2010): with several workers an agent is asked again before it hears of
  its last proposals. A ``"believer"`` fantasy is the model's own mean (kriging believer: only
  the uncertainty there shrinks, as in GP-BUCB), a ``"liar"`` one the worst reward told
  (constant liar, CL-min: the region looks worse until the real result arrives), an
  ``"optimist"`` one the best reward told (CL-max).
* Why the agents fantasise optimistically: results come back in the order children *finish*,
  and the children that take longest to train are often the best (on the HPOBench tables the
  top 1 % trains 5-44x longer than the median row). Fitted on told results only, the model sees
  mostly the quick children; the agents, trained on it, drift to the quick region while the
  slow good children are still running, and with 4 simulated workers asked for a top child
  after up to three times as many children as sequentially (vehicle). A child in flight
  counted as the best told keeps its region attractive until its own result replaces the
  fantasy (docs/benchmark.md, "Children in flight as optimists").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.linalg import cho_solve
from scipy.linalg import solve_triangular
from scipy.special import ndtri
from scipy.stats import rankdata

from automl.space import Architecture
from automl.space import Decision
from automl.space import SearchSpace

LENGTHSCALES = (0.5, 1.0, 2.0, 4.0, 8.0)
"""Candidate lengthscales, in numbers of differing decisions."""

NOISES = (1e-3, 1e-2, 0.1, 0.3)
"""Candidate noise variances, relative to the unit variance of the rank-transformed rewards."""

FANTASIES = ("believer", "liar", "optimist", "none")
"""How children in flight enter a fit (module docstring): the model's mean, the worst told
reward, the best told reward, or not at all."""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class SlotCodes:
    """Architectures as integer vectors: per decision slot, the chosen index or -1 (absent)."""

    def __init__(self, space: SearchSpace):
        self.space = space
        self.slots: list[Decision] = space.slots()
        self.index = {d.slot: i for i, d in enumerate(self.slots)}
        # Per slot, the position of each choice on [0, 1] (numeric grids) or None (categorical).
        self.positions: list[np.ndarray | None] = []
        for d in self.slots:
            if len(d.choices) > 1 and all(_is_number(c) for c in d.choices):
                order = np.argsort(np.argsort(np.asarray(d.choices, dtype=float)))
                self.positions.append(order / (len(d.choices) - 1))
            else:
                self.positions.append(None)

    def __len__(self) -> int:
        return len(self.slots)

    def encode(self, architecture: Architecture) -> np.ndarray:
        codes = np.full(len(self.slots), -1, dtype=np.int64)
        for decision, choice in self.space.decisions_of(architecture):
            codes[self.index[decision.slot]] = choice
        return codes

    def decode(self, codes: np.ndarray) -> Architecture:
        """The architecture :meth:`encode` made ``codes`` from."""
        return self.space.decide(lambda d, _: d.choices[int(codes[self.index[d.slot]])])

    def distances(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """``[len(a), len(b)]`` summed per-slot distances between two code matrices."""
        out = np.zeros((len(a), len(b)))
        for s, position in enumerate(self.positions):
            ca, cb = a[:, s][:, None], b[:, s][None, :]
            present_a, present_b = ca >= 0, cb >= 0
            if position is None:
                same = (ca == cb) & present_a
                d = np.where(present_a & present_b, (~same).astype(float), 0.0)
            else:
                pa = position[np.maximum(ca, 0)]
                pb = position[np.maximum(cb, 0)]
                d = np.where(present_a & present_b, np.abs(pa - pb), 0.0)
            d = d + (present_a != present_b)  # a slot only one of them has
            out += d
        return out


def rank_scores(rewards: Sequence[float]) -> np.ndarray:
    """Normal scores of the ranks (ties share their mean rank): unit-free, outlier-proof."""
    values = np.asarray(rewards, dtype=float)
    return ndtri((rankdata(values) - 0.5) / len(values))


class RewardModel:
    """GP regression of rank-transformed rewards on architectures (see the module docstring).

    Args:
        space: The space whose architectures are modelled.
        refit_every: Fits between two marginal-likelihood searches over the hyperparameters.
        fantasy: How children in flight (:meth:`add_pending`) enter a fit; one of
            :data:`FANTASIES`.
    """

    def __init__(self, space: SearchSpace, refit_every: int = 10, fantasy: str = "none"):
        if fantasy not in FANTASIES:
            raise ValueError(f"fantasy must be one of {FANTASIES}, got {fantasy!r}")
        self.codes = SlotCodes(space)
        self.refit_every = refit_every
        self.fantasy = fantasy
        self.pending: dict[int, np.ndarray] = {}  # trial id -> codes of a child in flight
        self.x = np.zeros((0, len(self.codes)), dtype=np.int64)
        self.rewards: list[float] = []
        self._distances = np.zeros((0, 0))
        self._index: dict[bytes, int] = {}
        self.lengthscale = 2.0
        self.noise = 1e-2
        self._fits = 0
        self._alpha: np.ndarray | None = None
        self._chol: np.ndarray | None = None
        self._fit_x = self.x  # the points the last fit conditioned on (fantasies included)

    def __len__(self) -> int:
        return len(self.rewards)

    def find(self, codes: np.ndarray) -> int | None:
        """Index of the point with exactly these codes, if one was added."""
        return self._index.get(codes.tobytes())

    def add(self, codes: np.ndarray, reward: float) -> int:
        """Add one told result (``codes`` from :meth:`SlotCodes.encode`); returns its index."""
        self._index[codes.astype(np.int64).tobytes()] = len(self.rewards)
        row = self.codes.distances(codes[None, :], self.x)
        n = len(self.rewards)
        grown = np.zeros((n + 1, n + 1))
        grown[:n, :n] = self._distances
        grown[n, :n] = grown[:n, n] = row[0]
        self._distances = grown
        self.x = np.vstack([self.x, codes[None, :]])
        self.rewards.append(float(reward))
        self._alpha = None
        return len(self.rewards) - 1

    def add_pending(self, trial_id: int, codes: np.ndarray) -> None:
        """Record a child in flight: until :meth:`drop_pending`, fits include its fantasy."""
        self.pending[trial_id] = np.asarray(codes, dtype=np.int64)

    def drop_pending(self, trial_id: int) -> None:
        """The child's result arrived (or it will never be told): forget its fantasy."""
        self.pending.pop(trial_id, None)

    def fit(self) -> None:
        """Condition on every added result and on the fantasies of the children in flight
        (hyperparameters, chosen on real results only, re-chosen every ``refit_every``)."""
        y = rank_scores(self.rewards)
        if self._fits % self.refit_every == 0 and len(y) >= 3:
            best = -math.inf
            for lengthscale in LENGTHSCALES:
                kernel = np.exp(-self._distances / lengthscale)
                for noise in NOISES:
                    value = _log_marginal_likelihood(kernel, noise, y)
                    if value > best:
                        best, self.lengthscale, self.noise = value, lengthscale, noise
        self._condition(y)
        if self.pending and self.fantasy != "none" and len(y):
            self._condition_on_fantasies(y)

    def _condition_on_fantasies(self, y: np.ndarray) -> None:
        """Refit with each child in flight added at its fantasised reward."""
        pending = np.stack(list(self.pending.values()))
        if self.fantasy == "believer":
            lies, _ = self.predict(pending)
        else:
            lies = np.full(len(pending), y.min() if self.fantasy == "liar" else y.max())
        cross = self.codes.distances(pending, self.x)
        n = len(y)
        distances = np.zeros((n + len(pending), n + len(pending)))
        distances[:n, :n] = self._distances
        distances[n:, :n] = cross
        distances[:n, n:] = cross.T
        distances[n:, n:] = self.codes.distances(pending, pending)
        kernel = np.exp(-distances / self.lengthscale)
        kernel[np.diag_indices_from(kernel)] += self.noise
        self._chol = np.linalg.cholesky(kernel)
        self._alpha = cho_solve((self._chol, True), np.concatenate([y, lies]))
        self._fit_x = np.vstack([self.x, pending])

    @property
    def fitted(self) -> bool:
        return self._alpha is not None

    def predict(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation (rank-score units) of ``[m, slots]`` codes."""
        if self._alpha is None or self._chol is None:
            return np.zeros(len(codes)), np.ones(len(codes))
        cross = np.exp(-self.codes.distances(codes, self._fit_x) / self.lengthscale)
        mean = cross @ self._alpha
        v = solve_triangular(self._chol, cross.T, lower=True)
        variance = np.maximum(1.0 - np.sum(v * v, axis=0), 1e-12)
        return mean, np.sqrt(variance)

    def state(self) -> dict[str, object]:
        """JSON-able state; the code matrix ``x`` is saved separately as an array."""
        return {"rewards": self.rewards, "lengthscale": self.lengthscale, "noise": self.noise,
                "fits": self._fits, "fitted": self.fitted,
                "pending": [[trial_id, codes.tolist()] for trial_id, codes in
                            self.pending.items()]}

    def load_state(self, meta: dict[str, object], x: np.ndarray) -> None:
        self.x = np.asarray(x, dtype=np.int64).reshape(-1, len(self.codes))
        self.rewards = [float(r) for r in meta["rewards"]]  # type: ignore[attr-defined]
        self._distances = self.codes.distances(self.x, self.x)
        self._index = {row.tobytes(): i for i, row in enumerate(self.x)}
        self._fits = int(meta["fits"])  # type: ignore[call-overload]
        fitted = bool(meta["fitted"])
        self.lengthscale = float(meta["lengthscale"])  # type: ignore[arg-type]
        self.noise = float(meta["noise"])  # type: ignore[arg-type]
        self._alpha = self._chol = None
        self.pending = {int(trial_id): np.asarray(codes, dtype=np.int64)
                        for trial_id, codes in meta.get("pending", [])}  # type: ignore[attr-defined]
        if fitted:  # condition again with the saved hyperparameters (the fantasies too)
            y = rank_scores(self.rewards)
            self._condition(y, count=False)
            if self.pending and self.fantasy != "none":
                self._condition_on_fantasies(y)

    def _condition(self, y: np.ndarray, *, count: bool = True) -> None:
        self._fits += count
        kernel = np.exp(-self._distances / self.lengthscale)
        kernel[np.diag_indices_from(kernel)] += self.noise
        self._chol = np.linalg.cholesky(kernel)
        self._alpha = cho_solve((self._chol, True), y)
        self._fit_x = self.x

    def optimistic(self, codes: np.ndarray, beta: float) -> np.ndarray:
        """Upper confidence bound ``mean + beta * std``: the imagined reward of each code row."""
        mean, std = self.predict(codes)
        return mean + beta * std


def dyna_due(told: int, warmup: int, horizon: int) -> bool:
    """Whether imagined training follows the ``told``-th distinct result.

    Not before ``warmup`` results (the model needs a few points); after every result up to
    ``horizon``; then after every ``ceil(told / horizon)``-th. A model of hundreds of points
    moves little with one more, so imagining after each would cost (tens of milliseconds per
    result at 500) without teaching the agent more; this way the rounds of imagination grow with
    the logarithm of the search's length and their cost per result stays flat.
    """
    if told < warmup:
        return False
    return told <= horizon or told % math.ceil(told / horizon) == 0


def _log_marginal_likelihood(kernel: np.ndarray, noise: float, y: np.ndarray) -> float:
    k = kernel.copy()
    k[np.diag_indices_from(k)] += noise
    try:
        chol = np.linalg.cholesky(k)
    except np.linalg.LinAlgError:
        return -math.inf
    alpha = cho_solve((chol, True), y)
    return float(-0.5 * y @ alpha - np.log(np.diag(chol)).sum())


__all__ = ["FANTASIES", "RewardModel", "SlotCodes", "dyna_due", "rank_scores"]
