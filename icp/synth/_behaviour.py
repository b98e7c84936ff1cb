"""Account behaviour: latent traits per account, usage, support tickets and AM grades."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from icp.synth import _dates as D
from icp.synth import _spec as S
from icp.synth._tables import Coded

SECONDS_PER_DAY = 86_400
PRIORITIES = np.array(["low", "normal", "high", "urgent"], dtype=object)
# share of low / normal / high among the non-urgent tickets
PRIORITY_REST = np.array([0.30, 0.55, 0.15])
RESOLUTION_HOURS = np.array([60.0, 30.0, 16.0, 5.0])  # median by priority
CATEGORIES = np.array(["technical", "how-to", "billing", "onboarding", "feature request"],
                      dtype=object)
CATEGORY_MIX = np.array([0.40, 0.25, 0.12, 0.13, 0.10])
CATEGORY_MIX_LATE = np.array([0.30, 0.18, 0.35, 0.09, 0.08])


@dataclass
class Traits:
    """Fixed behavioural traits of each account of a chunk."""

    users_base: np.ndarray
    events_per_user: np.ndarray
    decay: np.ndarray
    tickets_q: np.ndarray
    urgent_share: np.ndarray
    late_share: np.ndarray
    days_late: np.ndarray


def _profile(seg: np.ndarray, key: str) -> np.ndarray:
    values = np.array([S.SEGMENT_PROFILE[name][key] for name in S.SEGMENTS])
    return values[seg]


def draw_traits(rng: np.random.Generator, employees: np.ndarray, group: np.ndarray,
                seg: np.ndarray) -> Traits:
    """Draw each account's behavioural traits from its segment and planted group."""
    n = len(seg)
    tickets_mult = np.array([S.GROUP_TICKETS[g] for g in group])
    late_mult = np.array([S.GROUP_LATE[g] for g in group])
    users_base = np.maximum(
        1.0, employees * _profile(seg, "adoption") * np.exp(rng.normal(0.0, 0.2, n))
    )
    return Traits(
        users_base=users_base,
        events_per_user=_profile(seg, "events_per_user") * np.exp(rng.normal(0.0, 0.2, n)),
        decay=_profile(seg, "decay"),
        tickets_q=_profile(seg, "tickets_q") * tickets_mult
        * (employees / 300.0) ** 0.12 * np.exp(rng.normal(0.0, 0.25, n)),
        urgent_share=np.clip(_profile(seg, "urgent") + np.where(group == "anti_icp", 0.04, 0.0)
                             + rng.normal(0.0, 0.03, n), 0.01, 0.7),
        late_share=np.clip(_profile(seg, "late_share") * late_mult
                           * np.exp(rng.normal(0.0, 0.2, n)), 0.0, 0.95),
        days_late=_profile(seg, "days_late") * np.where(group == "anti_icp", 1.3, 1.0)
        * np.exp(rng.normal(0.0, 0.2, n)),
    )


def usage_latent(rng: np.random.Generator, traits: Traits, start_month: np.ndarray,
                 n_months: int) -> tuple[np.ndarray, np.ndarray]:
    """Monthly active users and events of every account over the whole month grid.

    Returned as if no account ever churned; rows after an account's last active
    month are dropped when the usage table is written.
    """
    n = len(start_month)
    age = np.arange(n_months)[None, :] - start_month[:, None]
    ageing = np.maximum(age - 1, 0)
    users = np.maximum(
        1.0,
        np.round(traits.users_base[:, None] * np.exp(-0.5 * traits.decay[:, None] * ageing)
                 * np.exp(rng.normal(0.0, 0.05, (n, n_months)))),
    )
    events = np.round(users * traits.events_per_user[:, None]
                      * np.exp(-traits.decay[:, None] * ageing)
                      * np.exp(rng.normal(0.0, 0.12, (n, n_months))))
    return users, events


def usage_trend(events: np.ndarray, start_month: np.ndarray, idx: np.ndarray,
                qe_month: np.ndarray) -> np.ndarray:
    """log(events in the 3 months up to qe_month / the 3 months before); 0 when too new."""
    last = sum(events[idx, np.clip(qe_month - k, 0, None)] for k in range(3))
    prev = sum(events[idx, np.clip(qe_month - 3 - k, 0, None)] for k in range(3))
    ok = (qe_month - 5) >= start_month[idx]
    return np.where(ok, np.log((last + 1.0) / (prev + 1.0)), 0.0)


def usage_rows(rng: np.random.Generator, users: np.ndarray, events: np.ndarray,
               start_day: np.ndarray, last_day: np.ndarray, month0: int,
               grain: str) -> dict[str, np.ndarray]:
    """Usage rows (account index, date, active_users, events) while each account is active."""
    sm = D.month_index(start_day) - month0
    lm = D.month_index(last_day) - month0
    if grain == "month":
        counts = lm - sm + 1
        acct = np.repeat(np.arange(len(sm)), counts)
        offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        month = sm[acct] + offs
        return {"acct": acct, "date": D.month_start(month + month0),
                "active_users": users[acct, month], "events": events[acct, month]}
    step = 7 if grain == "week" else 1
    # weeks start on Monday (1970-01-05 was one); the first row is the first whole week
    first = start_day + (7 - (start_day - 4) % 7) % 7 if step == 7 else start_day.copy()
    counts = np.maximum((last_day - first) // step + 1, 0)
    acct = np.repeat(np.arange(len(sm)), counts)
    offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    day = first[acct] + offs * step
    month = np.clip(D.month_index(day) - month0, 0, users.shape[1] - 1)
    scale = step / 30.44
    noise = np.exp(rng.normal(0.0, 0.15, len(day)))
    if step == 1:
        weekday = (day - 4) % 7  # 0 = Monday
        noise = noise * np.where(weekday >= 5, 0.3, 1.28)
    act_users = np.maximum(1.0, np.round(users[acct, month]
                                         * np.minimum(1.0, 0.55 + 0.45 * scale ** 0.3)))
    ev = np.round(events[acct, month] * scale * noise)
    return {"acct": acct, "date": day, "active_users": act_users, "events": ev}


def ticket_rows(rng: np.random.Generator, traits: Traits, seg: np.ndarray, group: np.ndarray,
                start_day: np.ndarray, last_day: np.ndarray, end_day: int) -> dict[str, np.ndarray]:
    """Support tickets opened while each account is active, sorted by opening time."""
    span = (last_day - start_day + 1).astype(float)
    counts = rng.poisson(traits.tickets_q * span / 91.31)
    acct = np.repeat(np.arange(len(span)), counts)
    m = len(acct)
    day = start_day[acct] + np.floor(rng.random(m) * span[acct]).astype(np.int64)
    minute = np.clip(rng.normal(13 * 60, 150, m), 6 * 60, 22 * 60).astype(np.int64)
    opened = day * SECONDS_PER_DAY + minute * 60
    order = np.argsort(opened, kind="stable")
    acct, opened = acct[order], opened[order]

    urgent = rng.random(m) < traits.urgent_share[acct]
    rest = rng.choice(3, size=m, p=PRIORITY_REST)
    prio = np.where(urgent, 3, rest)
    slow = np.where(seg[acct] == S.SEGMENTS.index("support_heavy"), 1.8, 1.0)
    hours = RESOLUTION_HOURS[prio] * slow * np.exp(rng.normal(0.0, 0.6, m))
    closed = opened + np.round(hours * 60).astype(np.int64) * 60
    still_open = closed >= (end_day + 1) * SECONDS_PER_DAY

    late_payer = seg[acct] == S.SEGMENTS.index("late_payers")
    u = rng.random(m)
    cat_normal = np.searchsorted(np.cumsum(CATEGORY_MIX), u, side="right")
    cat_late = np.searchsorted(np.cumsum(CATEGORY_MIX_LATE), u, side="right")
    category = Coded(np.minimum(np.where(late_payer, cat_late, cat_normal), 4), CATEGORIES)

    mean = (4.3 - 1.3 * (seg[acct] == S.SEGMENTS.index("support_heavy"))
            - 0.4 * (group[acct] == "anti_icp") + 0.2 * (group[acct] == "icp")
            - 0.15 * np.log1p(hours / 24.0))
    csat = np.clip(np.round(rng.normal(mean, 0.8)), 1, 5)
    rated = (rng.random(m) < 0.55) & ~still_open
    csat = np.where(rated, csat, np.nan)
    return {
        "acct": acct,
        "opened_at": opened,
        "closed_at": np.where(still_open, np.iinfo(np.int64).min, closed),
        "priority": Coded(prio, PRIORITIES),
        "category": category,
        "csat": csat,
    }


def grade_rows(rng: np.random.Generator, employees: np.ndarray, group: np.ndarray,
               seg: np.ndarray, manager: np.ndarray, start_day: np.ndarray,
               last_day: np.ndarray) -> dict[str, np.ndarray]:
    """Quarterly account-manager grades at every quarter end an account is active.

    Eagerness follows the account's true value only in part: each manager also
    favours big companies (by a personal amount), late payers or not.
    """
    n = len(seg)
    qe = D.quarter_ends(int(start_day.min()), int(last_day.max()))
    lo = np.searchsorted(qe, start_day, side="left")
    hi = np.searchsorted(qe, last_day, side="right")
    counts = np.maximum(hi - lo, 0)
    acct = np.repeat(np.arange(n), counts)
    offs = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    q_index = lo[acct] + offs
    m = len(acct)

    seg_value = np.array([0.6, 0.2, -0.6, -0.7, -0.5])[seg]
    value = seg_value + np.where(group == "icp", 1.0, 0.0) - np.where(group == "anti_icp", 1.2, 0.0)
    size = (np.log10(np.maximum(employees, 1)) - 2.3) / 0.8
    bias = np.asarray(S.AM_SIZE_BIAS)[manager]
    persist = rng.normal(0.0, 0.4, (n, 4))

    def score(centre: np.ndarray, sd: float) -> np.ndarray:
        return np.clip(np.round(centre + rng.normal(0.0, sd, m)), 1, 5)

    eagerness = score(3.0 + 0.6 * value[acct] + bias[acct] * size[acct] + persist[acct, 0], 0.45)
    partner = score(3.0 + 0.9 * value[acct] + persist[acct, 1], 0.5)
    strategic = score(3.0 + 0.5 * value[acct] + 0.6 * size[acct] + persist[acct, 2], 0.5)
    ref_logit = -0.4 + 1.3 * value[acct] + 0.3 * size[acct] + persist[acct, 3]
    reference = np.where(rng.random(m) < 1.0 / (1.0 + np.exp(-ref_logit)), "yes", "no")

    # managers skip a few quarters and leave a few scores empty
    keep = rng.random(m) >= 0.04
    for values in (eagerness, partner, strategic):
        values[rng.random(m) < 0.02] = np.nan
    reference = reference.astype(object)
    reference[rng.random(m) < 0.02] = None
    return {
        "acct": acct[keep],
        "period": Coded(q_index[keep], D.quarter_label(qe).astype(object)),
        "partnerability": partner[keep],
        "reference_willing": reference[keep],
        "eagerness": eagerness[keep],
        "strategic_fit": strategic[keep],
    }
