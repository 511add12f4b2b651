"""B(x), C(x) and the N_s/sigma bands equal their definitions (paper eqs. 4.1-4.4).

The fits are hand-made: the kernels' fitting functions are replaced by fakes whose densities
are known closed-form tilts of the true density, so the whole path (kernel sums -> chunk files
-> merge -> summary) is checked against a direct computation from the recorded curves.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from scipy import integrate

from expmix.studies import kernels, run_study, spec_from_dict, summarize
from expmix.studies.engine import grid
from expmix.studies.generate import true_model
from expmix.studies.summary import coverage_fraction, merge_chunks, pull_bands, relative_bias, zero_crossings

MODELS = ["f2", "f4"]


def spec(study: str, **sections):
    d = {"study": study, "seed": 9, "n_toys": 5, "chunk_size": 2, "data": {"true_models": MODELS},
         "fit": {"k": [1, 2], "families": MODELS, "method": "reference"}}
    d.update(sections)
    return spec_from_dict(d)


class Tilt:
    """A hand-made fitted density: ``f_true(x) * (1 + a z (x - 2000) / 1500)``."""

    def __init__(self, truth, a: float, z: float) -> None:
        self.truth, self.a, self.z = truth, a, z

    def pdf(self, x):
        x = np.asarray(x, float)
        return self.truth.pdf(x) * (1.0 + self.a * self.z * (x - 2000.0) / 1500.0)


def fake_fit(model, k: int = 2, nll: float = 1.0):
    return SimpleNamespace(model=model, nll=nll, valid=True, k=k, aic=2 * nll + 2 * (2 * k - 1), bic=2 * nll)


class Recorder:
    """Fakes for fit_toy / refit_resample that derive fits from the data and record their curves.

    In-process, toys run in task order: the first ``n_toys`` belong to MODELS[0], the next to
    MODELS[1].
    """

    def __init__(self, spec) -> None:
        self.spec = spec
        self.truths = {m: true_model(m, spec.range) for m in MODELS}
        self.means = {m: integrate.quad(lambda x, t=t: x * float(t.pdf(x)), *spec.range, limit=200)[0]
                      for m, t in self.truths.items()}
        self.toys: list[dict] = []  # per toy: model, nominal curves, replica curves

    def _fits(self, data, labels, truth, z0):
        z = (data.x.mean() - z0) / 5.0
        return {lab: fake_fit(Tilt(truth, 0.05 * (1 + j), z), k=1 + (j % 2)) for j, lab in enumerate(labels)}

    def fit_toy(self, data, cfg, ss):
        m = MODELS[len(self.toys) // self.spec.n_toys]
        fits = self._fits(data, cfg.labels, self.truths[m], self.means[m])
        nominal = {lab: f.model.pdf(cfg.grid) for lab, f in fits.items()} if cfg.grid is not None else {}
        self.toys.append({"model": m, "nominal": nominal, "reps": [], "mean": data.x.mean()})
        return fits, 1, 2, []

    def refit_resample(self, data, nominal, cfg, rng):
        toy = self.toys[-1]
        # replicas scatter around a centre shifted by 0, 8 or 16 GeV of mean: some toys cover, some not
        shift = 8.0 * (len(self.toys) % 3)
        fits = self._fits(data, cfg.labels, self.truths[toy["model"]], toy["mean"] - shift)
        if len(toy["reps"]) == 0:
            fits.pop(cfg.families[0])  # the first resample of each toy fails for the first family
        toy["reps"].append({lab: f.model.pdf(cfg.grid) for lab, f in fits.items()})
        return fits, []


def test_bias_equals_eq_4_1(tmp_path, monkeypatch) -> None:
    s = spec("bias", grid={"n": 60})
    rec = Recorder(s)
    monkeypatch.setattr(kernels, "fit_toy", rec.fit_toy)
    run_study(s, tmp_path)
    summary = summarize(tmp_path)
    x = grid(s)
    labels = summary.labels
    for m in MODELS:
        curves = np.array([[t["nominal"][lab] for lab in labels] for t in rec.toys if t["model"] == m])
        assert curves.shape == (5, len(labels), x.size)
        f_true = true_model(m, s.range).pdf(x)
        sigma = curves[:, labels.index(m)].std(axis=0, ddof=1)
        expected = (curves.mean(axis=0) - f_true) / sigma
        np.testing.assert_allclose(summary.curves[m]["B"], expected, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(summary.curves[m]["sigma"], sigma, rtol=1e-9)
        row = summary.to_dict()["models"][m]["labels"]["aic"]
        assert row["max_abs_B"] == pytest.approx(np.abs(expected[0]).max(), abs=1e-6)
        assert row["zero_crossings"] == zero_crossings(expected[0])


def test_coverage_equals_eqs_4_2_and_4_3(tmp_path, monkeypatch) -> None:
    s = spec("coverage", grid={"n": 40}, bootstrap={"resamples": 30, "confidence_level": 0.9})
    rec = Recorder(s)
    monkeypatch.setattr(kernels, "fit_toy", rec.fit_toy)
    monkeypatch.setattr(kernels, "refit_resample", rec.refit_resample)
    run_study(s, tmp_path)
    summary = summarize(tmp_path)
    x = grid(s)
    labels = summary.labels
    d = summary.to_dict()
    for m in MODELS:
        f_true = true_model(m, s.range).pdf(x)
        toys = [t for t in rec.toys if t["model"] == m]
        assert len(toys) == 5 and all(len(t["reps"]) == 30 for t in toys)
        c = np.zeros((len(labels), x.size))
        for t in toys:
            for j, lab in enumerate(labels):
                reps = np.array([r[lab] for r in t["reps"] if lab in r])
                lo = np.percentile(reps, 5.0, axis=0)
                hi = np.percentile(reps, 95.0, axis=0)
                c[j] += (lo <= f_true) & (f_true <= hi)
        c /= len(toys)
        np.testing.assert_array_equal(summary.curves[m]["C"], c)
        assert 0.0 < c.mean() < 1.0  # a non-trivial check
        fails = d["models"][m]["failures"]["failed_resamples"]
        assert fails == {lab: (5 if lab == MODELS[0] else 0) for lab in labels}
        bulk = x < 2000.0
        assert d["models"][m]["labels"]["aic"]["min_C_below_2000"] == pytest.approx(c[0][bulk].min())


def test_spurious_bands_equal_their_definition(tmp_path, monkeypatch) -> None:
    s = spec("spurious", signal={"masses": [700.0, 1200.0, 1900.0]})
    rec = Recorder(s)
    calls: list[tuple[float, float, float]] = []

    def fit_signal(data, bkg, mass, width, *, float_mass, float_width):
        assert width == pytest.approx(30.0 + (mass - 700.0) / 1200.0 * 30.0)
        z = float(bkg.model.z)
        ns, err = 10.0 * z + mass / 1000.0 * bkg.model.a, 5.0 + 0.001 * mass
        if len(calls) == 7:
            calls.append((mass, np.nan, np.nan))
            raise RuntimeError("injected")
        calls.append((mass, ns, err))
        return SimpleNamespace(n_signal=ns, n_signal_error=err, valid=True)

    monkeypatch.setattr(kernels, "fit_toy", rec.fit_toy)
    monkeypatch.setattr(kernels, "fit_signal", fit_signal)
    run_study(s, tmp_path)
    summary = summarize(tmp_path)
    labels = summary.labels
    n_lab, n_mass = len(labels), 3
    # one call per toy, label and mass, in that order (fits of distinct objects are not shared)
    assert len(calls) == 2 * 5 * n_lab * n_mass
    ratio = np.array([c[1] / c[2] for c in calls]).reshape(2, 5, n_lab, n_mass)
    failed_model = None
    for i, m in enumerate(MODELS):
        assert all(t["model"] == m for t in rec.toys[5 * i:5 * (i + 1)])
        z = ratio[i]
        if np.isnan(z).any():
            failed_model = m
        for j in range(n_lab):
            for p in range(n_mass):
                v = z[:, j, p]
                v = v[np.isfinite(v)]
                assert summary.curves[m]["n"][j, p] == v.size
                np.testing.assert_allclose(summary.curves[m]["median"][j, p], np.median(v), rtol=1e-12)
                np.testing.assert_allclose(summary.curves[m]["q16"][j, p], np.percentile(v, 16), rtol=1e-12)
                np.testing.assert_allclose(summary.curves[m]["q84"][j, p], np.percentile(v, 84), rtol=1e-12)
    assert failed_model is not None
    d = summary.to_dict()["models"][failed_model]
    assert sum(d["failures"]["failed_signal_fits"].values()) == 1
    assert d["failures"]["toys_with_errors"] == 1


# ---------------------------------------------------------------------------- pure functions
def test_relative_bias_by_hand() -> None:
    rng = np.random.default_rng(0)
    curves = rng.normal(1.0, 0.1, size=(7, 3, 4))  # toys, labels, grid
    f_true = np.array([1.0, 1.1, 0.9, 1.0])
    # the sums as two chunks would hold them
    parts = [curves[:3], curves[3:]]
    chunks = [{"sum": p.sum(0), "sumsq": (p**2).sum(0), "count": np.full(3, len(p))} for p in parts]
    m = merge_chunks(chunks)
    b, sigma, mean = relative_bias(m["sum"], m["sumsq"], m["count"], f_true, ref=2)
    np.testing.assert_allclose(mean, curves.mean(0))
    np.testing.assert_allclose(sigma, curves[:, 2].std(0, ddof=1))
    np.testing.assert_allclose(b, (curves.mean(0) - f_true) / curves[:, 2].std(0, ddof=1))


def test_coverage_fraction_and_merge() -> None:
    covered = [np.array([[1, 2, 0]]), np.array([[2, 1, 0]])]
    m = merge_chunks([{"covered": c, "count": np.array([3]), "k_aic": np.array([1, 2, 2])} for c in covered])
    np.testing.assert_array_equal(m["k_aic"], [1, 2, 2, 1, 2, 2])
    np.testing.assert_allclose(coverage_fraction(m["covered"], m["count"]), [[0.5, 0.5, 0.0]])


def test_pull_bands_masks() -> None:
    n_s = np.array([[1.0, 2.0], [3.0, np.nan], [-1.0, 4.0], [5.0, 1.0]])
    sig = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 0.0], [1.0, 2.0]])
    ok = np.array([[True, True], [True, True], [True, True], [False, True]])
    q, n = pull_bands(n_s, sig, ok)
    np.testing.assert_array_equal(n, [3, 2])
    np.testing.assert_allclose(q[:, 0], [np.median([1, 3, -1]), np.percentile([1, 3, -1], 16), np.percentile([1, 3, -1], 84)])
    np.testing.assert_allclose(q[0, 1], np.median([2.0, 0.5]))
    q, n = pull_bands(np.full((2, 1), np.nan), np.ones((2, 1)), np.ones((2, 1), bool))
    assert n[0] == 0 and np.isnan(q).all()


def test_zero_crossings() -> None:
    assert zero_crossings(np.array([1.0, -1.0, 0.0, -2.0, np.nan, 3.0])) == 2
    assert zero_crossings(np.array([1.0, 2.0])) == 0
