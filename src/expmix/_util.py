"""Small helpers shared by the public boundaries: random generators and validators."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["normalize_rng", "as_float_array", "check_range"]


def normalize_rng(rng: Any = None) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` from ``None``, a seed, a SeedSequence or a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer, np.random.SeedSequence)):
        return np.random.default_rng(rng)
    raise TypeError(f"`rng` must be None, an int, a SeedSequence or a Generator, got {type(rng).__name__}")


def as_float_array(name: str, value: Any, *, ndim: int = 1, finite: bool = True) -> np.ndarray:
    """Convert ``value`` to a float64 array of dimension ``ndim`` and check it, naming ``name``."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`{name}` must be numeric, got {type(value).__name__}") from exc
    if arr.ndim != ndim:
        raise ValueError(f"`{name}` must be {ndim}-dimensional, got shape {arr.shape}")
    if finite and arr.size and not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)][0]
        idx = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"`{name}` must be finite, got {bad} at index {idx}")
    return arr


def check_range(name: str, value: Any, *, allow_inf_upper: bool = True) -> tuple[float, float]:
    """Validate a fit range ``(lo, hi)`` with finite ``lo`` and ``lo < hi``; return floats."""
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`{name}` must be a pair (x_min, x_max), got {value!r}") from exc
    if not np.isfinite(lo):
        raise ValueError(f"`{name}` lower edge x_min must be finite, got {lo}")
    if np.isnan(hi) or (not allow_inf_upper and not np.isfinite(hi)):
        raise ValueError(f"`{name}` upper edge x_max must be a number{'' if allow_inf_upper else ' and finite'}, got {hi}")
    if not lo < hi:
        raise ValueError(f"`{name}` must satisfy x_min < x_max, got ({lo}, {hi})")
    return lo, hi


def readonly(arr: np.ndarray) -> np.ndarray:
    """Return ``arr`` marked read-only (no copy)."""
    arr.setflags(write=False)
    return arr
