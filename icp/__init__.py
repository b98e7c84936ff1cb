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
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'icp' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
