"""Study specifications: a validated, frozen :class:`StudySpec` and its TOML form.

A spec says everything that determines a study's numbers: which study (``bias``, ``coverage``
or ``spurious``, paper Section 4), the true models and the pseudo-dataset size, the fits, the
evaluation grid and the study-specific options. It is written in TOML::

    study = "bias"            # "bias" | "coverage" | "spurious"
    seed = 20250101           # root of all per-toy seeds
    n_toys = 5000             # pseudo-datasets per true model
    chunk_size = 25           # toys per task (and per result file)

    [data]
    true_models = ["f1", "f2", "f3", "f4"]
    n_events = 5036
    poisson = false           # true: n ~ Poisson(n_events) per toy
    range = [500.0, 10000.0]

    [fit]
    k = [2, 3, 4]
    families = ["f1", "f2", "f3", "f4"]
    starts = 5
    retries = 5
    cap = 50.0
    scale = 13000.0

    [grid]                    # bias and coverage
    lo = 500.0
    hi = 3500.0
    n = 1000

    [bootstrap]               # coverage only
    resamples = 1000
    confidence_level = 0.95
    split_starts = 2

    [signal]                  # spurious only
    masses = [600.0, 700.0, ...]
    width = [30.0, 60.0]      # width at the lowest and highest mass, linear in between
    float_mass = 0.0          # relative window of the floating mean (0 = fixed)
    float_width = 0.0

Every field is checked by :func:`spec_from_dict`; a bad value raises ``ValueError`` naming the
field, the rule and the value, e.g. ``"`fit.starts` must be an integer >= 1, got 0"``. Unknown
keys and sections that do not belong to the study are errors too, so a typo never silently
falls back to a default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # Python >= 3.11
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

__all__ = [
    "STUDIES",
    "TRUE_MODEL_NAMES",
    "StudySpec",
    "load_spec",
    "spec_from_dict",
]

STUDIES = ("bias", "coverage", "spurious")
#: the data-generating models of paper Section 4, in the order that fixes their seed index
TRUE_MODEL_NAMES = ("f1", "f2", "f3", "f4")
#: the mass hypotheses of the paper's spurious-signal study (600, 700, ..., 2000 GeV)
PAPER_MASSES = tuple(float(m) for m in range(600, 2001, 100))

_SECTIONS = {"data", "fit", "grid", "bootstrap", "signal"}
_TOP = {"study", "name", "seed", "n_toys", "chunk_size"}
_STUDY_SECTIONS = {"bias": {"grid"}, "coverage": {"grid", "bootstrap"}, "spurious": {"signal"}}
#: fields that do not change any number of a study; excluded from :attr:`StudySpec.key`
_COSMETIC = ("name", "n_toys")


@dataclass(frozen=True)
class StudySpec:
    """A validated study specification (see the module docstring for the TOML form).

    Build it with :func:`load_spec` or :func:`spec_from_dict`, which validate every field;
    the constructor itself does not.
    """

    study: str
    seed: int
    n_toys: int
    name: str = ""
    chunk_size: int = 10
    # [data]
    true_models: tuple[str, ...] = TRUE_MODEL_NAMES
    n_events: int = 5036
    poisson: bool = False
    range: tuple[float, float] = (500.0, 10000.0)
    # [fit]
    k: tuple[int, ...] = (1, 2, 3, 4)
    families: tuple[str, ...] = TRUE_MODEL_NAMES
    starts: int = 5
    retries: int = 5
    cap: float = 50.0
    scale: float = 13000.0
    method: str = "batched"
    bins: int = 200
    # [grid]
    grid_lo: float = 500.0
    grid_hi: float = 3500.0
    grid_n: int = 1000
    # [bootstrap]
    resamples: int = 1000
    confidence_level: float = 0.95
    split_starts: int = 2
    # [signal]
    masses: tuple[float, ...] = PAPER_MASSES
    width: tuple[float, float] = (30.0, 60.0)
    float_mass: float = 0.0
    float_width: float = 0.0
    source: str = field(default="", compare=False, repr=False)

    # ------------------------------------------------------------------ derived
    @property
    def n_chunks(self) -> int:
        """Chunks per true model."""
        return math.ceil(self.n_toys / self.chunk_size)

    @property
    def key(self) -> str:
        """sha256 of the fields that determine the numbers (all but ``name`` and ``n_toys``).

        Per-toy seeds do not depend on ``n_toys``, so a study directory can be extended to more
        toys; any other change makes the stored chunks meaningless and is refused on resume.
        """
        d = self.to_dict()
        for f in _COSMETIC:
            d.pop(f, None)
        blob = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def widths_at(self, masses: Any = None) -> list[float]:
        """Signal width at each mass: linear from ``width[0]`` at the lowest to ``width[1]`` at the highest mass."""
        ms = list(self.masses if masses is None else masses)
        lo, hi = min(self.masses), max(self.masses)
        if hi == lo:
            return [float(self.width[0])] * len(ms)
        return [float(self.width[0] + (m - lo) / (hi - lo) * (self.width[1] - self.width[0])) for m in ms]

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Nested dict in the TOML layout, holding only the sections of this study."""
        out: dict[str, Any] = {
            "study": self.study,
            "name": self.name,
            "seed": self.seed,
            "n_toys": self.n_toys,
            "chunk_size": self.chunk_size,
            "data": {
                "true_models": list(self.true_models),
                "n_events": self.n_events,
                "poisson": self.poisson,
                "range": list(self.range),
            },
            "fit": {
                "k": list(self.k),
                "families": list(self.families),
                "starts": self.starts,
                "retries": self.retries,
                "cap": self.cap,
                "scale": self.scale,
                "method": self.method,
                "bins": self.bins,
            },
        }
        sections = _STUDY_SECTIONS[self.study]
        if "grid" in sections:
            out["grid"] = {"lo": self.grid_lo, "hi": self.grid_hi, "n": self.grid_n}
        if "bootstrap" in sections:
            out["bootstrap"] = {
                "resamples": self.resamples,
                "confidence_level": self.confidence_level,
                "split_starts": self.split_starts,
            }
        if "signal" in sections:
            out["signal"] = {
                "masses": list(self.masses),
                "width": list(self.width),
                "float_mass": self.float_mass,
                "float_width": self.float_width,
            }
        return out

    def replace(self, **changes: Any) -> StudySpec:
        """A copy with ``changes``, validated again (e.g. ``spec.replace(n_toys=10)``)."""
        d = self.to_dict()
        flat = {"n_toys", "seed", "name", "chunk_size", "study"}
        for name, value in changes.items():
            if name in flat:
                d[name] = value
            else:
                raise ValueError(f"`{name}` cannot be replaced here; edit the spec file instead")
        return spec_from_dict(d, source=self.source)

    def differences(self, other: StudySpec) -> list[str]:
        """Human-readable ``field: self -> other`` lines for the fields that enter :attr:`key`."""
        a, b = _flatten(self.to_dict()), _flatten(other.to_dict())
        out = []
        for name in sorted(set(a) | set(b)):
            if name in _COSMETIC:
                continue
            if a.get(name) != b.get(name):
                out.append(f"{name}: {a.get(name, '(absent)')!r} -> {b.get(name, '(absent)')!r}")
        return out


def _flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


# ============================================================================ validation
def _int(name: str, v: Any, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {v!r}")
    return int(v)


def _float(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise ValueError(f"`{name}` must be a finite number, got {v!r}")
    return float(v)


def _positive(name: str, v: Any) -> float:
    x = _float(name, v)
    if not x > 0:
        raise ValueError(f"`{name}` must be > 0, got {v!r}")
    return x


def _fraction(name: str, v: Any, *, closed_low: bool) -> float:
    x = _float(name, v)
    ok = (0 <= x < 1) if closed_low else (0 < x < 1)
    if not ok:
        interval = "[0, 1)" if closed_low else "(0, 1)"
        raise ValueError(f"`{name}` must lie in {interval}, got {v!r}")
    return x


def _list(name: str, v: Any) -> list[Any]:
    if not isinstance(v, (list, tuple)) or len(v) == 0:
        raise ValueError(f"`{name}` must be a non-empty list, got {v!r}")
    return list(v)


def _names(name: str, v: Any, allowed: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    items = _list(name, v)
    for it in items:
        if it not in allowed:
            raise ValueError(f"`{name}` entries must be one of {sorted(allowed)}, got {it!r}")
    if len(set(items)) != len(items):
        raise ValueError(f"`{name}` must not repeat entries, got {items!r}")
    return tuple(items)


def _table(d: dict[str, Any], section: str) -> dict[str, Any]:
    t = d.get(section, {})
    if not isinstance(t, dict):
        raise ValueError(f"`{section}` must be a table ([{section}]), got {t!r}")
    return t


def _check_keys(where: str, table: dict[str, Any], allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            pre = f"{where}." if where else ""
            raise ValueError(f"`{pre}{key}` is not a known field; known fields are {sorted(allowed)}")


def spec_from_dict(d: dict[str, Any], *, source: str = "") -> StudySpec:
    """Validate a nested dict in the TOML layout and return a :class:`StudySpec`."""
    from ..models.families import FAMILIES

    if not isinstance(d, dict):
        raise ValueError(f"a study spec must be a table, got {type(d).__name__}")
    _check_keys("", d, _TOP | _SECTIONS)
    study = d.get("study")
    if study not in STUDIES:
        raise ValueError(f"`study` must be one of {list(STUDIES)}, got {study!r}")
    for section in _SECTIONS - {"data", "fit"}:
        if section in d and section not in _STUDY_SECTIONS[study]:
            owners = [s for s, secs in _STUDY_SECTIONS.items() if section in secs]
            raise ValueError(f"section `[{section}]` applies to study {' or '.join(map(repr, owners))}, got study {study!r}")
    if "seed" not in d:
        raise ValueError("`seed` is required (an integer >= 0)")
    if "n_toys" not in d:
        raise ValueError("`n_toys` is required (an integer >= 1)")
    kw: dict[str, Any] = {
        "study": study,
        "seed": _int("seed", d["seed"], 0),
        "n_toys": _int("n_toys", d["n_toys"], 1),
        "chunk_size": _int("chunk_size", d.get("chunk_size", 10), 1),
    }
    name = d.get("name", "")
    if not isinstance(name, str):
        raise ValueError(f"`name` must be a string, got {name!r}")
    kw["name"] = name

    data = _table(d, "data")
    _check_keys("data", data, {"true_models", "n_events", "poisson", "range"})
    kw["true_models"] = _names("data.true_models", data.get("true_models", list(TRUE_MODEL_NAMES)), TRUE_MODEL_NAMES)
    kw["n_events"] = _int("data.n_events", data.get("n_events", 5036), 10)
    poisson = data.get("poisson", False)
    if not isinstance(poisson, bool):
        raise ValueError(f"`data.poisson` must be true or false, got {poisson!r}")
    kw["poisson"] = poisson
    rng = _list("data.range", data.get("range", [500.0, 10000.0]))
    if len(rng) != 2:
        raise ValueError(f"`data.range` must be [lo, hi], got {rng!r}")
    lo, hi = (_float("data.range", v) for v in rng)
    if not 0 < lo < hi:
        raise ValueError(f"`data.range` must satisfy 0 < lo < hi, got {rng!r}")
    kw["range"] = (lo, hi)

    fit = _table(d, "fit")
    _check_keys("fit", fit, {"k", "families", "starts", "retries", "cap", "scale", "method", "bins"})
    ks = [_int("fit.k", v, 1) for v in _list("fit.k", fit.get("k", [1, 2, 3, 4]))]
    if len(set(ks)) != len(ks):
        raise ValueError(f"`fit.k` must not repeat entries, got {ks!r}")
    kw["k"] = tuple(sorted(ks))
    if 2 * max(ks) - 1 >= kw["n_events"]:
        raise ValueError(f"`data.n_events` must exceed the 2k - 1 = {2 * max(ks) - 1} parameters of k = {max(ks)}, got {kw['n_events']}")
    fams = _names("fit.families", fit.get("families", list(TRUE_MODEL_NAMES)), sorted(FAMILIES))
    missing = [m for m in kw["true_models"] if m not in fams]
    if missing:
        raise ValueError(
            f"`fit.families` must include every true model (its refit gives sigma(x) and the reference curves), "
            f"missing {missing!r} in {list(fams)!r}"
        )
    kw["families"] = fams
    kw["starts"] = _int("fit.starts", fit.get("starts", 5), 1)
    kw["retries"] = _int("fit.retries", fit.get("retries", 5), 0)
    kw["cap"] = _positive("fit.cap", fit.get("cap", 50.0))
    kw["scale"] = _positive("fit.scale", fit.get("scale", 13000.0))
    default_method = "reference" if study == "spurious" else "batched"
    method = fit.get("method", default_method)
    allowed = ("reference",) if study == "spurious" else ("batched", "reference")
    if method not in allowed:
        raise ValueError(f"`fit.method` must be one of {list(allowed)} for a {study} study, got {method!r}")
    kw["method"] = method
    kw["bins"] = _int("fit.bins", fit.get("bins", 200), 20)

    if "grid" in _STUDY_SECTIONS[study]:
        g = _table(d, "grid")
        _check_keys("grid", g, {"lo", "hi", "n"})
        glo, ghi = _float("grid.lo", g.get("lo", 500.0)), _float("grid.hi", g.get("hi", 3500.0))
        if not lo <= glo < ghi <= hi:
            raise ValueError(f"`grid.lo` < `grid.hi` must lie inside `data.range` {list(kw['range'])}, got [{glo}, {ghi}]")
        kw.update(grid_lo=glo, grid_hi=ghi, grid_n=_int("grid.n", g.get("n", 1000), 2))

    if study == "coverage":
        b = _table(d, "bootstrap")
        _check_keys("bootstrap", b, {"resamples", "confidence_level", "split_starts"})
        kw["resamples"] = _int("bootstrap.resamples", b.get("resamples", 1000), 2)
        kw["confidence_level"] = _fraction("bootstrap.confidence_level", b.get("confidence_level", 0.95), closed_low=False)
        kw["split_starts"] = _int("bootstrap.split_starts", b.get("split_starts", 2), 0)

    if study == "spurious":
        s = _table(d, "signal")
        _check_keys("signal", s, {"masses", "width", "float_mass", "float_width"})
        masses = [_float("signal.masses", m) for m in _list("signal.masses", s.get("masses", list(PAPER_MASSES)))]
        if any(b2 <= a2 for a2, b2 in zip(masses, masses[1:])):
            raise ValueError(f"`signal.masses` must be strictly increasing, got {masses!r}")
        if not (lo < masses[0] and masses[-1] < hi):
            raise ValueError(f"`signal.masses` must lie strictly inside `data.range` {list(kw['range'])}, got {masses!r}")
        width = _list("signal.width", s.get("width", [30.0, 60.0]))
        if len(width) != 2:
            raise ValueError(f"`signal.width` must be [width at lowest mass, width at highest mass], got {width!r}")
        kw["masses"] = tuple(masses)
        kw["width"] = tuple(_positive("signal.width", w) for w in width)
        kw["float_mass"] = _fraction("signal.float_mass", s.get("float_mass", 0.0), closed_low=True)
        kw["float_width"] = _fraction("signal.float_width", s.get("float_width", 0.0), closed_low=True)
    return StudySpec(**kw, source=source)


def load_spec(path: str | Path) -> StudySpec:
    """Read and validate a TOML study spec; ``name`` defaults to the file's stem."""
    p = Path(path)
    text = p.read_text()
    try:
        d = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{p}: not valid TOML: {exc}") from None
    try:
        spec = spec_from_dict(d, source=text)
    except ValueError as exc:
        raise ValueError(f"{p}: {exc}") from None
    if not spec.name:
        spec = dataclasses.replace(spec, name=p.stem)
    return spec
