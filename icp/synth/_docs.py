"""The documents written beside the sample: icp.yaml, README.md, rules.json and rules.md."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import yaml
from scipy.stats import rankdata

from icp.synth import _spec as S
from icp.synth._firmographics import synonyms
from icp.synth._readme import TEMPLATE


def roc_auc(score: np.ndarray, label: np.ndarray) -> float:
    """ROC AUC by ranks (ties get half credit); NaN when one class is absent."""
    label = np.asarray(label, dtype=bool)
    pos, neg = int(label.sum()), int((~label).sum())
    if pos == 0 or neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[label].sum() - pos * (pos + 1) / 2) / (pos * neg))


def measured(stats) -> dict[str, Any]:
    """Planted-structure numbers measured on the generated rows."""
    out: dict[str, Any] = {"groups": {}}
    total = sum(v["accounts"] for v in stats.sums.values())
    for g in stats.groups:
        v = stats.sums.get(g, {})

        def ratio(a: str, b: str, v=v) -> float | None:
            return round(v.get(a, 0.0) / v[b], 4) if v.get(b) else None

        out["groups"][g] = {
            "accounts": int(v.get("accounts", 0)),
            "share_of_accounts": round(v.get("accounts", 0) / total, 4) if total else None,
            "renewal_decisions": int(v.get("decisions", 0)),
            "churn_rate_per_decision": ratio("churned", "decisions"),
            "late_invoice_share": ratio("invoices_late", "invoices_due"),
            "written_off_invoice_share": ratio("invoices_written_off", "invoices_due"),
            "tickets_per_active_quarter": ratio("tickets", "active_quarters"),
            "urgent_ticket_share": ratio("urgent", "tickets"),
            "mean_gross_margin_pct": ratio("margin_sum", "contracts"),
        }
    p = np.concatenate(stats.p) if stats.p else np.empty(0)
    p_obs = np.concatenate(stats.p_obs) if stats.p_obs else np.empty(0)
    churned = np.concatenate(stats.churned) if stats.churned else np.empty(0, bool)
    out["renewal_decisions"] = int(len(p))
    out["churn_rate_per_decision"] = round(float(churned.mean()), 4) if len(p) else None
    out["auc_true_probability"] = round(roc_auc(p, churned), 4)
    out["auc_observable_probability"] = round(roc_auc(p_obs, churned), 4)
    out["segment_shares"] = {name: round(float(c / max(stats.segments.sum(), 1)), 4)
                             for name, c in zip(S.SEGMENTS, stats.segments)}
    return out


def rules(settings: dict[str, Any], numbers: dict[str, Any]) -> dict[str, Any]:
    """The machine-readable planted truth (rules.json)."""
    return {
        "icp": {
            "description": f"industry in {{{', '.join(S.ICP_INDUSTRIES)}}} and "
                           f"{S.ICP_EMPLOYEES[0]} <= employees <= {S.ICP_EMPLOYEES[1]}",
            "conditions": [
                {"column": "industry", "op": "in", "values": list(S.ICP_INDUSTRIES)},
                {"column": "employees", "op": "between", "low": S.ICP_EMPLOYEES[0],
                 "high": S.ICP_EMPLOYEES[1], "inclusive": True},
            ],
        },
        "anti_icp": {
            "description": f"employees < {S.ANTI_MAX_EMPLOYEES} and "
                           f"acquisition_channel == {S.ANTI_CHANNEL}",
            "conditions": [
                {"column": "employees", "op": "<", "value": S.ANTI_MAX_EMPLOYEES},
                {"column": "acquisition_channel", "op": "==", "value": S.ANTI_CHANNEL},
            ],
        },
        "secondary_effects": [
            {"condition": f"employees > {S.ICP_EMPLOYEES[1]}",
             "effect": f"gross margin {-S.MARGIN_LARGE_PENALTY:+} points and churn logit "
                       f"{S.CHURN['above_icp_size']:+}: companies that outgrow an SMB product "
                       "(this is why the ICP's employee range is closed above)"},
        ],
        "segments": {
            name: {"description": S.SEGMENT_DESCRIPTIONS[name], "profile": S.SEGMENT_PROFILE[name],
                   "mix_given_group": {g: S.SEGMENT_MIX[g][i] for g in S.SEGMENT_MIX}}
            for i, name in enumerate(S.SEGMENTS)
        },
        "churn_probability": {
            "form": "sigmoid(intercept + in_icp + in_anti_icp + segment + above_icp_size "
                    "+ first_renewal + late_share * (late_share_seen - 0.15) "
                    "+ usage_trend * clip(trend_seen, -1, 1) + noise)",
            "coefficients": S.CHURN,
            "observed_at": "the last quarter end strictly before the decision date; "
                           "late_share_seen = share of the account's invoices due before that "
                           "date paid after their due date (or still unpaid then); trend_seen = "
                           "log(events in the 3 months up to that date / the 3 months before), "
                           "0 with under 6 months of history",
            "unobservable": "noise ~ Normal(0, noise_sd) per decision on the logit scale",
        },
        "settings": settings,
        "measured": numbers,
    }


def rules_markdown(truth: dict[str, Any]) -> str:
    """The planted truth in words (rules.md)."""
    m = truth["measured"]
    c = S.CHURN
    lines = [
        "# The planted truth of this sample", "",
        "Generated by `icp sample --out DIR "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in truth["settings"].items()) + "`.",
        "Only tests, documentation and benchmarks read this folder; analyses never do.", "",
        "## ICP (who the company is for)", "",
        f"`{truth['icp']['description']}`: its accounts renew far more often, pay on time, "
        "need little support and carry a high gross margin.", "",
        "## Anti-ICP (the \"sell to anyone who will buy\" pattern)", "",
        f"`{truth['anti_icp']['description']}`: tiny companies won by cold outbound. High churn, "
        "late payments, write-offs and a heavy support load. ICP and anti-ICP are disjoint "
        "by construction (the ICP needs at least 200 employees).", "",
        "A secondary, weaker effect is also planted: "
        + truth["secondary_effects"][0]["condition"] + ": "
        + truth["secondary_effects"][0]["effect"] + ". A discovery may rightly report it as a "
        "further, weaker anti-ICP rule.", "",
        "## Measured on the generated rows", "",
        "| group | accounts | share | churn per renewal decision | invoices paid late "
        "| invoices written off | tickets per active quarter | urgent share | gross margin % |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for g, v in m["groups"].items():
        lines.append(f"| {g} | {v['accounts']} | {v['share_of_accounts']} | "
                     f"{v['churn_rate_per_decision']} | {v['late_invoice_share']} | "
                     f"{v['written_off_invoice_share']} | {v['tickets_per_active_quarter']} | "
                     f"{v['urgent_ticket_share']} | {v['mean_gross_margin_pct']} |")
    lines += [
        "", f"Overall churn per renewal decision: {m['churn_rate_per_decision']} "
            f"({m['renewal_decisions']} decided renewals).", "",
        "## Behavioural segments (fixed per account)", "",
        "Drawn partly from the planted group (ICP accounts are mostly power users or steady; "
        "anti-ICP accounts mostly support-heavy, declining or late payers), so segments and "
        "groups overlap without coinciding.", "",
        "| segment | share | behaviour | P(segment given icp / anti_icp / other) |",
        "|---|---|---|---|",
    ]
    for name, seg in truth["segments"].items():
        mix = " / ".join(str(seg["mix_given_group"][g]) for g in ("icp", "anti_icp", "other"))
        lines.append(f"| {name} | {m['segment_shares'][name]} | {seg['description']} | {mix} |")
    seg_terms = ", ".join(f"{k} {v:+}" for k, v in c["segment"].items())
    lines += [
        "", "## True churn probability of a renewal decision", "",
        "Every contract end is a renewal decision. Its probability is",
        "", "```", truth["churn_probability"]["form"], "```", "",
        f"with intercept {c['intercept']}, in_icp {c['in_icp']:+}, in_anti_icp "
        f"{c['in_anti_icp']:+}, segment ({seg_terms}), more than "
        f"{S.ICP_EMPLOYEES[1]} employees {c['above_icp_size']:+}, first renewal "
        f"{c['first_renewal']:+}, late_share {c['late_share']:+} and usage_trend "
        f"{c['usage_trend']:+}. The behavioural terms are what a point-in-time snapshot at the "
        "last quarter end before the decision can see: "
        + truth["churn_probability"]["observed_at"] + ".", "",
        "### How much is unobservable", "",
        f"Only the per-decision noise (Normal(0, {c['noise_sd']}) on the logit scale) is "
        "unobservable. On the decided renewals of this sample the true probabilities reach a "
        f"ROC AUC of {m['auc_true_probability']}; the probabilities without the noise "
        f"(everything a snapshot can see) reach {m['auc_observable_probability']}. The segment "
        "itself is not a column: a model has to infer it from usage, payments and support.", "",
        "Churning accounts default on part of their last invoices (those due after that last "
        "quarter end, so no snapshot sees the default coming) with probability "
        + ", ".join(f"{k} {v}" for k, v in S.DEFAULT_PROBABILITY.items())
        + f" (late payers {S.DEFAULT_PROBABILITY_LATE_PAYERS}); the unpaid invoices are written "
        f"off {S.WRITE_OFF_AFTER_DAYS[0]}-{S.WRITE_OFF_AFTER_DAYS[1]} days after their due date.",
        "",
        "## Account managers' grades", "",
        "Eagerness follows the account's true value only in part: every manager also favours "
        "big companies (by a personal amount, strongest for "
        + ", ".join(n for n, b in zip(S.ACCOUNT_MANAGERS, S.AM_SIZE_BIAS) if b >= 1.2)
        + "), late payers or not. Partnerability and reference willingness follow value more "
        "closely; strategic fit mixes value and size.", "",
        "## Noise", "",
        "Messy spellings of industry, acquisition channel and country (declared in icp.yaml), "
        "a few per cent of missing annual revenue, region, founded year and country, unrated "
        "tickets, skipped grades, and the broken rows listed in broken_rows.csv.", "",
    ]
    return "\n".join(lines)


def icp_yaml() -> str:
    """The sample's project file: the synonyms its messy spellings need."""
    body = yaml.safe_dump({"categories": {"synonyms": synonyms()}}, sort_keys=True,
                          allow_unicode=True, default_flow_style=False)
    return ("# Project file of the generated sample: category synonyms (variant: canonical)\n"
            "# for the spellings the generator made messy. Case and spacing variants are\n"
            "# normalised by validation on its own.\n" + body)


def readme(truth: dict[str, Any], files: dict[str, tuple[int, int]]) -> str:
    """README.md of a generated sample: data dictionary, generation, planted truth."""
    template = TEMPLATE
    m = truth["measured"]
    rows = "\n".join(f"| `{name}` | {n_rows:,} | {size / 1e6:.2f} MB |"
                     for name, (n_rows, size) in files.items())
    groups = m["groups"]
    return template.format(
        command="icp sample --out DIR "
        + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in truth["settings"].items()),
        files=rows,
        icp=truth["icp"]["description"], anti=truth["anti_icp"]["description"],
        icp_share=groups["icp"]["share_of_accounts"], anti_share=groups["anti_icp"]["share_of_accounts"],
        icp_churn=groups["icp"]["churn_rate_per_decision"],
        anti_churn=groups["anti_icp"]["churn_rate_per_decision"],
        other_churn=groups["other"]["churn_rate_per_decision"],
        churn=m["churn_rate_per_decision"],
        icp_late=groups["icp"]["late_invoice_share"], anti_late=groups["anti_icp"]["late_invoice_share"],
        other_late=groups["other"]["late_invoice_share"],
        icp_tix=groups["icp"]["tickets_per_active_quarter"],
        anti_tix=groups["anti_icp"]["tickets_per_active_quarter"],
        other_tix=groups["other"]["tickets_per_active_quarter"],
        auc=m["auc_true_probability"], auc_obs=m["auc_observable_probability"],
        segments=", ".join(f"{k} ({v})" for k, v in m["segment_shares"].items()),
    )


def write_json(data: dict[str, Any]) -> str:
    """Stable JSON text."""
    return json.dumps(data, indent=2, sort_keys=False) + "\n"
