"""Tests of expmix.datasets: registry, data directory, verified fetch and the loaders.

No test touches the network: downloads go through ``file://`` URLs or a monkeypatched opener.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io as stdio
from pathlib import Path

import numpy as np
import pytest

from expmix import datasets
from expmix.data import BinnedData, UnbinnedData
from expmix.warnings import ExpmixError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data not available")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def payload() -> bytes:
    rng = np.random.default_rng(7)
    return rng.bytes(3000)


@pytest.fixture
def toy(tmp_path: Path, payload: bytes) -> datasets.Dataset:
    """A dataset served from a local file:// URL."""
    src = tmp_path / "server" / "blob.bin"
    src.parent.mkdir()
    src.write_bytes(payload)
    return datasets.Dataset(
        name="toy",
        description="toy",
        publication="none",
        doi="10.0/none",
        files={"toy/blob.bin": _sha(payload)},
        url={"toy/blob.bin": src.as_uri()},
    )


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# ------------------------------------------------------------------ registry


def test_registry() -> None:
    assert set(datasets.DATASETS) == {"atlas_dijet_2019", "cms_diphoton_2024_ebeb"}
    atlas = datasets.get("atlas_dijet_2019")
    assert atlas.doi == "10.17182/hepdata.91126"
    assert list(atlas.files) == ["atlas_dijet/HEPData-ins1759712-v1-Table_2.yaml"]
    assert atlas.url["atlas_dijet/HEPData-ins1759712-v1-Table_2.yaml"].startswith("https://www.hepdata.net/")
    cms = datasets.get("cms_diphoton_2024_ebeb")
    assert cms.doi == "10.17182/hepdata.150677"
    assert set(cms.files) == {"cms_diphoton/diphoton_data.npy", "cms_diphoton/high_mass_diphoton_EBEB.txt"}
    assert set(cms.url) == set(cms.files)
    with pytest.raises(ValueError, match="`name` 'nope' is not a registered dataset"):
        datasets.get("nope")


def test_dataset_is_frozen_and_validated() -> None:
    ds = datasets.get("atlas_dijet_2019")
    with pytest.raises(dataclasses.FrozenInstanceError):
        ds.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        ds.files["x"] = "y"  # type: ignore[index]
    hash(ds)
    with pytest.raises(ValueError, match="SHA-256"):
        datasets.Dataset("a", "b", "c", "d", files={"f": "abc"}, url={})
    with pytest.raises(ValueError, match="unknown"):
        datasets.Dataset("a", "b", "c", "d", files={}, url={"f": "https://x"})
    with pytest.raises(ValueError, match="relative"):
        datasets.Dataset("a", "b", "c", "d", files={"../f": "0" * 64}, url={})


@needs_shared
def test_registry_checksums_match_shared_files() -> None:
    for ds in datasets.DATASETS.values():
        for rel, digest in ds.files.items():
            assert _sha((SHARED / rel).read_bytes()) == digest, rel


# ------------------------------------------------------------------ data_dir


def test_data_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPMIX_DATA_DIR", str(tmp_path / "env"))
    assert datasets.data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert datasets.data_dir() == tmp_path / "env"
    monkeypatch.delenv("EXPMIX_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.data_dir() == tmp_path / "xdg" / "expmix"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert datasets.data_dir() == Path.home() / ".cache" / "expmix"


# ------------------------------------------------------------------ fetch


def test_fetch_downloads_file_url(tmp_path: Path, toy: datasets.Dataset, payload: bytes) -> None:
    cache = tmp_path / "cache"
    path = datasets.fetch(toy, "toy/blob.bin", data_dir=cache)
    assert path == cache / "toy" / "blob.bin"
    assert path.read_bytes() == payload
    assert _files(cache) == [path]  # no temporary left behind
    # second call uses the verified local copy, even with download=False
    assert datasets.fetch(toy, "toy/blob.bin", data_dir=cache, download=False) == path


def test_fetch_env_var(tmp_path: Path, toy: datasets.Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPMIX_DATA_DIR", str(tmp_path / "envcache"))
    assert datasets.fetch(toy, "toy/blob.bin") == tmp_path / "envcache" / "toy" / "blob.bin"


def test_fetch_checksum_mismatch_caches_nothing(tmp_path: Path, toy: datasets.Dataset) -> None:
    bad = dataclasses.replace(toy, files={"toy/blob.bin": "0" * 64})
    cache = tmp_path / "cache"
    with pytest.raises(ExpmixError, match=f"checksum mismatch.*expected sha256 {'0' * 64}, got {toy.files['toy/blob.bin']}"):
        datasets.fetch(bad, "toy/blob.bin", data_dir=cache)
    assert _files(cache) == []


def test_fetch_local_mismatch(tmp_path: Path, toy: datasets.Dataset) -> None:
    target = tmp_path / "cache" / "toy" / "blob.bin"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"tampered")
    with pytest.raises(ExpmixError, match=rf"blob\.bin.*expected {toy.files['toy/blob.bin']}, got {_sha(b'tampered')}"):
        datasets.fetch(toy, "toy/blob.bin", data_dir=tmp_path / "cache")
    assert target.read_bytes() == b"tampered"  # left for inspection, not overwritten


def test_fetch_missing_without_download(tmp_path: Path, toy: datasets.Dataset) -> None:
    with pytest.raises(ExpmixError, match="is not at .*EXPMIX_DATA_DIR.*download=True"):
        datasets.fetch(toy, "toy/blob.bin", data_dir=tmp_path / "cache", download=False)
    with pytest.raises(ValueError, match="`relpath` 'other' is not a file of dataset 'toy'"):
        datasets.fetch(toy, "other", data_dir=tmp_path)


def test_fetch_failed_download(tmp_path: Path, toy: datasets.Dataset) -> None:
    gone = dataclasses.replace(toy, url={"toy/blob.bin": (tmp_path / "missing.bin").as_uri()})
    cache = tmp_path / "cache"
    with pytest.raises(ExpmixError, match="download of file:.*failed"):
        datasets.fetch(gone, "toy/blob.bin", data_dir=cache)
    assert _files(cache) == []


@needs_shared
def test_fetch_registered_file_with_patched_opener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rel = "cms_diphoton/high_mass_diphoton_EBEB.txt"
    content = (SHARED / rel).read_bytes()
    seen: list[str] = []

    def opener(url: str) -> stdio.BytesIO:
        seen.append(url)
        return stdio.BytesIO(content)

    monkeypatch.setattr(datasets, "_urlopen", opener)
    path = datasets.fetch("cms_diphoton_2024_ebeb", rel, data_dir=tmp_path)
    assert seen == [datasets.get("cms_diphoton_2024_ebeb").url[rel]]
    assert path.read_bytes() == content
    edges = datasets.load_cms_diphoton_edges(tmp_path, download=False)
    assert edges.size == 170

    monkeypatch.setattr(datasets, "_urlopen", lambda url: stdio.BytesIO(b"<html>rate limited</html>"))
    with pytest.raises(ExpmixError, match="checksum mismatch"):
        datasets.fetch("atlas_dijet_2019", "atlas_dijet/HEPData-ins1759712-v1-Table_2.yaml", data_dir=tmp_path)
    assert not (tmp_path / "atlas_dijet" / "HEPData-ins1759712-v1-Table_2.yaml").exists()
    assert _files(tmp_path / "atlas_dijet") == []


# ------------------------------------------------------------------ loaders on ../shared/data


@needs_shared
def test_load_atlas_dijet() -> None:
    data = datasets.load_atlas_dijet(SHARED, download=False)
    assert isinstance(data, BinnedData)
    assert len(data) == 92
    assert data.edges[0] == 1100.0 and data.edges[-2] == 8208.0 and data.edges[-1] == 10000.0
    assert data.counts[-1] == 0
    assert data.n_events == 28_619_185
    plain = datasets.load_atlas_dijet(SHARED, append_to=None, download=False)
    assert len(plain) == 91 and plain.range == (1100.0, 8208.0)
    with pytest.raises(ValueError, match="`append_to` must exceed"):
        datasets.load_atlas_dijet(SHARED, append_to=8000.0, download=False)


@needs_shared
def test_load_cms_diphoton(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXPMIX_DATA_DIR", str(SHARED))
    data = datasets.load_cms_diphoton(download=False)
    assert isinstance(data, UnbinnedData)
    assert len(data) == 5036
    assert data.range == (500.0, 10000.0)
    assert data.x.min() == pytest.approx(500.005, abs=1e-3)
    assert data.x.max() == pytest.approx(2858.05, abs=1e-2)


@needs_shared
def test_load_cms_diphoton_edges() -> None:
    edges = datasets.load_cms_diphoton_edges(SHARED, download=False)
    assert edges.size == 170  # 169 bins in the file
    assert edges[0] == 500.0 and edges[-1] == 4016.0
