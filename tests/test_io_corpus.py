"""The bad-input corpus: every case through the real `icp validate`, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from icp.cli import main
from icp.cli._common import console, console_err

BAD = Path(__file__).resolve().parent / "data" / "bad"
CASES = yaml.safe_load((BAD / "cases.yaml").read_text(encoding="utf-8"))


def test_the_corpus_has_at_least_thirty_cases():
    assert len(CASES) >= 30
    assert len({c["name"] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_bad_input_gives_the_expected_exit_code_and_message(case, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(console, "width", 400)
    monkeypatch.setattr(console_err, "width", 400)
    out = tmp_path / "out"
    code = main(["validate", str(BAD / case["data"]), *case["args"], "--out", str(out)])
    captured = capsys.readouterr()
    text = " ".join((captured.out + captured.err).split())
    assert "Traceback" not in text
    assert "Internal error" not in text
    assert code == case["exit"], text
    assert case["fragment"] in text, text
    report = json.loads((out / "validation.json").read_text())
    if code == 2:
        assert report["status"] == "fatal"
        return
    assert report["rows_balanced"] is True
    for name, t in report["tables"].items():
        assert t["rows_read"] == t["rows_accepted"] + t["rows_quarantined"], name
        qfile = out / "quarantine" / f"{name}.csv"
        assert qfile.exists() == (t["rows_quarantined"] > 0)
        if qfile.exists():
            lines = qfile.read_text(encoding="utf-8").strip().splitlines()
            assert len(lines) - 1 == t["rows_quarantined"]
            assert lines[0].endswith(",reason")
    for name, n in (case.get("accepted") or {}).items():
        assert report["tables"][name]["rows_accepted"] == n
    for name, n in (case.get("quarantined") or {}).items():
        assert report["tables"][name]["rows_quarantined"] == n, report["tables"][name]["quarantine_reasons"]
    for key, kind in (case.get("types") or {}).items():
        table, column = key.split(".")
        types = report["tables"][table]["column_types"]
        assert types.get(column, "string") == kind


def test_the_input_folder_is_never_written_to(tmp_path):
    before = sorted(p.name for p in (BAD / "ok_folder").iterdir())
    assert main(["validate", str(BAD / "ok_folder"), "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in (BAD / "ok_folder").iterdir()) == before
