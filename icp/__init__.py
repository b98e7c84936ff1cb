"""ICP Lens: find your real Ideal Customer Profile from what actually happened to your customers.

Public names are imported lazily, so that ``import icp`` and the ``icp`` command
start quickly and a module is loaded only when it is used.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Config": "icp.config",
    "load_config": "icp.config",
    "Dataset": "icp.dataset",
    "SchemaError": "icp.exceptions",
    "InsufficientDataError": "icp.exceptions",
    "DataQualityWarning": "icp.exceptions",
    "load": "icp.io",
    "validate": "icp.io",
    "ValidationReport": "icp.io",
    "snapshot": "icp.snapshot",
    "quarter_ends": "icp.snapshot",
    "FEATURE_DICTIONARY": "icp.features",
    "OUTCOME_COLUMNS": "icp.features",
    "make_sample": "icp.synth",
    "discover_icp": "icp.discovery",
    "IcpResult": "icp.discovery",
    "score_prospects": "icp.fit",
    "load_profile": "icp.fit",
    "grade_accounts": "icp.grading",
    "GradeResult": "icp.grading",
    "grade_migration": "icp.grade_review",
    "compare_with_account_managers": "icp.grade_review",
    "grade_validity": "icp.grade_review",
    "load_worksheet": "icp.worksheet",
    "CustomerSegmenter": "icp.segments",
    "profile_segments": "icp.segment_profiles",
    "segment_retention": "icp.segment_profiles",
    "segment_migration": "icp.segment_profiles",
    "wilson_interval": "icp.stats",
    "benjamini_hochberg": "icp.stats",
    "ChurnRiskModel": "icp.churn",
    "backtest": "icp.backtest",
    "cross_validate": "icp.backtest",
    "labelled_by": "icp.backtest",
    "risk_scores": "icp.risk",
    "kaplan_meier_by_band": "icp.survival",
    "fit_cox": "icp.survival",
}

# Modules that are themselves callable: ``icp.snapshot(data, as_of=...)``.
_CALLABLE_MODULES = {"snapshot"}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'icp' has no attribute {name!r}")
    imported = importlib.import_module(module)
    value = imported if name in _CALLABLE_MODULES else getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
