"""Figures from expmix results (the ``plot`` extra: ``pip install expmix[plot]``).

What to use when:

- :func:`plot_selection`: delta-AIC (red dots) and delta-BIC (blue crosses) against the number of
  components k, as in the paper's Figures 1 and 3.
- :func:`plot_fit`: a spectrum with fitted curves on a log scale over a panel of normalised
  residuals, as in Figures 2 and 4. Unbinned data are binned for display with ``edges``.
- :func:`plot_residuals`: the residual panel alone, drawn into a given axes.

Every function draws into a given ``ax``/``fig`` or creates a :class:`matplotlib.figure.Figure`
(no pyplot, no global state), returns a small NamedTuple of the artists it made, and never shows
or saves anything: saving is the caller's job (``artists.fig.savefig(...)``).

Conventions of :func:`plot_fit`: the main panel shows *events per GeV*. Data points are the bin
counts divided by the bin width, at the bin centres, with 68% Garwood (exact Poisson) intervals;
fitted curves are the smooth densities ``N * f(m)``, with ``N`` the number of events in the fit.
The lower panel shows ``(n_b - nu_b) / sqrt(nu_b)`` per display bin, with ``nu_b = N * P(bin b)``
the model's exact bin expectation.

Styling: when a function creates the figure itself it applies the mplhep CMS style (if mplhep is
installed, otherwise a similar built-in style) inside a :func:`matplotlib.rc_context`, so the
global rcParams are never changed. Pass ``style=None`` to draw with the current rcParams, or a
dict of rcParams of your own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "FitArtists",
    "ResidualArtists",
    "SelectionArtists",
    "display_label",
    "plot_fit",
    "plot_residuals",
    "plot_selection",
    "style",
    "styled",
]

#: colours of the curves, in order (colour-blind friendly: the CMS/Petroff palette, mixture last in red)
CURVE_COLORS = ("#5790fc", "#f89c20", "#964a8b", "#7a21dd", "#9c9ca1", "#3f90da")
MIXTURE_COLOR = "#e42536"
_LINESTYLES = ("--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)), (0, (3, 1)))

_FALLBACK_STYLE: dict[str, Any] = {
    "figure.figsize": (10.0, 10.0),
    "font.size": 26,
    "axes.labelsize": "medium",
    "axes.linewidth": 2,
    "xtick.labelsize": "small",
    "ytick.labelsize": "small",
    "legend.fontsize": "small",
    "legend.frameon": False,
    "xtick.direction": "in",
    "ytick.direction": "in",
    "xtick.top": True,
    "ytick.right": True,
    "xtick.minor.visible": True,
    "ytick.minor.visible": True,
    "xtick.major.size": 12,
    "ytick.major.size": 12,
    "xtick.minor.size": 6,
    "ytick.minor.size": 6,
    "xaxis.labellocation": "right",
    "yaxis.labellocation": "top",
}


def _require_matplotlib() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - exercised by hiding matplotlib
        raise ImportError(
            "expmix.plotting needs matplotlib (and, for the house style, mplhep): "
            "pip install expmix[plot]"
        ) from exc
    return matplotlib


def style(name: str = "CMS") -> dict[str, Any]:
    """rcParams of the named mplhep style (``"CMS"``, ``"ATLAS"``, ...), or a similar fallback.

    The fallback (used when mplhep is not installed) has the CMS sizes: 10 x 10 inch figures,
    26 pt text, ticks inside on all four sides.
    """
    try:
        import mplhep
    except ImportError:
        return dict(_FALLBACK_STYLE)
    st = getattr(mplhep.style, name, None)
    if not isinstance(st, Mapping):
        raise ValueError(f"`style` must name an mplhep style such as 'CMS' or 'ATLAS', got {name!r}")
    return dict(st)


def styled(name: str | Mapping[str, Any] | None = "CMS") -> Any:
    """Context manager applying :func:`style` (or a dict of rcParams) to the rcParams.

    Mathtext (``$m_{jj}$``) is laid out when a figure is *drawn*, with the rcParams of that
    moment: save figures made with a style inside the same style to keep their fonts::

        art = plot_fit(data, fits)
        with styled():
            art.fig.savefig("fit.pdf")
    """
    mpl = _require_matplotlib()
    rc = {} if name is None else (dict(name) if isinstance(name, Mapping) else style(name))
    return mpl.rc_context(rc)


def _rc(style_arg: Any, creating: bool) -> dict[str, Any]:
    """rcParams to draw with: a named style only for figures we create, a dict always."""
    if style_arg is None:
        return {}
    if isinstance(style_arg, Mapping):
        return dict(style_arg)
    if isinstance(style_arg, str):
        return style(style_arg) if creating else {}
    raise TypeError(f"`style` must be None, a style name or a dict of rcParams, got {type(style_arg).__name__}")


def _new_figure(figsize: tuple[float, float] | None) -> Figure:
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


# ---------------------------------------------------------------------------- labels
_PRETTY = {
    "dijet": "Dijet function",
    "dijet5": "Dijet function (5 par.)",
    "dijet3": "Dijet function (3 par.)",
    "f1": "$f_1$",
    "f2": "$f_2$",
    "f3": "$f_3$",
    "f4": "$f_4$",
    "gpd": "GPD",
}


def display_label(result: Any) -> str:
    """Legend text for a fit result: ``"Exp. mixture (k = 4)"``, ``"Dijet function"``, ``"$f_2$"``."""
    kind = getattr(result, "kind", None)
    if kind == "mixture":
        return f"Exp. mixture ($k = {result.k}$)"
    if kind is not None:
        return _PRETTY.get(kind, str(kind))
    if hasattr(result, "rates"):  # an ExponentialMixture
        return f"Exp. mixture ($k = {len(result.rates)}$)"
    name = str(getattr(result, "name", type(result).__name__))
    return _PRETTY.get(name, name)


def _models(results: Any, labels: Any) -> list[tuple[str, Any, bool]]:
    """Normalise ``results`` to ``[(label, model, is_mixture)]``."""
    if isinstance(results, Mapping):
        items = list(results.items())
        given = [str(k) for k, _ in items]
        objs = [v for _, v in items]
    else:
        objs = list(results) if isinstance(results, Sequence) and not hasattr(results, "model") else [results]
        given = None
    if labels is not None:
        if isinstance(labels, Mapping):
            lab = [labels.get(getattr(o, "label", None), display_label(o)) for o in objs]
        else:
            lab = [str(s) for s in labels]
            if len(lab) != len(objs):
                raise ValueError(f"`labels` must have one entry per result ({len(objs)}), got {len(lab)}")
    elif given is not None:
        lab = given
    else:
        lab = [display_label(o) for o in objs]
    if not objs:
        raise ValueError("`results` must hold at least one fit result or model, got none")
    out = []
    for name, o in zip(lab, objs):
        model = getattr(o, "model", o)
        if not hasattr(model, "bin_probabilities") or not hasattr(model, "pdf"):
            raise TypeError(
                f"`results` entries must be FitResults or models with pdf() and bin_probabilities(), "
                f"got {type(o).__name__}"
            )
        out.append((name, model, getattr(o, "kind", None) == "mixture" or hasattr(model, "rates")))
    return out


def _styles(entries: list[tuple[str, Any, bool]]) -> list[dict[str, Any]]:
    out, j = [], 0
    for _, _, is_mix in entries:
        # the mixture is solid and drawn below the dashed references, so that all stay visible
        if is_mix:
            out.append({"color": MIXTURE_COLOR, "linestyle": "-", "linewidth": 3.0, "zorder": 3})
        else:
            out.append({"color": CURVE_COLORS[j % len(CURVE_COLORS)], "linestyle": _LINESTYLES[j % len(_LINESTYLES)],
                        "linewidth": 2.5, "zorder": 4})
            j += 1
    return out


# ---------------------------------------------------------------------------- binning
def _display_counts(data: Any, edges: Any | None) -> tuple[np.ndarray, np.ndarray]:
    """Counts of ``data`` in ``edges`` (a histogram of events, or a coarsening of a histogram)."""
    x = getattr(data, "x", None)
    if x is not None:  # unbinned
        if edges is None:
            lo, hi = data.range[0], float(np.max(x))
            edges = np.geomspace(lo, hi, 51) if lo > 0 else np.linspace(lo, hi, 51)
        e = np.asarray(edges, dtype=float)
        return e, np.histogram(x, e)[0].astype(float)
    if edges is None:
        return np.asarray(data.edges, float), np.asarray(data.counts, float)
    e = np.asarray(edges, dtype=float)
    idx = np.searchsorted(data.edges, e)
    if np.any(idx >= data.edges.size) or not np.allclose(data.edges[np.minimum(idx, data.edges.size - 1)], e):
        raise ValueError("`edges` must be a subset of the histogram's bin edges")
    cum = np.concatenate([[0.0], np.cumsum(data.counts)])
    return e, np.diff(cum[idx])


def _garwood(n: np.ndarray, cl: float = 0.682689492) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) central Poisson interval ``[lo, hi]`` for counts ``n``."""
    from scipy.stats import chi2

    a = 0.5 * (1.0 - cl)
    with np.errstate(invalid="ignore"):
        lo = np.where(n > 0, 0.5 * chi2.ppf(a, 2.0 * n), 0.0)
    hi = 0.5 * chi2.ppf(1.0 - a, 2.0 * (n + 1.0))
    return lo, hi


# ---------------------------------------------------------------------------- selection
class SelectionArtists(NamedTuple):
    """Artists of :func:`plot_selection`."""

    fig: Figure
    ax: Axes
    aic: Any
    bic: Any
    legend: Any


def plot_selection(
    selection: Any,
    ax: Axes | None = None,
    *,
    ks: Sequence[int] | None = None,
    note_hidden: bool = True,
    style: Any = "CMS",
    figsize: tuple[float, float] | None = (10.0, 8.0),
) -> SelectionArtists:
    """Delta-AIC (red dots) and delta-BIC (blue crosses) against k (paper Figures 1 and 3).

    Parameters
    ----------
    selection : SelectionResult
        From :func:`expmix.select`; its ``delta_aic``/``delta_bic`` are relative to the minimum
        over all fitted k.
    ax : matplotlib Axes, optional
        Draw here; default: a new :class:`~matplotlib.figure.Figure` of size ``figsize``.
    ks : sequence of int, optional
        Show only these k (e.g. ``(3, 4, 5, 6)`` when k = 1, 2 are far off scale, as in the
        paper's Figure 1). With ``note_hidden`` the omitted values are written in the axes.
    style : str, dict or None
        Style applied while drawing (see the module docstring); ignored for a given ``ax``
        unless it is a dict.
    """
    mpl = _require_matplotlib()
    from matplotlib.ticker import NullLocator

    creating = ax is None
    rc = _rc(style, creating)
    all_k = np.asarray(selection.ks)
    da, db = np.asarray(selection.delta_aic, float), np.asarray(selection.delta_bic, float)
    show = np.isin(all_k, list(ks)) if ks is not None else np.ones(all_k.size, bool)
    if not show.any():
        raise ValueError(f"`ks` must include at least one fitted k {tuple(all_k)}, got {ks!r}")
    with mpl.rc_context(rc):
        fig = _new_figure(figsize) if creating else ax.figure
        if creating:
            ax = fig.add_subplot()
        (aic_line,) = ax.plot(all_k[show], da[show], "o", color="red", markersize=14, label="AIC", zorder=3)
        (bic_line,) = ax.plot(all_k[show], db[show], "x", color="blue", markersize=16, markeredgewidth=3,
                              label="BIC", zorder=4)
        ax.set_xlabel("Number of components $k$")
        ax.set_ylabel("ΔAIC, ΔBIC")
        ax.set_xticks(all_k[show])
        ax.xaxis.set_minor_locator(NullLocator())
        lo, hi = all_k[show].min(), all_k[show].max()
        ax.set_xlim(lo - 0.5, hi + 0.5)
        top = max(float(max(da[show].max(), db[show].max())), 1.0)
        ax.set_ylim(-0.05 * top, 1.55 * top)  # headroom for the legend and the note
        ax.axhline(0.0, color="0.6", linewidth=1, zorder=1)
        legend = ax.legend(loc="upper left", title=f"chosen: AIC $k = {selection.k_aic}$, BIC $k = {selection.k_bic}$",
                           title_fontsize="small", alignment="left")
        if note_hidden and not show.all():
            hidden = "\n".join(
                f"$k = {k}$: {_sci(a)}, {_sci(b)}" for k, a, b in zip(all_k[~show], da[~show], db[~show])
            )
            ax.text(0.97, 0.96, "off scale (ΔAIC, ΔBIC):\n" + hidden, transform=ax.transAxes, ha="right",
                    va="top", fontsize="x-small", color="0.25", linespacing=1.4)
    return SelectionArtists(fig, ax, aic_line, bic_line, legend)


def _sci(v: float) -> str:
    """Short number for an annotation: 35.1, 5021, 4.8e5 -> mathtext."""
    if v < 1e4:
        return f"{v:.0f}" if v >= 100 else f"{v:.1f}"
    e = int(np.floor(np.log10(v)))
    return f"${v / 10**e:.1f}\\times10^{{{e}}}$"


# ---------------------------------------------------------------------------- residuals
class ResidualArtists(NamedTuple):
    """Artists of :func:`plot_residuals`: one stairs/marker artist per model, by label."""

    ax: Axes
    residuals: dict[str, Any]
    values: dict[str, np.ndarray]


def _residuals(counts: np.ndarray, edges: np.ndarray, model: Any, n_total: float) -> np.ndarray:
    exp = n_total * np.asarray(model.bin_probabilities(edges), float)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = (counts - exp) / np.sqrt(exp)
    return np.where(exp > 0, r, np.nan)


def plot_residuals(
    data: Any,
    results: Any,
    ax: Axes | None = None,
    *,
    edges: Any | None = None,
    labels: Any = None,
    markers: bool | None = None,
    style: Any = "CMS",
    ylim: tuple[float, float] | None = None,
) -> ResidualArtists:
    """Normalised residuals ``(n - nu) / sqrt(nu)`` per display bin for each model.

    Parameters
    ----------
    data : UnbinnedData or BinnedData
    results : FitResult, sequence of FitResults or mapping label -> FitResult (or models)
        Each needs ``model.bin_probabilities(edges)``; expectations are ``N * P(bin)`` with ``N``
        the number of events in ``data``.
    edges : array_like, optional
        Display bins (required for unbinned data unless the 50 log bins default suits).
    markers : bool, optional
        Markers (default for up to two models) or coloured steps (more models).
    """
    mpl = _require_matplotlib()
    creating = ax is None
    rc = _rc(style, creating)
    entries = _models(results, labels)
    sty = _styles(entries)
    e, counts = _display_counts(data, edges)
    n_tot = float(data.n_events)
    use_markers = len(entries) <= 2 if markers is None else markers
    centres = 0.5 * (e[1:] + e[:-1])
    arts: dict[str, Any] = {}
    vals: dict[str, np.ndarray] = {}
    with mpl.rc_context(rc):
        if creating:
            fig = _new_figure((10.0, 4.0))
            ax = fig.add_subplot()
        for j, ((name, model, _), s) in enumerate(zip(entries, sty)):
            r = _residuals(counts, e, model, n_tot)
            vals[name] = r
            if use_markers:
                # small horizontal offsets so that the models' points do not hide each other
                shift = (j - 0.5 * (len(entries) - 1)) * 0.18 * np.diff(e)
                arts[name] = ax.plot(centres + shift, r, "o" if j == 0 else "s", color=s["color"],
                                     markersize=6, label=name, zorder=s["zorder"])[0]
            else:
                arts[name] = ax.stairs(np.nan_to_num(r), e, color=s["color"], linestyle=s["linestyle"],
                                       linewidth=1.6 if s["linestyle"] != "-" else 2.2, label=name,
                                       zorder=s["zorder"], baseline=None)
        ax.axhline(0.0, color="black", linewidth=1.2, zorder=2)
        for y in (-2.0, 2.0):
            ax.axhline(y, color="0.6", linestyle=":", linewidth=1.2, zorder=1)
        finite = np.concatenate([v[np.isfinite(v)] for v in vals.values()] or [np.zeros(1)])
        if ylim is None:
            m = max(3.5, float(np.ceil(np.max(np.abs(finite)) + 0.5))) if finite.size else 3.5
            ylim = (-min(m, 6.0), min(m, 6.0))
        ax.set_ylim(*ylim)
        ax.set_ylabel("(n − ν) / √ν")
    return ResidualArtists(ax, arts, vals)


# ---------------------------------------------------------------------------- fit
def _log_mass_axis(ax: Axes, lo: float, hi: float) -> None:
    """Log mass axis with plain-number ticks (1000, 2000, 3000, 5000, ...) instead of 2x10^3."""
    from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

    ax.set_xscale("log")
    mantissas = (1, 1.5, 2, 3, 5, 7) if hi / lo < 8 else (1, 2, 3, 5)
    ticks = [m * 10.0**d for d in range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1) for m in mantissas]
    ax.xaxis.set_major_locator(FixedLocator([t for t in ticks if lo <= t <= hi]))
    fmt = ScalarFormatter()
    fmt.set_scientific(False)
    ax.xaxis.set_major_formatter(fmt)
    ax.xaxis.set_minor_formatter(NullFormatter())


class FitArtists(NamedTuple):
    """Artists of :func:`plot_fit`."""

    fig: Figure
    ax: Axes
    ax_residuals: Axes
    data: Any
    curves: dict[str, Any]
    residuals: dict[str, Any]
    legend: Any


def plot_fit(
    data: Any,
    results: Any,
    *,
    edges: Any | None = None,
    fig: Figure | None = None,
    labels: Any = None,
    xlabel: str = "$m$ [GeV]",
    title: str | None = None,
    logx: bool = False,
    residual_markers: bool | None = None,
    style: Any = "CMS",
    figsize: tuple[float, float] | None = (10.0, 10.0),
    data_label: str = "Data",
) -> FitArtists:
    """A spectrum with fitted curves (log scale) over normalised residuals (paper Figures 2, 4).

    Parameters
    ----------
    data : UnbinnedData or BinnedData
        The fitted data. A histogram is shown in its own bins, or coarsened to ``edges`` (a
        subset of its edges); events are binned with ``edges``.
    results : FitResult, sequence of FitResults or mapping label -> FitResult (or models)
        Models whose densities are drawn as ``N * f(m)`` events per GeV.
    edges : array_like, optional
        Display binning (e.g. the CMS EBEB edges for the diphoton data).
    fig : matplotlib Figure, optional
        Draw into this figure (its existing axes are left alone; two new axes are added).
    labels : sequence of str or mapping fit label -> str, optional
        Legend entries; default from :func:`display_label`.
    xlabel : str
        Label of the mass axis, with units (e.g. ``"$m_{jj}$ [GeV]"``).
    title : str, optional
        Legend title, e.g. the dataset.
    logx : bool
        Logarithmic mass axis.
    residual_markers : bool, optional
        See :func:`plot_residuals`.
    style : str, dict or None
        Style applied while drawing (see the module docstring).

    Returns
    -------
    FitArtists
    """
    mpl = _require_matplotlib()
    creating = fig is None
    rc = _rc(style, creating)
    entries = _models(results, labels)
    sty = _styles(entries)
    e, counts = _display_counts(data, edges)
    widths = np.diff(e)
    centres = 0.5 * (e[1:] + e[:-1])
    n_tot = float(data.n_events)
    with mpl.rc_context(rc):
        if creating:
            fig = _new_figure(figsize)
        gs = fig.add_gridspec(2, 1, height_ratios=(3, 1), hspace=0.0)
        ax = fig.add_subplot(gs[0])
        axr = fig.add_subplot(gs[1], sharex=ax)
        # data: events / GeV with Garwood intervals; empty bins are not drawn on the log scale
        nz = counts > 0
        lo, hi = _garwood(counts)
        dens = counts / widths
        err = np.vstack([(counts - lo) / widths, (hi - counts) / widths])
        data_art = ax.errorbar(centres[nz], dens[nz], yerr=err[:, nz], xerr=0.5 * widths[nz], fmt="o",
                               color="black", markersize=5, elinewidth=1.2, capsize=0, label=data_label, zorder=5)
        grid = np.geomspace(e[0], e[-1], 1200) if e[0] > 0 else np.linspace(e[0], e[-1], 1200)
        curves: dict[str, Any] = {}
        for (name, model, _), s in zip(entries, sty):
            y = n_tot * np.asarray(model.pdf(grid), float)
            curves[name] = ax.plot(grid, np.where(y > 0, y, np.nan), label=name, **s)[0]
        ax.set_yscale("log")
        pos = dens[nz]
        if pos.size:
            # down to where the curves leave the display range, but at most two decades below the data
            tail = min(float(np.nanmin(np.where(c.get_ydata() > 0, c.get_ydata(), np.nan))) for c in curves.values())
            ymin = min(float(pos.min()) / 5.0, max(tail, float(pos.min()) / 100.0))
            ax.set_ylim(ymin, float(pos.max()) * 10.0)
        ax.set_xlim(e[0], e[-1])
        ax.set_ylabel("Events / GeV")
        ax.tick_params(labelbottom=False)
        legend = ax.legend(handles=[data_art, *curves.values()], loc="upper right", title=title,
                           title_fontsize="small")
        res = plot_residuals(data, dict(zip([n for n, _, _ in entries], [m for _, m, _ in entries])), axr,
                             edges=e, markers=residual_markers, style=None)
        axr.set_xlabel(xlabel)
        if logx:
            _log_mass_axis(axr, e[0], e[-1])
        axr.set_xlim(e[0], e[-1])
    return FitArtists(fig, ax, axr, data_art, curves, res.residuals, legend)
