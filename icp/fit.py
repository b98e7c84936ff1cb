"""The ICP fit score (0-100), its tiers (A-D), its reasons, and the saved profile.

The fit score is a pre-sale estimate of what an account or a prospect will be
worth, placed on the distribution of current accounts. With the default value
outcome it estimates customer value in USD a year as the product of two parts,
both learned from pre-sale attributes only:

- the expected *profit rate*, customer value per dollar of ARR (how much of what
  the account pays comes back as gross profit after support cost and write-offs,
  churn ending the stream): a small scorecard over the confirmed ICP and
  anti-ICP rules, one indicator per rule and, for rules of several conditions,
  one per condition (so that a prospect that meets two of three conditions
  scores between members and non-members), with ridge-regression weights;
- the expected *size*, the ARR a company of its size signs
  (:func:`fit_size_model`: a log-linear regression of ARR on employees and
  annual revenue, the commercial fit scorers' "expected deal size").

Their product is the expected customer value; the fit score is its percentile
among current accounts (a fit score of 80 means a better expected value than 80%
of current customers), and the tiers cut that cumulative distribution at the
shares in :data:`TIERS`. With the ``value_usd`` or ``retention`` outcome the
scorecard alone gives the expected outcome (dollars, or the chance of staying).

Profiles are JSON (:func:`save_profile`, :func:`load_profile`), never pickle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from icp.exceptions import SchemaError
from icp.fit_profile import PROFILE_VERSION, load_profile, save_profile
from icp.rules import Condition, Rule, readable_number
from icp.stats import wilson_interval

__all__ = ["TIERS", "SIZE_COLUMNS", "fit_scorecard", "fit_size_model", "with_size", "apply_scorecard",
           "tier_of", "coverage_report", "score_prospects", "save_profile", "load_profile",
           "PROFILE_VERSION"]

# Lowest fit score of each tier. The fit score is the percentile of the expected
# outcome among current accounts (its cumulative distribution), so the tiers are
# shares of the customer base: A the top 15%, B the next 18% (A and B together a
# third, the "top tiers" a coverage report judges), C the next 32%, D the rest.
# Set other cut points with icp_tiers in icp.yaml (or discover_icp(tiers=...)); the profile keeps them.
TIERS: dict[str, float] = {"A": 85.0, "B": 67.0, "C": 35.0, "D": 0.0}
# pre-sale measures of company size that predict the ARR a customer signs
SIZE_COLUMNS: tuple[str, ...] = ("employees", "annual_revenue_usd")


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
                  unit: str, alpha: float = 1.0, tiers: Mapping[str, float] | None = None) -> dict[str, Any]:
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
    tiers : mapping, optional
        Lowest fit score of each tier (default :data:`TIERS`).

    Returns
    -------
    dict
        ``intercept``, ``features`` (each with its ``coef``), ``unit`` and
        ``tiers``; :func:`with_size` adds the size model and
        :func:`with_reference` the scale of the fit score.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from icp.rules import Condition, Rule
    >>> df = pd.DataFrame({"industry": ["A", "B"] * 50})
    >>> rule = Rule((Condition("industry", values=("A",)),))
    >>> card = fit_scorecard(df, np.where(df.industry == "A", 1.0, 0.0),
    ...                      [{"side": "icp", "core": True, "rule": rule.to_dict()}], unit="USD per year")
    >>> round(card["intercept"] + card["features"][0]["coef"], 2)
    1.0
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
    return {"intercept": intercept, "features": feats, "unit": unit, "tiers": dict(tiers or TIERS)}


def _size_design(frame: pd.DataFrame, model: Mapping[str, Any]) -> np.ndarray:
    cols = [np.ones(len(frame))]
    for c in model["columns"]:
        x = (pd.to_numeric(frame[c["column"]], errors="coerce") if c["column"] in frame
             else pd.Series(np.nan, index=frame.index)).to_numpy(dtype=float, na_value=np.nan)
        x = np.log1p(np.clip(x, 0.0, None))
        missing = np.isnan(x)
        cols += [np.clip(np.where(missing, c["fill"], x), c["low"], c["high"]), missing.astype(float)]
    return np.column_stack(cols)


def fit_size_model(frame: pd.DataFrame, arr: np.ndarray, *,
                   columns: Sequence[str] = SIZE_COLUMNS, min_rows: int = 30) -> dict[str, Any] | None:
    """The ARR a company of a given size signs: log-linear in its pre-sale size measures.

    ``log(ARR) = b0 + sum_k (b_k * log(1 + x_k) + c_k * [x_k missing])``, a
    missing measure taking the median of the accounts fitted on, each measure
    clipped to the range seen (no extrapolation to companies larger than any
    customer); the expected ARR is ``exp(prediction) * smearing`` with Duan's
    smearing factor (the mean of the exponentiated residuals).

    Parameters
    ----------
    frame : pandas.DataFrame
        Pre-sale attributes of the accounts it is fitted on.
    arr : numpy.ndarray
        Their ARR (USD); rows without a positive ARR are left out.
    columns : sequence of str, default :data:`SIZE_COLUMNS`
        The size measures (numeric); those absent from ``frame`` are skipped.
    min_rows : int, default 30
        The fewest accounts with a positive ARR and a size measure.

    Returns
    -------
    dict or None
        ``intercept``, ``columns`` (each with ``coef``, ``missing_coef``,
        ``fill``, ``low``, ``high``), ``smearing`` and ``r2``; None when no
        size measure is present or too few accounts carry one.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"employees": rng.integers(10, 5000, 300)})
    >>> arr = 3000 * df.employees.to_numpy() ** 0.4 * rng.lognormal(0, 0.2, 300)
    >>> model = fit_size_model(df, arr)
    >>> round(model["columns"][0]["coef"], 1), model["r2"] > 0.8
    (0.4, True)
    """
    y = np.asarray(arr, dtype=float)
    usable = [c for c in columns if c in frame and pd.api.types.is_numeric_dtype(frame[c])]
    ok = np.isfinite(y) & (y > 0)
    specs = []
    for c in usable:
        x = np.log1p(np.clip(pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan),
                             0.0, None))
        seen = x[ok & ~np.isnan(x)]
        if len(seen) >= min_rows and np.ptp(seen) > 0:
            specs.append({"column": c, "fill": float(np.median(seen)), "low": float(seen.min()),
                          "high": float(seen.max())})
    if not specs or ok.sum() < min_rows:
        return None
    model: dict[str, Any] = {"target": "arr_usd", "columns": specs}
    X = _size_design(frame, model)[ok]
    t = np.log(y[ok])
    # a tiny ridge keeps the fit defined when a measure is never missing
    beta = np.linalg.solve(X.T @ X + 1e-6 * np.eye(X.shape[1]), X.T @ t)
    resid = t - X @ beta
    model["intercept"] = float(beta[0])
    for k, spec in enumerate(specs):
        spec["coef"], spec["missing_coef"] = float(beta[1 + 2 * k]), float(beta[2 + 2 * k])
    model["smearing"] = float(np.mean(np.exp(resid)))
    model["r2"] = float(1.0 - resid.var() / t.var()) if t.var() > 0 else 0.0
    return model


def with_size(card: dict[str, Any], model: Mapping[str, Any] | None) -> dict[str, Any]:
    """Attach a size model: the expected outcome becomes expected ARR x the scorecard's rate.

    Only for a scorecard whose outcome is a rate per ARR dollar, and only when
    it has rules (a score from size alone would say nothing about fit).
    """
    out = dict(card)
    if model is not None and card["features"]:
        out["size"] = dict(model)
        out["rate_unit"], out["unit"] = card["unit"], "USD per year"
    return out


def _expected(frame: pd.DataFrame, card: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected outcome, per-feature contributions (in the outcome's unit) and expected size."""
    X = _design(frame, list(card["features"]))
    coef = np.array([f["coef"] for f in card["features"]], dtype=float)
    contrib = X * coef if len(coef) else np.zeros((len(frame), 0))
    rate = card["intercept"] + contrib.sum(axis=1)
    size = np.ones(len(frame))
    model = card.get("size")
    if model:
        beta = [model["intercept"]]
        for c in model["columns"]:
            beta += [c["coef"], c["missing_coef"]]
        size = np.exp(_size_design(frame, model) @ np.asarray(beta)) * model["smearing"]
    return rate * size, contrib * size[:, None], size


def with_reference(card: dict[str, Any], frame: pd.DataFrame) -> dict[str, Any]:
    """Attach the expected outcome of current accounts, the scale of the fit score."""
    expected = _expected(frame, card)[0]
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


def _size_reason(row: pd.Series, model: Mapping[str, Any], size: float) -> str:
    known = [f"{c['column'].replace('_usd', '').replace('_', ' ')} "
             f"{readable_number(row[c['column']], money=c['column'].endswith('_usd'))}"
             for c in model["columns"] if c["column"] in row.index and pd.notna(row[c["column"]])]
    basis = f" ({', '.join(known)})" if known else " (size unknown: a typical customer's)"
    return f"expected ARR {readable_number(size, money=True)} from its size{basis}"


def apply_scorecard(frame: pd.DataFrame, card: Mapping[str, Any], *, max_reasons: int = 3) -> pd.DataFrame:
    """Fit score, tier, membership and reasons for each row of ``frame``.

    Returns
    -------
    pandas.DataFrame
        ``fit_score`` (0-100), ``tier``, ``in_icp``, ``in_anti_icp``,
        ``expected_outcome`` (in the scorecard's ``unit``: USD a year of
        customer value with a size model), ``expected_arr_usd`` (with a size
        model) and ``reasons`` (plain text: the rules met, each with what it adds
        to the expected outcome, and the expected size), in ``frame``'s order.

    Examples
    --------
    >>> import pandas as pd
    >>> card = {"intercept": 0.5, "unit": "retention share", "features": [],
    ...         "reference": {"values": [0.5], "counts": [1]}}
    >>> apply_scorecard(pd.DataFrame({"x": [1]}), card)[["fit_score", "tier"]].values.tolist()
    [[50.0, 'C']]
    """
    X = _design(frame, list(card["features"]))
    expected, contrib, size = _expected(frame, card)
    score = np.round(_percentile(expected, card["reference"]), 1)
    feats = list(card["features"])
    model = card.get("size")
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
        if model:
            parts.append(_size_reason(frame.iloc[i], model, size[i]))
        reasons.append("; ".join(parts))
    out = pd.DataFrame({
        "fit_score": score,
        "tier": tier_of(score, card.get("tiers", TIERS)),
        "in_icp": in_icp,
        "in_anti_icp": in_anti,
        "expected_outcome": expected,
        "reasons": reasons,
    }, index=frame.index)
    if model:
        out.insert(5, "expected_arr_usd", size)
    return out


def coverage_report(tiers: np.ndarray, accounts: pd.DataFrame, *,
                    names: Sequence[str] | None = None) -> pd.DataFrame:
    """Per tier: share of accounts, of renewed gross profit, value, and renewal rate with its interval.

    Parameters
    ----------
    tiers : numpy.ndarray
        The tier letter of each account.
    accounts : pandas.DataFrame
        One row per account with its outcomes (``icp.evidence.account_table``):
        ``renewed_gross_profit_usd``, ``customer_value_usd``, ``renewal_due``,
        ``renewed``, ``churned`` where present.
    names : sequence of str, optional
        The tiers, best first (default: those of :data:`TIERS`).

    Returns
    -------
    pandas.DataFrame
        One row per tier plus a row for the two top tiers together (``A+B``):
        ``n_accounts``, ``share_accounts``, ``share_renewed_gross_profit`` (the
        realised gross profit of the horizons the accounts renewed through),
        ``mean_value_usd`` (realised customer value per account-year), and the
        renewal rate (the share of accounts with a renewal decision in the
        horizon that renewed; without that column, the share that did not churn)
        with its Wilson 95% interval.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> acc = pd.DataFrame({"renewed_gross_profit_usd": [9.0, 1.0], "churned": [False, True]})
    >>> cov = coverage_report(np.array(["A", "D"]), acc).set_index("tier")
    >>> float(cov.loc["A+B", "share_renewed_gross_profit"]), float(cov.loc["D", "renewal_rate"])
    (0.9, 0.0)
    """
    names = list(names) if names is not None else [k for k, _ in sorted(TIERS.items(), key=lambda kv: -kv[1])]
    gp = accounts["renewed_gross_profit_usd"].fillna(0.0).to_numpy() if "renewed_gross_profit_usd" in accounts else None
    value = (accounts["customer_value_usd"].to_numpy(dtype=float) if "customer_value_usd" in accounts else None)
    churned = accounts["churned"].to_numpy(dtype=bool) if "churned" in accounts else np.zeros(len(accounts), bool)
    if "renewal_due" in accounts and "renewed" in accounts:
        due = accounts["renewal_due"].to_numpy(dtype=bool)
        ok = accounts["renewed"].to_numpy(dtype=bool) & ~churned
    elif "churned" in accounts:
        due = np.ones(len(accounts), dtype=bool)
        ok = ~churned
    else:
        due = ok = None
    rows = []
    top = names[:2]
    groups = [(t, tiers == t) for t in names] + [("+".join(top), np.isin(tiers, top))]
    for name, m in groups:
        row = {"tier": name, "n_accounts": int(m.sum()), "share_accounts": float(m.mean()) if len(m) else np.nan}
        if gp is not None and gp.sum() > 0:
            row["share_renewed_gross_profit"] = float(gp[m].sum() / gp.sum())
        if value is not None:
            seen = m & ~np.isnan(value)
            row["mean_value_usd"] = float(value[seen].mean()) if seen.any() else np.nan
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
