"""Batched minimisation of many mixture likelihoods at once (starts, toys, bootstrap resamples).

MIGRAD minimises one likelihood at a time, and for small problems its cost is dominated by the
Python call per evaluation. Multi-start fits, pseudo-experiments and bootstrap replicas instead
pose *many* small problems of the same shape; here they are solved together with array
operations: a damped Newton method with the exact gradient and Hessian of the mixture NLL,
vectorized over a batch axis.

* Observations are either bins (``lo``/``width`` offsets from ``x_min``, exact closed-form bin
  probabilities) or events (a density); each batch member has its own weights (counts) over the
  shared observations, so one histogram binning serves many toys or resamples.
* The Hessian is made positive definite by taking absolute eigenvalues (saddle-free Newton) with
  a Levenberg-Marquardt damping adapted per member: a step is accepted only when it lowers that
  member's NLL, so every member's NLL decreases monotonically.
* Rates are kept in ``[0, cap]`` by projection; a rate at a bound whose gradient points outward
  is held fixed for the step.

The result for each member is a local minimum of the same NLL that :mod:`expmix.likelihood`
defines (``-sum_j c_j ln p_j``); :func:`expmix.fit.fit` uses this stage to screen its starts and
polishes the best one with MIGRAD and HESSE.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Callable

import numpy as np

from ._math import rel_terms

__all__ = ["BatchResult", "Observations", "evaluate", "fine_edges", "minimize", "newton"]


@dataclass(frozen=True, eq=False)
class Observations:
    """Shared observations: bins (``lo``, ``width``) or events (``d``), offsets from ``x_min``."""

    length: float
    lo: np.ndarray | None = None
    width: np.ndarray | None = None
    d: np.ndarray | None = None

    @classmethod
    def bins(cls, edges: np.ndarray, x_min: float, x_max: float) -> Observations:
        e = np.asarray(edges, dtype=float)
        return cls(x_max - x_min, lo=e[:-1] - x_min, width=np.diff(e))

    @classmethod
    def events(cls, x: np.ndarray, x_min: float, x_max: float) -> Observations:
        return cls(x_max - x_min, d=np.asarray(x, dtype=float) - x_min)

    @cached_property
    def log_width(self) -> np.ndarray:
        """``log(width)``, computed once: every evaluation of a batch needs it."""
        return np.log(self.width)  # type: ignore[arg-type]

    @cached_property
    def width2(self) -> np.ndarray:
        return self.width * self.width  # type: ignore[operator]

    @property
    def size(self) -> int:
        return int((self.d if self.d is not None else self.lo).size)  # type: ignore[union-attr]

    def take(self, keep: np.ndarray) -> Observations:
        if self.d is not None:
            return Observations(self.length, d=self.d[keep])
        return Observations(self.length, lo=self.lo[keep], width=self.width[keep])  # type: ignore[index]


def _norm_terms(beta: np.ndarray, length: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``log(beta / (1 - e^{-beta L}))`` and its first two beta-derivatives."""
    if np.isinf(length):
        with np.errstate(divide="ignore"):
            return np.log(beta), 1.0 / beta, -1.0 / (beta * beta)
    f0, f1, f2 = rel_terms(beta * length)
    return -np.log(length) - f0, -length * f1, -length * length * f2


def _component_terms(beta: np.ndarray, obs: Observations) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-component log-probabilities of the observations and their first two beta-derivatives.

    ``beta`` has shape (B, k); the outputs (B, k, J).
    """
    b = beta[:, :, None]
    n0, n1, n2 = (t[:, :, None] for t in _norm_terms(beta, obs.length))
    if obs.d is not None:
        return n0 - b * obs.d, n1 - obs.d, np.broadcast_to(n2, b.shape[:2] + (obs.size,))
    lo, w = obs.lo, obs.width
    f0, f1, f2 = rel_terms(b * w)
    with np.errstate(invalid="ignore", divide="ignore"):
        lp = (n0 + obs.log_width) - b * lo + f0
        a = (n1 - lo) + w * f1
        c = obs.width2 * f2 + n2
    return lp, a, c


def evaluate(
    theta: np.ndarray,
    k: int,
    beta_ref: np.ndarray,
    obs: Observations,
    weights: np.ndarray,
    *,
    hessian: bool = True,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """NLL (B,), gradient (B, p) and Hessian (B, p, p) for parameters ``theta`` (B, p).

    ``theta = (r_1..r_k, v_2..v_k)`` as in :mod:`expmix.parametrization`; ``beta_ref`` (B,);
    ``weights`` (B, J) or (J,) are the counts (1 for events).
    """
    theta = np.asarray(theta, dtype=float)
    bsz = theta.shape[0]
    r = theta[:, :k]
    beta = r * beta_ref[:, None]
    v = np.concatenate([np.zeros((bsz, 1)), theta[:, k:]], axis=1)
    vmax = v.max(axis=1, keepdims=True)
    ev = np.exp(v - vmax)
    w = ev / ev.sum(axis=1, keepdims=True)
    with np.errstate(all="ignore"):
        logw = np.log(w)
        lp, a, c = _component_terms(beta, obs)
        t = lp + logw[:, :, None]
        mx = t.max(axis=1, keepdims=True)
        e = np.exp(t - mx)
        s = e.sum(axis=1, keepdims=True)
        lse = (np.log(s) + mx)[:, 0, :]
        gam = e / s
    cw = np.broadcast_to(weights, (bsz, obs.size))
    val = -np.einsum("bj,bj->b", cw, lse)
    val = np.where(np.isfinite(val), val, np.inf)
    if not hessian:
        return val, None, None
    ctot = cw.sum(axis=1)
    ga = gam * a
    gac = ga * cw[:, None, :]
    gc = gam * cw[:, None, :]
    g_beta = -gac.sum(axis=2)
    n_comp = gc.sum(axis=2)
    g_v = -(n_comp - w * ctot[:, None])
    # Hessian of -sum c lse in (beta, v)
    diag_bb = np.einsum("bij,bij->bi", gc, a * a + c)
    h_bb = -(diag_bb[:, :, None] * np.eye(k) - np.einsum("bij,blj->bil", gac, ga))
    h_bv = -(np.eye(k)[None] * gac.sum(axis=2)[:, :, None] - np.einsum("bij,bmj->bim", gac, gam))
    h_vv = -(np.eye(k)[None] * n_comp[:, :, None] - np.einsum("bij,bmj->bim", gc, gam)
             - ctot[:, None, None] * (np.eye(k)[None] * w[:, :, None] - w[:, :, None] * w[:, None, :]))
    p = 2 * k - 1
    sc = beta_ref[:, None]
    grad = np.concatenate([g_beta * sc, g_v[:, 1:]], axis=1)
    hess = np.empty((bsz, p, p))
    hess[:, :k, :k] = h_bb * sc[:, :, None] * sc[:, None, :]
    hess[:, :k, k:] = h_bv[:, :, 1:] * sc[:, :, None]
    hess[:, k:, :k] = np.swapaxes(hess[:, :k, k:], 1, 2)
    hess[:, k:, k:] = h_vv[:, 1:, 1:]
    bad = ~np.isfinite(grad).all(axis=1) | ~np.isfinite(hess).all(axis=(1, 2))
    if bad.any():
        val = np.where(bad, np.inf, val)
        grad[bad] = 0.0
        hess[bad] = np.eye(p)
    return val, grad, hess


@dataclass(frozen=True, eq=False)
class BatchResult:
    """Minima of a batch: ``theta`` (B, p), ``nll`` (B,), ``converged`` (B,), iterations used."""

    theta: np.ndarray
    nll: np.ndarray
    converged: np.ndarray
    n_iter: int


def newton(
    fun: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]],
    theta0: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    *,
    max_iter: int = 200,
    rtol: float = 1e-10,
    atol: float = 1e-7,
) -> BatchResult:
    """Minimise B independent functions with damped saddle-free Newton steps inside a box.

    ``fun(idx, theta)`` returns value (b,), gradient (b, p) and Hessian (b, p, p) of the members
    ``idx`` at ``theta`` (b, p); an invalid point returns ``inf``. A step is kept only when it
    lowers the member's value; the damping ``mu`` shrinks after a success and grows after a
    failure. A member has converged after two successive accepted steps that gain less than
    ``atol + rtol * |value|``, or when no step survives the damping.
    """
    theta = np.array(theta0, dtype=float, copy=True)
    bsz, p = theta.shape
    theta = np.clip(theta, lower, upper)
    idx_all = np.arange(bsz)
    val, grad, hess = fun(idx_all, theta)
    mu = np.full(bsz, 1e-3)
    converged = ~np.isfinite(val)
    stall = np.zeros(bsz, dtype=int)
    diag = np.arange(p)
    it = 0
    for it in range(1, max_iter + 1):
        act = np.flatnonzero(~converged)
        if act.size == 0:
            break
        th, g, h = theta[act], grad[act], hess[act].copy()
        fixed = ((th <= lower + 1e-12) & (g > 0)) | ((th >= upper - 1e-12) & (g < 0))
        g = np.where(fixed, 0.0, g)
        h = np.where(fixed[:, :, None] | fixed[:, None, :], 0.0, h)
        h[:, diag, diag] += np.where(fixed, 1.0, 0.0)
        lam, vec = np.linalg.eigh(h)
        alam = np.abs(lam)
        top = alam.max(axis=1, keepdims=True)
        alam = np.maximum(alam, 1e-12 * top + 1e-300)
        scale = alam + mu[act, None] * top
        step = -np.einsum("bij,bj->bi", vec, np.einsum("bji,bj->bi", vec, g) / scale)
        trial = np.clip(th + step, lower, upper)
        tv, tg, thh = fun(act, trial)
        better = tv < val[act]
        gain = val[act] - tv
        acc = act[better]
        theta[acc], val[acc], grad[acc], hess[acc] = trial[better], tv[better], tg[better], thh[better]
        mu[acc] = np.maximum(mu[acc] / 4.0, 1e-9)
        rej = act[~better]
        mu[rej] = mu[rej] * 8.0
        small = better & (gain <= atol + rtol * np.abs(tv))
        stall[act] = np.where(small, stall[act] + 1, np.where(better, 0, stall[act]))
        converged[act] |= (stall[act] >= 2) | (mu[act] > 1e8)
    return BatchResult(theta, val, converged, it)


def minimize(
    theta0: np.ndarray,
    k: int,
    beta_ref: np.ndarray | float,
    obs: Observations,
    weights: np.ndarray,
    *,
    cap: float = 50.0,
    r_min: float = 0.0,
    max_iter: int = 200,
    rtol: float = 1e-10,
    atol: float = 1e-7,
) -> BatchResult:
    """Minimise B mixture NLLs from ``theta0`` (B, p) with :func:`newton`.

    Members whose ``weights`` rows differ are independent problems (toys, resamples); equal rows
    (or 1-D ``weights``) with different ``theta0`` are a multi-start. Rates stay in
    ``[r_min, cap]`` (units of ``beta_ref``), logits are free.
    """
    theta0 = np.asarray(theta0, dtype=float)
    bsz, p = theta0.shape
    if p != 2 * k - 1:
        raise ValueError(f"`theta0` must have 2k - 1 = {2 * k - 1} columns, got {p}")
    bref = np.broadcast_to(np.asarray(beta_ref, dtype=float), (bsz,)).copy()
    wts = np.asarray(weights, dtype=float)
    per_member = wts.ndim == 2
    lower = np.concatenate([np.full(k, r_min), np.full(k - 1, -np.inf)])
    upper = np.concatenate([np.full(k, cap), np.full(k - 1, np.inf)])

    def fun(idx: np.ndarray, th: np.ndarray):
        return evaluate(th, k, bref[idx], obs, wts[idx] if per_member else wts)

    return newton(fun, theta0, lower, upper, max_iter=max_iter, rtol=rtol, atol=atol)


def fine_edges(support: tuple[float, float], upper_hint: float, n_bins: int = 200) -> np.ndarray:
    """A fine binning for many similar samples: ``n_bins`` bins from ``x_min`` to ``upper_hint``
    (log-spaced when ``x_min > 0``, else equal), then bins four times as wide up to ``x_max``.

    With ``x_max = inf`` the edges stop at ``upper_hint``; events must not lie beyond it (the
    likelihood keeps the probability beyond the last edge through its normalisation).
    """
    a, b = support
    hint = min(upper_hint, b)
    if a > 0:
        ratio = (hint / a) ** (1.0 / n_bins)
        edges = list(a * ratio ** np.arange(n_bins + 1))
        while np.isfinite(b) and edges[-1] * ratio < b:  # a few wide bins (one per factor ratio^4)
            edges.append(edges[-1] * ratio**4)
    else:
        step = (hint - a) / n_bins
        edges = list(np.linspace(a, hint, n_bins + 1))
        while np.isfinite(b) and edges[-1] + step < b:
            step *= 4
            edges.append(edges[-1] + step)
    inner = np.asarray(edges)
    edges = inner[inner < b] if np.isfinite(b) else inner
    if np.isfinite(b):
        edges = np.append(edges, b)
    return np.asarray(edges, dtype=float)
