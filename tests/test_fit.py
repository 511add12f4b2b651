"""`expmix.fit`: closed-form MLEs, determinism, the frozen result, restart dominance, failures that
warn instead of raising, parameter counts and the information criteria, and input validation.

References: the k=1 MLE on [a, inf) is 1/(mean - a); on [a, b] it is the root of the truncated-
exponential score equation 1/beta - L/(e^{beta L} - 1) = mean - a (solved with scipy's brentq);
AIC = 2 nll + 2p, BIC = 2 nll + p ln n (paper footnote 2), computed by hand.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings

import numpy as np
import pytest
from scipy.optimize import brentq

from expmix import BinnedData, ExponentialMixture, FitResult, UnbinnedData, fit
from expmix.likelihood import FamilyNLL, MixtureNLL, nll
from expmix.models.families import FAMILIES
from expmix.report import format_fit, pdg_round
from expmix.warnings import ConvergenceWarning

SUPPORT = (500.0, 5000.0)
TRUTH2 = ExponentialMixture([0.012, 0.004], [0.75, 0.25], SUPPORT)


@pytest.fixture(scope="module")
def toy2() -> UnbinnedData:
    return UnbinnedData(TRUTH2.sample(1500, rng=np.random.default_rng(2)), SUPPORT)


@pytest.fixture(scope="module")
def toy2_binned(toy2: UnbinnedData) -> BinnedData:
    edges = np.linspace(*SUPPORT, 91)
    return BinnedData(np.histogram(toy2.x, edges)[0], edges)


@pytest.fixture(scope="module")
def fit2(toy2: UnbinnedData) -> FitResult:
    return fit(toy2, 2, starts=5, rng=3)


# ------------------------------------------------------------------ closed-form k = 1
def test_k1_unbinned_half_line_closed_form(rng: np.random.Generator) -> None:
    a = 100.0
    x = a + rng.exponential(40.0, 3000)
    res = fit(UnbinnedData(x, (a, np.inf)), 1, rng=0)
    beta_hat = 1.0 / (x.mean() - a)  # closed-form MLE
    assert res.valid
    assert res.model.rates[0] == pytest.approx(beta_hat, rel=1e-6)
    # NLL at the MLE: -n ln beta + beta sum(x - a) = -n ln beta + n
    assert res.nll == pytest.approx(-x.size * math.log(beta_hat) + x.size, rel=1e-12)


def test_k1_unbinned_finite_range_score_root(rng: np.random.Generator) -> None:
    a, b = SUPPORT
    length = b - a
    m = ExponentialMixture([1 / 1500.0], [1.0], SUPPORT)  # beta L = 3: the truncation matters
    x = m.sample(4000, rng=rng)
    dbar = x.mean() - a

    def score(beta: float) -> float:  # d/dbeta of the mean log-likelihood
        return 1.0 / beta - length / math.expm1(beta * length) - dbar

    beta_hat = brentq(score, 1e-9, 0.1, xtol=1e-16, rtol=1e-14)
    res = fit(UnbinnedData(x, SUPPORT), 1, rng=0)
    assert res.valid
    assert res.model.rates[0] == pytest.approx(beta_hat, rel=1e-5)
    # the fitted NLL is the NLL at the exact root (quadratic minimum: agreement ~1e-9 absolute)
    exact = nll(ExponentialMixture([beta_hat], [1.0], SUPPORT), UnbinnedData(x, SUPPORT))
    assert res.nll == pytest.approx(exact, abs=1e-6)
    assert res.nll >= exact - 1e-9


# ------------------------------------------------------------------ result object
def test_fit_result_is_frozen_and_read_only(fit2: FitResult) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        fit2.nll = 0.0  # type: ignore[misc]
    for arr in (fit2.values, fit2.errors, fit2.covariance):
        assert not arr.flags.writeable
    assert not fit2.model.rates.flags.writeable


def test_value_error_lookup_by_name(fit2: FitResult) -> None:
    assert fit2.names == ("r1", "r2", "v2")
    for i, name in enumerate(fit2.names):
        assert fit2.value(name) == fit2.values[i]
        assert fit2.error(name) == fit2.errors[i]
        # iminuit maps errors of bounded parameters through the limit transformation, so they agree
        # with sqrt(diag(covariance)) only approximately
        assert fit2.errors[i] == pytest.approx(math.sqrt(fit2.covariance[i, i]), rel=1e-3)
    with pytest.raises(KeyError, match="'r9'"):
        fit2.value("r9")
    with pytest.raises(KeyError, match="'nope'"):
        fit2.error("nope")
    np.testing.assert_allclose(np.diag(fit2.correlation()), 1.0, rtol=1e-12)


def test_fit_result_model_and_summaries(fit2: FitResult, toy2: UnbinnedData) -> None:
    assert fit2.kind == "mixture" and fit2.k == 2 and fit2.label == "mixture k=2"
    assert fit2.valid and not fit2.binned
    assert fit2.n_starts == 5 and 1 <= fit2.n_converged <= 5
    assert fit2.model.support == SUPPORT
    # the reported NLL is the NLL of the reported model
    assert fit2.nll == pytest.approx(nll(fit2.model, toy2), rel=1e-12)
    assert fit2.twice_nll == 2 * fit2.nll
    # rates in units of beta_ref, logits with v1 = 0 (paper eq. 2.6)
    np.testing.assert_allclose(fit2.model.rates, fit2.values[:2] * fit2.beta_ref, rtol=1e-12)
    w = np.exp([0.0, fit2.value("v2")])
    np.testing.assert_allclose(fit2.model.weights, w / w.sum(), rtol=1e-12)
    d = fit2.to_dict()
    assert d["schema_version"] == 1 and d["k"] == 2 and d["nll"] == fit2.nll
    assert set(d["parameters"]) == {"r1", "r2", "v2"}
    text = str(fit2)
    assert text == format_fit(fit2) and "mixture k=2" in text and "r1" in text


def test_fit_recovers_the_truth(fit2: FitResult) -> None:
    # 1500 events from TRUTH2; the fitted rates within 5 sigma (HESSE) of the truth
    beta = np.sort(fit2.model.rates)[::-1]
    err = np.array([fit2.error("r1"), fit2.error("r2")])[np.argsort(fit2.model.rates)[::-1]] * fit2.beta_ref
    assert np.all(np.abs(beta - TRUTH2.rates) < 5 * err)


# ------------------------------------------------------------------ determinism and restarts
@pytest.mark.parametrize("method", ["newton", "migrad"])
def test_same_seed_same_result(toy2: UnbinnedData, method: str) -> None:
    r1 = fit(toy2, 3, starts=4, rng=7, method=method)
    r2 = fit(toy2, 3, starts=4, rng=7, method=method)
    np.testing.assert_array_equal(r1.values, r2.values)
    np.testing.assert_array_equal(r1.errors, r2.errors)
    assert r1.nll == r2.nll
    np.testing.assert_array_equal(r1.start_nlls, r2.start_nlls)


@pytest.mark.parametrize("method", ["newton", "migrad"])
def test_restart_dominance(toy2: UnbinnedData, method: str) -> None:
    # sklearn-style invariant: with the same seed, more starts (a superset of starting points)
    # never end at a worse minimum (tolerance: selection.MONOTONE_TOL, MIGRAD's stopping noise)
    nlls = [fit(toy2, 3, starts=s, retries=0, rng=11, method=method).nll for s in (1, 3, 8)]
    assert all(b <= a + 1e-3 for a, b in zip(nlls, nlls[1:])), nlls


def test_more_components_never_worse(toy2: UnbinnedData, toy2_binned: BinnedData) -> None:
    # a k-mixture contains every (k-1)-mixture; seeding with the k-1 fit makes this hold
    for data in (toy2, toy2_binned):
        r1 = fit(data, 1, rng=0)
        r2 = fit(data, 2, starts=5, rng=0, init=r1)
        r3 = fit(data, 3, starts=5, rng=0, init=r2)
        assert r2.nll <= r1.nll + 1e-3 and r3.nll <= r2.nll + 1e-3


# ------------------------------------------------------------------ failures warn, never raise
def _nan_value_and_grad(self, theta):
    return np.nan, np.full(np.size(theta), np.nan)


@pytest.mark.parametrize("method", ["newton", "migrad"])
def test_mixture_fit_with_nan_cost_is_invalid_not_an_exception(
    toy2: UnbinnedData, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    monkeypatch.setattr(MixtureNLL, "value_and_grad", _nan_value_and_grad)
    monkeypatch.setattr(MixtureNLL, "__call__", lambda self, theta: np.nan)
    monkeypatch.setattr(MixtureNLL, "grad", lambda self, theta: np.full(np.size(theta), np.nan))
    with pytest.warns(ConvergenceWarning, match="mixture k=2"):
        res = fit(toy2, 2, starts=2, retries=1, rng=0, method=method)
    assert not res.valid
    assert res.message != "valid minimum"


def test_family_fit_with_nan_cost_is_invalid_not_an_exception(toy2: UnbinnedData, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(FamilyNLL, "__call__", lambda self, p: np.nan)
    with pytest.warns(ConvergenceWarning, match="f2"):
        res = fit(toy2, "f2", starts=2, retries=1, rng=0)
    assert not res.valid


def test_fit_with_absurd_reference_rate_does_not_raise(toy2: UnbinnedData) -> None:
    # beta_ref = 1e200 passes validation (positive, finite): the fit may fail, but by flagging the
    # result (valid=False, ConvergenceWarning), not with an exception raised after the work started.
    # Floating-point RuntimeWarnings are ignored here: this test is about exceptions only.
    for method in ("newton", "migrad"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # includes ConvergenceWarning
            res = fit(toy2, 2, starts=2, retries=1, rng=0, beta_ref=1e200, method=method)
        assert isinstance(res, FitResult)


def test_fit_degenerate_data_all_events_at_x_min() -> None:
    # all events at x_min: the MLE rate is infinite (capped). Valid input to the containers; fit must
    # either reject it with a ValueError naming the data, or return a flagged result
    data = UnbinnedData(np.zeros(20), (0.0, 1.0))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = fit(data, 1, starts=2, rng=0)
    except ValueError as exc:
        assert re.search(r"`(x|data)`", str(exc)), str(exc)
    else:
        assert not res.valid or res.at_limit


# ------------------------------------------------------------------ counts and criteria
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_n_free_mixture_and_criteria_by_hand(toy2: UnbinnedData, toy2_binned: BinnedData, k: int) -> None:
    for data in (toy2, toy2_binned):
        res = fit(data, k, starts=2, rng=0)
        p = 2 * k - 1  # k rates + (k - 1) logits
        assert res.n_free == p == len(res.names)
        n = 1500.0  # the number of *events*, also for the histogram
        assert res.n_events == n
        assert res.aic == pytest.approx(2 * res.nll + 2 * p, rel=1e-15)
        assert res.bic == pytest.approx(2 * res.nll + p * math.log(n), rel=1e-15)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_n_free_families(toy2: UnbinnedData, family: str) -> None:
    # the constant p0 is dropped: only the shape parameters are free
    expected = {"dijet": 3, "dijet5": 4, "dijet3": 2, "f1": 2, "f2": 2, "f3": 2, "f4": 3, "gpd": 2}[family]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # only the count is checked here
        res = fit(toy2, family, starts=1, retries=0, rng=0)
    assert res.n_free == expected == len(res.names) == FAMILIES[family].n_params
    assert res.kind == family and res.label == family
    assert res.aic == pytest.approx(2 * res.nll + 2 * expected, rel=1e-15)
    assert res.bic == pytest.approx(2 * res.nll + expected * math.log(1500.0), rel=1e-15)


def test_family_fit_nll_is_nll_of_model(toy2: UnbinnedData, toy2_binned: BinnedData) -> None:
    for data in (toy2, toy2_binned):
        res = fit(data, "f2", starts=3, rng=0)
        assert res.valid
        assert res.nll == pytest.approx(nll(res.model, data), rel=1e-10)


def test_extended_adds_the_yield(toy2: UnbinnedData) -> None:
    # extended likelihood: Poisson(N | nu) x shape; nu-hat = N, nll gains N - N ln N, one more parameter
    plain = fit(toy2, 2, starts=3, rng=1)
    ext = fit(toy2, 2, starts=3, rng=1, extended=True)
    n = 1500.0
    assert ext.n_free == plain.n_free + 1 == 4
    assert ext.value("nu") == n and ext.error("nu") == pytest.approx(math.sqrt(n))
    assert ext.nll == pytest.approx(plain.nll + n - n * math.log(n), rel=1e-12)


# ------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("model", "kwargs", "match"),
    [
        (0, {}, "`k` must be an integer >= 1"),
        (-2, {}, "`k` must be an integer >= 1"),
        ("f9", {}, "`family` must be one of"),
        (2.5, {}, "`model`"),
        (None, {}, "`model`"),
        (2, {"starts": 0}, "`starts`"),
        (2, {"retries": -1}, "`retries`"),
        (2, {"cap": 0.0}, "`cap`"),
        (2, {"method": "bfgs"}, "`method`"),
    ],
)
def test_fit_bad_arguments(toy2: UnbinnedData, model, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit(toy2, model, **kwargs)


def test_fit_needs_more_events_than_parameters() -> None:
    small = UnbinnedData([510.0, 600.0, 900.0], SUPPORT)
    with pytest.raises(ValueError, match=r"`data` must hold more events than free parameters \(3\)"):
        fit(small, 2)  # p = 3 = n
    with pytest.raises(ValueError, match=r"`data` must hold more events than free parameters \(3\)"):
        fit(small, "f4")
    hist = BinnedData([2, 0, 1], [500.0, 600.0, 700.0, 800.0])
    with pytest.raises(ValueError, match="`data` must hold more events"):
        fit(hist, 2)
    fit(small, 1)  # 3 events, 1 parameter: fine


def test_fit_rejects_bare_arrays() -> None:
    with pytest.raises(TypeError, match="`data` must be UnbinnedData or BinnedData"):
        fit(np.array([600.0, 700.0, 800.0]), 1)  # type: ignore[arg-type]


def test_family_fit_needs_a_finite_range() -> None:
    data = UnbinnedData(500.0 + np.random.default_rng(0).exponential(100.0, 200), (500.0, np.inf))
    with pytest.raises(ValueError, match="`data.range` must be finite"):
        fit(data, "f2")


# ------------------------------------------------------------------ report
@pytest.mark.parametrize(
    ("value", "error", "expected"),
    [
        # PDG rule (RPP introduction): three highest error digits 100-354 -> 2 significant digits,
        # 355-949 -> 1, 950-999 -> round up to 1000 and keep 2
        (1.23456, 0.0123, ("1.235", "0.012")),
        (1.23456, 0.0456, ("1.23", "0.05")),
        (1.23456, 0.0987, ("1.23", "0.10")),
        (31030.83, 354.0, ("31030", "350")),
        (5.0, 0.0, ("5", "0.0")),
    ],
)
def test_pdg_round(value: float, error: float, expected: tuple[str, str]) -> None:
    assert pdg_round(value, error) == expected
