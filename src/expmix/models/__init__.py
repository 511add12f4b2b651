"""Spectrum models: the exponential mixture, the reference families and the Gaussian signal."""

from __future__ import annotations

from .mixture import ExponentialMixture

__all__ = ["ExponentialMixture"]
