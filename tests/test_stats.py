"""Shared statistics: Wilson intervals and Benjamini-Hochberg."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from icp.stats import benjamini_hochberg, wilson_interval


def test_wilson_matches_published_values():
    # Newcombe (1998), Table I: 81/263 -> 0.2553 to 0.3662; 15/148 -> 0.0624 to 0.1605
    low, high = wilson_interval(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    low, high = wilson_interval(15, 148)
    assert (round(low, 4), round(high, 4)) == (0.0624, 0.1605)


def test_wilson_edges_stay_inside_zero_one_with_width():
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and 0.2 < high < 0.35
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and 0.65 < low < 0.8


def test_wilson_empty_group_is_nan():
    assert all(np.isnan(v) for v in wilson_interval(0, 0))


def test_wilson_accepts_arrays_and_series():
    low, high = wilson_interval(pd.Series([0, 5, 10]), np.array([10, 10, 10]))
    assert low.shape == (3,) and np.all(low <= high)
    assert low[1] == pytest.approx(1 - high[1])  # symmetric around one half


def test_wilson_higher_confidence_is_wider():
    narrow = np.subtract(*wilson_interval(30, 100, confidence=0.8)[::-1])
    wide = np.subtract(*wilson_interval(30, 100, confidence=0.99)[::-1])
    assert wide > narrow


@pytest.mark.parametrize("successes, n, message", [
    (5, 3, "0 <= successes <= n"), (-1, 3, "0 <= successes <= n"), (float("nan"), 3, "must not be missing"),
])
def test_wilson_rejects_impossible_counts(successes, n, message):
    with pytest.raises(ValueError, match=message):
        wilson_interval(successes, n)


def test_wilson_rejects_confidence_outside_zero_one():
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        wilson_interval(1, 3, confidence=95)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 10_000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_contains_the_observed_rate(pair):
    successes, n = pair
    low, high = wilson_interval(successes, n)
    assert 0.0 <= low <= successes / n <= high <= 1.0


def test_wilson_coverage_is_close_to_nominal():
    rng = np.random.default_rng(0)
    n, p = 40, 0.1
    successes = rng.binomial(n, p, 20_000)
    low, high = wilson_interval(successes, np.full_like(successes, n))
    coverage = np.mean((low <= p) & (p <= high))
    assert 0.93 <= coverage <= 0.97


def test_benjamini_hochberg_matches_hand_computation():
    q, rejected = benjamini_hochberg([0.01, 0.04, 0.03, 0.20])
    np.testing.assert_allclose(q, [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.20])
    assert rejected.tolist() == [True, False, False, False]


def test_benjamini_hochberg_keeps_missing_values_out_of_the_count():
    q, rejected = benjamini_hochberg([0.01, np.nan, 0.02])
    assert np.isnan(q[1]) and not rejected[1]
    np.testing.assert_allclose(q[[0, 2]], [0.02, 0.02])


def test_benjamini_hochberg_rejects_values_outside_zero_one():
    with pytest.raises(ValueError, match="between 0 and 1"):
        benjamini_hochberg([0.5, 1.5])
