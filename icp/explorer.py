"""The interactive cluster explorer (JupyterLab, ipywidgets).

:class:`ClusterExplorer` lets an analyst choose the features and the number of
clusters, colour the map by churn, value or grade, filter by segment and drill
into an account, and, in a what-if panel, move the ICP rule's thresholds or the
grade weights and watch the coverage, the ARR share and the expected churn
change. All logic lives here; the notebook only builds the explorer and shows
``explorer.widget``. Tests drive the controls headless (set ``.value``) and read
the state (``labels_``, ``what_if_``, ``grade_shares_``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["ClusterExplorer"]

logger = logging.getLogger(__name__)

_COLOURS = {"segment": None, "churn": "churn_probability", "value": "arr_usd", "grade": "grade"}


class ClusterExplorer:
    """Explore customer clusters and what-if changes to the ICP rule and grade weights.

    Parameters
    ----------
    accounts : pandas.DataFrame
        One row per account: ``account_id`` and numeric features (a snapshot).
    churn_probability : pandas.Series, optional
        Per account_id (for colouring and the expected churn of the what-if).
    grades : pandas.DataFrame, optional
        Per account_id, a ``quarterly_grade`` (or any ``*_grade``) column.
    icp_rule : icp.rules.Rule, optional
        The core ICP rule; its numeric conditions get threshold sliders.
    worksheet : icp.worksheet.Worksheet, optional
        The grading worksheet; its strategic weights get sliders.
    features : sequence of str, optional
        Initially selected features (default: up to four behavioural columns).
    random_state : int, default 42
        Seed of the clustering.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"account_id": [f"a{i}" for i in range(60)],
    ...                       "events_90d": rng.normal(10, 3, 60), "arr_usd": rng.uniform(1e3, 1e5, 60)})
    >>> ex = ClusterExplorer(frame, features=["events_90d", "arr_usd"])
    >>> ex.k.value = 3
    >>> int(ex.labels_.max()) + 1
    3
    """

    def __init__(self, accounts: pd.DataFrame, *, churn_probability: pd.Series | None = None,
                 grades: pd.DataFrame | None = None, icp_rule: Any = None, worksheet: Any = None,
                 snapshot_for_grades: pd.DataFrame | None = None, features: Sequence[str] | None = None,
                 random_state: int = 42) -> None:
        import ipywidgets as w

        frame = accounts.copy()
        frame["account_id"] = frame["account_id"].astype(str)
        frame = frame.set_index("account_id", drop=False)
        if churn_probability is not None:
            frame["churn_probability"] = pd.Series(churn_probability).reindex(frame.index).to_numpy()
        if grades is not None:
            g = grades.set_index(grades["account_id"].astype(str)) if "account_id" in grades else grades
            col = "quarterly_grade" if "quarterly_grade" in g else next(c for c in g if str(c).endswith("_grade"))
            frame["grade"] = g[col].reindex(frame.index).to_numpy()
        self.frame = frame
        self.random_state = random_state
        self.icp_rule = icp_rule
        self.worksheet = worksheet
        self._grade_snapshot = snapshot_for_grades
        numeric = [c for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])
                   and not pd.api.types.is_bool_dtype(frame[c]) and c not in ("churn_probability",)
                   and frame[c].notna().mean() > 0.5 and frame[c].nunique() > 2]
        default = [c for c in (features or ("events_90d", "tickets_per_quarter", "days_late_mean", "arr_usd"))
                   if c in numeric] or numeric[:4]
        self.features = w.SelectMultiple(options=numeric, value=tuple(default), description="Features", rows=8)
        self.k = w.IntSlider(value=4, min=2, max=10, description="Clusters (k)")
        colours = [c for c, col in _COLOURS.items() if col is None or col in frame]
        self.colour_by = w.Dropdown(options=colours, value="segment", description="Colour by")
        self.segment = w.Dropdown(options=["all"], value="all", description="Segment")
        self.account = w.Dropdown(options=[""], value="", description="Account")
        self.map_out, self.table_out, self.detail_out, self.whatif_out = (w.Output() for _ in range(4))
        self.thresholds: dict[str, Any] = {}
        for i, cond in enumerate(getattr(icp_rule, "conditions", ()) or ()):
            if cond.kind != "range" or cond.column not in frame:
                continue
            x = pd.to_numeric(frame[cond.column], errors="coerce")
            lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
            value = (cond.low if cond.low is not None else lo, cond.high if cond.high is not None else hi)
            self.thresholds[f"{i}:{cond.column}"] = w.FloatRangeSlider(
                value=value, min=min(lo, value[0]), max=max(hi, value[1]), step=(hi - lo) / 200 or 1,
                description=cond.column[:18], continuous_update=False)
        self.weights: dict[str, Any] = {}
        if worksheet is not None and snapshot_for_grades is not None:
            for crit in worksheet.criteria:
                weight = float(crit.weights.get("strategic", 0) or 0)
                self.weights[crit.name] = w.FloatSlider(value=weight, min=0, max=max(1.0, weight * 3), step=0.05,
                                                        description=crit.name[:18], continuous_update=False)
        for control in (self.features, self.k, self.colour_by, self.segment):
            control.observe(self._on_change, names="value")
        self.account.observe(lambda _: self._show_account(), names="value")
        for control in [*self.thresholds.values(), *self.weights.values()]:
            control.observe(lambda _: self._what_if(), names="value")
        self.labels_: np.ndarray = np.zeros(len(frame), dtype=int)
        self.what_if_: dict[str, float] = {}
        self.grade_shares_: dict[str, float] = {}
        self.widget = w.VBox([
            w.HTML("<h3>Cluster explorer</h3>"),
            w.HBox([self.features, w.VBox([self.k, self.colour_by, self.segment, self.account])]),
            self.map_out, self.table_out, self.detail_out,
            w.HTML("<h4>What if: move the ICP thresholds or the strategic grade weights</h4>"),
            w.HBox([w.VBox(list(self.thresholds.values())), w.VBox(list(self.weights.values()))]),
            self.whatif_out,
        ])
        self._recluster()
        self._what_if()

    # ------------------------------------------------------------------ clustering
    def _recluster(self) -> None:
        from sklearn.cluster import KMeans
        from sklearn.decomposition import PCA
        from sklearn.preprocessing import StandardScaler

        cols = list(self.features.value)
        if len(cols) < 1:
            return
        x = self.frame[cols].apply(pd.to_numeric, errors="coerce")
        x = x.fillna(x.median())
        z = StandardScaler().fit_transform(np.sign(x) * np.log1p(np.abs(x)))
        model = KMeans(n_clusters=self.k.value, n_init=4, random_state=self.random_state).fit(z)
        sizes = np.bincount(model.labels_)
        order = np.argsort(-sizes)  # segment 0 is the largest
        self.labels_ = np.argsort(order)[model.labels_]
        self.coords_ = PCA(n_components=min(2, z.shape[1]), random_state=self.random_state).fit_transform(z)
        if self.coords_.shape[1] == 1:
            self.coords_ = np.c_[self.coords_, np.zeros(len(z))]
        options = ["all", *[str(i) for i in range(self.k.value)]]
        if list(self.segment.options) != options:
            self.segment.unobserve(self._on_change, names="value")
            self.segment.options = options
            self.segment.value = "all"
            self.segment.observe(self._on_change, names="value")
        self._draw()

    def _on_change(self, change: Any) -> None:
        if change["owner"] is self.colour_by or change["owner"] is self.segment:
            self._draw()
        else:
            self._recluster()

    @property
    def visible_(self) -> np.ndarray:
        """Which accounts the segment filter shows."""
        if self.segment.value == "all":
            return np.ones(len(self.frame), dtype=bool)
        return self.labels_ == int(self.segment.value)

    def segment_table(self) -> pd.DataFrame:
        """Size, ARR, churn probability and grade mix per cluster."""
        data = self.frame.assign(cluster=self.labels_)
        agg = {"accounts": ("account_id", "size")}
        if "arr_usd" in data:
            agg["arr_usd"] = ("arr_usd", "sum")
        if "churn_probability" in data:
            agg["mean_churn_probability"] = ("churn_probability", "mean")
        table = data.groupby("cluster").agg(**agg)
        if "grade" in data:
            table["share_grade_a"] = data.groupby("cluster")["grade"].apply(lambda g: float((g == "A").mean()))
        return table.reset_index()

    def _draw(self) -> None:
        import matplotlib.pyplot as plt

        shown = self.visible_
        ids = list(self.frame.index[shown][:500])
        self.account.options = ["", *ids]
        self.map_out.clear_output(wait=True)
        with self.map_out:
            fig, ax = plt.subplots(figsize=(7, 4.5))
            colour = self.colour_by.value
            c = self.labels_[shown]
            if colour == "grade":
                c = self.frame["grade"][shown].map({"A": 0, "B": 1, "C": 2, "D": 3}).fillna(4).to_numpy()
            elif _COLOURS[colour] is not None:
                c = pd.to_numeric(self.frame[_COLOURS[colour]][shown], errors="coerce").to_numpy()
            points = ax.scatter(self.coords_[shown, 0], self.coords_[shown, 1], c=c, s=8, cmap="viridis")
            fig.colorbar(points, ax=ax, label={"segment": "Cluster", "churn": "Churn probability",
                                               "value": "ARR (USD)", "grade": "Grade (0 = A ... 3 = D)"}[colour])
            ax.set_title(f"Customers in {self.k.value} clusters, coloured by {colour}", loc="left")
            ax.set_xlabel("Map axis 1 (main behavioural difference)")
            ax.set_ylabel("Map axis 2")
            plt.show()
        self.table_out.clear_output(wait=True)
        with self.table_out:
            from IPython.display import display

            display(self.segment_table())

    def _show_account(self) -> None:
        self.detail_out.clear_output(wait=True)
        if not self.account.value:
            return
        with self.detail_out:
            from IPython.display import display

            display(self.account_detail(self.account.value))

    def account_detail(self, account_id: str) -> pd.DataFrame:
        """Every known value of one account, with its cluster."""
        row = self.frame.loc[str(account_id)]
        pos = self.frame.index.get_loc(str(account_id))
        detail = row.to_frame("value")
        detail.loc["cluster"] = int(self.labels_[pos])
        return detail

    # ------------------------------------------------------------------ what-if
    def _rule_mask(self) -> np.ndarray:
        mask = np.ones(len(self.frame), dtype=bool)
        for i, cond in enumerate(getattr(self.icp_rule, "conditions", ()) or ()):
            key = f"{i}:{cond.column}"
            if key in self.thresholds:
                lo, hi = self.thresholds[key].value
                x = pd.to_numeric(self.frame[cond.column], errors="coerce").to_numpy(dtype=float)
                mask &= (x >= lo) & (x <= hi)
            elif cond.column in self.frame:
                mask &= cond.mask(self.frame)
        return mask

    def _what_if(self) -> None:
        out: dict[str, float] = {}
        if self.icp_rule is not None:
            mask = self._rule_mask()
            out["coverage"] = float(mask.mean())
            if "arr_usd" in self.frame:
                arr = pd.to_numeric(self.frame["arr_usd"], errors="coerce").fillna(0)
                out["arr_share"] = float(arr[mask].sum() / max(arr.sum(), 1))
            if "churn_probability" in self.frame:
                p = self.frame["churn_probability"]
                out["expected_churn_in_icp"] = float(p[mask].mean()) if mask.any() else float("nan")
                out["expected_churn_outside"] = float(p[~mask].mean()) if (~mask).any() else float("nan")
        self.what_if_ = out
        if self.weights:
            from icp.grading import grade_accounts

            ws = self.worksheet
            for name, slider in self.weights.items():
                ws = ws.with_weight(name, "strategic", float(slider.value))
            try:
                graded = grade_accounts(self._grade_snapshot, worksheet=ws).grades
                shares = graded["strategic_grade"].value_counts(normalize=True)
                self.grade_shares_ = {g: float(shares.get(g, 0.0)) for g in "ABCD"}
            except ValueError as exc:  # all weights at zero, for example
                logger.info("grades not recomputed: %s", exc)
        self.whatif_out.clear_output(wait=True)
        with self.whatif_out:
            from IPython.display import display

            rows = [(k.replace("_", " "), f"{v:.1%}") for k, v in self.what_if_.items()]
            rows += [(f"strategic grade {g}", f"{v:.1%}") for g, v in self.grade_shares_.items()]
            display(pd.DataFrame(rows, columns=["what if", "value"]))
