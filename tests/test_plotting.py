"""`expmix.plotting`: every function renders into an Agg Figure, returns its artists, and leaves
the global matplotlib state (rcParams, pyplot's figure list) alone. Data: a seeded toy spectrum."""

from __future__ import annotations

import builtins
import sys

import numpy as np
import pytest

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from expmix import BinnedData, ExponentialMixture, UnbinnedData, fit, select  # noqa: E402
from expmix import plotting  # noqa: E402

SUPPORT = (500.0, 4000.0)
TRUTH = ExponentialMixture([0.01, 0.003], [0.8, 0.2], SUPPORT)


@pytest.fixture(scope="module")
def toy() -> UnbinnedData:
    return UnbinnedData(TRUTH.sample(3000, rng=np.random.default_rng(11)), SUPPORT)


@pytest.fixture(scope="module")
def sel(toy: UnbinnedData):
    return select(toy, "1-3", starts=3, rng=2, families=("f2",))


@pytest.fixture(scope="module")
def hist(toy: UnbinnedData) -> BinnedData:
    edges = np.linspace(*SUPPORT, 36)
    return BinnedData(np.histogram(toy.x, edges)[0], edges)


@pytest.fixture
def pyplot_untouched():
    """pyplot's figure list and the global rcParams are the same after the test."""
    import matplotlib.pyplot as plt

    before, rc = plt.get_fignums(), dict(mpl.rcParams)
    yield
    assert plt.get_fignums() == before
    assert dict(mpl.rcParams) == rc


def test_plot_selection(sel, pyplot_untouched) -> None:
    art = plotting.plot_selection(sel)
    assert isinstance(art.fig, Figure) and art.ax in art.fig.axes
    np.testing.assert_array_equal(art.aic.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(art.aic.get_ydata(), sel.delta_aic)
    np.testing.assert_allclose(art.bic.get_ydata(), sel.delta_bic)
    assert art.aic.get_color() == "red" and art.aic.get_marker() == "o"
    assert art.bic.get_color() == "blue" and art.bic.get_marker() == "x"
    assert [t.get_text() for t in art.legend.get_texts()] == ["AIC", "BIC"]
    art.fig.canvas.draw()


def test_plot_selection_subset_and_given_axes(sel, pyplot_untouched) -> None:
    fig = Figure()
    ax = fig.add_subplot()
    art = plotting.plot_selection(sel, ax, ks=[2, 3])
    assert art.ax is ax and art.fig is fig
    np.testing.assert_array_equal(art.aic.get_xdata(), [2, 3])
    assert any("off scale" in t.get_text() for t in ax.texts)  # k = 1 is noted
    with pytest.raises(ValueError, match="ks"):
        plotting.plot_selection(sel, ks=[7])


def test_plot_fit_unbinned(toy, sel, pyplot_untouched) -> None:
    edges = np.geomspace(*SUPPORT, 41)
    art = plotting.plot_fit(toy, [sel.references["f2"], sel.best], edges=edges, xlabel="$m$ [GeV]", title="toy")
    assert isinstance(art.fig, Figure) and len(art.fig.axes) == 2
    assert art.ax.get_yscale() == "log" and art.ax.get_ylabel() == "Events / GeV"
    assert art.ax_residuals.get_xlabel() == "$m$ [GeV]"
    assert list(art.curves) == ["$f_2$", f"Exp. mixture ($k = {sel.best.k}$)"]
    # the curves are N f(m) in events per GeV
    line = art.curves[f"Exp. mixture ($k = {sel.best.k}$)"]
    x, y = line.get_xdata(), line.get_ydata()
    np.testing.assert_allclose(y, toy.n_events * sel.best.model.pdf(x), rtol=1e-12)
    assert set(art.residuals) == set(art.curves)
    art.fig.canvas.draw()


def test_plot_fit_binned_into_given_figure(hist, pyplot_untouched) -> None:
    k2 = fit(hist, 2, starts=2, rng=0)
    fig = Figure(figsize=(6, 6))
    art = plotting.plot_fit(hist, {"two exponentials": k2}, fig=fig, logx=True, style=None)
    assert art.fig is fig and list(art.curves) == ["two exponentials"]
    assert art.ax.get_xscale() == "log"
    # coarser display bins must be a subset of the histogram's edges
    with pytest.raises(ValueError, match="subset"):
        plotting.plot_fit(hist, k2, edges=[500.0, 777.0, 4000.0])
    with pytest.raises(TypeError, match="results"):
        plotting.plot_fit(hist, ["not a model"])
    fig.canvas.draw()


def test_plot_residuals(toy, sel, pyplot_untouched) -> None:
    edges = np.linspace(*SUPPORT, 31)
    fig = Figure()
    ax = fig.add_subplot()
    art = plotting.plot_residuals(toy, sel.fits, ax, edges=edges, labels=["a", "b", "c"])
    assert art.ax is ax and list(art.values) == ["a", "b", "c"]
    counts = np.histogram(toy.x, edges)[0]
    exp = toy.n_events * sel.fits[2].model.bin_probabilities(edges)
    np.testing.assert_allclose(art.values["c"], (counts - exp) / np.sqrt(exp))
    # markers for up to two models, steps for more
    assert type(art.residuals["a"]).__name__ == "StepPatch"
    two = plotting.plot_residuals(toy, sel.fits[:2], edges=edges)
    assert type(two.residuals[plotting.display_label(sel.fits[0])]).__name__ == "Line2D"
    with pytest.raises(ValueError, match="labels"):
        plotting.plot_residuals(toy, sel.fits, edges=edges, labels=["a"])


def test_style_and_labels(sel) -> None:
    st = plotting.style()
    assert st["font.size"] > 0 and "figure.figsize" in st
    with pytest.raises(ValueError, match="style"):
        plotting.style("NoSuchExperiment")
    with plotting.styled():
        assert mpl.rcParams["font.size"] == st["font.size"]
    assert plotting.display_label(sel.best) == f"Exp. mixture ($k = {sel.best.k}$)"
    assert plotting.display_label(sel.references["f2"]) == "$f_2$"
    assert plotting.display_label(TRUTH) == "Exp. mixture ($k = 2$)"


def test_garwood_intervals() -> None:
    """Exact central Poisson intervals: P(X >= n | lo) = P(X <= n | hi) = (1 - 0.6827) / 2."""
    from scipy.stats import poisson

    n = np.array([0.0, 1.0, 10.0, 250.0])
    lo, hi = plotting._garwood(n)
    tail = (1 - 0.682689492) / 2
    assert lo[0] == 0.0
    np.testing.assert_allclose(poisson.sf(n[1:] - 1, lo[1:]), tail, rtol=1e-8)
    np.testing.assert_allclose(poisson.cdf(n, hi), tail, rtol=1e-8)
    np.testing.assert_allclose([lo[1], hi[1]], [0.1727, 3.2995], atol=1e-4)  # the PDG table's n = 1 row


def test_missing_matplotlib_message(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    monkeypatch.delitem(sys.modules, "matplotlib", raising=False)
    with pytest.raises(ImportError, match=r"pip install expmix\[plot\]"):
        plotting._require_matplotlib()
