"""The leadership summary: the quarter on one page, with actions derived from the numbers.

:func:`leadership_summary` takes the results of the analyses (ICP, churn risk,
grades, grade movement, segments) and returns a :class:`LeadershipSummary`: the
ICP statement, the share of the base outside the ICP and what it costs, the top
risks with the ARR at stake, the grade movement, and three to five recommended
actions. Each action comes from a rule in :data:`ACTION_RULES` (plain data:
a trigger on the numbers, a title and a reason) and quotes the numbers behind it,
so a reader can check why it was recommended.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["LeadershipSummary", "leadership_summary", "ACTION_RULES"]


def _pct(v: float) -> str:
    return "n/a" if v is None or not np.isfinite(v) else f"{v:.0%}"


def _usd(v: float) -> str:
    if v is None or not np.isfinite(v):
        return "n/a"
    if abs(v) >= 1e6:
        return f"${v / 1e6:,.1f}M"
    if abs(v) >= 1e3:
        return f"${v / 1e3:,.0f}k"
    return f"${v:,.0f}"


# Each rule: the facts it needs, when it fires, its priority (higher first), and its wording.
# Facts are computed in _facts(); thresholds are data, not code branches.
ACTION_RULES: tuple[Mapping[str, Any], ...] = (
    {"id": "stop_anti_icp", "needs": "anti_loss_share", "when": lambda f: f["anti_loss_share"] >= 0.05,
     "priority": lambda f: 0.8 + min(f["anti_loss_share"] / max(f["anti_base_share"], 1e-9), 5) / 10,
     "title": "Stop chasing the anti-ICP: {anti_rule}",
     "why": "These accounts are {anti_base_share} {base_word} but {anti_loss_share} {loss_word}; "
            "take them out of outbound lists and price in their cost to serve."},
    {"id": "focus_icp", "needs": "outside_loss_share", "when": lambda f: f["outside_loss_share"] > f["outside_base_share"],
     "priority": lambda f: f["outside_loss_share"] - f["outside_base_share"] + 0.5,
     "title": "Point sales and marketing at the ICP: {icp_rule}",
     "why": "Accounts outside the ICP are {outside_base_share} {base_word} but {outside_loss_share} {loss_word}."},
    {"id": "save_critical", "needs": "critical_arr_at_risk",
     "when": lambda f: f["critical_accounts"] > 0 and np.isfinite(f["critical_arr_at_risk"]),
     "priority": lambda f: 1 + f["critical_arr_at_risk"] / max(f["total_arr"], 1) * 10,
     "title": "Call the {critical_accounts} critical-risk accounts this month",
     "why": "{critical_arr_at_risk_text} of ARR is expected to be lost from accounts with a churn probability "
            "above {critical_cutoff}; the top {top_n} alone put {top_arr_at_risk_text} at stake."},
    {"id": "save_critical_customers", "needs": "critical_accounts",
     "when": lambda f: f["critical_accounts"] > 0 and not np.isfinite(f.get("critical_arr_at_risk", np.nan)),
     "priority": lambda f: 1.0,
     "title": "Call the {critical_accounts} critical-risk customers this month",
     "why": "Each has a churn probability above {critical_cutoff}; together about {critical_expected} of them "
            "are expected to leave within a year."},
    {"id": "stem_downgrades", "needs": "downgrades", "when": lambda f: f["downgrades"] > f["upgrades"],
     "priority": lambda f: 0.6 + (f["downgrades"] - f["upgrades"]) / max(f["graded"], 1),
     "title": "Review the {downgrades} accounts whose grade fell this quarter",
     "why": "{downgrades} accounts moved down a grade against {upgrades} that moved up; "
            "{dropped_arr_text} of ARR sits in accounts that fell."},
    {"id": "grow_a_accounts", "needs": "a_accounts", "when": lambda f: f["a_accounts"] > 0,
     "priority": lambda f: 0.4,
     "title": "Ask the {a_accounts} A-grade accounts for references and expansion",
     "why": "They are {a_share} {base_word}; they are the customers to learn from and to find more of."},
    {"id": "fix_risky_segment", "needs": "worst_segment", "when": lambda f: f["worst_segment_churn"] >= 1.5 * f["base_churn"],
     "priority": lambda f: 0.5 + f["worst_segment_churn"] - f["base_churn"],
     "title": "Change how we serve the segment '{worst_segment}'",
     "why": "It churns at {worst_segment_churn_text} against {base_churn_text} overall ({worst_segment_accounts} accounts)."},
    {"id": "gather_evidence", "needs": "no_icp", "when": lambda f: f["no_icp"],
     "priority": lambda f: 2.0,
     "title": "Do not redefine the target market yet",
     "why": "No ICP rule held up on the holdout accounts: the data does not yet support a profile. "
            "Collect renewals for another year before acting on one."},
    {"id": "trust_scores", "needs": "roc_auc", "when": lambda f: f["roc_auc"] is not None and f["roc_auc"] < 0.65,
     "priority": lambda f: 1.5,
     "title": "Treat the risk scores as weak signals",
     "why": "Out of time they rank churners only slightly better than chance (ROC AUC {roc_auc_text})."},
)


@dataclass(frozen=True)
class LeadershipSummary:
    """The quarter on one page. ``to_dict()`` is what the deck and index.html read."""

    quarter: str
    as_of: str
    headline: tuple[Mapping[str, str], ...]
    statement: Mapping[str, Sequence[str]]
    outside_icp: tuple[Mapping[str, Any], ...]
    top_risks: pd.DataFrame
    risk_by_band: tuple[Mapping[str, Any], ...]
    grade_counts: tuple[Mapping[str, Any], ...]
    grade_movement_text: str
    segments: tuple[Mapping[str, Any], ...]
    actions: tuple[Mapping[str, str], ...]
    facts: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        """The headline numbers as a table."""
        return pd.DataFrame(list(self.headline))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready content for ``leadership_summary.json``."""
        return {
            "quarter": self.quarter, "as_of": self.as_of, "headline": list(self.headline),
            "statement": {k: list(v) for k, v in self.statement.items()},
            "outside_icp": list(self.outside_icp),
            "outside_icp_text": self.facts.get("outside_text", ""),
            "top_risks": self.top_risks.to_dict(orient="records"),
            "risk_by_band": list(self.risk_by_band), "grade_counts": list(self.grade_counts),
            "grade_movement_text": self.grade_movement_text, "segments": list(self.segments),
            "actions": list(self.actions),
        }

    def _repr_html_(self) -> str:
        cards = "".join(
            f"<div style='display:inline-block;min-width:180px;max-width:260px;margin:4px;padding:10px 14px;"
            f"border:1px solid #ddd;border-radius:8px;vertical-align:top'>"
            f"<div style='font-size:22px;font-weight:700'>{escape(h['value'])}</div>"
            f"<div style='color:#333'>{escape(h['label'])}</div>"
            f"<div style='color:#666;font-size:12px'>{escape(h.get('note', ''))}</div></div>" for h in self.headline)
        lines = "".join(f"<p><b>We are for</b> {escape(s)}</p>" for s in self.statement.get("for", []))
        lines += "".join(f"<p><b>We are not for</b> {escape(s)}</p>" for s in self.statement.get("not_for", []))
        acts = "".join(f"<li><b>{escape(a['title'])}</b><br><span style='color:#555'>{escape(a['why'])}</span></li>"
                       for a in self.actions)
        risks = _risk_table(self.top_risks)
        movement = (f"<h4>Grade movement</h4><p>{escape(self.grade_movement_text)}</p>"
                    if self.grade_movement_text else "")
        return (f"<div class='icp-summary'><h3>Quarter {escape(self.quarter)} (customers as of {escape(self.as_of)})</h3>"
                f"<div>{cards}</div><h4>Our Ideal Customer Profile</h4>{lines}"
                f"<h4>Top risks, and why</h4>{risks}{movement}"
                f"<h4>Recommended actions</h4><ol>{acts}</ol></div>")


def _risk_table(top: pd.DataFrame) -> str:
    """The top risks as a readable HTML table: percentages, dollars, reasons in full, no empty columns."""
    if not len(top):
        return ""
    shown = top.copy()
    for col in ("arr_usd", "arr_at_risk_usd", "reasons"):
        if col in shown and not shown[col].replace("", np.nan).notna().any():
            shown = shown.drop(columns=col)
    shown["churn_probability"] = shown["churn_probability"].map(_pct)
    for col in ("arr_usd", "arr_at_risk_usd"):
        if col in shown:
            shown[col] = shown[col].map(lambda v: "n/a" if pd.isna(v) else f"${v:,.0f}")
    shown = shown.rename(columns={"account": "Account", "churn_probability": "Churn probability", "arr_usd": "ARR",
                                  "arr_at_risk_usd": "ARR at risk", "reasons": "Why"})
    return shown.to_html(index=False, escape=True, justify="left")


def _statement(icp: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"for": [], "not_for": []}
    if icp is None:
        return out
    out["for"] = [r.text for r in icp.icp_rules[:2]]
    out["not_for"] = [r.text for r in icp.anti_icp_rules[:2]]
    return out


def _facts(icp, risk, grades, movement, segments, top_n, outcomes=None) -> dict[str, Any]:
    f: dict[str, Any] = {"top_n": top_n, "no_icp": icp is not None and not icp.enough_evidence}
    if icp is not None and not icp.leadership.empty:
        lead = icp.leadership.set_index("measure")
        get = lambda m, c: float(lead.at[m, c]) if m in lead.index and c in lead else np.nan  # noqa: E731
        f.update(outside_accounts_share=get("current accounts", "outside_icp"),
                 outside_arr_share=get("ARR", "outside_icp"),
                 outside_churned_arr_share=get("churned ARR", "outside_icp"),
                 anti_arr_share=get("ARR", "anti_icp"), anti_churned_arr_share=get("churned ARR", "anti_icp"),
                 churned_arr_total=get("churned ARR", "total"))
        f["icp_rule"] = icp.icp.text if icp.icp is not None else ""
        f["anti_rule"] = icp.anti_icp.text if icp.anti_icp is not None else ""
        money = np.isfinite(f["outside_arr_share"]) and np.isfinite(f["outside_churned_arr_share"])
        f["base_word"], f["loss_word"] = (("of ARR", "of the ARR that churned") if money
                                          else ("of customers", "of the customers who churned"))
        f["outside_base_share"] = f["outside_arr_share"] if money else f["outside_accounts_share"]
        f["anti_base_share"] = f["anti_arr_share"] if money else get("current accounts", "anti_icp")
        if money:
            f["outside_loss_share"], f["anti_loss_share"] = f["outside_churned_arr_share"], f["anti_churned_arr_share"]
        elif outcomes is not None and "churned" in outcomes and not icp.membership.empty:
            member = icp.membership.drop_duplicates("account_id").set_index(icp.membership["account_id"].drop_duplicates().astype(str))
            churned = outcomes.assign(account_id=outcomes["account_id"].astype(str)).drop_duplicates("account_id")
            churned = churned.loc[churned["churned"].astype("boolean").fillna(False).astype(bool), "account_id"]
            known = member.reindex(churned)
            if len(known):
                f["outside_loss_share"] = float((~known["in_icp"].fillna(False).astype(bool)).mean())
                f["anti_loss_share"] = float(known["in_anti_icp"].fillna(False).astype(bool).mean())
        if not icp.anti_icp:
            f.pop("anti_loss_share", None)
        if not icp.icp:
            f.pop("outside_loss_share", None)
    if risk is not None:
        s = risk.scores
        f["total_arr"] = float(s["arr_usd"].sum())
        crit = s[s["risk_band"].astype(str) == "critical"]
        f["critical_expected"] = f"{crit['churn_probability'].sum():,.0f}"
        f.update(critical_accounts=len(crit), critical_arr_at_risk=float(crit["arr_at_risk_usd"].sum(min_count=1)),
                 top_arr_at_risk=float(s["arr_at_risk_usd"].head(top_n).sum(min_count=1)),
                 arr_at_risk=float(s["arr_at_risk_usd"].sum(min_count=1)), roc_auc=risk.metrics.get("roc_auc"))
    if grades is not None:
        g = grades.grades
        col = "quarterly_grade" if "quarterly_grade" in g else next(c for c in g if c.endswith("_grade"))
        f["graded"] = len(g)
        f["a_accounts"] = int((g[col] == "A").sum())
        f["grade_col"] = col
    if movement is not None:
        counts = movement.counts
        order = ["A", "B", "C", "D"]
        up = down = 0
        for i, a in enumerate(order):
            for j, b in enumerate(order):
                if a in counts.index and b in counts.columns:
                    n = int(counts.at[a, b])
                    down += n if j > i else 0
                    up += n if j < i else 0
        f.update(upgrades=up, downgrades=down)
        arr = getattr(movement, "arr", None)
        if arr is not None:
            f["dropped_arr"] = float(sum(arr.at[a, b] for i, a in enumerate(order) for j, b in enumerate(order)
                                         if j > i and a in arr.index and b in arr.columns))
    if segments is not None and "churn_rate" in segments.summary:
        p = segments.summary.dropna(subset=["churn_rate"]).sort_values("churn_rate", ascending=False)
        if len(p):
            worst = p.iloc[0]
            overall = segments.profiles.overall.get("churn_rate", np.nan)
            f.update(worst_segment=worst["segment_name"], worst_segment_churn=float(worst["churn_rate"]),
                     worst_segment_accounts=int(worst["n_accounts"]), base_churn=float(overall))
    return f


def _texts(f: dict[str, Any]) -> dict[str, Any]:
    t = dict(f)
    for k, v in f.items():
        if k.endswith("_share") or k.endswith("_churn") or k == "base_churn":
            t[k] = _pct(v) if isinstance(v, float) else v
    for k in ("critical_arr_at_risk", "top_arr_at_risk", "dropped_arr", "arr_at_risk"):
        if k in f:
            t[f"{k}_text"] = _usd(f[k])
    t.setdefault("dropped_arr_text", "an unknown share")
    t["worst_segment_churn_text"] = _pct(f.get("worst_segment_churn", np.nan))
    t["base_churn_text"] = _pct(f.get("base_churn", np.nan))
    t["roc_auc_text"] = f"{f['roc_auc']:.2f}" if f.get("roc_auc") is not None else "n/a"
    t["critical_cutoff"] = _pct(f.get("critical_cutoff", 0.5))
    return t


def _actions(f: dict[str, Any], max_actions: int) -> list[dict[str, str]]:
    fired = []
    for rule in ACTION_RULES:
        if rule["needs"] not in f:
            continue
        try:
            if rule["when"](f):
                fired.append((rule["priority"](f), rule))
        except (KeyError, TypeError):
            continue
    fired.sort(key=lambda pr: -pr[0])
    t = _texts(f)
    return [{"id": r["id"], "title": r["title"].format(**t), "why": r["why"].format(**t)}
            for _, r in fired[:max_actions]]


def leadership_summary(
    *,
    quarter: str,
    as_of: Any,
    icp: Any = None,
    risk: Any = None,
    grades: Any = None,
    movement: Any = None,
    segments: Any = None,
    outcomes: pd.DataFrame | None = None,
    top_n: int = 10,
    max_actions: int = 5,
    critical_cutoff: float = 0.5,
) -> LeadershipSummary:
    """Summarise the quarter for leadership, with 3 to 5 actions derived from the numbers.

    Parameters
    ----------
    quarter : str
        The quarter reported.
    as_of : date
        Its last day.
    icp : IcpResult, optional
        From :func:`icp.discovery.discover_icp`.
    risk : RiskResult, optional
        From :func:`icp.report.churn.churn_risk`.
    grades : GradeResult, optional
        From :func:`icp.grading.grade_accounts`.
    movement : GradeMigration, optional
        From :func:`icp.grade_review.grade_migration`.
    segments : SegmentResult, optional
        From :func:`icp.report.analyses.segments`.
    outcomes : pandas.DataFrame, optional
        ``account_id`` and ``churned`` of the accounts the ICP was learned on; used for the
        share of churned customers outside the ICP when the data has no ARR.
    top_n : int, default 10
        Accounts in the top-risk list.
    max_actions : int, default 5
        At most this many actions (the rules that fire, by priority).
    critical_cutoff : float, default 0.5
        Lower bound of the critical risk band, for the wording.

    Returns
    -------
    LeadershipSummary

    Examples
    --------
    >>> s = leadership_summary(quarter="2025Q4", as_of="2025-12-31")
    >>> s.actions
    ()
    """
    f = _facts(icp, risk, grades, movement, segments, top_n, outcomes)
    f["critical_cutoff"] = critical_cutoff
    headline: list[dict[str, str]] = []
    outside: list[dict[str, Any]] = []
    if "outside_base_share" in f:
        headline.append({"label": f"{f['base_word']} is outside our ICP".replace("of customers is", "of customers are"),
                         "value": _pct(f["outside_base_share"]),
                         "note": f"and {_pct(f.get('outside_loss_share', np.nan))} {f['loss_word']}"})
        for label, key in (("Accounts", "outside_accounts_share"), ("ARR", "outside_arr_share"),
                           ("Churned ARR", "outside_churned_arr_share"),
                           ("Customers who churned", "outside_loss_share" if f["base_word"] != "of ARR" else "")):
            if key in f and np.isfinite(f[key]):
                outside.append({"label": label, "share": f[key]})
        lead = icp.leadership.set_index("measure")
        for measure in lead.index:
            if measure not in ("current accounts", "ARR", "churned ARR"):
                outside.append({"label": measure[:1].upper() + measure[1:], "share": float(lead.at[measure, "outside_icp"])})
        if f["base_word"] == "of ARR":
            f["outside_text"] = (f"Accounts outside the ICP are {_pct(f['outside_accounts_share'])} of accounts and "
                                 f"{_pct(f['outside_arr_share'])} of ARR, but {_pct(f['outside_churned_arr_share'])} "
                                 f"of the ARR that churned ({_usd(f.get('churned_arr_total', np.nan))} in total).")
        elif "outside_loss_share" in f:
            f["outside_text"] = (f"Customers outside the ICP are {_pct(f['outside_accounts_share'])} of customers but "
                                 f"{_pct(f['outside_loss_share'])} of the customers who churned.")
    top = pd.DataFrame(columns=["account", "churn_probability", "arr_usd", "arr_at_risk_usd", "reasons"])
    bands: list[dict[str, Any]] = []
    if risk is not None:
        s = risk.scores
        has_arr = bool(s["arr_usd"].notna().any())
        if has_arr:
            headline.append({"label": "ARR expected to churn in the next year", "value": _usd(f["arr_at_risk"]),
                             "note": f"{_pct(f['arr_at_risk'] / max(f['total_arr'], 1))} of current ARR"})
        else:
            how = ("; each scored out of fold, by a model that never saw it"
                   if str(risk.metrics.get("scoring", "")).startswith("out of fold") else "")
            headline.append({"label": "customers expected to churn", "value": f"{s['churn_probability'].sum():,.0f}",
                             "note": f"of {len(s):,} current customers (the data has no ARR{how})"})
        headline.append({"label": "accounts at critical churn risk", "value": f"{f['critical_accounts']:,}",
                         "note": f"{_usd(f['critical_arr_at_risk'])} of ARR at stake" if has_arr else ""})
        top = s.head(top_n).rename(columns={"account_id": "account"})
        if "reasons" not in top:
            top = top.assign(reasons="")
        top = top[["account", "churn_probability", "arr_usd", "arr_at_risk_usd", "reasons"]].reset_index(drop=True)
        top["reasons"] = top["reasons"].fillna("").astype(str)
        by = risk.summary
        bands = [{"band": str(r.risk_band), "accounts": int(r.accounts), "arr_at_risk_usd": float(r.arr_at_risk_usd)}
                 for r in by.itertuples()] if has_arr else []
    counts: list[dict[str, Any]] = []
    if grades is not None:
        col = f["grade_col"]
        vc = grades.grades[col].value_counts()
        counts = [{"grade": g, "accounts": int(vc.get(g, 0))} for g in ("A", "B", "C", "D")]
        if risk is not None:
            arr = risk.scores.set_index("account_id")["arr_usd"]
            a_ids = grades.grades.index[grades.grades[col] == "A"] if "account_id" not in grades.grades else \
                grades.grades.loc[grades.grades[col] == "A", "account_id"]
            f["a_arr_share"] = float(arr.reindex(a_ids.astype(str)).sum() / max(arr.sum(), 1))
        money = f.get("base_word", "of ARR") == "of ARR" and "a_arr_share" in f
        f["a_share"] = _pct(f["a_arr_share"]) if money else _pct(f["a_accounts"] / max(f["graded"], 1))
        f.setdefault("base_word", "of ARR" if money else "of customers")
    move_text = ""
    if "downgrades" in f:
        move_text = (f"Since last quarter {f['upgrades']:,} accounts moved up a grade and {f['downgrades']:,} moved down.")
        headline.append({"label": "accounts fell a grade this quarter", "value": f"{f['downgrades']:,}",
                         "note": f"{f['upgrades']:,} rose"})
    segs: list[dict[str, Any]] = []
    if segments is not None and "churn_rate" in segments.summary:
        segs = [{"name": r.segment_name, "churn_rate": float(r.churn_rate), "accounts": int(r.n_accounts),
                 "description": str(r.description)}
                for r in segments.summary.itertuples() if np.isfinite(r.churn_rate)]
    return LeadershipSummary(
        quarter=quarter, as_of=str(pd.Timestamp(as_of).date()), headline=tuple(headline),
        statement=_statement(icp), outside_icp=tuple(outside), top_risks=top, risk_by_band=tuple(bands),
        grade_counts=tuple(counts), grade_movement_text=move_text, segments=tuple(segs),
        actions=tuple(_actions(f, max_actions)), facts=f,
    )
