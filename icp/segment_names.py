"""What sets each segment apart, and a name built from it.

The distinguishing features of a segment are its standardised differences
against the rest of the accounts (numbers, on a log scale when skewed) and its
over-represented categories. Names and descriptions are built from them with
the vocabulary in ``icp/segment_names.yaml`` (plain data: edit the phrases there).
Everything here is deterministic: the same snapshot and labels give the same names.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
import yaml

from icp.segment_features import _excluded_columns
from icp.segment_preprocessing import column_kind, is_skewed

__all__ = ["distinguishing_features", "name_segments", "load_vocabulary"]


@lru_cache(maxsize=1)
def _default_vocabulary() -> dict[str, Any]:
    text = resources.files("icp").joinpath("segment_names.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def load_vocabulary(override: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The naming vocabulary: ``icp/segment_names.yaml`` updated with ``override`` (top-level keys)."""
    vocab = dict(_default_vocabulary())
    if override:
        vocab.update(override)
    return vocab


def _descriptive_columns(snapshot: pd.DataFrame) -> list[str]:
    excluded = _excluded_columns()
    cols = []
    n = len(snapshot)
    for col in snapshot.columns:
        if col in excluded or not isinstance(col, str):
            continue
        kind = column_kind(snapshot[col])
        if kind == "datetime":
            continue
        nunique = snapshot[col].nunique(dropna=True)
        if nunique <= 1 or (kind == "categorical" and nunique > max(50, 0.2 * n)):
            continue
        cols.append(col)
    return cols


def distinguishing_features(snapshot: pd.DataFrame, labels) -> pd.DataFrame:
    """How each segment differs from the rest of the accounts, feature by feature.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The snapshot that was segmented (outcome and key columns are ignored).
    labels : array-like of int
        Segment of each row.

    Returns
    -------
    pandas.DataFrame
        One row per (segment, feature) for numbers and per (segment, feature,
        top value) for categories, with ``kind``, ``value`` (the category),
        ``segment_median`` / ``rest_median`` (numbers, original unit),
        ``share_in_segment`` / ``share_overall`` (categories) and ``effect``:
        the standardised difference (segment mean minus rest mean over the
        overall standard deviation, on ``log1p`` for skewed amounts and counts)
        or, for categories, the lift (share in segment over overall share).
        ``typical_shift`` is how far the segment's median lies from the overall
        median in robust standard deviations (IQR / 1.349): a segment whose
        typical member is ordinary is not named after a feature only because
        other segments are extreme.
        Sorted by segment, then by strength.

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.segment_names import distinguishing_features
    >>> frame = pd.DataFrame({"tickets_per_quarter": [1.0, 1.2, 0.9, 8.0, 9.0, 7.5]})
    >>> d = distinguishing_features(frame, [0, 0, 0, 1, 1, 1])
    >>> bool(d.loc[d.segment == 1, "effect"].iloc[0] > 1)
    True
    """
    labels = np.asarray(labels)
    if len(labels) != len(snapshot):
        raise ValueError(
            f"There are {len(labels)} segment labels for {len(snapshot)} accounts. "
            "Expected one label per row of the snapshot. Pass the labels of this snapshot."
        )
    rows = []
    segments = np.unique(labels)
    for col in _descriptive_columns(snapshot):
        series = snapshot[col]
        kind = column_kind(series)
        if kind in ("numeric", "bool"):
            raw = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            values = np.log1p(raw) if is_skewed(raw) else raw
            ok = np.isfinite(values)
            sd = float(np.nanstd(values[ok])) if ok.any() else 0.0
            if sd == 0:
                continue
            q25, centre, q75 = np.quantile(values[ok], [0.25, 0.5, 0.75])
            spread = (q75 - q25) / 1.349 if q75 > q25 else sd
            for s in segments:
                inside = (labels == s) & ok
                rest = (labels != s) & ok
                if not inside.any() or not rest.any():
                    continue
                effect = (values[inside].mean() - values[rest].mean()) / sd
                typical = (np.median(values[inside]) - centre) / spread
                rows.append({
                    "segment": int(s), "feature": col, "kind": "numeric", "value": None,
                    "segment_median": float(np.median(raw[inside])),
                    "rest_median": float(np.median(raw[rest])),
                    "share_in_segment": np.nan, "share_overall": np.nan,
                    "effect": float(effect), "typical_shift": float(typical),
                    "strength": abs(float(effect)),
                })
        else:
            text = series.astype("string")
            overall = text.value_counts(normalize=True)
            for s in segments:
                inside = text[labels == s].value_counts(normalize=True)
                if inside.empty:
                    continue
                inside = inside.sort_index(kind="mergesort").sort_values(ascending=False, kind="mergesort")
                value = str(inside.index[0])
                share = float(inside.iloc[0])
                base = float(overall.get(value, np.nan))
                lift = share / base if base > 0 else np.nan
                rows.append({
                    "segment": int(s), "feature": col, "kind": "categorical", "value": value,
                    "segment_median": np.nan, "rest_median": np.nan,
                    "share_in_segment": share, "share_overall": base,
                    "effect": lift, "typical_shift": np.nan,
                    "strength": float(np.log(lift)) if lift > 0 else 0.0,
                })
    columns = ["segment", "feature", "kind", "value", "segment_median", "rest_median",
               "share_in_segment", "share_overall", "effect", "typical_shift", "strength"]
    out = pd.DataFrame(rows, columns=columns)
    if out.empty:
        return out
    return out.sort_values(["segment", "strength", "feature"], ascending=[True, False, True],
                           kind="mergesort").reset_index(drop=True)


def _trait(row, vocab) -> str:
    direction = "high" if row.effect > 0 else "low"
    phrases = vocab["traits"].get(row.feature)
    if phrases:
        return phrases[direction]
    return vocab["generic_trait"][direction].format(column=row.feature.replace("_", " "))


def _parts(segment: int, table: pd.DataFrame, snapshot: pd.DataFrame, labels, vocab) -> tuple[str, list[str]]:
    """The subject of a name and its candidate traits (strongest first)."""
    mine = table[table["segment"] == segment]
    numeric = mine[(mine["kind"] == "numeric") & (mine["strength"] >= vocab["min_effect"])
                   & (mine["typical_shift"].abs() >= vocab["min_effect"])
                   & (np.sign(mine["typical_shift"]) == np.sign(mine["effect"]))]
    cats = mine[
        (mine["kind"] == "categorical")
        & (mine["share_in_segment"] >= vocab["min_category_share"])
        & (mine["effect"] >= vocab["min_category_lift"])
    ]
    size_word = ""
    size_col = vocab["size"]["column"]
    size_row = numeric[numeric["feature"] == size_col]
    if not size_row.empty and size_col in snapshot.columns:
        emp = pd.to_numeric(snapshot[size_col], errors="coerce")
        q25, q75 = emp.quantile([0.25, 0.75])
        median = float(size_row["segment_median"].iloc[0])
        key = "small" if median <= q25 else "large" if median >= q75 else "mid"
        size_word = vocab["size"][key]
    noun = vocab["noun"]
    qualifiers = []
    for col, template in vocab["subject"].items():
        hit = cats[cats["feature"] == col]
        if hit.empty:
            continue
        value = str(hit["value"].iloc[0])
        phrase = template.format(value=value.lower() if col != "industry" else value)
        if "{value} firms" in template or template.endswith(" firms"):
            noun = phrase
        else:
            qualifiers.append(phrase)
    subject = " ".join(p for p in [size_word, noun, *qualifiers] if p)
    traits = []
    for row in numeric.itertuples():
        if row.feature == size_col and size_word:
            continue
        phrase = _trait(row, vocab)
        if phrase not in traits:
            traits.append(phrase)
    for row in cats.itertuples():
        if row.feature in vocab["subject"]:
            continue
        traits.append(vocab["generic_category"].format(column=row.feature.replace("_", " "),
                                                        value=row.value))
    return subject, traits


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:]


def name_segments(snapshot: pd.DataFrame, labels, *, distinguishing: pd.DataFrame | None = None,
                  vocabulary: Mapping[str, Any] | None = None) -> dict[int, str]:
    """A short, human-readable, unique name per segment, built from what sets it apart.

    Parameters
    ----------
    snapshot : pandas.DataFrame
        The segmented snapshot.
    labels : array-like of int
        Segment of each row.
    distinguishing : pandas.DataFrame, optional
        The output of :func:`distinguishing_features` (computed when absent).
    vocabulary : mapping, optional
        Overrides of the vocabulary in ``icp/segment_names.yaml``.

    Returns
    -------
    dict
        Segment -> name, unique within the run (a further trait, and as a last
        resort the segment number, tells apart segments that would share one).

    Examples
    --------
    >>> import pandas as pd
    >>> from icp.segment_names import name_segments
    >>> frame = pd.DataFrame({"tickets_per_quarter": [1.0, 1.2, 0.9, 8.0, 9.0, 7.5],
    ...                       "late_payment_share": [0.9, 0.8, 0.85, 0.1, 0.05, 0.1]})
    >>> name_segments(frame, [0, 0, 0, 1, 1, 1])[1]
    'Prompt payers, support-heavy'
    """
    vocab = load_vocabulary(vocabulary)
    labels = np.asarray(labels)
    table = distinguishing if distinguishing is not None else distinguishing_features(snapshot, labels)
    segments = [int(s) for s in np.unique(labels)]
    parts = {s: _parts(s, table, snapshot, labels, vocab) for s in segments}
    depth = {s: int(vocab["max_traits"]) for s in segments}

    def render(s: int) -> str:
        subject, traits = parts[s]
        used = traits[: depth[s]]
        if not subject or subject == vocab["noun"]:
            return _capitalise(", ".join(used)) if used else vocab["typical"]
        return _capitalise(", ".join([subject, *used]))

    names = {s: render(s) for s in segments}
    for _ in range(5):  # lengthen clashing names by one trait at a time
        clashes = pd.Series(names).duplicated(keep=False)
        if not clashes.any():
            break
        for s in clashes[clashes].index:
            depth[s] += 1
            names[s] = render(s)
    seen: dict[str, int] = {}
    for s in segments:
        if names[s] in seen:
            names[s] = f"{names[s]} (segment {s})"
        seen[names[s]] = s
    return names
