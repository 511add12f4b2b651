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


def format_selection(sel: Any) -> str:
    """Model-selection table (k, NLL, p, AIC, BIC, deltas) followed by the reference comparison."""
    lines = [
        f"{'k':>3} {'NLL':>16} {'p':>3} {'AIC':>16} {'BIC':>16} {'dAIC':>9} {'dBIC':>9}  starts@best",
    ]
    for row in sel.table():
        flag = "" if row["valid"] else "  INVALID"
        lines.append(
            f"{row['k']:>3} {row['nll']:>16.4f} {row['n_free']:>3} {row['aic']:>16.3f} {row['bic']:>16.3f} "
            f"{row['delta_aic']:>9.2f} {row['delta_bic']:>9.2f}  {row['n_converged']}/{row['n_starts']}{flag}"
        )
    lines.append(f"chosen: k = {sel.k_aic} by AIC, k = {sel.k_bic} by BIC")
    if sel.references:
        lines.append("")
        lines.append(f"{'model':<14} {'NLL':>16} {'p':>3} {'dAIC':>9} {'dBIC':>9}")
        for row in sel.comparison():
            lines.append(f"{row['model']:<14} {row['nll']:>16.4f} {row['n_free']:>3} {row['delta_aic']:>9.2f} {row['delta_bic']:>9.2f}")
    return "\n".join(lines)


def markdown_table(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> str:
    """Markdown table; ``columns`` are ``(key, header, format)`` triples."""
    head = "| " + " | ".join(h for _, h, _ in columns) + " |"
    sep = "|" + "|".join("---" if i == 0 else "---:" for i in range(len(columns))) + "|"
    body = ["| " + " | ".join(format(r[k], f) if not isinstance(r[k], str) else r[k] for k, _, f in columns) + " |" for r in rows]
    return "\n".join([head, sep, *body])


def latex_table(rows: list[dict[str, Any]], columns: list[tuple[str, str, str]], caption: str = "", label: str = "") -> str:
    """LaTeX ``table`` with booktabs rules; ``columns`` as in :func:`markdown_table`."""
    spec = "l" + "r" * (len(columns) - 1)
    out = ["\\begin{table}[htbp]", "\\centering", f"\\begin{{tabular}}{{{spec}}}", "\\toprule",
           " & ".join(h for _, h, _ in columns) + " \\\\", "\\midrule"]
    for r in rows:
        out.append(" & ".join(format(r[k], f) if not isinstance(r[k], str) else r[k] for k, _, f in columns) + " \\\\")
    out += ["\\bottomrule", "\\end{tabular}"]
    if caption:
        out.append(f"\\caption{{{caption}}}")
    if label:
        out.append(f"\\label{{{label}}}")
    out.append("\\end{table}")
    return "\n".join(out)
