"""Customer segmentation: :class:`CustomerSegmenter`, a scikit-learn estimator on a snapshot.

Segments are found on behaviour (usage intensity, support load, payments) by
default, never on outcomes (churn, renewal, ARR change, value): those are what a
segment is later judged by. The number of segments is chosen by a score
(Calinski-Harabasz with a silhouette guard for k-means, BIC for the Gaussian
mixture) together with bootstrap stability, and every candidate is reported in
``selection_``.

Which columns are used: :mod:`icp.segment_features`; preprocessing:
:mod:`icp.segment_preprocessing`; profiles, retention curves and migration:
:mod:`icp.segment_profiles`; names: :mod:`icp.segment_names`.
"""

from __future__ import annotations

import logging
import numbers
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin, _fit_context
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from icp.exceptions import InsufficientDataError, SchemaError
from icp.segment_features import (
    DEFAULT_FEATURES,
    DERIVED_FEATURES,
    KEY_COLUMNS,
    OUTCOME_COLUMNS,
    _excluded_columns,
    add_derived_features,
    default_features,
)
from icp.segment_preprocessing import SegmentPreprocessor

__all__ = [
    "CustomerSegmenter",
    "DEFAULT_FEATURES",
    "KEY_COLUMNS",
    "OUTCOME_COLUMNS",
    "DERIVED_FEATURES",
    "add_derived_features",
    "default_features",
]

log = logging.getLogger(__name__)

# Above this many rows k-means runs as MiniBatchKMeans and a Gaussian mixture is
# fitted on a subsample (then assigns every row).
_LARGE_N = 100_000
_GMM_FIT_ROWS = 200_000



class CustomerSegmenter(ClusterMixin, TransformerMixin, BaseEstimator):
    """Behavioural customer segments with an automatic, stability-checked number of segments.

    Parameters
    ----------
    n_clusters : int or "auto", default "auto"
        The number of segments (1 puts every account in one segment), or
        ``"auto"`` to choose it within ``k_range``.
    method : {"kmeans", "gmm"}, default "kmeans"
        k-means (MiniBatchKMeans above 100,000 rows) or a Gaussian mixture with
        full covariances.
    features : list of str, "all" or None, default None
        Input columns. ``None``: the behavioural defaults (:func:`default_features`);
        ``"all"``: every usable non-key, non-outcome column. Outcome columns are
        refused in every case.
    k_range : tuple of int, default (2, 8)
        Smallest and largest number of segments tried when ``n_clusters="auto"``.
    criterion : {"auto", "calinski_harabasz", "silhouette", "bic"}, default "auto"
        How candidates are scored. ``"auto"``: the Calinski-Harabasz index for
        k-means and BIC for the mixture. Silhouette alone prefers the few most
        separated groups (merging real segments that touch); Calinski-Harabasz
        alone tends to split round, compact groups, so it is applied among the
        candidates whose silhouette is within ``silhouette_tolerance`` of the
        best one. Every score is reported in ``selection_``.
    n_bootstrap : int, default 8
        Bootstrap refits per candidate k for the stability score (mean adjusted
        Rand index between the partitions of resamples); 0 switches it off.
    min_stability : float, default 0.8
        Candidates at least this stable are preferred; among them the best
        scoring k wins. When none reaches it, the most stable k is chosen.
    silhouette_tolerance : float, default 0.1
        With the Calinski-Harabasz criterion, only candidates whose silhouette
        is at least ``(1 - silhouette_tolerance)`` times the best are eligible.
    sample_size : int, default 20000
        Rows (a seeded subsample) on which candidates are scored and bootstrapped;
        the final model is fitted on every row.
    log_transform : {"auto", True, False}, default "auto"
        Log-transform skewed non-negative amounts and counts (see
        :class:`~icp.segment_preprocessing.SegmentPreprocessor`).
    max_categories : int, default 8
        Levels kept per categorical input.
    n_init : int, default 4
        Restarts of the final k-means or mixture fit.
    random_state : int, RandomState or None, default None
        Seed for subsampling, bootstrap and the clustering.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Segment of each training row, numbered by size (0 is the largest).
    n_clusters_ : int
        Number of segments chosen or forced.
    features_ : list of str
        Input columns segmented on.
    feature_names_in_ : ndarray of str
        Columns of the training frame (only for frames with string column names).
    n_features_in_ : int
        Number of columns of the training input.
    preprocessor_ : SegmentPreprocessor
        The fitted preprocessing.
    model_ : KMeans, MiniBatchKMeans or GaussianMixture
        The fitted clustering.
    cluster_centers_ : ndarray of shape (n_clusters_, n_outputs)
        Segment centres in the preprocessed space, in segment order.
    segment_names_ : list of str
        A unique, human-readable name per segment (in segment order), built
        from what sets it apart in the training data (features only, never
        outcomes); :func:`icp.segment_profiles.profile_segments` gives the same
        names with descriptions and outcomes.
    selection_ : pandas.DataFrame
        One row per candidate k: silhouette, Calinski-Harabasz, BIC (mixture),
        stability, ``stable`` and ``chosen``; ``selection_.attrs["criterion"]``
        names the criterion used.
    stability_ : float
        Bootstrap stability (mean ARI) of the chosen k; NaN when ``n_bootstrap=0``.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from icp.segments import CustomerSegmenter
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"events_90d": np.r_[rng.normal(10, 1, 50), rng.normal(50, 1, 50)],
    ...                       "tickets_per_quarter": np.r_[rng.normal(8, 1, 50), rng.normal(1, 1, 50)]})
    >>> seg = CustomerSegmenter(features=["events_90d", "tickets_per_quarter"], random_state=0)
    >>> seg.fit(frame).n_clusters_
    2
    """

    _parameter_constraints: dict = {
        "n_clusters": [Interval(numbers.Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "method": [StrOptions({"kmeans", "gmm"})],
        "features": [list, tuple, StrOptions({"all"}), None],
        "k_range": [tuple, list],
        "criterion": [StrOptions({"auto", "silhouette", "calinski_harabasz", "bic"})],
        "n_bootstrap": [Interval(numbers.Integral, 0, None, closed="left")],
        "min_stability": [Interval(numbers.Real, 0, 1, closed="both")],
        "silhouette_tolerance": [Interval(numbers.Real, 0, 1, closed="both")],
        "sample_size": [Interval(numbers.Integral, 100, None, closed="left")],
        "log_transform": ["boolean", StrOptions({"auto"})],
        "max_categories": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_init": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        *,
        n_clusters="auto",
        method: str = "kmeans",
        features=None,
        k_range=(2, 8),
        criterion: str = "auto",
        n_bootstrap: int = 8,
        min_stability: float = 0.8,
        silhouette_tolerance: float = 0.1,
        sample_size: int = 20_000,
        log_transform="auto",
        max_categories: int = 8,
        n_init: int = 4,
        random_state=None,
    ):
        self.n_clusters = n_clusters
        self.method = method
        self.features = features
        self.k_range = k_range
        self.criterion = criterion
        self.n_bootstrap = n_bootstrap
        self.min_stability = min_stability
        self.silhouette_tolerance = silhouette_tolerance
        self.sample_size = sample_size
        self.log_transform = log_transform
        self.max_categories = max_categories
        self.n_init = n_init
        self.random_state = random_state

    # ------------------------------------------------------------------ input
    def _as_frame(self, X, *, reset: bool) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            if reset:
                self.n_features_in_ = X.shape[1]
                if all(isinstance(c, str) for c in X.columns):
                    self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
                elif hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            if X.shape[1] == 0 or len(X) == 0:
                raise ValueError(
                    f"The data to segment is empty: found {X.shape[0]} rows and {X.shape[1]} columns. "
                    "Expected a snapshot with at least one row per account and some feature columns. "
                    "Check the as_of date and the input."
                )
            return X
        array = validate_data(self, X, reset=reset, ensure_all_finite="allow-nan", dtype="numeric")
        if not reset and hasattr(self, "feature_names_in_"):
            return pd.DataFrame(array, columns=list(self.feature_names_in_))
        return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])

    def _resolve_features(self, frame: pd.DataFrame) -> list[str]:
        excluded = _excluded_columns()
        if self.features is None:
            chosen = default_features(frame)
        elif isinstance(self.features, str):  # "all"
            chosen = default_features(frame, min_default=len(frame.columns) + 1)
        else:
            chosen = [str(c) for c in self.features]
            missing = [c for c in chosen if c not in frame.columns]
            if missing:
                raise SchemaError(
                    f"The feature columns {', '.join(missing)} are not in the data. "
                    f"Expected columns of the snapshot; found: {', '.join(map(str, frame.columns[:30]))}. "
                    "Check the spelling in the 'features' list."
                )
        leaky = [c for c in chosen if c in excluded]
        if leaky:
            raise SchemaError(
                f"The columns {', '.join(leaky)} are outcomes or keys and cannot be segmentation inputs. "
                "Expected behavioural or firmographic features only. "
                "Remove them from 'features'; segments are judged by outcomes, not built from them."
            )
        if not chosen:
            raise SchemaError(
                "No usable feature columns were found to segment on. "
                f"Expected numeric or categorical attributes; found: {', '.join(map(str, frame.columns[:30]))}. "
                "Pass the columns explicitly with features=[...]."
            )
        return chosen

    # ------------------------------------------------------------ clustering
    def _make_model(self, k: int, n_rows: int, seed: int, n_init: int):
        if self.method == "gmm":
            return GaussianMixture(
                n_components=k, covariance_type="full", n_init=n_init, reg_covar=1e-4,
                max_iter=200, random_state=seed,
            )
        if n_rows > _LARGE_N:
            return MiniBatchKMeans(
                n_clusters=k, n_init=n_init, batch_size=4096, max_no_improvement=20,
                random_state=seed,
            )
        return KMeans(n_clusters=k, n_init=n_init, random_state=seed)

    def _criterion(self) -> str:
        if self.criterion != "auto":
            return self.criterion
        return "bic" if self.method == "gmm" else "calinski_harabasz"

    def _candidates(self, n: int) -> list[int]:
        if self.n_clusters != "auto":
            if self.n_clusters > n:
                raise InsufficientDataError(
                    f"Cannot form {self.n_clusters} segments from {n} accounts. "
                    f"Expected at least as many accounts as segments. Choose n_clusters <= {n}."
                )
            return [int(self.n_clusters)]
        k_range = tuple(self.k_range)
        if (
            len(k_range) != 2
            or not all(isinstance(v, numbers.Integral) for v in k_range)
            or not 2 <= k_range[0] <= k_range[1]
        ):
            raise ValueError(
                "The 'k_range' parameter of CustomerSegmenter must be a pair (low, high) of "
                f"integers with 2 <= low <= high. Got {self.k_range!r} instead."
            )
        high = min(int(k_range[1]), n - 1)
        if high < int(k_range[0]):
            raise InsufficientDataError(
                f"Too few accounts ({n}) to choose between {k_range[0]} and {k_range[1]} segments. "
                "Expected more accounts than segments. Pass a smaller n_clusters or k_range."
            )
        return list(range(int(k_range[0]), high + 1))

    def _score_candidates(self, Z: np.ndarray, rng: np.random.RandomState, progress) -> pd.DataFrame:
        n = Z.shape[0]
        candidates = self._candidates(n)
        crit = self._criterion()
        idx = np.sort(rng.choice(n, size=self.sample_size, replace=False)) if n > self.sample_size else np.arange(n)
        S = Z[idx]
        sil_rows = min(len(S), 5000)
        seeds = rng.randint(np.iinfo(np.int32).max, size=(len(candidates), self.n_bootstrap + 2))
        rows = []
        steps = len(candidates) * (self.n_bootstrap + 1)
        done = 0
        for ci, k in enumerate(candidates):
            model = self._make_model(k, len(S), int(seeds[ci, 0]), self.n_init).fit(S)
            labels = model.predict(S)
            row = {"k": k, "silhouette": np.nan, "calinski_harabasz": np.nan, "bic": np.nan,
                   "stability": np.nan}
            if len(np.unique(labels)) > 1:
                row["calinski_harabasz"] = float(calinski_harabasz_score(S, labels))
            if len(np.unique(labels)) > 1 and (crit == "silhouette" or self.n_clusters == "auto"):
                row["silhouette"] = float(silhouette_score(
                    S, labels, sample_size=sil_rows if sil_rows < len(S) else None,
                    random_state=int(seeds[ci, 1]),
                ))
            if self.method == "gmm" or crit == "bic":
                gm = model if isinstance(model, GaussianMixture) else GaussianMixture(
                    n_components=k, covariance_type="diag", random_state=int(seeds[ci, 1]), reg_covar=1e-4
                ).fit(S)
                row["bic"] = float(gm.bic(S))
            done += 1
            if progress:
                progress(done / steps, f"k={k}: fitted")
            if self.n_bootstrap > 0:
                partitions = []
                for b in range(self.n_bootstrap):
                    boot_rng = np.random.RandomState(int(seeds[ci, b + 2]))
                    sample = boot_rng.randint(0, len(S), size=len(S))
                    # a mixture starts from k-means, so one start per refit is enough
                    refit_init = 1 if self.method == "gmm" else self.n_init
                    fit = self._make_model(k, len(S), int(seeds[ci, b + 2]), refit_init).fit(S[sample])
                    partitions.append(fit.predict(S))
                    done += 1
                    if progress:
                        progress(done / steps, f"k={k}: bootstrap {b + 1}/{self.n_bootstrap}")
                aris = [
                    adjusted_rand_score(partitions[i], partitions[j])
                    for i in range(len(partitions)) for j in range(i + 1, len(partitions))
                ]
                row["stability"] = float(np.mean(aris)) if aris else np.nan
            rows.append(row)
        table = pd.DataFrame(rows)
        table["stable"] = table["stability"] >= self.min_stability
        table["chosen"] = False
        table.loc[self._choose(table, crit), "chosen"] = True
        table.attrs["criterion"] = crit
        return table

    def _choose(self, table: pd.DataFrame, crit: str):
        if len(table) == 1:
            return table.index[0]
        pool = table[table["stable"]] if self.n_bootstrap > 0 else table
        if pool.empty:
            log.warning(
                "No number of segments reached a bootstrap stability of %.2f; choosing the most stable one.",
                self.min_stability,
            )
            return table["stability"].idxmax()
        if crit == "bic":
            return pool["bic"].idxmin()
        if crit == "calinski_harabasz":
            # the silhouette guard keeps CH from splitting round, compact groups
            best = pool["silhouette"].max()
            if np.isfinite(best):
                guarded = pool[pool["silhouette"] >= best - self.silhouette_tolerance * abs(best)]
                pool = guarded if not guarded.empty else pool
            return pool["calinski_harabasz"].fillna(-1).idxmax()
        return pool["silhouette"].fillna(-1).idxmax()

    # -------------------------------------------------------------- fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, *, progress: Callable[[float, str], None] | None = None):
        """Find the segments of ``X``.

        Parameters
        ----------
        X : pandas.DataFrame or array-like of shape (n_samples, n_features)
            A snapshot (one row per account) or a numeric matrix.
        y : None
            Ignored; present for the scikit-learn API.
        progress : callable, optional
            Called as ``progress(fraction_done, message)`` during the search.

        Returns
        -------
        self
        """
        frame = add_derived_features(self._as_frame(X, reset=True))
        rng = check_random_state(self.random_state)
        n = len(frame)
        if n < 3:
            raise InsufficientDataError(
                f"Segmentation needs at least 3 accounts; found n_samples={n}. "
                "Expected a snapshot with many accounts. Check the as_of date and the filters."
            )
        self.features_ = self._resolve_features(frame)
        self.preprocessor_ = SegmentPreprocessor(
            log_transform=self.log_transform, max_categories=self.max_categories
        ).fit(frame[self.features_])
        Z = self.preprocessor_.transform(frame[self.features_])
        # Candidate fits run on at most `sample_size` rows, where one thread is
        # fastest and avoids OpenMP spin-waiting on a busy machine.
        with threadpool_limits(limits=1):
            self.selection_ = self._score_candidates(Z, rng, progress)
        chosen = self.selection_.loc[self.selection_["chosen"]].iloc[0]
        self.n_clusters_ = int(chosen["k"])
        self.stability_ = float(chosen["stability"])
        seed = int(rng.randint(np.iinfo(np.int32).max))
        model = self._make_model(self.n_clusters_, n, seed, self.n_init)
        if isinstance(model, GaussianMixture) and n > _GMM_FIT_ROWS:
            model.fit(Z[np.sort(rng.choice(n, size=_GMM_FIT_ROWS, replace=False))])
        else:
            with threadpool_limits(limits=None if n > _LARGE_N else 1):
                model.fit(Z)
        self.model_ = model
        raw = model.predict(Z)
        # number segments by size (largest first), ties by raw label, so runs are comparable
        sizes = np.bincount(raw, minlength=self.n_clusters_)
        order = sorted(range(self.n_clusters_), key=lambda c: (-sizes[c], c))
        self._relabel = np.empty(self.n_clusters_, dtype=np.int64)
        self._relabel[order] = np.arange(self.n_clusters_)
        self.labels_ = self._relabel[raw]
        centers = model.means_ if isinstance(model, GaussianMixture) else model.cluster_centers_
        self.cluster_centers_ = np.asarray(centers)[order]
        from icp.segment_names import name_segments  # names read this module's constants

        names = name_segments(frame, self.labels_)
        self.segment_names_ = [names.get(s, f"Segment {s}") for s in range(self.n_clusters_)]
        if progress:
            progress(1.0, f"{self.n_clusters_} segments")
        return self

    def predict(self, X) -> np.ndarray:
        """Assign rows of ``X`` (holding the fitted feature columns) to the fitted segments.

        Parameters
        ----------
        X : pandas.DataFrame or array-like
            Rows to assign, for example a later snapshot.

        Returns
        -------
        ndarray of int
        """
        check_is_fitted(self, "model_")
        frame = add_derived_features(self._as_frame(X, reset=False))
        missing = [c for c in self.features_ if c not in frame.columns]
        if missing:
            raise SchemaError(
                f"The data to assign to segments lacks the columns {', '.join(missing)}. "
                f"Expected the columns the segments were fitted on: {', '.join(self.features_)}. "
                "Build both snapshots the same way."
            )
        Z = self.preprocessor_.transform(frame[self.features_])
        return self._relabel[self.model_.predict(Z)]

    def transform(self, X) -> np.ndarray:
        """The preprocessed (scaled, encoded) feature matrix of ``X``, e.g. for a 2-D map."""
        check_is_fitted(self, "model_")
        frame = add_derived_features(self._as_frame(X, reset=False))
        return self.preprocessor_.transform(frame[self.features_])

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> np.ndarray:
        """Names of the columns returned by :meth:`transform`."""
        check_is_fitted(self, "model_")
        return self.preprocessor_.get_feature_names_out()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        tags.non_deterministic = False
        return tags
