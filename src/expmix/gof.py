"""Goodness of fit: Pearson chi2 on bins merged until each holds enough events.

Bins are merged from left to right until a merged bin holds at least ``min_count`` (default 30)
observed events; events left over at the right end (fewer than ``min_count``) join the last merged
bin. Expected counts are ``N * P(bin)`` from the model's exact bin probabilities, with ``N`` the
number of events in the fit. ``ndf = merged bins - free parameters``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from ._util import readonly
from .data import BinnedData, UnbinnedData

__all__ = ["Chi2Result", "merge_bins", "merged_chi2"]


@dataclass(frozen=True, eq=False)
class Chi2Result:
    """Merged-bin Pearson chi2 with its degrees of freedom and p-value."""

    chi2: float
    ndf: int
    pvalue: float
    edges: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    n_free: int

    @property
    def n_bins(self) -> int:
        return int(self.observed.size)

    @property
    def chi2_ndf(self) -> float:
        return self.chi2 / self.ndf if self.ndf > 0 else float("nan")

    @property
    def residuals(self) -> np.ndarray:
        """Normalised residuals ``(obs - exp) / sqrt(exp)`` per merged bin."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return (self.observed - self.expected) / np.sqrt(self.expected)

    def to_dict(self) -> dict[str, Any]:
        return {"chi2": self.chi2, "ndf": self.ndf, "chi2_ndf": self.chi2_ndf, "pvalue": self.pvalue,
                "n_bins": self.n_bins, "n_free": self.n_free}


def merge_bins(counts: Any, min_count: float = 30) -> np.ndarray:
    """Indices where merged bins start (left to right, each >= ``min_count``; leftovers join the last).

    Each merged bin ends at the first bin where the running count since its start reaches
    ``min_count``, found with a binary search on the cumulative counts (one step per merged bin).
    """
    counts = np.asarray(counts, dtype=float)
    cum = np.concatenate([[0.0], np.cumsum(counts)])
    starts = [0]
    while True:
        # the merged bin is [start, end): it ends where the running count reaches min_count
        end = max(int(np.searchsorted(cum, cum[starts[-1]] + min_count, side="left")), starts[-1] + 1)
        if end >= counts.size:
            break
        starts.append(end)
    if len(starts) > 1 and cum[-1] - cum[starts[-1]] < min_count:
        starts.pop()
    return np.asarray(starts, dtype=np.intp)


def merged_chi2(
    model: Any,
    data: UnbinnedData | BinnedData,
    *,
    n_free: int,
    edges: Any | None = None,
    min_count: float = 30,
) -> Chi2Result:
    """Pearson chi2 of ``model`` on ``data`` with bins merged to at least ``min_count`` events.

    Parameters
    ----------
    model
        Anything with ``bin_probabilities(edges)`` (mixture, family, fit result's ``model``).
    data : UnbinnedData or BinnedData
        Unbinned data are histogrammed with ``edges`` (required then).
    n_free : int
        Free parameters subtracted from the number of merged bins.
    edges : array_like, optional
        Binning for unbinned data, or a coarser binning for binned data (must then be a subset of
        the data's edges; default: the data's own bins).
    """
    if isinstance(data, BinnedData) and edges is None:
        e, counts = data.edges, data.counts
    else:
        if edges is None:
            raise ValueError("`edges` must be given to compute a binned chi2 of unbinned data")
        e = np.asarray(edges, dtype=float)
        if isinstance(data, BinnedData):
            idx = np.searchsorted(data.edges, e)
            if np.any(idx >= data.edges.size) or not np.allclose(data.edges[np.minimum(idx, data.edges.size - 1)], e):
                raise ValueError("`edges` must be a subset of the data's bin edges")
            cum = np.concatenate([[0.0], np.cumsum(data.counts)])
            counts = np.diff(cum[idx])
        else:
            counts = np.histogram(data.x, e)[0].astype(float)
    n_tot = data.n_events
    expected = n_tot * np.asarray(model.bin_probabilities(e), dtype=float)
    starts = merge_bins(counts, min_count)
    obs_m = np.add.reduceat(counts, starts)
    exp_m = np.add.reduceat(expected, starts)
    merged_edges = np.concatenate([e[starts], [e[-1]]])
    with np.errstate(divide="ignore", invalid="ignore"):
        chi2 = float(np.sum((obs_m - exp_m) ** 2 / exp_m))
    ndf = int(obs_m.size - n_free)
    p = float(stats.chi2.sf(chi2, ndf)) if ndf > 0 else float("nan")
    return Chi2Result(chi2, ndf, p, readonly(merged_edges), readonly(obs_m), readonly(exp_m), int(n_free))
