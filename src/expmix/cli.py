"""Command-line interface: ``expmix fit``, ``expmix demo`` (and the subcommands of the extensions).

Each subcommand parses its arguments, loads data through :mod:`expmix.io`, calls the public API
and writes a text summary to stdout and, on request, JSON. ``main(argv)`` returns an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from typing import Any, Sequence

import numpy as np

__all__ = ["main"]

#: modules that add subcommands: each defines ``register(subparsers)``
EXTENSIONS: list[str] = ["expmix._cli_study", "expmix._cli_paper"]


def _k_arg(text: str) -> tuple[int, ...]:
    from .selection import parse_k

    try:
        return parse_k(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _families_arg(text: str) -> tuple[str, ...]:
    from .models.families import FAMILIES

    names = tuple(t for t in text.split(",") if t)
    for n in names:
        if n not in FAMILIES:
            raise argparse.ArgumentTypeError(f"unknown family {n!r}; choose from {sorted(FAMILIES)}")
    return names


def _default_k(data: Any) -> tuple[int, ...]:
    """k = 1..4 for small samples, up to 6 for large binned spectra."""
    return tuple(range(1, 5 if data.n_events < 1e5 else 7))


def chi2_edges(data: Any) -> np.ndarray | None:
    """Binning for the chi2 of unbinned data: 100 bins, log-spaced from x_min to the largest event."""
    from .data import BinnedData

    if isinstance(data, BinnedData):
        return None
    lo, hi = data.range[0], float(data.x.max())
    return np.geomspace(lo, hi, 101) if lo > 0 else np.linspace(lo, hi, 101)


def run_fit_pipeline(data: Any, *, k: Sequence[int], families: Sequence[str], starts: int, seed: int | None,
                     edges: Any = None) -> dict[str, Any]:
    """Selection over k, reference fits and merged-bin chi2 of every model; returns a JSON-ready dict."""
    from .gof import merged_chi2
    from .selection import select

    sel = select(data, k, families=families, starts=starts, rng=seed)
    e = edges if edges is not None else chi2_edges(data)
    chi2 = {}
    for r in [sel.best, *sel.references.values()]:
        chi2[r.label] = merged_chi2(r.model, data, n_free=r.n_free, edges=e).to_dict()
    return {"selection": sel, "chi2": chi2, "data": repr(data)}


def _print_pipeline(out: dict[str, Any], stream: Any) -> None:
    sel = out["selection"]
    print(str(sel), file=stream)
    print("", file=stream)
    print(f"chosen fit ({sel.criterion.upper()}):", file=stream)
    print(str(sel.best), file=stream)
    print("", file=stream)
    print(f"{'model':<14} {'chi2':>9} {'ndf':>4} {'chi2/ndf':>9} {'p-value':>8}   (merged bins >= 30 events)", file=stream)
    for label, c in out["chi2"].items():
        print(f"{label:<14} {c['chi2']:>9.2f} {c['ndf']:>4d} {c['chi2_ndf']:>9.3f} {c['pvalue']:>8.3f}", file=stream)


def _to_json(out: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    sel = out["selection"]
    doc = {"schema_version": 1, "data": out["data"], **sel.to_dict(), "chi2": out["chi2"]}
    doc["chosen"] = {"k": sel.best_k, "criterion": sel.criterion, **out["chi2"][sel.best.label]}
    if extra:
        doc.update(extra)
    return doc


def _write_json(doc: dict[str, Any], path: str) -> None:
    from .io import write_json

    if path == "-":
        from .io import to_jsonable

        json.dump(to_jsonable(doc), sys.stdout, indent=2, sort_keys=True)
        print()
    else:
        write_json(doc, path)


# --------------------------------------------------------------------------- fit
def _cmd_fit(args: argparse.Namespace) -> int:
    from .io import read_file

    kw: dict[str, Any] = {}
    if args.range is not None:
        kw["range"] = tuple(args.range)
    if args.column is not None:
        kw["column"] = int(args.column) if args.column.isdigit() else args.column
    if args.key is not None:
        kw["key"] = args.key
    if args.branch is not None:
        kw["branch"] = args.branch
    if args.dependent is not None:
        kw["dependent"] = int(args.dependent) if args.dependent.isdigit() else args.dependent
    data = read_file(args.file, **kw)
    if args.append_to is not None:
        if not hasattr(data, "append_bins"):
            raise ValueError("`--append-to` applies to histograms only")
        data = data.append_bins([args.append_to])
    ks = args.k or _default_k(data)
    out = run_fit_pipeline(data, k=ks, families=args.families, starts=args.starts, seed=args.seed)
    _print_pipeline(out, sys.stdout)
    extra: dict[str, Any] = {}
    if args.signal is not None:
        from .signal import fit_signal

        if args.width is None:
            raise ValueError("`--width` is required with `--signal`")
        sig = fit_signal(data, out["selection"].best, args.signal, args.width)
        print("", file=sys.stdout)
        print(
            f"signal at {sig.mass:g} (width {sig.width:g}) on {sig.background.label}: N_s = {sig.n_signal:.2f} "
            f"+- {sig.n_signal_error:.2f} (HESSE), local significance Z = {sig.significance:.2f}",
            file=sys.stdout,
        )
        extra["signal"] = sig.to_dict()
    if args.json:
        _write_json(_to_json(out, extra), args.json)
    return 0


# --------------------------------------------------------------------------- demo
def demo_data(n: int = 20000, seed: int = 2024) -> Any:
    """The embedded default spectrum: ``n`` events from a known falling shape.

    The truth is the CMS f2 shape fitted to the diphoton data (``exp(-0.00163184 m) m^-3.3207``,
    m in GeV, normalised on 500-10000 GeV), a smooth falling spectrum that is not itself a
    finite exponential mixture.
    """
    from .data import UnbinnedData
    from .models.families import FamilyModel

    truth = FamilyModel("f2", [-0.00163184, -(1.82229**2)], (500.0, 10000.0), scale=1.0)
    return UnbinnedData(truth.sample(n, rng=seed), (500.0, 10000.0)), truth


def _cmd_demo(args: argparse.Namespace) -> int:
    data, truth = demo_data(args.events, args.seed)
    print(f"expmix demo: {data.x.size} events drawn from {truth!r}", file=sys.stdout)
    print("", file=sys.stdout)
    out = run_fit_pipeline(data, k=args.k, families=("f1", "f2", "f3", "f4"), starts=args.starts, seed=args.seed)
    _print_pipeline(out, sys.stdout)
    if args.json:
        _write_json(_to_json(out, {"truth": repr(truth)}), args.json)
    return 0


# --------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="expmix", description="Exponential-mixture background fits for bump hunts.")
    from . import __version__

    p.add_argument("--version", action="version", version=f"expmix {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    f = sub.add_parser("fit", help="fit a spectrum: model selection over k, reference families, chi2")
    f.add_argument("file", help="events (.npy/.txt/.csv), a histogram text file, HEPData .yaml or .root")
    f.add_argument("--range", nargs=2, type=float, metavar=("LO", "HI"), help="fit range (default: the data's)")
    f.add_argument("--k", type=_k_arg, default=None, help="components: '2', '1-4' or '1,3' (default 1-4, 1-6 above 1e5 events)")
    f.add_argument("--families", type=_families_arg, default=(), help="reference families to compare, e.g. f1,f2,f3,f4 or dijet")
    f.add_argument("--starts", type=int, default=20, help="starts per fit (default 20)")
    f.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    f.add_argument("--json", metavar="OUT", help="write the results as JSON ('-' for stdout)")
    f.add_argument("--column", help="column (index or name) of an events text file")
    f.add_argument("--key", help="object name in a ROOT file")
    f.add_argument("--branch", help="TTree branch with the events (ROOT)")
    f.add_argument("--dependent", help="HEPData dependent variable (index or header name)")
    f.add_argument("--append-to", type=float, default=None, help="append an empty bin up to this edge (histograms)")
    f.add_argument("--signal", type=float, metavar="MASS", help="also fit a Gaussian signal at MASS")
    f.add_argument("--width", type=float, metavar="W", help="Gaussian width for --signal")
    f.set_defaults(func=_cmd_fit)

    d = sub.add_parser("demo", help="run the whole pipeline on a spectrum generated from a known shape")
    d.add_argument("--events", type=int, default=20000)
    d.add_argument("--k", type=_k_arg, default=(1, 2, 3, 4))
    d.add_argument("--starts", type=int, default=10)
    d.add_argument("--seed", type=int, default=2024)
    d.add_argument("--json", metavar="OUT")
    d.set_defaults(func=_cmd_demo)

    for modname in EXTENSIONS:
        importlib.import_module(modname).register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit code (2 for bad input, with a one-line message)."""
    from .warnings import ExpmixError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, ExpmixError, FileNotFoundError) as exc:
        print(f"expmix {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
