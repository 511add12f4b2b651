"""Reference families: the ATLAS dijet function, the CMS diphoton families f1..f4 and the GPD.

Each family is a shape ``g(m; p)`` with the overall constant ``p0`` dropped: the density is
``g / integral_range g``, so only shape parameters are free. For the power-law families the
variable is ``x = m / scale`` with ``scale = sqrt(s) = 13000`` GeV by default (paper eqs. 3.1 and
3.4-3.7); the likelihood does not depend on ``scale`` (it re-parametrises each family), only the
conditioning of the fit does.

=========== ================================================ ==================
name        shape g(x)                                        parameters
=========== ================================================ ==================
``dijet``   ``(1-x)^p1 * x^(p2 + p3 ln x)``                   p1, p2, p3
``dijet5``  ``(1-x)^p1 * x^(p2 + p3 ln x + p4 ln^2 x)``       p1..p4
``dijet3``  ``(1-x)^p1 * x^p2``                                p1, p2
``f1``      ``x^(p1 + p2 ln x)``                               p1, p2
``f2``      ``exp(p1 x) * x^p2``                               p1, p2
``f3``      ``(1 + p1 x)^p2``                                  p1, p2
``f4``      ``(1 + p1 x)^(p2 + p3 x)``                         p1, p2, p3
``gpd``     ``(1 + xi (m - x_min)/sigma)^(-1/xi - 1)``         sigma, xi
=========== ================================================ ==================

Normalisations and bin integrals use composite Gauss-Legendre quadrature in ``log m`` with
panels no wider than 2% in ``m`` (relative error far below 1e-12 for these smooth shapes).
Informed starting values come from a weighted linear least-squares fit of ``log g`` to the log
of a histogram of the data: exact for the families that are linear in their parameters after a
log (dijet, f1, f2), and profiled over a grid of ``p1`` for f3, f4 (and of ``xi`` for the GPD).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Callable

import numpy as np
from scipy.special import logsumexp, xlogy

from .._util import as_float_array, check_range, normalize_rng, readonly

__all__ = ["FAMILIES", "Family", "FamilyModel", "get_family", "quadrature"]

SQRT_S = 13000.0


def _log1px(p1: float, x: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log1p(p1 * x)


@dataclass(frozen=True)
class Family:
    """A named parametric shape; ``log_shape(x, p)`` is ``log g`` at ``x = m / scale``."""

    name: str
    params: tuple[str, ...]
    log_shape: Callable[[np.ndarray, np.ndarray], np.ndarray]
    description: str
    uses_scale: bool = True
    linear_basis: Callable[[np.ndarray, float], np.ndarray] | None = None
    nonlinear_grid: tuple[float, ...] | None = None

    @property
    def n_params(self) -> int:
        return len(self.params)


def _dijet(x, p):
    with np.errstate(invalid="ignore", divide="ignore"):
        lx = np.log(x)
        return xlogy(p[0], 1 - x) + (p[1] + p[2] * lx) * lx


def _dijet5(x, p):
    with np.errstate(invalid="ignore", divide="ignore"):
        lx = np.log(x)
        return xlogy(p[0], 1 - x) + (p[1] + p[2] * lx + p[3] * lx * lx) * lx


def _dijet3(x, p):
    with np.errstate(invalid="ignore", divide="ignore"):
        return xlogy(p[0], 1 - x) + p[1] * np.log(x)


def _f1(x, p):
    lx = np.log(x)
    return (p[0] + p[1] * lx) * lx


def _f2(x, p):
    return p[0] * x + p[1] * np.log(x)


def _f3(x, p):
    return p[1] * _log1px(p[0], x)


def _f4(x, p):
    return (p[1] + p[2] * x) * _log1px(p[0], x)


def _gpd(t, p):
    # t = m - x_min (scale is not used); p = (sigma, xi)
    sigma, xi = p
    with np.errstate(invalid="ignore", divide="ignore"):
        if abs(xi) < 1e-10:
            return -np.log(sigma) - t / sigma
        return -np.log(sigma) - (1.0 / xi + 1.0) * np.log1p(xi * t / sigma)


def _basis_dijet(x, _):
    return np.stack([np.log1p(-x), np.log(x), np.log(x) ** 2], axis=1)


def _basis_dijet5(x, _):
    lx = np.log(x)
    return np.stack([np.log1p(-x), lx, lx**2, lx**3], axis=1)


def _basis_dijet3(x, _):
    return np.stack([np.log1p(-x), np.log(x)], axis=1)


def _basis_f1(x, _):
    return np.stack([np.log(x), np.log(x) ** 2], axis=1)


def _basis_f2(x, _):
    return np.stack([x, np.log(x)], axis=1)


def _basis_f3(x, p1):
    return np.stack([np.log1p(p1 * x)], axis=1)


def _basis_f4(x, p1):
    l1 = np.log1p(p1 * x)
    return np.stack([l1, x * l1], axis=1)


_P1_GRID = tuple(np.geomspace(1e-2, 1e4, 61))

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family("dijet", ("p1", "p2", "p3"), _dijet, "ATLAS dijet (1-x)^p1 x^(p2 + p3 ln x)", linear_basis=_basis_dijet),
        Family("dijet5", ("p1", "p2", "p3", "p4"), _dijet5, "dijet with a ln^2 x term", linear_basis=_basis_dijet5),
        Family("dijet3", ("p1", "p2"), _dijet3, "dijet without the ln x term", linear_basis=_basis_dijet3),
        Family("f1", ("p1", "p2"), _f1, "CMS f1 = x^(p1 + p2 ln x)", linear_basis=_basis_f1),
        Family("f2", ("p1", "p2"), _f2, "CMS f2 = exp(p1 x) x^p2", linear_basis=_basis_f2),
        Family("f3", ("p1", "p2"), _f3, "CMS f3 = (1 + p1 x)^p2", linear_basis=_basis_f3, nonlinear_grid=_P1_GRID),
        Family("f4", ("p1", "p2", "p3"), _f4, "CMS f4 = (1 + p1 x)^(p2 + p3 x)", linear_basis=_basis_f4, nonlinear_grid=_P1_GRID),
        Family("gpd", ("sigma", "xi"), _gpd, "generalised Pareto, threshold at x_min", uses_scale=False),
    ]
}


def get_family(name: str | Family) -> Family:
    """Look up a family by name (see the module table)."""
    if isinstance(name, Family):
        return name
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"`family` must be one of {sorted(FAMILIES)}, got {name!r}") from None


# --------------------------------------------------------------------- quadrature
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(12)


@lru_cache(maxsize=64)
def _quadrature_cached(edges: tuple[float, ...], max_rel: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    e = np.asarray(edges)
    lo, hi = e[:-1], e[1:]
    if e[0] > 0:
        npan = np.maximum(1, np.ceil(np.log(hi / lo) / np.log1p(max_rel)).astype(int))
    else:
        npan = np.maximum(1, np.ceil((hi - lo) / (max_rel * max(abs(e[-1]), 1.0))).astype(int))
    nodes, weights, start = [], [], [0]
    for a, b, n in zip(lo, hi, npan):
        if a > 0:  # panels equally spaced in log m, integrate g(m) dm = g(m) m d(log m)
            la = np.linspace(np.log(a), np.log(b), n + 1)
            mid, half = 0.5 * (la[1:] + la[:-1]), 0.5 * np.diff(la)
            t = (mid[:, None] + half[:, None] * _GL_NODES).ravel()
            m = np.exp(t)
            w = (half[:, None] * _GL_WEIGHTS).ravel() * m
        else:
            pa = np.linspace(a, b, n + 1)
            mid, half = 0.5 * (pa[1:] + pa[:-1]), 0.5 * np.diff(pa)
            m = (mid[:, None] + half[:, None] * _GL_NODES).ravel()
            w = (half[:, None] * _GL_WEIGHTS).ravel()
        nodes.append(m)
        weights.append(w)
        start.append(start[-1] + m.size)
    with np.errstate(divide="ignore"):  # zero-width bins (edges clipped to the support) get -inf
        logw = np.log(np.concatenate(weights))
    return (
        readonly(np.concatenate(nodes)),
        readonly(logw),
        readonly(np.asarray(start[:-1], dtype=np.intp)),
    )


def quadrature(edges: Any, max_rel: float = 0.02) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes, log-weights and the first node index of each bin of ``edges``."""
    e = np.asarray(edges, dtype=float)
    return _quadrature_cached(tuple(e.tolist()), float(max_rel))


def _segment_logsumexp(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """logsumexp over contiguous segments beginning at ``starts`` (last axis)."""
    mx = np.maximum.reduceat(values, starts, axis=-1)
    finite = np.where(np.isfinite(mx), mx, 0.0)
    rep = np.repeat(finite, np.diff(np.append(starts, values.shape[-1])), axis=-1)
    with np.errstate(divide="ignore"):
        return np.log(np.add.reduceat(np.exp(values - rep), starts, axis=-1)) + finite


# --------------------------------------------------------------------- models
@dataclass(frozen=True, eq=False)
class FamilyModel:
    """A reference family with fixed shape parameters, normalised on ``support``.

    Parameters
    ----------
    family : str or Family
        One of :data:`FAMILIES`.
    params : array_like, shape (n_params,)
        Shape parameters (see the module table).
    support : (float, float)
        Finite range ``(x_min, x_max)`` in units of m.
    scale : float, optional
        ``x = m / scale``; default ``sqrt(s) = 13000`` GeV.
    """

    family: Family
    params: np.ndarray
    support: tuple[float, float]
    scale: float = SQRT_S
    _log_norm: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        fam = get_family(self.family)
        params = as_float_array("params", self.params)
        if params.size != fam.n_params:
            raise ValueError(f"`params` of family {fam.name!r} must have {fam.n_params} entries {fam.params}, got {params.size}")
        support = check_range("support", self.support, allow_inf_upper=False)
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"`scale` must be positive and finite, got {self.scale}")
        object.__setattr__(self, "family", fam)
        object.__setattr__(self, "params", readonly(params.copy()))
        object.__setattr__(self, "support", support)
        nodes, logw, _ = quadrature(support)
        object.__setattr__(self, "_log_norm", float(logsumexp(self._log_shape(nodes) + logw)))

    @property
    def name(self) -> str:
        return self.family.name

    def _log_shape(self, m: np.ndarray) -> np.ndarray:
        t = m - self.support[0] if not self.family.uses_scale else m / self.scale
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            out = self.family.log_shape(t, self.params)
        return np.where(np.isnan(out), -np.inf, out)

    def logpdf(self, x: Any) -> np.ndarray:
        """Normalised log-density; ``-inf`` outside the support."""
        x = np.asarray(x, dtype=float)
        inside = (x >= self.support[0]) & (x <= self.support[1])
        xs = np.where(inside, x, self.support[0])
        return np.where(inside, self._log_shape(xs) - self._log_norm, -np.inf)

    def pdf(self, x: Any) -> np.ndarray:
        return np.exp(self.logpdf(x))

    def bin_probabilities(self, edges: Any) -> np.ndarray:
        """Probability of each bin by Gauss-Legendre quadrature."""
        e = np.clip(np.asarray(edges, dtype=float), *self.support)
        nodes, logw, starts = quadrature(e)
        return np.exp(_segment_logsumexp(self._log_shape(nodes) + logw, starts) - self._log_norm)

    def bin_expectation(self, edges: Any, n_total: float) -> np.ndarray:
        return n_total * self.bin_probabilities(edges)

    def integral(self, a: Any, b: Any) -> np.ndarray:
        """Probability of ``[a, b]`` (clipped to the support), vectorized through :meth:`cdf`."""
        a, b = np.broadcast_arrays(np.asarray(a, float), np.asarray(b, float))
        return np.where(b > a, np.clip(self.cdf(b) - self.cdf(a), 0.0, 1.0), 0.0)

    @cached_property
    def _cdf_table(self) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative probabilities on a fine grid, computed once per model."""
        grid = np.geomspace(*self.support, 4097) if self.support[0] > 0 else np.linspace(*self.support, 4097)
        p = self.bin_probabilities(grid)
        c = np.concatenate([[0.0], np.cumsum(p)])
        return grid, c / c[-1]

    def cdf(self, x: Any) -> np.ndarray:
        """Cumulative distribution (exact integral from x_min, vectorized through a fine table + one panel)."""
        x = np.clip(np.asarray(x, dtype=float), *self.support)
        grid, c = self._cdf_table
        j = np.clip(np.searchsorted(grid, x, side="right") - 1, 0, grid.size - 2)
        lo = grid[j]
        nodes = lo[..., None] + (x - lo)[..., None] * (0.5 * (_GL_NODES + 1))
        part = np.sum(np.exp(self._log_shape(nodes) - self._log_norm) * (0.5 * _GL_WEIGHTS), axis=-1) * (x - lo)
        return np.clip(c[j] + part, 0.0, 1.0)

    def ppf(self, q: Any) -> np.ndarray:
        """Quantiles by Newton iteration on :meth:`cdf`, started from the interpolated table."""
        q = np.clip(np.asarray(q, dtype=float), 0.0, 1.0)
        grid, c = self._cdf_table
        x = np.interp(q, c, grid)
        for _ in range(8):
            d = self.pdf(x)
            with np.errstate(divide="ignore", invalid="ignore"):
                step = (self.cdf(x) - q) / d
            x = np.clip(np.where(np.isfinite(step), x - step, x), *self.support)
        return x

    def sample(self, size: int | tuple[int, ...], *, rng: Any = None) -> np.ndarray:
        """Draw events by inverting the exact cdf."""
        rng = normalize_rng(rng)
        return self.ppf(rng.random(size))

    def __repr__(self) -> str:
        ps = ", ".join(f"{n}={v:.6g}" for n, v in zip(self.family.params, self.params))
        return f"FamilyModel({self.family.name}: {ps}, support={self.support}, scale={self.scale:g})"
