"""Pseudo-datasets: the paper's true models, per-toy seeds and exact, vectorized sampling.

True models (paper Section 4): the CMS diphoton families f1..f4 with the parameters fitted to
the EBEB data, ``m`` in GeV, normalised on the range (default 500-10000 GeV):

====  =============================================  =========================================
f1    ``m^(5.71808 - 0.778647 ln m)``                 ``FamilyModel("f1", [5.71808, -0.778647])``
f2    ``exp(-0.00163184 m) m^(-1.82229^2)``           ``FamilyModel("f2", [-0.00163184, -1.82229^2])``
f3    ``(1 + 0.00228137 m)^(-2.7017^2)``              ``FamilyModel("f3", [0.00228137, -2.7017^2])``
f4    ``(1 + 0.0305273 m)^(-(3.85189 + 0.000275995 m))``  ``FamilyModel("f4", [0.0305273, -3.85189, -0.000275995])``
====  =============================================  =========================================

all with ``scale=1`` (``x = m``).

Seeds
-----
Toy ``t`` of true model ``j`` (``j`` = index in :data:`~expmix.studies.spec.TRUE_MODEL_NAMES`,
so f3's toys are the same whether or not f1 is studied too) owns the seed sequence
``SeedSequence(seed).spawn(4)[j].spawn(n_toys)[t]``, built directly as
``SeedSequence(seed, spawn_key=(j, t))`` (:func:`toy_seed`), so any toy can be rerun alone and
nothing depends on how toys are grouped into chunks or workers. A toy's seed has two children
(:func:`toy_streams`): stream 0 draws the events, stream 1 drives everything random in its
fits (starting points, bootstrap resamples).

Sampling
--------
:func:`sample_toys` draws each toy's uniforms from its own stream and pushes all of them through
the model's exact inverse cdf in one vectorized call (``model.ppf``: Newton iterations on the
exact cdf), block by block to bound memory. With ``poisson=True`` each toy first draws its own
``n ~ Poisson(n_events)``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..models.families import FamilyModel
from .spec import TRUE_MODEL_NAMES

__all__ = [
    "TRUE_PARAMETERS",
    "child_seed",
    "sample_toys",
    "toy_seed",
    "toy_streams",
    "true_model",
]

#: parameters of the true models (``scale = 1``, m in GeV), fitted to the CMS diphoton data
TRUE_PARAMETERS: dict[str, tuple[float, ...]] = {
    "f1": (5.71808, -0.778647),
    "f2": (-0.00163184, -(1.82229**2)),
    "f3": (0.00228137, -(2.7017**2)),
    "f4": (0.0305273, -3.85189, -0.000275995),
}

#: uniforms pushed through the inverse cdf at once
_BLOCK = 200_000


def true_model(name: str, support: tuple[float, float] = (500.0, 10000.0)) -> FamilyModel:
    """The data-generating model ``name`` (one of f1..f4), normalised on ``support``."""
    if name not in TRUE_PARAMETERS:
        raise ValueError(f"`name` must be one of {list(TRUE_PARAMETERS)}, got {name!r}")
    return FamilyModel(name, TRUE_PARAMETERS[name], support, scale=1.0)


def _model_index(model: str | int) -> int:
    if isinstance(model, str):
        if model not in TRUE_MODEL_NAMES:
            raise ValueError(f"`model` must be one of {list(TRUE_MODEL_NAMES)} or an index, got {model!r}")
        return TRUE_MODEL_NAMES.index(model)
    return int(model)


def toy_seed(seed: int, model: str | int, toy: int) -> np.random.SeedSequence:
    """Seed sequence of one toy: ``SeedSequence(seed).spawn(...)[model].spawn(...)[toy]``."""
    return np.random.SeedSequence(seed, spawn_key=(_model_index(model), int(toy)))


def child_seed(ss: np.random.SeedSequence, i: int) -> np.random.SeedSequence:
    """A fresh ``SeedSequence`` equal to the ``i``-th child of ``ss`` (does not mutate ``ss``)."""
    return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (int(i),), pool_size=ss.pool_size)


def toy_streams(ss: np.random.SeedSequence) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """The two children of a toy seed: (events, fits) -- equal to ``ss.spawn(2)`` on a fresh ``ss``."""
    return child_seed(ss, 0), child_seed(ss, 1)


def sample_toys(
    model: Any,
    n_events: int,
    seeds: Sequence[np.random.SeedSequence],
    *,
    poisson: bool = False,
) -> list[np.ndarray]:
    """Draw one pseudo-dataset per seed from ``model`` (anything with a vectorized ``ppf``).

    Parameters
    ----------
    model : FamilyModel or ExponentialMixture
        Normalised on its ``support``; sampling is by its exact inverse cdf.
    n_events : int
        Events per toy, or the Poisson mean when ``poisson`` is true.
    seeds : sequence of SeedSequence, length n_toys
        Event streams, one per toy (``toy_streams(toy_seed(...))[0]``).
    poisson : bool
        Draw each toy's size from ``Poisson(n_events)``.

    Returns
    -------
    list of ndarray
        ``n_toys`` arrays of events (each of length ``n_events`` unless ``poisson``).
    """
    if int(n_events) != n_events or n_events < 1:
        raise ValueError(f"`n_events` must be an integer >= 1, got {n_events!r}")
    uniforms = []
    for ss in seeds:
        g = np.random.default_rng(ss)
        n = int(g.poisson(n_events)) if poisson else int(n_events)
        uniforms.append(g.random(n))
    sizes = np.array([u.size for u in uniforms], dtype=np.intp)
    if sizes.sum() == 0:
        return [np.empty(0) for _ in uniforms]
    u = np.concatenate(uniforms)
    x = np.concatenate([np.asarray(model.ppf(u[i : i + _BLOCK]), dtype=float) for i in range(0, u.size, _BLOCK)])
    x = np.clip(x, *model.support)
    return np.split(x, np.cumsum(sizes)[:-1])
