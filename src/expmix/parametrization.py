"""Unconstrained fit parameters of the exponential mixture, and the count of free parameters.

The fit works on ``theta = (r_1, ..., r_k, v_2, ..., v_k)``:

* ``r_i = beta_i / beta_ref`` is the rate in units of the reference rate
  ``beta_ref = 1 / (mean(x) - x_min)`` (the closed-form k=1 MLE on ``[x_min, inf)``), bounded to
  ``[0, cap]`` with ``cap = 50`` by default (paper Section 3);
* ``v_i`` are softmax logits with ``v_1 = 0`` fixed (paper eq. 2.6): ``w_i = e^{v_i} / sum_j e^{v_j}``.

That is ``k`` rates plus ``k - 1`` logits, ``2k - 1`` free parameters, plus one yield in an
extended fit. :func:`n_free_parameters` is the single place where this count is written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .models.mixture import ExponentialMixture

__all__ = ["MixtureParametrization", "n_free_parameters", "softmax_weights", "split_starts"]

DEFAULT_CAP = 50.0


def n_free_parameters(k: int, extended: bool = False) -> int:
    """Free parameters of a k-component mixture: ``2k - 1`` (+1 for the yield when extended)."""
    if int(k) != k or k < 1:
        raise ValueError(f"`k` must be an integer >= 1, got {k!r}")
    return 2 * int(k) - 1 + int(bool(extended))


def softmax_weights(logits: np.ndarray) -> np.ndarray:
    """Weights from the free logits ``v_2..v_k`` (``v_1 = 0``)."""
    v = np.concatenate([[0.0], np.asarray(logits, dtype=float)])
    e = np.exp(v - v.max())
    return e / e.sum()


@dataclass(frozen=True)
class MixtureParametrization:
    """Map between ``theta`` and :class:`~expmix.models.ExponentialMixture` for fixed ``k``."""

    k: int
    beta_ref: float
    support: tuple[float, float]
    cap: float = DEFAULT_CAP

    def __post_init__(self) -> None:
        n_free_parameters(self.k)
        if not (np.isfinite(self.beta_ref) and self.beta_ref > 0):
            raise ValueError(f"`beta_ref` must be positive and finite, got {self.beta_ref}")
        if not self.cap > 0:
            raise ValueError(f"`cap` must be > 0, got {self.cap}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"r{i + 1}" for i in range(self.k)) + tuple(f"v{i + 1}" for i in range(1, self.k))

    @property
    def n_free(self) -> int:
        return n_free_parameters(self.k)

    @property
    def limits(self) -> list[tuple[float, float] | None]:
        lo = 1e-9 if np.isinf(self.support[1]) else 0.0
        return [(lo, self.cap)] * self.k + [None] * (self.k - 1)

    def split(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(beta, logw)`` from ``theta``."""
        theta = np.asarray(theta, dtype=float)
        beta = theta[: self.k] * self.beta_ref
        v = np.concatenate([[0.0], theta[self.k :]])
        with np.errstate(all="ignore"):  # inf/nan logits give nan weights; the cost turns them into inf
            m = v.max()
            logw = v - (m + np.log(np.exp(v - m).sum()))
        return beta, logw

    def to_model(self, theta: np.ndarray) -> ExponentialMixture:
        beta, logw = self.split(theta)
        return ExponentialMixture(np.maximum(beta, 0.0), np.exp(logw), self.support)

    def from_model(self, model: ExponentialMixture) -> np.ndarray:
        """``theta`` of a model with the same ``k`` (weights clipped at 1e-300 before the log)."""
        if model.k != self.k:
            raise ValueError(f"`model` must have k = {self.k} components, got {model.k}")
        lw = np.log(np.maximum(model.weights, 1e-300))
        return np.concatenate([np.clip(model.rates / self.beta_ref, 0.0, self.cap), lw[1:] - lw[0]])


def split_starts(prev: np.ndarray, k: int, cap: float = DEFAULT_CAP) -> list[np.ndarray]:
    """Informed starts for k components from fits with k - 1 (rows of ``prev``, shape (T, 2k-3)).

    In this order: the heaviest component split in two at 0.7 and 1.3 times its rate (half the
    weight each); a steep component (4 times the largest rate, weight 0.03) added; a flat one
    (a quarter of the smallest rate, weight 0.03) added; the heaviest component split at 0.5 and
    2 times its rate; then each other component split at 0.7 and 1.3. Returns arrays (T, 2k-1)
    in the parametrisation of :class:`MixtureParametrization` (rates clipped to ``cap``).
    """
    prev = np.atleast_2d(np.asarray(prev, dtype=float))
    km = k - 1
    r = np.clip(prev[:, :km], 1e-6, cap)
    v = np.concatenate([np.zeros((prev.shape[0], 1)), prev[:, km:]], axis=1)
    w = np.exp(v - v.max(axis=1, keepdims=True))
    w /= w.sum(axis=1, keepdims=True)
    order = np.argsort(-w, axis=1)
    rows = np.arange(prev.shape[0])
    heavy = order[:, 0]
    plan: list[tuple[str, np.ndarray, float, float]] = [
        ("split", heavy, 0.7, 1.3), ("steep", heavy, 0, 0), ("flat", heavy, 0, 0), ("split", heavy, 0.5, 2.0),
    ]
    plan += [("split", order[:, i], 0.7, 1.3) for i in range(1, km)]
    out = []
    for mode, j, f_lo, f_hi in plan:
        rr = np.concatenate([r, np.zeros((r.shape[0], 1))], axis=1)
        ww = np.concatenate([w, np.zeros((w.shape[0], 1))], axis=1)
        if mode == "split":
            rr[rows, j] = r[rows, j] * f_lo
            rr[:, -1] = np.minimum(r[rows, j] * f_hi, cap)
            ww[rows, j] = w[rows, j] / 2
            ww[:, -1] = w[rows, j] / 2
        else:
            rr[:, -1] = np.minimum(4 * r.max(axis=1), cap) if mode == "steep" else 0.25 * r.min(axis=1)
            ww[:, :-1] *= 0.97
            ww[:, -1] = 0.03
        lw = np.log(ww)
        out.append(np.concatenate([rr, lw[:, 1:] - lw[:, :1]], axis=1))
    return out
