"""The leadership deck: one self-contained HTML file of slides.

Built from ``results/leadership_summary.json`` (written by the leadership summary
notebook through :func:`icp.report.summary.leadership_summary`), with charts drawn here
and embedded as base64 PNG, and inline CSS, so the file opens on a plane.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["write_deck", "render_deck", "figure_to_data_uri"]


def figure_to_data_uri(fig: Any) -> str:
    """Encode a matplotlib figure as a ``data:image/png;base64,...`` URI (and close it).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import matplotlib.pyplot as plt
    >>> figure_to_data_uri(plt.figure()).startswith("data:image/png;base64,")
    True
    """
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _bar(labels: list[str], values: list[float], *, title: str, xlabel: str, percent: bool = False,
         color: str = "#1e5aa8") -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 0.5 + 0.42 * max(len(labels), 2)))
    positions = range(len(labels))
    ax.barh(list(positions), values, color=color)
    ax.set_yticks(list(positions), labels)
    ax.invert_yaxis()
    ax.set_title(title, loc="left", fontsize=12)
    ax.set_xlabel(xlabel)
    for pos, value in zip(positions, values, strict=True):
        text = f"{value:.0%}" if percent else (f"${value:,.0f}" if "USD" in xlabel else f"{value:,.0f}")
        ax.text(value, pos, " " + text, va="center", fontsize=9)
    if percent:
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.set_xlim(0, max([1.0, *values]) if max(values or [0]) > 0.6 else max(values or [0.1]) * 1.3)
    else:
        ax.set_xlim(0, max(values or [1]) * 1.25 or 1)
        ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(
            lambda v, _: f"${v / 1e6:,.1f}M" if max(values or [0]) >= 1e6 else f"{v:,.0f}"))
    ax.spines[["top", "right"]].set_visible(False)
    return figure_to_data_uri(fig)


def _charts(summary: Mapping[str, Any]) -> dict[str, str]:
    charts: dict[str, str] = {}
    outside = summary.get("outside_icp") or []
    if outside:
        charts["outside"] = _bar(
            [o["label"] for o in outside], [float(o["share"]) for o in outside],
            title="Customers outside our ICP: their share of each total",
            xlabel="Share of the company-wide total", percent=True, color="#b42318",
        )
    bands = summary.get("risk_by_band") or []
    if bands:
        charts["risk"] = _bar(
            [f"{b['band']} risk ({b['accounts']} accounts)" for b in bands],
            [float(b["arr_at_risk_usd"]) for b in bands],
            title="ARR at risk by churn-risk band", xlabel="Expected ARR lost (USD)", color="#c2410c",
        )
    grades = summary.get("grade_counts") or []
    if grades:
        charts["grades"] = _bar(
            [f"Grade {g['grade']}" for g in grades], [float(g["accounts"]) for g in grades],
            title="Accounts per grade this quarter", xlabel="Number of accounts",
        )
    segments = summary.get("segments") or []
    if segments:
        charts["segments"] = _bar(
            [s["name"] for s in segments], [float(s["churn_rate"]) for s in segments],
            title="Churn rate by customer segment", xlabel="Share of accounts that churned", percent=True,
        )
    return charts


def render_deck(summary: Mapping[str, Any], *, manifest: Mapping[str, Any] | None = None) -> str:
    """Render the deck's HTML from a leadership summary (as written to JSON).

    Examples
    --------
    >>> html = render_deck({"quarter": "2025Q4", "headline": [], "actions": []})
    >>> "2025Q4" in html and "<script" not in html
    True
    """
    from icp.report.html import _template

    return _template("deck.html.j2").render(summary=summary, charts=_charts(summary), manifest=manifest or {})


def write_deck(results_dir: str | Path, target: str | Path, *, manifest: Mapping[str, Any] | None = None) -> Path:
    """Write the deck from ``results_dir/leadership_summary.json`` to ``target``.

    Examples
    --------
    >>> write_deck("reports/2025Q4/results", "reports/2025Q4/deck.html")  # doctest: +SKIP
    PosixPath('reports/2025Q4/deck.html')
    """
    summary = json.loads((Path(results_dir) / "leadership_summary.json").read_text(encoding="utf-8"))
    target = Path(target)
    target.write_text(render_deck(summary, manifest=manifest), encoding="utf-8")
    return target
