"""Contract suite over every model (scipy ``test_cont_basic`` style) and model validation.

Every expected number is an independent computation: adaptive quadrature (``scipy.integrate.quad``
with breakpoints), ``scipy.stats.truncexpon`` for k = 1, or exact identities (``cdf(ppf(q)) = q``).
Family parameters are rounded best fits to the shared data (``fit(data, family)``), chosen only to be
realistic; no test depends on their values.
"""

from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from expmix import ExponentialMixture, FamilyModel
from expmix.models.families import FAMILIES, get_family

MIXTURES = {
    "k1": ExponentialMixture([0.01], [1.0], (500.0, 10000.0)),
    "k2-diphoton-like": ExponentialMixture([0.0125, 0.004], [0.8, 0.2], (500.0, 10000.0)),
    "flat+falling": ExponentialMixture([0.0, 0.05], [0.2, 0.8], (0.0, 100.0)),
    "very-steep": ExponentialMixture([200.0, 0.5], [0.5, 0.5], (0.0, 10.0)),  # beta * L = 2000
    "unbounded": ExponentialMixture([0.5, 0.05, 2.0], [0.3, 0.5, 0.2], (1.0, np.inf)),
    "zero-weight": ExponentialMixture([0.3, 3.0], [1.0, 0.0], (2.0, 12.0)),
}

FAMILY_PARAMS = {
    "dijet": ([7.774, -5.602, -0.0754], (1100.0, 10000.0)),
    "dijet5": ([8.849, -4.308, 0.3834, 0.05898], (1100.0, 10000.0)),
    "dijet3": ([8.529, -5.175], (1100.0, 10000.0)),
    "f1": ([-9.062, -0.7837], (500.0, 10000.0)),
    "f2": ([-21.21, -3.3208], (500.0, 10000.0)),
    "f3": ([29.32, -7.3286], (500.0, 10000.0)),
    "f4": ([755.39, -3.7069, -3.3374], (500.0, 10000.0)),
    "gpd": ([149.06, 0.158], (500.0, 10000.0)),
    "gpd-negative-xi": ([2000.0, -0.1], (500.0, 10000.0)),
}

MODELS = {**{f"mixture-{n}": m for n, m in MIXTURES.items()},
          **{f"family-{n}": FamilyModel(n.split("-")[0], p, s) for n, (p, s) in FAMILY_PARAMS.items()}}


def test_every_family_is_in_the_contract_suite() -> None:
    assert set(FAMILIES) <= {n.split("-")[0] for n in FAMILY_PARAMS}


@pytest.fixture(params=sorted(MODELS), ids=sorted(MODELS))
def model(request: pytest.FixtureRequest):
    return MODELS[request.param]


def _upper(m) -> float:
    """A finite upper end for grids (the far tail of an unbounded mixture)."""
    a, b = m.support
    return b if np.isfinite(b) else a + 40.0 / float(np.min(m.rates))


def _breakpoints(m, n: int = 40) -> np.ndarray:
    a, b = m.support[0], _upper(m)
    inner = np.geomspace(a, b, n) if a > 0 else np.linspace(a, b, n)
    if isinstance(m, ExponentialMixture):  # resolve the steepest scale near x_min
        inner = np.union1d(inner, a + np.geomspace(1e-3, 10.0, 12) / float(np.max(m.rates)))
    return np.unique(np.clip(inner, a, b))


def _quad(f, lo: float, hi: float) -> float:
    return integrate.quad(f, lo, hi, epsabs=0.0, epsrel=1e-12, limit=200)[0]


def _quad_range(m, lo: float, hi: float) -> float:
    """Integral of the pdf on [lo, hi] piecewise between breakpoints (hi may be inf)."""
    pts = _breakpoints(m)
    pts = np.concatenate([[lo], pts[(pts > lo) & (pts < min(hi, _upper(m)))], [min(hi, _upper(m))]])
    total = sum(_quad(m.pdf, p, q) for p, q in zip(pts[:-1], pts[1:]))
    if hi > _upper(m):
        total += integrate.quad(m.pdf, _upper(m), hi)[0]
    return total


def _grid(m, n: int = 2001) -> np.ndarray:
    a, b = m.support[0], _upper(m)
    return np.unique(np.concatenate([np.linspace(a, b, n), _breakpoints(m)]))


# ------------------------------------------------------------------ normalisation and bins
def test_pdf_integrates_to_one(model) -> None:
    assert _quad_range(model, *model.support) == pytest.approx(1.0, abs=1e-10)


def test_bin_probabilities_match_quad_and_sum_to_one(model) -> None:
    a, b = model.support
    e = _breakpoints(model, 25)
    if not np.isfinite(b):
        e = np.append(e, np.inf)  # last bin reaches x_max = inf
    p = model.bin_probabilities(e)
    assert p.shape == (e.size - 1,)
    assert np.all(p >= 0)
    # sum of bins = integral over the range = 1
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    ref = np.array([_quad_range(model, lo, hi) for lo, hi in zip(e[:-1], e[1:])])
    np.testing.assert_allclose(p, ref, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(model.bin_expectation(e, 1234.0), 1234.0 * p, rtol=1e-14)


def test_integral_matches_cdf_difference(model) -> None:
    x = _grid(model, 11)
    got = model.integral(x[:-1], x[1:])
    np.testing.assert_allclose(got, np.diff(model.cdf(x)), rtol=1e-8, atol=1e-13)


def test_cdf_ppf_round_trip(model) -> None:
    q = np.concatenate([[1e-9, 1e-4], np.linspace(0.001, 0.999, 199), [1 - 1e-6]])
    x = model.ppf(q)
    a, b = model.support
    assert np.all((x >= a) & (x <= b))
    np.testing.assert_allclose(model.cdf(x), q, rtol=1e-9, atol=1e-12)
    assert model.ppf(0.0) == pytest.approx(a)


def test_cdf_monotone_and_limits(model) -> None:
    a, b = model.support
    x = _grid(model)
    c = model.cdf(x)
    # non-decreasing up to round-off of a few ulps of 1 (the cdf is evaluated in log space)
    assert np.min(np.diff(c)) >= -16 * np.finfo(float).eps
    assert c[0] == 0.0
    assert model.cdf(a - 1.0) == 0.0
    if np.isfinite(b):
        assert model.cdf(b) == pytest.approx(1.0, abs=1e-14)
        assert model.cdf(b + 1.0) == pytest.approx(1.0, abs=1e-14)


def test_logpdf_is_log_pdf_and_support_masking(model) -> None:
    a, b = model.support
    x = _grid(model, 501)
    lp = model.logpdf(x)
    assert np.all(np.isfinite(lp[model.pdf(x) > 0]))
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(lp, np.log(model.pdf(x)), rtol=1e-12, atol=1e-300)
    outside = np.array([a - 1.0, a - 1e-9] + ([b + 1e-9 * max(1, abs(b)), b + 1.0] if np.isfinite(b) else []))
    assert np.all(model.logpdf(outside) == -np.inf)
    assert np.all(model.pdf(outside) == 0.0)


def test_bins_outside_the_support_have_zero_probability(model) -> None:
    a, b = model.support
    top = b if np.isfinite(b) else a + 1.0
    # bins below, straddling and (for a finite range) above the support; probabilities clip to it
    e = [a - 10.0, a - 1.0, a, top] + ([b + 1.0, b + 5.0] if np.isfinite(b) else [])
    p = model.bin_probabilities(e)
    assert p[0] == 0.0 and p[1] == 0.0
    assert p[2] == pytest.approx(float(model.cdf(top)), rel=1e-9)
    if np.isfinite(b):
        assert np.all(p[3:] == 0.0)


def test_vectorised_shapes(model) -> None:
    a = model.support[0]
    x = np.linspace(a, _upper(model), 12).reshape(3, 4)
    for f in (model.pdf, model.logpdf, model.cdf):
        out = f(x)
        assert out.shape == (3, 4)
        np.testing.assert_array_equal(out.ravel(), np.array([f(v) for v in x.ravel()]).ravel())
    assert np.ndim(model.pdf(x[0, 0])) == 0


def test_sample_ks(model) -> None:
    x = model.sample(3000, rng=np.random.default_rng(11))
    a, b = model.support
    assert x.shape == (3000,)
    assert np.all((x >= a) & (x <= b))
    assert stats.kstest(x, model.cdf).pvalue > 0.01
    # same seed, same events
    np.testing.assert_array_equal(x, model.sample(3000, rng=np.random.default_rng(11)))


def test_pickle_round_trip(model) -> None:
    back = pickle.loads(pickle.dumps(model))
    assert type(back) is type(model)
    assert back.support == model.support
    x = _grid(model, 101)
    np.testing.assert_array_equal(back.logpdf(x), model.logpdf(x))
    np.testing.assert_array_equal(back.cdf(x), model.cdf(x))


def test_arrays_read_only_and_frozen(model) -> None:
    arrays = [model.rates, model.weights] if isinstance(model, ExponentialMixture) else [model.params]
    for arr in arrays:
        assert not arr.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.support = (0.0, 1.0)


# ------------------------------------------------------------------ exponential mixture specifics
@pytest.mark.parametrize(("beta", "support"), [(0.01, (500.0, 10000.0)), (2.0, (1.0, 3.0)), (1e-4, (0.0, 10.0)), (0.3, (5.0, np.inf))])
def test_k1_agrees_with_scipy_truncexpon(beta: float, support: tuple[float, float]) -> None:
    a, b = support
    m = ExponentialMixture([beta], [1.0], support)
    ref = stats.expon(loc=a, scale=1 / beta) if np.isinf(b) else stats.truncexpon(b=beta * (b - a), loc=a, scale=1 / beta)
    x = np.linspace(a, a + 10 / beta if np.isinf(b) else b, 301)
    q = np.linspace(0.0, 0.999, 101)
    np.testing.assert_allclose(m.pdf(x), ref.pdf(x), rtol=1e-11)
    np.testing.assert_allclose(m.logpdf(x), ref.logpdf(x), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(m.cdf(x), ref.cdf(x), rtol=1e-11, atol=1e-15)
    np.testing.assert_allclose(m.sf(x), ref.sf(x), rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(m.ppf(q), ref.ppf(q), rtol=1e-11)
    # scipy's truncexpon.mean is itself off by ~1e-10 relative at beta L = 1e-3 (the exact value is the
    # series L/2 - beta L^2/12 + beta^3 L^4/720 = 4.99916666668056 there; expmix gives it to 1e-13)
    assert m.mean() == pytest.approx(ref.mean(), rel=1e-9)


@pytest.mark.parametrize("name", sorted(MIXTURES))
def test_mixture_mean_and_sf(name: str) -> None:
    m = MIXTURES[name]
    a = m.support[0]
    pts = _breakpoints(m)
    mean = sum(_quad(lambda t: t * float(m.pdf(t)), p, q) for p, q in zip(pts[:-1], pts[1:]))
    if not np.isfinite(m.support[1]):
        mean += integrate.quad(lambda t: t * float(m.pdf(t)), pts[-1], np.inf)[0]
    assert m.mean() == pytest.approx(mean, rel=1e-9)
    x = _grid(m, 201)
    np.testing.assert_allclose(m.sf(x) + m.cdf(x), 1.0, atol=1e-14)
    assert m.sf(a) == pytest.approx(1.0, abs=1e-15)


def test_mixture_far_tail_sf_is_accurate() -> None:
    # sf in the tail where 1 - cdf cancels: closed form w1 e^{-b1 t} + w2 e^{-b2 t} on [0, inf)
    m = ExponentialMixture([1.0, 3.0], [0.5, 0.5], (0.0, np.inf))
    t = 50.0
    assert float(m.sf(t)) == pytest.approx(0.5 * np.exp(-t) + 0.5 * np.exp(-3 * t), rel=1e-13)


def test_mixture_ppf_is_monotone_in_q() -> None:
    m = MIXTURES["very-steep"]
    x = m.ppf(np.linspace(0, 1, 1001))
    assert np.all(np.diff(x) >= 0)


def test_mixture_replace_revalidates() -> None:
    m = MIXTURES["k2-diphoton-like"]
    m2 = dataclasses.replace(m, rates=[0.02, 0.003])
    np.testing.assert_array_equal(m2.rates, [0.02, 0.003])
    assert m.rates[0] == 0.0125  # the original is untouched
    with pytest.raises(ValueError, match="`weights`"):
        dataclasses.replace(m, weights=[0.5, 0.6])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(rates=[], weights=[], support=(0.0, 1.0)), "`rates`"),
        (dict(rates=[1.0, 2.0], weights=[1.0], support=(0.0, 1.0)), "`weights`"),
        (dict(rates=[-1.0], weights=[1.0], support=(0.0, 1.0)), "`rates`"),
        (dict(rates=[0.0], weights=[1.0], support=(0.0, np.inf)), "`rates`"),
        (dict(rates=[np.nan], weights=[1.0], support=(0.0, 1.0)), "`rates`"),
        (dict(rates=[1.0, 1.0], weights=[1.2, -0.2], support=(0.0, 1.0)), "`weights`"),
        (dict(rates=[1.0, 1.0], weights=[0.5, 0.6], support=(0.0, 1.0)), "`weights`"),
        (dict(rates=[1.0], weights=[1.0], support=(1.0, 1.0)), "`support`"),
        (dict(rates=[1.0], weights=[1.0], support=(2.0, 1.0)), "`support`"),
        (dict(rates=[1.0], weights=[1.0], support=(-np.inf, 1.0)), "`support`"),
        (dict(rates=[1.0], weights=[1.0], support=(0.0, np.nan)), "`support`"),
        (dict(rates=[1.0], weights=[1.0], support=(0.0,)), "`support`"),
        (dict(rates=[[1.0]], weights=[[1.0]], support=(0.0, 1.0)), "`rates`"),
    ],
)
def test_mixture_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ExponentialMixture(**kwargs)


def test_mixture_copies_its_inputs() -> None:
    r = np.array([0.1, 0.2])
    m = ExponentialMixture(r, [0.5, 0.5], (0.0, 1.0))
    r[0] = 9.0
    assert m.rates[0] == 0.1


# ------------------------------------------------------------------ families specifics
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(family="f9", params=[1.0], support=(500.0, 1000.0)), "`family`"),
        (dict(family="f2", params=[1.0], support=(500.0, 1000.0)), "`params`"),
        (dict(family="f2", params=[1.0, np.inf], support=(500.0, 1000.0)), "`params`"),
        (dict(family="f2", params=[1.0, 2.0], support=(500.0, np.inf)), "`support`"),
        (dict(family="f2", params=[1.0, 2.0], support=(1000.0, 500.0)), "`support`"),
        (dict(family="f2", params=[1.0, 2.0], support=(500.0, 1000.0), scale=0.0), "`scale`"),
    ],
)
def test_family_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FamilyModel(**kwargs)


def test_get_family_unknown_name() -> None:
    with pytest.raises(ValueError, match="`family` must be one of"):
        get_family("dijet7")
    assert get_family(FAMILIES["f1"]) is FAMILIES["f1"]


def test_family_scale_reparametrises() -> None:
    # f2 = exp(p1 x) x^p2 with x = m / scale: scale=1 with p1/13000 is the same density as scale=13000
    m1 = FamilyModel("f2", [-21.21, -3.3208], (500.0, 10000.0))
    m2 = FamilyModel("f2", [-21.21 / 13000.0, -3.3208], (500.0, 10000.0), scale=1.0)
    x = np.geomspace(500.0, 10000.0, 50)
    np.testing.assert_allclose(m1.logpdf(x), m2.logpdf(x), rtol=1e-12)


def test_gpd_exponential_limit() -> None:
    # xi -> 0: the GPD is the exponential with rate 1/sigma (truncated on the range)
    g = FamilyModel("gpd", [200.0, 0.0], (500.0, 3000.0))
    e = ExponentialMixture([1 / 200.0], [1.0], (500.0, 3000.0))
    x = np.linspace(500.0, 3000.0, 40)
    np.testing.assert_allclose(g.logpdf(x), e.logpdf(x), rtol=1e-11)


# ------------------------------------------------------------------ property test
_mixtures = st.integers(1, 4).flatmap(
    lambda k: st.tuples(
        st.lists(st.floats(1e-3, 30.0), min_size=k, max_size=k),
        st.lists(st.floats(0.05, 1.0), min_size=k, max_size=k),
        st.floats(-5.0, 5.0),
        st.one_of(st.floats(0.5, 20.0), st.just(np.inf)),
    )
)


@settings(max_examples=50, deadline=None, database=None, derandomize=True)
@given(spec=_mixtures, n_bins=st.integers(1, 30), data=st.data())
def test_property_bin_integrals_sum_to_range_integral(spec, n_bins: int, data) -> None:
    rates, w, a, length = spec
    m = ExponentialMixture(rates, np.array(w) / np.sum(w), (a, a + length))
    top = a + length if np.isfinite(length) else a + 50.0 / min(rates)
    cuts = np.sort(data.draw(st.lists(st.floats(a, top), min_size=n_bins - 1, max_size=n_bins - 1)))
    e = np.unique(np.concatenate([[a], cuts, [a + length]]))
    p = m.bin_probabilities(e)
    # the bins tile the range: their sum is the range integral, 1, and each is the cdf difference
    assert p.sum() == pytest.approx(float(m.integral(a, a + length)), abs=1e-12)
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    sub = m.bin_probabilities(np.concatenate([[a], cuts]))
    assert sub.sum() == pytest.approx(float(m.cdf(cuts[-1])) if cuts.size else 0.0, abs=1e-12)
