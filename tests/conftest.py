"""Shared, generic fixtures: a seeded random generator and the path of ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

#: the shared data directory next to the repository (../shared/data); tests needing it skip without it
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def rng() -> np.random.Generator:
    """A fresh generator with a fixed seed for every test (no global seeding)."""
    return np.random.default_rng(20240601)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data; skips the test when the directory is missing."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data directory {SHARED_DATA} not available")
    return SHARED_DATA
