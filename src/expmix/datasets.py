"""The paper's public datasets: where they come from, their checksums, and loaders.

What to use when
----------------
- :func:`load_atlas_dijet`: the ATLAS Run 2 dijet spectrum (|y*| < 0.6, 139 fb^-1), 91
  HEPData bins from 1100 to 8208 GeV plus the empty bin up to 10 TeV that the paper appends
  (Section 3.1), as :class:`~expmix.data.BinnedData`.
- :func:`load_cms_diphoton`: the 5,036 unbinned CMS barrel-barrel diphoton masses on the
  paper's fit range 500-10,000 GeV (Section 3.2), as :class:`~expmix.data.UnbinnedData`.
- :func:`load_cms_diphoton_edges`: the variable-width CMS binning of the diphoton spectrum
  (500-4016 GeV), for plots and the merged-bin chi2 of the paper's Table 2.
- :func:`fetch`: the local path of one registered file, downloaded and checked if needed.
- :data:`DATASETS` / :func:`get`: the registry of :class:`Dataset` records.

Where files live
----------------
:func:`data_dir` resolves the directory in this order: the ``data_dir`` argument, the
``EXPMIX_DATA_DIR`` environment variable, then the user cache ``$XDG_CACHE_HOME/expmix``
(``~/.cache/expmix``). Files sit under it at their registered relative paths, e.g.
``atlas_dijet/HEPData-ins1759712-v1-Table_2.yaml``. A file is used only if its SHA-256
digest matches the registry; a download is verified before it is moved into place, so a
corrupt or tampered download never enters the cache.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from .data import BinnedData, UnbinnedData
from .io import read_bin_edges_cms, read_events, read_hepdata
from .warnings import ExpmixError

__all__ = [
    "DATASETS",
    "Dataset",
    "atlas_dijet_2019",
    "cms_diphoton_2024_ebeb",
    "data_dir",
    "fetch",
    "get",
    "load_atlas_dijet",
    "load_cms_diphoton",
    "load_cms_diphoton_edges",
]

log = logging.getLogger(__name__)

ENV_VAR = "EXPMIX_DATA_DIR"
_CHUNK = 1 << 20
_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Dataset:
    """A registered public dataset.

    Parameters
    ----------
    name : str
        Registry key, e.g. ``"atlas_dijet_2019"``.
    description : str
        One line on what the files hold.
    publication : str
        The publication the data belong to.
    doi : str
        DOI of the data record (HEPData).
    files : mapping of str to str
        Relative path under the data directory -> lowercase hex SHA-256 digest.
    url : mapping of str to str
        Relative path -> official download URL (a subset of ``files``).
    """

    name: str
    description: str
    publication: str
    doi: str
    files: Mapping[str, str] = field(hash=False)
    url: Mapping[str, str] = field(hash=False)

    def __post_init__(self) -> None:
        files = dict(self.files)
        urls = dict(self.url)
        for rel, digest in files.items():
            if Path(rel).is_absolute() or ".." in Path(rel).parts:
                raise ValueError(f"`files` paths must be relative without '..', got {rel!r}")
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ValueError(f"`files`[{rel!r}] must be a lowercase hex SHA-256 digest, got {digest!r}")
        extra = sorted(set(urls) - set(files))
        if extra:
            raise ValueError(f"`url` keys must be registered in `files`, got unknown {extra}")
        object.__setattr__(self, "files", MappingProxyType(files))
        object.__setattr__(self, "url", MappingProxyType(urls))


_ATLAS_YAML = "atlas_dijet/HEPData-ins1759712-v1-Table_2.yaml"
_CMS_NPY = "cms_diphoton/diphoton_data.npy"
_CMS_EDGES = "cms_diphoton/high_mass_diphoton_EBEB.txt"
_CMS_REPO = "https://raw.githubusercontent.com/atownse2/26.Townsend.expmix.unpublished/main/data/high_mass_diphoton"

atlas_dijet_2019 = Dataset(
    name="atlas_dijet_2019",
    description=(
        "ATLAS Run 2 dijet invariant mass spectrum, |y*| < 0.6, 139 fb^-1 at 13 TeV: "
        "HEPData record ins1759712, Table 2 (91 bins, 1100-8208 GeV, 28,619,185 events)"
    ),
    publication=(
        "ATLAS Collaboration, Search for new resonances in mass distributions of jet pairs "
        "using 139 fb^-1 of pp collisions at sqrt(s) = 13 TeV with the ATLAS detector, "
        "JHEP 03 (2020) 145, arXiv:1910.08447"
    ),
    doi="10.17182/hepdata.91126",
    files={_ATLAS_YAML: "b090237a69f6d512e601f092626541ce21c234538ca432e7ec07e85bf8ed8f7b"},
    url={_ATLAS_YAML: "https://www.hepdata.net/download/table/ins1759712/Table%202/1/yaml"},
)

cms_diphoton_2024_ebeb = Dataset(
    name="cms_diphoton_2024_ebeb",
    description=(
        "CMS Run 2 high-mass diphoton events, barrel-barrel (EBEB): 5,036 unbinned m_gg "
        "values in GeV (supplied by CMS to the paper's authors), and the bin edges of the "
        "CMS EBEB background curve (500-4016 GeV)"
    ),
    publication=(
        "CMS Collaboration, Search for new physics in high-mass diphoton events from "
        "proton-proton collisions at sqrt(s) = 13 TeV, JHEP 08 (2024) 215"
    ),
    doi="10.17182/hepdata.150677",
    files={
        _CMS_NPY: "2770f5ae755172364c4277259d01f01a2e6e641f6919065ffcf10a496a183d25",
        _CMS_EDGES: "11d56392158147227468112476c17591b4002b1e4f08642c9641d384c34dbe2b",
    },
    url={
        _CMS_NPY: f"{_CMS_REPO}/diphoton_data.npy",
        _CMS_EDGES: f"{_CMS_REPO}/high_mass_diphoton_EBEB.txt",
    },
)

DATASETS: Mapping[str, Dataset] = MappingProxyType(
    {d.name: d for d in (atlas_dijet_2019, cms_diphoton_2024_ebeb)}
)
"""Registered datasets by name."""


def get(name: str) -> Dataset:
    """Return the registered :class:`Dataset` called ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.

    Returns
    -------
    Dataset

    Raises
    ------
    ValueError
        ``name`` is not registered.
    """
    try:
        return DATASETS[name]
    except KeyError:
        raise ValueError(f"`name` {name!r} is not a registered dataset; available: {sorted(DATASETS)}") from None


def data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the data directory: argument > ``EXPMIX_DATA_DIR`` > user cache.

    Parameters
    ----------
    data_dir : str or Path, optional
        Explicit directory; wins when given.

    Returns
    -------
    Path
        The directory (not created here). The fallback is ``$XDG_CACHE_HOME/expmix``, or
        ``~/.cache/expmix`` when ``XDG_CACHE_HOME`` is unset.
    """
    return _resolve_dir(data_dir)


def _resolve_dir(explicit: str | os.PathLike[str] | None) -> Path:
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME")
    base = Path(cache).expanduser() if cache else Path.home() / ".cache"
    return base / "expmix"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _urlopen(url: str) -> Any:
    """Open ``url`` for reading (a seam for tests)."""
    return urllib.request.urlopen(url, timeout=_TIMEOUT_S)  # noqa: S310 (registered https/file URLs)


def _download(url: str, target: Path, expected: str) -> None:
    """Download ``url`` to a temporary file next to ``target``; move it there only if verified."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with _urlopen(url) as response:
                    for chunk in iter(lambda: response.read(_CHUNK), b""):
                        h.update(chunk)
                        out.write(chunk)
            except (OSError, ValueError) as exc:  # URLError/HTTPError are OSErrors; bad URLs ValueError
                raise ExpmixError(f"download of {url} failed: {exc}") from exc
        actual = h.hexdigest()
        if actual != expected:
            raise ExpmixError(
                f"checksum mismatch for {url}: expected sha256 {expected}, got {actual}; the "
                f"download was discarded and nothing was written to {target}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def fetch(
    name_or_dataset: str | Dataset,
    relpath: str,
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> Path:
    """Return the verified local path of a registered file, downloading it if needed.

    Parameters
    ----------
    name_or_dataset : str or Dataset
        A registered name or a :class:`Dataset`.
    relpath : str
        The file's relative path, a key of ``Dataset.files``.
    data_dir : str or Path, optional
        Data directory (see :func:`data_dir` for the default).
    download : bool, optional
        Download a missing file from its registered URL. Default ``True``.

    Returns
    -------
    Path
        ``data_dir / relpath``, whose SHA-256 matches the registry.

    Raises
    ------
    ExpmixError
        A local file with the wrong digest (it is left in place for you to inspect), a missing
        file with ``download=False`` or without a URL, a failed download, or a download with
        the wrong digest (discarded; nothing is cached).
    ValueError
        ``relpath`` is not a file of the dataset.
    """
    ds = name_or_dataset if isinstance(name_or_dataset, Dataset) else get(name_or_dataset)
    if relpath not in ds.files:
        raise ValueError(f"`relpath` {relpath!r} is not a file of dataset {ds.name!r}; available: {sorted(ds.files)}")
    expected = ds.files[relpath]
    root = _resolve_dir(data_dir)
    target = root / relpath
    if target.is_file():
        actual = _sha256(target)
        if actual != expected:
            raise ExpmixError(
                f"{target}: sha256 mismatch for {ds.name} file {relpath!r}: expected {expected}, "
                f"got {actual}; delete or replace the file"
            )
        return target
    url = ds.url.get(relpath)
    if not download or url is None:
        how = f"download it from {url}" if url else f"obtain it (DOI {ds.doi})"
        raise ExpmixError(
            f"{ds.name} file {relpath!r} is not at {target}: {how} (sha256 {expected}) and put it "
            f"there, or set the {ENV_VAR} environment variable (or pass data_dir=) to a "
            f"directory that holds {relpath!r}"
            + ("" if download else ", or call with download=True")
        )
    log.info("downloading %s to %s", url, target)
    _download(url, target, expected)
    return target


def load_atlas_dijet(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    append_to: float | None = 10000.0,
    download: bool = True,
) -> BinnedData:
    """Load the ATLAS Run 2 dijet spectrum (HEPData ins1759712, Table 2, observed counts).

    Parameters
    ----------
    data_dir : str or Path, optional
        Data directory (see :func:`data_dir`).
    append_to : float or None, optional
        Append one empty bin from the last HEPData edge (8208 GeV) to this value, as the paper
        does to constrain the upper tail (Section 3.1). Default 10000 GeV; ``None`` keeps the
        91 published bins.
    download : bool, optional
        Download the table if it is missing. Default ``True``.

    Returns
    -------
    BinnedData
        92 bins from 1100 to 10000 GeV (91 without the appended bin), 28,619,185 events.

    Raises
    ------
    ValueError
        ``append_to`` is not above 8208 GeV.
    """
    path = fetch(atlas_dijet_2019, _ATLAS_YAML, data_dir=data_dir, download=download)
    data = read_hepdata(path, dependent=0)
    if append_to is None:
        return data
    if not float(append_to) > data.edges[-1]:
        raise ValueError(f"`append_to` must exceed the last HEPData edge {data.edges[-1]:g} GeV, got {append_to}")
    return data.append_bins([float(append_to)])


def load_cms_diphoton(
    data_dir: str | os.PathLike[str] | None = None,
    range: tuple[float, float] = (500.0, 10000.0),
    *,
    download: bool = True,
) -> UnbinnedData:
    """Load the 5,036 CMS Run 2 barrel-barrel diphoton masses (GeV).

    Parameters
    ----------
    data_dir : str or Path, optional
        Data directory (see :func:`data_dir`).
    range : (float, float), optional
        Fit range; default the paper's (500, 10000) GeV.
    download : bool, optional
        Download the file if it is missing. Default ``True``.

    Returns
    -------
    UnbinnedData
    """
    path = fetch(cms_diphoton_2024_ebeb, _CMS_NPY, data_dir=data_dir, download=download)
    return read_events(path, range=range)


def load_cms_diphoton_edges(
    data_dir: str | os.PathLike[str] | None = None, *, download: bool = True
) -> np.ndarray:
    """Load the bin edges of the CMS EBEB diphoton binning (500-4016 GeV).

    The source file tabulates a smooth background curve, not data; only its 169
    variable-width bins (170 edges) are returned.

    Parameters
    ----------
    data_dir : str or Path, optional
        Data directory (see :func:`data_dir`).
    download : bool, optional
        Download the file if it is missing. Default ``True``.

    Returns
    -------
    numpy.ndarray, shape (170,)
    """
    path = fetch(cms_diphoton_2024_ebeb, _CMS_EDGES, data_dir=data_dir, download=download)
    return read_bin_edges_cms(path)
