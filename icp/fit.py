"""The ICP fit score (0-100), its tiers (A-D), its reasons, and the saved profile.

The fit score is a small scorecard over the confirmed ICP and anti-ICP rules:
one indicator per rule and, for rules of several conditions, one per condition
(so that a prospect that meets two of three conditions scores between members
and non-members). A ridge regression of the outcome on these indicators gives
each a contribution in the outcome's unit (USD per year for customer value,
points of retention for retention); the expected outcome of an account or a
prospect is then placed on the distribution of current accounts: a fit score of
80 means a better expected outcome than 80% of current customers. Only pre-sale
attributes enter, so any prospect can be scored.

Profiles are JSON (:func:`save_profile`, :func:`load_profile`), never pickle.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from icp.exceptions import SchemaError
from icp.rules import Condition, Rule
from icp.stats import wilson_interval

__all__ = ["TIERS", "fit_scorecard", "apply_scorecard", "tier_of", "coverage_report",
           "score_prospects", "save_profile", "load_profile", "PROFILE_VERSION"]

PROFILE_VERSION = 1
# lowest fit score of each tier; the score is a percentile of current accounts, so
# A is about the top 15%, B the next 20%, C the next 30% and D the rest
TIERS: dict[str, float] = {"A": 85.0, "B": 67.0, "C": 35.0, "D": 0.0}


def _features(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    feats = []
    for i, item in enumerate(rules):
        rule = Rule.from_dict(item["rule"])
        feats.append({"kind": "rule", "rule_index": i, "side": item["side"],
                      "core": bool(item.get("core", False)), "rule": rule.to_dict()})
        if len(rule.conditions) > 1:
            for cond in rule.conditions:
                feats.append({"kind": "condition", "rule_index": i, "side": item["side"],
                              "condition": cond.to_dict()})
    return feats


def _design(frame: pd.DataFrame, feats: list[dict[str, Any]]) -> np.ndarray:
    cols = []
    for f in feats:
        if f["kind"] == "rule":
            cols.append(Rule.from_dict(f["rule"]).mask(frame))
        else:
            cols.append(Condition.from_dict(f["condition"]).mask(frame))
    if not cols:
        return np.zeros((len(frame), 0))
    return np.column_stack(cols).astype(float)


def fit_scorecard(frame: pd.DataFrame, y: np.ndarray, rules: list[dict[str, Any]], *,
                  unit: str, alpha: float = 1.0) -> dict[str, Any]:
    """Fit the scorecard on accounts; return it as JSON-ready data.

    Parameters
    ----------
    frame : pandas.DataFrame
        Pre-sale attributes of the accounts it is fitted on.
    y : numpy.ndarray
        Their outcome (higher is better).
    rules : list of dict
        The confirmed rules: ``{"side": "icp" | "anti_icp", "core": bool,
        "rule": Rule.to_dict()}``; membership (``in_icp``) follows the core rules.
    unit : str
        The outcome's unit, for the reasons.
    alpha : float, default 1.0
        Ridge penalty (on indicators scaled to unit variance).

    Returns
    -------
    dict
        ``intercept``, ``features`` (each with its ``coef``), ``unit``; the
        reference distribution is added by :func:`apply_scorecard`'s caller.
    """
    feats = _features(rules)
    X = _design(frame, feats)
    y = np.asarray(y, dtype=float)
    intercept = float(y.mean())
    if X.shape[1]:
        mu = X.mean(axis=0)
        sd = X.std(axis=0)
        sd[sd == 0] = 1.0
        Z = (X - mu) / sd
        beta = np.linalg.solve(Z.T @ Z + alpha * np.eye(Z.shape[1]), Z.T @ (y - intercept))
        coef = beta / sd
        intercept = float(intercept - coef @ mu)
        for f, c in zip(feats, coef):
            f["coef"] = float(c)
    return {"intercept": intercept, "features": feats, "unit": unit, "tiers": dict(TIERS)}


def _expected(frame: pd.DataFrame, card: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    X = _design(frame, list(card["features"]))
    coef = np.array([f["coef"] for f in card["features"]], dtype=float)
    contrib = X * coef if len(coef) else np.zeros((len(frame), 0))
    return card["intercept"] + contrib.sum(axis=1), contrib


def with_reference(card: dict[str, Any], frame: pd.DataFrame) -> dict[str, Any]:
    """Attach the expected outcome of current accounts, the scale of the fit score."""
    expected, _ = _expected(frame, card)
    values, counts = np.unique(np.round(expected, 6), return_counts=True)
    out = dict(card)
    out["reference"] = {"values": values.tolist(), "counts": counts.astype(int).tolist()}
    return out


def _percentile(expected: np.ndarray, reference: Mapping[str, Any]) -> np.ndarray:
    values = np.asarray(reference["values"], dtype=float)
    counts = np.asarray(reference["counts"], dtype=float)
    total = counts.sum()
    if total == 0 or len(values) == 0:
        return np.full(len(expected), 50.0)
    cum = np.concatenate([[0.0], np.cumsum(counts)])
    e = np.round(expected, 6)
    below = cum[np.searchsorted(values, e, side="left")]
    upto = cum[np.searchsorted(values, e, side="right")]
    return 100.0 * (below + 0.5 * (upto - below)) / total


def tier_of(score: np.ndarray | pd.Series, tiers: Mapping[str, float] = TIERS) -> np.ndarray:
    """Tier letter per fit score.

    Examples
    --------
    >>> tier_of([90, 70, 40, 5]).tolist()
    ['A', 'B', 'C', 'D']
    """
    s = np.asarray(score, dtype=float)
    ordered = sorted(tiers.items(), key=lambda kv: -kv[1])
    out = np.full(len(s), ordered[-1][0], dtype=object)
    for name, low in reversed(ordered):
        out[s >= low] = name
    return out


def _money(v: float, unit: str) -> str:
    if unit.startswith("USD"):
        return f"{'+' if v >= 0 else '-'}${abs(v):,.0f} a year"
    if unit.startswith("value per"):
        return f"{'+' if v >= 0 else '-'}{abs(v) * 100:.0f} cents of gross profit per ARR dollar"
    return f"{'+' if v >= 0 else '-'}{abs(v) * 100:.0f} points of retention"


def apply_scorecard(frame: pd.DataFrame, card: Mapping[str, Any], *, max_reasons: int = 3) -> pd.DataFrame:
    """Fit score, tier, membership and reasons for each row of ``frame``.

    Returns
    -------
    pandas.DataFrame
        ``fit_score`` (0-100), ``tier``, ``in_icp``, ``in_anti_icp``,
        ``expected_outcome`` and ``reasons`` (plain text), in ``frame``'s order.
    """
    X = _design(frame, list(card["features"]))
    expected, contrib = _expected(frame, card)
    score = np.round(_percentile(expected, card["reference"]), 1)
    feats = list(card["features"])
    in_icp = np.zeros(len(frame), dtype=bool)
    in_anti = np.zeros(len(frame), dtype=bool)
    for j, f in enumerate(feats):
        if f["kind"] == "rule" and f.get("core", True):
            hit = X[:, j] > 0
            if f["side"] == "icp":
                in_icp |= hit
            else:
                in_anti |= hit
    reasons = []
    for i in range(len(frame)):
        parts = []
        order = np.argsort(-np.abs(contrib[i])) if contrib.shape[1] else []
        for j in order[:max_reasons]:
            if contrib[i, j] == 0:
                break
            f = feats[j]
            text = (f"matches {'ICP' if f['side'] == 'icp' else 'anti-ICP'} rule "
                    f"'{f['rule']['text']}'" if f["kind"] == "rule"
                    else f"{Condition.from_dict(f['condition']).text}")
            parts.append(f"{text} ({_money(contrib[i, j], card['unit'])})")
        if not feats:
            parts.append("no ICP rule held up on the evidence, so the score carries no information")
        elif not parts:
            parts.append("meets no condition of an ICP or anti-ICP rule (average expected outcome)")
        reasons.append("; ".join(parts))
    return pd.DataFrame({
        "fit_score": score,
        "tier": tier_of(score, card.get("tiers", TIERS)),
        "in_icp": in_icp,
        "in_anti_icp": in_anti,
        "expected_outcome": expected,
        "reasons": reasons,
    }, index=frame.index)


def coverage_report(tiers: np.ndarray, accounts: pd.DataFrame) -> pd.DataFrame:
    """Per tier: share of accounts, of renewed gross profit, and the renewal rate with its interval.

    A row ``A+B`` sums the two top tiers. The renewal rate is the share of
    accounts with a renewal decision in the horizon that renewed (without that
    column, the share that did not churn).
    """
    gp = accounts["renewed_gross_profit_usd"].fillna(0.0).to_numpy() if "renewed_gross_profit_usd" in accounts else None
    if "renewal_due" in accounts and "renewed" in accounts:
        due = accounts["renewal_due"].to_numpy(dtype=bool)
        ok = accounts["renewed"].to_numpy(dtype=bool) & ~accounts.get("churned", pd.Series(False, index=accounts.index)).to_numpy(dtype=bool)
    elif "churned" in accounts:
        due = np.ones(len(accounts), dtype=bool)
        ok = ~accounts["churned"].to_numpy(dtype=bool)
    else:
        due = ok = None
    rows = []
    groups = [(t, tiers == t) for t in sorted(TIERS)] + [("A+B", np.isin(tiers, ["A", "B"]))]
    for name, m in groups:
        row = {"tier": name, "n_accounts": int(m.sum()), "share_accounts": float(m.mean()) if len(m) else np.nan}
        if gp is not None and gp.sum() > 0:
            row["share_renewed_gross_profit"] = float(gp[m].sum() / gp.sum())
        if due is not None:
            n, k = int((m & due).sum()), int((m & due & ok).sum())
            lo, hi = wilson_interval(k, n)
            row.update(renewal_decisions=n, renewal_rate=k / n if n else np.nan,
                       renewal_ci_low=lo, renewal_ci_high=hi)
        rows.append(row)
    return pd.DataFrame(rows)


def _normalise_categories(frame: pd.DataFrame, card: Mapping[str, Any]) -> pd.DataFrame:
    """Map case and spacing variants of the values the rules name onto their spelling."""
    out = frame.copy()
    known: dict[str, set] = {}
    for f in card["features"]:
        conds = (Rule.from_dict(f["rule"]).conditions if f["kind"] == "rule"
                 else (Condition.from_dict(f["condition"]),))
        for c in conds:
            if c.kind == "in":
                known.setdefault(c.column, set()).update(v for v in c.values if isinstance(v, str))
    for col, values in known.items():
        if col in out and (out[col].dtype == object or pd.api.types.is_string_dtype(out[col])):
            lookup = {" ".join(v.split()).casefold(): v for v in values}
            out[col] = out[col].map(lambda v, lk=lookup: lk.get(" ".join(v.split()).casefold(), v)
                                    if isinstance(v, str) else v)
    return out


def score_prospects(prospects: pd.DataFrame, profile: Mapping[str, Any] | str | Path) -> pd.DataFrame:
    """Score prospects (or any accounts) against a saved ICP profile.

    Parameters
    ----------
    prospects : pandas.DataFrame
        One row per prospect with ``prospect_id`` (or ``account_id``) and the
        pre-sale attributes the profile's rules use.
    profile : dict, str or Path
        A profile from :func:`icp.discover_icp` (``result.profile``) or the path
        of its ``icp_profile.json``.

    Returns
    -------
    pandas.DataFrame
        The id column, ``fit_score`` (0-100), ``tier`` (A-D), ``in_icp``,
        ``in_anti_icp``, ``expected_outcome`` and ``reasons``, best first.

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.fit import score_prospects
    >>> card = {"intercept": 0.0, "unit": "USD per year", "features": [],
    ...         "reference": {"values": [0.0], "counts": [1]}}
    >>> score_prospects(pd.DataFrame({"prospect_id": ["p1"]}), {"scorecard": card}).tier.tolist()
    ['C']
    """
    if not isinstance(profile, Mapping):
        profile = load_profile(profile)
    card = profile.get("scorecard")
    if not isinstance(card, Mapping):
        raise SchemaError(
            "The ICP profile has no scorecard. Expected the icp_profile.json written by 'icp discover'. "
            f"Found keys: {', '.join(sorted(profile)) or 'none'}. Run 'icp discover' again to rebuild it."
        )
    id_col = next((c for c in ("prospect_id", "account_id") if c in prospects.columns), None)
    if id_col is None:
        raise SchemaError(
            "The prospect list has no 'prospect_id' column. Expected one id per prospect. "
            f"Found columns: {', '.join(map(str, prospects.columns[:12]))}. "
            "Rename your id column to prospect_id (or map it in icp.yaml)."
        )
    needed = set()
    for f in card["features"]:
        rule = Rule.from_dict(f["rule"]) if f["kind"] == "rule" else None
        needed.update(rule.columns if rule else (f["condition"]["column"],))
    frame = prospects.copy()
    missing = sorted(needed - set(frame.columns))
    if needed and len(missing) == len(needed):
        raise SchemaError(
            "The prospect list has none of the attributes the ICP rules use. "
            f"Expected: {', '.join(sorted(needed))}. Found: {', '.join(map(str, prospects.columns[:12]))}. "
            "Add those columns (or map them in icp.yaml)."
        )
    for col in missing:
        frame[col] = np.nan
    frame = _normalise_categories(frame, card)
    scored = apply_scorecard(frame, card)
    if missing:
        scored["reasons"] = scored["reasons"] + f" (unknown: {', '.join(missing)})"
    out = pd.concat([prospects[[id_col]].reset_index(drop=True), scored.reset_index(drop=True)], axis=1)
    return out.sort_values(["fit_score", id_col], ascending=[False, True], kind="mergesort").reset_index(drop=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return str(value)
    if isinstance(value, float) and not np.isfinite(value):
        return None
    raise TypeError(f"Cannot write {type(value).__name__} to JSON")


def _clean(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def save_profile(profile: Mapping[str, Any], path: str | Path) -> Path:
    """Write an ICP profile as JSON (missing numbers become null)."""
    path = Path(path)
    path.write_text(json.dumps(_clean(profile), indent=2, default=_json_default, allow_nan=False),
                    encoding="utf-8")
    return path


def load_profile(path: str | Path) -> dict[str, Any]:
    """Read an ICP profile written by :func:`save_profile`."""
    path = Path(path)
    if not path.exists():
        raise SchemaError(
            f"The ICP profile {path} does not exist. Expected the icp_profile.json written by "
            "'icp discover'. Run 'icp discover DATA --out DIR' first and pass DIR/icp_profile.json."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise SchemaError(
            f"The ICP profile {path} is not valid JSON. Expected the icp_profile.json written by "
            "'icp discover'. Run 'icp discover' again to rebuild it."
        ) from None
    if not isinstance(data, dict) or data.get("version") not in (None, PROFILE_VERSION):
        raise SchemaError(
            f"The ICP profile {path} has an unknown format. Expected version {PROFILE_VERSION}. "
            "Run 'icp discover' again to rebuild it."
        )
    return data
