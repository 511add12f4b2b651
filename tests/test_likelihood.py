"""Likelihood conventions (module docstring of :mod:`expmix.likelihood`, STYLE A4) and the fast costs.

References: the Poisson likelihood written with ``scipy.stats.poisson.logpmf``; RooFit's binned NLL
written out by hand; iminuit's ``cost.BinnedNLL`` (a Baker-Cousins deviance); central finite
differences for the analytic gradient.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from iminuit.cost import BinnedNLL
from scipy import stats
from scipy.special import gammaln

from expmix import BinnedData, ExponentialMixture, FamilyModel, UnbinnedData
from expmix.likelihood import FamilyNLL, MixtureNLL, extended_term, nll, roofit_nll, roofit_offset
from expmix.parametrization import MixtureParametrization

SUPPORT = (500.0, 5000.0)
TRUTH = ExponentialMixture([0.01, 0.003], [0.7, 0.3], SUPPORT)


@pytest.fixture(scope="module")
def unbinned() -> UnbinnedData:
    return UnbinnedData(TRUTH.sample(2000, rng=np.random.default_rng(1)), SUPPORT)


@pytest.fixture(scope="module")
def binned(unbinned: UnbinnedData) -> BinnedData:
    edges = np.linspace(*SUPPORT, 46)  # 100-GeV bins; the upper bins are empty
    return BinnedData(np.histogram(unbinned.x, edges)[0], edges)


MODELS = [
    TRUTH,
    ExponentialMixture([0.008], [1.0], SUPPORT),
    ExponentialMixture([0.012, 0.004, 0.0], [0.6, 0.39, 0.01], SUPPORT),
    FamilyModel("f2", [-21.0, -3.3], SUPPORT),
]


# ------------------------------------------------------------------ nll conventions
@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_unbinned_nll_is_minus_sum_logpdf(model, unbinned: UnbinnedData) -> None:
    # paper eq. 3.8
    assert nll(model, unbinned) == pytest.approx(-math.fsum(model.logpdf(unbinned.x)), rel=1e-12)


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_binned_nll_is_multinomial(model, binned: BinnedData) -> None:
    p = model.bin_probabilities(binned.edges)
    keep = binned.counts > 0
    assert nll(model, binned) == pytest.approx(-math.fsum(binned.counts[keep] * np.log(p[keep])), rel=1e-12)


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_binned_nll_vs_poisson_with_profiled_total(model, binned: BinnedData) -> None:
    # Poisson NLL with nu_b = N p_b (the yield profiled at nu = N), eq. 3.2, equals
    # nll + N - N ln N + sum ln n_b!  (the documented data-only constant)
    n = binned.counts
    big_n = n.sum()
    poisson = -math.fsum(stats.poisson.logpmf(n, big_n * model.bin_probabilities(binned.edges)))
    const = big_n - big_n * math.log(big_n) + math.fsum(gammaln(n + 1))
    assert poisson == pytest.approx(nll(model, binned) + const, rel=1e-12)


@pytest.mark.parametrize("model", MODELS, ids=repr)
def test_roofit_convention(model, binned: BinnedData) -> None:
    # RooFit: -sum n_b ln(p_b / w_b) = nll + sum n_b ln w_b
    p = model.bin_probabilities(binned.edges)
    w = np.diff(binned.edges)
    keep = binned.counts > 0
    by_hand = -math.fsum(binned.counts[keep] * np.log(p[keep] / w[keep]))
    assert roofit_nll(model, binned) == pytest.approx(by_hand, rel=1e-12)
    assert roofit_offset(binned) == pytest.approx(math.fsum(binned.counts * np.log(w)), rel=1e-12)
    assert roofit_nll(model, binned) == pytest.approx(nll(model, binned) + roofit_offset(binned), rel=1e-14)


def test_delta_twice_nll_equals_delta_of_iminuit_binned_nll(binned: BinnedData) -> None:
    # iminuit's BinnedNLL is a Baker-Cousins deviance (saturated model subtracted); differences
    # between models must equal differences of our -2 ln L (STYLE A4)
    def cdf(xe, i):
        return MODELS[int(round(i))].cdf(xe)

    cost = BinnedNLL(binned.counts, binned.edges, cdf)
    ours = np.array([2 * nll(m, binned) for m in MODELS])
    theirs = np.array([cost(float(i)) for i in range(len(MODELS))])
    np.testing.assert_allclose(ours - ours[0], theirs - theirs[0], rtol=1e-9, atol=1e-7)
    # and the offset is data-only: the saturated term 2 sum n ln(n/N)
    keep = binned.counts > 0
    n, big_n = binned.counts[keep], binned.counts.sum()
    assert theirs[0] - ours[0] == pytest.approx(2 * math.fsum(n * np.log(n / big_n)), rel=1e-9)


def test_extended_term() -> None:
    assert extended_term(10.0, 7.0) == pytest.approx(10.0 - 7.0 * math.log(10.0))
    assert extended_term(10.0, 0.0) == 10.0


def test_nll_rejects_bare_arrays() -> None:
    with pytest.raises(TypeError, match="`data`"):
        nll(TRUTH, np.array([600.0, 700.0]))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="`data`"):
        roofit_nll(TRUTH, UnbinnedData([600.0], SUPPORT))  # type: ignore[arg-type]


# ------------------------------------------------------------------ fast costs agree with nll
@pytest.mark.parametrize("which", ["unbinned", "binned"])
def test_mixture_cost_equals_nll(which: str, request: pytest.FixtureRequest) -> None:
    data = request.getfixturevalue(which)
    par = MixtureParametrization(3, data.reference_rate(), data.range)
    theta = np.array([0.5, 1.5, 4.0, 0.3, -1.0])
    cost = MixtureNLL(data, par)
    assert cost(theta) == pytest.approx(nll(par.to_model(theta), data), rel=1e-12)
    # log_f: log density per event, or log probability per non-empty bin
    m = par.to_model(theta)
    ref = m.logpdf(data.x) if which == "unbinned" else np.log(m.bin_probabilities(data.edges)[data.counts > 0])
    np.testing.assert_allclose(cost.log_f(theta), ref, rtol=1e-12)


@pytest.mark.parametrize("which", ["unbinned", "binned"])
@pytest.mark.parametrize("family", ["f1", "f2", "f3", "f4", "dijet", "gpd"])
def test_family_cost_equals_nll(which: str, family: str, request: pytest.FixtureRequest) -> None:
    data = request.getfixturevalue(which)
    p = {"f1": [-9.0, -0.8], "f2": [-21.0, -3.3], "f3": [29.0, -7.3], "f4": [755.0, -3.7, -3.3],
         "dijet": [7.8, -5.6, -0.08], "gpd": [150.0, 0.16]}[family]
    cost = FamilyNLL(data, family)
    assert cost(np.array(p)) == pytest.approx(nll(FamilyModel(family, p, data.range), data), rel=1e-10)


def test_costs_never_raise_on_bad_parameters(unbinned: UnbinnedData, binned: BinnedData) -> None:
    for data in (unbinned, binned):
        par = MixtureParametrization(2, data.reference_rate(), data.range)
        cost = MixtureNLL(data, par)
        for theta in ([np.nan, 1.0, 0.0], [-1.0, 1.0, 0.0], [1.0, 2.0, np.inf]):
            val = cost(np.array(theta))
            assert np.isnan(val) or val == np.inf or np.isfinite(val)
            assert np.all(np.isfinite(cost.grad(np.array(theta))))
        assert cost(np.array([np.nan, 1.0, 0.0])) == np.inf
        fcost = FamilyNLL(data, "f3")
        assert fcost(np.array([-1e9, 5.0])) == np.inf  # (1 + p1 x)^p2 undefined on the range


def test_family_cost_needs_finite_range() -> None:
    with pytest.raises(ValueError, match=r"`data.range` must be finite"):
        FamilyNLL(UnbinnedData([1.0, 2.0], (0.5, np.inf)), "f2")


# ------------------------------------------------------------------ gradient: property tests
def _fd_grad(f, theta: np.ndarray) -> np.ndarray:
    g = np.empty_like(theta)
    for i in range(theta.size):
        h = 1e-6 * max(1.0, abs(theta[i]))
        tp, tm = theta.copy(), theta.copy()
        tp[i] += h
        tm[i] -= h
        g[i] = (f(tp) - f(tm)) / (2 * h)
    return g


_theta = st.integers(1, 3).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(0.05, 20.0), min_size=k, max_size=k),
        st.lists(st.floats(-3.0, 3.0), min_size=k - 1, max_size=k - 1),
    )
)
_support = st.sampled_from([(0.0, 10.0), (500.0, 5000.0), (1.0, np.inf), (100.0, 101.0)])


@settings(max_examples=50, deadline=None, database=None, derandomize=True)
@given(theta=_theta, support=_support, binned=st.booleans(), seed=st.integers(0, 2**16))
def test_property_mixture_gradient_matches_finite_differences(theta, support, binned: bool, seed: int) -> None:
    r, v = theta
    a, b = support
    gen = np.random.default_rng(seed)
    scale = 3.0 if np.isinf(b) else (b - a) / 5
    x = a + gen.exponential(scale, 400)
    if np.isfinite(b):
        x = a + np.mod(x - a, b - a)
    if binned:
        top = b if np.isfinite(b) else float(x.max()) * 1.5 + 1.0
        edges = np.linspace(a, top, 21)
        data = BinnedData(np.histogram(x, edges)[0], edges)
    else:
        data = UnbinnedData(x, support)
    par = MixtureParametrization(len(r), data.reference_rate(), data.range)
    cost = MixtureNLL(data, par)
    t = np.array(r + v, dtype=float)
    g = cost.grad(t)
    fd = _fd_grad(cost, t)
    # central differences: truncation ~h^2, round-off ~eps * NLL / h; relative tolerance 1e-5 of
    # the gradient's scale
    np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-5 * max(1.0, float(np.max(np.abs(fd)))))
