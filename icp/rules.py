"""The rule language of ICP discovery and the beam search that finds rules.

A :class:`Condition` is either a set of values of one categorical attribute
("industry is Healthcare or Logistics") or a range of one numeric attribute with
readable cut points ("annual revenue below $2M", "employees between 200 and
2,000"). A :class:`Rule` is a conjunction of one to three conditions. Both are
plain data: they serialise to JSON dictionaries and back, never to pickle.

:func:`beam_search` finds the conjunctions whose members have a markedly higher
(``direction=+1``) or lower (``direction=-1``) outcome than the whole base. The
quality of a subgroup of size ``n`` with outcome sum ``S`` of the standardised
outcome is the t-style score ``direction * S / sqrt(n)``, i.e. ``sqrt(n)`` times
the standardised mean difference: it favours groups that are both different and
large, and for a yes/no outcome it is the binomial z-statistic. Value sets grow
greedily in the order of the per-value effect (for this quality the best set of
values is always such a prefix), and a value joins the set only when its members
differ from those of the values left out by at least ``min_gain`` (a t-statistic):
otherwise a value that merely rides along with a strong one (its accounts are as
good or as bad as those it is grouped with only because the whole subgroup is)
would enter the rule and read as a driver; numeric cut points are candidate quantiles,
rounded to two significant digits, and refined on a finer grid once a rule has
been chosen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Condition", "Rule", "ScoredRule", "beam_search", "readable_number", "column_kind"]

# A numeric column with at most this many distinct values is searched as a set of values.
_MAX_LEVELS_AS_NUMERIC = 4


def _label(column: str) -> str:
    name = column[:-4] if column.endswith("_usd") else column
    return name.replace("_", " ")


def readable_number(value: float, *, money: bool = False) -> str:
    """Format a cut point for people: ``2M``, ``250k`` for money, ``2,000`` otherwise.

    Examples
    --------
    >>> readable_number(2_000_000, money=True)
    '$2M'
    >>> readable_number(2000)
    '2,000'
    """
    v = float(value)
    if money:
        sign = "-" if v < 0 else ""
        a = abs(v)
        for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
            if a >= size:
                return f"{sign}${a / size:.3g}{unit}"
        return f"{sign}${a:.3g}"
    if v == int(v) and abs(v) < 1e15:
        return f"{int(v):,}"
    return f"{v:.3g}"


def _round_cut(value: float) -> float:
    if value == 0 or not np.isfinite(value):
        return float(value)
    return float(f"{value:.2g}")


def _value_text(value: Any, *, money: bool = False) -> str:
    """A value of a set condition for people: numbers readable, the rest as they are."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)):
        return str(value)
    return readable_number(float(value), money=money) if np.isfinite(value) else str(value)


def _py(value: Any) -> Any:
    """A JSON-friendly Python scalar."""
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass(frozen=True)
class Condition:
    """One condition on one attribute.

    Parameters
    ----------
    column : str
        The attribute.
    values : tuple, optional
        For a set condition: the values that match.
    low, high : float, optional
        For a range condition: ``low <= x < high``; ``None`` leaves that side open.

    Examples
    --------
    >>> import pandas as pd
    >>> c = Condition("employees", low=200, high=2000)
    >>> c.text
    'employees between 200 and 2,000'
    >>> c.mask(pd.DataFrame({"employees": [50, 500, 5000]})).tolist()
    [False, True, False]
    """

    column: str
    values: tuple = ()
    low: float | None = None
    high: float | None = None

    @property
    def kind(self) -> str:
        """``"in"`` for a value set, ``"range"`` for a numeric range."""
        return "in" if self.values else "range"

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean array: which rows of ``frame`` meet the condition (missing values never do)."""
        col = frame[self.column]
        if self.kind == "in":
            return np.asarray(col.isin(list(self.values)).fillna(False), dtype=bool)
        x = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        out = ~np.isnan(x)
        if self.low is not None:
            out &= x >= self.low
        if self.high is not None:
            out &= x < self.high
        return out

    @property
    def text(self) -> str:
        """The condition in plain language."""
        label = _label(self.column)
        if self.kind == "in":
            shown = [_value_text(v, money=self.column.endswith("_usd")) for v in self.values]
            return f"{label} is " + (" or ".join(shown) if len(shown) <= 2 else ", ".join(shown[:-1]) + " or " + shown[-1])
        money = self.column.endswith("_usd")
        if self.low is not None and self.high is not None:
            return (f"{label} between {readable_number(self.low, money=money)} "
                    f"and {readable_number(self.high, money=money)}")
        if self.high is not None:
            return f"{label} below {readable_number(self.high, money=money)}"
        return f"{label} of {readable_number(self.low, money=money)} or more"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        if self.kind == "in":
            return {"column": self.column, "kind": "in", "values": [_py(v) for v in self.values]}
        return {"column": self.column, "kind": "range", "low": _py(self.low), "high": _py(self.high)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Condition:
        """Rebuild a condition from :meth:`to_dict` output."""
        if data.get("kind") == "in":
            return cls(str(data["column"]), values=tuple(data["values"]))
        return cls(str(data["column"]), low=data.get("low"), high=data.get("high"))


@dataclass(frozen=True)
class Rule:
    """A conjunction of conditions ("industry is Healthcare and employees below 50").

    Examples
    --------
    >>> import pandas as pd
    >>> r = Rule((Condition("industry", values=("Retail",)), Condition("employees", high=50)))
    >>> r.text
    'industry is Retail and employees below 50'
    >>> r.mask(pd.DataFrame({"industry": ["Retail", "Retail"], "employees": [10, 90]})).tolist()
    [True, False]
    """

    conditions: tuple[Condition, ...] = field(default_factory=tuple)

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        """Boolean array: which rows meet every condition."""
        out = np.ones(len(frame), dtype=bool)
        for cond in self.conditions:
            out &= cond.mask(frame)
        return out

    @property
    def text(self) -> str:
        """The rule in plain language."""
        return " and ".join(c.text for c in self.conditions) or "everyone"

    @property
    def columns(self) -> tuple[str, ...]:
        """The attributes the rule uses."""
        return tuple(c.column for c in self.conditions)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {"text": self.text, "conditions": [c.to_dict() for c in self.conditions]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rule:
        """Rebuild a rule from :meth:`to_dict` output."""
        return cls(tuple(Condition.from_dict(c) for c in data["conditions"]))


@dataclass(frozen=True)
class ScoredRule:
    """A rule found by the search, with its quality and size on the search data."""

    rule: Rule
    quality: float
    n: int
    mean: float


def column_kind(series: pd.Series) -> str:
    """``"numeric"`` for attributes searched with ranges, ``"categorical"`` for value sets."""
    if pd.api.types.is_bool_dtype(series):
        return "categorical"
    if pd.api.types.is_numeric_dtype(series):
        return "numeric" if series.nunique(dropna=True) > _MAX_LEVELS_AS_NUMERIC else "categorical"
    return "categorical"


class _Column:
    """One attribute, encoded once for fast evaluation inside subgroups."""

    def __init__(self, name: str, series: pd.Series):
        self.name = name
        self.kind = column_kind(series)
        if self.kind == "numeric":
            self.x = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        else:
            codes, uniques = pd.factorize(series, sort=True)
            self.codes = codes
            self.levels = [_py(v) for v in uniques]

    # -- candidate conditions inside a subgroup -------------------------------
    def candidates(self, idx: np.ndarray, z: np.ndarray, direction: int, *, min_support: int,
                   n_cuts: int, max_values: int, keep: int,
                   min_gain: float = 0.0) -> list[tuple[float, Condition]]:
        if self.kind == "numeric":
            return self._numeric(idx, z, direction, min_support=min_support, n_cuts=n_cuts, keep=keep)
        return self._categorical(idx, z, direction, min_support=min_support,
                                 max_values=max_values, keep=keep, min_gain=min_gain)

    def _categorical(self, idx, z, direction, *, min_support, max_values, keep, min_gain=0.0):
        codes = self.codes[idx]
        ok = codes >= 0
        if ok.sum() < min_support:
            return []
        k = len(self.levels)
        zz = z[idx][ok]
        n_v = np.bincount(codes[ok], minlength=k).astype(float)
        s_v = np.bincount(codes[ok], weights=zz, minlength=k)
        q_v = np.bincount(codes[ok], weights=zz * zz, minlength=k)
        present = np.flatnonzero(n_v > 0)
        if len(present) < 2:
            return []
        # order values by their shrunk effect in the wanted direction
        effect = direction * s_v[present] / (n_v[present] + 5.0)
        order = present[np.argsort(-effect, kind="mergesort")]
        limit = min(max_values, len(order) - 1)
        if min_gain > 0:
            limit = min(limit, _set_size(n_v[order], s_v[order], q_v[order], direction, min_gain))
        n_cum = np.cumsum(n_v[order])[:limit]
        s_cum = np.cumsum(s_v[order])[:limit]
        out = []
        for j in range(limit):
            if n_cum[j] < min_support:
                continue
            q = direction * s_cum[j] / math.sqrt(n_cum[j])
            values = tuple(sorted((self.levels[i] for i in order[: j + 1]), key=str))
            out.append((q, Condition(self.name, values=values)))
        out.sort(key=lambda t: -t[0])
        return out[:keep]

    def cuts(self, x: np.ndarray, n_cuts: int) -> np.ndarray:
        x = x[~np.isnan(x)]
        if len(x) == 0:
            return np.array([])
        qs = np.quantile(x, np.linspace(0, 1, n_cuts + 1)[1:-1])
        cuts = np.unique([_round_cut(v) for v in qs])
        return cuts[(cuts > x.min()) & (cuts <= x.max())]

    def _numeric(self, idx, z, direction, *, min_support, n_cuts, keep, cuts=None):
        x = self.x[idx]
        ok = ~np.isnan(x)
        if ok.sum() < min_support:
            return []
        x, zz = x[ok], z[idx][ok]
        if cuts is None:
            cuts = self.cuts(x, n_cuts)
        if len(cuts) == 0:
            return []
        m = len(cuts)
        b = np.searchsorted(cuts, x, side="right")  # bin 0: below cuts[0]; bin m: at or above cuts[-1]
        n_b = np.bincount(b, minlength=m + 1).astype(float)
        s_b = np.bincount(b, weights=zz, minlength=m + 1)
        pn = np.concatenate([[0.0], np.cumsum(n_b)])
        ps = np.concatenate([[0.0], np.cumsum(s_b)])
        i, j = np.triu_indices(m + 2, k=1)  # range covers bins i .. j-1
        full = (i == 0) & (j == m + 1)
        n = pn[j] - pn[i]
        s = ps[j] - ps[i]
        valid = (n >= min_support) & ~full
        if not valid.any():
            return []
        with np.errstate(divide="ignore", invalid="ignore"):
            q = np.where(valid, direction * s / np.sqrt(np.maximum(n, 1.0)), -np.inf)
        top = np.argsort(-q, kind="mergesort")[: keep]
        out = []
        for t in top:
            if not np.isfinite(q[t]):
                continue
            low = None if i[t] == 0 else float(cuts[i[t] - 1])
            high = None if j[t] == m + 1 else float(cuts[j[t] - 1])
            out.append((float(q[t]), Condition(self.name, low=low, high=high)))
        return out

    def refine(self, idx, z, direction, cond: Condition, *, min_support, fine: int):
        """Re-learn the cut points of a range condition inside a subgroup on a finer grid."""
        x = self.x[idx]
        coarse = self.cuts(x, fine)
        extra = [c for c in (cond.low, cond.high) if c is not None]
        cuts = np.unique(np.concatenate([coarse, np.asarray(extra, dtype=float)]))
        found = self._numeric(idx, z, direction, min_support=min_support, n_cuts=fine,
                              keep=1, cuts=cuts)
        if not found:
            return None
        q, best = found[0]
        x, zz = self.x[idx], z[idx]

        def quality(c: Condition) -> float:
            m = ~np.isnan(x)
            if c.low is not None:
                m &= x >= c.low
            if c.high is not None:
                m &= x < c.high
            n = int(m.sum())
            return direction * float(zz[m].sum()) / math.sqrt(n) if n >= min_support else -np.inf

        # prefer a rounder cut point when it costs almost nothing
        for side in ("low", "high"):
            edge = getattr(best, side)
            if edge is None:
                continue
            for alt in _rounder(edge):
                trial = Condition(self.name, low=alt if side == "low" else best.low,
                                  high=alt if side == "high" else best.high)
                if trial.low is not None and trial.high is not None and trial.low >= trial.high:
                    continue
                if quality(trial) >= q - 0.03 * abs(q):
                    best = trial
                    break
            q = quality(best)
        return q, best


def _set_size(n: np.ndarray, s: np.ndarray, q: np.ndarray, direction: int, min_gain: float) -> int:
    """How many values (in effect order) a set may hold before one is only riding along.

    The value added at step ``j`` must separate its members from all members of
    the values still left out (``j + 1`` onwards) by a t-statistic of at least
    ``min_gain`` in the wanted direction; growth stops at the first that does not.
    """
    size = 1
    for j in range(1, len(n) - 1):
        n1, n2 = n[j], n[j + 1:].sum()
        if n1 < 2 or n2 < 2:
            break
        m1, m2 = s[j] / n1, s[j + 1:].sum() / n2
        v1 = max(q[j] - n1 * m1 * m1, 0.0) / (n1 - 1)
        v2 = max(q[j + 1:].sum() - n2 * m2 * m2, 0.0) / (n2 - 1)
        se = math.sqrt(v1 / n1 + v2 / n2)
        if se == 0 or direction * (m1 - m2) / se < min_gain:
            break
        size = j + 1
    return size


_NICE = (1.0, 2.0, 5.0, 1.5, 2.5, 3.0, 4.0, 6.0, 7.5, 8.0)


def _rounder(value: float) -> list[float]:
    """Rounder numbers within 15% of ``value``, roundest first."""
    if value == 0 or not np.isfinite(value):
        return []
    sign, a = (1.0 if value > 0 else -1.0), abs(value)
    k = math.floor(math.log10(a))
    out = []
    for rank, mant in enumerate(_NICE):
        for scale in (10.0**k, 10.0 ** (k + 1), 10.0 ** (k - 1)):
            v = mant * scale
            if abs(v - a) <= 0.15 * a and v != a:
                out.append((rank, abs(v - a), sign * float(f"{v:.3g}")))
    return [v for _, _, v in sorted(out)]


def _digits(cond: Condition) -> int:
    """Significant digits of a range's cut points: fewer reads rounder (``20`` beats ``19``)."""
    out = 0
    for v in (cond.low, cond.high):
        if v is not None and v != 0 and np.isfinite(v):
            out += len(f"{abs(v):.6g}".replace(".", "").replace("e", " ").split()[0].strip("0"))
    return out


def _quality(mask: np.ndarray, z: np.ndarray, direction: int) -> tuple[float, int, float]:
    n = int(mask.sum())
    if n == 0:
        return -np.inf, 0, float("nan")
    s = float(z[mask].sum())
    return direction * s / math.sqrt(n), n, s / n


def beam_search(
    frame: pd.DataFrame,
    outcome: Sequence[float] | np.ndarray,
    *,
    direction: int = 1,
    columns: Sequence[str] | None = None,
    max_conditions: int = 3,
    beam_width: int = 12,
    min_support: int = 30,
    n_cuts: int = 24,
    max_values: int = 6,
    top_k: int = 5,
    max_overlap: float = 0.6,
    min_gain: float = 3.0,
    baseline: tuple[float, float] | None = None,
) -> list[ScoredRule]:
    """Find the conjunctions whose members differ most from the base in one direction.

    Parameters
    ----------
    frame : pandas.DataFrame
        The attributes, one row per account.
    outcome : array-like of float
        The outcome per row (higher is better), without missing values.
    direction : {1, -1}
        ``1`` for groups with a high outcome (ICP), ``-1`` for a low one (anti-ICP).
    columns : sequence of str, optional
        The attributes to search (default: every column of ``frame``).
    max_conditions : int, default 3
        The longest conjunction.
    beam_width : int, default 12
        Rules kept at each level of the search.
    min_support : int, default 30
        The smallest group (rows) a rule may describe.
    n_cuts : int, default 24
        Quantile cut points per numeric attribute before rounding.
    max_values : int, default 6
        The largest value set of a categorical condition.
    top_k : int, default 5
        Rules returned.
    max_overlap : float, default 0.6
        A rule whose members overlap a better rule's by more than this Jaccard
        index is left out as redundant.
    min_gain : float, default 3.0
        A further condition must separate the members it keeps from those it
        drops by at least this t-statistic (standardised outcome); otherwise it
        is noise that merely fits the search data.
    baseline : (mean, sd), optional
        Compare with this base instead of the rows given (used when searching the
        accounts that earlier rules left uncovered).

    Returns
    -------
    list of ScoredRule
        Best first; empty when no rule beats the base.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"industry": rng.choice(["A", "B", "C"], 600),
    ...                    "employees": rng.integers(1, 1000, 600)})
    >>> y = ((df.industry == "A") & (df.employees < 300)).astype(float) + rng.normal(0, 0.3, 600)
    >>> beam_search(df, y, top_k=1)[0].rule.text
    'employees below 300 and industry is A'
    """
    if direction not in (1, -1):
        raise ValueError(f"The 'direction' of beam_search must be 1 or -1. Got {direction!r} instead.")
    y = np.asarray(outcome, dtype=float)
    if len(y) != len(frame) or np.isnan(y).any():
        raise ValueError(
            "The outcome for the rule search must have one value per row and no missing values. "
            f"Found {len(y)} values for {len(frame)} rows, {int(np.isnan(y).sum())} missing. "
            "Drop the rows without an outcome first."
        )
    mean, sd = (float(y.mean()), float(y.std())) if baseline is None else baseline
    if len(y) == 0 or sd == 0:
        return []
    z = (y - mean) / sd
    cols = {c: _Column(c, frame[c]) for c in (columns if columns is not None else frame.columns)}
    all_idx = np.arange(len(y))
    kw = {"min_support": min_support, "n_cuts": n_cuts, "max_values": max_values, "keep": 3,
          "min_gain": min_gain}

    def masks_of(rule: Rule) -> np.ndarray:
        return rule.mask(frame)

    found: dict[tuple, ScoredRule] = {}
    beam: list[tuple[Rule, np.ndarray, float]] = [(Rule(()), np.ones(len(y), dtype=bool), 0.0)]
    for _level in range(max_conditions):
        candidates: dict[tuple, tuple[Rule, np.ndarray, float]] = {}
        for rule, mask, parent_q in beam:
            idx = all_idx[mask]
            for name, col in cols.items():
                if name in rule.columns:
                    continue
                for q, cond in col.candidates(idx, z, direction, **kw):
                    if q <= parent_q + 1e-9:
                        continue
                    new = Rule(tuple(sorted(rule.conditions + (cond,), key=lambda c: c.column)))
                    key = tuple(repr(c.to_dict()) for c in new.conditions)
                    if key in candidates or key in found:
                        continue
                    child = mask & cond.mask(frame)
                    if rule.conditions and _gain_t(mask, child, z, direction,
                                                   min_support) < min_gain:
                        continue
                    candidates[key] = (new, child, q)
        if not candidates:
            break
        ranked = sorted(candidates.items(), key=lambda kv: -kv[1][2])
        beam = []
        seen_masks: set[bytes] = set()
        for key, (rule, mask, q) in ranked:
            digest = np.packbits(mask).tobytes()
            if digest in seen_masks:
                continue
            seen_masks.add(digest)
            beam.append((rule, mask, q))
            found[key] = ScoredRule(rule, q, int(mask.sum()), float(y[mask].mean()))
            if len(beam) >= beam_width:
                break

    if not found:
        return []
    best = sorted(found.values(), key=lambda r: -r.quality)[: max(3 * top_k, beam_width)]
    polished = [_polish(r.rule, frame, y, z, cols, direction, min_support, min_gain)
                for r in best]
    polished.sort(key=lambda r: -r.quality)
    out: list[ScoredRule] = []
    kept_masks: list[np.ndarray] = []
    for r in polished:
        if r.quality <= 0:
            continue
        m = masks_of(r.rule)
        if any(_jaccard(m, k) > max_overlap for k in kept_masks):
            continue
        out.append(r)
        kept_masks.append(m)
        if len(out) >= top_k:
            break
    return out


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def _gain_t(parent: np.ndarray, child: np.ndarray, z: np.ndarray, direction: int,
            min_drop: int = 2) -> float:
    """t-statistic of kept against dropped members when a condition narrows a group.

    A condition that drops fewer than ``min_drop`` members only trims a tail: 0.
    """
    dropped = parent & ~child
    n1, n2 = int(child.sum()), int(dropped.sum())
    if n1 < 2 or n2 < max(2, min_drop):
        return 0.0
    a, b = z[child], z[dropped]
    se = math.sqrt(a.var(ddof=1) / n1 + b.var(ddof=1) / n2)
    return direction * (a.mean() - b.mean()) / se if se > 0 else 0.0


def _polish(rule: Rule, frame, y, z, cols, direction, min_support, min_gain,
            passes: int = 2) -> ScoredRule:
    """Re-learn each condition given the others (finer cut points, regrown value sets)."""
    conds = list(rule.conditions)
    all_idx = np.arange(len(y))
    for _ in range(passes):
        changed = False
        for k, cond in enumerate(conds):
            others = Rule(tuple(c for i, c in enumerate(conds) if i != k))
            base = others.mask(frame)
            idx = all_idx[base]
            col = cols[cond.column]
            current, _, _ = _quality(base & cond.mask(frame), z, direction)
            if col.kind == "numeric":
                best = col.refine(idx, z, direction, cond, min_support=min_support, fine=96)
            else:
                found = col.candidates(idx, z, direction, min_support=min_support, n_cuts=0,
                                       max_values=len(col.levels), keep=1, min_gain=min_gain)
                best = found[0] if found else None
            if best is not None and best[1] != cond and (
                    best[0] > current + 1e-9
                    or (best[0] >= current - 0.03 * abs(current) and _digits(best[1]) < _digits(cond))):
                conds[k] = best[1]
                changed = True
        if not changed:
            break
    # drop conditions that do not pull their weight
    final = Rule(tuple(sorted(conds, key=lambda c: c.column)))
    q, n, _ = _quality(final.mask(frame), z, direction)
    for cond in list(final.conditions):
        if len(final.conditions) == 1:
            break
        shorter = Rule(tuple(c for c in final.conditions if c != cond))
        short_mask = shorter.mask(frame)
        q2, n2, _ = _quality(short_mask, z, direction)
        if q2 >= q or _gain_t(short_mask, final.mask(frame), z, direction, min_support) < min_gain:
            final, q, n = shorter, q2, n2
    return ScoredRule(final, float(q), int(n), float(np.mean(y[final.mask(frame)])) if n else float("nan"))
