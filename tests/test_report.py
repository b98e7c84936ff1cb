"""The report runner: strict parameters, notebook lint, atomic writes and the manifest.

These tests run a tiny suite of test notebooks (tests/data/notebooks/) that need
no analysis, so they check the runner itself; tests/test_notebooks.py runs the
real suite.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import nbformat
import pytest

from icp.exceptions import SchemaError
from icp.report import (
    NotebookParameter,
    coerce_parameters,
    lint_notebook,
    parse_quarter,
    quarter_end,
    read_parameters,
    validate_parameters,
)
from icp.report.html import render_index, strip_remote_scripts
from icp.report.runner import load_suite, run_report

HERE = Path(__file__).resolve().parent
SUITE = HERE / "data" / "notebooks"


def _notebook(path: Path, cells: list[tuple[str, str, list[str]]]) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for kind, source, tags in cells:
        cell = nbformat.v4.new_code_cell(source) if kind == "code" else nbformat.v4.new_markdown_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


GOOD_PARAMS = 'quarter: str = "2025Q4"  # fiscal quarter to report\nk: int = 0  # number of segments'


# ----------------------------------------------------------------------------- quarters


@pytest.mark.parametrize(
    ("quarter", "end"),
    [("2025Q1", dt.date(2025, 3, 31)), ("2025Q2", dt.date(2025, 6, 30)),
     ("2024Q3", dt.date(2024, 9, 30)), ("2025Q4", dt.date(2025, 12, 31))],
)
def test_quarter_turns_into_its_last_day(quarter, end):
    assert quarter_end(quarter) == end


@pytest.mark.parametrize("bad", ["2025Q5", "2025-Q2", "Q2 2025", "25Q1", "", 2025])
def test_malformed_quarter_is_rejected_with_a_hint(bad):
    with pytest.raises(SchemaError, match="YYYYQn.*Write it like 2025Q2"):
        parse_quarter(bad)


# ----------------------------------------------------------------------------- lint


def test_clean_notebook_passes_lint(tmp_path):
    nb = _notebook(tmp_path / "ok.ipynb", [("md", "# Title", []), ("code", GOOD_PARAMS, ["parameters"]),
                                           ("code", "x = 1", [])])
    assert lint_notebook(nb) == []


def test_notebook_with_outputs_fails_lint(tmp_path):
    path = _notebook(tmp_path / "out.ipynb", [("code", GOOD_PARAMS, ["parameters"]), ("code", "1 + 1", [])])
    nb = nbformat.read(path, as_version=4)
    nb.cells[1].outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=1)]
    nb.cells[1].execution_count = 1
    nbformat.write(nb, path)
    problems = lint_notebook(path)
    assert any("holds outputs" in p for p in problems)
    assert any("execution count" in p for p in problems)


@pytest.mark.parametrize("n_cells", [0, 2])
def test_notebook_without_exactly_one_parameters_cell_fails_lint(tmp_path, n_cells):
    cells = [("code", GOOD_PARAMS, ["parameters"])] * n_cells + [("code", "x = 1", [])]
    problems = lint_notebook(_notebook(tmp_path / "p.ipynb", cells))
    assert any(f"exactly one cell tagged 'parameters'. Found {n_cells}" in p for p in problems)


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ('quarter = "2025Q4"  # no annotation', "not an annotated assignment"),
        ('quarter: str = "2025Q4"', "no help comment"),
        ("when: str = str(2025)  # computed", "literal default"),
        ('k: int = "five"  # wrong type', "default of parameter 'k' is not a int"),
        ("k: int = 0  # zero = automatic", "more than one '='"),
    ],
)
def test_parameters_cell_must_hold_annotated_literals_with_help(tmp_path, source, fragment):
    problems = lint_notebook(_notebook(tmp_path / "p.ipynb", [("code", source, ["parameters"])]))
    assert any(fragment in p for p in problems), problems


def test_suite_notebooks_must_declare_the_common_parameters(tmp_path):
    path = _notebook(tmp_path / "p.ipynb", [("code", GOOD_PARAMS, ["parameters"])])
    problems = lint_notebook(path, require_common=True)
    assert any("Missing: data," in p for p in problems)


def test_test_suite_notebooks_pass_lint():
    for path in sorted(SUITE.glob("*.ipynb")):
        assert lint_notebook(path, require_common=True) == [], path.name


# ----------------------------------------------------------------------------- strict parameters


def test_parameters_are_read_from_the_parameters_cell():
    params = read_parameters(SUITE / "b_second.ipynb")
    assert params["fail"] == NotebookParameter("fail", "bool", False, "raise an error on purpose, to test failures")
    assert list(params)[:2] == ["data", "quarter"]


def test_unknown_parameter_is_an_error_with_a_suggestion():
    declared = read_parameters(SUITE / "a_first.ipynb")
    with pytest.raises(SchemaError, match=r"'greting' is not a parameter of notebook a_first.*Did you mean 'greeting'"):
        coerce_parameters(declared, {"greting": "hi"}, notebook="a_first")


@pytest.mark.parametrize(("value", "ok"), [("true", True), ("no", False), (True, True), ("maybe", None), (1, None)])
def test_mistyped_parameter_is_an_error_and_text_is_converted(value, ok):
    declared = read_parameters(SUITE / "b_second.ipynb")
    if ok is None:
        with pytest.raises(SchemaError, match="'fail' of notebook b_second must be a bool"):
            coerce_parameters(declared, {"fail": value}, notebook="b_second")
    else:
        assert coerce_parameters(declared, {"fail": value}, notebook="b_second") == {"fail": ok}


def test_run_rejects_unknown_and_mistyped_parameters_before_running_anything(tmp_path):
    with pytest.raises(SchemaError, match="'fial' is not a parameter of any notebook.*Did you mean 'fail'"):
        run_report(SUITE, quarter="2025Q4", out=tmp_path, notebooks_dir=SUITE, params={"fial": "true"})
    with pytest.raises(SchemaError, match="'greeting' of notebook a_first must be a str"):
        run_report(SUITE, quarter="2025Q4", out=tmp_path, notebooks_dir=SUITE, params={"a_first.greeting": 3})
    with pytest.raises(SchemaError, match="set by the report itself"):
        run_report(SUITE, quarter="2025Q4", out=tmp_path, notebooks_dir=SUITE, params={"quarter": "2025Q1"})
    assert list(tmp_path.iterdir()) == []


def test_validate_parameters_checks_values_in_the_notebook(tmp_path):
    ctx = validate_parameters(data=str(tmp_path), quarter="2025Q2", n_segments=4)
    assert ctx.as_of == dt.date(2025, 6, 30) and ctx.options == {"n_segments": 4}
    with pytest.raises(SchemaError, match="'n_segments' must be 0 \\(automatic\\) or an int in the range"):
        validate_parameters(data=str(tmp_path), quarter="2025Q2", n_segments=1)
    with pytest.raises(SchemaError, match="'n_segmnts' is not known"):
        validate_parameters(data=str(tmp_path), quarter="2025Q2", n_segmnts=4)
    with pytest.raises(SchemaError, match="does not exist"):
        validate_parameters(data=str(tmp_path / "nowhere"), quarter="2025Q2")
    with pytest.raises(SchemaError, match="needs both an id column and an outcome"):
        validate_parameters(data=str(tmp_path), quarter="2025Q2", id_column="customerID")
    with pytest.raises(SchemaError, match="COLUMN=VALUE"):
        validate_parameters(data=str(tmp_path), quarter="2025Q2", id_column="id", churn="Churn")


# ----------------------------------------------------------------------------- a real run


@pytest.fixture(scope="module")
def complete_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    events = []
    result = run_report(SUITE, quarter="2025Q4", out=out, notebooks_dir=SUITE,
                        params={"greeting": "bonjour"}, progress=lambda e, i: events.append((e, dict(i))))
    return result, out, events


@pytest.mark.slow
def test_complete_run_writes_the_report_folder(complete_run):
    result, out, _ = complete_run
    assert result.ok and result.exit_code == 0
    folder = out / "2025Q4"
    assert result.folder == folder
    assert sorted(p.name for p in out.iterdir()) == ["2025Q4"]  # nothing half-built left beside it
    for name in ("a_first", "b_second", "c_multi_only"):
        assert (folder / "notebooks" / f"{name}.ipynb").exists()
        assert (folder / "html" / f"{name}.html").exists()
    assert not (folder / ".work").exists()
    assert json.loads((folder / "results" / "first.json").read_text()) == {"greeting": "bonjour", "as_of": "2025-12-31"}


@pytest.mark.slow
def test_manifest_records_inputs_parameters_versions_timings_and_status(complete_run):
    result, out, _ = complete_run
    manifest = json.loads((out / "2025Q4" / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["quarter"] == "2025Q4" and manifest["as_of"] == "2025-12-31"
    assert set(manifest["inputs"]) == {"data"} and len(manifest["inputs"]["data"]) == 16
    assert {"python", "icp-lens", "pandas", "papermill"} <= set(manifest["versions"])
    assert manifest["git_commit"]
    by_name = {r["notebook"]: r for r in manifest["notebooks"]}
    assert set(by_name) == {"a_first", "b_second", "c_multi_only"}
    for record in by_name.values():
        assert record["status"] == "ok" and record["seconds"] > 0
    assert by_name["a_first"]["parameters"]["greeting"] == "bonjour"
    assert "greeting" not in by_name["b_second"]["parameters"]
    assert manifest["timings"]["total_s"] >= manifest["timings"]["notebooks_s"] / 2
    assert sorted(manifest["results"]) == ["first.json", "leadership_summary.json"]


@pytest.mark.slow
def test_dependent_notebook_starts_after_the_one_it_needs(complete_run):
    _, _, events = complete_run
    order = [(e, i.get("notebook")) for e, i in events if e in ("notebook_started", "notebook_done")]
    assert order.index(("notebook_done", "a_first")) < order.index(("notebook_started", "b_second"))
    # the two independent notebooks ran at the same time
    assert order[:2] == [("notebook_started", "a_first"), ("notebook_started", "c_multi_only")]


@pytest.mark.slow
def test_html_has_no_code_and_needs_no_network(complete_run):
    _, out, _ = complete_run
    html = (out / "2025Q4" / "html" / "a_first.html").read_text()
    assert "validate_parameters" not in html  # inputs are excluded
    assert "data:image/png;base64," in html  # the chart is embedded
    assert "https://cdnjs" not in html
    index = (out / "2025Q4" / "index.html").read_text()
    for name in ("a_first", "b_second", "c_multi_only"):
        assert f'href="html/{name}.html"' in index
    assert 'href="deck.html"' in index and "<style>" in index and "http" not in index.replace("http-equiv", "")
    deck = (out / "2025Q4" / "deck.html").read_text()
    assert "data:image/png;base64," in deck and "<script" not in deck and "Because" in deck


@pytest.mark.slow
def test_failing_notebook_leaves_no_complete_looking_report(complete_run, tmp_path):
    from icp.cli import main

    _, out, _ = complete_run
    shutil.copytree(out / "2025Q4", tmp_path / "2025Q4")  # a complete report from an earlier run
    before = (tmp_path / "2025Q4" / "manifest.json").read_text()
    code = main(["report", str(SUITE / "a_first.ipynb"), "--quarter", "2025Q4", "--out", str(tmp_path),
                 "--notebooks", str(SUITE), "--id", "id", "--churn", "churned=yes", "-p", "fail=true"])
    assert code == 1
    assert (tmp_path / "2025Q4" / "manifest.json").read_text() == before  # the earlier report is untouched
    failed = tmp_path / "2025Q4.failed"
    assert not (failed / "index.html").exists() and not (failed / "deck.html").exists()
    assert "NOT complete" in (failed / "FAILED.txt").read_text()
    manifest = json.loads((failed / "manifest.json").read_text())
    assert manifest["status"] == "failed" and "planted failure" in manifest["error"]
    by_name = {r["notebook"]: r for r in manifest["notebooks"]}
    assert by_name["b_second"]["status"] == "failed"
    assert by_name["b_second"]["error_name"] == "AssertionError"
    assert manifest["skipped"] == [{"notebook": "c_multi_only", "title": "Multi-table only",
                                    "reason": "not meaningful for the single-table form"}]
    assert "planted failure" in (failed / "html" / "b_second.html").read_text()
    executed = nbformat.read(failed / "notebooks" / "b_second.ipynb", as_version=4)
    assert any(o.get("output_type") == "error" for c in executed.cells if c.cell_type == "code" for o in c.outputs)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2025Q4", "2025Q4.failed"]


# ----------------------------------------------------------------------------- pieces


def test_index_lists_skipped_reports_with_the_reason(tmp_path):
    (tmp_path / "results").mkdir()
    _, specs = load_suite(SUITE)
    manifest = {"quarter": "2025Q4", "as_of": "2025-12-31", "data": "x.csv", "form": "single",
                "icp_version": "0", "git_commit": "abc", "notebooks": []}
    html = render_index(tmp_path, manifest, specs[:1], [(specs[1], "not meaningful for the single-table form")])
    assert "Not run for this data" in html and "not meaningful for the single-table form" in html


def test_remote_scripts_are_removed():
    html = ('<script src="https://cdn.x/require.js"></script><script type="module">import m from '
            '"https://cdn.x/mermaid.mjs"</script><script>var local = 1;</script>')
    assert strip_remote_scripts(html) == "<script>var local = 1;</script>"
