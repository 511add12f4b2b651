"""Maximum-likelihood fits with MIGRAD and HESSE (iminuit), multi-start and retries.

``fit(data, model)`` fits either a k-component exponential mixture (``model`` an int) or a
reference family (``model`` a name such as ``"f2"`` or ``"dijet"``) and returns a frozen
:class:`FitResult`. The global strategy for the non-convex mixture likelihood:

1. starting points: *informed* ones (the closed-form k=1 solution, and, when ``init`` gives a
   (k-1)-component fit, every way of splitting one of its components in two or adding a steep or
   a flat component), then random ones (rates log-uniform on ``[0.05, cap]``, logits normal);
2. each start is minimised with MIGRAD and the analytic gradient; a start that ends invalid is
   retried from where it stopped, then from a fresh random point, up to ``retries`` times;
3. the lowest valid minimum is kept (the lowest invalid one, flagged and with a
   :class:`~expmix.warnings.ConvergenceWarning`, when no start converged), and HESSE gives the
   covariance. Results depend only on the data, the options and ``rng``.

A failed fit is a result with ``valid=False``, never an exception; invalid *input* raises
``ValueError`` before any work starts.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from iminuit import Minuit

from ._util import normalize_rng, readonly
from .criteria import aic, bic
from .batch import Observations, fine_edges
from .batch import minimize as batch_minimize
from .data import BinnedData, UnbinnedData
from .likelihood import FamilyNLL, MixtureNLL, extended_term
from .models.families import SQRT_S, FamilyModel, get_family
from .models.mixture import ExponentialMixture
from .parametrization import DEFAULT_CAP, MixtureParametrization, n_free_parameters, split_starts
from .warnings import ConvergenceWarning

__all__ = ["FitResult", "fit", "check_data"]

#: two minima closer than this in NLL count as the same minimum
SAME_MINIMUM_TOL = 0.01


@dataclass(frozen=True, eq=False)
class FitResult:
    """Outcome of :func:`fit`. Read-only; the live minimizer is not kept.

    Attributes
    ----------
    kind : str
        ``"mixture"`` or the family name.
    model : ExponentialMixture or FamilyModel
        The fitted model (normalised on the range).
    names, values, errors, covariance
        Free parameters: for the mixture ``r1..rk`` (rates in units of ``beta_ref``) and
        ``v2..vk`` (softmax logits, ``v1 = 0``); for a family its shape parameters.
    nll : float
        Minimum negative log-likelihood (:func:`expmix.likelihood.nll` convention).
    n_free : int
        Number of free parameters (``2k - 1`` for the mixture).
    n_events : float
        Number of events (the ``n`` of BIC).
    valid, accurate, at_limit : bool
        MIGRAD's validity, HESSE's accuracy, whether a parameter sits at a limit.
    n_starts, n_converged : int
        Starts tried and starts that reached the best minimum (within 0.01 in NLL).
    """

    kind: str
    model: ExponentialMixture | FamilyModel
    names: tuple[str, ...]
    values: np.ndarray
    errors: np.ndarray
    covariance: np.ndarray
    nll: float
    n_free: int
    n_events: float
    binned: bool
    valid: bool
    accurate: bool
    at_limit: bool
    message: str
    n_starts: int
    n_converged: int
    nfcn: int
    k: int | None = None
    beta_ref: float | None = None
    cap: float | None = None
    scale: float | None = None
    start_nlls: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)

    @property
    def twice_nll(self) -> float:
        return 2.0 * self.nll

    @property
    def aic(self) -> float:
        return aic(self.twice_nll, self.n_free)

    @property
    def bic(self) -> float:
        return bic(self.twice_nll, self.n_free, self.n_events)

    @property
    def label(self) -> str:
        return f"mixture k={self.k}" if self.kind == "mixture" else self.kind

    def value(self, name: str) -> float:
        return float(self.values[self._index(name)])

    def error(self, name: str) -> float:
        return float(self.errors[self._index(name)])

    def _index(self, name: str) -> int:
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"no parameter {name!r}; parameters are {self.names}") from None

    def correlation(self) -> np.ndarray:
        d = np.sqrt(np.diag(self.covariance))
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.covariance / np.outer(d, d)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (``schema_version`` 1)."""
        out: dict[str, Any] = {
            "schema_version": 1,
            "kind": self.kind,
            "label": self.label,
            "parameters": {n: {"value": float(v), "error": float(e)} for n, v, e in zip(self.names, self.values, self.errors)},
            "covariance": self.covariance.tolist(),
            "nll": self.nll,
            "n_free": self.n_free,
            "n_events": self.n_events,
            "aic": self.aic,
            "bic": self.bic,
            "valid": self.valid,
            "accurate": self.accurate,
            "at_limit": self.at_limit,
            "message": self.message,
            "n_starts": self.n_starts,
            "n_converged": self.n_converged,
            "nfcn": self.nfcn,
            "range": list(self.model.support),
        }
        if isinstance(self.model, ExponentialMixture):
            out.update(k=self.k, beta_ref=self.beta_ref, cap=self.cap,
                       rates=self.model.rates.tolist(), weights=self.model.weights.tolist())
        else:
            out.update(scale=self.scale)
        return out

    def __str__(self) -> str:
        from .report import format_fit

        return format_fit(self)


# ============================================================================ validation
def check_data(data: Any, n_free: int | None = None) -> UnbinnedData | BinnedData:
    """Check that ``data`` is a container and holds more events than free parameters."""
    if not isinstance(data, (UnbinnedData, BinnedData)):
        raise TypeError(
            f"`data` must be UnbinnedData or BinnedData, got {type(data).__name__}; "
            "wrap arrays explicitly, e.g. UnbinnedData(x, range=(lo, hi))"
        )
    if n_free is not None and data.n_events <= n_free:
        raise ValueError(
            f"`data` must hold more events than free parameters ({n_free}), got {data.n_events:g} events"
        )
    return data


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}")
    return int(value)


# ============================================================================ minimisation
@dataclass
class _Run:
    fval: float
    values: np.ndarray
    valid: bool
    nfcn: int
    minuit: Minuit | None = None


def _migrad(cost: Any, x0: np.ndarray, names: tuple[str, ...], limits: list | None, grad: Any, strategy: int, tol: float) -> _Run:
    m = Minuit(cost, np.asarray(x0, dtype=float), grad=grad, name=names)
    m.print_level = 0
    m.strategy = strategy
    m.tol = tol
    if limits is not None:
        for i, lim in enumerate(limits):
            if lim is not None:
                m.limits[i] = lim
    try:
        m.migrad()
    except (RuntimeError, ValueError, FloatingPointError):  # pragma: no cover - iminuit internal failures
        return _Run(np.inf, np.asarray(x0, float), False, 0, None)
    fval = float(m.fval) if m.fval is not None and np.isfinite(m.fval) else np.inf
    return _Run(fval, np.array(m.values), bool(m.valid), int(m.nfcn), m)


def _multistart(
    cost: Any,
    names: tuple[str, ...],
    limits: list | None,
    grad: Any,
    informed: list[np.ndarray],
    random_start: Any,
    starts: int,
    retries: int,
    rng: np.random.Generator,
    strategy: int,
    tol: float,
) -> tuple[_Run, list[float], int, int]:
    """Run ``starts`` local minimisations (informed first) with retries; return the best run."""
    x0s = list(informed[:starts])
    while len(x0s) < starts:
        x0s.append(random_start(rng))
    runs: list[_Run] = []
    nfcn = 0
    for x0 in x0s:
        run = _migrad(cost, x0, names, limits, grad, strategy, tol)
        nfcn += run.nfcn
        tries = 0
        while not run.valid and tries < retries:
            nxt = run.values if tries == 0 and np.isfinite(run.fval) else random_start(rng)
            again = _migrad(cost, nxt, names, limits, grad, max(strategy, 1), tol)
            nfcn += again.nfcn
            if again.valid or again.fval < run.fval:
                run = again
            tries += 1
        runs.append(run)
    fvals = [r.fval for r in runs]
    valid_runs = [r for r in runs if r.valid]
    pool = valid_runs if valid_runs else runs
    best = min(pool, key=lambda r: r.fval)
    n_conv = sum(1 for r in runs if abs(r.fval - best.fval) <= SAME_MINIMUM_TOL)
    return best, fvals, nfcn, n_conv


def _finish(best: _Run, cost: Any, names, limits, grad, strategy: int, tol: float) -> tuple[Minuit | None, _Run]:
    """Polish the best point once more and run HESSE."""
    run = _migrad(cost, best.values, names, limits, grad, max(strategy, 1), tol)
    if not (run.fval <= best.fval + 1e-9 and run.minuit is not None):
        run = best
    m = run.minuit
    if m is not None:
        try:
            m.hesse()
        except (RuntimeError, ValueError):  # pragma: no cover
            pass
    return m, run


def _errors(m: Minuit | None, n: int) -> tuple[np.ndarray, np.ndarray, bool, bool]:
    if m is None or m.covariance is None:
        return np.full(n, np.nan), np.full((n, n), np.nan), False, False
    cov = np.array(m.covariance, dtype=float)
    at_limit = bool(m.fmin.has_parameters_at_limit) if m.fmin is not None else False
    accurate = bool(m.fmin.has_accurate_covar) if m.fmin is not None else False
    return np.array(m.errors, dtype=float), cov, accurate, at_limit


# ============================================================================ mixture starts
def _mixture_informed(par: MixtureParametrization, init: Any) -> list[np.ndarray]:
    """Informed starts for k components from a (k-1)-component model (splits and additions)."""
    k = par.k
    out: list[np.ndarray] = []
    if k == 1:
        return [np.array([1.0])]
    if init is None:
        # rates spread geometrically around the reference rate, equal weights
        out.append(np.concatenate([np.geomspace(0.5, min(par.cap, 0.5 * 4.0 ** (k - 1)), k), np.zeros(k - 1)]))
        return out
    prev = init.model if isinstance(init, FitResult) else init
    if not isinstance(prev, ExponentialMixture):
        return out
    if prev.k == k:
        return [par.from_model(prev)]
    if prev.k != k - 1:
        return out
    theta_prev = MixtureParametrization(prev.k, par.beta_ref, par.support, par.cap).from_model(prev)
    out = [row[0] for row in split_starts(theta_prev[None, :], k, par.cap)]
    # a component at the rate cap, for spectra with a steep rise at x_min
    r = np.clip(prev.rates / par.beta_ref, 1e-6, par.cap)
    out.append(_theta(np.concatenate([r, [par.cap * 0.9]]), np.concatenate([prev.weights * 0.97, [0.03]])))
    return out


def _theta(r: np.ndarray, w: np.ndarray) -> np.ndarray:
    lw = np.log(w / w.sum())
    return np.concatenate([r, lw[1:] - lw[0]])


def _mixture_random(par: MixtureParametrization):
    lo = np.log(0.05)
    hi = np.log(par.cap)

    def draw(rng: np.random.Generator) -> np.ndarray:
        r = np.sort(np.exp(rng.uniform(lo, hi, par.k)))
        v = rng.normal(0.0, 1.5, par.k - 1)
        return np.concatenate([r, v])

    return draw


# ============================================================================ family starts
def _log_density_estimate(data: UnbinnedData | BinnedData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin centres, log density and weights for the least-squares starting values."""
    if isinstance(data, BinnedData):
        c, w, n = data.centers, data.widths, data.counts
    else:
        a = data.range[0]
        hi = float(data.x.max())
        edges = np.geomspace(a, hi, 41) if a > 0 else np.linspace(a, hi, 41)
        n, _ = np.histogram(data.x, edges)
        c, w = 0.5 * (edges[1:] + edges[:-1]), np.diff(edges)
    keep = n > 0
    return c[keep], np.log(n[keep] / w[keep]), n[keep].astype(float)


def _family_informed(family, data, scale: float) -> list[np.ndarray]:
    c, y, wt = _log_density_estimate(data)
    if family.name == "gpd":
        s0 = data.mean() - data.range[0]
        return [np.array([s0 * f, xi]) for xi, f in ((0.1, 1.0), (0.3, 0.8), (-0.1, 1.2), (0.5, 0.6))]
    t = c / scale
    sw = np.sqrt(wt)
    starts: list[tuple[float, np.ndarray]] = []
    grid = family.nonlinear_grid or (None,)
    for p1 in grid:
        with np.errstate(all="ignore"):
            B = family.linear_basis(t, p1)
        if not np.all(np.isfinite(B)):
            continue
        A = np.column_stack([np.ones_like(t), B]) * sw[:, None]
        coef, *_ = np.linalg.lstsq(A, y * sw, rcond=None)
        resid = float(np.sum((A @ coef - y * sw) ** 2))
        p = coef[1:] if p1 is None else np.concatenate([[p1], coef[1:]])
        starts.append((resid, p))
    starts.sort(key=lambda s: s[0])
    return [s[1] for s in starts[:3]]


def _family_random(x0: np.ndarray):
    def draw(rng: np.random.Generator) -> np.ndarray:
        return x0 * np.exp(rng.normal(0.0, 0.3, x0.size)) + rng.normal(0.0, 0.1, x0.size)

    return draw


# ============================================================================ batched starts
#: unbinned samples larger than this are screened on a fine histogram (see _screening_obs)
SCREEN_EVENTS = 1500
#: bins of that screening histogram
SCREEN_BINS = 400


def _screening_obs(data: UnbinnedData | BinnedData) -> tuple[Observations, np.ndarray, bool]:
    """Observations on which the starts are screened, their weights, and whether they are exact.

    Binned data: the non-empty bins (exact). Unbinned data with more than ``SCREEN_EVENTS``
    events: a histogram of ``SCREEN_BINS`` log-spaced bins from x_min to the largest event, then
    growing bins up to x_max (:func:`expmix.batch.fine_edges`); its exact binned likelihood has
    the basins of the unbinned one, and the best minima are re-minimised on the events.
    """
    a, b = data.range
    if isinstance(data, BinnedData):
        keep = data.counts > 0
        return Observations.bins(data.edges, a, b).take(keep), data.counts[keep], True
    x = data.x
    if x.size <= SCREEN_EVENTS:
        return Observations.events(x, a, b), np.ones(x.size), True
    edges = fine_edges((a, b), float(x.max()), SCREEN_BINS)
    counts = np.histogram(x, edges)[0].astype(float)
    keep = counts > 0
    return Observations.bins(edges, a, b).take(keep), counts[keep], False


def _newton_multistart(
    data: UnbinnedData | BinnedData,
    cost: MixtureNLL,
    par: MixtureParametrization,
    informed: list[np.ndarray],
    starts: int,
    retries: int,
    rng: np.random.Generator,
    strategy: int,
    tol: float,
) -> tuple[_Run, list[float], int, int]:
    """All starts at once with :func:`expmix.batch.minimize`, then MIGRAD on the best minimum."""
    draw = _mixture_random(par)
    x0s = list(informed[:starts])
    while len(x0s) < starts:
        x0s.append(draw(rng))
    obs, wts, exact = _screening_obs(data)
    r_min = par.limits[0][0]  # type: ignore[index]
    br = batch_minimize(np.array(x0s), par.k, par.beta_ref, obs, wts, cap=par.cap, r_min=r_min)
    order = np.argsort(br.nll)
    # distinct candidate minima, best first
    cands: list[int] = []
    for i in order:
        if not np.isfinite(br.nll[i]):
            break
        if all(abs(br.nll[i] - br.nll[j]) > SAME_MINIMUM_TOL for j in cands):
            cands.append(int(i))
        if len(cands) == 3:
            break
    n_conv = int(np.sum(br.nll <= br.nll[order[0]] + SAME_MINIMUM_TOL))
    thetas = br.theta[cands] if cands else np.array(x0s[:1])
    if not exact:
        ev = Observations.events(data.x, *data.range)  # type: ignore[union-attr]
        thetas = batch_minimize(thetas, par.k, par.beta_ref, ev, np.ones(ev.size), cap=par.cap, r_min=r_min).theta
    names, limits = par.names, par.limits
    best: _Run | None = None
    nfcn = 0
    for th in thetas:
        run = _migrad(cost, th, names, limits, cost.grad, strategy, tol)
        nfcn += run.nfcn
        if best is None or (run.valid and (not best.valid or run.fval < best.fval)):
            best = run
        if run.valid:
            break
    tries = 0
    while best is not None and not best.valid and tries < retries:
        run = _migrad(cost, best.values if tries == 0 else draw(rng), names, limits, cost.grad, 1, tol)
        nfcn += run.nfcn
        if run.valid or run.fval < best.fval:
            best = run
        tries += 1
    assert best is not None
    return best, [float(v) for v in br.nll], nfcn, n_conv


# ============================================================================ public
def fit(
    data: UnbinnedData | BinnedData,
    model: int | str = 1,
    *,
    starts: int = 10,
    retries: int = 5,
    rng: Any = None,
    init: FitResult | ExponentialMixture | None = None,
    cap: float = DEFAULT_CAP,
    beta_ref: float | None = None,
    scale: float = SQRT_S,
    strategy: int = 0,
    tol: float = 0.05,
    method: str = "newton",
    extended: bool = False,
) -> FitResult:
    """Fit a k-component exponential mixture (``model=k``) or a family (``model="f2"``, ...).

    Parameters
    ----------
    data : UnbinnedData or BinnedData
        The spectrum; the fit range is ``data.range``.
    model : int or str
        Number of mixture components ``k >= 1``, or a family name from
        :data:`expmix.models.families.FAMILIES`.
    starts : int
        Local minimisations from different starting points (informed ones first).
    retries : int
        Extra attempts for a start whose minimum is invalid.
    rng : None, int, SeedSequence or Generator
        Randomness of the starting points; a fixed seed makes the fit deterministic.
    init : FitResult or ExponentialMixture, optional
        A fit with ``k - 1`` (or ``k``) components whose splits seed the starts.
    cap : float
        Upper bound of each rate in units of ``beta_ref`` (paper: 50).
    beta_ref : float, optional
        Reference rate; default ``1 / (mean(x) - x_min)`` from the data.
    scale : float
        ``x = m / scale`` for the families (default ``sqrt(s) = 13000``).
    strategy, tol : int, float
        MIGRAD strategy for the starts and its tolerance (the best start is polished with
        strategy >= 1 and followed by HESSE).
    method : {"newton", "migrad"}
        How the mixture's starts are minimised: ``"newton"`` (default) minimises all of them at
        once with the batched exact-Hessian Newton method of :mod:`expmix.batch` and polishes the
        best with MIGRAD; ``"migrad"`` runs MIGRAD from every start (the paper's procedure).
        Families always use MIGRAD.
    extended : bool
        Extended likelihood with a free total yield ``nu`` (one more free parameter). The
        extended likelihood factorises into ``Poisson(N | nu)`` times the shape likelihood, so
        the shape fit is unchanged and ``nu = N +- sqrt(N)`` exactly, uncorrelated with the
        shape; the NLL gains ``nu - N ln nu``.

    Returns
    -------
    FitResult
    """
    starts = _check_int("starts", starts, 1)
    if method not in ("newton", "migrad"):
        raise ValueError(f"`method` must be 'newton' or 'migrad', got {method!r}")
    retries = _check_int("retries", retries, 0)
    rng = normalize_rng(rng)
    if isinstance(model, (int, np.integer)) and not isinstance(model, bool):
        k = _check_int("k", model, 1)
        check_data(data, n_free_parameters(k))
        if not cap > 0:
            raise ValueError(f"`cap` must be > 0, got {cap}")
        bref = data.reference_rate() if beta_ref is None else float(beta_ref)
        par = MixtureParametrization(k, bref, data.range, cap)
        cost = MixtureNLL(data, par)
        names, limits = par.names, par.limits
        informed = _mixture_informed(par, init)
        if method == "newton":
            best, fvals, nfcn, n_conv = _newton_multistart(
                data, cost, par, informed, starts, retries, rng, strategy, tol
            )
        else:
            best, fvals, nfcn, n_conv = _multistart(
                cost, names, limits, cost.grad, informed, _mixture_random(par), starts, retries, rng, strategy, tol
            )
        m, best = _finish(best, cost, names, limits, cost.grad, strategy, tol)
        errs, cov, accurate, at_limit = _errors(m, len(names))
        if not np.all(np.isfinite(best.values)):  # a failed minimisation: keep a finite, flagged point
            best = _Run(np.inf, np.asarray(informed[0] if informed else _mixture_random(par)(rng), float), False, best.nfcn)
            m = None
            errs, cov, accurate, at_limit = _errors(None, len(names))
        fitted: ExponentialMixture | FamilyModel = par.to_model(best.values)
        kind, extra = "mixture", dict(k=k, beta_ref=bref, cap=cap)
        n_free = par.n_free
    elif isinstance(model, str):
        fam = get_family(model)
        check_data(data, fam.n_params)
        cost_f = FamilyNLL(data, fam, scale)
        names = fam.params
        informed = _family_informed(fam, data, scale)
        x0 = informed[0] if informed else np.ones(fam.n_params)
        best, fvals, nfcn, n_conv = _multistart(
            cost_f, names, None, None, informed, _family_random(x0), starts, retries, rng, max(strategy, 1), tol
        )
        m, best = _finish(best, cost_f, names, None, None, strategy, tol)
        errs, cov, accurate, at_limit = _errors(m, len(names))
        try:
            fitted = cost_f.model(best.values)
        except ValueError:  # pragma: no cover - parameters that do not normalise
            fitted = cost_f.model(x0)
        kind, extra = fam.name, dict(scale=scale)
        n_free = fam.n_params
    else:
        raise ValueError(f"`model` must be a number of components (int >= 1) or a family name, got {model!r}")

    nll_value = float(best.fval)
    values = np.array(best.values, dtype=float)
    if extended:
        n_ev = data.n_events
        names = tuple(names) + ("nu",)
        values = np.append(values, n_ev)
        errs = np.append(errs, np.sqrt(n_ev))
        cov = np.block([[cov, np.zeros((cov.shape[0], 1))], [np.zeros((1, cov.shape[0])), np.full((1, 1), n_ev)]])
        nll_value += extended_term(n_ev, n_ev)
        n_free += 1
    valid = bool(best.valid and np.isfinite(best.fval))
    label = f"mixture k={extra['k']}" if kind == "mixture" else kind
    if not valid:
        warnings.warn(
            f"fit of {label}: no start converged to a valid minimum "
            f"(best NLL {best.fval:.6g}); the result is flagged invalid",
            ConvergenceWarning,
            stacklevel=2,
        )
    message = "valid minimum" if valid else "no valid minimum"
    return FitResult(
        kind=kind,
        model=fitted,
        names=tuple(names),
        values=readonly(values),
        errors=readonly(errs),
        covariance=readonly(cov),
        nll=nll_value,
        n_free=n_free,
        n_events=data.n_events,
        binned=isinstance(data, BinnedData),
        valid=valid,
        accurate=accurate,
        at_limit=at_limit,
        message=message,
        n_starts=starts,
        n_converged=n_conv,
        nfcn=nfcn,
        start_nlls=readonly(np.array(fvals, dtype=float)),
        **extra,
    )
