"""Text formatting of results: fit summaries, selection tables (markdown, LaTeX), PDG rounding."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["format_fit", "pdg_round"]


def pdg_round(value: float, error: float) -> tuple[str, str]:
    """Round ``value +- error`` by the PDG rule (RPP introduction, section 5.3).

    The three highest digits of the error decide: 100-354 keep two significant digits,
    355-949 keep one, 950-999 round up to 1000 and keep two.
    """
    if not (math.isfinite(error) and error > 0):
        return f"{value:.6g}", f"{error}"
    expo = math.floor(math.log10(error))
    three = int(round(error / 10 ** (expo - 2)))
    if three >= 1000:
        three, expo = three // 10, expo + 1
    if three <= 354:
        digits = 2
    elif three <= 949:
        digits = 1
    else:
        digits, expo = 2, expo + 1
    decimals = digits - 1 - expo
    rounded_err = round(error, decimals)
    fmt = f"{{:.{max(decimals, 0)}f}}"
    if decimals < 0:
        return fmt.format(round(value, decimals)), fmt.format(rounded_err)
    return fmt.format(value), fmt.format(rounded_err)


def format_fit(result: Any) -> str:
    """Multi-line summary of a :class:`~expmix.fit.FitResult`."""
    head = (
        f"{result.label}: NLL = {result.nll:.4f}, free parameters = {result.n_free}, "
        f"AIC = {result.aic:.3f}, BIC = {result.bic:.3f}, "
        f"{'valid' if result.valid else 'INVALID'}"
        f"{', parameter at limit' if result.at_limit else ''}, "
        f"{result.n_converged}/{result.n_starts} starts at the best minimum"
    )
    lines = [head]
    for n, v, e in zip(result.names, result.values, result.errors):
        sv, se = pdg_round(float(v), float(e))
        lines.append(f"  {n:>6} = {sv} +- {se}")
    return "\n".join(lines)
