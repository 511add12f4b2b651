"""Validated, immutable data containers: :class:`UnbinnedData` and :class:`BinnedData`.

Every fit, selection and goodness-of-fit function takes one of these, never a bare array, so
that the range of the fit is always explicit. Both are validated once at construction; bad
input raises ``ValueError`` naming the argument, the rule and the offending value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._util import as_float_array, check_range, readonly

__all__ = ["BinnedData", "UnbinnedData", "Data"]


def _reference_rate(mean: float, x_min: float, name: str) -> float:
    if not mean > x_min:
        raise ValueError(
            f"`{name}` must have a mean above x_min = {x_min} for the reference rate 1/(mean - x_min), "
            f"got mean {mean}"
        )
    return 1.0 / (mean - x_min)


@dataclass(frozen=True, eq=False)
class UnbinnedData:
    """Events ``x`` observed on the fit range ``range = (x_min, x_max)``.

    Parameters
    ----------
    x : array_like, shape (n,)
        Event values. Must be finite and inside ``range``.
    range : (float, float), optional
        Fit range; ``x_max`` may be ``inf``. Defaults to ``(min(x), max(x))``.
    """

    x: np.ndarray
    range: tuple[float, float] = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        x = as_float_array("x", self.x)
        if x.size == 0:
            raise ValueError("`x` must contain at least one event, got an empty array")
        rng = (float(x.min()), float(x.max())) if self.range is None else check_range("range", self.range)
        if rng[0] >= rng[1]:
            raise ValueError(f"`range` must satisfy x_min < x_max, got {rng}")
        outside = (x < rng[0]) | (x > rng[1])
        if outside.any():
            raise ValueError(
                f"`x` must lie inside `range` {rng}: {int(outside.sum())} events outside, "
                f"e.g. {x[outside][0]}"
            )
        object.__setattr__(self, "x", readonly(x.copy()))
        object.__setattr__(self, "range", rng)

    @property
    def n_events(self) -> float:
        """Number of events."""
        return float(self.x.size)

    @property
    def binned(self) -> bool:
        return False

    def mean(self) -> float:
        """Sample mean of the events."""
        return float(self.x.mean())

    def reference_rate(self) -> float:
        """Reference rate ``1 / (mean(x) - x_min)`` (the closed-form k=1 MLE on ``[x_min, inf)``)."""
        return _reference_rate(self.mean(), self.range[0], "x")

    def __len__(self) -> int:
        return int(self.x.size)

    def __repr__(self) -> str:
        return f"UnbinnedData(n_events={self.x.size}, range={self.range})"


@dataclass(frozen=True, eq=False)
class BinnedData:
    """A histogram: ``counts`` in the bins delimited by ``edges``.

    Parameters
    ----------
    counts : array_like, shape (n_bins,)
        Event counts per bin, non-negative. Integer-valued unless ``weighted=True``.
    edges : array_like, shape (n_bins + 1,)
        Strictly increasing, finite bin edges. The fit range is ``(edges[0], edges[-1])``.
    weighted : bool, optional
        Accept non-integer counts (weighted histograms). Default ``False``.
    """

    counts: np.ndarray
    edges: np.ndarray
    weighted: bool = field(default=False)

    def __post_init__(self) -> None:
        counts = as_float_array("counts", self.counts)
        edges = as_float_array("edges", self.edges)
        if edges.size < 2:
            raise ValueError(f"`edges` must hold at least 2 values, got {edges.size}")
        if counts.size == 0:
            raise ValueError("`counts` must contain at least one bin, got an empty array")
        if counts.size != edges.size - 1:
            raise ValueError(
                f"`counts` must have len(`edges`) - 1 = {edges.size - 1} entries, got {counts.size}"
            )
        step = np.diff(edges)
        if np.any(step <= 0):
            i = int(np.flatnonzero(step <= 0)[0])
            raise ValueError(
                f"`edges` must be strictly increasing, got edges[{i}] = {edges[i]} >= edges[{i + 1}] = {edges[i + 1]}"
            )
        if np.any(counts < 0):
            i = int(np.flatnonzero(counts < 0)[0])
            raise ValueError(f"`counts` must be non-negative, got {counts[i]} in bin {i}")
        if not self.weighted and np.any(counts != np.round(counts)):
            i = int(np.flatnonzero(counts != np.round(counts))[0])
            raise ValueError(
                f"`counts` must be integers for a Poisson likelihood, got {counts[i]} in bin {i} "
                "(pass weighted=True for a weighted histogram)"
            )
        if counts.sum() <= 0:
            raise ValueError("`counts` must hold at least one event, got an all-zero histogram")
        object.__setattr__(self, "counts", readonly(counts.copy()))
        object.__setattr__(self, "edges", readonly(edges.copy()))

    @property
    def range(self) -> tuple[float, float]:
        """Fit range ``(edges[0], edges[-1])``."""
        return float(self.edges[0]), float(self.edges[-1])

    @property
    def n_events(self) -> float:
        """Total number of events (sum of counts)."""
        return float(self.counts.sum())

    @property
    def binned(self) -> bool:
        return True

    @property
    def centers(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    @property
    def widths(self) -> np.ndarray:
        return np.diff(self.edges)

    def mean(self) -> float:
        """Count-weighted mean of the bin centres."""
        return float(np.dot(self.counts, self.centers) / self.counts.sum())

    def reference_rate(self) -> float:
        """Reference rate ``1 / (mean - x_min)`` with the mean taken from the bin centres."""
        return _reference_rate(self.mean(), self.range[0], "counts")

    def append_bins(self, edges: Any, counts: Any | None = None) -> BinnedData:
        """Return a copy with extra bins on the right (e.g. an empty bin up to a chosen x_max)."""
        new_edges = np.atleast_1d(np.asarray(edges, dtype=float))
        new_counts = np.zeros(new_edges.size) if counts is None else np.atleast_1d(np.asarray(counts, float))
        return BinnedData(
            np.concatenate([self.counts, new_counts]),
            np.concatenate([self.edges, new_edges]),
            weighted=self.weighted,
        )

    def __len__(self) -> int:
        return int(self.counts.size)

    def __repr__(self) -> str:
        return f"BinnedData(n_bins={self.counts.size}, n_events={self.n_events:g}, range={self.range})"


Data = UnbinnedData | BinnedData
