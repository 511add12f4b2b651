"""The batched Newton minimiser (expmix.batch) and the batched toy fits (expmix.toys)."""

from __future__ import annotations

import numpy as np
import pytest

from expmix import BinnedData, UnbinnedData, fit
from expmix.batch import Observations, evaluate, fine_edges, minimize
from expmix.likelihood import MixtureNLL
from expmix.models.families import FamilyModel
from expmix.parametrization import MixtureParametrization
from expmix.toys import fit_families, fit_mixtures, histogram_many

SUPPORT = (500.0, 10000.0)
TRUTH = FamilyModel("f2", [-0.00163184, -(1.82229**2)], SUPPORT, scale=1.0)  # issue 4's true f2


@pytest.fixture(scope="module")
def sample() -> np.ndarray:
    return TRUTH.sample(3000, rng=np.random.default_rng(11))


def _numerical_hessian(grad, theta: np.ndarray, h: float = 1e-5) -> np.ndarray:
    out = np.empty((theta.size, theta.size))
    for i in range(theta.size):
        e = np.zeros(theta.size)
        e[i] = h
        out[i] = (grad(theta + e) - grad(theta - e)) / (2 * h)
    return out


@pytest.mark.parametrize("binned", [False, True])
def test_value_gradient_and_hessian_match_the_cost(sample, binned) -> None:
    # reference: MixtureNLL (its gradient is checked against finite differences in test_likelihood)
    k, theta = 3, np.array([0.5, 2.0, 0.05, -1.0, 0.5])
    if binned:
        edges = np.linspace(*SUPPORT, 80)
        data = BinnedData(np.histogram(sample, edges)[0], edges)
        obs, w = Observations.bins(edges, *SUPPORT), data.counts
    else:
        data = UnbinnedData(sample, SUPPORT)
        obs, w = Observations.events(sample, *SUPPORT), np.ones(sample.size)
    cost = MixtureNLL(data, MixtureParametrization(k, data.reference_rate(), SUPPORT))
    v, g, h = evaluate(theta[None, :], k, np.array([data.reference_rate()]), obs, w)
    assert v[0] == pytest.approx(cost(theta), rel=1e-12)
    np.testing.assert_allclose(g[0], cost.grad(theta), rtol=1e-9, atol=1e-9)
    hn = _numerical_hessian(cost.grad, theta)
    np.testing.assert_allclose(h[0], hn, rtol=1e-5, atol=1e-5 * np.abs(hn).max())


def test_minimize_reaches_the_migrad_minimum_from_every_start(sample) -> None:
    data = UnbinnedData(sample, SUPPORT)
    ref = fit(data, 2, starts=10, rng=0, method="migrad")  # MIGRAD from every start
    rng = np.random.default_rng(3)
    theta0 = np.column_stack([np.sort(rng.uniform(0.2, 5.0, (8, 2)), axis=1), rng.normal(0, 1, 8)])
    res = minimize(theta0, 2, data.reference_rate(), Observations.events(sample, *SUPPORT), np.ones(sample.size))
    assert res.converged.all()
    np.testing.assert_allclose(res.nll, ref.nll, atol=1e-6)


def test_members_of_a_batch_are_independent(sample) -> None:
    data = UnbinnedData(sample, SUPPORT)
    obs = Observations.events(sample, *SUPPORT)
    theta0 = np.array([[0.7, 1.5, 0.0], [3.0, 0.3, 2.0]])
    together = minimize(theta0, 2, data.reference_rate(), obs, np.ones(sample.size))
    alone = minimize(theta0[1:], 2, data.reference_rate(), obs, np.ones(sample.size))
    assert together.nll[1] == pytest.approx(alone.nll[0], abs=1e-9)


def test_rates_stay_inside_the_cap(sample) -> None:
    obs = Observations.events(sample, *SUPPORT)
    bref = 1.0 / (sample.mean() - SUPPORT[0])
    res = minimize(np.array([[49.0, 1.0, -3.0]]), 2, bref, obs, np.ones(sample.size), cap=50.0)
    assert np.all(res.theta[:, :2] <= 50.0) and np.all(res.theta[:, :2] >= 0.0)


def test_fine_edges() -> None:
    e = fine_edges(SUPPORT, 3500.0, 200)
    assert e[0] == SUPPORT[0] and e[-1] == SUPPORT[1] and np.all(np.diff(e) > 0)
    assert e[200] == pytest.approx(3500.0)
    assert fine_edges((1.0, np.inf), 30.0, 10)[-1] == pytest.approx(30.0)  # x_max = inf: stop at the hint


def test_toy_fits_agree_with_the_core_fits() -> None:
    rng = np.random.default_rng(5)
    toys = TRUTH.sample((3, 3000), rng=rng)
    fams = fit_families(toys, SUPPORT, ["f1", "f3"])
    edges = fine_edges(SUPPORT, 3500.0)
    counts = histogram_many(toys, edges)
    mix = fit_mixtures(counts, edges, [1, 2], starts=4, rng=[np.random.default_rng(i) for i in range(3)])
    for t in range(3):
        for name in ("f1", "f3"):  # both unbinned and exact: the same minimum
            ref = fit(UnbinnedData(toys[t], SUPPORT), name, starts=3, rng=0)
            assert fams[name].nll[t] == pytest.approx(ref.nll, abs=2e-3)
        for ik, k in enumerate((1, 2)):  # binned on the shared edges, against the core binned fit
            ref = fit(BinnedData(counts[t], edges), k, starts=5, rng=0)
            assert mix.nll[t, ik] == pytest.approx(ref.nll, abs=1e-5)
