"""expmix: finite exponential mixtures for smoothly falling backgrounds in bump hunts.

The method is Townsend, Osherson, Hildreth, Castruccio, "Modeling Falling Backgrounds with
Exponential Mixtures". Start with :func:`fit` and :func:`select` on an :class:`UnbinnedData` or
:class:`BinnedData`; :func:`merged_chi2` checks the goodness of fit.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .criteria import aic, bic
from .data import BinnedData, UnbinnedData
from .fit import FitResult, fit
from .gof import merged_chi2
from .models.families import FamilyModel
from .models.mixture import ExponentialMixture
from .selection import SelectionResult, select
from .signal import fit_signal

__all__ = [
    "BinnedData",
    "ExponentialMixture",
    "FamilyModel",
    "FitResult",
    "SelectionResult",
    "UnbinnedData",
    "__version__",
    "aic",
    "bic",
    "fit",
    "fit_signal",
    "merged_chi2",
    "select",
]
