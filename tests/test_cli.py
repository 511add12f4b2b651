"""The command line: ``expmix.cli.main(argv)`` in-process and ``python -m expmix`` in a subprocess
(STYLE A14.8: exit code, JSON and files)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from expmix import ExponentialMixture
from expmix.cli import main

SUPPORT = (500.0, 5000.0)


@pytest.fixture
def events_npy(tmp_path: Path) -> Path:
    x = ExponentialMixture([0.01, 0.003], [0.7, 0.3], SUPPORT).sample(1500, rng=np.random.default_rng(1))
    path = tmp_path / "events.npy"
    np.save(path, x)
    return path


def test_fit_writes_json(events_npy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.json"
    rc = main(["fit", str(events_npy), "--k", "1-2", "--starts", "3", "--seed", "1", "--json", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    for key in ("schema_version", "chosen", "chi2", "table", "fits", "k_aic", "k_bic", "best_k", "criterion"):
        assert key in doc
    assert [row["k"] for row in doc["table"]] == [1, 2]
    assert doc["chosen"]["k"] == doc["best_k"] == 2  # a 2-component toy
    assert doc["chosen"]["criterion"] == "aic"
    label = "mixture k=2"
    assert doc["chi2"][label]["ndf"] == doc["chi2"][label]["n_bins"] - 3
    assert 0.0 <= doc["chosen"]["pvalue"] <= 1.0
    text = capsys.readouterr().out
    assert "chosen: k = 2 by AIC" in text and "chi2" in text


def test_fit_json_to_stdout_and_families(events_npy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["fit", str(events_npy), "--k", "2", "--starts", "2", "--families", "f2", "--range", "500", "5000",
               "--json", "-"])
    assert rc == 0
    out = capsys.readouterr().out
    doc = json.loads(out[out.index("\n{") + 1 :])  # the JSON document follows the text summary
    assert set(doc["references"]) == {"f2"}
    assert set(doc["chi2"]) == {"mixture k=2", "f2"}


def test_fit_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["fit", str(tmp_path / "missing.npy")])
    assert rc == 2
    err = capsys.readouterr().err
    assert err.startswith("expmix fit: error:") and "missing.npy" in err


def test_fit_bad_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.npy"
    np.save(bad, np.array([600.0, np.nan, 700.0]))
    assert main(["fit", str(bad)]) == 2
    assert "expmix fit: error:" in capsys.readouterr().err
    junk = tmp_path / "junk.txt"
    junk.write_text("this is not a spectrum\n")
    assert main(["fit", str(junk)]) == 2
    assert "expmix fit: error:" in capsys.readouterr().err


def test_fit_signal_needs_width(events_npy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", str(events_npy), "--k", "1", "--starts", "1", "--signal", "1500"]) == 2
    assert "`--width`" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["fit", "x.npy", "--k", "0-2"], ["fit", "x.npy", "--families", "f9"], ["nope"], []])
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert "error" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    from expmix import __version__

    assert __version__ in capsys.readouterr().out


def test_demo_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo.json"
    rc = main(["demo", "--events", "3000", "--k", "1-2", "--starts", "3", "--json", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert "truth" in doc and "f2" in doc["truth"]
    assert set(doc["references"]) == {"f1", "f2", "f3", "f4"}
    assert [row["k"] for row in doc["table"]] == [1, 2]
    assert "expmix demo: 3000 events" in capsys.readouterr().out


def test_python_m_expmix_demo_subprocess(tmp_path: Path) -> None:
    out = tmp_path / "demo.json"
    proc = subprocess.run(
        [sys.executable, "-m", "expmix", "demo", "--events", "2000", "--k", "1-2", "--starts", "2", "--json", str(out)],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "expmix demo: 2000 events" in proc.stdout
    doc = json.loads(out.read_text())
    assert doc["schema_version"] == 1 and doc["chosen"]["k"] in (1, 2)


def test_python_m_expmix_bad_file_subprocess(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "expmix", "fit", str(tmp_path / "missing.npy")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 2
    assert "expmix fit: error:" in proc.stderr and proc.stdout == ""
