"""Warning classes used by expmix."""

from __future__ import annotations

__all__ = ["ConvergenceWarning", "ExpmixWarning", "OptionalDependencyWarning"]


class ExpmixWarning(RuntimeWarning):
    """Base class of all expmix warnings."""


class ConvergenceWarning(ExpmixWarning):
    """No start of a fit converged to a valid minimum."""


class OptionalDependencyWarning(ExpmixWarning):
    """An optional dependency is missing and a feature falls back or is skipped."""


class ExpmixError(Exception):
    """Error while reading or fetching external data (files, downloads, checksums)."""
