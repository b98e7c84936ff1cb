"""Category clean-up: case, spacing and declared synonyms, as a mapping from raw to clean values."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["category_key", "synonym_map", "normalise_categories"]

_SPACES = re.compile(r"\s+")


def category_key(value: str) -> str:
    """The spelling-insensitive key of a category: trimmed, single spaces, case-folded."""
    return _SPACES.sub(" ", str(value)).strip().casefold()


def synonym_map(declared: Any) -> dict[str, str]:
    """Turn the synonyms of one column, as written in icp.yaml, into ``{variant key: canonical}``.

    Two forms are accepted: ``{variant: canonical}`` and ``{canonical: [variant, ...]}``.

    Examples
    --------
    >>> synonym_map({"Software": ["SaaS", "software co"], "fin tech": "FinTech"})
    {'saas': 'Software', 'software co': 'Software', 'fin tech': 'FinTech'}
    """
    out: dict[str, str] = {}
    if not isinstance(declared, Mapping):
        return out
    for key, value in declared.items():
        if isinstance(value, list | tuple):
            for variant in value:
                out[category_key(str(variant))] = str(key)
        elif value is not None:
            out[category_key(str(key))] = str(value)
    return out


def normalise_categories(
    counts: Mapping[str, int],
    *,
    synonyms: Mapping[str, str] | None = None,
    allowed: Iterable[str] = (),
) -> dict[str, str]:
    """Map every raw spelling of a category column onto one clean spelling.

    Spellings that differ only in case or spacing form one group, written as
    the group's most frequent spelling (ties: alphabetical), unless a declared
    synonym or an allowed value names the group. Applying the mapping twice
    gives the same result as applying it once.

    Parameters
    ----------
    counts : mapping of str to int
        How often each raw value occurs.
    synonyms : mapping of str to str, optional
        ``{variant key: canonical}`` as returned by :func:`synonym_map`.
    allowed : iterable of str
        A closed vocabulary; a value whose key matches one is written that way.

    Returns
    -------
    dict
        ``{raw: clean}`` for every raw value.

    Examples
    --------
    >>> normalise_categories({"Retail": 5, " retail": 1, "RETAIL ": 1, "Fin  Tech": 2})
    {'Retail': 'Retail', ' retail': 'Retail', 'RETAIL ': 'Retail', 'Fin  Tech': 'Fin Tech'}
    """
    synonyms = dict(synonyms or {})
    canonical_of_key: dict[str, str] = {category_key(a): a for a in allowed}
    for target in synonyms.values():
        canonical_of_key.setdefault(category_key(target), target)
    # Chains of synonyms (a -> b, b -> c) resolve to their end, so that the result is stable.
    def resolve(key: str) -> str:
        seen = set()
        while key in synonyms and key not in seen:
            seen.add(key)
            key = category_key(synonyms[key])
        return key

    groups: dict[str, dict[str, int]] = {}
    for raw, n in counts.items():
        key = resolve(category_key(raw))
        spelling = _SPACES.sub(" ", str(raw)).strip()
        groups.setdefault(key, {})
        groups[key][spelling] = groups[key].get(spelling, 0) + int(n)
    clean_of_key = {}
    for key, spellings in groups.items():
        if key in canonical_of_key:
            clean_of_key[key] = canonical_of_key[key]
        else:
            clean_of_key[key] = sorted(spellings.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return {raw: clean_of_key[resolve(category_key(raw))] for raw in counts}
