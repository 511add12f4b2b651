"""Helpers shared by the benchmark scripts: what machine ran them, its load, JSON of numpy values."""

from __future__ import annotations

import importlib.util
import os
import platform
import subprocess
import sys
from typing import Any

import iminuit
import numpy as np
import scipy

import expmix


def cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return None


def root_version_subprocess() -> str | None:
    """ROOT's own version without importing ROOT here (slow, and it would share this process)."""
    if importlib.util.find_spec("ROOT") is None:
        return None
    code = "import warnings; warnings.simplefilter('ignore'); import ROOT; print(ROOT.gROOT.GetVersion())"
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip().splitlines()[-1] if out.returncode == 0 and out.stdout.strip() else None


def machine_info() -> dict[str, Any]:
    """Platform, CPU, cores and package versions (``root`` is filled in by the caller)."""
    return dict(
        platform=platform.platform(),
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count(),
        cpu_affinity=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        python=platform.python_version(),
        numpy=np.__version__,
        scipy=scipy.__version__,
        iminuit=iminuit.__version__,
        expmix=expmix.__version__,
        blas_threads=os.environ.get("OPENBLAS_NUM_THREADS"),
        root=None,
    )


def json_default(o: Any) -> Any:
    """``json.dumps(default=...)`` for numpy scalars and arrays and tuples."""
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, tuple):
        return list(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
