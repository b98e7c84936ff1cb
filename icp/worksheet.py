"""The grading worksheet: criteria, scoring, weights per cadence and grade cut-offs, as data.

A worksheet is plain YAML (the documented default is ``icp/worksheet.yaml``).
This module loads and validates it into a frozen :class:`Worksheet` and holds the
scoring methods that turn a column into points from 0 to 100. The grading itself
(:func:`icp.grading.grade_accounts`) only reads the worksheet: no criterion has
its own code.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from icp.exceptions import SchemaError

__all__ = [
    "CADENCES",
    "GRADES",
    "SCORING_METHODS",
    "Criterion",
    "Worksheet",
    "default_worksheet",
    "load_worksheet",
]

CADENCES: tuple[str, ...] = ("quarterly", "annual", "strategic")
GRADES: tuple[str, ...] = ("A", "B", "C", "D")
DIRECTIONS: Mapping[str, int] = {"higher": 1, "lower": -1}
GRADE_METHODS: tuple[str, ...] = ("score", "share")


def _percentile(values: pd.Series, direction: int, params: Mapping[str, Any]) -> pd.Series:
    # Mid-rank percentile: ties share a rank, and the best and worst accounts of a
    # base of n sit at 100 (1 - 1/2n) and 100 / 2n rather than exactly 100 and 0.
    n = values.notna().sum()
    ranks = values.rank(method="average")
    points = (ranks - 0.5) / max(n, 1) * 100.0
    return points if direction > 0 else 100.0 - points


def _linear(values: pd.Series, direction: int, params: Mapping[str, Any]) -> pd.Series:
    low, high = float(params["low"]), float(params["high"])
    points = ((values - low) / (high - low)).clip(0.0, 1.0) * 100.0
    return points if direction > 0 else 100.0 - points


def _bands(values: pd.Series, direction: int, params: Mapping[str, Any]) -> pd.Series:
    edges = np.asarray(params["edges"], dtype=float)
    points = np.asarray(params["points"], dtype=float)
    index = np.searchsorted(edges, values.to_numpy(dtype=float, na_value=np.nan), side="right")
    out = pd.Series(points[np.minimum(index, len(points) - 1)], index=values.index)
    return out.where(values.notna())


# method name -> (function, required parameters)
SCORING_METHODS: Mapping[str, tuple[Callable[..., pd.Series], tuple[str, ...]]] = {
    "percentile": (_percentile, ()),
    "linear": (_linear, ("low", "high")),
    "bands": (_bands, ("edges", "points")),
}


def normalise_name(name: str) -> str:
    """Column-name key used to match worksheet columns: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]", "", str(name).lower())


@dataclass(frozen=True)
class Criterion:
    """One line of the worksheet.

    Attributes
    ----------
    name : str
        Key of the criterion (``revenue``); the score column is ``score_<name>``.
    label : str
        Plain-language name for reports.
    columns : tuple of str
        Candidate snapshot columns; the first one present is read.
    direction : {"higher", "lower"}
        Whether a higher value is better.
    method : str
        A key of :data:`SCORING_METHODS`.
    params : Mapping
        Parameters of the scoring method.
    weights : Mapping[str, float]
        Weight per cadence (0 = not used in that cadence).
    per : str or None
        Optional denominator column: the criterion reads ``column / per``.
    missing : "skip" or float
        What an account without a value gets: ``skip`` (scored on the other
        criteria) or fixed points.
    """

    name: str
    label: str
    columns: tuple[str, ...]
    direction: str
    method: str
    params: Mapping[str, Any]
    weights: Mapping[str, float]
    per: str | None = None
    missing: str | float = "skip"

    def score(self, values: pd.Series) -> pd.Series:
        """Points from 0 to 100 for ``values`` (NaN stays NaN unless ``missing`` gives points)."""
        function = SCORING_METHODS[self.method][0]
        numeric = pd.to_numeric(values, errors="coerce").astype(float)
        points = function(numeric, DIRECTIONS[self.direction], self.params)
        if self.missing != "skip":
            points = points.fillna(float(self.missing))
        return points.astype(float)


@dataclass(frozen=True)
class Worksheet:
    """A validated grading worksheet (see ``icp/worksheet.yaml`` for the documented default).

    Build one with :func:`load_worksheet` or :func:`default_worksheet`; change one
    with :meth:`with_weight` or :meth:`with_cutoffs` (they return new worksheets).
    """

    criteria: tuple[Criterion, ...]
    cadences: Mapping[str, Mapping[str, str]]
    grade_method: str
    cutoffs: Mapping[str, Mapping[str, float]]
    am_comparison: Mapping[str, Any]
    raw: Mapping[str, Any] = field(repr=False, default_factory=dict)
    source: str = "<default>"

    def criterion(self, name: str) -> Criterion:
        """The criterion called ``name``."""
        for item in self.criteria:
            if item.name == name:
                return item
        raise SchemaError(
            f"The worksheet has no criterion '{name}'. "
            f"Expected one of: {', '.join(c.name for c in self.criteria)}. "
            "Check the spelling of the criterion name."
        )

    def to_dict(self) -> dict[str, Any]:
        """The worksheet as plain data (the YAML it would be written as)."""
        return copy.deepcopy(dict(self.raw))

    def to_yaml(self) -> str:
        """The worksheet as YAML text."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    def with_weight(self, criterion: str, cadence: str, weight: float) -> Worksheet:
        """Return a copy with one weight changed.

        Examples
        --------
        >>> from icp.worksheet import default_worksheet
        >>> ws = default_worksheet().with_weight("revenue", "annual", 10)
        >>> ws.criterion("revenue").weights["annual"]
        10.0
        """
        self.criterion(criterion)
        raw = self.to_dict()
        raw["criteria"][criterion]["weights"][cadence] = weight
        return _from_dict(raw, self.source)

    def with_cutoffs(self, cutoffs: Mapping[str, Any], *, method: str | None = None) -> Worksheet:
        """Return a copy with other grade cut-offs (and, optionally, method).

        ``cutoffs`` is one set ``{A: .., B: .., C: ..}`` for every cadence, or one
        such set per cadence.
        """
        raw = self.to_dict()
        raw["grades"] = {"method": method or self.grade_method, "cutoffs": dict(cutoffs)}
        return _from_dict(raw, self.source)


def _fail(where: str, what: str, expected: str, found: Any, hint: str) -> SchemaError:
    return SchemaError(
        f"The worksheet {where} {what}. Expected {expected}. Found {found!r}. {hint}"
    )


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value)


def _parse_criterion(name: str, spec: Any, where: str) -> Criterion:
    at = f"{where} criterion '{name}'"
    if not isinstance(spec, Mapping):
        raise _fail(at, "is not a mapping", "keys such as columns, direction, scoring, weights",
                    spec, "Indent the criterion's settings under its name.")
    unknown = sorted(set(spec) - {"label", "columns", "column", "per", "direction", "scoring",
                                  "weights", "missing", "description"})
    if unknown:
        raise _fail(at, f"has unknown keys {unknown}", "only label, columns, per, direction, "
                    "scoring, weights, missing", sorted(spec), "Check the spelling of those keys.")
    columns = spec.get("columns", spec.get("column"))
    if isinstance(columns, str):
        columns = [columns]
    if not columns or not all(isinstance(c, str) and c for c in columns):
        raise _fail(at, "names no column", "a list of snapshot column names under 'columns'",
                    columns, "Add for example 'columns: [arr_usd]'.")
    direction = spec.get("direction")
    if direction not in DIRECTIONS:
        raise _fail(at, "has an invalid direction", "'higher' or 'lower'", direction,
                    "Say whether a higher value of the column is better.")
    scoring = spec.get("scoring")
    if not isinstance(scoring, Mapping) or scoring.get("method") not in SCORING_METHODS:
        found = scoring.get("method") if isinstance(scoring, Mapping) else scoring
        raise _fail(at, "has an unknown scoring method", f"one of {', '.join(SCORING_METHODS)}",
                    found, "Write for example 'scoring: {method: percentile}'.")
    method = scoring["method"]
    params = {k: v for k, v in scoring.items() if k != "method"}
    for key in SCORING_METHODS[method][1]:
        if key not in params:
            raise _fail(at, f"lacks the '{key}' parameter of {method} scoring",
                        f"all of {list(SCORING_METHODS[method][1])}", sorted(params),
                        f"Add '{key}' under scoring.")
    if method == "linear":
        if not (_number(params["low"]) and _number(params["high"])) or params["low"] >= params["high"]:
            raise _fail(at, "has an invalid linear range", "numbers with low < high",
                        (params["low"], params["high"]), "Give the value that scores 0 and the one that scores 100.")
    if method == "bands":
        edges, points = params["edges"], params["points"]
        if (not isinstance(edges, list) or not isinstance(points, list)
                or not all(_number(v) for v in [*edges, *points])
                or len(points) != len(edges) + 1 or list(edges) != sorted(edges)):
            raise _fail(at, "has invalid bands", "ascending numeric 'edges' and one more "
                        "numeric 'points' than edges", {"edges": edges, "points": points},
                        "For example edges: [1, 31] with points: [100, 50, 0].")
        step = np.diff(np.asarray(points, dtype=float)) * DIRECTIONS[direction]
        if (step < 0).any():
            raise _fail(at, f"has band points that contradict direction '{direction}'",
                        "points that rise with the value when higher is better and fall when "
                        "lower is better", points, "Reverse the points or the direction.")
        if not all(0 <= p <= 100 for p in points):
            raise _fail(at, "has band points outside 0..100", "points from 0 to 100", points,
                        "Rescale the points.")
    weights = spec.get("weights") or {}
    if not isinstance(weights, Mapping):
        raise _fail(at, "has weights that are not a mapping", "weights such as "
                    "{quarterly: 1, annual: 2, strategic: 0}", weights, "Give one weight per cadence.")
    unknown = sorted(set(weights) - set(CADENCES))
    if unknown:
        raise _fail(at, f"has weights for unknown cadences {unknown}",
                    f"only {', '.join(CADENCES)}", sorted(weights), "Check the cadence names.")
    for cadence, value in weights.items():
        if not _number(value) or value < 0:
            raise _fail(at, f"has an invalid {cadence} weight", "a number of 0 or more",
                        value, "Use 0 to leave the criterion out of that cadence.")
    missing = spec.get("missing", "skip")
    if missing != "skip" and not (_number(missing) and 0 <= missing <= 100):
        raise _fail(at, "has an invalid 'missing' setting", "'skip' or points from 0 to 100",
                    missing, "Use 'skip' to grade such accounts on the other criteria.")
    per = spec.get("per")
    if per is not None and not isinstance(per, str):
        raise _fail(at, "has an invalid 'per' column", "one column name", per,
                    "Write for example 'per: arr_usd'.")
    return Criterion(
        name=str(name),
        label=str(spec.get("label") or name),
        columns=tuple(columns),
        direction=direction,
        method=method,
        params=params,
        weights={c: float(weights.get(c, 0)) for c in CADENCES},
        per=per,
        missing=missing,
    )


def _check_cutoffs(cutoffs: Any, method: str, where: str) -> dict[str, float]:
    if (not isinstance(cutoffs, Mapping) or sorted(cutoffs) != ["A", "B", "C"]
            or not all(_number(v) for v in cutoffs.values())):
        raise _fail(where, "has invalid grade cut-offs", "numbers for A, B and C (D is the rest), "
                    "or such a set per cadence", cutoffs,
                    "Write for example 'cutoffs: {A: 70, B: 58, C: 45}'.")
    if method == "score" and not 100 >= cutoffs["A"] > cutoffs["B"] > cutoffs["C"] >= 0:
        raise _fail(where, "has score cut-offs out of order", "100 >= A > B > C >= 0", cutoffs,
                    "Each grade must need a higher total than the next one.")
    if method == "share" and not (all(0 < v < 1 for v in cutoffs.values())
                                  and sum(cutoffs.values()) < 1):
        raise _fail(where, "has invalid grade shares", "shares between 0 and 1 for A, B and C "
                    "that sum to less than 1 (D is the rest)", cutoffs,
                    "Write for example 'cutoffs: {A: 0.2, B: 0.3, C: 0.3}'.")
    return {k: float(v) for k, v in cutoffs.items()}


def _from_dict(raw: Mapping[str, Any], where: str) -> Worksheet:
    if not isinstance(raw, Mapping):
        raise _fail(where, "is not a mapping", "a mapping with criteria, grades and cadences",
                    type(raw).__name__, "Start from the default worksheet that `icp grade` writes.")
    unknown = sorted(set(raw) - {"version", "cadences", "grades", "criteria", "am_comparison"})
    if unknown:
        raise _fail(where, f"has unknown sections {unknown}",
                    "only version, cadences, grades, am_comparison, criteria", sorted(raw),
                    "Check the spelling of those sections.")
    criteria_raw = raw.get("criteria")
    if not isinstance(criteria_raw, Mapping) or not criteria_raw:
        raise _fail(where, "has no criteria", "a 'criteria' mapping with at least one criterion",
                    criteria_raw, "Copy the criteria section of the default worksheet.")
    criteria = tuple(_parse_criterion(n, s, where) for n, s in criteria_raw.items())
    for cadence in CADENCES:
        if sum(c.weights[cadence] for c in criteria) <= 0:
            raise _fail(where, f"gives the {cadence} cadence no weight",
                        "at least one criterion with a positive weight in every cadence",
                        0, f"Give some criterion a weight under weights: {{{cadence}: 1}}.")
    grades = raw.get("grades") or {}
    method = grades.get("method", "score") if isinstance(grades, Mapping) else grades
    if method not in GRADE_METHODS:
        raise _fail(where, "has an unknown grade method", "'score' or 'share'", method,
                    "Use 'score' for fixed total cut-offs or 'share' for shares of accounts.")
    cutoffs = grades.get("cutoffs") or {}
    if isinstance(cutoffs, Mapping) and cutoffs and set(cutoffs) <= set(CADENCES):
        if set(cutoffs) != set(CADENCES):
            raise _fail(where, "gives grade cut-offs for some cadences only",
                        f"cut-offs for every cadence ({', '.join(CADENCES)}) or one set for all",
                        sorted(cutoffs), "Add the missing cadences or give one set of cut-offs.")
        per_cadence = {c: _check_cutoffs(cutoffs[c], method, f"{where} ({c})") for c in CADENCES}
    else:
        one = _check_cutoffs(cutoffs, method, where)
        per_cadence = {c: one for c in CADENCES}
    cadences = raw.get("cadences") or {}
    cadence_info = {
        c: {"label": str((cadences.get(c) or {}).get("label", c.title())),
            "description": str((cadences.get(c) or {}).get("description", ""))}
        for c in CADENCES
    }
    am = {"cadence": "annual", "avoided_at_most": 2, "favourite_at_least": 4}
    am.update(raw.get("am_comparison") or {})
    if am["cadence"] not in CADENCES:
        raise _fail(where, "compares an unknown cadence with the account managers",
                    f"one of {', '.join(CADENCES)}", am["cadence"], "Set am_comparison: {cadence: annual}.")
    return Worksheet(
        criteria=criteria,
        cadences=cadence_info,
        grade_method=method,
        cutoffs=per_cadence,
        am_comparison=am,
        raw=copy.deepcopy(dict(raw)),
        source=where,
    )


def load_worksheet(path: str | Path | Mapping[str, Any]) -> Worksheet:
    """Load and validate a grading worksheet.

    Parameters
    ----------
    path : str, Path or Mapping
        A YAML file, or the worksheet as a mapping (as :meth:`Worksheet.to_dict` gives).

    Returns
    -------
    Worksheet

    Raises
    ------
    SchemaError
        When the file is absent, not YAML, or not a valid worksheet; the message
        says what is wrong, what was expected, what was found, and one hint.

    Examples
    --------
    >>> from icp.worksheet import default_worksheet, load_worksheet
    >>> ws = load_worksheet(default_worksheet().to_dict())
    >>> [c.name for c in ws.criteria][:3]
    ['revenue', 'gross_margin', 'longevity']
    """
    if isinstance(path, Mapping):
        return _from_dict(path, "<mapping>")
    path = Path(path)
    if not path.is_file():
        raise SchemaError(
            f"The worksheet file {path} does not exist. Expected a YAML worksheet. "
            f"Found nothing at that path. Check the path given with --worksheet."
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" near line {mark.line + 1}" if mark is not None else ""
        raise SchemaError(
            f"The worksheet file {path} is not valid YAML{line}. Expected mappings such as "
            "'grades: {method: score}'. Found text that does not parse. "
            "Check the indentation and the colons on that line."
        ) from None
    return _from_dict(raw, str(path))


def default_worksheet() -> Worksheet:
    """The built-in worksheet (``icp/worksheet.yaml``, documented there).

    Examples
    --------
    >>> from icp.worksheet import default_worksheet
    >>> default_worksheet().grade_method
    'score'
    """
    text = resources.files("icp").joinpath("worksheet.yaml").read_text(encoding="utf-8")
    return replace(_from_dict(yaml.safe_load(text), "<default>"), source="<default>")
