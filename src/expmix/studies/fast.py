"""Batched chunk kernels: the bias and coverage kernels of :mod:`expmix.studies.kernels`,
vectorized over the toys of a chunk and over the bootstrap resamples of a toy.

Same inputs and outputs as the reference kernels (``kernel(samples, cfg, seeds) -> dict``), with
the fits done by :mod:`expmix.toys`:

* mixtures: every toy (or resample) is histogrammed on one shared fine binning (``cfg``'s range,
  ``cfg.bins`` = 200 log-spaced bins up to the end of the grid, then growing bins up to the end
  of the range, see :func:`expmix.toys.fine_edges`) and
  fitted with the exact binned likelihood by the batched Newton method, ``cfg.starts`` starts
  per toy and k (the splits of the toy's (k-1) fit first, then random points drawn from the
  toy's own seed). ``nll`` of the mixture labels is therefore the *binned* NLL on that binning
  (AIC/BIC use it, with ``n`` = events). On 5036-event toys the fitted densities differ from
  the unbinned MLE by about 0.01 sigma(x) on average (0.06 sigma at most), far below the
  statistical resolution of the studies.
* families: exact unbinned fits with analytic Hessians; bootstrap resamples as event weights.
* bootstrap refits start from the toy's own fit for each k plus ``cfg.split_starts`` splits of
  the resample's own (k-1) fit.

``valid`` is the batched minimiser's convergence flag. Randomness: toy ``t`` draws its random
starts from child 0 of its seed, its resample indices from child 1 and the resamples' random
starts from child 2, as the reference kernels do; no result depends on the other toys of
the chunk.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..toys import fine_edges, fit_families, fit_mixtures, histogram_many
from .kernels import KernelConfig, _coverage_arrays, _per_toy_arrays, child_seed, percentile_interval

__all__ = ["bias_chunk", "coverage_chunk"]


def _edges(cfg: KernelConfig) -> np.ndarray:
    hint = float(np.max(cfg.grid)) if cfg.grid is not None else cfg.range[1]
    return fine_edges(cfg.range, hint, cfg.bins)


def _as_matrix(samples: Sequence[np.ndarray]) -> np.ndarray | None:
    sizes = {len(x) for x in samples}
    return np.stack([np.asarray(x, float) for x in samples]) if len(sizes) == 1 else None


def _fit_all(samples: Sequence[np.ndarray], cfg: KernelConfig, rngs: list[np.random.Generator]):
    """Mixture fits (one batch) and family fits of the toys of a chunk."""
    edges = _edges(cfg)
    counts = np.stack([np.histogram(x, edges)[0] for x in samples]).astype(float)
    mix = fit_mixtures(counts, edges, cfg.k, starts=cfg.starts, rng=rngs, cap=cfg.cap)
    fams = {}
    mat = _as_matrix(samples)
    if cfg.families:
        if mat is not None:
            fams = fit_families(mat, cfg.range, cfg.families, scale=cfg.scale)
        else:  # Poisson-sized toys: one toy at a time
            per = [fit_families(np.asarray(x)[None, :], cfg.range, cfg.families, scale=cfg.scale) for x in samples]
            fams = {f: _stack_family([p[f] for p in per]) for f in cfg.families}
    return edges, mix, fams


def _stack_family(fits):
    from ..toys import FamilyFits

    f0 = fits[0]
    return FamilyFits(f0.name, np.concatenate([f.params for f in fits]), np.concatenate([f.nll for f in fits]),
                      np.concatenate([f.converged for f in fits]), f0.support, f0.scale)


def _label_grids(labels, mix, fams, grid) -> dict[str, np.ndarray]:
    out = {}
    for label in labels:
        if label in ("aic", "bic"):
            out[label] = mix.grid(grid, label)
        elif label.startswith("k") and label[1:].isdigit():
            out[label] = mix.grid(grid, int(label[1:]))
        else:
            out[label] = fams[label].grid(grid)
    return out


def _label_fit_info(labels, mix, fams, k_aic, k_bic):
    """nll (T, L) and valid (T, L) per label."""
    ks = list(mix.ks)
    t = mix.nll.shape[0]
    rows = np.arange(t)
    nll = np.full((t, len(labels)), np.nan)
    valid = np.zeros((t, len(labels)), dtype=bool)
    for j, label in enumerate(labels):
        if label in ("aic", "bic"):
            kk = k_aic if label == "aic" else k_bic
            col = np.array([ks.index(k) for k in kk])
            nll[:, j], valid[:, j] = mix.nll[rows, col], mix.converged[rows, col]
        elif label.startswith("k") and label[1:].isdigit():
            c = ks.index(int(label[1:]))
            nll[:, j], valid[:, j] = mix.nll[:, c], mix.converged[:, c]
        else:
            nll[:, j], valid[:, j] = fams[label].nll, fams[label].converged
    return nll, valid


def bias_chunk(samples: Sequence[np.ndarray], cfg: KernelConfig, seeds: Sequence[np.random.SeedSequence]) -> dict[str, np.ndarray]:
    """Batched :func:`expmix.studies.kernels.bias_chunk` (same outputs)."""
    labels, grid = cfg.labels, np.asarray(cfg.grid, dtype=float)
    T, L, G = len(samples), len(labels), grid.size
    out = _per_toy_arrays(T, L)
    out.update(sum=np.zeros((L, G)), sumsq=np.zeros((L, G)), count=np.zeros(L, dtype=np.int64))
    rngs = [np.random.default_rng(child_seed(ss, 0)) for ss in seeds]
    _, mix, fams = _fit_all(samples, cfg, rngs)
    out["n_events"][:] = [len(x) for x in samples]
    out["k_aic"][:], out["k_bic"][:] = mix.chosen_k("aic"), mix.chosen_k("bic")
    nll, valid = _label_fit_info(labels, mix, fams, out["k_aic"], out["k_bic"])
    curves = _label_grids(labels, mix, fams, grid)
    errors = [""] * T
    for j, label in enumerate(labels):
        y = curves[label]
        ok = np.all(np.isfinite(y), axis=1) & np.isfinite(nll[:, j])
        out["sum"][j] = y[ok].sum(axis=0)
        out["sumsq"][j] = (y[ok] ** 2).sum(axis=0)
        out["count"][j] = int(ok.sum())
        out["nll"][ok, j], out["valid"][ok, j], out["failed"][ok, j] = nll[ok, j], valid[ok, j], False
        for t in np.flatnonzero(~ok):
            errors[t] = (errors[t] + "; " if errors[t] else "") + f"{label}: fit failed (non-finite)"
    out["error"] = np.array(errors, dtype=str)
    return out


def coverage_chunk(samples: Sequence[np.ndarray], cfg: KernelConfig, seeds: Sequence[np.random.SeedSequence]) -> dict[str, np.ndarray]:
    """Batched :func:`expmix.studies.kernels.coverage_chunk` (same outputs)."""
    labels, grid = cfg.labels, np.asarray(cfg.grid, dtype=float)
    f_true = np.asarray(cfg.f_true, dtype=float)
    T, L, G, K, B = len(samples), len(labels), grid.size, len(cfg.k), cfg.resamples
    out = _coverage_arrays(T, L, G, K)
    own_rngs = [np.random.default_rng(child_seed(child_seed(ss, 0), 0)) for ss in seeds]
    edges, mix, fams = _fit_all(samples, cfg, own_rngs)
    out["n_events"][:] = [len(x) for x in samples]
    out["k_aic"][:], out["k_bic"][:] = mix.chosen_k("aic"), mix.chosen_k("bic")
    nll, valid = _label_fit_info(labels, mix, fams, out["k_aic"], out["k_bic"])
    out["nll"][:], out["valid"][:] = nll, valid
    kpos = {k: i for i, k in enumerate(cfg.k)}
    errors = [""] * T
    for t, (x, ss) in enumerate(zip(samples, seeds)):
        x = np.asarray(x, dtype=float)
        n = x.size
        idx = np.random.default_rng(child_seed(ss, 1)).integers(0, n, (B, n))
        fit_rng = np.random.default_rng(child_seed(ss, 2))
        weights = np.bincount((np.arange(B)[:, None] * n + idx).ravel(), minlength=B * n).reshape(B, n).astype(float)
        counts = histogram_many(np.take(x, idx), edges)
        init = {k: np.broadcast_to(mix.theta[k][t], (B, 2 * k - 1)) for k in cfg.k}
        bmix = fit_mixtures(counts, edges, cfg.k, starts=1 + cfg.split_starts, rng=fit_rng, cap=cfg.cap,
                            init=init, beta_ref=np.full(B, mix.beta_ref[t]))
        bfam = {}
        if cfg.families:
            finit = {f: fams[f].params[t] for f in cfg.families}
            bfam = fit_families(np.broadcast_to(x, (B, n)), cfg.range, cfg.families, weights=weights,
                                init=finit, scale=cfg.scale)
        kb_aic, kb_bic = bmix.chosen_k("aic"), bmix.chosen_k("bic")
        for k in cfg.k:
            out["boot_k_aic"][t, kpos[k]] = int(np.sum(kb_aic == k))
            out["boot_k_bic"][t, kpos[k]] = int(np.sum(kb_bic == k))
        reps = _label_grids(labels, bmix, bfam, grid)
        for j, label in enumerate(labels):
            y = reps[label]
            ok = np.all(np.isfinite(y), axis=1)
            out["boot_failed"][t, j] = B - int(ok.sum())
            if not np.isfinite(nll[t, j]) or ok.sum() < 0.5 * B:
                continue
            lo, hi = percentile_interval(y[ok], cfg.confidence_level)
            out["covered"][j] += (lo <= f_true) & (f_true <= hi)
            out["width_sum"][j] += hi - lo
            out["count"][j] += 1
            out["failed"][t, j] = False
    out["error"] = np.array(errors, dtype=str)
    return out
