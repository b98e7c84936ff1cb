"""The plain-language parts of an ICP discovery: the statement, the other view, the tiers."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["statement_text", "other_view_line", "coverage_line"]


def _pct(v: float) -> str:
    return "n/a" if not np.isfinite(v) else f"{100 * v:.0f}%"


def statement_text(rules: pd.DataFrame, leadership: pd.DataFrame) -> str:
    """The ICP in plain language: "We are for ...", "We are not for ...", and what lies outside."""
    conf = rules[rules["confirmed"]] if not rules.empty else rules
    lines = []
    for side, opener in (("icp", "We are for"), ("anti_icp", "We are not for")):
        part = conf[conf["side"] == side] if not conf.empty else conf
        if part.empty:
            lines.append(f"{opener}: not enough evidence (no {'ICP' if side == 'icp' else 'anti-ICP'} "
                         "rule held up on the holdout accounts).")
            continue
        first = part.iloc[0]
        texts = first["rule"]
        extra = ""
        if "churn_rate" in part:
            extra = (f" They churn at {_pct(first['churn_rate'])} against {_pct(first['rest_churn_rate'])} "
                     f"for everyone else")
            if "mean_value_usd" in part and np.isfinite(first.get("mean_value_usd", np.nan)):
                extra += (f", and are worth ${first['mean_value_usd']:,.0f} a year against "
                          f"${first['rest_mean_value_usd']:,.0f}")
            extra += f" (evidence: {first['strength']})."
        lines.append(f"{opener} accounts where {texts}.{extra}")
        if len(part) > 1:
            kind = "better" if side == "icp" else "worse"
            lines.append(f"Also {kind} than average: " + "; ".join(
                f"{r.rule} ({r.strength})" for r in part.iloc[1:].itertuples()) + ".")
    if not leadership.empty and conf is not None and not conf.empty and (conf["side"] == "icp").any():
        lead = leadership.set_index("measure")["outside_icp"]
        bits = [f"{_pct(v)} of {k}" for k, v in lead.items()]
        lines.append("Outside the ICP: " + ", ".join(bits) + ".")
    return "\n".join(lines)


def other_view_line(view: pd.DataFrame, name: str) -> str:
    """One sentence: what the other outcome's search confirms."""
    if view.empty or not view["confirmed"].any():
        return f"By {name} alone: no rule held up on the holdout accounts."
    bits = []
    for side, word in (("icp", "for"), ("anti_icp", "not for")):
        part = view[(view["side"] == side) & view["confirmed"]]
        if len(part):
            r = part.iloc[0]
            churn = (f" (churn {_pct(r['churn_rate'])} against {_pct(r['rest_churn_rate'])})"
                     if "churn_rate" in part else "")
            bits.append(f"{word} accounts where {r['rule']}{churn}")
    return f"By {name} alone: " + "; ".join(bits) + "."


def coverage_line(coverage: pd.DataFrame, basis: str) -> str:
    """One sentence: how the fit-score tiers did on the holdout accounts."""
    if coverage.empty or "share_renewed_gross_profit" not in coverage:
        return ""
    cov = coverage.set_index("tier")
    top = next((t for t in cov.index if "+" in t), None)
    first, last = cov.index[0], cov.index[-2] if top else cov.index[-1]
    text = (f"Fit score ({basis}), on the {int(cov.loc[cov.index != top, 'n_accounts'].sum())} holdout "
            f"accounts: tiers {top.replace('+', ' and ')} are {_pct(cov.loc[top, 'share_accounts'])} of "
            f"the accounts and hold {_pct(cov.loc[top, 'share_renewed_gross_profit'])} of the renewed gross "
            "profit") if top else ""
    if text and "renewal_rate" in cov:
        text += (f"; tier {first} renews at {_pct(cov.loc[first, 'renewal_rate'])} "
                 f"({_pct(cov.loc[first, 'renewal_ci_low'])} to {_pct(cov.loc[first, 'renewal_ci_high'])}) "
                 f"against {_pct(cov.loc[last, 'renewal_rate'])} ({_pct(cov.loc[last, 'renewal_ci_low'])} "
                 f"to {_pct(cov.loc[last, 'renewal_ci_high'])}) in tier {last}")
    return text + "." if text else ""
