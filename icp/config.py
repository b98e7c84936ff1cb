"""Loading ``icp.yaml``: the project file that maps a company's exports onto the data contract.

The defaults live in ``icp/defaults.yaml`` (documented there); a project file
overrides any key, and nested mappings are merged key by key, except the cut-point
settings of :data:`WHOLE_SETTINGS` (risk bands, ICP tiers), which a project replaces whole.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from icp.exceptions import SchemaError

__all__ = ["Config", "load_config", "DEFAULTS"]


def _read_defaults() -> dict[str, Any]:
    text = resources.files("icp").joinpath("defaults.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


DEFAULTS: Mapping[str, Any] = _read_defaults()


# Settings that are one list of cut points: a project's own replaces the default whole
# (merging {low: 0, elevated: 0.2} into the default risk bands would keep bands it dropped).
WHOLE_SETTINGS = frozenset({"risk_bands", "icp_tiers"})


def _merge(base: Mapping[str, Any], override: Mapping[str, Any], *, whole: frozenset = WHOLE_SETTINGS
           ) -> dict[str, Any]:
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if key not in whole and isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


@dataclass(frozen=True)
class Config:
    """Settings of one project: defaults merged with the project's ``icp.yaml``.

    Read settings with item access (``config["horizon_days"]``) or
    :meth:`get` with a dotted path (``config.get("cost_to_serve.ticket_cost_usd")``).
    """

    values: Mapping[str, Any] = field(default_factory=lambda: copy.deepcopy(dict(DEFAULTS)))
    path: Path | None = None

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def get(self, dotted: str, default: Any = None) -> Any:
        """Return the setting at a dotted path, or ``default`` when it is absent."""
        node: Any = self.values
        for part in dotted.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return default
            node = node[part]
        return node

    def updated(self, **overrides: Any) -> Config:
        """Return a new Config with top-level keys replaced (nested mappings merged)."""
        return Config(_merge(self.values, overrides), self.path)

    def table_spec(self, table: str) -> dict[str, Any]:
        """The mapping for one contract table: ``{"file": ..., "columns": {...}}``."""
        spec = (self.values.get("tables") or {}).get(table) or {}
        return dict(spec)


def load_config(path: str | Path | None = None, *, data_dir: str | Path | None = None) -> Config:
    """Load the project configuration.

    Parameters
    ----------
    path : str or Path, optional
        An explicit ``icp.yaml``. When absent, ``icp.yaml`` beside the data
        (in ``data_dir``) is used if it exists; otherwise the defaults.
    data_dir : str or Path, optional
        The data folder, searched for ``icp.yaml`` when ``path`` is not given.

    Returns
    -------
    Config

    Examples
    --------
    >>> from icp.config import load_config
    >>> load_config()["grace_period_days"]
    30
    """
    if path is None and data_dir is not None:
        candidate = Path(data_dir) / "icp.yaml"
        if Path(data_dir).is_dir() and candidate.exists():
            path = candidate
    if path is None:
        return Config()
    path = Path(path)
    if not path.exists():
        raise SchemaError(
            f"The configuration file {path} does not exist. Expected an icp.yaml file. "
            "Check the path given with --config."
        )
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" near line {where.line + 1}" if where is not None else ""
        raise SchemaError(
            f"The configuration file {path} is not valid YAML{line}. "
            "Expected mappings such as 'horizon_days: 365'. "
            "Check the indentation and the colons on that line."
        ) from None
    if not isinstance(loaded, Mapping):
        raise SchemaError(
            f"The configuration file {path} must hold a mapping of settings. "
            f"Found a {type(loaded).__name__} instead. "
            "Start the file with settings such as 'horizon_days: 365'."
        )
    unknown = sorted(set(loaded) - set(DEFAULTS))
    if unknown:
        raise SchemaError(
            f"The configuration file {path} has unknown settings: {', '.join(unknown)}. "
            f"Expected only: {', '.join(sorted(DEFAULTS))}. "
            "Check the spelling of those keys."
        )
    return Config(_merge(DEFAULTS, loaded), path)
