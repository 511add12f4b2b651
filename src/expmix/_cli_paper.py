"""``expmix paper dijet|diphoton|all``: Section 3 of the paper (Tables 1-2, Figures 1-4, report.md)."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from typing import Any

__all__ = ["register"]


def _cmd_paper(args: argparse.Namespace) -> int:
    from .paper import run_paper, write_outputs

    t0 = time.perf_counter()

    def progress(msg: str) -> None:
        if not args.quiet:
            print(f"[{time.perf_counter() - t0:6.1f} s] {msg}", file=sys.stderr, flush=True)

    results = run_paper(args.target, args.data_dir, starts=args.starts, seed=args.seed,
                        published_settings=args.published_settings, progress=progress)
    words = ["expmix", "paper", args.target, "--out", str(args.out), "--seed", str(args.seed)]
    words += [] if args.data_dir is None else ["--data-dir", str(args.data_dir)]
    words += [] if args.starts is None else ["--starts", str(args.starts)]
    words += ["--published-settings"] if args.published_settings else []
    command = shlex.join(words)
    paths = write_outputs(results, args.out, figures=not args.no_figures, command=command, progress=progress)
    for res in results:
        print((paths[0].parent / f"{res.table_stem}.md").read_text(encoding="utf-8"), file=sys.stdout)
    print(f"report: {paths[-1]}  ({time.perf_counter() - t0:.1f} s)", file=sys.stdout)
    return 0


def register(subparsers: Any) -> None:
    """Add the ``paper`` subcommand."""
    p = subparsers.add_parser("paper", help="reproduce Section 3 of the paper: Tables 1-2, Figures 1-4, report.md")
    p.add_argument("target", choices=("dijet", "diphoton", "all"), help="which example(s) to run")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (created if needed)")
    p.add_argument("--data-dir", default=None, metavar="D", help="data directory (default: $EXPMIX_DATA_DIR or the cache)")
    p.add_argument("--starts", type=int, default=None, metavar="N",
                   help="starts per mixture fit (default: the paper's, 80 dijet, 20 diphoton)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--published-settings", action="store_true",
                   help="diphoton: reproduce the printed Table 2 (fit on 500-4016 GeV, mixture counted as 2k parameters)")
    p.add_argument("--no-figures", action="store_true", help="tables and report only (no matplotlib needed)")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    p.set_defaults(func=_cmd_paper)
