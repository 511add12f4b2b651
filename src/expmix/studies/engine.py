"""Run a study as independent chunks, in-process or on Dask, into a resumable study directory.

What to use when
----------------
* ``run_study(spec, out)`` -- everything in this process, chunk after chunk (the default).
* ``run_study(spec, out, workers=8)`` -- a local Dask cluster of 8 single-threaded worker
  processes (``pip install expmix[dask]``). The workers are started with ``spawn``, so a
  script that calls this must guard its entry point with ``if __name__ == "__main__":``
  (``expmix study run --workers 8`` needs nothing).
* ``run_study(spec, out, scheduler="tcp://host:8786")`` -- an existing Dask scheduler, e.g. one
  whose workers run as batch jobs. With dask-jobqueue (``pip install dask-jobqueue``), on a
  login node::

      from dask_jobqueue import HTCondorCluster      # or SLURMCluster
      cluster = HTCondorCluster(cores=1, processes=1, memory="2GB", disk="1GB")
      # SLURMCluster(cores=1, processes=1, memory="2GB", walltime="04:00:00", queue="...")
      cluster.adapt(minimum=0, maximum=200)          # or cluster.scale(jobs=200)
      print(cluster.scheduler_address)               # tcp://HOST:PORT

  then, while that Python session lives, ``expmix study run spec.toml --scheduler tcp://HOST:PORT``
  from the same node (or pass ``client=Client(cluster)`` to :func:`run_study`). The workers
  need the same expmix installed; they only compute and return arrays, all files are written
  by the submitting process, so no shared file system is needed. Give such workers the
  environment ``MALLOC_TRIM_THRESHOLD_=268435456 MALLOC_MMAP_THRESHOLD_=33554432`` (e.g. the
  ``job_script_prologue`` of dask-jobqueue): Dask's default trim threshold makes glibc unmap
  the kernels' large temporaries after every step, which can triple the run time.

The work
--------
A study is split into tasks, one per (true model, chunk of ``spec.chunk_size`` consecutive
toys). :func:`run_chunk` is the whole task: it rebuilds each toy's events from its own seed
(:mod:`expmix.studies.generate`), calls the study's kernel (:mod:`expmix.studies.kernels`,
looked up by name at call time so it can be swapped) and returns the kernel's arrays. Results
therefore depend only on the spec, not on where or in which order chunks run.

The study directory
-------------------
::

    DIR/spec.json       the validated spec, its key, the expmix version (written first)
    DIR/spec.toml       the spec text as given (when run from a file)
    DIR/versions.json   python, numpy, scipy, iminuit, expmix (and dask) of the first run
    DIR/runs.jsonl      one line per run: time, versions, executor, chunks done/computed/failed
    DIR/chunks/<model>-<start>-<stop>.npz   one per finished chunk (kernel arrays + toy indices)
    DIR/failed/<model>-<start>-<stop>.json  a chunk that raised as a whole (traceback)

Each chunk file is written to a temporary file in the same directory and moved into place
with ``os.replace``, so a file either exists complete or not at all. Killing a run at any
moment loses only the chunks in flight. Running the same command again resumes: chunks with a
file are not recomputed, leftover temporary files are removed, failed chunks are retried. A
directory made with a different spec (any field but ``name`` and ``n_toys``) is refused with
the list of differing fields; a larger ``n_toys`` extends the study (per-toy seeds do not
depend on it).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from . import fast, kernels
from .generate import sample_toys, toy_seed, toy_streams, true_model
from .spec import StudySpec, spec_from_dict

#: glibc trim and mmap thresholds for the workers of a local cluster, in bytes (see run_study)
WORKER_TRIM_THRESHOLD = 256 * 2**20
WORKER_MMAP_THRESHOLD = 32 * 2**20

__all__ = [
    "RunReport",
    "StudyStore",
    "Task",
    "kernel_config",
    "plan",
    "run_chunk",
    "run_study",
]

log = logging.getLogger("expmix.studies")

SCHEMA_VERSION = 1


# ============================================================================ tasks
@dataclass(frozen=True, order=True)
class Task:
    """Toys ``start <= t < stop`` of the true model ``model``."""

    model: str
    start: int
    stop: int

    @property
    def key(self) -> str:
        return f"{self.model}-{self.start:07d}-{self.stop:07d}"

    @property
    def n_toys(self) -> int:
        return self.stop - self.start


def plan(spec: StudySpec) -> list[Task]:
    """All tasks of a study: for each true model, toys in chunks of ``spec.chunk_size``."""
    return [
        Task(m, s, min(s + spec.chunk_size, spec.n_toys))
        for m in spec.true_models
        for s in range(0, spec.n_toys, spec.chunk_size)
    ]


def grid(spec: StudySpec) -> np.ndarray:
    """The evaluation grid of bias and coverage (``grid_n`` points, ends included)."""
    return np.linspace(spec.grid_lo, spec.grid_hi, spec.grid_n)


def kernel_config(spec: StudySpec, model: str) -> kernels.KernelConfig:
    """The :class:`~expmix.studies.kernels.KernelConfig` of ``spec`` for true model ``model``."""
    kw: dict[str, Any] = dict(
        study=spec.study, range=spec.range, k=spec.k, families=spec.families, starts=spec.starts,
        retries=spec.retries, cap=spec.cap, scale=spec.scale, bins=spec.bins,
    )
    if spec.study in ("bias", "coverage"):
        kw["grid"] = grid(spec)
    if spec.study == "coverage":
        kw.update(f_true=true_model(model, spec.range).pdf(kw["grid"]), resamples=spec.resamples,
                  confidence_level=spec.confidence_level, split_starts=spec.split_starts)
    if spec.study == "spurious":
        kw.update(masses=spec.masses, widths=tuple(spec.widths_at()), float_mass=spec.float_mass,
                  float_width=spec.float_width)
    return kernels.KernelConfig(**kw)


def toy_inputs(spec: StudySpec, task: Task) -> tuple[list[np.ndarray], list[np.random.SeedSequence]]:
    """Events and fit seeds of the toys of ``task`` (each toy from its own seed)."""
    streams = [toy_streams(toy_seed(spec.seed, task.model, t)) for t in range(task.start, task.stop)]
    samples = sample_toys(true_model(task.model, spec.range), spec.n_events, [s[0] for s in streams], poisson=spec.poisson)
    return samples, [s[1] for s in streams]


def run_chunk(spec: StudySpec, task: Task) -> dict[str, np.ndarray]:
    """Compute one chunk: generate its toys and run the study's kernel. Pure; runs on workers."""
    t0 = time.perf_counter()
    samples, seeds = toy_inputs(spec, task)
    module = fast if spec.method == "batched" else kernels
    kernel = getattr(module, kernels.KERNELS[spec.study])
    out = dict(kernel(samples, kernel_config(spec, task.model), seeds))
    out["toys"] = np.arange(task.start, task.stop, dtype=np.int64)
    out["elapsed"] = np.array(time.perf_counter() - t0)
    return out


def _run_chunk_safe(spec: StudySpec, task: Task) -> dict[str, Any]:
    """:func:`run_chunk`, turning an exception of the whole chunk into a failure record."""
    try:
        return run_chunk(spec, task)
    except Exception:  # noqa: BLE001 - recorded in DIR/failed and retried on the next run
        return {"__failed__": traceback.format_exc()}


# ============================================================================ store
def versions() -> dict[str, str]:
    """Versions of the interpreter and of the packages that determine the numbers."""
    import importlib.metadata as md

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for pkg in ("expmix", "numpy", "scipy", "iminuit", "dask", "distributed"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode) as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_json(path: Path, obj: Any) -> None:
    _atomic_write(path, lambda fh: json.dump(obj, fh, indent=2, sort_keys=True), mode="w")


class StudyStore:
    """The study directory: spec, versions, one ``.npz`` per finished chunk.

    ``StudyStore.create(dir, spec)`` makes or reopens a directory for ``spec`` (refusing a
    different spec); ``StudyStore.open(dir)`` opens an existing one for reading.
    """

    def __init__(self, root: str | Path, spec: StudySpec) -> None:
        self.root = Path(root)
        self.spec = spec

    # ------------------------------------------------------------------ paths
    @property
    def chunk_dir(self) -> Path:
        return self.root / "chunks"

    @property
    def failed_dir(self) -> Path:
        return self.root / "failed"

    def chunk_path(self, task: Task) -> Path:
        return self.chunk_dir / f"{task.key}.npz"

    # ------------------------------------------------------------------ open / create
    @classmethod
    def open(cls, root: str | Path) -> StudyStore:
        root = Path(root)
        path = root / "spec.json"
        if not path.is_file():
            raise ValueError(f"`{root}` is not a study directory (no spec.json)")
        doc = json.loads(path.read_text())
        spec = spec_from_dict(doc["spec"], source=(root / "spec.toml").read_text() if (root / "spec.toml").is_file() else "")
        if doc.get("key") != spec.key:
            raise ValueError(f"{path}: recorded key {doc.get('key')!r} does not match its spec (edited by hand?)")
        return cls(root, spec)

    @classmethod
    def create(cls, root: str | Path, spec: StudySpec) -> StudyStore:
        root = Path(root)
        if (root / "spec.json").is_file():
            old = cls.open(root)
            if old.spec.key != spec.key:
                diff = "; ".join(old.spec.differences(spec)) or "(unknown)"
                raise ValueError(
                    f"study directory `{root}` was made with a different spec ({diff}); "
                    "use another --out directory, or the original spec to resume"
                )
            store = cls(root, spec)
            if old.spec.n_toys != spec.n_toys:
                log.info("study %s: n_toys %d -> %d", root, old.spec.n_toys, spec.n_toys)
                store._write_spec()
            recorded = json.loads((root / "versions.json").read_text()) if (root / "versions.json").is_file() else {}
            now = versions()
            changed = sorted(k for k in ("expmix", "numpy", "scipy", "iminuit") if recorded.get(k) != now.get(k))
            if changed:
                log.warning("study %s: package versions differ from the first run: %s (see runs.jsonl)", root, ", ".join(changed))
        else:
            root.mkdir(parents=True, exist_ok=True)
            store = cls(root, spec)
            _write_json(root / "versions.json", versions())
            if spec.source:
                _atomic_write(root / "spec.toml", lambda fh: fh.write(spec.source), mode="w")
            store._write_spec()
        store.chunk_dir.mkdir(exist_ok=True)
        for tmp in list(store.chunk_dir.glob(".*.tmp")) + list(root.glob(".*.tmp")):
            tmp.unlink(missing_ok=True)
        return store

    def _write_spec(self) -> None:
        _write_json(self.root / "spec.json", {
            "schema_version": SCHEMA_VERSION, "spec": self.spec.to_dict(), "key": self.spec.key,
        })

    # ------------------------------------------------------------------ chunks
    def is_done(self, task: Task) -> bool:
        return self.chunk_path(task).is_file()

    def write_chunk(self, task: Task, arrays: dict[str, np.ndarray]) -> None:
        payload = {k: np.asarray(v) for k, v in arrays.items()}
        payload["spec_key"] = np.array(self.spec.key)
        _atomic_write(self.chunk_path(task), lambda fh: np.savez(fh, **payload))
        (self.failed_dir / f"{task.key}.json").unlink(missing_ok=True)

    def write_failure(self, task: Task, tb: str) -> None:
        self.failed_dir.mkdir(exist_ok=True)
        _write_json(self.failed_dir / f"{task.key}.json", {"task": task.key, "traceback": tb, "time": _now()})

    def load_chunk(self, task: Task) -> dict[str, np.ndarray]:
        with np.load(self.chunk_path(task), allow_pickle=False) as z:
            out = {k: z[k] for k in z.files}
        if str(out.pop("spec_key")) != self.spec.key:
            raise ValueError(f"{self.chunk_path(task)} belongs to another spec")
        return out

    def failed_tasks(self) -> list[str]:
        return sorted(p.stem for p in self.failed_dir.glob("*.json")) if self.failed_dir.is_dir() else []

    def log_run(self, entry: dict[str, Any]) -> None:
        with open(self.root / "runs.jsonl", "a") as fh:
            fh.write(json.dumps({"time": _now(), "versions": versions(), **entry}, sort_keys=True) + "\n")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# ============================================================================ running
@dataclass
class RunReport:
    """What one :func:`run_study` call did."""

    root: Path
    n_tasks: int
    already_done: int
    computed: int = 0
    failed: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    executor: str = "in-process"

    @property
    def complete(self) -> bool:
        return self.already_done + self.computed == self.n_tasks

    def to_dict(self) -> dict[str, Any]:
        return {"root": str(self.root), "n_tasks": self.n_tasks, "already_done": self.already_done,
                "computed": self.computed, "failed": self.failed, "elapsed": self.elapsed,
                "executor": self.executor, "complete": self.complete}


class _Progress:
    def __init__(self, enabled: bool, total: int, initial: int, desc: str) -> None:
        self.bar = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:  # progress is optional
                log.info("tqdm is not installed: no progress bar (pip install expmix[progress])")
            else:
                self.bar = tqdm(total=total, initial=initial, desc=desc, unit="toy", file=sys.stderr, dynamic_ncols=True)

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _in_process(spec: StudySpec, todo: list[Task]) -> Iterable[tuple[Task, dict[str, Any]]]:
    for task in todo:
        yield task, _run_chunk_safe(spec, task)


def _on_dask(client: Any, spec: StudySpec, todo: list[Task]) -> Iterable[tuple[Task, dict[str, Any]]]:
    from distributed import as_completed

    futures = {client.submit(_run_chunk_safe, spec, t, key=f"expmix-{spec.key[:12]}-{t.key}", pure=False): t for t in todo}
    try:
        for fut in as_completed(futures):
            task = futures[fut]
            try:
                res = fut.result()
            except Exception:  # noqa: BLE001 - e.g. a worker lost three times
                res = {"__failed__": traceback.format_exc()}
            fut.release()
            yield task, res
    finally:
        client.cancel(list(futures))


def run_study(
    spec: StudySpec,
    out: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client: Any = None,
    progress: bool = False,
    on_chunk: Callable[[Task], None] | None = None,
) -> RunReport:
    """Run (or resume) ``spec`` into the study directory ``out``.

    Parameters
    ----------
    spec : StudySpec
    out : path
        Study directory (created if needed; an existing one must hold the same spec).
    workers : int, optional
        Run on a local Dask cluster of this many single-threaded worker processes.
    scheduler : str, optional
        Address of a running Dask scheduler (``tcp://HOST:PORT``).
    client : distributed.Client, optional
        Use this client (it is not closed).
    progress : bool
        Show a tqdm progress bar on stderr (toys done, rate, time left) when tqdm is installed.
    on_chunk : callable, optional
        Called with each :class:`Task` after its file is written.

    Returns
    -------
    RunReport
        ``complete`` is false when chunks failed; rerun to retry them.
    """
    if sum(x is not None for x in (workers, scheduler, client)) > 1:
        raise ValueError("give at most one of `workers`, `scheduler` and `client`")
    if workers is not None and (isinstance(workers, bool) or int(workers) != workers or workers < 1):
        raise ValueError(f"`workers` must be an integer >= 1, got {workers!r}")
    store = StudyStore.create(out, spec)
    tasks = plan(spec)
    todo = [t for t in tasks if not store.is_done(t)]
    report = RunReport(store.root, len(tasks), len(tasks) - len(todo))
    t0 = time.perf_counter()
    done_toys = sum(t.n_toys for t in tasks) - sum(t.n_toys for t in todo)
    bar = _Progress(progress, sum(t.n_toys for t in tasks), done_toys, f"{spec.study} {spec.name}".strip())
    cluster = own_client = None
    try:
        if todo and (workers is not None or scheduler is not None):
            from distributed import Client, LocalCluster

            if workers is not None:
                import dask

                # Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536. Setting it also freezes
                # glibc's mmap threshold at 128 KiB, so every large temporary of the kernels is a
                # fresh mmap whose page faults cost as much system time as the fits themselves.
                # Workers of this cluster get thresholds that let glibc reuse that memory (set
                # the same environment for workers you start yourself).
                with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": str(WORKER_TRIM_THRESHOLD),
                                      "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": str(WORKER_MMAP_THRESHOLD)}):
                    cluster = LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                           dashboard_address=":0", silence_logs=logging.ERROR)
                own_client = client = Client(cluster)
                report.executor = f"local dask cluster, {workers} workers"
            else:
                own_client = client = Client(scheduler)
                report.executor = f"dask scheduler {scheduler}"
        elif client is not None:
            report.executor = "dask client"
        results = _on_dask(client, spec, todo) if (todo and client is not None) else _in_process(spec, todo)
        try:
            for task, res in results:
                if "__failed__" in res:
                    store.write_failure(task, res["__failed__"])
                    report.failed.append(task.key)
                    log.error("chunk %s failed; recorded in %s", task.key, store.failed_dir)
                else:
                    store.write_chunk(task, res)
                    report.computed += 1
                bar.update(task.n_toys)
                if on_chunk is not None:
                    on_chunk(task)
        finally:
            results.close()  # cancels the futures still in flight on an interruption
    finally:
        bar.close()
        report.elapsed = time.perf_counter() - t0
        if own_client is not None:
            own_client.close()
        if cluster is not None:
            cluster.close()
        store.log_run({"n_toys": spec.n_toys, **{k: v for k, v in report.to_dict().items() if k != "root"}})
    return report
