#!/usr/bin/env python3
"""RooFit pseudo-experiment (toy) fitting, the baseline of benchmarks/bench_toys.py.

For each toy (a pseudo-dataset of unbinned events): a RooDataSet of its events, then for every
k = kmin..kmax an exponential mixture (the model of roofit_baseline.py) fitted with MIGRAD from
``--starts`` random points, each retried from a new random point up to ``--retries`` times while
the MIGRAD status is not 0; the best NLL per k is kept and k is chosen by AIC and BIC. Prints
(or writes) a JSON record: toys done, wall and CPU time, and per toy the best NLL per k.

    python roofit_toys.py --events toys.npy --max-seconds 60 --json out.json
    python roofit_toys.py --toys 5 --n-events 5036            # own toys drawn from f2

Standalone: it does not import expmix. The RooFit model, NLL and fit helpers are imported from
roofit_baseline.py next to this file. Exit codes: 0 ok, 2 bad arguments / data, 3 ROOT
(RooFit) not importable.

Toys: ``--events FILE.npy`` holds an array (T, n) of events (one row per toy, inside
``[x_min, x_max]``); without it ``--toys`` toys of ``--n-events`` events are drawn here from
the CMS diphoton family f2, ``exp(-0.00163184 m) m^(-1.82229^2)`` on [500, 10000] GeV, by
inverting its cdf tabulated on a fine grid.

Per toy: ``beta_ref = 1/(mean(x) - x_min)``; the models and NLLs are built for the toy (their
``beta_ref`` is a constant of the model), and that setup is part of the toy's time. Random starts
of toy t and k come from ``numpy.random.default_rng([seed, t, k])``: ``r_i ~ logU[0.05, 50]``,
``v_i ~ N(0, 2)`` (as roofit_baseline.py). ``--max-seconds``: no new toy starts once the budget
is spent (at least one toy always runs); the toys done are complete.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import roofit_baseline as rb  # noqa: E402  (standalone helper next to this file; imports numpy only)

F2_PARAMS = (-0.00163184, -(1.82229**2))  # exp(p1 m) m^p2, m in GeV


def sample_f2(n_toys: int, n_events: int, x_range: tuple[float, float], seed: int) -> np.ndarray:
    """(n_toys, n_events) events of f2 on ``x_range`` by a tabulated inverse cdf."""
    lo, hi = x_range
    m = np.geomspace(lo, hi, 200_001)
    # integrate f(m) dm = f(m) m d(ln m) with the trapezoid rule on the log grid
    g = np.exp(F2_PARAMS[0] * m + F2_PARAMS[1] * np.log(m)) * m
    dl = np.diff(np.log(m))
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (g[1:] + g[:-1]) * dl)])
    cdf /= cdf[-1]
    u = np.random.default_rng(seed).random((n_toys, n_events))
    # interpolate ln m in the cdf (f is smooth and nearly a power law on the log grid)
    return np.exp(np.interp(u, cdf, np.log(m)))


def fit_toy(ROOT, x, events: np.ndarray, x_range, ks, starts: int, retries: int, seed: int, toy: int,
            minimizer_type: str, strategy: int) -> dict:
    """All fits of one toy; returns its record."""
    c0, t0 = time.process_time(), time.perf_counter()
    data = ROOT.RooDataSet.from_numpy({"x": np.ascontiguousarray(events, dtype=np.float64)},
                                      ROOT.RooArgSet(x), name=f"toy{toy}")
    beta_ref = 1.0 / (float(np.mean(events)) - x_range[0])
    best, conv, n_fits, status_counts, setup = [], [], 0, {}, 0.0
    for k in ks:
        ts = time.perf_counter()
        model = rb.MixtureModel(ROOT, x, beta_ref, k)
        nll = rb.make_nll(ROOT, model.pdf, data, False, 0.0, "off", "cpu")
        setup += time.perf_counter() - ts
        rng = np.random.default_rng([seed, toy, k])
        b_ok, b_any = math.inf, math.inf
        for _ in range(starts):
            for _attempt in range(retries + 1):
                model.randomize(rng)
                status = rb.one_fit(ROOT, nll, minimizer_type, "Migrad", strategy, None)
                val = float(nll.getVal())
                n_fits += 1
                status_counts[str(status)] = status_counts.get(str(status), 0) + 1
                if math.isfinite(val):
                    b_any = min(b_any, val)
                if status == 0:
                    if math.isfinite(val):
                        b_ok = min(b_ok, val)
                    break
        # best status-0 NLL, else the best of any fit (flagged as not converged)
        best.append(b_ok if math.isfinite(b_ok) else (b_any if math.isfinite(b_any) else None))
        conv.append(bool(math.isfinite(b_ok)))
        del nll, model
    n = events.size
    aic = [2 * v + 2 * (2 * k - 1) if v is not None else math.inf for v, k in zip(best, ks)]
    bic = [2 * v + (2 * k - 1) * math.log(n) if v is not None else math.inf for v, k in zip(best, ks)]
    del data
    return dict(
        toy=toy,
        n_events=int(n),
        beta_ref=beta_ref,
        best_nll=best,
        best_converged=conv,
        k_aic=int(ks[int(np.argmin(aic))]),
        k_bic=int(ks[int(np.argmin(bic))]),
        n_fits=n_fits,
        status_counts=status_counts,
        setup_seconds=setup,
        wall_seconds=time.perf_counter() - t0,
        cpu_seconds=time.process_time() - c0,
    )


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", default=None, help="npy file with an array (T, n) of events, one row per toy")
    p.add_argument("--toys", type=int, default=None,
                   help="toys to fit (default: all rows of --events, or 3 own f2 toys)")
    p.add_argument("--n-events", type=int, default=5036, help="events per own toy (without --events)")
    p.add_argument("--x-min", type=float, default=500.0)
    p.add_argument("--x-max", type=float, default=10000.0)
    p.add_argument("--kmin", type=int, default=1)
    p.add_argument("--kmax", type=int, default=4)
    p.add_argument("--starts", type=int, default=5, help="random starts per toy and k (default 5)")
    p.add_argument("--retries", type=int, default=5,
                   help="extra fits from new random points when MIGRAD status != 0 (default 5)")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--max-seconds", type=float, default=None,
                   help="wall-time budget: no new toy starts once exceeded (>= 1 toy always runs)")
    p.add_argument("--minimizer", default=None, help="ROOT::Math minimizer type (default: ROOT's default)")
    p.add_argument("--strategy", type=int, default=1)
    p.add_argument("--verbose", action="store_true", help="let RooFit print errors")
    p.add_argument("--json", dest="json_file", default=None, help="write JSON here instead of stdout")
    args = p.parse_args(argv)
    x_range = (args.x_min, args.x_max)
    if args.kmin < 1 or args.kmax < args.kmin or args.starts < 1 or args.retries < 0 or not x_range[0] < x_range[1]:
        p.error("need 1 <= kmin <= kmax, starts >= 1, retries >= 0, x_min < x_max")

    if args.events is not None:
        try:
            events = np.atleast_2d(np.asarray(np.load(args.events), dtype=float))
        except (OSError, ValueError) as exc:
            print(f"roofit_toys: cannot read {args.events}: {exc}", file=sys.stderr)
            return 2
        if events.ndim != 2 or not np.all((events >= x_range[0]) & (events <= x_range[1])):
            print(f"roofit_toys: {args.events} must be an array (T, n) of events inside {list(x_range)}",
                  file=sys.stderr)
            return 2
        source = f"file {args.events}"
        if args.toys is not None:
            events = events[: args.toys]
    else:
        events = sample_f2(args.toys if args.toys is not None else 3, args.n_events, x_range, args.seed)
        source = "f2 drawn here (tabulated inverse cdf)"
    if events.shape[0] < 1:
        p.error("no toys to fit")

    ROOT = rb.import_root()  # exits 3 when ROOT/RooFit is missing
    rb.quiet_roofit(ROOT, args.verbose)
    minimizer_type = args.minimizer or str(ROOT.Math.MinimizerOptions.DefaultMinimizerType())
    x = ROOT.RooRealVar("x", "x", x_range[0], x_range[1])
    ks = list(range(args.kmin, args.kmax + 1))

    per_toy = []
    stopped = False
    c0, t0 = time.process_time(), time.perf_counter()
    for t in range(events.shape[0]):
        if per_toy and args.max_seconds is not None and time.perf_counter() - t0 >= args.max_seconds:
            stopped = True
            break
        per_toy.append(fit_toy(ROOT, x, events[t], x_range, ks, args.starts, args.retries, args.seed, t,
                               minimizer_type, args.strategy))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    n_done = len(per_toy)
    out = dict(
        tool="RooFit",
        mode="toys",
        likelihood="unbinned: -sum_n ln f(x_n)",
        toys_source=source,
        settings=dict(kmin=args.kmin, kmax=args.kmax, starts=args.starts, retries=args.retries, seed=args.seed,
                      max_seconds=args.max_seconds, x_range=list(x_range), minimizer=minimizer_type,
                      algorithm="Migrad", strategy=args.strategy, backend="cpu", offset="off", extended=False,
                      start_distribution="r ~ logU[0.05, 50], v ~ N(0, 2), rng([seed, toy, k])"),
        toys_requested=int(events.shape[0]),
        toys_done=n_done,
        stopped_early=stopped,
        wall_seconds=wall,  # RooDataSet + model/NLL setup + all fits of the toys done (ROOT import excluded)
        cpu_seconds=cpu,
        toys_per_second=n_done / wall if wall > 0 else None,
        toys_per_cpu_second=n_done / cpu if cpu > 0 else None,
        n_fits=sum(r["n_fits"] for r in per_toy),
        per_toy=per_toy,
        machine=rb.machine_info(ROOT, minimizer_type),
    )
    text = json.dumps(out, indent=2)
    if args.json_file:
        Path(args.json_file).write_text(text + "\n")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
