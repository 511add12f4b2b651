"""Reduce a study directory to the paper's curves and a JSON summary.

Definitions (paper Section 4), computed from the chunks' sufficient statistics:

* **bias** (eq. 4.1): ``B(x) = (mean_t f_hat_t(x) - f_true(x)) / sigma(x)``, with ``sigma(x)``
  the standard deviation over toys (``ddof = 1``) of the refit of the *true family* -- see
  :func:`relative_bias`;
* **coverage** (eqs. 4.2-4.3): ``C(x) = (1/T) sum_t I(f_true(x) in CI_t(x))``, ``CI_t`` the
  pointwise percentile bootstrap interval of toy ``t`` -- :func:`coverage_fraction`;
* **spurious signal** (eq. 4.4): median and 16-84% quantiles over toys of ``N_s / sigma(N_s)``
  (HESSE) at each mass -- :func:`pull_bands`.

Toys whose fit of a label failed are left out of that label (and counted in ``failures``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .engine import StudyStore, grid, plan
from .generate import true_model
from .kernels import KernelConfig
from .spec import StudySpec

__all__ = [
    "StudySummary",
    "coverage_fraction",
    "load_study",
    "merge_chunks",
    "pull_bands",
    "relative_bias",
    "summarize",
    "zero_crossings",
]

#: chunk arrays that are sums over toys (added when merging); the rest are per toy (concatenated)
SUM_KEYS = frozenset({"sum", "sumsq", "count", "covered", "width_sum", "elapsed"})
#: coverage is judged below this mass in the summary (paper: nominal coverage for m < 2000 GeV)
COVERAGE_BULK = 2000.0


# ============================================================================ definitions
def relative_bias(
    sums: np.ndarray, sumsq: np.ndarray, count: np.ndarray, f_true: np.ndarray, ref: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Relative bias B(x) (eq. 4.1) from sums over toys.

    Parameters
    ----------
    sums, sumsq : ndarray, shape (L, G)
        Sums over toys of ``f_hat(x)`` and ``f_hat(x)**2`` per label.
    count : ndarray, shape (L,)
        Toys in the sums.
    f_true : ndarray, shape (G,)
    ref : int
        Row of the true family's refit, whose spread gives ``sigma(x)``.

    Returns
    -------
    B : ndarray (L, G); sigma : ndarray (G,); mean : ndarray (L, G)
    """
    count = np.asarray(count, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / count[:, None]
        n = count[ref]
        var = (sumsq[ref] - sums[ref] ** 2 / n) / (n - 1)
        sigma = np.sqrt(np.maximum(var, 0.0))
        b = (mean - f_true) / sigma
    return b, sigma, mean


def coverage_fraction(covered: np.ndarray, count: np.ndarray) -> np.ndarray:
    """C(x) (eq. 4.2): toys whose interval contains f_true, over toys; shape of ``covered``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(covered, dtype=float) / np.asarray(count, dtype=float)[:, None]


def pull_bands(n_s: np.ndarray, sigma: np.ndarray, ok: np.ndarray, quantiles: tuple[float, ...] = (0.5, 0.16, 0.84)) -> tuple[np.ndarray, np.ndarray]:
    """Quantiles over toys (axis 0) of ``N_s / sigma`` where ``ok`` (and sigma > 0, finite).

    Parameters
    ----------
    n_s, sigma, ok : ndarray, shape (T, ...)

    Returns
    -------
    q : ndarray, shape (len(quantiles), ...)
        Default: median, 16% and 84% quantiles (numpy's linear interpolation); nan without toys.
    n : ndarray of int, shape (...)
        Toys used.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.asarray(n_s, float) / np.asarray(sigma, float)
    use = np.asarray(ok, bool) & np.isfinite(z) & (np.asarray(sigma, float) > 0)
    z = np.where(use, z, np.nan)
    n = use.sum(axis=0)
    q = np.full((len(quantiles),) + z.shape[1:], np.nan)
    has = n > 0
    if has.any():
        q[:, has] = np.nanquantile(z[:, has], quantiles, axis=0)
    return q, n


def zero_crossings(y: np.ndarray) -> int:
    """Sign changes of ``y`` along its last axis (zeros and nan skipped)."""
    s = np.sign(y[np.isfinite(y) & (y != 0)])
    return int(np.sum(s[1:] != s[:-1]))


# ============================================================================ loading
def merge_chunks(chunks: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Merge chunk arrays in the given order: :data:`SUM_KEYS` added, the rest concatenated."""
    out: dict[str, np.ndarray] = {}
    if not chunks:
        return out
    for key in chunks[0]:
        vals = [c[key] for c in chunks]
        out[key] = np.sum(vals, axis=0) if key in SUM_KEYS else np.concatenate(vals, axis=0)
    return out


@dataclass
class StudyData:
    """A study directory read back: the spec and, per true model, the merged chunk arrays."""

    root: Path
    spec: StudySpec
    merged: dict[str, dict[str, np.ndarray]]
    missing: dict[str, int]
    failed_chunks: list[str]

    @property
    def labels(self) -> tuple[str, ...]:
        return KernelConfig(study=self.spec.study, range=self.spec.range, k=self.spec.k, families=self.spec.families).labels


def load_study(root: str | Path) -> StudyData:
    """Read every finished chunk of a study directory (in task order)."""
    store = StudyStore.open(root)
    merged: dict[str, dict[str, np.ndarray]] = {}
    missing: dict[str, int] = {}
    for model in store.spec.true_models:
        tasks = [t for t in plan(store.spec) if t.model == model]
        done = [t for t in tasks if store.is_done(t)]
        merged[model] = merge_chunks([store.load_chunk(t) for t in done])
        missing[model] = sum(t.n_toys for t in tasks) - sum(t.n_toys for t in done)
    return StudyData(store.root, store.spec, merged, missing, store.failed_tasks())


# ============================================================================ summary
@dataclass
class StudySummary:
    """The reduced study: curves per true model (for the figures) and a JSON-ready ``to_dict``.

    ``curves[model]`` holds, for bias: ``x``, ``B`` (L, G), ``sigma``, ``mean``, ``f_true``; for
    coverage: ``x``, ``C`` (L, G), ``width`` (L, G), ``f_true``; for spurious: ``mass``,
    ``median``, ``q16``, ``q84`` (L, P), ``n`` (L, P).
    """

    spec: StudySpec
    labels: tuple[str, ...]
    curves: dict[str, dict[str, np.ndarray]]
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": 1, "study": self.spec.study, "name": self.spec.name,
                "spec": self.spec.to_dict(), "labels": list(self.labels), **self.info}


def _k_counts(ks: np.ndarray, allowed: tuple[int, ...]) -> dict[str, int]:
    return {str(k): int(np.sum(ks == k)) for k in allowed}


def _failures(m: dict[str, np.ndarray], labels: tuple[str, ...], study: str) -> dict[str, Any]:
    failed, valid = m["failed"], m["valid"]
    out: dict[str, Any] = {
        "toys_with_errors": int(np.sum(m["error"] != "")),
        "failed_fits": {lab: int(failed[:, j].sum()) for j, lab in enumerate(labels)},
        "invalid_fits": {lab: int((~failed[:, j] & ~valid[:, j]).sum()) for j, lab in enumerate(labels)},
    }
    if study == "coverage":
        out["failed_resamples"] = {lab: int(m["boot_failed"][:, j].sum()) for j, lab in enumerate(labels)}
    if study == "spurious":
        out["failed_signal_fits"] = {lab: int(m["sb_failed"][:, j].sum()) for j, lab in enumerate(labels)}
        out["invalid_signal_fits"] = {lab: int((~m["sb_failed"][:, j] & ~m["sb_valid"][:, j]).sum()) for j, lab in enumerate(labels)}
    return out


def _round(v: float) -> float | None:
    return None if not np.isfinite(v) else float(np.round(v, 6))


def summarize(study: str | Path | StudyData) -> StudySummary:
    """Curves and extreme values of a study directory (or of a loaded :class:`StudyData`).

    The JSON part (``to_dict()``) holds per true model: toys done and missing, the k chosen by
    AIC and BIC, failure counts, and per label -- bias: ``max_abs_B`` (and where), ``min_B``,
    ``max_B``, ``zero_crossings``; coverage: ``min_C_below_2000`` (and where), ``mean_C_below_2000``,
    ``min_C``; spurious: ``median``/``q16``/``q84`` per mass and ``max_abs_median``.
    """
    sd = study if isinstance(study, StudyData) else load_study(study)
    spec, labels = sd.spec, sd.labels
    curves: dict[str, dict[str, np.ndarray]] = {}
    models: dict[str, Any] = {}
    for model in spec.true_models:
        m = sd.merged[model]
        entry: dict[str, Any] = {"toys_done": int(m["toys"].size) if m else 0, "toys_missing": sd.missing[model]}
        if not m:
            models[model] = entry
            continue
        entry["k_aic"] = _k_counts(m["k_aic"], spec.k)
        entry["k_bic"] = _k_counts(m["k_bic"], spec.k)
        entry["failures"] = _failures(m, labels, spec.study)
        entry["cpu_seconds"] = float(m["elapsed"])
        per: dict[str, Any] = {}
        if spec.study in ("bias", "coverage"):
            x = grid(spec)
            f_true = true_model(model, spec.range).pdf(x)
        if spec.study == "bias":
            b, sigma, mean = relative_bias(m["sum"], m["sumsq"], m["count"], f_true, labels.index(model))
            curves[model] = {"x": x, "B": b, "sigma": sigma, "mean": mean, "f_true": f_true}
            for j, lab in enumerate(labels):
                bj = b[j]
                if not np.any(np.isfinite(bj)):
                    per[lab] = {"toys": int(m["count"][j])}
                    continue
                i = int(np.nanargmax(np.abs(bj)))
                per[lab] = {"toys": int(m["count"][j]), "max_abs_B": _round(abs(bj[i])), "x_max_abs_B": float(x[i]),
                            "min_B": _round(np.nanmin(bj)), "max_B": _round(np.nanmax(bj)),
                            "mean_abs_B": _round(np.nanmean(np.abs(bj))), "zero_crossings": zero_crossings(bj)}
        elif spec.study == "coverage":
            c = coverage_fraction(m["covered"], m["count"])
            with np.errstate(invalid="ignore", divide="ignore"):
                width = m["width_sum"] / m["count"][:, None]
            curves[model] = {"x": x, "C": c, "width": width, "f_true": f_true}
            bulk = x < COVERAGE_BULK
            entry["boot_k_aic"] = {str(k): int(v) for k, v in zip(spec.k, m["boot_k_aic"].sum(axis=0))}
            entry["boot_k_bic"] = {str(k): int(v) for k, v in zip(spec.k, m["boot_k_bic"].sum(axis=0))}
            for j, lab in enumerate(labels):
                cj = c[j]
                if not np.any(np.isfinite(cj)):
                    per[lab] = {"toys": int(m["count"][j])}
                    continue
                d: dict[str, Any] = {"toys": int(m["count"][j]), "min_C": _round(np.nanmin(cj)),
                                     "mean_C": _round(np.nanmean(cj))}
                if bulk.any():
                    i = int(np.nanargmin(np.where(bulk, cj, np.inf)))
                    d.update(min_C_below_2000=_round(cj[i]), x_min_C_below_2000=float(x[i]),
                             mean_C_below_2000=_round(np.nanmean(cj[bulk])))
                per[lab] = d
        else:
            q, n = pull_bands(m["n_s"], m["sigma"], ~m["sb_failed"])
            masses = np.asarray(spec.masses)
            curves[model] = {"mass": masses, "median": q[0], "q16": q[1], "q84": q[2], "n": n}
            for j, lab in enumerate(labels):
                med = q[0, j]
                d = {"toys": [int(v) for v in n[j]], "median": [_round(v) for v in med],
                     "q16": [_round(v) for v in q[1, j]], "q84": [_round(v) for v in q[2, j]]}
                if np.any(np.isfinite(med)):
                    i = int(np.nanargmax(np.abs(med)))
                    d.update(max_abs_median=_round(abs(med[i])), mass_max_abs_median=float(masses[i]))
                per[lab] = d
        entry["labels"] = per
        models[model] = entry
    info = {"models": models, "failed_chunks": sd.failed_chunks,
            "complete": not sd.failed_chunks and not any(sd.missing.values())}
    return StudySummary(spec, labels, curves, info)
