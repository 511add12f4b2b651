"""Study specs: the example files, defaults, and one error per validation rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from expmix.studies.spec import PAPER_MASSES, StudySpec, load_spec, spec_from_dict

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def base(study: str = "bias", **sections) -> dict:
    d = {"study": study, "seed": 1, "n_toys": 4}
    d.update(sections)
    return d


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_examples_load(path: Path) -> None:
    spec = load_spec(path)
    assert isinstance(spec, StudySpec)
    assert spec.name == path.stem
    assert spec.source == path.read_text()
    assert spec_from_dict(spec.to_dict()).key == spec.key


def test_paper_examples_have_the_paper_configuration() -> None:
    bias = load_spec(EXAMPLES / "bias_paper.toml")
    cov = load_spec(EXAMPLES / "coverage_paper.toml")
    spur = load_spec(EXAMPLES / "spurious_paper.toml")
    for s in (bias, cov, spur):
        assert s.n_events == 5036 and not s.poisson
        assert s.range == (500.0, 10000.0)
        assert s.k == (2, 3, 4)
        assert s.true_models == s.families == ("f1", "f2", "f3", "f4")
        assert s.cap == 50.0
    assert bias.n_toys == 5000 and (bias.grid_lo, bias.grid_hi, bias.grid_n) == (500.0, 3500.0, 1000)
    assert cov.n_toys == 400 and cov.resamples == 1000 and cov.confidence_level == 0.95
    assert spur.n_toys == 1000 and spur.masses == PAPER_MASSES and len(spur.masses) == 15
    assert spur.widths_at() == pytest.approx([30.0 + 30.0 * i / 14 for i in range(15)])
    assert (spur.float_mass, spur.float_width) == (0.0, 0.0)


def test_defaults() -> None:
    s = spec_from_dict(base())
    assert s.k == (1, 2, 3, 4) and s.starts == 5 and s.n_events == 5036 and s.chunk_size == 10
    assert s.n_chunks == 1
    sp = spec_from_dict(base("spurious"))
    assert sp.masses == PAPER_MASSES and sp.width == (30.0, 60.0)


def test_key_ignores_name_and_n_toys_only() -> None:
    s = spec_from_dict(base())
    assert s.replace(n_toys=100).key == s.key
    assert spec_from_dict({**base(), "name": "other"}).key == s.key
    other = spec_from_dict({**base(), "fit": {"starts": 3}})
    assert other.key != s.key
    assert s.differences(other) == ["fit.starts: 5 -> 3"]


def test_k_is_sorted() -> None:
    assert spec_from_dict(base(fit={"k": [3, 1, 2]})).k == (1, 2, 3)


@pytest.mark.parametrize(
    ("d", "match"),
    [
        ({"study": "bump", "seed": 1, "n_toys": 1}, r"`study` must be one of \['bias', 'coverage', 'spurious'\], got 'bump'"),
        ({"study": "bias", "n_toys": 1}, r"`seed` is required"),
        ({"study": "bias", "seed": 1}, r"`n_toys` is required"),
        (base(seed=-1), r"`seed` must be an integer >= 0, got -1"),
        ({**base(), "n_toys": 0}, r"`n_toys` must be an integer >= 1, got 0"),
        ({**base(), "n_toys": 2.5}, r"`n_toys` must be an integer >= 1, got 2.5"),
        ({**base(), "chunk_size": True}, r"`chunk_size` must be an integer >= 1, got True"),
        ({**base(), "name": 3}, r"`name` must be a string, got 3"),
        ({**base(), "toys": 3}, r"`toys` is not a known field"),
        (base(data={"n_event": 10}), r"`data.n_event` is not a known field"),
        (base(data={"true_models": ["f5"]}), r"`data.true_models` entries must be one of .*got 'f5'"),
        (base(data={"true_models": []}), r"`data.true_models` must be a non-empty list, got \[\]"),
        (base(data={"true_models": ["f1", "f1"]}), r"`data.true_models` must not repeat entries"),
        (base(data={"n_events": 5}), r"`data.n_events` must be an integer >= 10, got 5"),
        (base(data={"poisson": "yes"}), r"`data.poisson` must be true or false, got 'yes'"),
        (base(data={"range": [500.0]}), r"`data.range` must be \[lo, hi\]"),
        (base(data={"range": [600.0, 500.0]}), r"`data.range` must satisfy 0 < lo < hi, got \[600.0, 500.0\]"),
        (base(data={"range": [500.0, "x"]}), r"`data.range` must be a finite number, got 'x'"),
        (base(fit={"k": [0, 1]}), r"`fit.k` must be an integer >= 1, got 0"),
        (base(fit={"k": [1, 1]}), r"`fit.k` must not repeat entries"),
        (base(data={"n_events": 10}, fit={"k": [6]}), r"`data.n_events` must exceed the 2k - 1 = 11 parameters"),
        (base(fit={"families": ["f1", "f2"]}), r"`fit.families` must include every true model.*\['f3', 'f4'\]"),
        (base(fit={"families": ["f1", "f2", "f3", "f4", "nope"]}), r"`fit.families` entries must be one of .*got 'nope'"),
        (base(fit={"starts": 0}), r"`fit.starts` must be an integer >= 1, got 0"),
        (base(fit={"retries": -1}), r"`fit.retries` must be an integer >= 0, got -1"),
        (base(fit={"cap": 0.0}), r"`fit.cap` must be > 0, got 0.0"),
        (base(fit={"scale": float("inf")}), r"`fit.scale` must be a finite number, got inf"),
        (base(grid={"n": 1}), r"`grid.n` must be an integer >= 2, got 1"),
        (base(grid={"lo": 400.0}), r"`grid.lo` < `grid.hi` must lie inside `data.range`"),
        (base(grid="x"), r"`grid` must be a table"),
        (base(signal={}), r"section `\[signal\]` applies to study 'spurious', got study 'bias'"),
        (base(bootstrap={}), r"section `\[bootstrap\]` applies to study 'coverage', got study 'bias'"),
        (base("spurious", grid={}), r"section `\[grid\]` applies to study 'bias' or 'coverage', got study 'spurious'"),
        (base("coverage", bootstrap={"resamples": 1}), r"`bootstrap.resamples` must be an integer >= 2, got 1"),
        (base("coverage", bootstrap={"confidence_level": 1.0}), r"`bootstrap.confidence_level` must lie in \(0, 1\), got 1.0"),
        (base("coverage", bootstrap={"split_starts": -1}), r"`bootstrap.split_starts` must be an integer >= 0, got -1"),
        (base("spurious", signal={"masses": [700.0, 600.0]}), r"`signal.masses` must be strictly increasing"),
        (base("spurious", signal={"masses": [400.0]}), r"`signal.masses` must lie strictly inside `data.range`"),
        (base("spurious", signal={"width": [30.0]}), r"`signal.width` must be \[width at lowest mass, width at highest mass\]"),
        (base("spurious", signal={"width": [30.0, -1.0]}), r"`signal.width` must be > 0, got -1.0"),
        (base("spurious", signal={"float_mass": 1.0}), r"`signal.float_mass` must lie in \[0, 1\), got 1.0"),
        (base("spurious", signal={"float_width": -0.1}), r"`signal.float_width` must lie in \[0, 1\), got -0.1"),
    ],
)
def test_validation_errors_name_field_rule_and_value(d: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        spec_from_dict(d)


def test_load_spec_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text('study = "bias"\nseed = 1\nn_toys = 0\n')
    with pytest.raises(ValueError, match=r"bad.toml: `n_toys` must be an integer >= 1, got 0"):
        load_spec(p)
    p.write_text("study = \n")
    with pytest.raises(ValueError, match=r"bad.toml: not valid TOML"):
        load_spec(p)


def test_replace_validates() -> None:
    s = spec_from_dict(base())
    with pytest.raises(ValueError, match=r"`n_toys` must be an integer >= 1, got 0"):
        s.replace(n_toys=0)
    with pytest.raises(ValueError, match=r"`starts` cannot be replaced here"):
        s.replace(starts=3)
