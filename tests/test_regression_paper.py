"""Regression on the paper's data (Townsend et al., "Modeling Falling Backgrounds with Exponential
Mixtures"), pinned to published numbers (STYLE A14.9).

Provenance of the expected numbers:

* CMS diphoton, 5036 unbinned EBEB events on [500, 10000] GeV (../shared/data/cms_diphoton/
  diphoton_data.npy): NLLs of the mixtures and of f1..f4 and the merged-bin chi2 on the EBEB binning
  are from the issue specification derived from the paper, Section 3.2 (Table of NLL/AIC/BIC and chi2).
* ATLAS dijet, HEPData ins1759712 Table 2 plus the empty bin 8208-10000 GeV (paper Section 3.1),
  binned fit on [1100, 10000] GeV: the NLL differences to k = 4, the dijet function's excess over
  k = 4, the RooFit-convention NLL of k = 4 and the chi2 of the dijet function, paper Section 3.1.

The minima do not depend on the seed (checked with seeds 0-3 at commits 4a3897f and d4360cc); seeds are
fixed so that a failure reproduces exactly. Tolerances: 0.01 in NLL (``fit.SAME_MINIMUM_TOL``), 0.05
where the paper quotes two decimals of a difference, 0.05 (0.1 for the mixture) in chi2.
"""

from __future__ import annotations

import numpy as np
import pytest

from expmix import BinnedData, SelectionResult, UnbinnedData, fit, merged_chi2, select
from expmix.datasets import load_atlas_dijet, load_cms_diphoton_edges
from expmix.likelihood import roofit_nll
from expmix.selection import MONOTONE_TOL

SEED = 1


# ------------------------------------------------------------------ fixtures (each scan runs once)
@pytest.fixture(scope="module")
def diphoton(shared_data) -> UnbinnedData:
    x = np.load(shared_data / "cms_diphoton" / "diphoton_data.npy")
    return UnbinnedData(x, (500.0, 10000.0))


@pytest.fixture(scope="module")
def diphoton_scan(diphoton: UnbinnedData) -> SelectionResult:
    return select(diphoton, range(1, 5), starts=20, rng=SEED, families=("f1", "f2", "f3", "f4"))


@pytest.fixture(scope="module")
def dijet(shared_data) -> BinnedData:
    return load_atlas_dijet(shared_data, download=False)


@pytest.fixture(scope="module")
def dijet_scan(dijet: BinnedData) -> SelectionResult:
    # paper Section 3.1: k = 1..6 with 80 starts (4-15 s on 2 cores, depending on the minimiser)
    return select(dijet, range(1, 7), starts=80, rng=SEED, families=("dijet",))


# ------------------------------------------------------------------ CMS diphoton (unbinned)
def test_diphoton_data(diphoton: UnbinnedData) -> None:
    assert diphoton.n_events == 5036


def test_diphoton_mixture_nll(diphoton_scan: SelectionResult) -> None:
    nll = dict(zip(diphoton_scan.ks, diphoton_scan.nll))
    assert nll[1] == pytest.approx(31096.406, abs=0.01)
    assert nll[2] == pytest.approx(31030.832, abs=0.01)
    # k = 3, 4 add nothing: no lower than k = 2 by more than 0.01
    assert nll[3] >= nll[2] - 0.01
    assert nll[4] >= nll[2] - 0.01
    assert all(f.valid for f in diphoton_scan.fits)


@pytest.mark.parametrize(("family", "expected"), [("f1", 31033.209), ("f2", 31032.277), ("f3", 31033.770), ("f4", 31032.203)])
def test_diphoton_family_nll(diphoton_scan: SelectionResult, family: str, expected: float) -> None:
    ref = diphoton_scan.references[family]
    assert ref.valid
    assert ref.nll == pytest.approx(expected, abs=0.01)


def test_diphoton_criteria_choose_k2(diphoton_scan: SelectionResult) -> None:
    assert diphoton_scan.k_aic == 2
    assert diphoton_scan.k_bic == 2


def test_diphoton_best_nll_monotone_in_k(diphoton_scan: SelectionResult) -> None:
    assert np.all(np.diff(diphoton_scan.nll) <= MONOTONE_TOL)


@pytest.mark.parametrize(("family", "expected"), [("f1", 54.26), ("f2", 53.49), ("f3", 54.83), ("f4", 53.41)])
def test_diphoton_family_chi2(diphoton_scan: SelectionResult, diphoton: UnbinnedData, shared_data, family: str, expected: float) -> None:
    edges = load_cms_diphoton_edges(shared_data, download=False)
    ref = diphoton_scan.references[family]
    res = merged_chi2(ref.model, diphoton, n_free=ref.n_free, edges=edges)
    assert res.n_bins == 60
    assert res.chi2 == pytest.approx(expected, abs=0.05)


def test_diphoton_mixture_chi2(diphoton_scan: SelectionResult, diphoton: UnbinnedData, shared_data) -> None:
    edges = load_cms_diphoton_edges(shared_data, download=False)
    k2 = diphoton_scan.fit_for(2)
    res = merged_chi2(k2.model, diphoton, n_free=k2.n_free, edges=edges)
    assert res.n_bins == 60 and res.ndf == 57
    assert res.chi2 == pytest.approx(50.58, abs=0.1)


# ------------------------------------------------------------------ ATLAS dijet (binned)
def test_dijet_data(dijet: BinnedData) -> None:
    assert dijet.range == (1100.0, 10000.0)
    assert dijet.counts[-1] == 0 and dijet.edges[-2] == 8208.0  # the appended empty bin
    assert dijet.n_events == 28619185


@pytest.mark.parametrize(("k", "expected"), [(1, 241196.23), (2, 2514.31), (3, 19.56), (5, 0.0), (6, 0.0)])
def test_dijet_nll_differences_to_k4(dijet_scan: SelectionResult, k: int, expected: float) -> None:
    delta = dijet_scan.fit_for(k).nll - dijet_scan.fit_for(4).nll
    assert delta == pytest.approx(expected, abs=0.05)


def test_dijet_all_fits_valid_and_monotone(dijet_scan: SelectionResult) -> None:
    assert all(f.valid for f in dijet_scan.fits)
    # never increases with k, up to MIGRAD's stopping noise (observed: +3e-5 at k=5, +1.8e-4 at k=6)
    assert np.all(np.diff(dijet_scan.nll) <= MONOTONE_TOL)


def test_dijet_criteria_choose_k4(dijet_scan: SelectionResult) -> None:
    assert dijet_scan.k_aic == 4
    assert dijet_scan.k_bic == 4


def test_dijet_function_above_k4(dijet_scan: SelectionResult) -> None:
    ref = dijet_scan.references["dijet"]
    assert ref.valid and ref.n_free == 3
    assert ref.nll - dijet_scan.fit_for(4).nll == pytest.approx(4.617, abs=0.05)


def test_dijet_roofit_convention_k4(dijet_scan: SelectionResult, dijet: BinnedData) -> None:
    assert roofit_nll(dijet_scan.fit_for(4).model, dijet) == pytest.approx(186084282.998, abs=0.05)


def test_dijet_function_chi2(dijet_scan: SelectionResult, dijet: BinnedData) -> None:
    ref = dijet_scan.references["dijet"]
    res = merged_chi2(ref.model, dijet, n_free=ref.n_free)
    assert res.n_bins == 77
    assert res.chi2 == pytest.approx(95.76, abs=0.05)


def test_dijet_fast_single_fit_reproduces_k4(dijet: BinnedData, dijet_scan: SelectionResult) -> None:
    # one k = 4 fit seeded from the k = 3 solution finds the same minimum as the full scan
    res = fit(dijet, 4, starts=10, rng=0, init=dijet_scan.fit_for(3))
    assert res.nll == pytest.approx(dijet_scan.fit_for(4).nll, abs=0.01)
