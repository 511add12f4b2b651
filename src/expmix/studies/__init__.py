"""Pseudo-experiment studies of paper Section 4: bias, coverage and spurious signal.

What to use when
----------------
* Describe a study in TOML (``examples/*.toml``) and :func:`load_spec` it, or build one with
  :func:`spec_from_dict`.
* :func:`run_study` runs it into a study directory -- in-process, on a local Dask cluster
  (``workers=N``) or on a scheduler (``scheduler="tcp://..."``) -- resumably, one ``.npz`` per
  finished chunk (:mod:`expmix.studies.engine`).
* :func:`summarize` reduces a directory to B(x), C(x) and the N_s/sigma bands plus a JSON summary
  (:mod:`expmix.studies.summary`); :mod:`expmix.studies.plots` draws Figures 5-7.
* :mod:`expmix.studies.generate` holds the true models, per-toy seeds and the sampler;
  :mod:`expmix.studies.kernels` the per-chunk fitting (one pure function per study).

From the shell: ``expmix study run SPEC [--out DIR] [--workers N | --scheduler ADDR]`` and
``expmix study plot DIR``.
"""

from __future__ import annotations

from .engine import RunReport, StudyStore, Task, plan, run_chunk, run_study
from .generate import sample_toys, toy_seed, toy_streams, true_model
from .spec import StudySpec, load_spec, spec_from_dict
from .summary import StudySummary, load_study, summarize

__all__ = [
    "RunReport",
    "StudySpec",
    "StudyStore",
    "StudySummary",
    "Task",
    "load_spec",
    "load_study",
    "plan",
    "run_chunk",
    "run_study",
    "sample_toys",
    "spec_from_dict",
    "summarize",
    "toy_seed",
    "toy_streams",
    "true_model",
]
