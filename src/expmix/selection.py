"""Model selection over the number of mixture components, and comparison with reference families.

``select(data, k=range(1, 5))`` fits k = 1, 2, ... in turn, seeding each fit with the splits of
the previous one, and ranks them by AIC and BIC (:mod:`expmix.criteria`; ``p = 2k - 1``, ``n`` =
number of events). Adding a component can never worsen the best likelihood (a k-mixture contains
every (k-1)-mixture), so a best NLL that rises with k means the optimiser missed the global
minimum: ``select`` detects it and refits from the (k-1) solution with one component split in two
(which starts exactly at the (k-1) likelihood), keeping the better result.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from ._util import normalize_rng
from .criteria import aic, bic
from .data import BinnedData, UnbinnedData
from .fit import FitResult, _check_int, check_data, fit
from .models.mixture import ExponentialMixture

__all__ = ["SelectionResult", "aic", "bic", "parse_k", "select"]

#: NLL increase with k tolerated before the guard refits (numerical noise of MIGRAD's stopping)
MONOTONE_TOL = 1e-3


def parse_k(k: Any) -> tuple[int, ...]:
    """Normalise a k specification: an int, an iterable of ints or a string such as ``"1-4"``."""
    if isinstance(k, str):
        text = k.strip()
        try:
            if "-" in text:
                lo, hi = (int(t) for t in text.split("-", 1))
                ks = tuple(range(lo, hi + 1))
            else:
                ks = tuple(int(t) for t in text.split(","))
        except ValueError:
            raise ValueError(f"`k` must look like '3', '1-4' or '1,2,5', got {k!r}") from None
    elif isinstance(k, (int, np.integer)):
        ks = (int(k),)
    else:
        ks = tuple(int(v) for v in k)
    if not ks:
        raise ValueError("`k` must name at least one number of components, got none")
    for v in ks:
        _check_int("k", v, 1)
    return tuple(sorted(set(ks)))


@dataclass(frozen=True, eq=False)
class SelectionResult:
    """Fits over k with their information criteria.

    Attributes
    ----------
    fits : tuple of FitResult
        One per k, in increasing k.
    ks : tuple of int
    criterion : str
        ``"aic"`` or ``"bic"``: which criterion chose ``best``.
    references : dict
        Reference-family fits by name (may be empty).
    """

    fits: tuple[FitResult, ...]
    criterion: str = "aic"
    references: dict[str, FitResult] = field(default_factory=dict)
    repaired: tuple[int, ...] = ()

    @property
    def ks(self) -> tuple[int, ...]:
        return tuple(int(f.k) for f in self.fits)  # type: ignore[arg-type]

    @property
    def nll(self) -> np.ndarray:
        return np.array([f.nll for f in self.fits])

    @property
    def aic(self) -> np.ndarray:
        return np.array([f.aic for f in self.fits])

    @property
    def bic(self) -> np.ndarray:
        return np.array([f.bic for f in self.fits])

    @property
    def delta_aic(self) -> np.ndarray:
        return self.aic - self.aic.min()

    @property
    def delta_bic(self) -> np.ndarray:
        return self.bic - self.bic.min()

    @property
    def delta(self) -> np.ndarray:
        return self.delta_aic if self.criterion == "aic" else self.delta_bic

    @property
    def k_aic(self) -> int:
        return self.ks[int(np.argmin(self.aic))]

    @property
    def k_bic(self) -> int:
        return self.ks[int(np.argmin(self.bic))]

    @property
    def best_k(self) -> int:
        return self.k_aic if self.criterion == "aic" else self.k_bic

    @property
    def best(self) -> FitResult:
        return self.fits[self.ks.index(self.best_k)]

    def fit_for(self, k: int) -> FitResult:
        return self.fits[self.ks.index(k)]

    def comparison(self, *, include: str = "best") -> list[dict[str, Any]]:
        """Rows for the reference families and the chosen mixture (``include="all"``: every k),
        with delta-AIC and delta-BIC relative to the minimum over the rows."""
        rows = list(self.references.values())
        rows += [self.best] if include == "best" else list(self.fits)
        a = np.array([r.aic for r in rows])
        b = np.array([r.bic for r in rows])
        return [
            {"model": r.label, "nll": r.nll, "n_free": r.n_free, "aic": r.aic, "bic": r.bic,
             "delta_aic": float(ai - a.min()), "delta_bic": float(bi - b.min()), "valid": r.valid}
            for r, ai, bi in zip(rows, a, b)
        ]

    def table(self) -> list[dict[str, Any]]:
        """One row per k: NLL, p, AIC, BIC and their deltas."""
        return [
            {"k": k, "nll": f.nll, "n_free": f.n_free, "aic": f.aic, "bic": f.bic, "delta_aic": float(da),
             "delta_bic": float(db), "valid": f.valid, "n_converged": f.n_converged, "n_starts": f.n_starts}
            for k, f, da, db in zip(self.ks, self.fits, self.delta_aic, self.delta_bic)
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "criterion": self.criterion,
            "k_aic": self.k_aic,
            "k_bic": self.k_bic,
            "best_k": self.best_k,
            "table": self.table(),
            "fits": {str(k): f.to_dict() for k, f in zip(self.ks, self.fits)},
            "references": {n: f.to_dict() for n, f in self.references.items()},
            "comparison": self.comparison(),
            "repaired": list(self.repaired),
        }

    def __str__(self) -> str:
        from .report import format_selection

        return format_selection(self)


def _duplicate_split(prev: ExponentialMixture) -> ExponentialMixture:
    """The k-mixture equal to ``prev`` with its heaviest component split in two identical halves."""
    j = int(np.argmax(prev.weights))
    rates = np.concatenate([prev.rates, [prev.rates[j]]])
    w = np.concatenate([prev.weights, [prev.weights[j] / 2]])
    w[j] /= 2
    return ExponentialMixture(rates, w, prev.support)


def select(
    data: UnbinnedData | BinnedData,
    k: Any = range(1, 5),
    *,
    criterion: str = "aic",
    families: Iterable[str] = (),
    starts: int = 20,
    retries: int = 5,
    rng: Any = None,
    **fit_kwargs: Any,
) -> SelectionResult:
    """Fit mixtures for each k (and optional reference families) and choose k by AIC or BIC.

    Parameters
    ----------
    data : UnbinnedData or BinnedData
    k : int, iterable of int or str
        Numbers of components, e.g. ``range(1, 5)`` or ``"1-4"``.
    criterion : {"aic", "bic"}
        Which criterion picks :attr:`SelectionResult.best`; both are always computed.
    families : iterable of str
        Reference families to fit as well (e.g. ``("f1", "f2", "f3", "f4")`` or ``("dijet",)``).
    starts, retries, rng, **fit_kwargs
        Passed to :func:`expmix.fit.fit`; each k gets its own child generator of ``rng``.
    """
    ks = parse_k(k)
    if criterion not in ("aic", "bic"):
        raise ValueError(f"`criterion` must be 'aic' or 'bic', got {criterion!r}")
    check_data(data, 2 * max(ks) - 1)
    families = tuple(families)
    seeds = normalize_rng(rng).bit_generator.seed_seq.spawn(len(ks) + len(families))  # type: ignore[attr-defined]
    fits: list[FitResult] = []
    repaired: list[int] = []
    prev: FitResult | None = None
    for kk, ss in zip(ks, seeds):
        init = prev if prev is not None and prev.k == kk - 1 else None
        res = fit(data, kk, starts=starts, retries=retries, rng=np.random.default_rng(ss), init=init, **fit_kwargs)
        if prev is not None and prev.k == kk - 1 and res.nll > prev.nll + MONOTONE_TOL:
            again = fit(data, kk, starts=1, retries=retries, rng=np.random.default_rng(ss),
                        init=_duplicate_split(prev.model), **fit_kwargs)  # type: ignore[arg-type]
            repaired.append(kk)
            if again.nll < res.nll:
                res = again
        fits.append(res)
        prev = res
    refs = {
        name: fit(data, name, starts=max(1, min(starts, 5)), retries=retries, rng=np.random.default_rng(ss))
        for name, ss in zip(families, seeds[len(ks):])
    }
    return SelectionResult(tuple(fits), criterion, refs, tuple(repaired))
