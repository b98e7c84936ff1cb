"""Why an account is at risk: per-account drivers of the churn score, in business language.

Contributions are in log-odds of churn (the score before calibration), one per
business feature, so that a one-hot category or a spline basis counts as the
single feature it came from:

* logistic model: exact. The score is ``intercept + sum_k coef_k * z_k`` with
  standardised columns ``z``; a feature's contribution is the sum over its
  columns, i.e. its effect relative to the average training account. The
  contributions plus the intercept add up to the score.
* gradient boosting: ablation to a typical account. A feature's contribution is
  the change in score when only that feature is set to its training median (or
  most frequent category). Interactions are not split between features, so
  these do not add up exactly.

Both are averaged over the calibration folds' models.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from icp.churn import ChurnRiskModel, fold_pipelines

__all__ = ["contributions", "reasons", "reason_strings", "drivers", "feature_label"]


# the model's own ratios (icp.churn_pipeline.DERIVED_FEATURES): meaning and unit
_DERIVED = {
    "events_per_active_user": ("Product events per active user (last 3 months)", "events per user"),
    "active_user_share": ("Share of employees who are active users", "share"),
}


def _dictionary() -> dict[str, tuple[str, str]]:
    return dict(_cached_dictionary())


@lru_cache(maxsize=1)
def _cached_dictionary() -> dict[str, tuple[str, str]]:
    try:
        from icp.features import FEATURE_DICTIONARY
    except ImportError:  # pragma: no cover - the snapshot module is optional here
        return dict(_DERIVED)
    table = FEATURE_DICTIONARY
    found = {
        row.feature: (str(row.meaning), str(row.unit))
        for row in table.itertuples()
        if getattr(row, "kind", "feature") == "feature"
    }
    return {**_DERIVED, **found}


def feature_label(name: str) -> str:
    """The business name of a feature: its meaning in the feature dictionary, or a readable column name.

    Examples
    --------
    >>> feature_label("days_late_mean")
    'How late invoices are paid, on average'
    >>> feature_label("PaymentMethod")
    'PaymentMethod'
    """
    entry = _dictionary().get(name)
    if entry:
        return entry[0]
    if "_" in name and name == name.lower():
        return name.replace("_", " ").capitalize()
    return name


def _pipelines(model: ChurnRiskModel) -> list[Any]:
    return fold_pipelines(model.estimator_)


def _linear_contributions(pipe: Any, features: pd.DataFrame, names: list[str]) -> np.ndarray:
    cast, columns, scale, classifier = (pipe.named_steps[k] for k in ("cast", "columns", "scale", "classifier"))
    z = scale.transform(columns.transform(cast.transform(features)))
    weighted = z * classifier.coef_[0]
    out = np.zeros((len(features), len(names)))
    index = {n: i for i, n in enumerate(names)}
    for key, _, cols in columns.transformers_:
        if key == "remainder" or not isinstance(cols, list) or not cols:
            continue
        part = columns.output_indices_[key]
        out[:, index[cols[0]]] += weighted[:, part].sum(axis=1)
    return out


def _ablation_contributions(model: ChurnRiskModel, pipe: Any, features: pd.DataFrame) -> np.ndarray:
    # encode once; ablate one encoded column at a time (the tree pipeline maps each
    # business feature to exactly one encoded column, in the caster's order)
    encode, classifier = pipe[:-1], pipe[-1]
    matrix = np.asarray(encode.transform(features), dtype=float)
    reference = pd.DataFrame([model.reference_.to_dict()])[list(features.columns)]
    for name in features.columns:
        if model.kinds_[name] != "categorical":
            reference[name] = pd.to_numeric(reference[name], errors="coerce").astype(float)
    ref_row = np.asarray(encode.transform(reference), dtype=float)[0]
    position = {name: i for i, name in enumerate(pipe.named_steps["cast"].columns_)}
    base = np.asarray(classifier.decision_function(matrix), dtype=float)
    out = np.zeros((len(features), len(model.features_)))
    for j, name in enumerate(model.features_):
        k = position[name]
        saved = matrix[:, k].copy()
        matrix[:, k] = ref_row[k]
        out[:, j] = base - np.asarray(classifier.decision_function(matrix), dtype=float)
        matrix[:, k] = saved
    return out


def contributions(model: ChurnRiskModel, X: pd.DataFrame) -> pd.DataFrame:
    """Each feature's push on each account's churn score, in log-odds (> 0 raises risk).

    Parameters
    ----------
    model : ChurnRiskModel
        A fitted model.
    X : pandas.DataFrame
        Accounts to explain, with the columns the model was fitted on.

    Returns
    -------
    pandas.DataFrame
        Same index as ``X``, one column per feature of ``model.features_``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"tenure_months": rng.integers(1, 60, 300), "plan": rng.choice(["a", "b"], 300)})
    >>> y = rng.random(300) < 1 / (1 + np.exp(X.tenure_months / 10 - 2))
    >>> model = ChurnRiskModel(model="logistic").fit(X, y)
    >>> c = contributions(model, X.head(3))
    >>> list(c.columns)
    ['tenure_months', 'plan']
    """
    check_is_fitted(model, "estimator_")
    features = model._features(X)
    parts = []
    with threadpool_limits(limits=model.n_threads):
        for pipe in _pipelines(model):
            if model.model_ == "logistic" and "scale" in pipe.named_steps:
                parts.append(_linear_contributions(pipe, features, list(model.features_)))
            else:
                parts.append(_ablation_contributions(model, pipe, features))
    return pd.DataFrame(np.mean(parts, axis=0), index=X.index, columns=list(model.features_))


def _format_value(value: Any, unit: str) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "unknown"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if unit.startswith("share"):
            return f"{v:.0%}"
        if "USD" in unit:
            return f"${v:,.0f}"
        if unit == "%":
            return f"{v:,.1f}%"
        if abs(v) >= 100 or v == int(v):
            return f"{v:,.0f}"
        return f"{v:.2f}"
    return str(value)


def reasons(model: ChurnRiskModel, X: pd.DataFrame, *, top: int = 3) -> pd.DataFrame:
    """The strongest drivers of each account's churn score, with direction, in business language.

    Parameters
    ----------
    model : ChurnRiskModel
        A fitted model.
    X : pandas.DataFrame
        Accounts to explain (with ``account_id`` when present).
    top : int, default=3
        Drivers per account, strongest first.

    Returns
    -------
    pandas.DataFrame
        ``account_id`` (or the row index), ``rank``, ``feature``, ``label``,
        ``value``, ``typical`` (the typical account's value), ``contribution``
        (log-odds), ``direction`` ("raises risk" / "lowers risk") and ``text``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"account_id": [f"a{i}" for i in range(300)],
    ...                   "tenure_months": rng.integers(1, 60, 300)})
    >>> y = rng.random(300) < 1 / (1 + np.exp(X.tenure_months / 10 - 2))
    >>> model = ChurnRiskModel(model="logistic").fit(X, y)
    >>> reasons(model, X.head(1), top=1).direction.item() in ("raises risk", "lowers risk")
    True
    """
    contrib = contributions(model, X)
    features = model._features(X)
    ids = X["account_id"].to_numpy() if "account_id" in X.columns else X.index.to_numpy()
    dictionary = _dictionary()
    values = contrib.to_numpy()
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :top]
    rows = []
    for i in range(len(contrib)):
        for rank, j in enumerate(order[i], start=1):
            name = contrib.columns[j]
            c = float(values[i, j])
            if c == 0:
                continue
            unit = dictionary.get(name, ("", ""))[1]
            label = feature_label(name)
            value = _format_value(features[name].iloc[i], unit)
            typical = _format_value(model.reference_[name], unit)
            direction = "raises risk" if c > 0 else "lowers risk"
            rows.append(
                {
                    "account_id": ids[i],
                    "rank": rank,
                    "feature": name,
                    "label": label,
                    "value": value,
                    "typical": typical,
                    "contribution": c,
                    "direction": direction,
                    "text": f"{label}: {value}{'' if value == typical else f' (typical {typical})'} {direction}",
                }
            )
    columns = ["account_id", "rank", "feature", "label", "value", "typical", "contribution", "direction", "text"]
    return pd.DataFrame(rows, columns=columns)


def reason_strings(model: ChurnRiskModel, X: pd.DataFrame, *, top: int = 3) -> pd.Series:
    """One line per account: its top drivers joined by ``"; "`` (for ``risk_scores.csv``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"tenure_months": rng.integers(1, 60, 300)})
    >>> y = rng.random(300) < 1 / (1 + np.exp(X.tenure_months / 10 - 2))
    >>> model = ChurnRiskModel(model="logistic").fit(X, y)
    >>> "risk" in reason_strings(model, X.head(2), top=1).iloc[0]
    True
    """
    # rows are keyed by position: account_id (when X has it) is replaced by the row number,
    # otherwise the fresh 0..n-1 index serves as the key (X keeps its fitted columns)
    keyed = X.reset_index(drop=True)
    if "account_id" in keyed.columns:
        keyed = keyed.assign(account_id=np.arange(len(X)))
    table = reasons(model, keyed, top=top)
    joined = table.groupby("account_id", sort=True)["text"].agg("; ".join)
    return pd.Series(
        joined.reindex(np.arange(len(X))).fillna("").to_numpy(), index=X.index, name="reasons"
    )


def drivers(model: ChurnRiskModel, X: pd.DataFrame) -> pd.DataFrame:
    """Overall drivers: mean absolute contribution per feature, and whether higher values raise risk.

    Returns
    -------
    pandas.DataFrame
        ``feature``, ``label``, ``importance`` (mean |log-odds|), ``direction``
        (for numeric features: the sign of the correlation between the value
        and its contribution; empty for categories), sorted by importance.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"tenure_months": rng.integers(1, 60, 300)})
    >>> y = rng.random(300) < 1 / (1 + np.exp(X.tenure_months / 10 - 2))
    >>> drivers(ChurnRiskModel(model="logistic").fit(X, y), X).direction.item()
    'higher lowers risk'
    """
    contrib = contributions(model, X)
    features = model._features(X)
    rows = []
    for name in contrib.columns:
        direction = ""
        if model.kinds_[name] != "categorical":
            x = pd.to_numeric(features[name], errors="coerce")
            ok = x.notna().to_numpy()
            if ok.sum() > 2 and np.std(x[ok]) > 0 and np.std(contrib[name][ok]) > 0:
                r = np.corrcoef(x[ok], contrib[name][ok])[0, 1]
                direction = "higher raises risk" if r > 0 else "higher lowers risk"
        rows.append(
            {
                "feature": name,
                "label": feature_label(name),
                "importance": float(contrib[name].abs().mean()),
                "direction": direction,
            }
        )
    return pd.DataFrame(rows).sort_values("importance", ascending=False, ignore_index=True)
