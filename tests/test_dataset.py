from __future__ import annotations

import pandas as pd
import pytest

from icp.dataset import Dataset
from icp.exceptions import SchemaError


def test_from_frames_registers_every_table_on_the_backend():
    # Failed with "DROP VIEW IF EXISTS" under sqlglot 30 before sqlglot was pinned below 30.
    ds = Dataset.from_frames(
        {
            "accounts": pd.DataFrame({"account_id": ["a1", "a2"], "employees": [12, 40]}),
            "contracts": pd.DataFrame({"contract_id": ["c1"], "account_id": ["a1"]}),
        }
    )
    assert ds.to_pandas("accounts")["employees"].tolist() == [12, 40]
    assert ds.has("contracts") and not ds.has("usage")


def test_missing_table_error_names_the_table_and_what_was_found():
    ds = Dataset.from_frames({"accounts": pd.DataFrame({"account_id": ["a1"]})})
    with pytest.raises(SchemaError, match=r"table 'usage' .* Found tables: accounts"):
        ds.table("usage")
