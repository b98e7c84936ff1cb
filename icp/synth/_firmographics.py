"""Firmographics of accounts and prospects, the planted groups, and messy spellings."""

from __future__ import annotations

import numpy as np

from icp.synth import _spec as S

# Variants that a CRM export really holds. Case and spacing variants are normalised by
# validation on its own; the others need the synonyms declared in the sample's icp.yaml.
INDUSTRY_VARIANTS: dict[str, list[str]] = {
    "Healthcare": ["healthcare", "HEALTHCARE", "Healthcare ", "Health care", "Health-care"],
    "Logistics": ["logistics", " Logistics", "Logistic", "Transport & Logistics"],
    "Manufacturing": ["manufacturing", "Mfg"],
    "Retail": ["retail", "RETAIL", "Retail & E-commerce"],
    "Professional Services": ["professional services", "Professional  Services",
                              "Prof. Services"],
    "Technology": ["technology", "Tech"],
    "Construction": ["construction"],
    "Education": ["education"],
    "Hospitality": ["hospitality"],
    "Financial Services": ["financial services", "Finance", "FinServ"],
}
CHANNEL_VARIANTS: dict[str, list[str]] = {
    "referral": ["Referral", "referral "],
    "partner": ["Partner", "Partners"],
    "inbound": ["Inbound", "INBOUND"],
    "outbound": ["Outbound", "outbound ", "Cold outbound", "Outbound SDR"],
    "event": ["Event", "Events", "Trade show"],
}
COUNTRY_VARIANTS: dict[str, list[str]] = {
    "United States": ["USA", "US", "united states"],
    "United Kingdom": ["UK", "Great Britain"],
    "Germany": ["germany", "Deutschland"],
}
MESSY_SHARE = {"industry": 0.07, "acquisition_channel": 0.05, "country": 0.05}
MISSING_SHARE = {"annual_revenue_usd": 0.04, "region": 0.03, "founded_year": 0.03,
                 "country": 0.01}

_NAME_A = np.array(["North", "Blue", "Silver", "Bright", "Oak", "River", "Summit", "Crown",
                    "Harbor", "Pioneer", "Maple", "Granite", "Cedar", "Atlas", "Nova",
                    "Beacon", "Falcon", "Evergreen", "Sterling", "Union", "Apex", "Lake",
                    "Prairie", "Coastal", "Alpine", "Metro", "Golden", "Red", "Iron", "Clear"])
_NAME_B = np.array(["wind", "stone", "field", "bridge", "point", "gate", "line", "ridge",
                    "brook", "view", "way", "crest", "port", "wood", "light", "star"])
_NAME_SUFFIX: dict[str, list[str]] = {
    "Healthcare": ["Clinic", "Health", "Medical", "Care"],
    "Logistics": ["Freight", "Logistics", "Transport", "Shipping"],
    "Manufacturing": ["Manufacturing", "Industries", "Works", "Fabrication"],
    "Retail": ["Stores", "Retail", "Outfitters", "Market"],
    "Professional Services": ["Partners", "Consulting", "Advisors", "Associates"],
    "Technology": ["Labs", "Software", "Systems", "Digital"],
    "Construction": ["Builders", "Construction", "Contracting"],
    "Education": ["Academy", "Learning", "School"],
    "Hospitality": ["Hotels", "Hospitality", "Inns"],
    "Financial Services": ["Capital", "Finance", "Wealth"],
}
_LEGAL = np.array(["Inc.", "LLC", "Ltd", "GmbH", "Group", "Co.", ""])


def _choice(rng: np.random.Generator, labels: list[str], p: list[float], n: int) -> np.ndarray:
    p_arr = np.asarray(p, dtype=float)
    idx = rng.choice(len(labels), size=n, p=p_arr / p_arr.sum())
    return np.asarray(labels, dtype=object)[idx]


def draw_firmographics(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Canonical (clean) firmographics of ``n`` companies."""
    industry = _choice(rng, list(S.INDUSTRIES), list(S.INDUSTRIES.values()), n)

    band = rng.choice(len(S.EMPLOYEE_BANDS), size=n,
                      p=[b[2] for b in S.EMPLOYEE_BANDS])
    lo = np.array([b[0] for b in S.EMPLOYEE_BANDS], dtype=float)[band]
    hi = np.array([b[1] for b in S.EMPLOYEE_BANDS], dtype=float)[band] + 1.0
    employees = np.floor(np.exp(rng.uniform(np.log(lo), np.log(hi)))).astype(np.int64)
    employees = np.clip(employees, lo.astype(np.int64), (hi - 1).astype(np.int64))

    tiny = employees < S.ANTI_MAX_EMPLOYEES
    channel = np.where(
        tiny,
        _choice(rng, S.CHANNELS, S.CHANNEL_MIX_TINY, n),
        _choice(rng, S.CHANNELS, S.CHANNEL_MIX_OTHER, n),
    )

    region = _choice(rng, list(S.REGIONS), [v[0] for v in S.REGIONS.values()], n)
    country = np.empty(n, dtype=object)
    for name, (_, countries, shares) in S.REGIONS.items():
        mask = region == name
        country[mask] = _choice(rng, countries, shares, int(mask.sum()))

    rev_per_emp = np.array([S.REVENUE_PER_EMPLOYEE[i] for i in industry], dtype=float)
    revenue = employees * rev_per_emp * np.exp(rng.normal(0.0, S.REVENUE_LOG_SD, n))
    revenue = np.round(revenue, -3)

    # bigger companies tend to be older
    age = rng.gamma(2.0, 6.0 + 3.0 * np.log10(employees + 1.0))
    founded_year = np.clip(2025 - np.round(age), 1950, 2024).astype(np.int64)

    suffix = np.array([_NAME_SUFFIX[i][k % len(_NAME_SUFFIX[i])]
                       for i, k in zip(industry, rng.integers(0, 12, n))], dtype=object)
    name = (_NAME_A[rng.integers(0, len(_NAME_A), n)].astype(object)
            + _NAME_B[rng.integers(0, len(_NAME_B), n)].astype(object)
            + " " + suffix + " " + _LEGAL[rng.integers(0, len(_LEGAL), n)].astype(object))
    name = np.array([s.strip() for s in name], dtype=object)

    return {
        "name": name,
        "industry": industry,
        "employees": employees,
        "annual_revenue_usd": revenue,
        "region": region,
        "country": country,
        "founded_year": founded_year,
        "acquisition_channel": channel,
    }


def planted_groups(firm: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Membership of the planted ICP and anti-ICP (disjoint by construction)."""
    employees = firm["employees"]
    in_icp = np.isin(firm["industry"], S.ICP_INDUSTRIES) & (
        (employees >= S.ICP_EMPLOYEES[0]) & (employees <= S.ICP_EMPLOYEES[1])
    )
    in_anti = (employees < S.ANTI_MAX_EMPLOYEES) & (firm["acquisition_channel"] == S.ANTI_CHANNEL)
    return in_icp, in_anti


def group_labels(in_icp: np.ndarray, in_anti: np.ndarray) -> np.ndarray:
    """"icp", "anti_icp" or "other" per company."""
    return np.where(in_icp, "icp", np.where(in_anti, "anti_icp", "other")).astype(object)


def _apply_variants(rng: np.random.Generator, values: np.ndarray, variants: dict[str, list[str]],
                    share: float) -> np.ndarray:
    out = values.copy()
    hit = rng.random(len(values)) < share
    pick = rng.integers(0, 1 << 30, len(values))
    for canonical, options in variants.items():
        mask = hit & (values == canonical)
        if mask.any():
            out[mask] = np.asarray(options, dtype=object)[pick[mask] % len(options)]
    return out


def make_messy(rng: np.random.Generator, firm: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A copy with realistic spelling variants and missing values."""
    out = dict(firm)
    out["industry"] = _apply_variants(rng, firm["industry"], INDUSTRY_VARIANTS,
                                      MESSY_SHARE["industry"])
    out["acquisition_channel"] = _apply_variants(rng, firm["acquisition_channel"],
                                                 CHANNEL_VARIANTS,
                                                 MESSY_SHARE["acquisition_channel"])
    out["country"] = _apply_variants(rng, firm["country"], COUNTRY_VARIANTS,
                                     MESSY_SHARE["country"])
    n = len(firm["industry"])
    for column, share in MISSING_SHARE.items():
        missing = rng.random(n) < share
        values = out[column].astype(float) if column in ("annual_revenue_usd",) else out[column]
        if column == "founded_year":
            values = values.astype(float)
        values = values.copy()
        values[missing] = np.nan if values.dtype.kind == "f" else None
        out[column] = values
    return out


def synonyms() -> dict[str, dict[str, str]]:
    """The category synonyms (variant -> canonical) that the messy spellings need.

    Case and spacing variants are left out: validation normalises those on its own.
    """

    def needed(variants: dict[str, list[str]]) -> dict[str, str]:
        found = {}
        for canonical, options in variants.items():
            for option in options:
                if " ".join(option.split()).lower() != canonical.lower():
                    found[option] = canonical
        return found

    return {
        "industry": needed(INDUSTRY_VARIANTS),
        "acquisition_channel": needed(CHANNEL_VARIANTS),
        "country": needed(COUNTRY_VARIANTS),
    }
