"""Figures 5-7 of the paper from a :class:`~expmix.studies.summary.StudySummary` (``plot`` extra).

One row per true model; in each panel the AIC- and BIC-selected mixtures (thick) against the
four families (thin; the true family dashed black). Bias: the true model's +-1 sigma band;
coverage: the nominal level; spurious signal: 16-84% bands for the true model and the AIC
mixture, as in the paper's Figure 7. The functions build a ``matplotlib.figure.Figure``
(no pyplot state) and return it; saving is the caller's job (``expmix study plot`` writes PNG
and PDF).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .summary import StudySummary

__all__ = ["plot_bias", "plot_coverage", "plot_spurious", "plot_summary"]

_MIX = {"aic": dict(color="tab:red", lw=2.0, label="mixture (AIC)"),
        "bic": dict(color="tab:blue", lw=2.0, ls="--", label="mixture (BIC)")}
_FAM_COLORS = {"f1": "tab:green", "f2": "tab:purple", "f3": "tab:orange", "f4": "tab:brown"}


def _figure(n_rows: int) -> Any:
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - plot extra missing
        raise ImportError("plotting needs matplotlib: pip install expmix[plot]") from exc
    fig = Figure(figsize=(8.0, 2.4 * n_rows + 0.6), layout="constrained")
    axes = fig.subplots(n_rows, 1, sharex=True, squeeze=False)[:, 0]
    return fig, axes


def _style(label: str, true: str) -> dict[str, Any]:
    if label in _MIX:
        return dict(_MIX[label])
    if label == true:
        return dict(color="black", lw=1.2, ls=":", label=f"{label} (true)")
    return dict(color=_FAM_COLORS.get(label, None), lw=1.0, alpha=0.8, label=label)


def _finish(axes: Any, xlabel: str, loc: str) -> None:
    axes[-1].set_xlabel(xlabel)
    for ax in axes:  # one legend per row: the true family differs between rows
        ax.legend(ncol=4, fontsize="x-small", loc=loc)


def _rows(summary: StudySummary) -> list[str]:
    return [m for m in summary.spec.true_models if m in summary.curves]


def _shown(summary: StudySummary) -> list[str]:
    return [lab for lab in summary.labels if lab in ("aic", "bic") or lab in summary.spec.families]


def plot_bias(summary: StudySummary, *, ylim: float = 4.0) -> Any:
    """Figure 5: relative bias B(x) per true model; shaded: the true model's +-1 sigma band."""
    rows = _rows(summary)
    fig, axes = _figure(len(rows))
    for ax, model in zip(axes, rows):
        c = summary.curves[model]
        x = c["x"]
        ax.axhspan(-1.0, 1.0, color="0.85", label=r"true model $\pm1\sigma$")
        ax.axhline(0.0, color="0.4", lw=0.6)
        for lab in _shown(summary):
            ax.plot(x, np.clip(c["B"][summary.labels.index(lab)], -ylim, ylim), **_style(lab, model))
        ax.set_ylim(-ylim, ylim)
        ax.set_ylabel(r"$B(x)$")
        ax.set_title(f"true model {model}", loc="left", fontsize="medium")
    _finish(axes, r"$m_{\gamma\gamma}$ [GeV]", "upper right")
    return fig


def plot_coverage(summary: StudySummary) -> Any:
    """Figure 6: coverage C(x) per true model, with the nominal level."""
    rows = _rows(summary)
    fig, axes = _figure(len(rows))
    cl = summary.spec.confidence_level
    for ax, model in zip(axes, rows):
        c = summary.curves[model]
        ax.axhline(cl, color="0.3", lw=1.0, ls="--", label=f"{cl:.0%}")
        for lab in _shown(summary):
            ax.plot(c["x"], c["C"][summary.labels.index(lab)], **_style(lab, model))
        ax.set_ylim(0.0, 1.02)
        ax.set_ylabel(r"$C(x)$")
        ax.set_title(f"true model {model}", loc="left", fontsize="medium")
    _finish(axes, r"$m_{\gamma\gamma}$ [GeV]", "lower left")
    return fig


def plot_spurious(summary: StudySummary) -> Any:
    """Figure 7: median N_s / sigma_Ns per mass; 16-84% bands for the true model and the AIC mixture."""
    rows = _rows(summary)
    fig, axes = _figure(len(rows))
    for ax, model in zip(axes, rows):
        c = summary.curves[model]
        mass = c["mass"]
        ax.axhline(0.0, color="0.4", lw=0.6)
        for lab in _shown(summary):
            j = summary.labels.index(lab)
            st = _style(lab, model)
            if lab in (model, "aic"):
                ax.fill_between(mass, c["q16"][j], c["q84"][j], color=st.get("color") or "0.5", alpha=0.15, lw=0,
                                label=f"16-84% ({'true' if lab == model else 'AIC'})")
            ax.plot(mass, c["median"][j], marker="o", ms=3, **st)
        ax.set_ylabel(r"$N_s / \sigma_{N_s}$")
        ax.set_title(f"true model {model}", loc="left", fontsize="medium")
    _finish(axes, "signal mass [GeV]", "upper right")
    return fig


def plot_summary(summary: StudySummary) -> Any:
    """The figure of the summary's study."""
    return {"bias": plot_bias, "coverage": plot_coverage, "spurious": plot_spurious}[summary.spec.study](summary)
