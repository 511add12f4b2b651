"""`expmix.signal.fit_signal` on seeded toys with a known injected Gaussian (paper eq. 4.4).

Expected values are the injected truth (300 signal events); the tolerance is 3 HESSE sigma.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtr

from expmix import BinnedData, ExponentialMixture, UnbinnedData, fit, fit_signal
from expmix.signal import gaussian_log_norm

SUPPORT = (500.0, 3000.0)
BKG = ExponentialMixture([0.006, 0.002], [0.7, 0.3], SUPPORT)
MASS, WIDTH, N_SIG = 1500.0, 40.0, 300


@pytest.fixture(scope="module")
def events() -> tuple[np.ndarray, np.ndarray]:
    g = np.random.default_rng(8)
    return BKG.sample(8000, rng=g), g.normal(MASS, WIDTH, N_SIG)


@pytest.fixture(scope="module")
def with_signal(events) -> UnbinnedData:
    return UnbinnedData(np.concatenate(events), SUPPORT)


@pytest.fixture(scope="module")
def bkg_fit(with_signal: UnbinnedData):
    return fit(with_signal, 2, starts=5, rng=0)


def test_recovers_injected_yield_unbinned(with_signal: UnbinnedData, bkg_fit) -> None:
    res = fit_signal(with_signal, bkg_fit, MASS, WIDTH)
    assert res.valid
    assert abs(res.n_signal - N_SIG) < 3 * res.n_signal_error
    assert res.n_signal + res.n_background == pytest.approx(with_signal.n_events, rel=1e-3)  # extended: nu-hat = N
    assert res.significance > 5  # 300 events on ~8000: a clear excess
    assert res.significance == pytest.approx(math.sqrt(2 * (res.nll_background - res.nll)), rel=1e-9)
    assert res.pull == pytest.approx(res.n_signal / res.n_signal_error)
    assert res.names[-2:] == ("n_b", "n_s") and res.mass == MASS and res.width == WIDTH
    assert not res.values.flags.writeable
    d = res.to_dict()
    assert d["n_signal"] == res.n_signal and d["background"] == "mixture k=2"


def test_recovers_injected_yield_binned_family(with_signal: UnbinnedData) -> None:
    edges = np.linspace(*SUPPORT, 126)
    hist = BinnedData(np.histogram(with_signal.x, edges)[0], edges)
    bkg = fit(hist, "f2", starts=3, rng=0)
    res = fit_signal(hist, bkg, MASS, WIDTH)
    assert res.valid
    assert abs(res.n_signal - N_SIG) < 3 * res.n_signal_error


def test_floating_mass_stays_in_window(with_signal: UnbinnedData, bkg_fit) -> None:
    res = fit_signal(with_signal, bkg_fit, 1480.0, WIDTH, float_mass=0.1)
    assert res.valid
    assert 1480.0 * 0.9 <= res.mass <= 1480.0 * 1.1
    assert res.mass == pytest.approx(MASS, abs=4 * WIDTH / math.sqrt(N_SIG) * 3)
    assert abs(res.n_signal - N_SIG) < 3 * res.n_signal_error


def test_negative_signal_yield_for_a_deficit(events) -> None:
    # remove half of the background events within +-50 of the mass: the signal yield must go negative
    xb = events[0]
    drop = (np.abs(xb - MASS) < 50.0) & (np.random.default_rng(3).random(xb.size) < 0.5)
    data = UnbinnedData(xb[~drop], SUPPORT)
    res = fit_signal(data, fit(data, 2, starts=5, rng=0), MASS, WIDTH)
    assert res.valid
    assert res.n_signal < 0
    assert res.significance < 0
    assert abs(res.n_signal + drop.sum()) < 4 * res.n_signal_error  # roughly the removed events


def test_gaussian_log_norm() -> None:
    # probability of the truncation range under N(mass, width), in both tails
    assert math.exp(gaussian_log_norm(1500.0, 40.0, SUPPORT)) == pytest.approx(1.0, abs=1e-12)
    assert math.exp(gaussian_log_norm(500.0, 100.0, SUPPORT)) == pytest.approx(0.5, rel=1e-12)
    ref = ndtr((3000.0 - 3100.0) / 50.0) - ndtr((500.0 - 3100.0) / 50.0)
    assert math.exp(gaussian_log_norm(3100.0, 50.0, SUPPORT)) == pytest.approx(ref, rel=1e-12)


@pytest.mark.parametrize(
    ("mass", "width", "kwargs", "match"),
    [
        (400.0, 40.0, {}, "`mass`"),
        (3500.0, 40.0, {}, "`mass`"),
        (500.0, 40.0, {}, "`mass`"),
        (np.nan, 40.0, {}, "`mass`"),
        (1500.0, 0.0, {}, "`width`"),
        (1500.0, -5.0, {}, "`width`"),
        (1500.0, np.inf, {}, "`width`"),
        (1500.0, np.nan, {}, "`width`"),
        (1500.0, 40.0, {"float_mass": 1.0}, "`float_mass`"),
        (1500.0, 40.0, {"float_width": -0.1}, "`float_width`"),
    ],
)
def test_bad_mass_width_raise(with_signal: UnbinnedData, bkg_fit, mass: float, width: float, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        fit_signal(with_signal, bkg_fit, mass, width, **kwargs)


def test_background_must_be_a_fit_result(with_signal: UnbinnedData) -> None:
    with pytest.raises(TypeError, match="`background`"):
        fit_signal(with_signal, BKG, MASS, WIDTH)  # type: ignore[arg-type]
