from __future__ import annotations

import pandas as pd
import pytest

from icp.config import load_config
from icp.exceptions import SchemaError


def test_defaults_apply_without_a_project_file(tmp_path):
    config = load_config(data_dir=tmp_path)
    assert config["grace_period_days"] == 30
    assert config.get("cost_to_serve.ticket_cost_usd.urgent") > config.get(
        "cost_to_serve.ticket_cost_usd.low"
    )


def test_project_file_overrides_nested_keys_and_keeps_the_rest(tmp_path):
    (tmp_path / "icp.yaml").write_text("horizon_days: 180\ncost_to_serve:\n  late_invoice_cost_usd: 9\n")
    config = load_config(data_dir=tmp_path)
    assert config["horizon_days"] == 180
    assert config.get("cost_to_serve.late_invoice_cost_usd") == 9
    assert config.get("cost_to_serve.account_overhead_usd") == 400


def test_a_project_s_own_risk_bands_and_icp_tiers_replace_the_defaults_whole(tmp_path):
    (tmp_path / "icp.yaml").write_text("risk_bands: {low: 0.0, elevated: 0.2}\n"
                                       "icp_tiers: {Gold: 80, Silver: 50, Bronze: 0}\n")
    config = load_config(data_dir=tmp_path)
    assert config["risk_bands"] == {"low": 0.0, "elevated": 0.2}
    assert config["icp_tiers"] == {"Gold": 80, "Silver": 50, "Bronze": 0}
    assert load_config(data_dir=tmp_path / "none")["icp_tiers"] == {"A": 85, "B": 67, "C": 35, "D": 0}


def test_icp_tiers_from_icp_yaml_reach_the_discovery_and_bad_ones_are_a_clear_error():
    from icp.discovery import discover_icp

    with pytest.raises(SchemaError, match="icp_tiers in icp.yaml"):
        discover_icp(pd.DataFrame({"account_id": ["a"]}), tiers={"A": 50, "B": 10})


def test_unknown_setting_is_named_in_the_error(tmp_path):
    path = tmp_path / "icp.yaml"
    path.write_text("horizon_dayz: 180\n")
    with pytest.raises(SchemaError, match="unknown settings: horizon_dayz"):
        load_config(path)


def test_invalid_yaml_says_where(tmp_path):
    path = tmp_path / "icp.yaml"
    path.write_text("tables:\n  accounts: [unclosed\n")
    with pytest.raises(SchemaError, match="not valid YAML"):
        load_config(path)
