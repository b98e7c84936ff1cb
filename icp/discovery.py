"""ICP discovery: who we are for and who we are not for, with the evidence.

:func:`discover_icp` contrasts good customers with poor ones on a snapshot (or a
panel of snapshots) and returns the ICP and anti-ICP as short rules over
pre-sale attributes, each with its evidence, re-checked on accounts it was not
found on. How it works:

1. The snapshot is reduced to one row per account (``icp.evidence.account_table``).
2. The accounts are split at random into a discovery half and a holdout half.
3. On the discovery half, a beam search (``icp.rules.beam_search``) finds up to
   ``max_rules`` ICP rules (outcome above the base) and as many anti-ICP rules
   (below), by sequential covering: each further rule is searched among the
   accounts the earlier ones do not cover.
4. Every candidate is tested once on the holdout half (one-sided), with
   Benjamini-Hochberg control of the false discovery rate over all candidates.
   Only confirmed rules make the ICP; when none is confirmed the result says so.
5. A fit score (``icp.fit``) is fitted on the discovery half and its coverage
   measured on the holdout half.

The outcome. By default (``outcome="value"``) a good customer is one with a high
customer value, ``customer_value_usd``: the realised gross profit per
account-year after support cost and write-offs, churn ending the stream. Customer
value is the product of two things: how much the customer pays (its ARR, set
mostly by its size) and how much of each dollar comes back as profit (its
*profit rate*, ``value_per_arr``: low when it churns, pays late, is written off,
needs much support or buys at a low margin). The two are used where each
belongs:

- the rules are searched on the profit rate, so that they say which customers
  are good at any size (in dollars the search only rediscovers that big
  companies pay more: on the sample it then finds "employees of 600 or more"
  and "employees below 100", a Jaccard of 0.25 and 0.30 with the planted ICP
  and anti-ICP, against 1.0 and 1.0 on the rate);
- the evidence reports the dollars (mean customer value of members against the
  rest, their share of all value and of ARR) next to the rate and the churn
  rate with its interval;
- the fit score estimates customer value in dollars before the sale: the
  expected profit rate from the rules times the expected ARR from the pre-sale
  size (employees, annual revenue), so that the top tiers hold the profit.

``outcome="value_usd"`` searches the dollars as they are; ``outcome="retention"``
contrasts renewed with churned accounts. Whatever the outcome, the result also
carries the other view (``IcpResult.views``: the rules retention alone finds,
or value when retention was chosen), re-checked on the same holdout. The
outcome is winsorised at the 1st and 99th percentiles so that a few extreme
accounts cannot make a rule. Post-sale signals (usage, payments, support,
grades) are searched separately, one condition at a time, for retention.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from icp.discovery_text import coverage_line, other_view_line, statement_text
from icp.evidence import WRITE_OFFS, account_table, holdout_test, leadership_answer, rule_evidence
from icp.exceptions import InsufficientDataError, SchemaError
from icp.fit import (
    SIZE_COLUMNS,
    TIERS,
    apply_scorecard,
    coverage_report,
    fit_scorecard,
    fit_size_model,
    save_profile,
    with_reference,
    with_size,
)
from icp.rules import Rule, beam_search
from icp.stats import benjamini_hochberg

__all__ = ["IcpResult", "discover_icp", "DEFAULT_PRESALE", "OUTCOMES"]

log = logging.getLogger(__name__)

OUTCOMES = ("value", "value_usd", "retention")
# pre-sale attributes a snapshot carries when the caller names none
DEFAULT_PRESALE: tuple[str, ...] = (
    "industry", "employees", "annual_revenue_usd", "region", "country", "founded_year",
    "acquisition_channel", "company_age_years",
)
_NEVER = {"account_id", "as_of", "prospect_id", "name", "account_manager", "customer_since",
          "churn_date", "n_snapshots", "horizon_complete"}
# banded copies of a numeric attribute add nothing a learned range cannot say
_BANDS = {"employees_band": "employees", "revenue_band": "annual_revenue_usd"}
_OUTCOME_LIKE = {"churned", "renewed", "renewal_due", "churn_date", "arr_next_usd", "arr_change_usd",
                 "revenue_horizon_usd", "realised_gross_profit_usd", "customer_value_usd",
                 "horizon_complete", "renewed_gross_profit_usd", "churned_arr_usd", "value_per_arr",
                 WRITE_OFFS}
# what each outcome's rule search contrasts, in words (settings, statement)
_SEARCHED_ON = {
    "value": "customer value per ARR dollar (realised gross profit per account-year after support cost "
             "and write-offs, churn ending the stream, divided by ARR)",
    "value_usd": "customer value in USD (realised gross profit per account-year after support cost and "
                 "write-offs, churn ending the stream)",
    "retention": "renewed against churned",
}


@dataclass(frozen=True)
class IcpResult:
    """What :func:`discover_icp` found.

    Attributes
    ----------
    rules : pandas.DataFrame
        Every candidate rule with its evidence and holdout re-check; ``confirmed``
        marks those that make the ICP (``side == "icp"``) or anti-ICP.
    membership : pandas.DataFrame
        ``account_id, in_icp, in_anti_icp, fit_score, tier`` for every account.
    statement : str
        The ICP in plain language ("We are for ...", "We are not for ...").
    leadership : pandas.DataFrame
        Share of current accounts, ARR, churned ARR, write-offs and support
        tickets outside the ICP and in the anti-ICP.
    coverage : pandas.DataFrame
        Fit-score tiers on the holdout accounts: share of accounts, of renewed
        gross profit, renewal rate with its Wilson interval.
    postsale : pandas.DataFrame
        Post-sale signals that predict churn, each re-checked on the holdout.
    views : dict of str to pandas.DataFrame
        The rules (with the same evidence) under each outcome searched: the
        chosen one (``rules`` itself) and the other view, ``"retention"``
        (renewed against churned) for a value outcome, ``"value"`` for retention.
    profile : dict
        The JSON-ready profile (rules, evidence, statement, scorecard, settings,
        data fingerprint) that ``icp score`` reads.
    settings : dict
        The settings of the run.
    notes : tuple of str
        What the reader should know (fallbacks, rows left out).
    """

    rules: pd.DataFrame
    membership: pd.DataFrame
    statement: str
    leadership: pd.DataFrame
    coverage: pd.DataFrame
    postsale: pd.DataFrame
    profile: dict = field(repr=False)
    settings: dict = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    views: dict = field(default_factory=dict, repr=False)

    @property
    def retention(self) -> pd.DataFrame:
        """The rules retention alone finds (renewed against churned), with their evidence."""
        return self.views.get("retention", pd.DataFrame())

    @property
    def enough_evidence(self) -> bool:
        """Whether at least one rule held up on the holdout."""
        return bool(len(self.rules)) and bool(self.rules["confirmed"].any())

    def _side(self, side: str, core: bool = False) -> list[Rule]:
        if self.rules.empty:
            return []
        rows = self.rules[(self.rules["side"] == side) & self.rules["confirmed"]]
        if core:
            rows = rows[rows["role"] == "core"]
        return [Rule.from_dict(d) for d in rows["rule_json"]]

    @property
    def icp_rules(self) -> list[Rule]:
        """The confirmed ICP rules (core first, then secondary patterns)."""
        return self._side("icp")

    @property
    def anti_icp_rules(self) -> list[Rule]:
        """The confirmed anti-ICP rules (core first, then secondary patterns)."""
        return self._side("anti_icp")

    @property
    def icp(self) -> Rule | None:
        """The core ICP rule, which defines ``in_icp``; None without evidence."""
        found = self._side("icp", core=True)
        return found[0] if found else None

    @property
    def anti_icp(self) -> Rule | None:
        """The core anti-ICP rule, which defines ``in_anti_icp``; None without evidence."""
        found = self._side("anti_icp", core=True)
        return found[0] if found else None

    @property
    def summary(self) -> pd.DataFrame:
        """The confirmed rules with their key evidence (all candidates when none is confirmed)."""
        if self.rules.empty:
            return pd.DataFrame(columns=["side", "rule", "n_accounts", "strength"])
        shown = self.rules[self.rules["confirmed"]] if self.enough_evidence else self.rules
        keep = [c for c in ("side", "rule", "n_accounts", "share_accounts", "share_arr", "churn_rate",
                            "churn_ci_low", "churn_ci_high", "rest_churn_rate", "churn_lift",
                            "mean_value_usd", "value_lift", "share_value", "value_per_arr", "p_adjusted", "strength")
                if c in shown]
        return shown[keep].reset_index(drop=True)

    def save(self, out_dir) -> dict[str, Any]:
        """Write ``icp_rules.csv``, ``icp_profile.json`` and ``icp_membership.csv`` into ``out_dir``."""
        from pathlib import Path

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"rules": out / "icp_rules.csv", "profile": out / "icp_profile.json",
                 "membership": out / "icp_membership.csv"}
        self.rules.drop(columns=["rule_json"], errors="ignore").to_csv(paths["rules"], index=False)
        save_profile(self.profile, paths["profile"])
        self.membership.to_csv(paths["membership"], index=False)
        return paths

    def _repr_html_(self) -> str:
        head = f"<h4>ICP discovery ({self.settings.get('outcome', '')} outcome)</h4>"
        statement = "".join(f"<p>{line}</p>" for line in self.statement.split("\n") if line)
        fmt = {"index": False, "float_format": lambda v: f"{v:.3g}"}
        html = head + statement + self.summary.to_html(**fmt)
        other = [k for k in self.views if k != self.settings.get("outcome")]
        for name in other:
            view = self.views[name]
            if len(view) and view["confirmed"].any():
                keep = [c for c in ("side", "rule", "n_accounts", "churn_rate", "rest_churn_rate",
                                    "mean_value_usd", "strength") if c in view]
                html += f"<h5>By {name} alone</h5>" + view.loc[view["confirmed"], keep].to_html(**fmt)
        if not self.coverage.empty:
            html += "<h5>Fit-score tiers (holdout accounts)</h5>" + self.coverage.to_html(**fmt)
        return html + "<h5>Outside the ICP</h5>" + self.leadership.to_html(**fmt)


def _presale(snapshot: pd.DataFrame, presale_columns: Sequence[str] | None) -> list[str]:
    if presale_columns is None:
        presale_columns = snapshot.attrs.get("presale_columns") or [c for c in DEFAULT_PRESALE if c in snapshot]
    cols = [c for c in presale_columns if c in snapshot.columns and c not in _NEVER and c not in _OUTCOME_LIKE]
    cols = [c for c in cols if not (c in _BANDS and _BANDS[c] in cols)]
    usable = []
    for c in cols:
        s = snapshot[c]
        if s.nunique(dropna=True) < 2:
            continue
        if not pd.api.types.is_numeric_dtype(s) and s.nunique(dropna=True) > 0.5 * len(s):
            continue  # identifier-like or free text
        usable.append(c)
    if not usable:
        raise SchemaError(
            "No pre-sale attribute is available for ICP rules. Expected columns such as industry, "
            f"employees or annual_revenue_usd. Found: {', '.join(map(str, snapshot.columns[:15]))}. "
            "Name them with presale_columns=[...] or presale_attributes in icp.yaml."
        )
    return usable


def _fingerprint(frame: pd.DataFrame) -> str:
    hashed = pd.util.hash_pandas_object(frame.reset_index(drop=True), index=False).to_numpy()
    digest = hashlib.sha256(hashed.tobytes())
    digest.update(",".join(map(str, frame.columns)).encode())
    return digest.hexdigest()[:16]


def _outcome(accounts: pd.DataFrame, outcome: str, notes: list[str]) -> tuple[str, np.ndarray, bool]:
    if outcome not in OUTCOMES:
        raise ValueError(f"The 'outcome' parameter of discover_icp must be one of {OUTCOMES}. "
                         f"Got {outcome!r} instead.")
    if outcome in ("value", "value_usd") and "customer_value_usd" not in accounts:
        notes.append("The data has no customer value (no contracts with revenue), so the ICP "
                     "contrasts renewed with churned customers (retention outcome).")
        outcome = "retention"
    if outcome in ("value", "value_usd"):
        column = "customer_value_usd"
        if outcome == "value" and "value_per_arr" in accounts:
            column = "value_per_arr"
        elif outcome == "value":
            notes.append("Without ARR, customer value is compared in dollars, so larger "
                         "accounts look better simply for paying more.")
        y = accounts[column].to_numpy(dtype=float)
        ok = ~np.isnan(y)
        lo, hi = np.quantile(y[ok], [0.01, 0.99]) if ok.any() else (0.0, 0.0)
        return outcome, np.where(ok, np.clip(y, lo, hi), np.nan), False
    if "churned" not in accounts:
        raise SchemaError("The snapshot has neither 'customer_value_usd' nor 'churned'. Expected the "
                          "outcome columns of icp.snapshot. Build the snapshot with a horizon "
                          "(icp.snapshot(data, as_of=..., horizon='365d')).")
    return outcome, 1.0 - accounts["churned"].to_numpy(dtype=float), True


def _covering_search(X: pd.DataFrame, y: np.ndarray, direction: int, *, max_rules: int,
                     min_support: int, search: dict) -> list[Rule]:
    """Up to ``max_rules`` rules, each found among the accounts the earlier ones leave uncovered.

    Quality is always measured against the whole base, so a later rule must
    still stand out from all accounts, not only from the leftovers.
    """
    rules: list[Rule] = []
    covered = np.zeros(len(X), dtype=bool)
    mu, sd = float(y.mean()), float(y.std()) or 1.0
    for _ in range(max_rules):
        rest = ~covered
        if rest.sum() < 2 * min_support:
            break
        found = beam_search(X[rest].reset_index(drop=True), y[rest], direction=direction,
                            min_support=min_support, top_k=1, baseline=(mu, sd), **search)
        if not found:
            break
        rule = found[0].rule
        m = rule.mask(X) & rest
        if not m.any() or direction * (y[m].mean() - mu) / sd <= 0:
            break
        rules.append(rule)
        covered |= m
    return rules


def _postsale(accounts: pd.DataFrame, presale: list[str], disc: np.ndarray, hold: np.ndarray,
              min_support: int, alpha: float) -> pd.DataFrame:
    if "churned" not in accounts:
        return pd.DataFrame()
    retained = 1.0 - accounts["churned"].to_numpy(dtype=float)
    if retained.std() == 0:
        return pd.DataFrame()
    skip = set(presale) | _NEVER | _OUTCOME_LIKE | set(_BANDS) | {"tickets_per_year"}
    cols = [c for c in accounts.columns if c not in skip and accounts[c].nunique(dropna=True) >= 2
            and (pd.api.types.is_numeric_dtype(accounts[c]) or accounts[c].nunique() <= 20)
            and not pd.api.types.is_datetime64_any_dtype(accounts[c])]
    rows = []
    X_disc = accounts.loc[disc, cols].reset_index(drop=True)
    for col in cols:
        found = beam_search(X_disc, retained[disc], direction=-1, columns=[col], max_conditions=1,
                            min_support=min_support, top_k=1)
        if not found:
            continue
        rule = found[0].rule
        m = rule.mask(accounts)
        churn = accounts["churned"].to_numpy(dtype=bool)
        test = holdout_test(retained[hold], m[hold], direction=-1, binary=True)
        rows.append({"signal": col, "rule": rule.text, "n_accounts": int(m.sum()),
                     "churn_rate": float(churn[m].mean()) if m.any() else np.nan,
                     "rest_churn_rate": float(churn[~m].mean()) if (~m).any() else np.nan,
                     "p_value": test["p_value"]})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["churn_lift"] = table["churn_rate"] / table["rest_churn_rate"]
    table["p_adjusted"], table["confirmed"] = benjamini_hochberg(table["p_value"].to_numpy(), alpha=alpha)
    return table.sort_values(["confirmed", "churn_lift"], ascending=[False, False]).reset_index(drop=True)


def _search_rules(accounts: pd.DataFrame, y: np.ndarray, binary: bool, presale: list[str],
                  hold: np.ndarray, *, min_support: float, max_rules: int, search: dict,
                  alpha: float) -> pd.DataFrame:
    """Covering search on the discovery accounts, evidence and re-check on the holdout ones."""
    disc = ~hold
    min_disc = max(10, int(np.ceil(min_support * disc.sum())))
    X_disc = accounts.loc[disc, presale].reset_index(drop=True)
    candidates: list[tuple[str, Rule]] = []
    for side, direction in (("icp", 1), ("anti_icp", -1)):
        for rule in _covering_search(X_disc, y[disc], direction, max_rules=max_rules,
                                     min_support=min_disc, search=search):
            candidates.append((side, rule))
    rules = rule_evidence(accounts, candidates, y=y, holdout=hold, binary=binary, alpha=alpha)
    if not rules.empty:
        rules["rule_json"] = [r.to_dict() for _, r in candidates]
    return rules


def discover_icp(
    snapshot: pd.DataFrame,
    *,
    outcome: str = "value",
    presale_columns: Sequence[str] | None = None,
    random_state: int = 42,
    holdout: float = 0.5,
    alpha: float = 0.05,
    min_support: float = 0.03,
    max_rules: int = 3,
    max_conditions: int = 3,
    beam_width: int = 12,
    postsale: bool = True,
    compare: bool = True,
    size_columns: Sequence[str] = SIZE_COLUMNS,
    tiers: Mapping[str, float] | None = None,
    progress: Callable[[str], None] | None = None,
) -> IcpResult:
    """Find the ICP and the anti-ICP as short rules over pre-sale attributes, with evidence.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        Output of ``icp.snapshot``: one row per account, or a panel (one row
        per account and ``as_of``), with outcome columns.
    outcome : {"value", "value_usd", "retention"}, default "value"
        What makes a good customer. ``value``: customer value (realised gross
        profit per account-year after support cost and write-offs, churn ending
        the stream); the rules are searched on it per dollar of ARR (the profit
        rate, so that size alone cannot make a rule), the evidence reports it in
        dollars, and the fit score estimates it in dollars (profit rate x
        expected ARR from pre-sale size). ``value_usd``: the rules are searched
        on the dollars. ``retention``: renewed against churned. Falls back to
        retention (with a note) when the data has no value stream.
    presale_columns : sequence of str, optional
        The attributes the rules may use (default: ``snapshot.attrs["presale_columns"]``,
        else the firmographic columns present).
    random_state : int, default 42
        Seed of the discovery/holdout split.
    holdout : float, default 0.5
        Share of accounts kept aside to confirm the rules.
    alpha : float, default 0.05
        False discovery rate (Benjamini-Hochberg) over all candidate rules.
    min_support : float, default 0.03
        The smallest rule, as a share of accounts (at least 20 accounts).
    max_rules : int, default 3
        Most ICP rules and most anti-ICP rules.
    max_conditions : int, default 3
        Most conditions per rule.
    beam_width : int, default 12
        Rules kept at each level of the search.
    postsale : bool, default True
        Also report the post-sale signals that predict churn.
    compare : bool, default True
        Also search the other outcome (retention for a value outcome, value for
        retention) on the same split, for ``IcpResult.views``.
    size_columns : sequence of str, default ("employees", "annual_revenue_usd")
        Pre-sale size measures from which the fit score expects ARR (value
        outcome only; those that are not pre-sale attributes are ignored).
    tiers : mapping of str to float, optional
        Lowest fit score of each tier, best first (default ``icp.fit.TIERS``:
        A top 15% of current accounts by expected outcome, B next 18%, C next
        32%, D the rest).
    progress : callable, optional
        Called with a short message at each step.

    Returns
    -------
    IcpResult

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> snap = pd.DataFrame({"account_id": [f"a{i}" for i in range(800)],
    ...                      "industry": rng.choice(["A", "B", "C"], 800),
    ...                      "employees": rng.integers(1, 1000, 800)})
    >>> good = (snap.industry == "A") & (snap.employees < 300)
    >>> snap["customer_value_usd"] = 1000 * good + rng.normal(0, 300, 800)
    >>> snap["churned"] = rng.random(800) < np.where(good, 0.05, 0.3)
    >>> result = discover_icp(snap, postsale=False)
    >>> [r.text for r in result.icp_rules]
    ['employees below 300 and industry is A']
    """
    say = progress or (lambda _msg: None)
    if not isinstance(snapshot, pd.DataFrame) or snapshot.empty:
        raise InsufficientDataError("The snapshot is empty. Expected one row per account. "
                                    "Check the as_of date: no account was active then.")
    if not 0.1 <= float(holdout) <= 0.9:
        raise ValueError(f"The 'holdout' parameter of discover_icp must be a share in [0.1, 0.9]. "
                         f"Got {holdout!r} instead.")
    tiers = dict(tiers) if tiers is not None else dict(TIERS)
    if len(tiers) < 2 or not all(isinstance(v, (int, float)) and 0 <= v <= 100 for v in tiers.values()) \
            or min(tiers.values()) != 0:
        raise SchemaError("The fit-score tiers (icp_tiers in icp.yaml, or the 'tiers' parameter of "
                          "discover_icp) must map two or more tier names to the lowest fit score of each, "
                          f"from 0 to 100 with the lowest tier at 0. Found {tiers!r}. "
                          "Use for example icp_tiers: {A: 85, B: 67, C: 35, D: 0}.")
    notes: list[str] = []
    say("Preparing one row per account")
    accounts = account_table(snapshot)
    outcome, y, binary = _outcome(accounts, outcome, notes)
    keep = ~np.isnan(y)
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} accounts without an observed outcome were left out.")
        accounts, y = accounts[keep].reset_index(drop=True), y[keep]
    n = len(accounts)
    min_n = max(20, int(np.ceil(min_support * n)))
    if n < 4 * min_n or np.std(y) == 0:
        raise InsufficientDataError(
            f"ICP discovery needs at least {4 * min_n} accounts with a varying outcome. "
            f"Found {n} accounts{' with one outcome for all' if n and np.std(y) == 0 else ''}. "
            "Use a longer history (several as_of dates) or more accounts."
        )
    presale = _presale(accounts, presale_columns)
    rng = np.random.default_rng(random_state)
    hold = np.zeros(n, dtype=bool)
    hold[rng.permutation(n)[: int(round(holdout * n))]] = True
    disc = ~hold
    search = {"max_conditions": max_conditions, "beam_width": beam_width}
    opts = {"min_support": min_support, "max_rules": max_rules, "search": search, "alpha": alpha}
    say("Searching ICP and anti-ICP rules")
    rules = _search_rules(accounts, y, binary, presale, hold, **opts)
    views = {outcome: rules}
    if compare:
        other = "retention" if outcome != "retention" else "value"
        say(f"Searching the rules {other} alone finds")
        o_name, y_other, o_binary = _outcome(accounts, other, [])
        seen = ~np.isnan(y_other)
        if o_name == other and seen.sum() >= 4 * min_n and np.std(y_other[seen]) > 0:
            views[other] = _search_rules(accounts[seen].reset_index(drop=True), y_other[seen], o_binary,
                                         presale, hold[seen], **opts)
    confirmed = [] if rules.empty else [
        {"side": row.side, "core": row.role == "core", "rule": row.rule_json}
        for row in rules[rules["confirmed"]].itertuples()]

    say("Fitting the fit score")
    unit = {"value": "value per ARR dollar", "value_usd": "USD per year"}.get(outcome, "retention share")
    card = fit_scorecard(accounts.loc[disc, presale], y[disc], confirmed, unit=unit, tiers=tiers)
    sizes = [c for c in size_columns if c in presale]
    if outcome == "value" and "arr_usd" in accounts:
        card = with_size(card, fit_size_model(accounts.loc[disc, sizes], accounts.loc[disc, "arr_usd"]
                                              .to_numpy(dtype=float), columns=sizes))
    basis = ("expected customer value: profit rate from the rules x expected ARR from "
             + " and ".join(c["column"].replace("_usd", "").replace("_", " ") for c in card["size"]["columns"])
             if card.get("size") else
             {"value": "expected customer value per ARR dollar", "value_usd": "expected customer value in USD",
              "retention": "expected chance of renewing"}[outcome])
    card["basis"] = basis
    card = with_reference(card, accounts[presale])
    scored = apply_scorecard(accounts[presale], card)
    membership = pd.DataFrame({"account_id": accounts["account_id"].to_numpy(),
                               "in_icp": scored["in_icp"].to_numpy(),
                               "in_anti_icp": scored["in_anti_icp"].to_numpy(),
                               "fit_score": scored["fit_score"].to_numpy(),
                               "tier": scored["tier"].to_numpy()})
    names = [k for k, _ in sorted(tiers.items(), key=lambda kv: -kv[1])]
    coverage = coverage_report(scored["tier"].to_numpy()[hold], accounts[hold], names=names)
    current = None
    if "as_of" in snapshot.columns:
        latest = snapshot["as_of"].max()
        current = accounts["account_id"].isin(snapshot.loc[snapshot["as_of"] == latest, "account_id"]).to_numpy()
    leadership = leadership_answer(accounts, membership["in_icp"].to_numpy(),
                                   membership["in_anti_icp"].to_numpy(), current=current)
    if "realised_gross_profit_usd" in accounts and "write-offs" not in set(leadership.get("measure", [])):
        notes.append("No invoice was written off in the outcome horizons." if WRITE_OFFS in accounts else
                     "The snapshot does not list the write-offs of its horizon, so leadership's answer "
                     "leaves them out. Add them with icp.evidence.add_horizon_write_offs (as 'icp "
                     "discover' does).")
    post = pd.DataFrame()
    if postsale:
        say("Searching post-sale signals of churn")
        post = _postsale(accounts, presale, disc, hold, max(10, int(np.ceil(min_support * disc.sum()))), alpha)
    statement = statement_text(rules, leadership)
    if len(views) > 1 and not rules.empty and rules["confirmed"].any():
        other = next(k for k in views if k != outcome)
        statement += "\n" + other_view_line(views[other], other)
    if card["features"]:
        line = coverage_line(coverage, basis)
        statement += ("\n" + line) if line else ""
    if rules.empty or not rules["confirmed"].any():
        notes.append("Not enough evidence: no rule held up on the holdout accounts; "
                     "the fit score carries no information.")
    settings = {"outcome": outcome, "searched_on": _SEARCHED_ON[outcome], "fit_score": basis,
                "size_columns": [c["column"] for c in card["size"]["columns"]] if card.get("size") else [],
                "tiers": tiers, "presale_columns": presale, "random_state": random_state,
                "holdout": holdout, "alpha": alpha, "min_support": min_support, "max_rules": max_rules,
                "max_conditions": max_conditions, "beam_width": beam_width, "n_accounts": n,
                "n_snapshot_rows": len(snapshot),
                "as_of": sorted({str(v)[:10] for v in snapshot["as_of"].unique()}) if "as_of" in snapshot else []}
    def _records(table: pd.DataFrame) -> list[dict]:
        return [] if table.empty else table.drop(columns=["rule_json"]).assign(
            definition=list(table["rule_json"])).to_dict("records")

    profile = {
        "version": 1,
        "statement": statement,
        "settings": settings,
        "fingerprint": _fingerprint(snapshot),
        "rules": _records(rules),
        "views": {k: _records(v) for k, v in views.items() if k != outcome},
        "scorecard": card,
        "leadership": leadership.to_dict("records"),
        "coverage": coverage.to_dict("records"),
        "postsale": post.to_dict("records"),
        "notes": notes,
    }
    return IcpResult(rules=rules, membership=membership, statement=statement, leadership=leadership,
                     coverage=coverage, postsale=post, profile=profile, settings=settings,
                     notes=tuple(notes), views=views)
