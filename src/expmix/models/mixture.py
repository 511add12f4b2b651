"""The finite exponential mixture (paper eq. 2.5) truncated to a fit range.

``f_k(x) = sum_i w_i * p_i(x)`` with ``p_i(x) = beta_i exp(-beta_i (x - x_min)) / (1 - exp(-beta_i L))``
on ``[x_min, x_max]``, ``L = x_max - x_min`` (``x_max`` may be ``inf``). Each component is
normalised on the range, so the mixture is too. Everything is evaluated in log space
(:mod:`expmix._math`), which keeps flat components (``beta -> 0``), steep ones and far tails exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import logsumexp

from .._math import log_bin_prob, log_norm_density
from .._util import as_float_array, check_range, normalize_rng, readonly

__all__ = ["ExponentialMixture"]


@dataclass(frozen=True, eq=False)
class ExponentialMixture:
    """Finite mixture of exponentials, each truncated and normalised on ``support``.

    Parameters
    ----------
    rates : array_like, shape (k,)
        Rates ``beta_i >= 0`` in inverse units of x (``> 0`` when ``x_max`` is infinite).
    weights : array_like, shape (k,)
        Non-negative weights summing to one (within 1e-9).
    support : (float, float)
        The range ``(x_min, x_max)``; ``x_max`` may be ``inf``.

    Examples
    --------
    >>> m = ExponentialMixture([0.01, 0.002], [0.7, 0.3], (500.0, 10000.0))
    >>> round(float(m.integral(500.0, 10000.0)), 12)
    1.0
    """

    rates: np.ndarray
    weights: np.ndarray
    support: tuple[float, float]
    _logw: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        rates = as_float_array("rates", self.rates)
        weights = as_float_array("weights", self.weights)
        support = check_range("support", self.support)
        if rates.size < 1:
            raise ValueError("`rates` must hold at least one component (k >= 1), got 0")
        if rates.shape != weights.shape:
            raise ValueError(f"`weights` must have the shape of `rates` {rates.shape}, got {weights.shape}")
        if np.any(rates < 0):
            raise ValueError(f"`rates` must be >= 0, got {rates[rates < 0][0]}")
        if np.isinf(support[1]) and np.any(rates == 0):
            raise ValueError("`rates` must be > 0 when the support is unbounded (x_max = inf), got 0")
        if np.any(weights < 0):
            raise ValueError(f"`weights` must be >= 0, got {weights[weights < 0][0]}")
        if abs(weights.sum() - 1.0) > 1e-9:
            raise ValueError(f"`weights` must sum to 1 within 1e-9, got sum {weights.sum()!r}")
        object.__setattr__(self, "rates", readonly(rates.copy()))
        object.__setattr__(self, "weights", readonly(weights / weights.sum()))
        object.__setattr__(self, "support", support)
        with np.errstate(divide="ignore"):
            object.__setattr__(self, "_logw", readonly(np.log(self.weights)))

    # ----------------------------------------------------------------- basic facts
    @property
    def k(self) -> int:
        """Number of components."""
        return int(self.rates.size)

    @property
    def length(self) -> float:
        return self.support[1] - self.support[0]

    def _inside(self, x: np.ndarray) -> np.ndarray:
        return (x >= self.support[0]) & (x <= self.support[1])

    # ----------------------------------------------------------------- densities
    def log_component_pdf(self, x: Any) -> np.ndarray:
        """Log-density of each component at ``x``: shape (k, *x.shape), ``-inf`` outside."""
        x = np.asarray(x, dtype=float)
        b = self.rates.reshape((-1,) + (1,) * x.ndim)
        out = log_norm_density(b, self.length) - b * (x - self.support[0])
        return np.where(self._inside(x), out, -np.inf)

    def logpdf(self, x: Any) -> np.ndarray:
        """Log-density of the mixture, vectorized in ``x``; ``-inf`` outside the support."""
        x = np.asarray(x, dtype=float)
        lw = self._logw.reshape((-1,) + (1,) * x.ndim)
        return logsumexp(lw + self.log_component_pdf(x), axis=0)

    def pdf(self, x: Any) -> np.ndarray:
        """Density of the mixture."""
        return np.exp(self.logpdf(x))

    def _log_cdf_components(self, x: np.ndarray) -> np.ndarray:
        xc = np.clip(x, self.support[0], self.support[1])
        b = self.rates.reshape((-1,) + (1,) * x.ndim)
        return log_bin_prob(b, 0.0, xc - self.support[0], self.length)

    def cdf(self, x: Any) -> np.ndarray:
        """Cumulative distribution function (0 below, 1 above the support)."""
        x = np.asarray(x, dtype=float)
        lw = self._logw.reshape((-1,) + (1,) * x.ndim)
        with np.errstate(divide="ignore"):
            out = np.exp(logsumexp(lw + self._log_cdf_components(x), axis=0))
        out = np.where(x <= self.support[0], 0.0, out)
        return np.clip(out, 0.0, 1.0)

    def sf(self, x: Any) -> np.ndarray:
        """Survival function ``1 - cdf``, computed directly (accurate in the tail)."""
        x = np.asarray(x, dtype=float)
        xc = np.clip(x, self.support[0], self.support[1])
        b = self.rates.reshape((-1,) + (1,) * x.ndim)
        lw = self._logw.reshape((-1,) + (1,) * x.ndim)
        with np.errstate(divide="ignore", invalid="ignore"):
            comp = log_bin_prob(b, xc - self.support[0], self.support[1] - xc, self.length)
            out = np.exp(logsumexp(lw + comp, axis=0))
        out = np.where(x >= self.support[1], 0.0, out)
        return np.clip(np.nan_to_num(out, nan=0.0), 0.0, 1.0)

    def log_integral(self, a: Any, b: Any) -> np.ndarray:
        """Log of the probability of ``[a, b]`` (clipped to the support), vectorized."""
        a = np.clip(np.asarray(a, dtype=float), *self.support)
        b = np.clip(np.asarray(b, dtype=float), *self.support)
        a, b = np.broadcast_arrays(a, b)
        beta = self.rates.reshape((-1,) + (1,) * a.ndim)
        lw = self._logw.reshape((-1,) + (1,) * a.ndim)
        with np.errstate(divide="ignore", invalid="ignore"):
            comp = log_bin_prob(beta, a - self.support[0], b - a, self.length)
            out = logsumexp(lw + comp, axis=0)
        return np.where(b > a, out, -np.inf)

    def integral(self, a: Any, b: Any) -> np.ndarray:
        """Exact probability of ``[a, b]`` in closed form."""
        return np.exp(self.log_integral(a, b))

    def bin_probabilities(self, edges: Any) -> np.ndarray:
        """Exact probability of each bin ``[edges[j], edges[j+1]]``; shape (len(edges) - 1,)."""
        e = np.asarray(edges, dtype=float)
        return self.integral(e[:-1], e[1:])

    def bin_expectation(self, edges: Any, n_total: float) -> np.ndarray:
        """Expected counts ``n_total * P(bin)`` for each bin."""
        return n_total * self.bin_probabilities(edges)

    def mean(self) -> float:
        """Mean of the truncated mixture."""
        a, L = self.support[0], self.length
        means = []
        for b in self.rates:
            if np.isinf(L):
                means.append(a + 1.0 / b)
            elif b * L < 1e-8:
                means.append(a + L / 2.0)
            else:
                with np.errstate(over="ignore"):
                    means.append(a + 1.0 / b - L / np.expm1(b * L))
        return float(np.dot(self.weights, means))

    # ----------------------------------------------------------------- sampling
    def ppf(self, q: Any) -> np.ndarray:
        """Quantile function (inverse cdf), by a safeguarded Newton iteration on the exact cdf."""
        q = np.clip(np.asarray(q, dtype=float), 0.0, 1.0)
        if self.k == 1:
            return self._ppf_one(self.rates[0], q)
        lo = np.full(q.shape, self.support[0])
        hi = np.full(q.shape, self.support[1] if np.isfinite(self.support[1]) else np.inf)
        # start from the quantiles of the components, weighted
        x = np.clip(np.sum([w * self._ppf_one(b, q) for w, b in zip(self.weights, self.rates)], axis=0), *self.support)
        for _ in range(100):
            f = self.cdf(x) - q
            lo = np.where(f < 0, x, lo)
            hi = np.where(f > 0, x, hi)
            d = self.pdf(x)
            with np.errstate(divide="ignore", invalid="ignore"):
                xn = x - f / d
            mid = np.where(np.isfinite(hi), 0.5 * (lo + hi), np.where(lo > 0, 2 * lo, lo + 1.0))
            bad = ~np.isfinite(xn) | (xn <= lo) | (xn >= hi)
            xn = np.where(bad, mid, xn)
            if np.all(np.abs(xn - x) <= 1e-13 * np.maximum(1.0, np.abs(x))):
                x = xn
                break
            x = xn
        return np.clip(x, *self.support)

    def _ppf_one(self, b: float, q: np.ndarray) -> np.ndarray:
        a, L = self.support[0], self.length
        if b * L < 1e-12 if np.isfinite(L) else False:
            return a + q * L
        if np.isinf(L):
            return a - np.log1p(-q) / b
        # q = (1 - e^{-b t}) / (1 - e^{-b L})  ->  t = -log1p(q * expm1(-b L)) / b
        with np.errstate(divide="ignore"):
            return a - np.log1p(q * np.expm1(-b * L)) / b

    def sample(self, size: int | tuple[int, ...], *, rng: Any = None) -> np.ndarray:
        """Draw events: choose a component by weight, then invert its cdf exactly."""
        rng = normalize_rng(rng)
        size = (size,) if np.isscalar(size) else tuple(size)
        comp = rng.choice(self.k, size=size, p=self.weights)
        q = rng.random(size)
        out = np.empty(size)
        for i, b in enumerate(self.rates):
            m = comp == i
            out[m] = self._ppf_one(b, q[m])
        return out

    def __repr__(self) -> str:
        r = ", ".join(f"{b:.6g}" for b in self.rates)
        w = ", ".join(f"{v:.6g}" for v in self.weights)
        return f"ExponentialMixture(rates=[{r}], weights=[{w}], support={self.support})"
