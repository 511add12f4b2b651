"""`expmix.gof`: bin merging on hand-made counts and the merged-bin Pearson chi2 recomputed by hand
(chi2 = sum (o - e)^2 / e over merged bins, ndf = merged bins - free parameters, p = chi2.sf)."""

from __future__ import annotations

import signal

import numpy as np
import pytest
from scipy import stats

from expmix import BinnedData, ExponentialMixture, UnbinnedData, merged_chi2
from expmix.gof import merge_bins

SUPPORT = (0.0, 10.0)
MODEL = ExponentialMixture([0.4], [1.0], SUPPORT)


# ------------------------------------------------------------------ merge_bins
@pytest.mark.parametrize(
    ("counts", "expected"),
    [
        # left to right until >= 30: [10,10,10] | [5,40] | leftovers [3,1,2] (6 < 30) join the last
        ([10, 10, 10, 5, 40, 3, 1, 2], [0, 3]),
        ([30, 30, 30], [0, 1, 2]),  # exactly 30 closes a bin; the last one is complete
        ([5, 5], [0]),  # never reaches 30: a single merged bin
        ([40, 10], [0]),  # leftover 10 joins the only complete bin
        ([0, 0, 40, 0, 30], [0, 3]),  # empty bins join their neighbours
        ([29, 1, 29, 1, 29], [0, 2]),
        ([100], [0]),
        ([0, 31, 0, 0], [0]),
    ],
)
def test_merge_bins_by_hand(counts: list[int], expected: list[int]) -> None:
    got = merge_bins(counts)
    np.testing.assert_array_equal(got, expected)
    # the merged bins tile the histogram and each holds >= 30 (when the total allows it)
    merged = np.add.reduceat(np.asarray(counts, float), got)
    assert merged.sum() == sum(counts)
    if sum(counts) >= 30:
        assert np.all(merged >= 30)


def test_merge_bins_min_count_option() -> None:
    np.testing.assert_array_equal(merge_bins([3, 3, 3, 3, 3], min_count=5), [0, 2])  # [6, 9]
    np.testing.assert_array_equal(merge_bins([1, 2, 3], min_count=1), [0, 1, 2])


def _alarm(signum, frame):  # pragma: no cover - only when the function hangs
    raise TimeoutError("merge_bins did not return within 2 s")


def test_merge_bins_min_count_zero_terminates() -> None:
    # min_count = 0 means "no merging": every bin stands alone (or the argument is rejected);
    # it must not loop forever
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(2)
    try:
        try:
            got = merge_bins([1, 2, 3], min_count=0)
        except ValueError as exc:
            assert "`min_count`" in str(exc)
        else:
            np.testing.assert_array_equal(got, [0, 1, 2])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# ------------------------------------------------------------------ merged_chi2
def _chi2_by_hand(obs: np.ndarray, exp: np.ndarray, starts: list[int], n_free: int) -> tuple[float, int, float]:
    bounds = list(starts) + [obs.size]
    o = np.array([obs[s:e].sum() for s, e in zip(bounds[:-1], bounds[1:])])
    e = np.array([exp[s:e].sum() for s, e in zip(bounds[:-1], bounds[1:])])
    chi2 = float(np.sum((o - e) ** 2 / e))
    ndf = o.size - n_free
    return chi2, ndf, float(stats.chi2.sf(chi2, ndf))


def test_merged_chi2_binned_by_hand() -> None:
    edges = np.arange(0.0, 11.0, 1.0)
    counts = np.array([120, 80, 50, 33, 20, 15, 9, 5, 4, 2], dtype=float)
    data = BinnedData(counts, edges)
    res = merged_chi2(MODEL, data, n_free=1)
    # merged by hand: [120] [80] [50] [33] [20+15] [9+5+4+2 = 20 < 30 -> joins] => last = 55
    np.testing.assert_array_equal(res.observed, [120, 80, 50, 33, 55])
    np.testing.assert_array_equal(res.edges, [0.0, 1.0, 2.0, 3.0, 4.0, 10.0])
    exp = counts.sum() * MODEL.bin_probabilities(edges)
    chi2, ndf, p = _chi2_by_hand(counts, exp, [0, 1, 2, 3, 4], 1)
    assert res.chi2 == pytest.approx(chi2, rel=1e-12)
    assert res.ndf == ndf == 4 and res.n_bins == 5 and res.n_free == 1
    assert res.pvalue == pytest.approx(p, rel=1e-10)
    assert res.chi2_ndf == pytest.approx(chi2 / 4)
    np.testing.assert_allclose(res.expected.sum(), counts.sum(), rtol=1e-12)  # sum of expectations = N
    np.testing.assert_allclose(res.residuals, (res.observed - res.expected) / np.sqrt(res.expected), rtol=1e-12)
    d = res.to_dict()
    assert d["chi2"] == res.chi2 and d["ndf"] == 4 and d["n_bins"] == 5


def test_merged_chi2_unbinned_with_edges(rng: np.random.Generator) -> None:
    x = MODEL.sample(500, rng=rng)
    data = UnbinnedData(x, SUPPORT)
    edges = np.linspace(*SUPPORT, 21)
    res = merged_chi2(MODEL, data, n_free=0, edges=edges)
    counts = np.histogram(x, edges)[0].astype(float)
    exp = 500 * MODEL.bin_probabilities(edges)
    starts = merge_bins(counts)
    chi2, ndf, p = _chi2_by_hand(counts, exp, list(starts), 0)
    assert res.chi2 == pytest.approx(chi2, rel=1e-12) and res.ndf == ndf
    assert res.pvalue == pytest.approx(p, rel=1e-10)
    # data drawn from the model: the p-value is not extreme (seeded)
    assert res.pvalue > 0.01


def test_merged_chi2_coarser_edges_for_binned_data() -> None:
    edges = np.arange(0.0, 11.0, 1.0)
    counts = np.array([120, 80, 50, 33, 20, 15, 9, 5, 4, 2], dtype=float)
    data = BinnedData(counts, edges)
    coarse = [0.0, 2.0, 5.0, 10.0]
    res = merged_chi2(MODEL, data, n_free=1, edges=coarse)
    np.testing.assert_array_equal(res.observed, [200, 103, 35])
    with pytest.raises(ValueError, match="`edges` must be a subset"):
        merged_chi2(MODEL, data, n_free=1, edges=[0.0, 2.5, 10.0])


def test_merged_chi2_needs_edges_for_unbinned_and_nan_pvalue_without_ndf() -> None:
    data = UnbinnedData(MODEL.sample(100, rng=1), SUPPORT)
    with pytest.raises(ValueError, match="`edges`"):
        merged_chi2(MODEL, data, n_free=1)
    res = merged_chi2(MODEL, data, n_free=5, edges=[0.0, 5.0, 10.0])
    assert res.ndf <= 0 and np.isnan(res.pvalue) and np.isnan(res.chi2_ndf)
