"""Numerical kernels of :mod:`expmix._math`, the parameter count and the information criteria.

References are independent closed forms: ``log((1 - e^-u)/u)`` evaluated with ``expm1`` where it is
accurate, its Taylor series ``-u/2 + u^2/24 - u^4/2880`` near 0, and the truncated-exponential bin
probability written directly in log space,
``log P = -beta lo + log(-expm1(-beta w)) - log(-expm1(-beta L))``.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from expmix import ExponentialMixture, aic, bic
from expmix._math import dlog_bin_prob, dlog_norm_density, dlog_rel, log_bin_prob, log_norm_density, log_rel
from expmix.parametrization import MixtureParametrization, n_free_parameters, softmax_weights


def _log_rel_ref(u: float) -> float:
    """log((1 - e^-u)/u): series below 1e-3 (error < u^6/10^5), expm1 form above (exact to ulps)."""
    if u < 1e-3:
        return -u / 2 + u**2 / 24 - u**4 / 2880
    return math.log(-math.expm1(-u)) - math.log(u)


def _log_bin_ref(beta: float, lo: float, w: float, length: float) -> float:
    """Closed form in log space; length may be inf (then the normaliser is log(1) = 0)."""
    norm = 0.0 if math.isinf(length) else math.log(-math.expm1(-beta * length))
    return -beta * lo + math.log(-math.expm1(-beta * w)) - norm


# ------------------------------------------------------------------ log_rel and its derivative
@pytest.mark.parametrize("u", [0.0, 1e-12, 1e-8, 9.99e-6, 1.001e-5, 1e-4, 1e-3, 0.1, 1.0, 10.0, 700.0, 1e5, 1e300])
def test_log_rel_matches_closed_form(u: float) -> None:
    # log_rel enters log-densities additively, so the requirement is an absolute error of a few ulps
    # of the O(1..700) log terms it is added to: abs 1e-14 (the expm1 branch just above the switch
    # at u = 1e-5 has an absolute error ~1e-15, i.e. ~1e-10 relative to its value -u/2).
    # u = 1e300 checks that a huge beta * L gives -log u without a floating-point warning.
    got = float(log_rel(np.array(u)))
    assert got == pytest.approx(_log_rel_ref(u), rel=1e-13, abs=1e-14)


def test_log_rel_is_continuous_at_series_switch() -> None:
    # the kernel switches from the series to the expm1 form at u = 1e-5: no jump larger than the slope
    u = np.array([1e-5 * (1 - 1e-9), 1e-5, 1e-5 * (1 + 1e-9)])
    v = log_rel(u)
    assert np.all(np.abs(np.diff(v)) < 1e-13)


def test_log_rel_limits() -> None:
    assert float(log_rel(np.array(0.0))) == 0.0  # (1 - e^-u)/u -> 1
    assert float(log_rel(np.array(np.inf))) == -np.inf  # -> -log u
    assert float(dlog_rel(np.array(0.0))) == -0.5  # derivative of -u/2 + ...
    assert float(dlog_rel(np.array(1e6))) == pytest.approx(-1e-6, rel=1e-12)  # 1/expm1(u) - 1/u -> -1/u


@pytest.mark.parametrize("u", [1e-9, 5e-6, 2e-5, 0.3, 3.0, 40.0])
def test_dlog_rel_matches_central_difference(u: float) -> None:
    h = 1e-6 * max(u, 1e-3)
    fd = (_log_rel_ref(u + h) - _log_rel_ref(u - h)) / (2 * h)
    assert float(dlog_rel(np.array(u))) == pytest.approx(fd, rel=1e-6, abs=1e-9)


# ------------------------------------------------------------------ normalisation and bin probabilities
@pytest.mark.parametrize(("beta", "length"), [(1e-3, 10.0), (0.5, 10.0), (2.0, 1e4), (3.0, np.inf)])
def test_log_norm_density(beta: float, length: float) -> None:
    # beta / (1 - e^{-beta L}); for L = inf it is beta
    ref = math.log(beta) - (0.0 if math.isinf(length) else math.log(-math.expm1(-beta * length)))
    assert float(log_norm_density(np.array(beta), length)) == pytest.approx(ref, rel=1e-13)
    h = 1e-7 * beta
    fd = (float(log_norm_density(np.array(beta + h), length)) - float(log_norm_density(np.array(beta - h), length))) / (2 * h)
    assert float(dlog_norm_density(np.array(beta), length)) == pytest.approx(fd, rel=1e-6)


def test_log_norm_density_flat_component() -> None:
    # beta = 0 on a finite range is the uniform density 1/L
    assert float(log_norm_density(np.array(0.0), 8.0)) == pytest.approx(-math.log(8.0), rel=1e-15)


@pytest.mark.parametrize(
    ("beta", "lo", "width", "length"),
    [
        (1.0, 5.0, 1e-12, 10.0),  # beta * width = 1e-12: a naive exp difference loses every digit
        (0.01, 300.0, 1e-10, 9500.0),
        (1.0, 2000.0, 1.0, 5000.0),  # exp(-2000) underflows; the log stays exact
        (1.0, 2000.0, 1.0, np.inf),
        (50.0, 90.0, 0.5, 100.0),  # steep: exp(-4500)
        (1e-9, 3.0, 2.0, 10.0),  # almost flat
        (0.3, 0.0, 10.0, 10.0),  # the whole range: probability 1
    ],
)
def test_log_bin_prob_closed_form_in_log_space(beta: float, lo: float, width: float, length: float) -> None:
    got = float(log_bin_prob(np.array(beta), np.array(lo), np.array(width), length))
    assert np.isfinite(got)
    assert got == pytest.approx(_log_bin_ref(beta, lo, width, length), rel=1e-12, abs=1e-13)


def test_log_bin_prob_infinite_last_bin() -> None:
    # [a + lo, inf) under rate beta on [a, inf): log P = -beta lo
    got = log_bin_prob(np.array([[0.5], [2.0]]), np.array([3.0]), np.array([np.inf]), np.inf)
    np.testing.assert_allclose(got[:, 0], [-1.5, -6.0], rtol=1e-14)


@pytest.mark.parametrize(("beta", "lo", "width", "length"), [(0.7, 1.0, 2.0, 10.0), (0.01, 500.0, 50.0, 9500.0), (2.0, 1.0, 3.0, np.inf)])
def test_dlog_bin_prob_matches_central_difference(beta: float, lo: float, width: float, length: float) -> None:
    h = 1e-6 * beta
    fd = (_log_bin_ref(beta + h, lo, width, length) - _log_bin_ref(beta - h, lo, width, length)) / (2 * h)
    got = float(dlog_bin_prob(np.array(beta), np.array(lo), np.array(width), length))
    assert got == pytest.approx(fd, rel=1e-6)


def test_mixture_log_integral_uses_the_stable_kernels() -> None:
    # the model's log_integral in the far tail (exp underflows) and for a 1e-12-wide bin
    m = ExponentialMixture([1.0], [1.0], (0.0, 5000.0))
    assert float(m.log_integral(2000.0, 2001.0)) == pytest.approx(_log_bin_ref(1.0, 2000.0, 1.0, 5000.0), rel=1e-13)
    assert float(m.integral(2000.0, 2001.0)) == 0.0  # underflow of the probability itself is fine
    m2 = ExponentialMixture([1.0], [1.0], (0.0, 10.0))
    got = float(m2.log_integral(5.0, 5.0 + 1e-12))
    # width from the float difference of the edges, as the model sees it
    w = (5.0 + 1e-12) - 5.0
    assert got == pytest.approx(_log_bin_ref(1.0, 5.0, w, 10.0), rel=1e-12)
    # the mixture of two tail-underflowing components: logsumexp of the closed forms
    m3 = ExponentialMixture([1.0, 2.0], [0.25, 0.75], (0.0, np.inf))
    ref = np.logaddexp(math.log(0.25) + _log_bin_ref(1.0, 1000.0, 1.0, np.inf), math.log(0.75) + _log_bin_ref(2.0, 1000.0, 1.0, np.inf))
    assert float(m3.log_integral(1000.0, 1001.0)) == pytest.approx(ref, rel=1e-13)


# ------------------------------------------------------------------ parametrization and free parameters
@pytest.mark.parametrize("k", [1, 2, 3, 4, 6])
def test_n_free_parameters(k: int) -> None:
    # k rates + (k - 1) logits (paper eq. 2.6: v_1 = 0), + 1 yield when extended
    assert n_free_parameters(k) == 2 * k - 1
    assert n_free_parameters(k, extended=True) == 2 * k
    par = MixtureParametrization(k, 0.01, (0.0, 100.0))
    assert par.n_free == 2 * k - 1 == len(par.names) == len(par.limits)


@pytest.mark.parametrize("k", [0, -1, 1.5])
def test_n_free_parameters_rejects_bad_k(k: float) -> None:
    with pytest.raises(ValueError, match="`k`"):
        n_free_parameters(k)  # type: ignore[arg-type]


def test_softmax_weights_and_round_trip() -> None:
    # w_i = e^{v_i} / sum e^{v_j}, v_1 = 0 (paper eq. 2.6), computed by hand
    v = np.array([1.0, -2.0])
    e = np.exp([0.0, 1.0, -2.0])
    np.testing.assert_allclose(softmax_weights(v), e / e.sum(), rtol=1e-15)
    par = MixtureParametrization(3, 0.02, (10.0, 200.0))
    m = ExponentialMixture([0.01, 0.03, 0.1], [0.2, 0.5, 0.3], (10.0, 200.0))
    back = par.to_model(par.from_model(m))
    np.testing.assert_allclose(back.rates, m.rates, rtol=1e-14)
    np.testing.assert_allclose(back.weights, m.weights, rtol=1e-14)


def test_parametrization_validation() -> None:
    with pytest.raises(ValueError, match="`beta_ref`"):
        MixtureParametrization(2, 0.0, (0.0, 1.0))
    with pytest.raises(ValueError, match="`cap`"):
        MixtureParametrization(2, 1.0, (0.0, 1.0), cap=0.0)
    par = MixtureParametrization(2, 1.0, (0.0, 1.0))
    with pytest.raises(ValueError, match="`model`"):
        par.from_model(ExponentialMixture([1.0], [1.0], (0.0, 1.0)))


# ------------------------------------------------------------------ information criteria (paper footnote 2)
def test_aic_bic_by_hand() -> None:
    # AIC = -2 ln L + 2p, BIC = -2 ln L + p ln n
    assert aic(100.0, 3) == 106.0
    assert bic(100.0, 3, 5036) == pytest.approx(100.0 + 3 * math.log(5036), rel=1e-15)
    with pytest.raises(ValueError, match="`n_data`"):
        bic(100.0, 3, 0)
