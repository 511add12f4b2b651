"""Data containers and the validators of :mod:`expmix._util`: every input rule raises ValueError
naming the argument (STYLE A12), and valid input is stored read-only."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from expmix import BinnedData, UnbinnedData
from expmix._util import as_float_array, check_range, normalize_rng


# ------------------------------------------------------------------ UnbinnedData
def test_unbinned_basic() -> None:
    d = UnbinnedData([3.0, 1.0, 2.0], (0.0, 10.0))
    assert d.n_events == 3.0 and len(d) == 3
    assert d.range == (0.0, 10.0)
    assert d.mean() == 2.0
    assert d.reference_rate() == 0.5  # 1 / (mean - x_min), by hand
    assert not d.binned
    assert not d.x.flags.writeable
    with pytest.raises(dataclasses.FrozenInstanceError):
        d.range = (0.0, 1.0)  # type: ignore[misc]
    assert "n_events=3" in repr(d)


def test_unbinned_default_range_and_infinite_upper_edge() -> None:
    assert UnbinnedData([2.0, 5.0, 3.0]).range == (2.0, 5.0)
    assert UnbinnedData([2.0, 5.0], (1.0, np.inf)).range == (1.0, np.inf)
    # events exactly on the edges are inside
    UnbinnedData([0.0, 1.0], (0.0, 1.0))


def test_unbinned_copies_input() -> None:
    x = np.array([1.0, 2.0])
    d = UnbinnedData(x, (0.0, 3.0))
    x[0] = 100.0
    assert d.x[0] == 1.0


@pytest.mark.parametrize(
    ("x", "range_", "match"),
    [
        ([], (0.0, 1.0), "`x` must contain at least one event"),
        ([0.5, np.nan], (0.0, 1.0), "`x` must be finite"),
        ([0.5, np.inf], (0.0, np.inf), "`x` must be finite"),
        ([0.5, -np.inf], None, "`x` must be finite"),
        ([[0.5]], (0.0, 1.0), "`x` must be 1-dimensional"),
        (["a", "b"], (0.0, 1.0), "`x` must be numeric"),
        ([0.5, 1.5], (0.0, 1.0), "`x` must lie inside `range`"),
        ([-0.5, 0.5], (0.0, 1.0), "`x` must lie inside `range`"),
        ([0.5], (1.0, 1.0), "`range`"),
        ([0.5], (1.0, 0.0), "`range`"),
        ([0.5], (-np.inf, 1.0), "`range`"),
        ([0.5], (0.0, np.nan), "`range`"),
        ([0.5], (0.0, 1.0, 2.0), "`range`"),
        ([0.5, 0.5], None, "`range` must satisfy x_min < x_max"),  # default range of identical events
    ],
)
def test_unbinned_bad_input(x, range_, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        UnbinnedData(x, range_)


# ------------------------------------------------------------------ BinnedData
def test_binned_basic() -> None:
    d = BinnedData([1, 0, 3], [0.0, 1.0, 3.0, 4.0])
    assert d.n_events == 4.0 and len(d) == 3
    assert d.range == (0.0, 4.0)
    np.testing.assert_array_equal(d.centers, [0.5, 2.0, 3.5])
    np.testing.assert_array_equal(d.widths, [1.0, 2.0, 1.0])
    assert d.mean() == pytest.approx((0.5 + 3 * 3.5) / 4)  # count-weighted bin centres
    assert d.reference_rate() == pytest.approx(1 / ((0.5 + 3 * 3.5) / 4))
    assert d.binned
    assert not d.counts.flags.writeable and not d.edges.flags.writeable
    assert "n_bins=3" in repr(d)


def test_binned_weighted_and_append() -> None:
    d = BinnedData([1.5, 2.25], [0.0, 1.0, 2.0], weighted=True)
    assert d.n_events == 3.75
    e = d.append_bins([5.0])
    np.testing.assert_array_equal(e.edges, [0.0, 1.0, 2.0, 5.0])
    np.testing.assert_array_equal(e.counts, [1.5, 2.25, 0.0])
    assert e.weighted
    with pytest.raises(ValueError, match="`edges` must be strictly increasing"):
        d.append_bins([1.5])


@pytest.mark.parametrize(
    ("counts", "edges", "match"),
    [
        ([], [0.0], "`edges` must hold at least 2 values"),
        ([1.0], [0.0], "`edges` must hold at least 2 values"),
        ([1, 2], [0.0, 1.0], r"`counts` must have len\(`edges`\) - 1 = 1 entries, got 2"),
        ([1, 2], [0.0, 1.0, 2.0, 3.0], r"`counts` must have len\(`edges`\) - 1 = 3 entries, got 2"),
        ([1, 2], [0.0, 2.0, 1.0], "`edges` must be strictly increasing"),
        ([1, 2], [0.0, 1.0, 1.0], "`edges` must be strictly increasing"),
        ([1, 2], [0.0, 1.0, np.inf], "`edges` must be finite"),
        ([1, 2], [np.nan, 1.0, 2.0], "`edges` must be finite"),
        ([1, -1], [0.0, 1.0, 2.0], "`counts` must be non-negative"),
        ([1, np.nan], [0.0, 1.0, 2.0], "`counts` must be finite"),
        ([1, 0.5], [0.0, 1.0, 2.0], "`counts` must be integers"),
        ([0, 0], [0.0, 1.0, 2.0], "`counts` must hold at least one event"),
        ([[1, 2]], [0.0, 1.0, 2.0], "`counts` must be 1-dimensional"),
    ],
)
def test_binned_bad_input(counts, edges, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        BinnedData(counts, edges)


def test_binned_weighted_still_rejects_negative_and_empty() -> None:
    with pytest.raises(ValueError, match="`counts` must be non-negative"):
        BinnedData([1.5, -0.5], [0.0, 1.0, 2.0], weighted=True)
    with pytest.raises(ValueError, match="`counts` must hold at least one event"):
        BinnedData([0.0, 0.0], [0.0, 1.0, 2.0], weighted=True)


# ------------------------------------------------------------------ validators
def test_normalize_rng() -> None:
    g = np.random.default_rng(3)
    assert normalize_rng(g) is g
    assert normalize_rng(5).random() == np.random.default_rng(5).random()
    assert normalize_rng(np.random.SeedSequence(5)).random() == np.random.default_rng(5).random()
    assert isinstance(normalize_rng(None), np.random.Generator)
    with pytest.raises(TypeError, match="`rng`"):
        normalize_rng("seed")


def test_as_float_array_and_check_range() -> None:
    out = as_float_array("v", [1, 2])
    assert out.dtype == np.float64
    assert as_float_array("v", [np.inf], finite=False)[0] == np.inf
    with pytest.raises(ValueError, match=r"`v` must be finite, got nan at index 1"):
        as_float_array("v", [1.0, np.nan])
    assert check_range("r", (1, 2)) == (1.0, 2.0)
    with pytest.raises(ValueError, match="`r` upper edge x_max must be a number and finite"):
        check_range("r", (1.0, np.inf), allow_inf_upper=False)
    with pytest.raises(ValueError, match="`r` must be a pair"):
        check_range("r", 5.0)
