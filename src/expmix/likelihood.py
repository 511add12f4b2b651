"""Negative log-likelihoods: pure functions of (model, data), and fast costs for the minimizer.

What to use when
----------------
* :func:`nll` -- the NLL of any model (mixture, family, signal+background) on any data container.
  This is **the** quantity used for AIC/BIC (``-2 ln L = 2 * nll``).
* :func:`roofit_nll` -- the same binned NLL in RooFit's convention, for comparisons.
* :class:`MixtureNLL` / :class:`FamilyNLL` -- callables of the free parameters with the data
  pre-processed, used by :func:`expmix.fit.fit`; the mixture cost has an analytic gradient.

Conventions
-----------
Unbinned: ``nll = -sum_i ln f(x_i)`` (paper eq. 3.8), ``f`` normalised on the range.

Binned: ``nll = -sum_b n_b ln p_b`` with ``p_b`` the exact probability of bin ``b`` (for the mixture
a closed form, paper eq. 3.3; for the families Gauss-Legendre quadrature). This is the
multinomial likelihood, equal to the Poisson likelihood of eq. 3.2 with the total yield profiled
(``nu = N``) up to the data-only constant ``N - N ln N + sum_b ln n_b!``. Empty bins contribute
nothing to the sum but take their share of the probability, so they constrain the shape.

RooFit's binned NLL (``RooDataHist`` with integrated bins) is
``-sum_b n_b ln(p_b / w_b)``, with ``w_b`` the bin widths, i.e. ``nll + sum_b n_b ln w_b``:
:func:`roofit_nll` returns it, :func:`roofit_offset` the constant.

Extended: add ``nu - N ln nu`` (Poisson term of the total yield ``nu``).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np
from scipy.special import xlogy

from ._math import dlog_bin_prob, dlog_norm_density, log_bin_prob, log_norm_density
from .data import BinnedData, UnbinnedData
from .models.families import Family, FamilyModel, _segment_logsumexp, get_family, quadrature
from .parametrization import MixtureParametrization

__all__ = [
    "FamilyNLL",
    "MixtureNLL",
    "SpectrumModel",
    "extended_term",
    "nll",
    "roofit_nll",
    "roofit_offset",
]


class SpectrumModel(Protocol):
    """What a model needs for likelihoods: a normalised log-density and bin probabilities."""

    support: tuple[float, float]

    def logpdf(self, x: Any) -> np.ndarray: ...

    def bin_probabilities(self, edges: Any) -> np.ndarray: ...


def nll(model: SpectrumModel, data: UnbinnedData | BinnedData) -> float:
    """Negative log-likelihood of ``model`` for ``data`` (conventions in the module docstring)."""
    if isinstance(data, BinnedData):
        p = model.bin_probabilities(data.edges)
        with np.errstate(divide="ignore"):
            return float(-np.sum(xlogy(data.counts, p)))
    if isinstance(data, UnbinnedData):
        return float(-np.sum(model.logpdf(data.x)))
    raise TypeError(f"`data` must be UnbinnedData or BinnedData, got {type(data).__name__}")


def roofit_offset(data: BinnedData) -> float:
    """``sum_b n_b ln w_b``: add it to :func:`nll` to obtain RooFit's binned NLL."""
    return float(np.sum(xlogy(data.counts, data.widths)))


def roofit_nll(model: SpectrumModel, data: BinnedData) -> float:
    """Binned NLL in RooFit's convention ``-sum_b n_b ln(p_b / w_b)``."""
    if not isinstance(data, BinnedData):
        raise TypeError("`data` must be BinnedData for roofit_nll")
    return nll(model, data) + roofit_offset(data)


def extended_term(nu: float, n_events: float) -> float:
    """Poisson term of an extended likelihood: ``nu - N ln nu``."""
    return float(nu - xlogy(n_events, nu))


# ============================================================================ fast costs
class MixtureNLL:
    """NLL of a k-component mixture as a function of ``theta`` (see :mod:`expmix.parametrization`).

    Calling returns the NLL; :meth:`grad` the analytic gradient. Bad parameters give ``inf``,
    never an exception. Binned data: only non-empty bins enter the sum (their probabilities are
    normalised on the whole range, so empty bins still count through the normalisation).
    """

    errordef = 0.5

    def __init__(self, data: UnbinnedData | BinnedData, par: MixtureParametrization) -> None:
        self.data = data
        self.par = par
        a, b = data.range
        self.length = b - a
        if isinstance(data, BinnedData):
            keep = data.counts > 0
            self.w = data.counts[keep]
            self.lo = (data.edges[:-1] - a)[keep]
            self.width = data.widths[keep]
            self.binned = True
        else:
            self.w = None
            self.d = data.x - a
            self.binned = False
        self._cache_theta: np.ndarray | None = None
        self._cache: tuple[float, np.ndarray] | None = None

    def _terms(self, beta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per-component log-probabilities (k, n) and their derivatives in beta."""
        b = beta[:, None]
        if self.binned:
            return (
                log_bin_prob(b, self.lo, self.width, self.length),
                dlog_bin_prob(b, self.lo, self.width, self.length),
            )
        lp = log_norm_density(b, self.length) - b * self.d
        return lp, dlog_norm_density(b, self.length) - self.d

    def value_and_grad(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        theta = np.asarray(theta, dtype=float)
        if self._cache_theta is not None and np.array_equal(theta, self._cache_theta):
            return self._cache  # type: ignore[return-value]
        beta, logw = self.par.split(theta)
        with np.errstate(all="ignore"):
            lp, dlp = self._terms(beta)
            t = lp + logw[:, None]
            mx = t.max(axis=0)
            e = np.exp(t - mx)
            s = e.sum(axis=0)
            lse = np.log(s) + mx
            gam = e / s
            if self.binned:
                val = -float(np.dot(self.w, lse))
                gw = gam * self.w
            else:
                val = -float(lse.sum())
                gw = gam
            g_beta = -np.sum(gw * dlp, axis=1) * self.par.beta_ref
            n_tot = gw.sum(axis=1)
            g_v = -(n_tot[1:] - np.exp(logw[1:]) * n_tot.sum())
        grad = np.concatenate([g_beta, g_v])
        if not np.isfinite(val):
            val = np.inf
        grad = np.where(np.isfinite(grad), grad, 0.0)
        self._cache_theta, self._cache = theta.copy(), (val, grad)
        return val, grad

    def __call__(self, theta: np.ndarray) -> float:
        return self.value_and_grad(theta)[0]

    def log_f(self, theta: np.ndarray) -> np.ndarray:
        """Log density at each event, or log probability of each non-empty bin."""
        beta, logw = self.par.split(theta)
        with np.errstate(all="ignore"):
            t = self._terms(beta)[0] + logw[:, None]
            mx = t.max(axis=0)
            return np.log(np.exp(t - mx).sum(axis=0)) + mx

    def grad(self, theta: np.ndarray) -> np.ndarray:
        return self.value_and_grad(theta)[1]


class FamilyNLL:
    """NLL of a reference family as a function of its shape parameters (numerical gradient)."""

    errordef = 0.5

    def __init__(self, data: UnbinnedData | BinnedData, family: str | Family, scale: float = 13000.0) -> None:
        self.data = data
        self.family = get_family(family)
        self.scale = scale
        a, b = data.range
        if not np.isfinite(b):
            raise ValueError(f"`data.range` must be finite for family {self.family.name!r}, got {data.range}")
        self._shift = a if not self.family.uses_scale else 0.0
        self._div = 1.0 if not self.family.uses_scale else scale
        if isinstance(data, BinnedData):
            keep = data.counts > 0
            nodes, logw, starts = quadrature(data.edges)
            # keep only the nodes of non-empty bins for the numerator; all for the normalisation
            self.binned = True
            self.counts = data.counts[keep]
            bin_of_node = np.repeat(np.arange(data.counts.size), np.diff(np.append(starts, nodes.size)))
            sel = keep[bin_of_node]
            self.t_nodes = (nodes[sel] - self._shift) / self._div
            self.logw_nodes = logw[sel]
            new_starts = np.flatnonzero(np.diff(np.concatenate([[-1], bin_of_node[sel]])) != 0)
            self.starts = new_starts
            self.t_norm = (nodes - self._shift) / self._div
            self.logw_norm = logw
        else:
            self.binned = False
            self.t = (data.x - self._shift) / self._div
            nodes, logw, _ = quadrature(data.range)
            self.t_norm = (nodes - self._shift) / self._div
            self.logw_norm = logw
        self.n = data.n_events

    def _log_shape(self, t: np.ndarray, p: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = self.family.log_shape(t, p)
        return np.where(np.isnan(out), -np.inf, out)

    def __call__(self, p: np.ndarray) -> float:
        p = np.asarray(p, dtype=float)
        with np.errstate(all="ignore"):
            ln = self._log_shape(self.t_norm, p) + self.logw_norm
            mx = ln.max()
            if not np.isfinite(mx):
                return np.inf
            log_norm = np.log(np.exp(ln - mx).sum()) + mx
            if self.binned:
                lb = _segment_logsumexp(self._log_shape(self.t_nodes, p) + self.logw_nodes, self.starts)
                val = -float(np.dot(self.counts, lb)) + self.n * log_norm
            else:
                val = -float(self._log_shape(self.t, p).sum()) + self.n * log_norm
        return val if np.isfinite(val) else np.inf

    def log_f(self, p: np.ndarray) -> np.ndarray:
        """Log density at each event, or log probability of each non-empty bin."""
        p = np.asarray(p, dtype=float)
        with np.errstate(all="ignore"):
            ln = self._log_shape(self.t_norm, p) + self.logw_norm
            mx = ln.max()
            log_norm = np.log(np.exp(ln - mx).sum()) + mx if np.isfinite(mx) else np.inf
            if self.binned:
                return _segment_logsumexp(self._log_shape(self.t_nodes, p) + self.logw_nodes, self.starts) - log_norm
            return self._log_shape(self.t, p) - log_norm

    def model(self, p: np.ndarray) -> FamilyModel:
        return FamilyModel(self.family, p, self.data.range, scale=self.scale)
