#!/usr/bin/env python3
"""RooFit baseline for the expmix model-selection benchmarks.

Fits finite exponential mixtures (paper Section 2-3) with RooFit's CPU
likelihood backend and MIGRAD, for k = 1..kmax components with random
restarts, and prints a JSON record with the best NLL per k, the wall time,
the number of fits and the machine.

    python roofit_baseline.py --dataset diphoton
    python roofit_baseline.py --dataset dijet --starts 3 --max-seconds 120 --json out.json

Exit codes: 0 ok, 2 bad arguments / data, 3 ROOT (RooFit) not importable.

Model (per k):
    x in [x_min, x_max]
    f(x) = sum_i w_i * RooExponential(x, -beta_i)    (each normalised on the range)
    beta_i = r_i * beta_ref,  r_i in [0, 50],  beta_ref = 1 / (mean(x) - x_min)
    w_i = exp(v_i) / sum_j exp(v_j),  v_1 = 0,  v_i in [-20, 20] (i >= 2)

NLL conventions (what RooFit computes, with Extended(False), no offsetting):
    unbinned:  -sum_n ln f(x_n)
    binned:    -sum_b n_b ln( integral_b f / width_b )   (IntegrateBins > 0:
               RooBinSamplingPdf integrates the normalised pdf over each bin and
               divides by the bin width), i.e. the Poisson/multinomial NLL
               -sum_b n_b ln p_b plus the constant sum_b n_b ln width_b.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
# <repo>/benchmarks/roofit/ -> shared/ lives next to the repository root.
SHARED = HERE.parents[2] / "shared"

DATASETS = {
    "diphoton": dict(
        path=SHARED / "data" / "cms_diphoton" / "diphoton_data.npy",
        x_range=(500.0, 10000.0),
        kmax=4,
        starts=20,
        retries=5,
        offset="off",
    ),
    "dijet": dict(
        path=SHARED / "data" / "atlas_dijet" / "HEPData-ins1759712-v1-Table_2.yaml",
        x_range=(None, 10000.0),  # x_min = first bin edge (1100 GeV)
        kmax=6,
        starts=80,
        retries=5,  # the paper used 100 retries for dijet; see README
        offset="bin",  # without it MIGRAD essentially never converges (status != 0) for k >= 3
    ),
}

R_MAX = 50.0
V_BOUND = 20.0


# ----------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------
def load_diphoton(path: Path, x_range):
    x = np.asarray(np.load(path), dtype=float).ravel()
    lo, hi = x_range
    x = x[(x >= lo) & (x <= hi)]
    return dict(kind="unbinned", x=x, x_min=lo, x_max=hi, n=int(x.size),
                mean=float(x.mean()))


def _parse_hepdata_yaml(text: str):
    """Return (edges_low, edges_high, counts) from a 1-D HEPData table."""
    try:
        import yaml  # type: ignore

        doc = yaml.safe_load(text)
        iv = doc["independent_variables"][0]["values"]
        dv = doc["dependent_variables"][0]["values"]
        low = [float(b["low"]) for b in iv]
        high = [float(b["high"]) for b in iv]
        counts = [float(v["value"]) for v in dv]
        return low, high, counts
    except ImportError:
        pass
    # minimal fallback for the flow-style records of this table
    import re

    low, high, counts = [], [], []
    section, n_headers = None, 0
    for line in text.splitlines():
        if line.startswith("dependent_variables"):
            section, n_headers = "dep", 0
        elif line.startswith("independent_variables"):
            section, n_headers = "ind", 0
        elif line.startswith("- header"):
            n_headers += 1
        if n_headers > 1:  # only the first variable of each section
            continue
        m_bin = re.search(r"\{high:\s*([-+0-9.eE]+),\s*low:\s*([-+0-9.eE]+)\}", line)
        m_val = re.search(r"\{value:\s*([-+0-9.eE]+)\}", line)
        if section == "ind" and m_bin:
            high.append(float(m_bin.group(1)))
            low.append(float(m_bin.group(2)))
        elif section == "dep" and m_val:
            counts.append(float(m_val.group(1)))
    return low, high, counts


def load_dijet(path: Path, x_range):
    low, high, counts = _parse_hepdata_yaml(path.read_text())
    if not (len(low) == len(high) == len(counts)) or not low:
        raise ValueError(f"cannot parse bins/counts from {path}")
    edges = np.array(low + [high[-1]], dtype=float)
    if not np.allclose(np.array(high[:-1]), np.array(low[1:])):
        raise ValueError("HEPData bins are not contiguous")
    counts = np.array(counts, dtype=float)
    x_max = x_range[1]
    if edges[-1] < x_max:  # paper: one empty bin appended up to 10 TeV
        edges = np.append(edges, x_max)
        counts = np.append(counts, 0.0)
    centres = 0.5 * (edges[:-1] + edges[1:])
    mean = float(np.sum(counts * centres) / np.sum(counts))
    return dict(kind="binned", edges=edges, counts=counts, x_min=float(edges[0]),
                x_max=float(edges[-1]), n=float(counts.sum()), mean=mean,
                nbins=int(counts.size))


# ----------------------------------------------------------------------------
# ROOT
# ----------------------------------------------------------------------------
def import_root():
    """Import ROOT quietly; exit 3 with a one-line message if impossible."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the PyPI build warns that it is alpha
            import ROOT  # type: ignore

            ROOT.gROOT.SetBatch(True)
            ROOT.RooRealVar  # noqa: B018  (force loading libRooFit)
            ROOT.RooMinimizer  # noqa: B018
    except BaseException as exc:  # ImportError, missing libs, cppyy errors ...
        if isinstance(exc, KeyboardInterrupt):
            raise
        msg = str(exc).splitlines()[0] if str(exc) else ""
        print(f"roofit_baseline: ROOT/RooFit is not importable ({type(exc).__name__}: {msg})",
              file=sys.stderr)
        sys.exit(3)
    return ROOT


def quiet_roofit(ROOT, verbose=False):
    ms = ROOT.RooMsgService.instance()
    ms.setSilentMode(True)
    # FATAL: also hides the per-point "p.d.f not greater than zero" evaluation
    # errors that MIGRAD provokes at steep trial points (handled by RooMinimizer)
    ms.setGlobalKillBelow(ROOT.RooFit.ERROR if verbose else ROOT.RooFit.FATAL)
    for i in range(ms.numStreams()):
        ms.getStream(i).removeTopic(ROOT.RooFit.Minimization)
        ms.getStream(i).removeTopic(ROOT.RooFit.Fitting)
        ms.getStream(i).removeTopic(ROOT.RooFit.NumIntegration)
    ROOT.gErrorIgnoreLevel = ROOT.kError
    ROOT.Math.MinimizerOptions.SetDefaultPrintLevel(-1)


class MixtureModel:
    """RooFit objects for one k. Keeps Python references alive."""

    def __init__(self, ROOT, x, beta_ref: float, k: int):
        self.k = k
        self.keep = []
        neg_bref = ROOT.RooConstVar(f"neg_bref_{k}", "-beta_ref", -beta_ref)
        self.keep.append(neg_bref)
        self.r = []
        comps = ROOT.RooArgList()
        for i in range(k):
            r = ROOT.RooRealVar(f"r{i + 1}_k{k}", f"r_{i + 1}", 1.0, 0.0, R_MAX)
            # coefficient of RooExponential: exp(c x) with c = -r_i * beta_ref
            c = ROOT.RooProduct(f"c{i + 1}_k{k}", f"-beta_{i + 1}", ROOT.RooArgList(r, neg_bref))
            e = ROOT.RooExponential(f"exp{i + 1}_k{k}", f"exp_{i + 1}", x, c)
            self.r.append(r)
            self.keep += [r, c, e]
            comps.add(e)
        self.v = []
        if k == 1:
            self.pdf = self.keep[-1]
        else:
            vlist = ROOT.RooArgList()
            for i in range(1, k):
                v = ROOT.RooRealVar(f"v{i + 1}_k{k}", f"v_{i + 1}", 0.0, -V_BOUND, V_BOUND)
                self.v.append(v)
                self.keep.append(v)
                vlist.add(v)
            denom = "(1" + "".join(f"+exp(@{j})" for j in range(k - 1)) + ")"
            # Softmax weights w_1 = 1/denom, w_i = exp(v_i)/denom (i >= 2).  RooAddPdf
            # gets the first k-1 of them; it sets the last coefficient to
            # 1 - sum(others), which is exactly w_k.  (Passing all k coefficients
            # makes RooAddPdf "extendable", and RooFit then complains loudly when the
            # NLL is built with Extended(False); the pdf value would be the same.)
            coefs = ROOT.RooArgList()
            for i in range(k - 1):
                num = "1" if i == 0 else f"exp(@{i - 1})"
                w = ROOT.RooFormulaVar(f"w{i + 1}_k{k}", f"w_{i + 1}", f"{num}/{denom}", vlist)
                coefs.add(w)
                self.keep.append(w)
            self.keep += [vlist, coefs, comps]
            self.pdf = ROOT.RooAddPdf(f"mix_k{k}", f"exponential mixture k={k}", comps, coefs)
        self.params = self.r + self.v

    def randomize(self, rng):
        # r_i log-uniform in [0.05, 50]; v_i ~ N(0, 2) clipped to the bounds
        for r in self.r:
            r.setVal(float(np.exp(rng.uniform(np.log(0.05), np.log(R_MAX)))))
        for v in self.v:
            v.setVal(float(np.clip(rng.normal(0.0, 2.0), -V_BOUND + 1e-3, V_BOUND - 1e-3)))

    def values(self):
        return dict(r=[p.getVal() for p in self.r], v=[0.0] + [p.getVal() for p in self.v])


def build_data(ROOT, d):
    x = ROOT.RooRealVar("x", "x", d["x_min"], d["x_max"])
    if d["kind"] == "unbinned":
        data = ROOT.RooDataSet.from_numpy({"x": d["x"]}, ROOT.RooArgSet(x), name="data") \
            if hasattr(ROOT.RooDataSet, "from_numpy") else None
        if data is None:  # older ROOT: fill by hand
            data = ROOT.RooDataSet("data", "data", ROOT.RooArgSet(x))
            for xv in d["x"]:
                x.setVal(float(xv))
                data.add(ROOT.RooArgSet(x))
        return x, data, None
    edges = d["edges"]
    binning = ROOT.RooBinning(len(edges) - 1, np.ascontiguousarray(edges, dtype=np.float64), "vbins")
    x.setBinning(binning)  # default binning: used by the RooDataHist and RooBinSamplingPdf
    data = ROOT.RooDataHist("data", "data", ROOT.RooArgSet(x))
    for c, lo, hi in zip(d["counts"], edges[:-1], edges[1:]):
        x.setVal(0.5 * (lo + hi))
        data.set(ROOT.RooArgSet(x), float(c))
    return x, data, binning


def make_nll(ROOT, pdf, data, binned: bool, precision: float, offset: str, backend: str):
    args = [ROOT.RooFit.Extended(False), ROOT.RooFit.EvalBackend(backend),
            ROOT.RooFit.Offset(offset)]
    if binned:
        # precision > 0 forces RooBinSamplingPdf (bin integrals); NB IntegrateBins(-1) means OFF
        args.append(ROOT.RooFit.IntegrateBins(precision))
    return pdf.createNLL(data, *args)


def one_fit(ROOT, nll, minimizer_type: str, algo: str, strategy: int, eps):
    m = ROOT.RooMinimizer(nll)
    m.setPrintLevel(-1)
    m.setPrintEvalErrors(-1)
    m.setStrategy(strategy)
    if eps is not None:
        m.setEps(eps)
    m.setErrorLevel(0.5)
    status = int(m.minimize(minimizer_type, algo))
    return status


# ----------------------------------------------------------------------------
def machine_info(ROOT, minimizer_type):
    info = dict(
        platform=platform.platform(),
        machine=platform.machine(),
        processor=platform.processor() or None,
        cpu_count=os.cpu_count(),
        cpu_affinity=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        python=platform.python_version(),
        numpy=np.__version__,
        root_version=str(ROOT.gROOT.GetVersion()),
        minimizer=minimizer_type,
        implicit_mt=bool(ROOT.IsImplicitMTEnabled()),
    )
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=sorted(DATASETS), default="diphoton")
    p.add_argument("--kmin", type=int, default=1)
    p.add_argument("--kmax", type=int, default=None, help="default: 4 diphoton, 6 dijet")
    p.add_argument("--starts", type=int, default=None,
                   help="random starts per k (default: 20 diphoton, 80 dijet)")
    p.add_argument("--retries", type=int, default=None,
                   help="extra fits from new random points when MIGRAD status != 0 (default 5)")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--max-seconds", type=float, default=None,
                   help="wall-time budget; stops starting new fits once exceeded and projects the full scan")
    p.add_argument("--minimizer", default=None,
                   help="ROOT::Math minimizer type (default: ROOT's default, normally Minuit2)")
    p.add_argument("--strategy", type=int, default=1)
    p.add_argument("--eps", type=float, default=None, help="MIGRAD tolerance (RooMinimizer default 1)")
    p.add_argument("--precision", type=float, default=1e-8,
                   help="relative precision of the bin integrals (IntegrateBins) for the binned fit")
    p.add_argument("--offset", choices=["off", "initial", "bin"], default=None,
                   help="RooFit NLL offsetting during minimisation (default: bin for dijet, off for "
                        "diphoton); the reported NLL is always the un-offset value")
    p.add_argument("--backend", default="cpu", help="RooFit EvalBackend (cpu, legacy, codegen)")
    p.add_argument("--verbose", action="store_true", help="let RooFit print errors")
    p.add_argument("--json", dest="json_file", default=None, help="write JSON here instead of stdout")
    args = p.parse_args(argv)

    cfg = DATASETS[args.dataset]
    kmax = args.kmax if args.kmax is not None else cfg["kmax"]
    starts = args.starts if args.starts is not None else cfg["starts"]
    retries = args.retries if args.retries is not None else cfg["retries"]
    offset = args.offset or cfg["offset"]
    if args.kmin < 1 or kmax < args.kmin or starts < 1 or retries < 0:
        p.error("need 1 <= kmin <= kmax, starts >= 1, retries >= 0")

    ROOT = import_root()
    quiet_roofit(ROOT, args.verbose)
    minimizer_type = args.minimizer or str(ROOT.Math.MinimizerOptions.DefaultMinimizerType())

    t_load = time.perf_counter()
    try:
        if args.dataset == "diphoton":
            d = load_diphoton(cfg["path"], cfg["x_range"])
        else:
            d = load_dijet(cfg["path"], cfg["x_range"])
    except (OSError, ValueError, KeyError) as exc:
        print(f"roofit_baseline: cannot load {args.dataset} data: {exc}", file=sys.stderr)
        return 2
    binned = d["kind"] == "binned"
    beta_ref = 1.0 / (d["mean"] - d["x_min"])
    x, data, _binning = build_data(ROOT, d)
    t_data = time.perf_counter() - t_load

    ks = list(range(args.kmin, kmax + 1))
    per_k = {}
    t0 = time.perf_counter()
    for k in ks:
        ts = time.perf_counter()
        model = MixtureModel(ROOT, x, beta_ref, k)
        nll = make_nll(ROOT, model.pdf, data, binned, args.precision, offset, args.backend)
        # an offset NLL returns shifted values; evaluate the reported NLL with a plain one
        nll_eval = nll if offset == "off" else make_nll(ROOT, model.pdf, data, binned,
                                                         args.precision, "off", args.backend)
        per_k[k] = dict(model=model, nll=nll, nll_eval=nll_eval, rng=np.random.default_rng([args.seed, k]),
                        setup_s=time.perf_counter() - ts, fit_s=0.0, n_fits=0, n_failed=0,
                        starts_done=0, best=None, best_any=None, fit_times=[],
                        status_counts={})

    # interleave: start s for every k before start s+1, so a time budget still
    # gives every k some fits (each k has its own RNG stream, so results do not
    # depend on the order).
    stopped_early = False
    for s in range(starts):
        for k in ks:
            if args.max_seconds is not None and time.perf_counter() - t0 >= args.max_seconds:
                stopped_early = True
                break
            st = per_k[k]
            model, nll = st["model"], st["nll"]
            for attempt in range(retries + 1):
                model.randomize(st["rng"])
                tf = time.perf_counter()
                status = one_fit(ROOT, nll, minimizer_type, "Migrad", args.strategy, args.eps)
                val = st["nll_eval"].getVal()
                dt = time.perf_counter() - tf
                st["fit_s"] += dt
                st["fit_times"].append(dt)
                st["n_fits"] += 1
                st["status_counts"][str(status)] = st["status_counts"].get(str(status), 0) + 1
                rec = dict(nll=val, status=status, start=s, attempt=attempt, **model.values())
                if math.isfinite(val) and (st["best_any"] is None or val < st["best_any"]["nll"]):
                    st["best_any"] = rec
                if status == 0:
                    if math.isfinite(val) and (st["best"] is None or val < st["best"]["nll"]):
                        st["best"] = rec
                    break
                st["n_failed"] += 1
            st["starts_done"] += 1
        if stopped_early:
            break
    total = time.perf_counter() - t0

    results = []
    all_fit_times = []
    for k in ks:
        st = per_k[k]
        all_fit_times += st["fit_times"]
        best = st["best"] or st["best_any"]
        n_par = 2 * k - 1
        fits_per_start = st["n_fits"] / st["starts_done"] if st["starts_done"] else None
        mean_fit = st["fit_s"] / st["n_fits"] if st["n_fits"] else None
        rec = dict(
            k=k,
            n_params=n_par,
            best_nll=best["nll"] if best else None,
            best_converged=bool(st["best"] is not None),
            aic=2 * best["nll"] + 2 * n_par if best else None,
            bic=2 * best["nll"] + n_par * math.log(d["n"]) if best else None,
            best_params=dict(r=best["r"], v=best["v"],
                             beta=[ri * beta_ref for ri in best["r"]]) if best else None,
            starts_done=st["starts_done"],
            n_fits=st["n_fits"],
            n_failed_status=st["n_failed"],
            status_counts=st["status_counts"],
            setup_seconds=st["setup_s"],
            fit_seconds=st["fit_s"],
            wall_seconds=st["setup_s"] + st["fit_s"],
            mean_fit_seconds=mean_fit,
            projected_seconds_for_requested_starts=(
                st["setup_s"] + mean_fit * fits_per_start * starts) if mean_fit else None,
            projected_seconds_for_paper_starts=(
                st["setup_s"] + mean_fit * fits_per_start * cfg["starts"]) if mean_fit else None,
        )
        results.append(rec)

    def _proj(key):
        vals = [r[key] for r in results]
        return sum(vals) if all(v is not None for v in vals) else None

    out = dict(
        tool="RooFit",
        dataset=args.dataset,
        likelihood=("binned: -sum_b n_b ln(integral_b f / width_b)" if binned
                    else "unbinned: -sum_n ln f(x_n)"),
        data=dict(n=d["n"], x_min=d["x_min"], x_max=d["x_max"], mean=d["mean"],
                  beta_ref=beta_ref, nbins=d.get("nbins")),
        settings=dict(kmin=args.kmin, kmax=kmax, starts=starts, retries=retries, seed=args.seed,
                      max_seconds=args.max_seconds, minimizer=minimizer_type, algorithm="Migrad",
                      strategy=args.strategy, eps=args.eps, backend=args.backend,
                      offset=offset, extended=False,
                      integrate_bins_precision=args.precision if binned else None,
                      start_distribution="r ~ logU[0.05, 50], v ~ N(0, 2)"),
        results=results,
        data_setup_seconds=t_data,
        wall_seconds=total,  # model/NLL setup + all fits (data loading excluded)
        n_fits=sum(r["n_fits"] for r in results),
        mean_fit_seconds=(sum(all_fit_times) / len(all_fit_times)) if all_fit_times else None,
        stopped_early=stopped_early,
        projected_seconds_full_scan=_proj("projected_seconds_for_requested_starts"),
        projected_seconds_paper_scan=_proj("projected_seconds_for_paper_starts"),
        machine=machine_info(ROOT, minimizer_type),
    )
    text = json.dumps(out, indent=2)
    if args.json_file:
        Path(args.json_file).write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
