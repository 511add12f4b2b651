#!/usr/bin/env python3
"""Pseudo-experiment (toy) fitting speed of expmix against named baselines, side by side in one run.

    python benchmarks/bench_toys.py                       # full run, ~5 minutes
    python benchmarks/bench_toys.py --quick --no-roofit   # small sizes, ~1 minute
    python benchmarks/bench_toys.py --json bench_toys.json

1. The bias configuration of issue 4: pseudo-datasets of 5036 events from the true model f2
   (``expmix.studies.generate.true_model("f2").sample``) on [500, 10000] GeV; exponential
   mixtures k = 1..4, 5 starts each; k chosen by AIC and BIC. Contenders, on the same toys:

   * ``expmix batched``  ``expmix.toys.fit_mixtures(histogram_many(X, fine_edges(...)), edges,
                         [1, 2, 3, 4], starts=5, rng=[one generator per toy])`` + ``chosen_k``
                         (what ``studies.fast.bias_chunk`` does for the mixtures; binned
                         likelihood on 200 fine bins), all T toys in one call, timed as a whole
                         (median of 3 runs), one process;
   * ``expmix loop``     per toy ``expmix.select(UnbinnedData(x, (500, 10000)), "1-4",
                         starts=5, rng=...)`` (unbinned; batched screening + MIGRAD polish);
   * ``expmix loop (method="migrad")``  the same with MIGRAD from every start;
   * ``RooFit``          ``roofit/roofit_toys.py`` in a subprocess on the same events: per toy a
                         RooDataSet, k = 1..4 with 5 random starts (+ up to 5 retries while the
                         MIGRAD status is not 0), time budget ``--roofit-budget``.

   Agreement on the common toys: chosen k (AIC/BIC) and NLLs. The batched NLL is *binned* and
   not comparable to the unbinned NLL of the loop; the unbinned NLL of the batched parameters
   (``expmix.likelihood.nll`` of the rebuilt model) is compared instead.
2. The full bias kernel (true model f2, k = 1..4, families f1..f4, 1000-point grid, 5 starts):
   ``studies.fast.bias_chunk`` (on chunks of the paper spec's chunk size) vs the reference
   ``studies.kernels.bias_chunk``, on the engine's own toys.
3. Projected wall time of the paper-size studies (``examples/*_paper.toml``) on this machine with
   2 worker processes, from the per-toy cost of ``studies.engine.run_chunk`` (toy generation +
   the study's kernel) measured per true model on small samples: bias (``fast``), coverage
   (``fast``, B = 100 and 200, extrapolated linearly to B = 1000) and spurious (reference).

Times are reported, never asserted; the issue's targets are printed as MET / NOT MET. The machine
may be shared: CPU time (``time.process_time``) is reported next to every wall time.

Exit codes: 0 ran (whatever the targets), 2 bad arguments.
"""

from __future__ import annotations

import os

# one core per process: the contenders and the study workers are single-threaded by design
for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

import numpy as np  # noqa: E402


from _machine import json_default, loadavg, machine_info, root_version_subprocess
import expmix  # noqa: E402
from expmix.data import UnbinnedData  # noqa: E402
from expmix.likelihood import nll as unbinned_nll  # noqa: E402
from expmix.parametrization import MixtureParametrization  # noqa: E402
from expmix.studies import engine, fast, kernels  # noqa: E402
from expmix.studies.generate import true_model  # noqa: E402
from expmix.studies.spec import load_spec, spec_from_dict  # noqa: E402
from expmix.toys import fine_edges, fit_mixtures, histogram_many  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
ROOFIT_SCRIPT = REPO / "benchmarks" / "roofit" / "roofit_toys.py"
EXAMPLES = REPO / "examples"

SUPPORT = (500.0, 10000.0)
N_EVENTS = 5036
KS = (1, 2, 3, 4)
STARTS = 5
GRID_HI = 3500.0  # end of the studies' grid: the fine binning is log-spaced up to here
N_BINS = 200
WORKERS = 2
BATCHED_REPEATS = 3
NLL_TOL = 0.01
TARGET_TOYS_PER_S = 50.0  # issue 4: bias configuration, one core
TARGET_COVERAGE_HOURS = 12.0  # issue 4: paper-size coverage study on this 2-core machine
PAPER_TOYS = {"bias": 5000, "coverage": 400, "spurious": 1000}
PAPER_RESAMPLES = 1000

SIZES = {
    # batched T, loop toys, migrad-loop toys, RooFit budget s, bias-kernel fast toys (chunks),
    # reference kernel toys, bias projection toys per model, coverage (toys, B1, B2), spurious toys,
    # true models measured for the projections
    "full": dict(batched=200, loop=20, migrad=10, roofit_budget=60.0, kernel_fast=100, kernel_ref=4,
                 proj_bias=25, cov_toys=2, cov_b=(100, 200), spur_toys=1, models=("f1", "f2", "f3", "f4")),
    "quick": dict(batched=40, loop=4, migrad=2, roofit_budget=10.0, kernel_fast=25, kernel_ref=1,
                  proj_bias=10, cov_toys=1, cov_b=(10, 20), spur_toys=1, models=("f2",)),
}


# ============================================================================ machine








class Timer:
    """Wall and CPU (this process) seconds of a block."""

    def __enter__(self) -> "Timer":
        self.load1 = (loadavg() or [float("nan")])[0]
        self.c0, self.t0 = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self.t0
        self.cpu = time.process_time() - self.c0


def _log(t_start: float, msg: str) -> None:
    print(f"[{time.perf_counter() - t_start:6.1f} s] {msg}", file=sys.stderr, flush=True)


# ============================================================================ 1. bias configuration
def make_toys(n_toys: int, seed: int) -> tuple[np.ndarray, list[np.random.SeedSequence]]:
    """Toy t: events from child 0 of ``SeedSequence(seed, spawn_key=(t,))``; its fit seed is child 1."""
    model = true_model("f2", SUPPORT)
    ev, fit_seeds = [], []
    for t in range(n_toys):
        ss = np.random.SeedSequence(seed, spawn_key=(t,))
        ev_ss, fit_ss = ss.spawn(2)
        ev.append(model.sample(N_EVENTS, rng=np.random.default_rng(ev_ss)))
        fit_seeds.append(fit_ss)
    return np.stack(ev), fit_seeds


def run_batched(X: np.ndarray, fit_seeds: list[np.random.SeedSequence]) -> dict[str, Any]:
    edges = fine_edges(SUPPORT, GRID_HI, N_BINS)

    def once(rows: slice):
        rngs = [np.random.default_rng(s) for s in fit_seeds[rows]]
        mix = fit_mixtures(histogram_many(X[rows], edges), edges, list(KS), starts=STARTS, rng=rngs)
        return mix, mix.chosen_k("aic"), mix.chosen_k("bic")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        once(slice(0, min(4, X.shape[0])))  # warm-up (not timed)
        walls, cpus, res = [], [], None
        for _ in range(BATCHED_REPEATS):
            with Timer() as tm:
                out = once(slice(None))
            walls.append(tm.wall)
            cpus.append(tm.cpu)
            if res is None:
                res, load1 = out, tm.load1
    mix, k_aic, k_bic = res
    T = X.shape[0]
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    return dict(toys=T, wall_seconds=wall, cpu_seconds=cpu, wall_runs=walls, cpu_runs=cpus, load1=load1,
                per_toy_wall=wall / T, per_toy_cpu=cpu / T, mix=mix, k_aic=k_aic, k_bic=k_bic,
                converged_fraction=float(np.mean(mix.converged)),
                note=f"all {T} toys in one fit_mixtures call; median of {BATCHED_REPEATS} runs (after a warm-up)")


def unbinned_nll_of_batched(mix, X: np.ndarray, toys: range) -> np.ndarray:
    """(len(toys), K) unbinned NLL of the batched fits' parameters on the toys' events."""
    out = np.full((len(toys), len(mix.ks)), np.nan)
    for i, t in enumerate(toys):
        data = UnbinnedData(X[t], SUPPORT)
        for j, k in enumerate(mix.ks):
            model = MixtureParametrization(k, float(mix.beta_ref[t]), mix.support).to_model(mix.theta[k][t])
            out[i, j] = unbinned_nll(model, data)
    return out


def run_loop(X: np.ndarray, fit_seeds: list[np.random.SeedSequence], n: int, method: str | None) -> dict[str, Any]:
    kw = {} if method is None else {"method": method}
    n = min(n, X.shape[0])
    nll = np.full((n, len(KS)), np.nan)
    k_aic = np.zeros(n, dtype=int)
    k_bic = np.zeros(n, dtype=int)
    valid = np.zeros((n, len(KS)), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # warm-up on an extra toy drawn here (not timed, not counted)
        warm = true_model("f2", SUPPORT).sample(N_EVENTS, rng=np.random.default_rng(987654321))
        expmix.select(UnbinnedData(warm, SUPPORT), "1-4", starts=STARTS, rng=0, **kw)
        walls, cpus = [], []
        with Timer() as tm:
            for t in range(n):
                c0, t0 = time.process_time(), time.perf_counter()
                sel = expmix.select(UnbinnedData(X[t], SUPPORT), "1-4", starts=STARTS,
                                    rng=np.random.default_rng(fit_seeds[t]), **kw)
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
                nll[t] = sel.nll
                k_aic[t], k_bic[t] = sel.k_aic, sel.k_bic
                valid[t] = [bool(f.valid) for f in sel.fits]
    return dict(toys=n, wall_seconds=tm.wall, cpu_seconds=tm.cpu, load1=tm.load1, per_toy_wall=tm.wall / n,
                per_toy_cpu=tm.cpu / n, toy_walls=walls, nll=nll, k_aic=k_aic, k_bic=k_bic,
                valid_fraction=float(valid.mean()),
                note=f"toys 0..{n - 1}, one select() per toy (after one warm-up toy)")


def run_roofit(X: np.ndarray, seed: int, budget: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        ev_file, out_file = Path(tmp) / "toys.npy", Path(tmp) / "roofit.json"
        np.save(ev_file, X)
        cmd = [sys.executable, str(ROOFIT_SCRIPT), "--events", str(ev_file), "--kmin", "1", "--kmax", str(max(KS)),
               "--starts", str(STARTS), "--retries", "5", "--seed", str(seed), "--max-seconds", f"{budget:g}",
               "--x-min", str(SUPPORT[0]), "--x-max", str(SUPPORT[1]), "--json", str(out_file)]
        load1 = (loadavg() or [float("nan")])[0]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=budget + 600)
        except subprocess.TimeoutExpired:
            return dict(skipped=True, note="RooFit toys timed out")
        proc_wall = time.perf_counter() - t0
        if proc.returncode == 3:
            msg = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "ROOT not importable"
            return dict(skipped=True, note=f"skipped: ROOT/RooFit not available (exit 3: {msg})")
        if proc.returncode != 0 or not out_file.is_file():
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
            return dict(skipped=True, note=f"RooFit toys failed (exit {proc.returncode}): {tail}")
        rf = json.loads(out_file.read_text())
    n = rf["toys_done"]
    per = rf["per_toy"]
    nll = np.array([[np.nan if v is None else v for v in r["best_nll"]] for r in per], dtype=float)
    setup = sum(r["setup_seconds"] for r in per)
    return dict(
        skipped=False, toys=n, wall_seconds=rf["wall_seconds"], cpu_seconds=rf["cpu_seconds"], load1=load1,
        per_toy_wall=rf["wall_seconds"] / n, per_toy_cpu=rf["cpu_seconds"] / n, nll=nll,
        converged=np.array([r["best_converged"] for r in per], dtype=bool),
        k_aic=np.array([r["k_aic"] for r in per]), k_bic=np.array([r["k_bic"] for r in per]),
        n_fits=rf["n_fits"], root_version=rf.get("machine", {}).get("root_version"),
        note=(f"{n} toys in {rf['wall_seconds']:.1f} s (budget {budget:g} s, no new toy after it), {rf['n_fits']} "
              f"MIGRAD fits incl. retries ({rf['n_fits'] / max(n, 1):.0f} per toy), RooDataSet + model/NLL setup "
              f"{setup:.2f} s included; subprocess total {proc_wall:.1f} s incl. ROOT start-up"),
    )


# ============================================================================ 2. bias kernel
def bias_spec(ks: tuple[int, ...]):
    d = load_spec(EXAMPLES / "bias_paper.toml").to_dict()
    d["fit"]["k"] = list(ks)
    return spec_from_dict(d)


def run_kernel(spec, kernel: Callable, n_toys: int, chunk: int) -> dict[str, Any]:
    """``kernel`` on the engine's f2 toys 0..n_toys-1 in chunks of ``chunk`` (generation not timed)."""
    cfg = engine.kernel_config(spec, "f2")
    chunks = [engine.toy_inputs(spec, engine.Task("f2", s, min(s + chunk, n_toys))) for s in range(0, n_toys, chunk)]
    outs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Timer() as tm:
            for samples, seeds in chunks:
                outs.append(kernel(samples, cfg, seeds))
    k_aic = np.concatenate([o["k_aic"] for o in outs])
    k_bic = np.concatenate([o["k_bic"] for o in outs])
    return dict(toys=n_toys, chunk=chunk, wall_seconds=tm.wall, cpu_seconds=tm.cpu, load1=tm.load1,
                per_toy_wall=tm.wall / n_toys, per_toy_cpu=tm.cpu / n_toys, k_aic=k_aic, k_bic=k_bic,
                failed=int(np.sum(np.concatenate([o["failed"] for o in outs]))))


# ============================================================================ 3. projections
def chunk_cost(spec, model: str, n_toys: int) -> tuple[float, float]:
    """Per-toy (wall, cpu) seconds of ``engine.run_chunk`` on toys 0..n_toys-1 of ``model``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Timer() as tm:
            engine.run_chunk(spec, engine.Task(model, 0, n_toys))
    return tm.wall / n_toys, tm.cpu / n_toys


def project(per_model: dict[str, tuple[float, float]], n_toys: int, all_models: tuple[str, ...]) -> dict[str, Any]:
    """Hours for ``n_toys`` per true model on ``WORKERS`` workers (perfect scaling); models not
    measured get the mean cost of the measured ones."""
    mean = tuple(float(np.mean([c[i] for c in per_model.values()])) for i in (0, 1))
    costs = {m: per_model.get(m, mean) for m in all_models}
    return dict(
        hours_wall=sum(n_toys * c[0] for c in costs.values()) / WORKERS / 3600.0,
        hours_cpu=sum(n_toys * c[1] for c in costs.values()) / WORKERS / 3600.0,
        per_toy={m: dict(wall=c[0], cpu=c[1], measured=m in per_model) for m, c in costs.items()},
    )


def run_projections(sz: dict[str, Any], t_start: float) -> dict[str, Any]:
    models = sz["models"]
    out: dict[str, Any] = {}
    all_models = ("f1", "f2", "f3", "f4")

    spec = load_spec(EXAMPLES / "bias_paper.toml")
    _log(t_start, f"projection: bias ({spec.method}) on {sz['proj_bias']} toys per model ...")
    per = {m: chunk_cost(spec, m, sz["proj_bias"]) for m in models}
    out["bias"] = dict(project(per, PAPER_TOYS["bias"], all_models), kernel=f"fast.bias_chunk (method={spec.method})",
                       k=list(spec.k), measured=f"{sz['proj_bias']} toys (one chunk) per true model")

    spec = load_spec(EXAMPLES / "coverage_paper.toml")
    b1, b2 = sz["cov_b"]
    per, fits, prop = {}, {}, {}
    for m in models:
        c = {}
        for B in (b1, b2):
            _log(t_start, f"projection: coverage {m}, B = {B}, {sz['cov_toys']} toys ...")
            d = spec.to_dict()
            d["bootstrap"]["resamples"] = B
            c[B] = chunk_cost(spec_from_dict(d), m, sz["cov_toys"])
        lin = []
        for i in (0, 1):  # cost(B) = a + b B through the two points
            slope = (c[b2][i] - c[b1][i]) / (b2 - b1)
            lin.append(c[b1][i] + slope * (PAPER_RESAMPLES - b1) if slope > 0 else c[b2][i] * PAPER_RESAMPLES / b2)
        per[m] = (lin[0], lin[1])
        prop[m] = (c[b2][0] * PAPER_RESAMPLES / b2, c[b2][1] * PAPER_RESAMPLES / b2)
        fits[m] = {str(B): dict(wall=c[B][0], cpu=c[B][1]) for B in (b1, b2)}
    out["coverage"] = dict(project(per, PAPER_TOYS["coverage"], all_models),
                           kernel=f"fast.coverage_chunk (method={spec.method})", k=list(spec.k),
                           measured=f"{sz['cov_toys']} toys per true model at B = {b1} and {b2}, linear in B to "
                                    f"B = {PAPER_RESAMPLES}", at_b=fits,
                           proportional=project(prop, PAPER_TOYS["coverage"], all_models))

    spec = load_spec(EXAMPLES / "spurious_paper.toml")
    per = {}
    for m in models:
        _log(t_start, f"projection: spurious {m}, {sz['spur_toys']} toy(s) ...")
        per[m] = chunk_cost(spec, m, sz["spur_toys"])
    out["spurious"] = dict(project(per, PAPER_TOYS["spurious"], all_models),
                           kernel=f"kernels.spurious_chunk (method={spec.method})", k=list(spec.k),
                           measured=f"{sz['spur_toys']} toy(s) per true model, {len(spec.masses)} masses")
    return out


# ============================================================================ report
def _table(hdr: list[str], rows: list[list[Any]]) -> None:
    widths = [max(len(str(r[i])) for r in [hdr] + rows) for i in range(len(hdr))]
    print("  " + "  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(hdr, widths))))
    for r in rows:
        print("  " + "  ".join(str(v).ljust(w) if i == 0 else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths))))


def _rate(c: dict[str, Any]) -> tuple[float, float]:
    return 1.0 / c["per_toy_wall"], 1.0 / c["per_toy_cpu"]


def _agree(a: np.ndarray, b: np.ndarray) -> str:
    n = min(len(a), len(b))
    if n == 0:
        return "n/a"
    same = int(np.sum(np.asarray(a[:n]) == np.asarray(b[:n])))
    return f"{same}/{n} ({100.0 * same / n:.0f}%)"


def _fmt_h(h: float) -> str:
    return f"{h:.2f} h" if h >= 0.1 else f"{h * 60:.1f} min"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run, ~1 minute)")
    p.add_argument("--no-roofit", action="store_true", help="do not run the RooFit baseline")
    p.add_argument("--roofit-budget", type=float, default=None,
                   help="seconds of RooFit toy fitting (default 60, --quick 10)")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--json", dest="json_file", default=None, help="also write the results here")
    args = p.parse_args(argv)
    sz = SIZES["quick" if args.quick else "full"]
    budget = args.roofit_budget if args.roofit_budget is not None else sz["roofit_budget"]
    if budget <= 0:
        p.error("--roofit-budget must be > 0")
    for f in ("bias_paper.toml", "coverage_paper.toml", "spurious_paper.toml"):
        if not (EXAMPLES / f).is_file():
            print(f"bench_toys: missing {EXAMPLES / f}", file=sys.stderr)
            return 2

    mach = machine_info()
    load_start = loadavg()
    t_start = time.perf_counter()

    # ------------------------------------------------------------------ 1. bias configuration
    T = sz["batched"]
    _log(t_start, f"drawing {T} f2 toys of {N_EVENTS} events ...")
    with Timer() as tg:
        X, fit_seeds = make_toys(T, args.seed)
    rows: dict[str, dict[str, Any]] = {}
    _log(t_start, f"expmix batched on {T} toys (x{BATCHED_REPEATS}) ...")
    rows["expmix batched"] = run_batched(X, fit_seeds)
    _log(t_start, f"expmix loop on {sz['loop']} toys ...")
    rows["expmix loop"] = run_loop(X, fit_seeds, sz["loop"], None)
    _log(t_start, f"expmix loop (method=\"migrad\") on {sz['migrad']} toys ...")
    rows['expmix loop (method="migrad")'] = run_loop(X, fit_seeds, sz["migrad"], "migrad")
    if args.no_roofit:
        rows["RooFit"] = dict(skipped=True, note="skipped (--no-roofit)")
    else:
        _log(t_start, f"RooFit toys (budget {budget:g} s) ...")
        rows["RooFit"] = run_roofit(X, args.seed, budget)
        if rows["RooFit"].get("root_version"):
            mach["root"] = rows["RooFit"]["root_version"]

    # agreement on the common toys
    bat, loop, mig, rf = rows["expmix batched"], rows["expmix loop"], rows['expmix loop (method="migrad")'], rows["RooFit"]
    nl = loop["toys"]
    ub = unbinned_nll_of_batched(bat["mix"], X, range(nl))
    d_bl = ub - loop["nll"]
    agreement: dict[str, Any] = dict(
        batched_vs_loop=dict(toys=nl, same_aic=_agree(bat["k_aic"], loop["k_aic"]), same_bic=_agree(bat["k_bic"], loop["k_bic"]),
                             unbinned_nll_diff_max=np.nanmax(d_bl, axis=0), unbinned_nll_diff_median=np.nanmedian(d_bl, axis=0),
                             unbinned_nll_diff_min=np.nanmin(d_bl, axis=0)),
    )
    nm = mig["toys"]
    d_ml = mig["nll"] - loop["nll"][:nm]
    agreement["migrad_vs_loop"] = dict(toys=nm, same_aic=_agree(mig["k_aic"], loop["k_aic"]),
                                       same_bic=_agree(mig["k_bic"], loop["k_bic"]),
                                       nll_diff_max=np.nanmax(d_ml, axis=0), nll_diff_min=np.nanmin(d_ml, axis=0))
    if not rf.get("skipped"):
        nr = min(rf["toys"], nl)
        d_lr = loop["nll"][:nr] - rf["nll"][:nr]
        d_br = ub[:nr] - rf["nll"][:nr]
        agreement["loop_vs_roofit"] = dict(toys=nr, same_aic=_agree(loop["k_aic"], rf["k_aic"][:nr]),
                                           same_bic=_agree(loop["k_bic"], rf["k_bic"][:nr]),
                                           nll_diff_max=np.nanmax(d_lr, axis=0), nll_diff_min=np.nanmin(d_lr, axis=0),
                                           loop_no_worse=bool(np.all(d_lr <= NLL_TOL)))
        agreement["batched_vs_roofit"] = dict(toys=rf["toys"], same_aic=_agree(bat["k_aic"], rf["k_aic"]),
                                              same_bic=_agree(bat["k_bic"], rf["k_bic"]),
                                              unbinned_nll_diff_max=np.nanmax(d_br, axis=0))

    # ------------------------------------------------------------------ 2. bias kernel
    spec14 = bias_spec(KS)
    _log(t_start, f"bias kernel: fast.bias_chunk on {sz['kernel_fast']} toys (chunks of {spec14.chunk_size}) ...")
    kfast = run_kernel(spec14, fast.bias_chunk, sz["kernel_fast"], spec14.chunk_size)
    _log(t_start, f"bias kernel: kernels.bias_chunk on {sz['kernel_ref']} toys ...")
    kref = run_kernel(spec14, kernels.bias_chunk, sz["kernel_ref"], sz["kernel_ref"])

    # ------------------------------------------------------------------ 3. projections
    proj = run_projections(sz, t_start)
    load_end = loadavg()
    total = time.perf_counter() - t_start
    if mach["root"] is None:
        mach["root"] = root_version_subprocess()

    # ------------------------------------------------------------------ print
    high_load = bool(load_start and load_end and max(load_start[0], load_end[0]) > 0.5 * (mach["cpu_count"] or 1))
    print("expmix pseudo-experiment (toy) benchmark")
    print(f"machine : {mach['platform']}; CPU {mach['cpu_model']}; {mach['cpu_count']} cores "
          f"({mach['cpu_affinity']} usable); BLAS/OpenMP threads {mach['blas_threads']}")
    print(f"versions: python {mach['python']}, numpy {mach['numpy']}, scipy {mach['scipy']}, iminuit "
          f"{mach['iminuit']}, ROOT {mach['root'] or 'not available'}, expmix {mach['expmix']}")
    print(f"settings: seed {args.seed}, {'--quick' if args.quick else 'full'} sizes, RooFit budget "
          f"{'-' if args.no_roofit else f'{budget:g} s'}; total {total:.1f} s")
    timed = [c for c in rows.values() if not c.get("skipped")] + [kfast, kref]
    share = sum(c["cpu_seconds"] for c in timed) / sum(c["wall_seconds"] for c in timed)
    print(f"load avg (1/5/15 min): {load_start} at start, {load_end} at end; the timed blocks got "
          f"{100 * share:.0f}% of a core (cpu s / wall s)"
          + (f"  -- LOADED: load avg > {mach['cpu_count']}/2, another job shares the cores; CPU times are "
             "reported next to every wall time (less sensitive to contention); the projections assume "
             "the 2 cores free" if high_load else ""))

    print()
    print(f"== 1. bias configuration (issue 4): f2 toys, {N_EVENTS} events on [500, 10000] GeV, "
          f"k = 1..4, {STARTS} starts per k, AIC + BIC ==")
    print(f"  toys drawn with true_model('f2').sample: {tg.wall / T * 1e3:.2f} ms/toy (not in the times below)")
    hdr = ["contender", "toys", "wall s", "cpu s", "toys/s", "toys/s (cpu)", "ms/toy", "batched speed-up",
           "(cpu)", "load1"]
    tab = []
    rb_w, rb_c = _rate(bat)
    for label, c in rows.items():
        if c.get("skipped"):
            tab.append([label, "skipped", "", "", "", "", "", "", "", ""])
            continue
        rw, rc = _rate(c)
        c["toys_per_s"], c["toys_per_cpu_s"] = rw, rc
        su = "1 (reference)" if label == "expmix batched" else f"{rb_w / rw:.1f}x"
        suc = "" if label == "expmix batched" else f"{rb_c / rc:.1f}x"
        c["batched_speedup"], c["batched_speedup_cpu"] = rb_w / rw, rb_c / rc
        tab.append([label, c["toys"], f"{c['wall_seconds']:.3f}", f"{c['cpu_seconds']:.3f}", f"{rw:.2f}", f"{rc:.2f}",
                    f"{c['per_toy_wall'] * 1e3:.1f}", su, suc, f"{c['load1']:.2f}"])
    _table(hdr, tab)
    print("  speed-up = contender time per toy / batched time per toy; cpu = time.process_time of the "
          "process doing the fits (RooFit: its own, ROOT start-up excluded); load1 = 1-min load avg at its start")
    print(f"  expmix batched runs (s): {', '.join(f'{v:.3f}' for v in bat['wall_runs'])} wall, "
          f"{', '.join(f'{v:.3f}' for v in bat['cpu_runs'])} cpu; {bat['note']}; "
          f"converged fits: {100 * bat['converged_fraction']:.1f}%")
    for label in ("expmix loop", 'expmix loop (method="migrad")', "RooFit"):
        c = rows[label]
        print(f"  {label}: {c['note']}" + ("" if c.get("skipped") else
              f"; per-toy wall median {1e3 * statistics.median(c['toy_walls']):.0f} ms" if "toy_walls" in c else ""))
    a = agreement["batched_vs_loop"]
    print(f"  agreement, batched vs loop ({a['toys']} common toys): same AIC k {a['same_aic']}, same BIC k {a['same_bic']}")
    print("    NLL: the batched NLL is the BINNED NLL on 200 fine bins and is not comparable to the loop's unbinned "
          "NLL; compared instead: unbinned NLL of the batched parameters minus the loop's NLL per k "
          "(> 0: loop lower):")
    for j, k in enumerate(KS):
        print(f"      k={k}: min {a['unbinned_nll_diff_min'][j]:+.4f}  median {a['unbinned_nll_diff_median'][j]:+.4f}"
              f"  max {a['unbinned_nll_diff_max'][j]:+.4f}")
    a = agreement["migrad_vs_loop"]
    print(f"  agreement, loop (method=\"migrad\") vs loop ({a['toys']} toys): same AIC k {a['same_aic']}, same BIC k "
          f"{a['same_bic']}; NLL(migrad) - NLL(loop) per k: "
          + ", ".join(f"[{lo:+.4f}, {hi:+.4f}]" for lo, hi in zip(a["nll_diff_min"], a["nll_diff_max"])))
    if "loop_vs_roofit" in agreement:
        a = agreement["loop_vs_roofit"]
        print(f"  agreement, loop vs RooFit ({a['toys']} toys, both unbinned -sum ln f): same AIC k {a['same_aic']}, "
              f"same BIC k {a['same_bic']}; NLL(loop) - NLL(RooFit) per k: "
              + ", ".join(f"[{lo:+.4f}, {hi:+.4f}]" for lo, hi in zip(a["nll_diff_min"], a["nll_diff_max"]))
              + f"; loop NLL <= RooFit + {NLL_TOL} for every toy and k: {'yes' if a['loop_no_worse'] else 'NO'}")
        a = agreement["batched_vs_roofit"]
        print(f"  agreement, batched vs RooFit ({a['toys']} toys): same AIC k {a['same_aic']}, same BIC k {a['same_bic']}")
    if not rf.get("skipped"):
        print(f"  RooFit check of the issue's '~2 toys/s on one core': measured {rf['toys_per_s']:.2f} toys/s wall, "
              f"{rf['toys_per_cpu_s']:.2f} toys/s cpu")

    print()
    print(f"== 2. full bias kernel: f2 (engine toys), k = 1..4, families {', '.join(spec14.families)}, "
          f"{spec14.grid_n}-point grid, {spec14.starts} starts ==")
    tab = []
    for label, c in (("fast.bias_chunk", kfast), ("kernels.bias_chunk", kref)):
        rw, rc = _rate(c)
        c["toys_per_s"], c["toys_per_cpu_s"] = rw, rc
        su = "1 (reference)" if c is kfast else f"{kfast['toys_per_s'] / rw:.1f}x"
        suc = "" if c is kfast else f"{kfast['toys_per_cpu_s'] / rc:.1f}x"
        tab.append([label, c["toys"], c["chunk"], f"{c['wall_seconds']:.3f}", f"{c['cpu_seconds']:.3f}", f"{rw:.2f}",
                    f"{rc:.2f}", su, suc, c["failed"], f"{c['load1']:.2f}"])
    _table(["kernel", "toys", "chunk", "wall s", "cpu s", "toys/s", "toys/s (cpu)", "fast speed-up", "(cpu)",
            "failed fits", "load1"], tab)
    print(f"  chosen k on the {kref['toys']} common toys, fast vs reference: AIC {_agree(kfast['k_aic'], kref['k_aic'])}, "
          f"BIC {_agree(kfast['k_bic'], kref['k_bic'])}; toy generation not timed")

    print()
    print(f"== 3. projected wall time of the paper-size studies on this machine, {WORKERS} worker processes ==")
    print(f"  per-toy cost of engine.run_chunk (toy generation + kernel) measured here on one core, "
          f"times toys / {WORKERS} (perfect scaling over the workers assumed, no scheduling/IO overhead)")
    tab = []
    for study, pr in proj.items():
        meas = ", ".join(f"{m} {v['wall']:.3g}/{v['cpu']:.3g}" for m, v in pr["per_toy"].items() if v["measured"])
        tab.append([study, pr["kernel"], f"4 x {PAPER_TOYS[study]}", meas, _fmt_h(pr["hours_wall"]), _fmt_h(pr["hours_cpu"])])
    _table(["study", "kernel", "toys", "s/toy per model (wall/cpu)", "projected", "(from cpu)"], tab)
    for study, pr in proj.items():
        line = f"  {study}: k = {pr['k']}; {pr['measured']}"
        if study == "coverage":
            line += "; measured s/toy (wall/cpu): " + "; ".join(
                f"{m}: " + ", ".join(f"B={B} {v['wall']:.3g}/{v['cpu']:.3g}" for B, v in d.items())
                for m, d in pr["at_b"].items())
            line += (f"; cross-check, cost proportional to B from B = {sz['cov_b'][1]}: "
                     f"{_fmt_h(pr['proportional']['hours_wall'])} ({_fmt_h(pr['proportional']['hours_cpu'])} from cpu)")
        if not all(v["measured"] for v in pr["per_toy"].values()):
            line += "; unmeasured models get the mean cost of the measured ones"
        print(line)

    # ------------------------------------------------------------------ targets
    print()
    print("targets (from issue 4):")
    met_w, met_c = rb_w >= TARGET_TOYS_PER_S, rb_c >= TARGET_TOYS_PER_S
    print(f"  bias configuration >= {TARGET_TOYS_PER_S:g} toys/s on one core (expmix batched): "
          f"{'MET' if met_w else 'NOT MET'} on wall time ({rb_w:.1f} toys/s); "
          f"{'MET' if met_c else 'NOT MET'} on CPU time ({rb_c:.1f} toys/s)")
    cov = proj["coverage"]
    cm_w, cm_c = cov["hours_wall"] < TARGET_COVERAGE_HOURS, cov["hours_cpu"] < TARGET_COVERAGE_HOURS
    print(f"  paper-size coverage study < {TARGET_COVERAGE_HOURS:g} h on this {WORKERS}-core machine (projected): "
          f"{'MET' if cm_w else 'NOT MET'} from wall ({cov['hours_wall']:.2f} h); "
          f"{'MET' if cm_c else 'NOT MET'} from CPU time ({cov['hours_cpu']:.2f} h)")
    print("  ratios vs the named baselines (expmix batched toys/s / baseline toys/s, wall | cpu): "
          + "; ".join(f"{label}: " + ("skipped" if c.get("skipped") else
                                       f"{c['batched_speedup']:.1f}x | {c['batched_speedup_cpu']:.1f}x")
                      for label, c in rows.items() if label != "expmix batched"))

    if args.json_file:
        for c in rows.values():
            c.pop("mix", None)
        doc = dict(benchmark="bench_toys", machine=mach, seed=args.seed, quick=args.quick, roofit_budget=budget,
                   loadavg_start=load_start, loadavg_end=load_end, high_load=high_load, core_share=share, total_seconds=total,
                   sizes=sz, bias_configuration=dict(rows=rows, agreement=agreement, sample_seconds_per_toy=tg.wall / T),
                   bias_kernel=dict(fast=kfast, reference=kref, k=list(KS), families=list(spec14.families)),
                   projections=proj,
                   targets=dict(toys_per_s=dict(target=TARGET_TOYS_PER_S, wall=rb_w, cpu=rb_c, met_wall=met_w, met_cpu=met_c),
                                coverage_hours=dict(target=TARGET_COVERAGE_HOURS, wall=cov["hours_wall"],
                                                    cpu=cov["hours_cpu"], met_wall=cm_w, met_cpu=cm_c)))
        Path(args.json_file).write_text(json.dumps(doc, indent=2, default=json_default) + "\n")
    return 0




if __name__ == "__main__":
    sys.exit(main())
