"""Tests of expmix.io: known content of the shared data, round trips, malformed input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from expmix import io
from expmix.data import BinnedData, UnbinnedData
from expmix.warnings import ExpmixError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ATLAS = SHARED / "atlas_dijet" / "HEPData-ins1759712-v1-Table_2.yaml"
DIPHOTON = SHARED / "cms_diphoton" / "diphoton_data.npy"
EBEB = SHARED / "cms_diphoton" / "high_mass_diphoton_EBEB.txt"

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data not available")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20240917)


@pytest.fixture
def hist_data(rng: np.random.Generator) -> BinnedData:
    edges = np.array([0.0, 0.5, 1.25, 2.0, 3.5, 6.0])
    counts, _ = np.histogram(rng.exponential(1.0, size=500), bins=edges)
    return BinnedData(counts, edges)


HEPDATA_TEMPLATE = """\
dependent_variables:
- header: {{name: counts}}
  values:
{dep}
- header: {{name: counts}}
  values:
{dep2}
- header: {{name: fit}}
  values:
{fit}
independent_variables:
- header: {{name: m, units: GeV}}
  values:
{indep}
"""


def _write_hepdata(path: Path, lows, highs, counts, counts2=None, fit=None) -> Path:
    counts2 = counts if counts2 is None else counts2
    fit = [c + 0.25 for c in counts] if fit is None else fit
    text = HEPDATA_TEMPLATE.format(
        dep="\n".join(f"  - {{value: {c}}}" for c in counts),
        dep2="\n".join(f"  - {{value: {c}}}" for c in counts2),
        fit="\n".join(f"  - value: {c}\n    errors:\n    - {{symerror: 1.0}}" for c in fit),
        indep="\n".join(f"  - {{low: {lo}, high: {hi}}}" for lo, hi in zip(lows, highs)),
    )
    path.write_text(text)
    return path


# ------------------------------------------------------------------ shared data (known content)


@needs_shared
def test_atlas_table_known_content() -> None:
    # provenance: HEPData record ins1759712 Table 2, numbers in ../shared/README.md
    data = io.read_hepdata(ATLAS)
    assert isinstance(data, BinnedData)
    assert len(data) == 91
    assert data.range == (1100.0, 8208.0)
    assert data.n_events == 28_619_185
    assert not data.weighted
    # the second dependent variable is the fit (non-integer, with errors)
    fit = io.read_hepdata(ATLAS, dependent=1, weighted=True)
    assert fit.weighted and len(fit) == 91
    # a header name shared by both dependents selects the first one (observed)
    by_name = io.read_hepdata(ATLAS, dependent="high mass q*")
    np.testing.assert_array_equal(by_name.counts, data.counts)


@needs_shared
def test_atlas_range_selects_bins_on_edges() -> None:
    data = io.read_hepdata(ATLAS, range=(1200.0, np.inf))
    assert data.range == (1200.0, 8208.0)
    assert len(data) == 88
    with pytest.raises(ValueError, match="range.*1150"):
        io.read_hepdata(ATLAS, range=(1150.0, 8208.0))


@needs_shared
def test_atlas_fit_column_needs_weighted() -> None:
    with pytest.raises(ValueError, match="weighted=True"):
        io.read_hepdata(ATLAS, dependent=1)


@needs_shared
def test_diphoton_known_content() -> None:
    data = io.read_events(DIPHOTON)
    assert isinstance(data, UnbinnedData)
    assert len(data) == 5036
    assert data.range[0] == pytest.approx(500.005, abs=1e-3)
    assert data.range[1] == pytest.approx(2858.05, abs=1e-2)
    assert io.read_events(DIPHOTON, range=(500.0, 10000.0)).range == (500.0, 10000.0)
    assert len(io.read_file(DIPHOTON)) == 5036


@needs_shared
def test_ebeb_edges_known_content() -> None:
    # 169 lines '<lo>GeV-<hi>GeV : ...' -> 170 contiguous edges from 500 to 4016 GeV
    edges = io.read_bin_edges_cms(EBEB)
    assert edges.size == 170
    assert edges[0] == 500.0 and edges[-1] == 4016.0
    assert edges[1] == 506.0
    assert np.all(np.diff(edges) > 0)


@needs_shared
def test_cms_text_is_not_a_histogram() -> None:
    with pytest.raises(ExpmixError, match="read_bin_edges_cms"):
        io.read_histogram_text(EBEB)
    with pytest.raises(ExpmixError, match="read_bin_edges_cms"):
        io.read_file(EBEB)


@needs_shared
def test_read_file_yaml_dispatch() -> None:
    assert len(io.read_file(ATLAS)) == 91


# ------------------------------------------------------------------ HEPData


def test_hepdata_small_table(tmp_path: Path) -> None:
    path = _write_hepdata(tmp_path / "t.yaml", [0, 1, 2], [1, 2, 4], [5, 3, 1], counts2=[7, 7, 7])
    data = io.read_hepdata(path)
    np.testing.assert_array_equal(data.edges, [0, 1, 2, 4])
    np.testing.assert_array_equal(data.counts, [5, 3, 1])
    assert io.read_hepdata(path, dependent="counts").n_events == 9  # first of the two 'counts'
    assert io.read_hepdata(path, dependent=1).n_events == 21
    assert io.read_hepdata(path, dependent=-1, weighted=True).n_events == pytest.approx(9.75)
    assert io.read_hepdata(path, dependent="fit", weighted=True).weighted


def test_hepdata_exponent_without_dot(tmp_path: Path) -> None:
    # PyYAML (YAML 1.1) reads '1e+06' as a string; the reader still converts it
    path = _write_hepdata(tmp_path / "t.yaml", [0, 1], [1, 2], ["1e+06", 2], fit=[1.5, 2.5])
    assert io.read_hepdata(path).n_events == 1_000_002


def test_hepdata_non_contiguous_bins(tmp_path: Path) -> None:
    path = _write_hepdata(tmp_path / "t.yaml", [0, 1, 2.5], [1, 2, 4], [5, 3, 1])
    with pytest.raises(ExpmixError, match=r"contiguous.*bin 1 high = 2 and bin 2 low = 2\.5"):
        io.read_hepdata(path)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("independent_variables: []\ndependent_variables: []\n", "non-empty list"),
        (
            "dependent_variables:\n- values: [{value: 1}]\nindependent_variables:\n- values: [{value: 3}]\n",
            "'low' and 'high'",
        ),
        (
            "dependent_variables:\n- values: [{value: '-'}]\nindependent_variables:\n- values: [{low: 0, high: 1}]\n",
            "must be a number, got '-'",
        ),
        (
            "dependent_variables:\n- values: [{value: 1}]\nindependent_variables:\n- values: [{low: 0, high: 1}, {low: 1, high: 2}]\n",
            "one value per bin",
        ),
        ("key: [unclosed\n", "not valid YAML"),
    ],
)
def test_hepdata_bad_structure(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ExpmixError, match=match):
        io.read_hepdata(path)


def test_hepdata_bad_dependent(tmp_path: Path) -> None:
    path = _write_hepdata(tmp_path / "t.yaml", [0, 1], [1, 2], [5, 3])
    with pytest.raises(ValueError, match=r"`dependent` 'nope'.*available: \['counts', 'counts', 'fit'\]"):
        io.read_hepdata(path, dependent="nope")
    with pytest.raises(ValueError, match="`dependent` index 3 is out of range"):
        io.read_hepdata(path, dependent=3)


def test_hepdata_without_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write_hepdata(tmp_path / "t.yaml", [0, 1], [1, 2], [5, 3])
    monkeypatch.setitem(sys.modules, "yaml", None)
    with pytest.raises(ImportError, match=r"pip install expmix\[io\]"):
        io.read_hepdata(path)


# ------------------------------------------------------------------ events


def test_events_npy_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    x = 100.0 + rng.exponential(50.0, size=200)
    np.save(tmp_path / "x.npy", x)
    data = io.read_events(tmp_path / "x.npy")
    np.testing.assert_array_equal(data.x, x)
    assert data.range == (x.min(), x.max())
    np.save(tmp_path / "x2.npy", np.column_stack([x, 2 * x]))
    np.testing.assert_array_equal(io.read_events(tmp_path / "x2.npy", column=1).x, 2 * x)
    with pytest.raises(ValueError, match="`column` must be given.*2 columns"):
        io.read_events(tmp_path / "x2.npy")
    rec = np.zeros(x.size, dtype=[("m", float), ("w", float)])
    rec["m"] = x
    np.save(tmp_path / "rec.npy", rec)
    np.testing.assert_array_equal(io.read_events(tmp_path / "rec.npy", column="m").x, x)


def test_events_txt_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    x = 500.0 + rng.exponential(100.0, size=100)
    np.savetxt(tmp_path / "x.txt", x, header="diphoton masses")
    data = io.read_events(tmp_path / "x.txt", range=(500.0, np.inf))
    np.testing.assert_array_equal(data.x, x)
    assert data.range == (500.0, np.inf)
    assert isinstance(io.read_file(tmp_path / "x.txt"), UnbinnedData)
    np.savetxt(tmp_path / "x.dat", np.column_stack([x, x + 1]))
    np.testing.assert_array_equal(io.read_events(tmp_path / "x.dat", column=-1).x, x + 1)


def test_events_csv_with_header(tmp_path: Path, rng: np.random.Generator) -> None:
    x = rng.exponential(1.0, size=50)
    w = rng.random(50)
    path = tmp_path / "ev.csv"
    np.savetxt(path, np.column_stack([w, x]), delimiter=",", header="weight,mass", comments="")
    data = io.read_events(path, column="mass")
    np.testing.assert_array_equal(data.x, x)
    np.testing.assert_array_equal(io.read_events(path, column=0).x, w)
    # with column= the dispatcher reads events, not a two-column histogram
    np.testing.assert_array_equal(io.read_file(path, column="mass").x, x)
    with pytest.raises(ValueError, match=r"`column` 'm' is not a column name.*\['weight', 'mass'\]"):
        io.read_events(path, column="m")


def test_events_bad_input(tmp_path: Path) -> None:
    ragged = tmp_path / "ragged.txt"
    ragged.write_text("1 2\n3 4\n5\n")
    with pytest.raises(ExpmixError, match=r"same number of columns \(2\), got 1 on line 3"):
        io.read_events(ragged, column=0)
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n3,x\n")
    with pytest.raises(ExpmixError, match="line 3 must hold numbers only.*'x'"):
        io.read_events(bad, column="a")
    outside = tmp_path / "o.txt"
    outside.write_text("1\n2\n3\n")
    with pytest.raises(ValueError, match="outside"):
        io.read_events(outside, range=(1.5, 10.0))
    with pytest.raises(ValueError, match="unsupported suffix '.parquet'"):
        io.read_events(tmp_path / "x.parquet")
    np.save(tmp_path / "cube.npy", np.ones((2, 2, 2)))
    with pytest.raises(ExpmixError, match=r"shape \(2, 2, 2\)"):
        io.read_events(tmp_path / "cube.npy")


# ------------------------------------------------------------------ histogram text


@pytest.mark.parametrize("layout", ["low-high", "edge"])
@pytest.mark.parametrize("suffix", [".txt", ".csv"])
def test_histogram_text_round_trip(tmp_path: Path, hist_data: BinnedData, layout: str, suffix: str) -> None:
    path = io.write_histogram_text(hist_data, tmp_path / f"h{suffix}", layout=layout)
    back = io.read_histogram_text(path)
    np.testing.assert_array_equal(back.edges, hist_data.edges)
    np.testing.assert_array_equal(back.counts, hist_data.counts)
    dispatched = io.read_file(path)
    assert isinstance(dispatched, BinnedData)
    np.testing.assert_array_equal(dispatched.counts, hist_data.counts)


def test_histogram_text_range(tmp_path: Path, hist_data: BinnedData) -> None:
    path = io.write_histogram_text(hist_data, tmp_path / "h.txt")
    sub = io.read_histogram_text(path, range=(0.5, 3.5))
    np.testing.assert_array_equal(sub.edges, [0.5, 1.25, 2.0, 3.5])
    np.testing.assert_array_equal(sub.counts, hist_data.counts[1:4])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("0 1 5\n1 2 3\n2.5 3 1\n", r"contiguous.*bin 1 high = 2 and bin 2 low = 2\.5"),
        ("0 5\n1 3\n2 1\n", "must be nan, got 1"),
        ("0 1 5 7\n1 2 3 7\n", "got 4"),
        ("0 1 5\n1 2\n", "same number of columns"),
    ],
)
def test_histogram_text_bad_input(tmp_path: Path, text: str, match: str) -> None:
    path = tmp_path / "h.txt"
    path.write_text(text)
    with pytest.raises(ExpmixError, match=match):
        io.read_histogram_text(path)


def test_read_bin_edges_cms(tmp_path: Path) -> None:
    path = tmp_path / "b.txt"
    path.write_text("500GeV-506GeV : Integral=1.0, Divide_Bin_Width=0.2\n506GeV-513.5GeV : Integral=1\n")
    np.testing.assert_array_equal(io.read_bin_edges_cms(path), [500.0, 506.0, 513.5])
    path.write_text("500GeV-506GeV : Integral=1.0\n507GeV-513GeV : Integral=1\n")
    with pytest.raises(ExpmixError, match="contiguous.*506.*507"):
        io.read_bin_edges_cms(path)
    path.write_text("500GeV-506GeV : Integral=1.0\n1 2 3\n")
    with pytest.raises(ExpmixError, match="line 2 must look like"):
        io.read_bin_edges_cms(path)


def test_read_file_rules(tmp_path: Path) -> None:
    wide = tmp_path / "wide.txt"
    wide.write_text("1 2 3 4\n5 6 7 8\n")
    with pytest.raises(ExpmixError, match="4 columns; pass column="):
        io.read_file(wide)
    assert io.read_file(wide, column=2).n_events == 2
    with pytest.raises(ValueError, match="unsupported suffix '.h5'"):
        io.read_file(tmp_path / "x.h5")


# ------------------------------------------------------------------ hist / boost-histogram


def test_from_hist_round_trip(rng: np.random.Generator) -> None:
    hist = pytest.importorskip("hist")
    x = rng.exponential(1.0, size=300)
    h = hist.Hist.new.Var([0.0, 0.5, 1.0, 2.0, 4.0], name="m").Double()
    h.fill(x)  # values beyond 4 go to the overflow bin, which is ignored
    data = io.from_hist(h)
    np.testing.assert_array_equal(data.edges, [0.0, 0.5, 1.0, 2.0, 4.0])
    np.testing.assert_array_equal(data.counts, np.histogram(x, bins=data.edges)[0])
    assert not data.weighted
    hw = hist.Hist.new.Reg(4, 0.0, 4.0).Weight()
    hw.fill(x, weight=rng.random(x.size))
    dw = io.from_hist(hw)
    assert dw.weighted
    np.testing.assert_allclose(dw.counts, hw.values())
    # integer fills in a Weight storage are still weighted=True
    hw1 = hist.Hist.new.Reg(4, 0.0, 4.0).Weight()
    hw1.fill(x)
    assert io.from_hist(hw1).weighted


def test_from_hist_bad_input() -> None:
    hist = pytest.importorskip("hist")
    h2 = hist.Hist.new.Reg(2, 0, 1).Reg(2, 0, 1).Double()
    h2.fill([0.2], [0.3])
    with pytest.raises(ValueError, match="one-dimensional, got 2 axes"):
        io.from_hist(h2)
    with pytest.raises(ValueError, match=r"\.axes and \.values\(\)"):
        io.from_hist(np.arange(3))


# ------------------------------------------------------------------ uproot


def test_root_round_trip(tmp_path: Path, rng: np.random.Generator) -> None:
    uproot = pytest.importorskip("uproot")
    x = 1.0 + rng.exponential(1.0, size=200)
    edges = np.linspace(1.0, 6.0, 11)
    counts, _ = np.histogram(x, bins=edges)
    path = tmp_path / "d.root"
    with uproot.recreate(path) as f:
        f["h"] = (counts.astype(float), edges)
        f.mktree("t", {"m": np.float64})
        f["t"].extend({"m": x})
    data = io.read_root(path, "h")
    assert isinstance(data, BinnedData) and not data.weighted
    np.testing.assert_array_equal(data.counts, counts)
    np.testing.assert_allclose(data.edges, edges)
    ev = io.read_root(path, "t", branch="m", range=(1.0, np.inf))
    assert isinstance(ev, UnbinnedData)
    np.testing.assert_array_equal(ev.x, x)
    assert io.read_file(path, key="t", branch="m").n_events == 200
    with pytest.raises(ValueError, match=r"`key` 'nope' is not in .*available: \['h', 't'\]"):
        io.read_root(path, "nope")
    with pytest.raises(ValueError, match=r"`branch` 'q' is not a branch of 't'.*\['m'\]"):
        io.read_root(path, "t", branch="q")
    with pytest.raises(ValueError, match="must be a TH1"):
        io.read_root(path, "t")


def test_root_without_uproot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uproot", None)
    with pytest.raises(ImportError, match=r"read_root requires .*pip install expmix\[io\]"):
        io.read_root(tmp_path / "x.root", "h")


# ------------------------------------------------------------------ JSON


def test_write_json(tmp_path: Path, hist_data: BinnedData) -> None:
    obj = {
        "b": np.float32(1.5),
        "a": np.arange(3),
        "n": np.int64(7),
        "flag": np.bool_(True),
        "data": hist_data,
        "nested": ({"z": 1, "y": np.array([[1.0, 2.0]])},),
        3: Path("x/y"),
    }
    path = io.write_json(obj, tmp_path / "out.json")
    text = path.read_text()
    back = json.loads(text)
    assert list(back) == sorted(back)  # sorted keys
    assert text.startswith('{\n  "3"')  # indent 2
    assert back["b"] == 1.5 and back["a"] == [0, 1, 2] and back["n"] == 7 and back["flag"] is True
    assert back["data"]["counts"] == hist_data.counts.tolist()
    assert back["data"]["weighted"] is False
    assert back["nested"] == [{"y": [[1.0, 2.0]], "z": 1}]
    assert back["3"] == "x/y"


def test_to_jsonable_edge_cases() -> None:
    class WithToDict:
        def to_dict(self) -> dict:
            return {"schema_version": 1, "v": np.float64(2.0)}

    assert io.to_jsonable(WithToDict()) == {"schema_version": 1, "v": 2.0}
    assert io.to_jsonable({"r": (500.0, np.inf)}) == {"r": [500.0, float("inf")]}
    assert json.loads(json.dumps(io.to_jsonable(np.float64(np.inf)))) == float("inf")
    with pytest.raises(TypeError, match="complex"):
        io.to_jsonable(np.complex128(1 + 2j))
    with pytest.raises(TypeError, match="cannot convert object"):
        io.to_jsonable(object())
