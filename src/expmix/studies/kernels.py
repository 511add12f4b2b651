"""Chunk kernels: all the fitting of a study, one function per study, on a whole chunk of toys.

Each kernel is a pure function ``kernel(samples, cfg, seeds) -> dict[str, ndarray]``:

``samples``
    list of ``T`` 1-D arrays of events (lengths may differ with Poisson sizes), inside
    ``cfg.range``;
``cfg``
    a :class:`KernelConfig` (fit options, grid, labels, study options; for coverage also the
    true density on the grid);
``seeds``
    list of ``T`` ``numpy.random.SeedSequence``, each toy's *fit stream* (see
    :func:`expmix.studies.generate.toy_streams`). A kernel draws all its randomness from
    fresh children of these (:func:`child_seed`), never from global state, so its output
    depends only on its inputs.

and returns the chunk's sufficient statistics (documented per kernel below; ``L =
len(cfg.labels)``, ``G = cfg.grid.size``, ``K = len(cfg.k)``, ``P = len(cfg.masses)``). The
engine stores them as they are (one ``.npz`` per chunk) and :mod:`expmix.studies.summary`
reduces them. A batched implementation may replace any kernel if it keeps the same inputs and
outputs (the arrays, dtypes and shapes below).

Labels: ``"aic"`` and ``"bic"`` are the mixture chosen per toy by that criterion among
``cfg.k``; ``"k<j>"`` the mixture with ``j`` components (bias and coverage only); then the
families in ``cfg.families``.

Failures: a fit that raises, or whose density is not finite on the grid, is a *failure*: it is
recorded (``failed`` flags, the message in ``error``) and excluded from the sums; the kernel
moves on. A fit that returns ``valid=False`` (MIGRAD found no valid minimum at any start) is
still the best minimum found and is used, as the paper's fits are; ``valid`` records it.
Warnings of the fits (:class:`~expmix.warnings.ExpmixWarning`, iminuit's) are silenced inside
the kernels; their content is in the ``valid`` flags.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from ..data import UnbinnedData
from ..fit import FitResult, fit
from ..selection import select
from ..signal import fit_signal
from ..warnings import ExpmixWarning
from .generate import child_seed

__all__ = [
    "KernelConfig",
    "bias_chunk",
    "child_seed",
    "coverage_chunk",
    "fit_toy",
    "refit_resample",
    "spurious_chunk",
]

#: the kernel of each study, by function name (looked up at call time, so a kernel can be swapped)
KERNELS: dict[str, str] = {"bias": "bias_chunk", "coverage": "coverage_chunk", "spurious": "spurious_chunk"}
#: a toy counts for a label in the coverage only if at least this fraction of its resamples refit
MIN_RESAMPLE_FRACTION = 0.5
_MAX_ERROR = 400


@dataclass(frozen=True, eq=False)
class KernelConfig:
    """Everything a kernel needs besides the samples and seeds (built by the engine from a spec).

    Attributes
    ----------
    study : str
    range : (float, float)
        Fit range (the true model's normalisation range).
    k : tuple of int
        Mixture sizes; AIC/BIC choose among them (``p = 2k - 1``, ``n`` = events).
    families : tuple of str
        Reference families fitted to every toy.
    starts, retries, cap, scale
        Passed to :func:`expmix.fit` / :func:`expmix.select` (``scale`` for the families).
    grid : ndarray, shape (G,)
        Masses at which densities are evaluated (bias, coverage).
    f_true : ndarray, shape (G,)
        True density on ``grid`` (coverage).
    resamples, confidence_level, split_starts
        Bootstrap resamples B, interval level, extra split starts per refit (coverage).
    masses, widths : tuple of float, shape (P,)
        Signal hypotheses (spurious).
    float_mass, float_width : float
        Relative windows of the floating signal mean and width (spurious; 0 = fixed).
    bins : int
        Bins of the shared fine histogram of the batched mixture fits (:mod:`.fast`).
    """

    study: str
    range: tuple[float, float]
    k: tuple[int, ...]
    families: tuple[str, ...]
    starts: int = 5
    retries: int = 5
    cap: float = 50.0
    scale: float = 13000.0
    grid: np.ndarray | None = None
    f_true: np.ndarray | None = None
    resamples: int = 1000
    confidence_level: float = 0.95
    split_starts: int = 2
    masses: tuple[float, ...] = ()
    widths: tuple[float, ...] = ()
    float_mass: float = 0.0
    float_width: float = 0.0
    bins: int = 200

    @property
    def labels(self) -> tuple[str, ...]:
        """Row labels of the kernel outputs."""
        fixed = () if self.study == "spurious" else tuple(f"k{k}" for k in self.k)
        return ("aic", "bic", *fixed, *self.families)


@contextmanager
def _quiet() -> Iterator[None]:
    from iminuit.util import IMinuitWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExpmixWarning)
        warnings.simplefilter("ignore", IMinuitWarning)
        yield


def _msg(what: str, exc: BaseException) -> str:
    return f"{what}: {type(exc).__name__}: {exc}"[:_MAX_ERROR]


def _join(errors: list[str]) -> str:
    return "; ".join(errors)[: 2 * _MAX_ERROR]


def fit_toy(data: UnbinnedData, cfg: KernelConfig, ss: np.random.SeedSequence) -> tuple[dict[str, FitResult], int, int, list[str]]:
    """Fit one toy: mixtures for ``cfg.k`` via :func:`expmix.select` and each family.

    Randomness: ``select`` uses child 0 of ``ss``, family ``i`` child ``1 + i``.

    Returns
    -------
    fits : dict label -> FitResult
        ``"aic"``, ``"bic"``, ``"k<j>"`` (absent when the mixture fits raised) and families
        (absent when that family's fit raised).
    k_aic, k_bic : int
        Chosen sizes (0 when the mixture fits raised).
    errors : list of str
    """
    fits: dict[str, FitResult] = {}
    errors: list[str] = []
    k_aic = k_bic = 0
    try:
        sel = select(data, cfg.k, starts=cfg.starts, retries=cfg.retries, rng=np.random.default_rng(child_seed(ss, 0)), cap=cfg.cap)
        k_aic, k_bic = sel.k_aic, sel.k_bic
        fits["aic"], fits["bic"] = sel.fit_for(k_aic), sel.fit_for(k_bic)
        for k in cfg.k:
            fits[f"k{k}"] = sel.fit_for(k)
    except Exception as exc:  # noqa: BLE001 - a failed toy is recorded, not fatal
        errors.append(_msg("mixture", exc))
    for i, fam in enumerate(cfg.families):
        try:
            fits[fam] = fit(data, fam, starts=cfg.starts, retries=cfg.retries, rng=np.random.default_rng(child_seed(ss, 1 + i)), scale=cfg.scale)
        except Exception as exc:  # noqa: BLE001
            errors.append(_msg(fam, exc))
    return fits, k_aic, k_bic, errors


def _curve(f: FitResult, grid: np.ndarray) -> np.ndarray | None:
    y = np.asarray(f.model.pdf(grid), dtype=float)
    return y if np.all(np.isfinite(y)) else None


# ============================================================================ bias
def bias_chunk(samples: Sequence[np.ndarray], cfg: KernelConfig, seeds: Sequence[np.random.SeedSequence]) -> dict[str, np.ndarray]:
    """Bias study (paper eq. 4.1): per toy fit every label and accumulate its density on the grid.

    Returns
    -------
    dict with
        ``sum``      float64 (L, G): sum over toys of f_hat(grid)
        ``sumsq``    float64 (L, G): sum over toys of f_hat(grid)**2
        ``count``    int64 (L,): toys in the sums
        ``nll``      float64 (T, L): minimum NLL of each fit (nan if failed)
        ``valid``    bool (T, L): MIGRAD validity of each fit
        ``failed``   bool (T, L): fit raised or gave a non-finite density
        ``k_aic``, ``k_bic``  int64 (T,): chosen k (0 if the mixture fits failed)
        ``n_events`` int64 (T,)
        ``error``    str (T,): error messages ('' if none)
    """
    labels, grid = cfg.labels, np.asarray(cfg.grid, dtype=float)
    T, L, G = len(samples), len(labels), grid.size
    out = _per_toy_arrays(T, L)
    out.update(sum=np.zeros((L, G)), sumsq=np.zeros((L, G)), count=np.zeros(L, dtype=np.int64))
    errors = [""] * T
    for t, (x, ss) in enumerate(zip(samples, seeds)):
        data = UnbinnedData(x, cfg.range)
        out["n_events"][t] = x.size
        with _quiet():
            fits, out["k_aic"][t], out["k_bic"][t], errs = fit_toy(data, cfg, ss)
        for j, label in enumerate(labels):
            f = fits.get(label)
            if f is None:
                continue
            y = _curve(f, grid)
            if y is None:
                errs.append(f"{label}: density not finite on the grid")
                continue
            out["sum"][j] += y
            out["sumsq"][j] += y * y
            out["count"][j] += 1
            out["nll"][t, j], out["valid"][t, j], out["failed"][t, j] = f.nll, f.valid, False
        errors[t] = _join(errs)
    out["error"] = np.array(errors, dtype=str)
    return out


def _coverage_arrays(T: int, L: int, G: int, K: int) -> dict[str, np.ndarray]:
    """The output arrays of a coverage kernel, before any toy is done."""
    out = _per_toy_arrays(T, L)
    out.update(
        covered=np.zeros((L, G), dtype=np.int64),
        width_sum=np.zeros((L, G)),
        count=np.zeros(L, dtype=np.int64),
        boot_failed=np.zeros((T, L), dtype=np.int64),
        boot_k_aic=np.zeros((T, K), dtype=np.int64),
        boot_k_bic=np.zeros((T, K), dtype=np.int64),
    )
    return out


def _per_toy_arrays(T: int, L: int) -> dict[str, np.ndarray]:
    return {
        "nll": np.full((T, L), np.nan),
        "valid": np.zeros((T, L), dtype=bool),
        "failed": np.ones((T, L), dtype=bool),
        "k_aic": np.zeros(T, dtype=np.int64),
        "k_bic": np.zeros(T, dtype=np.int64),
        "n_events": np.zeros(T, dtype=np.int64),
    }


# ============================================================================ coverage
def refit_resample(
    data: UnbinnedData, nominal: dict[str, FitResult], cfg: KernelConfig, rng: np.random.Generator
) -> tuple[dict[str, FitResult], list[str]]:
    """Refit one bootstrap resample, starting from the toy's own fits.

    Mixtures, for each k in increasing order: a single start at the toy's own k-component fit
    (``init=nominal["k<k>"]``), and for k > 1 also ``cfg.split_starts`` starts that split the
    heaviest components of this resample's own (k-1)-component refit (:func:`expmix.fit`'s
    informed starts); the lower NLL is kept. ``"aic"``/``"bic"`` are the refits chosen by the
    resample's own AIC/BIC. Families: one start from their least-squares initial values; when
    that ends above the NLL of the toy's own fit of the family on this resample (a point the
    minimum cannot lie above), ``cfg.starts`` more starts.
    Returns the refits by label (a label is absent when its fit raised) and error messages.
    """
    out: dict[str, FitResult] = {}
    errors: list[str] = []
    if all(f"k{k}" in nominal for k in cfg.k):
        try:
            prev: FitResult | None = None
            mix = []
            for k in cfg.k:
                best = fit(data, k, starts=1, retries=cfg.retries, rng=rng, init=nominal[f"k{k}"], cap=cfg.cap)
                if prev is not None and prev.k == k - 1 and cfg.split_starts > 0:
                    alt = fit(data, k, starts=cfg.split_starts, retries=cfg.retries, rng=rng, init=prev, cap=cfg.cap)
                    if (alt.valid, -alt.nll) > (best.valid, -best.nll):
                        best = alt
                mix.append(best)
                out[f"k{k}"] = best
                prev = best
            out["aic"] = mix[int(np.argmin([f.aic for f in mix]))]
            out["bic"] = mix[int(np.argmin([f.bic for f in mix]))]
        except Exception as exc:  # noqa: BLE001
            errors.append(_msg("mixture", exc))
            for k in cfg.k:
                out.pop(f"k{k}", None)
    for fam in cfg.families:
        if fam not in nominal:
            continue
        try:
            f = fit(data, fam, starts=1, retries=cfg.retries, rng=rng, scale=cfg.scale)
            # the toy's own fit is a point of this family: a refit above its NLL missed the minimum
            bound = -float(np.sum(nominal[fam].model.logpdf(data.x)))
            if not f.nll <= bound + 1e-6:
                again = fit(data, fam, starts=cfg.starts, retries=cfg.retries, rng=rng, scale=cfg.scale)
                f = again if again.nll < f.nll else f
            out[fam] = f
        except Exception as exc:  # noqa: BLE001
            errors.append(_msg(fam, exc))
    return out, errors


def percentile_interval(replicas: np.ndarray, confidence_level: float) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise percentile interval of bootstrap replicas ``(B, G)``: the ``(1 -+ cl)/2`` quantiles
    (numpy's default linear interpolation)."""
    a = (1.0 - confidence_level) / 2.0
    lo, hi = np.quantile(replicas, [a, 1.0 - a], axis=0)
    return lo, hi


def coverage_chunk(samples: Sequence[np.ndarray], cfg: KernelConfig, seeds: Sequence[np.random.SeedSequence]) -> dict[str, np.ndarray]:
    """Coverage study (paper eqs. 4.2-4.3): per toy, ``cfg.resamples`` non-parametric bootstrap
    resamples, each refit (:func:`refit_resample`); the pointwise percentile interval at
    ``cfg.confidence_level`` of every label is checked against ``cfg.f_true``.

    Randomness per toy: the toy's own fits use child 0 of its seed, the resample indices child 1,
    the refits' random starts child 2. A toy contributes to a label only if its own fit of that
    label succeeded and at least :data:`MIN_RESAMPLE_FRACTION` of its resamples refit.

    Returns
    -------
    dict with
        ``covered``     int64 (L, G): toys whose interval contains f_true
        ``width_sum``   float64 (L, G): sum over toys of the interval width
        ``count``       int64 (L,): toys in the sums
        ``boot_failed`` int64 (T, L): resamples whose refit failed
        ``boot_k_aic``, ``boot_k_bic`` int64 (T, K): resamples choosing each k
        ``nll``, ``valid``, ``failed`` (T, L); ``k_aic``, ``k_bic``, ``n_events`` (T,);
        ``error`` str (T,): as in :func:`bias_chunk`, for the toy's own fits
        (``failed`` also set when too few resamples refit)
    """
    labels, grid = cfg.labels, np.asarray(cfg.grid, dtype=float)
    f_true = np.asarray(cfg.f_true, dtype=float)
    T, L, G, K, B = len(samples), len(labels), grid.size, len(cfg.k), cfg.resamples
    out = _coverage_arrays(T, L, G, K)
    errors = [""] * T
    kpos = {k: i for i, k in enumerate(cfg.k)}
    for t, (x, ss) in enumerate(zip(samples, seeds)):
        data = UnbinnedData(x, cfg.range)
        n = x.size
        out["n_events"][t] = n
        with _quiet():
            nominal, out["k_aic"][t], out["k_bic"][t], errs = fit_toy(data, cfg, child_seed(ss, 0))
        for j, label in enumerate(labels):
            f = nominal.get(label)
            if f is not None:
                out["nll"][t, j], out["valid"][t, j] = f.nll, f.valid
        idx_rng = np.random.default_rng(child_seed(ss, 1))
        fit_rng = np.random.default_rng(child_seed(ss, 2))
        reps = np.full((L, B, G), np.nan)
        boot_errs: set[str] = set()
        for b in range(B):
            db = UnbinnedData(x[idx_rng.integers(0, n, n)], cfg.range)
            with _quiet():
                refits, e = refit_resample(db, nominal, cfg, fit_rng)
            boot_errs.update(e)
            for j, label in enumerate(labels):
                f = refits.get(label)
                y = None if f is None else _curve(f, grid)
                if y is not None:
                    reps[j, b] = y
            if "aic" in refits:
                out["boot_k_aic"][t, kpos[refits["aic"].k]] += 1
                out["boot_k_bic"][t, kpos[refits["bic"].k]] += 1
        for j, label in enumerate(labels):
            ok = np.all(np.isfinite(reps[j]), axis=1)
            out["boot_failed"][t, j] = B - int(ok.sum())
            if label not in nominal or ok.sum() < MIN_RESAMPLE_FRACTION * B:
                continue
            lo, hi = percentile_interval(reps[j, ok], cfg.confidence_level)
            out["covered"][j] += (lo <= f_true) & (f_true <= hi)
            out["width_sum"][j] += hi - lo
            out["count"][j] += 1
            out["failed"][t, j] = False
        if boot_errs:
            errs.append("bootstrap: " + "; ".join(sorted(boot_errs)))
        errors[t] = _join(errs)
    out["error"] = np.array(errors, dtype=str)
    return out


# ============================================================================ spurious signal
def spurious_chunk(samples: Sequence[np.ndarray], cfg: KernelConfig, seeds: Sequence[np.random.SeedSequence]) -> dict[str, np.ndarray]:
    """Spurious signal (paper eq. 4.4): per toy (background only), fit each background label, then
    for every mass an extended signal + background fit (:func:`expmix.fit_signal`, Gaussian of
    width ``cfg.widths[p]``, ``N_s`` free in sign, mean/width floating by ``cfg.float_mass`` /
    ``cfg.float_width``). When AIC and BIC choose the same k the fits are shared.

    Returns
    -------
    dict with
        ``n_s``       float64 (T, L, P): fitted signal yield (nan if failed)
        ``sigma``     float64 (T, L, P): its HESSE error (nan if failed)
        ``sb_valid``  bool (T, L, P): validity of the signal + background fit
        ``sb_failed`` bool (T, L, P): fit raised (or the background fit failed)
        ``nll``, ``valid``, ``failed`` (T, L): the background-only fits;
        ``k_aic``, ``k_bic``, ``n_events`` (T,); ``error`` str (T,)
    """
    labels = cfg.labels
    T, L, P = len(samples), len(labels), len(cfg.masses)
    out = _per_toy_arrays(T, L)
    out.update(
        n_s=np.full((T, L, P), np.nan),
        sigma=np.full((T, L, P), np.nan),
        sb_valid=np.zeros((T, L, P), dtype=bool),
        sb_failed=np.ones((T, L, P), dtype=bool),
    )
    errors = [""] * T
    for t, (x, ss) in enumerate(zip(samples, seeds)):
        data = UnbinnedData(x, cfg.range)
        out["n_events"][t] = x.size
        with _quiet():
            fits, out["k_aic"][t], out["k_bic"][t], errs = fit_toy(data, cfg, ss)
            done: dict[int, int] = {}
            for j, label in enumerate(labels):
                bkg = fits.get(label)
                if bkg is None:
                    continue
                out["nll"][t, j], out["valid"][t, j], out["failed"][t, j] = bkg.nll, bkg.valid, False
                if id(bkg) in done:
                    i = done[id(bkg)]
                    for key in ("n_s", "sigma", "sb_valid", "sb_failed"):
                        out[key][t, j] = out[key][t, i]
                    continue
                done[id(bkg)] = j
                for p, (mass, width) in enumerate(zip(cfg.masses, cfg.widths)):
                    try:
                        r = fit_signal(data, bkg, mass, width, float_mass=cfg.float_mass, float_width=cfg.float_width)
                    except Exception as exc:  # noqa: BLE001
                        errs.append(_msg(f"{label} signal at {mass:g}", exc))
                        continue
                    out["n_s"][t, j, p], out["sigma"][t, j, p] = r.n_signal, r.n_signal_error
                    out["sb_valid"][t, j, p], out["sb_failed"][t, j, p] = r.valid, False
        errors[t] = _join(errs)
    out["error"] = np.array(errors, dtype=str)
    return out

