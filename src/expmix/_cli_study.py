"""``expmix study run SPEC`` and ``expmix study plot DIR`` (pseudo-experiment studies).

``run`` validates the TOML spec, runs (or resumes) it into ``--out`` (default ``./<spec name>``)
in-process, on a local Dask cluster (``--workers N``) or on a running scheduler
(``--scheduler tcp://HOST:PORT``; see :mod:`expmix.studies.engine` for HTCondor/Slurm with
dask-jobqueue), then writes ``summary.json``. ``plot`` writes the study's figure (paper Figure
5, 6 or 7) as PNG and PDF and ``summary.json`` into the directory.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {v}")
    return v


def _write_summary(root: Path) -> Any:
    from .io import write_json
    from .studies import summarize

    summary = summarize(root)
    write_json(summary.to_dict(), root / "summary.json")
    return summary


def _cmd_run(args: argparse.Namespace) -> int:
    from .studies import load_spec, run_study

    spec = load_spec(args.spec)
    if args.toys is not None:
        spec = spec.replace(n_toys=args.toys)
    out = Path(args.out) if args.out else Path(spec.name or Path(args.spec).stem)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    report = run_study(spec, out, workers=args.workers, scheduler=args.scheduler, progress=progress)
    _write_summary(out)
    print(
        f"study {spec.study} '{spec.name}': {report.computed} chunks computed, {report.already_done} already done, "
        f"{len(report.failed)} failed, of {report.n_tasks} ({report.elapsed:.1f} s, {report.executor}) -> {out}",
        file=sys.stdout,
    )
    if report.failed:
        print(f"failed chunks (rerun to retry; tracebacks in {out / 'failed'}): {', '.join(report.failed)}", file=sys.stdout)
        return 1
    return 0


def _cmd_plot(args: argparse.Namespace) -> int:
    from .studies.plots import plot_summary

    root = Path(args.dir)
    summary = _write_summary(root)
    fig = plot_summary(summary)
    written = []
    for fmt in args.formats.split(","):
        path = root / f"{summary.spec.study}.{fmt}"
        fig.savefig(path, dpi=150)
        written.append(str(path))
    print(json.dumps({"figures": written, "summary": str(root / "summary.json"), "complete": summary.info["complete"]}),
          file=sys.stdout)
    return 0


def register(subparsers: Any) -> None:
    """Add ``study run`` and ``study plot`` to the ``expmix`` command."""
    st = subparsers.add_parser("study", help="pseudo-experiment studies: bias, coverage, spurious signal")
    sub = st.add_subparsers(dest="study_command", required=True)

    r = sub.add_parser("run", help="run or resume a study described by a TOML spec")
    r.add_argument("spec", help="TOML study spec (see examples/*.toml)")
    r.add_argument("--out", metavar="DIR", help="study directory (default: ./<spec name>)")
    where = r.add_mutually_exclusive_group()
    where.add_argument("--workers", type=_positive_int, metavar="N", help="run on a local Dask cluster of N worker processes")
    where.add_argument("--scheduler", metavar="ADDR", help="run on an existing Dask scheduler, e.g. tcp://HOST:8786")
    r.add_argument("--toys", type=_positive_int, metavar="N", help="override n_toys of the spec (per true model)")
    bar = r.add_mutually_exclusive_group()
    bar.add_argument("--progress", dest="progress", action="store_true", default=None, help="show a progress bar (default: when stderr is a terminal)")
    bar.add_argument("--no-progress", dest="progress", action="store_false")
    r.set_defaults(func=_cmd_run)

    p = sub.add_parser("plot", help="figures (PNG, PDF) and summary.json of a study directory")
    p.add_argument("dir", help="study directory written by `expmix study run`")
    p.add_argument("--formats", default="png,pdf", help="comma-separated figure formats (default png,pdf)")
    p.set_defaults(func=_cmd_plot)
