"""Reading and writing ICP profiles (``icp_profile.json``): plain JSON, never pickle."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from icp.exceptions import SchemaError

__all__ = ["PROFILE_VERSION", "save_profile", "load_profile"]

PROFILE_VERSION = 1


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return str(value)
    if isinstance(value, float) and not np.isfinite(value):
        return None
    raise TypeError(f"Cannot write {type(value).__name__} to JSON")


def _clean(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.generic):
        return value.item()
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def save_profile(profile: Mapping[str, Any], path: str | Path) -> Path:
    """Write an ICP profile as JSON (missing numbers become null)."""
    path = Path(path)
    path.write_text(json.dumps(_clean(profile), indent=2, default=_json_default, allow_nan=False),
                    encoding="utf-8")
    return path


def load_profile(path: str | Path) -> dict[str, Any]:
    """Read an ICP profile written by :func:`save_profile`."""
    path = Path(path)
    if not path.exists():
        raise SchemaError(
            f"The ICP profile {path} does not exist. Expected the icp_profile.json written by "
            "'icp discover'. Run 'icp discover DATA --out DIR' first and pass DIR/icp_profile.json."
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise SchemaError(
            f"The ICP profile {path} is not valid JSON. Expected the icp_profile.json written by "
            "'icp discover'. Run 'icp discover' again to rebuild it."
        ) from None
    if not isinstance(data, dict) or data.get("version") not in (None, PROFILE_VERSION):
        raise SchemaError(
            f"The ICP profile {path} has an unknown format. Expected version {PROFILE_VERSION}. "
            "Run 'icp discover' again to rebuild it."
        )
    return data
