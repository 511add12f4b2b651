"""Information criteria (paper footnote 2): ``AIC = 2 nll + 2p``, ``BIC = 2 nll + p ln n``.

``p`` is the number of free parameters (``2k - 1`` for a k-component mixture, the number of
shape parameters for a family) and ``n`` the number of *events*, also for binned data: a
histogram is a compression of ``n`` independent events, and its multinomial likelihood equals
the unbinned likelihood of the bin labels.
"""

from __future__ import annotations

import numpy as np

__all__ = ["aic", "bic"]


def aic(twice_nll: float, n_par: int) -> float:
    """Akaike information criterion ``-2 ln L + 2 p``."""
    return float(twice_nll + 2.0 * n_par)


def bic(twice_nll: float, n_par: int, n_data: float) -> float:
    """Bayesian information criterion ``-2 ln L + p ln n`` (``n`` = number of events)."""
    if not n_data > 0:
        raise ValueError(f"`n_data` must be > 0, got {n_data}")
    return float(twice_nll + n_par * np.log(n_data))
