"""Readers that turn files and histogram objects into :class:`~expmix.data.BinnedData` and
:class:`~expmix.data.UnbinnedData`, and JSON writers.

What to use when
----------------
- A HEPData table (``.yaml``), e.g. the ATLAS dijet spectrum: :func:`read_hepdata`.
  Needs PyYAML (``pip install expmix[io]``).
- Unbinned events in a ``.npy``, whitespace ``.txt``/``.dat`` or ``.csv`` file (the CMS
  diphoton masses): :func:`read_events`.
- A histogram written as text (``low high count`` or ``edge count`` rows):
  :func:`read_histogram_text`; write one with :func:`write_histogram_text`.
- The bin edges of a CMS ``500GeV-506GeV : Integral=...`` text file:
  :func:`read_bin_edges_cms` (such files hold a smooth curve, not data, so only the edges are
  returned).
- An in-memory ``hist.Hist`` / ``boost_histogram.Histogram`` (or any 1-D UHI histogram):
  :func:`from_hist`.
- A ROOT file: :func:`read_root` (a TH1 gives binned data, a TTree branch unbinned events).
  Needs uproot (``pip install expmix[io]``).
- Whatever the command line was given: :func:`read_file` dispatches on the suffix (and, for
  text files, on the number of columns; see its docstring).
- Results and dictionaries to disk: :func:`write_json`; :func:`to_jsonable` converts numpy
  scalars and arrays, dataclasses and objects with ``to_dict()`` to plain JSON types.

Errors
------
A file whose *content* breaks its format (bad YAML structure, non-contiguous bins, ragged or
non-numeric text rows) raises :class:`expmix.warnings.ExpmixError`. A bad *argument* (an
unknown column or header name, an index out of range, a ``range`` that splits a bin) raises
``ValueError``. Both messages name the file or argument, the rule and the offending value. A
missing file raises the usual ``FileNotFoundError``.

Fit ranges
----------
Every reader takes ``range``. For binned data, ``range=(lo, hi)`` keeps the bins between two
existing bin edges (``hi`` may be ``inf`` for "up to the last edge"); a value that falls inside
a bin raises ``ValueError``, because a bin cannot be split. For events, ``range`` is the fit
range handed to :class:`~expmix.data.UnbinnedData` (default: the data minimum and maximum);
events outside it raise ``ValueError`` rather than being dropped silently, so select them with
numpy first if that is what you want.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .data import BinnedData, UnbinnedData
from .warnings import ExpmixError

__all__ = [
    "from_hist",
    "read_bin_edges_cms",
    "read_events",
    "read_file",
    "read_hepdata",
    "read_histogram_text",
    "read_root",
    "to_jsonable",
    "write_histogram_text",
    "write_json",
]

_INSTALL_IO = "pip install expmix[io]"
_TEXT_SUFFIXES = (".txt", ".csv", ".dat")
_EDGE_RTOL = 1e-9


# --------------------------------------------------------------------------- helpers


def _import_optional(module: str, package: str, function: str) -> Any:
    """Import ``module`` or raise ImportError naming the extra that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"expmix.io.{function} requires the optional dependency {package!r}, which is not "
            f"installed; install it with `{_INSTALL_IO}` (or `pip install {package}`)"
        ) from exc


def _make_binned(
    counts: np.ndarray,
    edges: np.ndarray,
    *,
    weighted: bool,
    range: Any,
    source: str,
) -> BinnedData:
    """Apply ``range`` (bin selection on existing edges) and build the container."""
    counts = np.asarray(counts, dtype=float)
    edges = np.asarray(edges, dtype=float)
    if range is not None:
        try:
            lo, hi = (float(v) for v in range)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"`range` must be a pair (lo, hi), got {range!r}") from exc
        if math.isinf(hi) and hi > 0:
            hi = float(edges[-1])
        if not lo < hi:
            raise ValueError(f"`range` must satisfy lo < hi, got ({lo}, {hi})")
        idx = []
        for name, value in (("lo", lo), ("hi", hi)):
            match = np.flatnonzero(np.isclose(edges, value, rtol=_EDGE_RTOL, atol=0.0))
            if match.size == 0:
                raise ValueError(
                    f"`range` {name} = {value} must be one of the bin edges of {source} "
                    f"({edges[0]:g} ... {edges[-1]:g}, {edges.size} edges); a range inside a bin "
                    "would split it"
                )
            idx.append(int(match[0]))
        counts = counts[idx[0] : idx[1]]
        edges = edges[idx[0] : idx[1] + 1]
    try:
        return BinnedData(counts, edges, weighted=weighted)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from exc


def _make_unbinned(x: np.ndarray, *, range: Any, source: str) -> UnbinnedData:
    try:
        return UnbinnedData(np.asarray(x, dtype=float), range)
    except ValueError as exc:
        raise ValueError(f"{source}: {exc}") from exc


def _to_float(value: Any, what: str) -> float:
    """Convert a YAML scalar (PyYAML leaves ``1e+06`` as a string) to float."""
    if isinstance(value, bool):
        raise ExpmixError(f"{what} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ExpmixError(f"{what} must be a number, got {value!r}") from None


# --------------------------------------------------------------------------- HEPData


def read_hepdata(
    path: str | Path,
    *,
    dependent: int | str = 0,
    range: tuple[float, float] | None = None,
    weighted: bool = False,
) -> BinnedData:
    """Read a binned spectrum from a HEPData YAML table.

    The bins come from ``independent_variables[0].values`` (each entry with ``low`` and
    ``high``), the counts from ``dependent_variables[dependent].values[i].value``.

    Parameters
    ----------
    path : str or Path
        The table file, e.g. ``HEPData-ins1759712-v1-Table_2.yaml``.
    dependent : int or str, optional
        Which dependent variable holds the counts: an index (negative allowed) or a header
        name, matched exactly against ``header.name``. When several dependent variables share
        the name (HEPData tables often label the observed counts and the fit alike), the
        **first** one in the file is used; pass the index to pick another. Default 0.
    range : (float, float), optional
        Keep only the bins between these two bin edges; ``hi`` may be ``inf``. Default: all
        bins.
    weighted : bool, optional
        Accept non-integer values (e.g. a fitted curve or a weighted histogram). Default
        ``False``.

    Returns
    -------
    BinnedData
        Counts of shape (n_bins,) and edges of shape (n_bins + 1,).

    Raises
    ------
    ImportError
        PyYAML is not installed (``pip install expmix[io]``).
    ExpmixError
        The file is not valid YAML, lacks the HEPData keys, holds a non-numeric value or
        bins that are not contiguous.
    ValueError
        ``dependent`` matches no dependent variable, or ``range`` does not fall on bin edges.

    Examples
    --------
    >>> data = read_hepdata("HEPData-ins1759712-v1-Table_2.yaml")  # doctest: +SKIP
    >>> len(data), data.range  # doctest: +SKIP
    (91, (1100.0, 8208.0))
    """
    yaml = _import_optional("yaml", "pyyaml", "read_hepdata")
    path = Path(path)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as fh:
        try:
            doc = yaml.load(fh, Loader=loader)
        except yaml.YAMLError as exc:
            raise ExpmixError(f"{path}: not valid YAML ({exc})") from exc

    if not isinstance(doc, Mapping):
        raise ExpmixError(
            f"{path}: a HEPData table must be a YAML mapping with keys 'independent_variables' "
            f"and 'dependent_variables', got {type(doc).__name__}"
        )
    indep = doc.get("independent_variables")
    dep = doc.get("dependent_variables")
    for key, value in (("independent_variables", indep), ("dependent_variables", dep)):
        if not isinstance(value, list) or not value or not all(isinstance(v, Mapping) for v in value):
            raise ExpmixError(
                f"{path}: '{key}' must be a non-empty list of mappings, got {value!r:.80}"
            )

    # --- choose the dependent variable
    names = [d["header"].get("name") if isinstance(d.get("header"), Mapping) else None for d in dep]
    if isinstance(dependent, str):
        if dependent not in names:
            raise ValueError(
                f"`dependent` {dependent!r} matches no dependent variable header name in {path}; "
                f"available: {names}"
            )
        index = names.index(dependent)
    elif isinstance(dependent, (int, np.integer)) and not isinstance(dependent, bool):
        index = int(dependent)
        if not -len(dep) <= index < len(dep):
            raise ValueError(
                f"`dependent` index {index} is out of range for {path}, which has "
                f"{len(dep)} dependent variable(s): {names}"
            )
    else:
        raise ValueError(f"`dependent` must be an int index or a header name, got {dependent!r}")

    # --- bins
    bins = indep[0].get("values")
    if not isinstance(bins, list) or not bins:
        raise ExpmixError(f"{path}: independent_variables[0].values must be a non-empty list, got {bins!r:.80}")
    low = np.empty(len(bins))
    high = np.empty(len(bins))
    for i, b in enumerate(bins):
        if not isinstance(b, Mapping) or "low" not in b or "high" not in b:
            raise ExpmixError(
                f"{path}: independent_variables[0].values[{i}] must have 'low' and 'high' "
                f"(a binned variable), got {b!r}"
            )
        low[i] = _to_float(b["low"], f"{path}: independent_variables[0].values[{i}].low")
        high[i] = _to_float(b["high"], f"{path}: independent_variables[0].values[{i}].high")
    gaps = ~np.isclose(high[:-1], low[1:], rtol=_EDGE_RTOL, atol=0.0)
    if gaps.any():
        i = int(np.flatnonzero(gaps)[0])
        raise ExpmixError(
            f"{path}: bins must be contiguous (high of bin i == low of bin i+1), got bin {i} "
            f"high = {high[i]:g} and bin {i + 1} low = {low[i + 1]:g}"
        )
    edges = np.append(low, high[-1])

    # --- counts
    values = dep[index].get("values")
    label = f"{path}: dependent_variables[{index}]"
    if not isinstance(values, list):
        raise ExpmixError(f"{label}.values must be a list, got {values!r:.80}")
    if len(values) != len(bins):
        raise ExpmixError(
            f"{label} must have one value per bin ({len(bins)} bins), got {len(values)} values"
        )
    counts = np.empty(len(values))
    for i, v in enumerate(values):
        if not isinstance(v, Mapping) or "value" not in v:
            raise ExpmixError(f"{label}.values[{i}] must be a mapping with 'value', got {v!r}")
        counts[i] = _to_float(v["value"], f"{label}.values[{i}].value")
    source = f"{path} (dependent variable {index})"
    return _make_binned(counts, edges, weighted=weighted, range=range, source=source)


# --------------------------------------------------------------------------- text tables


def _default_delimiter(path: Path, delimiter: str | None) -> str | None:
    if delimiter is not None:
        return delimiter
    return "," if path.suffix.lower() == ".csv" else None


def _parse_float(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _read_table(path: Path, delimiter: str | None) -> tuple[list[str] | None, np.ndarray]:
    """Parse a numeric text table: ``#`` comments, blank lines and one header row allowed.

    Returns the header (or None) and a float array of shape (n_rows, n_cols).
    """
    header: list[str] | None = None
    rows: list[list[float]] = []
    ncol: int | None = None
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            cells = [c.strip() for c in line.split(delimiter)]
            values = [_parse_float(c) for c in cells]
            if any(v is None for v in values):
                if header is None and not rows:
                    header = cells
                    ncol = len(cells)
                    continue
                bad = cells[[v is None for v in values].index(True)]
                raise ExpmixError(
                    f"{path}: line {lineno} must hold numbers only (one header row is allowed "
                    f"before the data), got {bad!r} in {line!r}"
                )
            if ncol is None:
                ncol = len(values)
            elif len(values) != ncol:
                raise ExpmixError(
                    f"{path}: every row must have the same number of columns ({ncol}), got "
                    f"{len(values)} on line {lineno}: {line!r}"
                )
            rows.append(values)  # type: ignore[arg-type]
    if not rows:
        raise ExpmixError(f"{path}: the file holds no numeric rows")
    return header, np.asarray(rows, dtype=float).reshape(len(rows), ncol)


def _pick_column(
    table: np.ndarray, header: list[str] | None, column: int | str | None, source: str
) -> np.ndarray:
    ncol = table.shape[1]
    if column is None:
        if ncol != 1:
            raise ValueError(
                f"`column` must be given for {source}, which has {ncol} columns"
                + (f" {header}" if header else "")
            )
        return table[:, 0]
    if isinstance(column, str):
        if header is None or column not in header:
            raise ValueError(
                f"`column` {column!r} is not a column name of {source}; "
                + (
                    f"available: {header}"
                    if header
                    else "the file has no header row (a header written as a '#' comment is ignored)"
                )
            )
        return table[:, header.index(column)]
    if isinstance(column, (int, np.integer)) and not isinstance(column, bool):
        if not -ncol <= int(column) < ncol:
            raise ValueError(f"`column` index {column} is out of range for {source}, which has {ncol} columns")
        return table[:, int(column)]
    raise ValueError(f"`column` must be None, an int index or a header name, got {column!r}")


def read_events(
    path: str | Path,
    *,
    column: int | str | None = None,
    range: tuple[float, float] | None = None,
    delimiter: str | None = None,
) -> UnbinnedData:
    """Read unbinned events from a ``.npy``, ``.txt``/``.dat`` or ``.csv`` file.

    Parameters
    ----------
    path : str or Path
        ``.npy``: a 1-D array, a 2-D array (pick a column with ``column``) or a structured
        array (pick a field by name). ``.txt``/``.dat``: whitespace-separated numbers.
        ``.csv``: comma-separated. Text files may have ``#`` comments, blank lines and one
        header row of column names.
    column : int or str, optional
        Column index, or header/field name, required when there is more than one column.
    range : (float, float), optional
        Fit range; default ``(min(x), max(x))``. Events outside it raise ``ValueError``.
    delimiter : str, optional
        Overrides the delimiter of text files (default: ``,`` for ``.csv``, whitespace
        otherwise).

    Returns
    -------
    UnbinnedData
        Events of shape (n,).

    Raises
    ------
    ExpmixError
        Ragged or non-numeric text rows, an empty file, an array of the wrong shape.
    ValueError
        A missing or unknown ``column``, or events outside ``range``.

    Examples
    --------
    >>> data = read_events("diphoton_data.npy", range=(500.0, 10000.0))  # doctest: +SKIP
    >>> len(data)  # doctest: +SKIP
    5036
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        arr = np.load(path, allow_pickle=False)
        source = f"{path}"
        if arr.dtype.names:
            if not isinstance(column, str) or column not in arr.dtype.names:
                raise ValueError(
                    f"`column` must name a field of the structured array in {path}; "
                    f"available: {list(arr.dtype.names)}, got {column!r}"
                )
            x = arr[column]
        elif arr.ndim == 1:
            if column not in (None, 0, -1):
                raise ValueError(f"`column` must be None for the 1-D array in {path}, got {column!r}")
            x = arr
        elif arr.ndim == 2:
            if isinstance(column, str):
                raise ValueError(f"`column` must be an int index for the 2-D array in {path}, got {column!r}")
            x = _pick_column(arr, None, column, source)
        else:
            raise ExpmixError(f"{path}: events must be a 1-D or 2-D array, got shape {arr.shape}")
        if not np.issubdtype(np.asarray(x).dtype, np.number):
            raise ExpmixError(f"{path}: events must be numeric, got dtype {np.asarray(x).dtype}")
        return _make_unbinned(np.asarray(x, dtype=float).ravel(), range=range, source=source)
    if suffix in _TEXT_SUFFIXES or delimiter is not None:
        header, table = _read_table(path, _default_delimiter(path, delimiter))
        x = _pick_column(table, header, column, str(path))
        return _make_unbinned(x, range=range, source=str(path))
    raise ValueError(
        f"`path` {path} has an unsupported suffix {path.suffix!r} for events; expected .npy, "
        ".txt, .dat or .csv (or pass `delimiter` for another text file)"
    )


def read_histogram_text(
    path: str | Path,
    *,
    range: tuple[float, float] | None = None,
    weighted: bool = False,
    delimiter: str | None = None,
) -> BinnedData:
    """Read a histogram from a text table.

    Two layouts are accepted (``#`` comments, blank lines and one header row allowed;
    whitespace-separated, or comma-separated for ``.csv``):

    - **three columns** ``low high count``, one row per bin; the bins must be contiguous
      (``high`` of a row equals ``low`` of the next);
    - **two columns** ``edge count`` with n_bins + 1 rows: row i gives the low edge of bin i
      and its count, and the last row gives the upper edge of the last bin with the count
      written as ``nan``. Any other value there raises :class:`ExpmixError`; this catches a
      ``center count`` file, which would otherwise be misread silently.

    :func:`write_histogram_text` writes either layout.

    Parameters
    ----------
    path : str or Path
        The text file.
    range : (float, float), optional
        Keep only the bins between these two bin edges (``hi`` may be ``inf``).
    weighted : bool, optional
        Accept non-integer counts. Default ``False``.
    delimiter : str, optional
        Overrides the delimiter (default: ``,`` for ``.csv``, whitespace otherwise).

    Returns
    -------
    BinnedData

    Raises
    ------
    ExpmixError
        Wrong number of columns, ragged or non-numeric rows, non-contiguous bins, a last
        ``edge count`` row whose count is not ``nan``, or a CMS ``500GeV-506GeV : ...`` file
        (use :func:`read_bin_edges_cms`).
    """
    path = Path(path)
    _reject_cms_text(path)
    header, table = _read_table(path, _default_delimiter(path, delimiter))
    ncol = table.shape[1]
    if ncol == 3:
        low, high, counts = table.T
        gaps = ~np.isclose(high[:-1], low[1:], rtol=_EDGE_RTOL, atol=0.0)
        if gaps.any():
            i = int(np.flatnonzero(gaps)[0])
            raise ExpmixError(
                f"{path}: bins must be contiguous (high of row i == low of row i+1), got bin {i} "
                f"high = {high[i]:g} and bin {i + 1} low = {low[i + 1]:g}"
            )
        edges = np.append(low, high[-1])
    elif ncol == 2:
        if table.shape[0] < 2:
            raise ExpmixError(
                f"{path}: an 'edge count' histogram needs n_bins + 1 >= 2 rows, got {table.shape[0]}"
            )
        if not np.isnan(table[-1, 1]):
            raise ExpmixError(
                f"{path}: in the two-column 'edge count' layout the last row holds the upper edge "
                f"of the last bin and its count must be nan, got {table[-1, 1]:g} (a 'center "
                "count' file is not supported: write 'low high count' rows instead)"
            )
        edges = table[:, 0]
        counts = table[:-1, 1]
    else:
        raise ExpmixError(
            f"{path}: a histogram text file must have 3 columns (low high count) or 2 columns "
            f"(edge count), got {ncol}"
        )
    return _make_binned(counts, edges, weighted=weighted, range=range, source=str(path))


def write_histogram_text(
    data: BinnedData, path: str | Path, *, layout: str = "low-high", delimiter: str | None = None
) -> Path:
    """Write a histogram in a layout :func:`read_histogram_text` reads back exactly.

    Parameters
    ----------
    data : BinnedData
        The histogram.
    path : str or Path
        Output file (overwritten).
    layout : {"low-high", "edge"}, optional
        ``"low-high"``: rows ``low high count``; ``"edge"``: rows ``edge count`` with a final
        ``edge nan`` row. Default ``"low-high"``.
    delimiter : str, optional
        Column separator; default ``,`` for ``.csv`` and a space otherwise.

    Returns
    -------
    Path
        The written file.
    """
    if not isinstance(data, BinnedData):
        raise ValueError(f"`data` must be BinnedData, got {type(data).__name__}")
    path = Path(path)
    sep = delimiter if delimiter is not None else ("," if path.suffix.lower() == ".csv" else " ")
    lo, hi, c = data.edges[:-1], data.edges[1:], data.counts
    if layout == "low-high":
        head = ["low", "high", "count"]
        rows = [[repr(float(a)), repr(float(b)), repr(float(n))] for a, b, n in zip(lo, hi, c)]
    elif layout == "edge":
        head = ["edge", "count"]
        rows = [[repr(float(a)), repr(float(n))] for a, n in zip(lo, c)]
        rows.append([repr(float(data.edges[-1])), "nan"])
    else:
        raise ValueError(f"`layout` must be 'low-high' or 'edge', got {layout!r}")
    text = "\n".join(sep.join(r) for r in [head, *rows]) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- CMS edges text

_CMS_LINE = re.compile(
    r"^\s*(?P<lo>[-+0-9.eE]+)\s*GeV\s*-\s*(?P<hi>[-+0-9.eE]+)\s*GeV\s*:(?P<rest>.*)$"
)


def _reject_cms_text(path: Path) -> None:
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            if raw.strip() and not raw.lstrip().startswith("#"):
                if _CMS_LINE.match(raw):
                    raise ExpmixError(
                        f"{path}: looks like a CMS '500GeV-506GeV : Integral=...' binning file, "
                        "which holds a smooth curve, not data; read its bin edges with "
                        "expmix.io.read_bin_edges_cms"
                    )
                return


def read_bin_edges_cms(path: str | Path) -> np.ndarray:
    """Read the bin edges of a CMS text file with lines ``500GeV-506GeV : Integral=...``.

    Such files (e.g. ``high_mass_diphoton_EBEB.txt``) tabulate a smooth background curve,
    not data, so only the binning is returned: for plots and for merged-bin chi2 tables.

    Parameters
    ----------
    path : str or Path
        The text file, one bin per line; blank lines and ``#`` comments are skipped.

    Returns
    -------
    numpy.ndarray, shape (n_bins + 1,)
        Strictly increasing float edges in GeV.

    Raises
    ------
    ExpmixError
        A line does not match ``<lo>GeV-<hi>GeV : ...``, or the bins are not contiguous and
        increasing.

    Examples
    --------
    >>> edges = read_bin_edges_cms("high_mass_diphoton_EBEB.txt")  # doctest: +SKIP
    >>> edges.size, edges[0], edges[-1]  # doctest: +SKIP
    (169, 500.0, 4016.0)
    """
    path = Path(path)
    lows: list[float] = []
    highs: list[float] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            m = _CMS_LINE.match(line)
            lo = _parse_float(m["lo"]) if m else None
            hi = _parse_float(m["hi"]) if m else None
            if lo is None or hi is None:
                raise ExpmixError(
                    f"{path}: line {lineno} must look like '<lo>GeV-<hi>GeV : ...', got {line!r}"
                )
            lows.append(lo)
            highs.append(hi)
    if not lows:
        raise ExpmixError(f"{path}: no '<lo>GeV-<hi>GeV' lines found")
    low, high = np.asarray(lows), np.asarray(highs)
    gaps = ~np.isclose(high[:-1], low[1:], rtol=_EDGE_RTOL, atol=0.0)
    if gaps.any():
        i = int(np.flatnonzero(gaps)[0])
        raise ExpmixError(
            f"{path}: bins must be contiguous, got bin {i} ending at {high[i]:g} GeV and bin "
            f"{i + 1} starting at {low[i + 1]:g} GeV"
        )
    edges = np.append(low, high[-1])
    if np.any(np.diff(edges) <= 0):
        i = int(np.flatnonzero(np.diff(edges) <= 0)[0])
        raise ExpmixError(f"{path}: bin edges must increase, got {edges[i]:g} then {edges[i + 1]:g} GeV")
    return edges


# --------------------------------------------------------------------------- histogram objects


def _storage_is_weighted(h: Any) -> bool:
    storage = getattr(h, "storage_type", None)
    name = getattr(storage, "__name__", "")
    return name in ("Weight", "WeightedMean")


def from_hist(h: Any, *, weighted: bool | None = None, range: tuple[float, float] | None = None) -> BinnedData:
    """Convert a 1-D ``hist.Hist`` / ``boost_histogram.Histogram`` to :class:`BinnedData`.

    Anything with ``.axes[0].edges`` (an array, or a method returning one, as in uproot)
    and ``.values()`` is accepted. Underflow and overflow bins are ignored.

    Parameters
    ----------
    h : histogram
        A one-dimensional histogram of counts (not a profile / mean storage).
    weighted : bool, optional
        ``None`` (default) decides from the histogram: a ``Weight`` storage, or variances
        that differ from the values, give ``weighted=True``.
    range : (float, float), optional
        Keep only the bins between these two bin edges.

    Returns
    -------
    BinnedData

    Raises
    ------
    ValueError
        ``h`` is not a 1-D histogram of counts.
    """
    axes = getattr(h, "axes", None)
    if axes is None or not callable(getattr(h, "values", None)):
        raise ValueError(f"`h` must be a histogram with .axes and .values(), got {type(h).__name__}")
    if len(axes) != 1:
        raise ValueError(f"`h` must be one-dimensional, got {len(axes)} axes")
    kind = str(getattr(h, "kind", "COUNT")).upper()
    if "MEAN" in kind:
        raise ValueError(f"`h` must hold counts, got a {kind} (profile) histogram")
    edges = axes[0].edges
    edges = np.asarray(edges() if callable(edges) else edges, dtype=float)
    counts = np.asarray(h.values(), dtype=float)
    if weighted is None:
        weighted = _storage_is_weighted(h)
        if not weighted and callable(getattr(h, "variances", None)):
            var = h.variances()
            if var is not None and np.shape(var) == counts.shape:
                weighted = not np.allclose(np.asarray(var, dtype=float), counts)
    return _make_binned(counts, edges, weighted=bool(weighted), range=range, source=f"`h` ({type(h).__name__})")


# --------------------------------------------------------------------------- ROOT


def read_root(
    path: str | Path,
    key: str,
    *,
    branch: str | None = None,
    range: tuple[float, float] | None = None,
    weighted: bool | None = None,
) -> BinnedData | UnbinnedData:
    """Read a TH1 (binned) or a TTree branch (unbinned) from a ROOT file through uproot.

    Parameters
    ----------
    path : str or Path
        The ROOT file.
    key : str
        Name of the object in the file (``"dir/hist"`` for subdirectories).
    branch : str, optional
        If given, ``key`` must be a TTree (or an RNTuple, which uproot >= 5.4 writes for a
        plain ``file[key] = {...}``) and this flat numeric branch (field) is read as events.
    range : (float, float), optional
        For a TH1: keep the bins between these two bin edges. For a branch: the fit range
        (default: data minimum and maximum; events outside raise ``ValueError``).
    weighted : bool, optional
        For a TH1: ``None`` (default) sets ``weighted=True`` when the stored sum of squared
        weights differs from the counts.

    Returns
    -------
    BinnedData or UnbinnedData
        ``BinnedData`` for a TH1 (flow bins dropped), ``UnbinnedData`` for a branch.

    Raises
    ------
    ImportError
        uproot is not installed (``pip install expmix[io]``).
    ValueError
        ``key`` or ``branch`` is not in the file, or the object has the wrong type.
    """
    uproot = _import_optional("uproot", "uproot", "read_root")
    path = Path(path)
    with uproot.open(path) as f:
        try:
            obj = f[key]
        except KeyError:
            keys = sorted({k.split(";")[0] for k in f.keys()})
            raise ValueError(f"`key` {key!r} is not in {path}; available: {keys}") from None
        classname = getattr(obj, "classname", type(obj).__name__)
        if branch is not None:
            if not hasattr(obj, "arrays") or branch not in getattr(obj, "keys", lambda: [])():
                available = list(obj.keys()) if hasattr(obj, "arrays") else None
                raise ValueError(
                    f"`branch` {branch!r} is not a branch of {key!r} ({classname}) in {path}; "
                    + (f"available: {available}" if available is not None else "it is not a TTree")
                )
            try:
                x = np.asarray(obj[branch].array(library="np"))
            except Exception as exc:  # uproot raises many kinds for unsupported branches
                raise ExpmixError(f"{path}: cannot read branch {branch!r} of {key!r} as a numpy array ({exc})") from exc
            if x.dtype == object or x.ndim != 1 or not np.issubdtype(x.dtype, np.number):
                raise ExpmixError(
                    f"{path}: branch {branch!r} of {key!r} must be a flat numeric branch, got dtype "
                    f"{x.dtype} and shape {x.shape}"
                )
            return _make_unbinned(x, range=range, source=f"{path}:{key}/{branch}")
        if not hasattr(obj, "to_numpy") or not classname.startswith("TH1"):
            raise ValueError(
                f"`key` {key!r} in {path} must be a TH1 histogram (or pass `branch` for a TTree), "
                f"got {classname}"
            )
        counts, edges = obj.to_numpy(flow=False)
        if weighted is None:
            var = obj.variances(flow=False)
            weighted = var is not None and not np.allclose(np.asarray(var, dtype=float), counts)
        return _make_binned(counts, edges, weighted=bool(weighted), range=range, source=f"{path}:{key}")


# --------------------------------------------------------------------------- dispatch


def read_file(path: str | Path, **kw: Any) -> BinnedData | UnbinnedData:
    """Read data from a file, choosing the reader from the suffix (used by the CLI).

    Rules:

    - ``.yaml`` / ``.yml``: :func:`read_hepdata`.
    - ``.root``: :func:`read_root` (pass ``key=``, and ``branch=`` for a TTree).
    - ``.npy``: :func:`read_events`.
    - ``.txt`` / ``.csv`` / ``.dat``: if ``column=`` is given, :func:`read_events`. Otherwise
      the numeric columns are counted (after ``#`` comments, blank lines and an optional
      header row): **1 column** means events (:func:`read_events`); **2 or 3 columns** mean a
      histogram (:func:`read_histogram_text`: ``edge count`` or ``low high count``). Any other
      number raises :class:`ExpmixError` asking for ``column=``. A CMS
      ``500GeV-506GeV : ...`` file raises :class:`ExpmixError` pointing to
      :func:`read_bin_edges_cms`.

    Parameters
    ----------
    path : str or Path
        The file.
    **kw
        Passed on to the chosen reader.

    Returns
    -------
    BinnedData or UnbinnedData
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return read_hepdata(path, **kw)
    if suffix == ".root":
        return read_root(path, **kw)
    if suffix == ".npy":
        return read_events(path, **kw)
    if suffix in _TEXT_SUFFIXES:
        if kw.get("column") is not None:
            return read_events(path, **kw)
        _reject_cms_text(path)
        _, table = _read_table(path, _default_delimiter(path, kw.get("delimiter")))
        ncol = table.shape[1]
        if ncol == 1:
            return read_events(path, **kw)
        if ncol in (2, 3):
            return read_histogram_text(path, **kw)
        raise ExpmixError(
            f"{path}: cannot tell events from a histogram with {ncol} columns; pass column= to "
            "read one column as events"
        )
    raise ValueError(
        f"`path` {path} has an unsupported suffix {path.suffix!r}; expected .yaml, .yml, .root, "
        ".npy, .txt, .csv or .dat"
    )


# --------------------------------------------------------------------------- JSON


def to_jsonable(obj: Any) -> Any:
    """Convert ``obj`` recursively to plain JSON types.

    numpy scalars become Python scalars, arrays nested lists, tuples and sets lists (sets
    sorted), mapping keys strings, ``Path`` objects strings; objects with a ``to_dict()``
    method and dataclass instances become dictionaries. Non-finite floats are kept, and
    :func:`json.dumps` writes them as ``NaN`` / ``Infinity`` (which Python reads back).

    Parameters
    ----------
    obj : object
        The value to convert.

    Returns
    -------
    object
        Built from dict, list, str, int, float, bool and None only.

    Raises
    ------
    TypeError
        A value of a type with no JSON form (e.g. complex).
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj)
    if isinstance(obj, np.generic):
        if isinstance(obj, np.complexfloating):
            raise TypeError(f"cannot convert complex value {obj!r} to JSON")
        return to_jsonable(obj.item())
    if isinstance(obj, np.ndarray):
        if np.iscomplexobj(obj):
            raise TypeError(f"cannot convert complex array of dtype {obj.dtype} to JSON")
        if obj.dtype == object:
            return [to_jsonable(v) for v in obj]
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(to_jsonable(k)): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((to_jsonable(v) for v in obj), key=repr)
    if callable(getattr(obj, "to_dict", None)):
        return to_jsonable(obj.to_dict())
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    raise TypeError(f"cannot convert {type(obj).__name__} to JSON: {obj!r:.80}")


def write_json(obj: Any, path: str | Path) -> Path:
    """Write ``obj`` as JSON with sorted keys and an indent of 2 (see :func:`to_jsonable`).

    Parameters
    ----------
    obj : object
        Anything :func:`to_jsonable` converts.
    path : str or Path
        Output file (overwritten).

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    text = json.dumps(to_jsonable(obj), sort_keys=True, indent=2)
    path.write_text(text + "\n", encoding="utf-8")
    return path
