"""Signal + background fits: a Gaussian resonance on top of a fitted background.

The extended model is ``nu(x) = N_b b(x | theta_b) + N_s s(x)`` (paper eq. 4.4), with ``s`` a
Gaussian of mean ``mass`` and width ``width`` normalised on the fit range and ``b`` the background
of a :class:`~expmix.fit.FitResult` (mixture or family), whose shape parameters float again.
``N_s`` may be negative (the total density must stay positive where there are events). The
local significance comes from the likelihood ratio to the background-only fit,
``Z = sign(N_s) sqrt(2 (nll_b - nll_sb))``. Optionally the mean and width float within
relative windows (``float_mass=0.1`` lets the mean move by +-10%).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from iminuit import Minuit
from scipy.special import ndtr, xlogy

from ._util import readonly
from .data import BinnedData, UnbinnedData
from .fit import FitResult, check_data
from .likelihood import FamilyNLL, MixtureNLL
from .models.families import get_family
from .parametrization import MixtureParametrization

__all__ = ["SignalFitResult", "fit_signal", "gaussian_log_norm"]


def gaussian_log_norm(mass: float, width: float, support: tuple[float, float]) -> float:
    """Log of the Gaussian probability inside ``support`` (the truncation normalisation)."""
    a, b = support
    za, zb = (a - mass) / width, (b - mass) / width
    return float(np.log(ndtr(zb) - ndtr(za)) if za < 0 else np.log(ndtr(-za) - ndtr(-zb)))


@dataclass(frozen=True, eq=False)
class SignalFitResult:
    """Outcome of :func:`fit_signal`."""

    mass: float
    width: float
    n_signal: float
    n_signal_error: float
    n_background: float
    nll: float
    nll_background: float
    significance: float
    valid: bool
    names: tuple[str, ...]
    values: np.ndarray
    errors: np.ndarray
    background: FitResult

    @property
    def pull(self) -> float:
        """``N_s / sigma(N_s)`` (HESSE)."""
        return self.n_signal / self.n_signal_error if self.n_signal_error > 0 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "mass": self.mass, "width": self.width, "n_signal": self.n_signal,
            "n_signal_error": self.n_signal_error, "n_background": self.n_background,
            "nll": self.nll, "nll_background": self.nll_background, "significance": self.significance,
            "pull": self.pull, "valid": self.valid, "background": self.background.label,
        }


class _SignalCost:
    errordef = 0.5

    def __init__(self, data, bkg_cost, n_bkg_par: int, fix_mass: float, fix_width: float, float_shape: bool) -> None:
        self.bkg = bkg_cost
        self.nb = n_bkg_par
        self.support = data.range
        self.binned = isinstance(data, BinnedData)
        self.float_shape = float_shape
        self.mass0, self.width0 = fix_mass, fix_width
        if self.binned:
            keep = data.counts > 0
            self.counts = data.counts[keep]
            self.lo, self.hi = data.edges[:-1][keep], data.edges[1:][keep]
        else:
            self.x = data.x
        self.n = data.n_events

    def _log_s(self, mass: float, width: float) -> np.ndarray:
        ln = gaussian_log_norm(mass, width, self.support)
        if self.binned:
            zl, zh = (self.lo - mass) / width, (self.hi - mass) / width
            with np.errstate(all="ignore"):
                p = np.where(zl > 0, ndtr(-zl) - ndtr(-zh), ndtr(zh) - ndtr(zl))
                return np.log(p) - ln
        z = (self.x - mass) / width
        return -0.5 * z * z - np.log(width * np.sqrt(2 * np.pi)) - ln

    def __call__(self, p: np.ndarray) -> float:
        p = np.asarray(p, dtype=float)
        nb, ns = p[self.nb], p[self.nb + 1]
        mass, width = (p[self.nb + 2], p[self.nb + 3]) if self.float_shape else (self.mass0, self.width0)
        with np.errstate(all="ignore"):
            lb = self.bkg.log_f(p[: self.nb])
            dens = nb * np.exp(lb) + ns * np.exp(self._log_s(mass, width))
            if np.any(dens <= 0) or nb + ns <= 0:
                return np.inf
            val = (nb + ns) - float(np.sum(xlogy(self.counts, dens)) if self.binned else np.sum(np.log(dens)))
        return val if np.isfinite(val) else np.inf


def fit_signal(
    data: UnbinnedData | BinnedData,
    background: FitResult,
    mass: float,
    width: float,
    *,
    float_mass: float = 0.0,
    float_width: float = 0.0,
) -> SignalFitResult:
    """Fit ``N_b b(x) + N_s Gauss(x | mass, width)`` (extended) starting from ``background``.

    Parameters
    ----------
    data : UnbinnedData or BinnedData
        The spectrum; must be the data ``background`` was fitted to.
    background : FitResult
        Background-only fit (mixture or family); its parameters start the fit and float.
    mass, width : float
        Gaussian mean and standard deviation (units of x).
    float_mass, float_width : float
        Relative windows in which the mean and width float (0 = fixed).
    """
    check_data(data)
    if not isinstance(background, FitResult):
        raise TypeError(f"`background` must be a FitResult, got {type(background).__name__}")
    lo, hi = data.range
    if not (np.isfinite(mass) and lo < mass < hi):
        raise ValueError(f"`mass` must lie inside the fit range {data.range}, got {mass}")
    if not (np.isfinite(width) and width > 0):
        raise ValueError(f"`width` must be positive and finite, got {width}")
    for name, v in (("float_mass", float_mass), ("float_width", float_width)):
        if not 0 <= v < 1:
            raise ValueError(f"`{name}` must be a relative window in [0, 1), got {v}")
    if background.kind == "mixture":
        par = MixtureParametrization(int(background.k), float(background.beta_ref), data.range, float(background.cap))
        bcost: Any = MixtureNLL(data, par)
        limits = par.limits
    else:
        bcost = FamilyNLL(data, get_family(background.kind), float(background.scale))
        limits = [None] * len(background.names)
    nbp = len(background.names)
    float_shape = float_mass > 0 or float_width > 0
    cost = _SignalCost(data, bcost, nbp, mass, width, float_shape)
    n = data.n_events
    names = tuple(background.names) + ("n_b", "n_s") + (("mass", "width") if float_shape else ())
    x0 = list(background.values) + [n, 0.0] + ([mass, width] if float_shape else [])
    m = Minuit(cost, x0, name=names)
    m.print_level = 0
    for i, lim in enumerate(limits):
        if lim is not None:
            m.limits[i] = lim
    m.limits["n_b"] = (0, None)
    m.errors["n_s"] = max(np.sqrt(n) * 0.1, 1.0)
    m.errors["n_b"] = np.sqrt(n)
    if float_shape:
        m.limits["mass"] = (mass * (1 - float_mass), mass * (1 + float_mass)) if float_mass > 0 else None
        m.limits["width"] = (width * (1 - float_width), width * (1 + float_width)) if float_width > 0 else None
        if float_mass == 0:
            m.fixed["mass"] = True
        if float_width == 0:
            m.fixed["width"] = True
    # background-only reference: the same extended fit with N_s fixed at 0
    m.fixed["n_s"] = True
    m.migrad()
    nll_b = float(m.fval)
    m.fixed["n_s"] = False
    m.strategy = 1
    m.migrad()
    if not m.valid:
        m.migrad()
    try:
        m.hesse()
    except RuntimeError:  # pragma: no cover
        pass
    nll_sb = float(m.fval)
    ns = float(m.values["n_s"])
    q0 = max(2.0 * (nll_b - nll_sb), 0.0)
    return SignalFitResult(
        mass=float(m.values["mass"]) if float_shape else float(mass),
        width=float(m.values["width"]) if float_shape else float(width),
        n_signal=ns,
        n_signal_error=float(m.errors["n_s"]),
        n_background=float(m.values["n_b"]),
        nll=nll_sb,
        nll_background=nll_b,
        significance=float(np.sign(ns) * np.sqrt(q0)),
        valid=bool(m.valid),
        names=names,
        values=readonly(np.array(m.values, dtype=float)),
        errors=readonly(np.array(m.errors, dtype=float)),
        background=background,
    )
