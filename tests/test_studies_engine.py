"""The study engine end to end on tiny studies: in-process and on Dask, resume, failures, CLI."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from expmix.cli import main
from expmix.studies import kernels, run_study, spec_from_dict, summarize
from expmix.studies.engine import StudyStore, Task, kernel_config, plan, toy_inputs

STUDIES = ("bias", "coverage", "spurious")


def tiny(study: str, **top) -> dict:
    """A study that runs in a few seconds: 2 true models x 3 toys in chunks of 2, k in {1, 2}."""
    d = {
        "study": study, "name": f"tiny_{study}", "seed": 123, "n_toys": 3, "chunk_size": 2,
        "data": {"true_models": ["f1", "f3"]},
        "fit": {"k": [1, 2], "families": ["f1", "f3"], "starts": 2, "retries": 2, "method": "reference"},
    }
    if study in ("bias", "coverage"):
        d["grid"] = {"lo": 500.0, "hi": 3500.0, "n": 25}
    if study == "coverage":
        d["bootstrap"] = {"resamples": 4, "split_starts": 1}
    if study == "spurious":
        d["signal"] = {"masses": [700.0, 1800.0], "width": [30.0, 65.0]}
    d.update(top)
    return d


def tiny_spec(study: str, **top):
    return spec_from_dict(tiny(study, **top))


def chunk_arrays(root: Path) -> dict[str, dict[str, np.ndarray]]:
    store = StudyStore.open(root)
    out = {}
    for t in plan(store.spec):
        arr = store.load_chunk(t)
        arr.pop("elapsed")
        out[t.key] = arr
    return out


def assert_same_results(a: Path, b: Path) -> None:
    ca, cb = chunk_arrays(a), chunk_arrays(b)
    assert ca.keys() == cb.keys()
    for key in ca:
        assert ca[key].keys() == cb[key].keys(), key
        for name in ca[key]:
            np.testing.assert_array_equal(ca[key][name], cb[key][name], err_msg=f"{key}:{name}")
    sa, sb = summarize(a).to_dict(), summarize(b).to_dict()
    for s in (sa, sb):
        for m in s["models"].values():
            m.pop("cpu_seconds", None)
    assert json.dumps(sa, sort_keys=True) == json.dumps(sb, sort_keys=True)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, Path]:
    """Each tiny study run once in-process, uninterrupted."""
    base = tmp_path_factory.mktemp("reference")
    out = {}
    for study in STUDIES:
        report = run_study(tiny_spec(study), base / study)
        assert report.complete and report.computed == 4 and not report.failed
        out[study] = base / study
    return out


# ---------------------------------------------------------------------------- results
@pytest.mark.parametrize("study", STUDIES)
def test_tiny_study_runs_cleanly(reference, study: str) -> None:
    s = summarize(reference[study])
    d = s.to_dict()
    assert d["complete"] and d["failed_chunks"] == []
    for model in ("f1", "f3"):
        m = d["models"][model]
        assert m["toys_done"] == 3 and m["toys_missing"] == 0
        assert m["failures"]["toys_with_errors"] == 0
        assert set(m["failures"]["failed_fits"].values()) == {0}
        assert sum(m["k_aic"].values()) == 3
    if study == "bias":
        b = s.curves["f1"]["B"]
        assert b.shape == (len(s.labels), 25) and np.all(np.isfinite(b))
    if study == "coverage":
        c = s.curves["f3"]["C"]
        assert np.all((c >= 0) & (c <= 1))
    if study == "spurious":
        assert s.curves["f1"]["median"].shape == (len(s.labels), 2)
        assert np.all(s.curves["f1"]["n"] == 3)


@pytest.mark.parametrize("study", STUDIES)
def test_kernel_contract(reference, study: str) -> None:
    """Shapes and dtypes of the kernel outputs (what a batched kernel must return)."""
    spec = tiny_spec(study)
    store = StudyStore.open(reference[study])
    arr = store.load_chunk(Task("f1", 0, 2))
    cfg = kernel_config(spec, "f1")
    T, L, K = 2, len(cfg.labels), len(spec.k)
    np.testing.assert_array_equal(arr["toys"], [0, 1])
    common = {"nll": ((T, L), "f"), "valid": ((T, L), "b"), "failed": ((T, L), "b"), "k_aic": ((T,), "i"),
              "k_bic": ((T,), "i"), "n_events": ((T,), "i"), "error": ((T,), "U")}
    G = spec.grid_n
    P = len(spec.masses)
    extra = {
        "bias": {"sum": ((L, G), "f"), "sumsq": ((L, G), "f"), "count": ((L,), "i")},
        "coverage": {"covered": ((L, G), "i"), "width_sum": ((L, G), "f"), "count": ((L,), "i"),
                     "boot_failed": ((T, L), "i"), "boot_k_aic": ((T, K), "i"), "boot_k_bic": ((T, K), "i")},
        "spurious": {"n_s": ((T, L, P), "f"), "sigma": ((T, L, P), "f"), "sb_valid": ((T, L, P), "b"),
                     "sb_failed": ((T, L, P), "b")},
    }[study]
    expected = {**common, **extra}
    assert set(arr) == set(expected) | {"toys", "elapsed"}
    for name, (shape, kind) in expected.items():
        assert arr[name].shape == shape, name
        assert arr[name].dtype.kind == kind, name
    assert cfg.labels[:2] == ("aic", "bic")


def test_kernel_is_a_pure_function_of_its_inputs(reference) -> None:
    spec = tiny_spec("bias")
    task = Task("f3", 2, 3)
    samples, seeds = toy_inputs(spec, task)
    cfg = kernel_config(spec, "f3")
    a = kernels.bias_chunk(samples, cfg, seeds)
    b = kernels.bias_chunk(samples, cfg, seeds)
    stored = StudyStore.open(reference["bias"]).load_chunk(task)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
        np.testing.assert_array_equal(a[name], stored[name])


# ---------------------------------------------------------------------------- dask
def test_dask_local_cluster_gives_identical_results(reference, tmp_path) -> None:
    """``workers=2`` (run_study's own LocalCluster), an existing client, and a scheduler address."""
    distributed = pytest.importorskip("distributed")
    report = run_study(tiny_spec("bias"), tmp_path / "bias", workers=2)
    assert report.complete and report.computed == 4, report.to_dict()
    assert report.executor == "local dask cluster, 2 workers"
    assert_same_results(reference["bias"], tmp_path / "bias")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
        report = run_study(tiny_spec("coverage"), tmp_path / "coverage", client=client)
        assert report.complete and report.computed == 4, report.to_dict()
        assert_same_results(reference["coverage"], tmp_path / "coverage")
        # the --scheduler path: a client of its own on the running scheduler
        report = run_study(tiny_spec("spurious"), tmp_path / "spurious", scheduler=cluster.scheduler_address)
        assert report.complete and report.executor.startswith("dask scheduler tcp://")
        assert_same_results(reference["spurious"], tmp_path / "spurious")


# ---------------------------------------------------------------------------- resume
class Interrupt(Exception):
    pass


def test_interrupted_run_resumes_to_the_same_result(reference, tmp_path) -> None:
    spec = tiny_spec("bias")
    seen: list[Task] = []

    def stop_after_first(task: Task) -> None:
        seen.append(task)
        raise Interrupt

    with pytest.raises(Interrupt):
        run_study(spec, tmp_path / "s", on_chunk=stop_after_first)
    assert len(list((tmp_path / "s" / "chunks").glob("*.npz"))) == 1
    (tmp_path / "s" / "chunks" / ".leftover.npz.tmp").write_bytes(b"partial")
    again: list[Task] = []
    report = run_study(spec, tmp_path / "s", on_chunk=again.append)
    assert report.already_done == 1 and report.computed == 3
    assert seen[0] not in again and len(again) == 3
    assert not list((tmp_path / "s" / "chunks").glob("*.tmp"))
    assert_same_results(reference["bias"], tmp_path / "s")
    # a third run recomputes nothing
    report = run_study(spec, tmp_path / "s")
    assert report.already_done == 4 and report.computed == 0
    runs = (tmp_path / "s" / "runs.jsonl").read_text().splitlines()
    assert len(runs) == 3


def test_killed_subprocess_resumes_to_the_same_result(reference, tmp_path) -> None:
    """`expmix study run` killed (SIGKILL) once its first chunk is on disk, then rerun."""
    spec_file = tmp_path / "tiny_bias.toml"
    spec_file.write_text(_toml(tiny("bias")))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "expmix", "study", "run", str(spec_file), "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if list((out / "chunks").glob("*.npz")) if (out / "chunks").is_dir() else []:
                break
            time.sleep(0.02)
    finally:
        proc.kill()
        proc.communicate()
    done = len(list((out / "chunks").glob("*.npz")))
    assert done >= 1
    assert main(["study", "run", str(spec_file), "--out", str(out), "--no-progress"]) == 0
    assert_same_results(reference["bias"], out)


def test_more_toys_extend_a_study(reference, tmp_path, capsys) -> None:
    spec_file = tmp_path / "tiny_bias.toml"
    spec_file.write_text(_toml(tiny("bias")))
    out = tmp_path / "ext"
    assert main(["study", "run", str(spec_file), "--out", str(out), "--toys", "2", "--no-progress"]) == 0
    assert "4 chunks computed" not in capsys.readouterr().out
    assert summarize(out).to_dict()["models"]["f1"]["toys_done"] == 2
    assert main(["study", "run", str(spec_file), "--out", str(out), "--no-progress"]) == 0
    assert "2 chunks computed, 2 already done" in capsys.readouterr().out
    assert_same_results(reference["bias"], out)


def test_a_different_spec_is_refused(reference, tmp_path) -> None:
    spec = tiny_spec("bias")
    run_study(spec.replace(n_toys=1), tmp_path / "s")
    other = spec_from_dict({**tiny("bias"), "fit": {"k": [1, 2], "families": ["f1", "f3"], "starts": 3, "retries": 2, "method": "reference"}})
    with pytest.raises(ValueError, match=r"was made with a different spec \(fit.starts: 2 -> 3\)"):
        run_study(other, tmp_path / "s")
    with pytest.raises(ValueError, match=r"different spec \(.*study: 'bias' -> 'spurious'"):
        run_study(tiny_spec("spurious"), tmp_path / "s")


# ---------------------------------------------------------------------------- failures
def test_a_failing_fit_is_recorded_not_fatal(reference, tmp_path, monkeypatch) -> None:
    spec = tiny_spec("bias")
    samples, _ = toy_inputs(spec, Task("f3", 0, 2))
    target = samples[1][0]  # toy 1 of f3
    real = kernels.select

    def select(data, *args, **kwargs):
        if data.x[0] == target:
            raise RuntimeError("injected failure")
        return real(data, *args, **kwargs)

    monkeypatch.setattr(kernels, "select", select)
    report = run_study(spec, tmp_path / "s")
    assert report.complete and not report.failed
    arr = StudyStore.open(tmp_path / "s").load_chunk(Task("f3", 0, 2))
    labels = kernel_config(spec, "f3").labels
    mixture = [labels.index(x) for x in ("aic", "bic", "k1", "k2")]
    assert arr["failed"][1, mixture].all() and not arr["failed"][0].any()
    assert not arr["failed"][1, [labels.index("f1"), labels.index("f3")]].any()
    assert arr["k_aic"][1] == 0 and "injected failure" in arr["error"][1]
    d = summarize(tmp_path / "s").to_dict()
    f3 = d["models"]["f3"]
    assert f3["failures"]["failed_fits"] == {"aic": 1, "bic": 1, "k1": 1, "k2": 1, "f1": 0, "f3": 0}
    assert f3["failures"]["toys_with_errors"] == 1
    assert f3["labels"]["aic"]["toys"] == 2 and f3["labels"]["f3"]["toys"] == 3
    assert d["models"]["f1"]["failures"]["toys_with_errors"] == 0
    # the other toys are untouched: f1 is identical to the reference
    ref = StudyStore.open(reference["bias"])
    for t in (Task("f1", 0, 2), Task("f1", 2, 3)):
        np.testing.assert_array_equal(ref.load_chunk(t)["sum"], StudyStore.open(tmp_path / "s").load_chunk(t)["sum"])


def test_a_failing_chunk_is_recorded_and_retried(reference, tmp_path, monkeypatch) -> None:
    spec = tiny_spec("bias")
    real = kernels.bias_chunk

    def broken(samples, cfg, seeds):
        if len(samples) == 1:  # the last chunk of each model
            raise MemoryError("worker ran out of memory")
        return real(samples, cfg, seeds)

    monkeypatch.setattr(kernels, "bias_chunk", broken)
    report = run_study(spec, tmp_path / "s")
    assert not report.complete and report.failed == ["f1-0000002-0000003", "f3-0000002-0000003"]
    failed = json.loads((tmp_path / "s" / "failed" / "f1-0000002-0000003.json").read_text())
    assert "MemoryError: worker ran out of memory" in failed["traceback"]
    d = summarize(tmp_path / "s").to_dict()
    assert not d["complete"] and d["failed_chunks"] == report.failed
    assert d["models"]["f1"]["toys_done"] == 2 and d["models"]["f1"]["toys_missing"] == 1
    monkeypatch.setattr(kernels, "bias_chunk", real)
    report = run_study(spec, tmp_path / "s")
    assert report.complete and report.computed == 2
    assert not list((tmp_path / "s" / "failed").glob("*.json"))
    assert_same_results(reference["bias"], tmp_path / "s")


# ---------------------------------------------------------------------------- CLI
@pytest.mark.parametrize("study", STUDIES)
def test_cli_plot(reference, study: str, capsys) -> None:
    pytest.importorskip("matplotlib")
    root = reference[study]
    assert main(["study", "plot", str(root)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["complete"] is True
    for fmt in ("png", "pdf"):
        path = root / f"{study}.{fmt}"
        assert path.is_file() and path.stat().st_size > 1000
    summary = json.loads((root / "summary.json").read_text())
    assert summary["study"] == study and set(summary["models"]) == {"f1", "f3"}
    key = {"bias": "max_abs_B", "coverage": "min_C_below_2000", "spurious": "max_abs_median"}[study]
    assert key in summary["models"]["f1"]["labels"]["aic"]


def test_cli_errors(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(_toml({**tiny("bias"), "fit": {"starts": 0}}))
    assert main(["study", "run", str(bad), "--out", str(tmp_path / "x")]) == 2
    assert "`fit.starts` must be an integer >= 1, got 0" in capsys.readouterr().err
    assert main(["study", "plot", str(tmp_path / "nothing")]) == 2
    assert "is not a study directory" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["study", "run", str(bad), "--workers", "2", "--scheduler", "tcp://x:1"])
    capsys.readouterr()


def test_run_study_arguments(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"at most one of `workers`, `scheduler` and `client`"):
        run_study(tiny_spec("bias"), tmp_path, workers=2, scheduler="tcp://x:1")
    with pytest.raises(ValueError, match=r"`workers` must be an integer >= 1, got 0"):
        run_study(tiny_spec("bias"), tmp_path, workers=0)


def _toml(d: dict) -> str:
    """A minimal TOML writer for the nested dicts of these tests."""

    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(val(x) for x in v) + "]"
        return repr(v)

    lines = [f"{k} = {val(v)}" for k, v in d.items() if not isinstance(v, dict)]
    for k, v in d.items():
        if isinstance(v, dict):
            lines.append(f"[{k}]")
            lines += [f"{kk} = {val(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"



# ---------------------------------------------------------------------------- paper scale (slow)
@pytest.mark.slow
def test_example_bias_small_statistics(tmp_path) -> None:
    """examples/bias_small.toml (40 toys per true model, ~1 min on 2 workers): no failures, and
    the refit of the true family is unbiased: B_true(x) ~ N(O(1/sqrt(n)), 1/T), so its maximum
    over the grid stays below 5/sqrt(T)."""
    from expmix.studies import load_spec

    spec = load_spec(Path(__file__).resolve().parents[1] / "examples" / "bias_small.toml")
    report = run_study(spec, tmp_path / "b", workers=2)
    assert report.complete
    s = summarize(tmp_path / "b")
    d = s.to_dict()
    for m in spec.true_models:
        assert set(d["models"][m]["failures"]["failed_fits"].values()) == {0}
        b_true = s.curves[m]["B"][s.labels.index(m)]
        assert np.abs(b_true).max() < 5 / np.sqrt(spec.n_toys)
