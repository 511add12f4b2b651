"""`expmix.paper` and `expmix paper`: Section 3 of the paper on the shared data.

Provenance of the expected numbers (all on ../shared/data, seed 0, the paper's starts):

- Table 2 as printed in the paper (Section 3.2): chi2 54.2, 53.5, 54.7, 53.4, 50.6; chi2/ndf 0.93,
  0.92, 0.94, 0.94, 0.90; delta-AIC 1.6, 0.0, 2.5, 1.9, 1.2; delta-BIC 1.6, 0.0, 2.5, 8.4, 14.2
  (f1..f4, mixture). ``--published-settings`` (fit on [500, 4016] GeV, mixture counted as 2k)
  must give these strings exactly.
- The authors' NLLs on [500, 4016] GeV (their notebook, quoted in the issue that asked for
  `expmix paper`): 31033.0204, 31032.2305, 31033.4926, 31032.1666, 31030.8264.
- The stated settings (issue text, exact optima, p = 2k - 1): diphoton delta-AIC 2.75, 0.89,
  3.88, 2.74, 0.00 and delta-BIC 1.86, 0.00, 2.99, 8.38, 5.63 (+-0.05); chi2 54.26, 53.49, 54.83,
  53.41 (+-0.05) and 50.58 for the k = 2 mixture (+-0.1) on 60 merged bins. Dijet: delta-AIC of
  the dijet function 1.23 +- 0.1 relative to the k = 4 mixture, delta-BIC of the mixture
  59.44 +- 0.1, AIC and BIC both choose k = 4, dijet-function chi2 95.76 +- 0.05 on 77 merged bins.

The whole pipeline runs once per session (module-scoped fixtures, a few seconds).
"""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import pytest

from expmix import paper
from expmix.cli import main

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data not available")

#: printed Table 2, row by row: (chi2, chi2/ndf, delta-AIC, delta-BIC)
PRINTED_TABLE2 = {
    "f1": ("54.2", "0.93", "1.6", "1.6"),
    "f2": ("53.5", "0.92", "0.0", "0.0"),
    "f3": ("54.7", "0.94", "2.5", "2.5"),
    "f4": ("53.4", "0.94", "1.9", "8.4"),
    "mixture": ("50.6", "0.90", "1.2", "14.2"),
}
AUTHORS_NLL_4016 = {"f1": 31033.0204, "f2": 31032.2305, "f3": 31033.4926, "f4": 31032.1666, "mixture": 31030.8264}


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def results() -> dict[str, paper.PaperResult]:
    res = paper.run_paper("all", SHARED, download=False)
    assert [(r.example, r.settings.published_settings) for r in res] == [
        ("dijet", False), ("diphoton", False), ("diphoton", True)]
    return {"dijet": res[0], "diphoton": res[1], "published": res[2]}


@pytest.fixture(scope="module")
def outdir(results: dict[str, paper.PaperResult], tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("matplotlib")
    out = tmp_path_factory.mktemp("paper")
    messages: list[str] = []
    paper.write_outputs(list(results.values()), out, command="expmix paper all --out out", progress=messages.append)
    assert messages and messages[-1].startswith("wrote 22 files")
    return out


# ------------------------------------------------------------------ diphoton, stated settings
@pytest.mark.parametrize(
    ("key", "daic", "dbic", "chi2", "tol"),
    [("f1", 2.75, 1.86, 54.26, 0.05), ("f2", 0.89, 0.00, 53.49, 0.05), ("f3", 3.88, 2.99, 54.83, 0.05),
     ("f4", 2.74, 8.38, 53.41, 0.05), ("mixture", 0.00, 5.63, 50.58, 0.1)],
)
def test_diphoton_table(results, key: str, daic: float, dbic: float, chi2: float, tol: float) -> None:
    res = results["diphoton"]
    row = res.row(key)
    assert res.settings.range == (500.0, 10000.0)
    assert row.delta_aic == pytest.approx(daic, abs=0.05)
    assert row.delta_bic == pytest.approx(dbic, abs=0.05)
    assert row.chi2 == pytest.approx(chi2, abs=tol)
    assert row.n_bins == 60
    assert row.ndf == 60 - row.n_par


def test_diphoton_selection(results) -> None:
    res = results["diphoton"]
    sel = res.selection
    assert sel.ks == (1, 2, 3, 4)
    assert sel.k_aic == 2 and sel.k_bic == 2  # paper Figure 3: both prefer k = 2
    assert res.fits[-1] is sel.best
    assert res.row("mixture").n_par == 3  # 2k - 1
    assert [r.key for r in res.rows] == ["f1", "f2", "f3", "f4", "mixture"]


# ------------------------------------------------------------------ diphoton, published settings
def test_published_settings_reproduce_printed_table2(results) -> None:
    res = results["published"]
    assert res.settings.range == (500.0, 4016.0)
    assert res.settings.mixture_n_par.startswith("2k ")
    got = {r.key: tuple(c[col] for col in paper.COLUMNS) for r, c in zip(res.rows, res.formatted("paper"))}
    assert got == PRINTED_TABLE2
    assert all(d["agrees"] for d in res.comparison())
    # the module's copy of the printed table is the same
    assert {p.key: tuple(p.cells().values()) for p in paper.PUBLISHED_TABLE2} == PRINTED_TABLE2


def test_published_settings_nll(results) -> None:
    for row in results["published"].rows:
        # our optimum is as good as the authors' (equal within 0.005, never worse by more than 1e-3)
        assert row.nll == pytest.approx(AUTHORS_NLL_4016[row.key], abs=5e-3)
        assert row.nll <= AUTHORS_NLL_4016[row.key] + 1e-3


def test_mixture_n_par_option(results) -> None:
    res = results["diphoton"]
    twok = paper.table_rows(res.fits, res.data, edges=res.chi2_edges, mixture_n_par=paper.published_mixture_n_par)
    base = {r.key: r for r in res.rows}
    for r in twok:
        b = base[r.key]
        extra = 1 if r.key == "mixture" else 0
        assert r.n_par == b.n_par + extra
        assert r.aic == pytest.approx(b.aic + 2 * extra)
        assert r.bic == pytest.approx(b.bic + extra * math.log(res.data.n_events))
        assert r.chi2 == pytest.approx(b.chi2) and r.ndf == b.ndf - extra
    with pytest.raises(ValueError, match="mixture_n_par"):
        paper.table_rows(res.fits, res.data, edges=res.chi2_edges, mixture_n_par=lambda k: 0)
    with pytest.raises(ValueError, match="fits"):
        paper.table_rows([], res.data)


# ------------------------------------------------------------------ dijet
def test_dijet_table(results) -> None:
    res = results["dijet"]
    assert res.data.counts.size == 92 and res.settings.range == (1100.0, 10000.0)
    assert res.selection.ks == (1, 2, 3, 4, 5, 6)
    assert res.selection.k_aic == 4 and res.selection.k_bic == 4  # paper Figure 1
    dij, mix = res.row("dijet"), res.row("mixture")
    assert mix.k == 4 and mix.n_par == 7
    assert dij.delta_aic == pytest.approx(1.23, abs=0.1) and mix.delta_aic == 0.0
    assert mix.delta_bic == pytest.approx(59.44, abs=0.1) and dij.delta_bic == 0.0
    assert dij.chi2 == pytest.approx(95.76, abs=0.05)
    assert dij.n_bins == 77 and dij.ndf == 74
    # printed Table 1: the dijet function's chi2 (96) and chi2/ndf (1.3) agree at the printed precision
    cells = dict(zip([r.key for r in res.rows], res.formatted("paper")))
    assert cells["dijet"]["chi2"] == "96" and cells["dijet"]["chi2_ndf"] == "1.3"
    assert cells["mixture"]["delta_aic"] == "0" and cells["dijet"]["delta_bic"] == "0"


def test_format_row_precisions(results) -> None:
    row = results["dijet"].row("mixture")
    assert paper.format_row(row)["delta_aic"] == "0.00"
    assert paper.format_row(row, paper.PAPER_PRECISION[1])["delta_aic"] == "0"
    assert paper.format_row(row, paper.PAPER_PRECISION[2])["delta_aic"] == "0.0"


def test_run_paper_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="target"):
        paper.run_paper("both", SHARED)
    with pytest.raises(ValueError, match="diphoton example only"):
        paper.run_paper("dijet", SHARED, published_settings=True)


# ------------------------------------------------------------------ outputs
def test_output_files(outdir: Path) -> None:
    for stem in ("table1", "table2", "table2_published-settings"):
        for ext in ("md", "tex", "json"):
            assert (outdir / f"{stem}.{ext}").stat().st_size > 0
    sizes = {"figure1": (1500, 1200), "figure3": (1500, 1200), "figure2": (1500, 1500), "figure4": (1500, 1500)}
    for stem, size in sizes.items():
        for suffix in ("", "_published-settings") if stem in ("figure3", "figure4") else ("",):
            png, pdf = outdir / f"{stem}{suffix}.png", outdir / f"{stem}{suffix}.pdf"
            assert png_size(png) == size
            assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5000


def test_table_files(outdir: Path) -> None:
    md = (outdir / "table2_published-settings.md").read_text(encoding="utf-8")
    assert "| f1 | 54.2 | 0.93 | 1.6 | 1.6 |" in md
    assert "| Exponential mixture (k = 2) | 50.6 | 0.90 | 1.2 | 14.2 |" in md
    tex = (outdir / "table1.tex").read_text(encoding="utf-8")
    assert "\\begin{tabular}" in tex and "Dijet function & 95.77 & 1.294 & 1.23 & 0.00" in tex
    doc = json.loads((outdir / "table2.json").read_text(encoding="utf-8"))
    assert doc["schema_version"] == 1
    assert doc["settings"]["range"] == [500.0, 10000.0] and doc["settings"]["seed"] == 0
    assert [r["key"] for r in doc["rows"]] == ["f1", "f2", "f3", "f4", "mixture"]
    assert doc["selection"]["k_aic"] == 2


def test_report(outdir: Path) -> None:
    text = (outdir / "report.md").read_text(encoding="utf-8")
    from expmix import __version__

    for needle in (f"expmix {__version__}", "`expmix paper all --out out`", "| seed | 0 | 0 | 0 |",
                   "| k scan | 1..6 | 1..4 | 1..4 |", "80 / 100 per mixture fit", "500-4016 GeV",
                   "All 20 cells agree digit for digit", "![Figure 1](figure1.png)", "![Figure 4](figure4.png)",
                   "| Dijet function | 95.77 | 96 |", "60.4", "2k = 4 parameters"):
        assert needle in text, needle
    # one sentence per difference, each with its reason
    diffs = [line for line in text.splitlines() if line.startswith("- **")]
    assert len(diffs) == 4 + 13
    assert all("printed:" in line and not line.endswith("not explained.") for line in diffs)
    assert "not reproduced" not in text


# ------------------------------------------------------------------ CLI
def test_cli_published_settings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["paper", "diphoton", "--published-settings", "--out", str(tmp_path), "--data-dir", str(SHARED),
               "--no-figures"])
    assert rc == 0
    captured = capsys.readouterr()
    assert "| f4 | 53.4 | 0.94 | 1.9 | 8.4 |" in captured.out
    assert "diphoton (published settings): fits done" in captured.err  # progress on stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "report.md", "table2_published-settings.json", "table2_published-settings.md", "table2_published-settings.tex"]
    assert "--published-settings" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_cli_rejects_published_settings_for_dijet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["paper", "dijet", "--published-settings", "--out", str(tmp_path), "--data-dir", str(SHARED), "--quiet"])
    assert rc == 2
    assert "diphoton example only" in capsys.readouterr().err
