"""Customer segmentation: the estimator, profiles and names, retention, migration, plots, CLI."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score
from sklearn.utils.estimator_checks import parametrize_with_checks

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from _segment_frames import SEGMENTS, snapshot_like  # noqa: E402

import icp.segments as segments_module  # noqa: E402
from icp.exceptions import InsufficientDataError, SchemaError  # noqa: E402
from icp.segment_profiles import (  # noqa: E402
    profile_segments,
    segment_migration,
    segment_retention,
)
from icp.segments import CustomerSegmenter, default_features  # noqa: E402
from icp.stats import wilson_interval  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "data" / "sample"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"

# lean settings for tests: few bootstrap refits, a short k range
FAST = dict(n_bootstrap=3, k_range=(2, 6), n_init=2, random_state=0)


@pytest.fixture(scope="module")
def planted():
    return snapshot_like(1500, seed=3)


@pytest.fixture(scope="module")
def fitted(planted):
    frame, _ = planted
    return CustomerSegmenter(**FAST).fit(frame)


# ---------------------------------------------------------------- estimator
@parametrize_with_checks([CustomerSegmenter(n_bootstrap=2, k_range=(2, 3), random_state=0)])
def test_segmenter_passes_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_segmenter_recovers_planted_segments_and_is_stable(planted, fitted):
    frame, truth = planted
    assert fitted.n_clusters_ == len(SEGMENTS)
    assert adjusted_rand_score(truth, fitted.labels_) >= 0.9
    assert fitted.stability_ >= 0.8
    table = fitted.selection_
    assert table["chosen"].sum() == 1
    assert {"k", "silhouette", "calinski_harabasz", "stability", "stable"} <= set(table.columns)


def test_default_features_never_include_outcomes_or_keys(planted, fitted):
    frame, _ = planted
    forbidden = set(segments_module.OUTCOME_COLUMNS) | set(segments_module.KEY_COLUMNS)
    assert not forbidden & set(fitted.features_)
    assert not forbidden & set(default_features(frame, min_default=99))


def test_outcome_as_feature_is_refused_with_a_clear_message(planted):
    frame, _ = planted
    with pytest.raises(SchemaError, match="outcomes or keys and cannot be segmentation inputs"):
        CustomerSegmenter(features=["tickets_per_quarter", "churned"], **FAST).fit(frame)


def test_unknown_feature_is_refused_with_the_columns_found(planted):
    frame, _ = planted
    with pytest.raises(SchemaError, match="'features' list"):
        CustomerSegmenter(features=["tickets_per_q"], **FAST).fit(frame)


def test_forced_k_is_used_and_reported(planted):
    frame, _ = planted
    seg = CustomerSegmenter(n_clusters=3, **FAST).fit(frame)
    assert seg.n_clusters_ == 3
    assert seg.selection_["k"].tolist() == [3]
    assert set(np.unique(seg.labels_)) == {0, 1, 2}


def test_same_seed_gives_same_segments_and_labels_follow_size(planted, fitted):
    frame, _ = planted
    again = CustomerSegmenter(**FAST).fit(frame)
    np.testing.assert_array_equal(again.labels_, fitted.labels_)
    sizes = np.bincount(fitted.labels_)
    assert list(sizes) == sorted(sizes, reverse=True)


def test_predict_on_training_rows_reproduces_labels(planted, fitted):
    frame, _ = planted
    np.testing.assert_array_equal(fitted.predict(frame), fitted.labels_)
    # extra or reordered columns do not matter: features are matched by name
    shuffled = frame[frame.columns[::-1]].assign(extra=1)
    np.testing.assert_array_equal(fitted.predict(shuffled), fitted.labels_)


def test_predict_without_a_fitted_feature_names_it(planted, fitted):
    frame, _ = planted
    with pytest.raises(SchemaError, match="lacks the columns tickets_per_quarter"):
        fitted.predict(frame.drop(columns="tickets_per_quarter"))


def test_gaussian_mixture_recovers_planted_segments(planted):
    frame, truth = planted
    seg = CustomerSegmenter(method="gmm", n_clusters=4, n_bootstrap=0, random_state=0).fit(frame)
    assert adjusted_rand_score(truth, seg.labels_) >= 0.85


def test_large_inputs_switch_to_minibatch_kmeans(planted, monkeypatch):
    frame, truth = planted
    monkeypatch.setattr(segments_module, "_LARGE_N", 1000)
    seg = CustomerSegmenter(n_clusters=4, n_bootstrap=0, random_state=0).fit(frame)
    assert type(seg.model_).__name__ == "MiniBatchKMeans"
    assert adjusted_rand_score(truth, seg.labels_) >= 0.85


def test_mixed_types_with_missing_values_are_handled():
    frame, truth = snapshot_like(600, seed=5)
    frame = frame.astype({"industry": "category"})
    frame.loc[::7, "tickets_per_quarter"] = np.nan
    feats = ["tickets_per_quarter", "late_payment_share", "events_90d", "industry", "plan"]
    seg = CustomerSegmenter(features=feats, n_clusters=4, n_bootstrap=0, random_state=0).fit(frame)
    out = seg.transform(frame)
    assert np.isfinite(out).all()
    names = seg.get_feature_names_out()
    assert out.shape[1] == len(names) and "industry=Retail" in names
    assert "events_90d" in seg.preprocessor_.log_columns_


def test_too_few_accounts_raise_insufficient_data():
    frame, _ = snapshot_like(30, seed=0)
    with pytest.raises(InsufficientDataError, match="Cannot form 40 segments from 30 accounts"):
        CustomerSegmenter(n_clusters=40, n_bootstrap=0).fit(frame)


def test_progress_callback_reaches_completion(planted):
    frame, _ = planted
    seen = []
    CustomerSegmenter(**FAST).fit(frame, progress=lambda done, msg: seen.append(done))
    assert seen[-1] == 1.0 and all(0 <= v <= 1 for v in seen)


# ---------------------------------------------------------------- profiles
def test_profiles_report_size_shares_and_wilson_churn(planted, fitted):
    frame, _ = planted
    profiles = profile_segments(frame, fitted.labels_)
    summary = profiles.summary
    assert summary["n_accounts"].sum() == len(frame)
    assert summary["account_share"].sum() == pytest.approx(1.0)
    assert summary["arr_share"].sum() == pytest.approx(1.0)
    first = summary.iloc[0]
    inside = fitted.labels_ == first["segment"]
    churned = int(frame.loc[inside, "churned"].sum())
    assert first["churn_rate"] == pytest.approx(churned / inside.sum())
    assert (first["churn_ci_low"], first["churn_ci_high"]) == pytest.approx(
        wilson_interval(churned, int(inside.sum())))
    nrr = frame.loc[inside, "arr_next_usd"].sum() / frame.loc[inside, "arr_usd"].sum()
    assert first["net_revenue_retention"] == pytest.approx(nrr)
    for col in ("gross_margin_pct", "late_payment_share", "tickets_per_quarter", "events_90d"):
        assert col in summary.columns
    assert "<table" in profiles._repr_html_()


def test_names_describe_the_planted_behaviour_and_are_unique(planted, fitted):
    frame, truth = planted
    profiles = profile_segments(frame, fitted.labels_)
    names = profiles.names
    assert len(set(names.values())) == len(names)
    assert fitted.segment_names_ == [names[s] for s in range(fitted.n_clusters_)]
    # the segment holding most planted late payers is named after late payment, and so on
    expected = {"late_payers": "late payers", "support_heavy": "support-heavy", "heavy_users": "heavy users"}
    for planted_name, phrase in expected.items():
        idx = SEGMENTS.index(planted_name)
        segment = pd.Series(fitted.labels_[truth == idx]).mode()[0]
        assert phrase in names[int(segment)].lower(), names
    # heavy users were planted with a referral lean: the name says who they are
    heavy = pd.Series(fitted.labels_[truth == SEGMENTS.index("heavy_users")]).mode()[0]
    assert "won by referral" in names[int(heavy)]
    for description in profiles.summary["description"]:
        assert description.endswith(".") and description.count(". ") == 0


def test_names_are_deterministic_and_unique_even_for_twin_segments():
    frame = pd.DataFrame({"tickets_per_quarter": [1.0, 1.1, 0.9, 8.0, 9.0, 7.5, 8.2, 8.8, 7.9]})
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    first = profile_segments(frame, labels).names
    assert first == profile_segments(frame, labels).names
    assert len(set(first.values())) == 3


def test_profile_rejects_labels_of_another_length(planted):
    frame, _ = planted
    with pytest.raises(ValueError, match="one label per row"):
        profile_segments(frame, [0, 1])


# ---------------------------------------------------------------- retention
def test_retention_curves_per_segment_with_logrank(planted, fitted):
    frame, _ = planted
    result = segment_retention(frame, fitted.labels_)
    assert len(result.summary) == fitted.n_clusters_
    assert result.time_unit == "days since as_of"
    assert result.logrank_p_value < 1e-6  # planted churn differs by segment
    curves = result.curves
    assert curves.groupby("segment")["retention"].apply(lambda s: s.is_monotonic_decreasing).all()
    assert curves["time"].max() <= 365


def test_retention_shows_no_difference_between_random_groups(planted):
    frame, _ = planted
    labels = np.random.default_rng(0).integers(0, 3, len(frame))
    assert segment_retention(frame, labels).logrank_p_value > 0.001


# ---------------------------------------------------------------- migration
def test_migration_counts_reconcile_and_list_movers(planted, fitted):
    frame, truth = planted
    def segment_of(name):
        return int(pd.Series(fitted.labels_[truth == SEGMENTS.index(name)]).mode()[0])

    late_segment, steady_segment = segment_of("late_payers"), segment_of("steady")
    later = frame.iloc[100:].copy()
    # steady accounts that start paying late move to the late payers
    movers = later.index[(fitted.labels_[later.index] == steady_segment)][:5]
    later.loc[movers, "late_payment_share"] = 0.95
    later.loc[movers, "days_late_mean"] = 40.0
    later = pd.concat([later, frame.iloc[[0]].assign(account_id="NEW1")], ignore_index=True)
    result = segment_migration(frame, later, fitted)
    counts = result.summary
    assert counts.to_numpy().sum() == len(frame) + 1
    assert counts.loc["(new)"].sum() == 1 and counts["(gone)"].sum() == 100
    moved = result.moved.set_index("account_id")
    assert "NEW1" in moved.index and pd.isna(moved.loc["NEW1", "segment_from"])
    for account in frame.loc[movers, "account_id"]:
        assert moved.loc[account, "segment_to"] == late_segment
    # nobody else changed: the other accounts stay on the diagonal
    stayed = counts.drop(index="(new)", columns="(gone)").to_numpy()
    assert np.trace(stayed) == len(frame) - 100 - len(movers)


# ---------------------------------------------------------------- plots
def test_plots_draw_on_the_given_axes(planted, fitted):
    frame, _ = planted
    profiles = profile_segments(frame, fitted.labels_)
    from icp.plotting.segments import (
        plot_segment_map,
        plot_segment_profiles,
        plot_segment_retention,
    )

    fig, axes = plt.subplots(2, 2)
    assert plot_segment_map(frame, segmenter=fitted, ax=axes[0, 0], names=profiles.names) is axes[0, 0]
    assert plot_segment_map(frame, segmenter=fitted, ax=axes[0, 1], color_by="churn") is axes[0, 1]
    assert plot_segment_profiles(profiles, ax=axes[1, 0]) is axes[1, 0]
    retention = segment_retention(frame, fitted.labels_, names=profiles.names)
    assert plot_segment_retention(retention, ax=axes[1, 1]) is axes[1, 1]
    assert len(axes[0, 0].collections) == fitted.n_clusters_
    plt.close(fig)


@pytest.mark.slow
def test_tsne_map_runs(fitted):
    from icp.plotting.segments import plot_segment_map

    frame, _ = snapshot_like(300, seed=9)
    ax = plot_segment_map(frame, segmenter=fitted, method="tsne")
    assert ax.get_xlabel() == "t-SNE 1"
    plt.close(ax.figure)


# ---------------------------------------------------------------- CLI
def test_cli_segment_writes_segments_and_profiles(tmp_path):
    from icp.cli import main

    frame, _ = snapshot_like(400, seed=11)
    single = frame.drop(columns=["as_of", "churn_date", "renewal_due", "renewed", "arr_next_usd",
                                 "arr_change_usd", "customer_value_usd", "churned"])
    single["Churn"] = np.where(frame["churned"], "Yes", "No")
    single = single.rename(columns={"account_id": "customer"})
    path = tmp_path / "customers.csv"
    single.to_csv(path, index=False)
    out = tmp_path / "out"
    code = main(["segment", str(path), "--id", "customer", "--churn", "Churn=Yes", "--k", "3",
                 "--out", str(out)])
    assert code == 0
    written = pd.read_csv(out / "segments.csv")
    assert list(written.columns) == ["account_id", "segment", "segment_name"]
    assert len(written) == 400 and written["segment"].nunique() == 3
    profiles = pd.read_csv(out / "segment_profiles.csv")
    assert len(profiles) == 3 and profiles["segment_name"].is_unique


def test_cli_segment_refuses_multi_table_data_without_as_of(tmp_path, capsys):
    if not (SAMPLE / "accounts.csv").exists():
        pytest.skip("data/sample/ has not been generated (run make sample)")
    from icp.cli import main

    assert main(["segment", str(SAMPLE), "--out", str(tmp_path)]) == 2
    assert "needs --as-of" in capsys.readouterr().err


# ---------------------------------------------------------------- acceptance on real data
@pytest.fixture(scope="module")
def sample_dataset():
    if not (SAMPLE / "ground_truth" / "accounts.csv").exists():
        pytest.skip("data/sample/ has not been generated (run make sample)")
    import icp.io

    return icp.io.load(SAMPLE)


@pytest.mark.slow
@pytest.mark.parametrize("as_of", ["2024-06-30", "2024-12-31", "2025-06-30", "2025-12-31"])
def test_sample_planted_segments_are_recovered(sample_dataset, as_of):
    from icp.snapshot import snapshot

    snap = snapshot(sample_dataset, as_of=as_of)
    seg = CustomerSegmenter(random_state=42).fit(snap)  # defaults: no tuning, no ground truth
    truth = pd.read_csv(SAMPLE / "ground_truth" / "accounts.csv").set_index("account_id")["segment"]
    ari = adjusted_rand_score(truth.reindex(snap["account_id"]).to_numpy(), seg.labels_)
    assert seg.stability_ >= 0.8
    assert ari >= 0.8, seg.selection_


@pytest.mark.slow
@pytest.mark.shared
def test_telco_single_table_segments_without_tuning():
    path = SHARED / "telco_churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
    if not path.exists():
        pytest.skip(f"the shared Telco data set is not beside the checkout ({path})")
    import icp.io
    from icp.snapshot import snapshot

    snap = snapshot(icp.io.load(path, id_column="customerID", churn="Churn=Yes"))
    seg = CustomerSegmenter(random_state=42).fit(snap)
    assert "churned" not in seg.features_
    profiles = profile_segments(snap, seg.labels_)
    assert profiles.summary["segment_name"].is_unique
    assert segment_retention(snap, seg.labels_).time_unit == "tenure"


@pytest.mark.slow
@pytest.mark.shared
def test_ravenstack_segments_without_tuning():
    folder = SHARED / "ravenstack"
    config = ROOT / "examples" / "ravenstack" / "icp.yaml"
    if not folder.exists() or not config.exists():
        pytest.skip(f"the shared RavenStack data set or its icp.yaml is absent ({folder})")
    import icp.io
    from icp.snapshot import snapshot

    snap = snapshot(icp.io.load(folder, config=config), as_of="2024-06-30")
    seg = CustomerSegmenter(random_state=42).fit(snap)
    profiles = profile_segments(snap, seg.labels_)
    assert profiles.summary["n_accounts"].sum() == len(snap)
    assert profiles.summary["segment_name"].is_unique


def test_all_features_never_include_any_snapshot_outcome():
    from icp.features import OUTCOME_COLUMNS
    from icp.segment_features import default_features

    frame = pd.DataFrame({name: [1.0, 2.0, 3.0] for name in OUTCOME_COLUMNS})
    frame["account_id"] = ["a", "b", "c"]
    frame["tickets_per_quarter"] = [0.0, 1.0, 5.0]
    chosen = default_features(frame)
    assert set(chosen).isdisjoint(OUTCOME_COLUMNS)
    assert "tickets_per_quarter" in chosen
