"""`expmix.selection`: parse_k, select() and its result, the monotonicity repair, bad input.

The criteria are recomputed by hand from each fit's NLL (AIC = 2 nll + 2p, BIC = 2 nll + p ln n,
paper footnote 2, n = number of events also for binned data, documented in expmix.criteria).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import expmix.selection as selection_module
from expmix import BinnedData, ExponentialMixture, SelectionResult, UnbinnedData, select
from expmix.selection import parse_k

SUPPORT = (500.0, 5000.0)
TRUTH2 = ExponentialMixture([0.012, 0.004], [0.75, 0.25], SUPPORT)


@pytest.fixture(scope="module")
def toy() -> UnbinnedData:
    return UnbinnedData(TRUTH2.sample(2000, rng=np.random.default_rng(5)), SUPPORT)


@pytest.fixture(scope="module")
def sel(toy: UnbinnedData) -> SelectionResult:
    return select(toy, "1-3", starts=4, rng=1, families=("f2",))


# ------------------------------------------------------------------ parse_k
@pytest.mark.parametrize(
    ("spec", "expected"),
    [("3", (3,)), (" 1-4 ", (1, 2, 3, 4)), ("1,2,5", (1, 2, 5)), (3, (3,)), (np.int64(2), (2,)),
     (range(1, 4), (1, 2, 3)), ([3, 1, 1], (1, 3)), ("2-2", (2,))],
)
def test_parse_k(spec, expected: tuple[int, ...]) -> None:
    assert parse_k(spec) == expected


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("a", "`k` must look like '3', '1-4' or '1,2,5'"),
        ("1-", "`k` must look like"),
        ("-1", "`k` must look like"),
        ("1.5", "`k` must look like"),
        ("1;2", "`k` must look like"),
        ("", "`k` must look like"),
        ("3-1", "`k` must name at least one number of components"),
        ([], "`k` must name at least one"),
        ("0", "`k` must be an integer >= 1"),
        ("0-2", "`k` must be an integer >= 1"),
        (0, "`k` must be an integer >= 1"),
        ([1, -1], "`k` must be an integer >= 1"),
    ],
)
def test_parse_k_bad(spec, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        parse_k(spec)


# ------------------------------------------------------------------ select
def test_selection_result_by_hand(sel: SelectionResult) -> None:
    assert sel.ks == (1, 2, 3)
    n = 2000.0
    p = np.array([1, 3, 5])
    nll = np.array([f.nll for f in sel.fits])
    np.testing.assert_array_equal(sel.nll, nll)
    np.testing.assert_allclose(sel.aic, 2 * nll + 2 * p, rtol=1e-15)
    np.testing.assert_allclose(sel.bic, 2 * nll + p * math.log(n), rtol=1e-15)
    np.testing.assert_allclose(sel.delta_aic, sel.aic - sel.aic.min(), rtol=1e-15)
    assert sel.k_aic == sel.ks[int(np.argmin(2 * nll + 2 * p))]
    assert sel.k_bic == sel.ks[int(np.argmin(2 * nll + p * math.log(n)))]
    assert sel.criterion == "aic" and sel.best_k == sel.k_aic
    assert sel.best is sel.fit_for(sel.best_k)
    np.testing.assert_array_equal(sel.delta, sel.delta_aic)
    # the toy is a 2-component mixture with 2000 events: both criteria find k = 2
    assert sel.k_aic == 2 and sel.k_bic == 2


def test_selection_best_nll_does_not_increase_with_k(sel: SelectionResult) -> None:
    assert np.all(np.diff(sel.nll) <= selection_module.MONOTONE_TOL)


def test_selection_table_dict_and_references(sel: SelectionResult) -> None:
    rows = sel.table()
    assert [r["k"] for r in rows] == [1, 2, 3]
    assert [r["n_free"] for r in rows] == [1, 3, 5]
    assert min(r["delta_aic"] for r in rows) == 0.0
    assert set(sel.references) == {"f2"}
    assert sel.references["f2"].n_free == 2
    comp = sel.comparison()
    assert [r["model"] for r in comp] == ["f2", "mixture k=2"]
    assert min(r["delta_aic"] for r in comp) == 0.0
    assert len(sel.comparison(include="all")) == 4
    d = sel.to_dict()
    assert d["schema_version"] == 1 and d["best_k"] == 2 and d["k_aic"] == 2 and d["k_bic"] == 2
    assert set(d["fits"]) == {"1", "2", "3"} and set(d["references"]) == {"f2"}
    assert d["repaired"] == list(sel.repaired)
    assert "chosen: k = 2 by AIC, k = 2 by BIC" in str(sel)


def test_select_bic_criterion_and_binned_events(toy: UnbinnedData) -> None:
    edges = np.linspace(*SUPPORT, 61)
    hist = BinnedData(np.histogram(toy.x, edges)[0], edges)
    s = select(hist, [1, 2], criterion="bic", starts=3, rng=0)
    assert s.criterion == "bic" and s.best_k == s.k_bic
    # n of BIC is the number of events (2000), not of bins (60)
    np.testing.assert_allclose(s.bic, 2 * s.nll + np.array([1, 3]) * math.log(2000.0), rtol=1e-15)
    np.testing.assert_array_equal(s.delta, s.delta_bic)


def test_select_is_deterministic(toy: UnbinnedData) -> None:
    a = select(toy, [1, 2], starts=3, rng=9)
    b = select(toy, [1, 2], starts=3, rng=9)
    np.testing.assert_array_equal(a.nll, b.nll)
    for fa, fb in zip(a.fits, b.fits):
        np.testing.assert_array_equal(fa.values, fb.values)


def test_select_repairs_a_k_that_comes_back_worse(toy: UnbinnedData, monkeypatch: pytest.MonkeyPatch) -> None:
    # make the regular k=2 fit come back 10 units worse than k=1: select must detect the violation of
    # monotonicity and refit k=2 from the k=1 solution split in two (which starts at the k=1 NLL)
    real_fit = selection_module.fit
    calls: list[tuple[int, int]] = []
    nll_k1: list[float] = []

    def sabotaged(data, k, *, starts, **kw):
        res = real_fit(data, k, starts=starts, **kw)
        calls.append((k, starts))
        if k == 1:
            nll_k1.append(res.nll)
        if k == 2 and len([c for c in calls if c[0] == 2]) == 1:
            return dataclasses.replace(res, nll=nll_k1[0] + 10.0)
        return res

    monkeypatch.setattr(selection_module, "fit", sabotaged)
    s = select(toy, [1, 2], starts=3, rng=0)
    assert s.repaired == (2,)
    assert [c[0] for c in calls].count(2) == 2  # the regular fit and the repair
    assert s.fit_for(2).nll <= s.fit_for(1).nll + selection_module.MONOTONE_TOL
    assert s.to_dict()["repaired"] == [2]


def test_select_without_violation_repairs_nothing(sel: SelectionResult) -> None:
    assert sel.repaired == ()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"criterion": "aicc"}, "`criterion` must be 'aic' or 'bic'"),
        ({"k": "0-2"}, "`k` must be an integer >= 1"),
        ({"k": "x"}, "`k` must look like"),
        ({"k": 1, "families": ("f9",)}, "`family` must be one of"),
    ],
)
def test_select_bad_arguments(toy: UnbinnedData, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        select(toy, **{"starts": 1, **kwargs})


def test_select_needs_more_events_than_parameters() -> None:
    # k up to 3 means p = 5 free parameters; 5 events are not enough (checked before any fit)
    data = UnbinnedData([510.0, 520.0, 600.0, 800.0, 900.0], SUPPORT)
    with pytest.raises(ValueError, match=r"`data` must hold more events than free parameters \(5\)"):
        select(data, "1-3")
    with pytest.raises(TypeError, match="`data`"):
        select(np.array([510.0, 520.0]), 1)  # type: ignore[arg-type]
