"""The real notebook suite: committed clean, executed on the sample and on Telco, read in a browser.

The suite runs once per input form (session-scoped fixtures) and every test reads
that one run. Screenshots of index.html, the leadership summary and the deck are
kept under test-artifacts/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from icp.report import lint_notebook, read_parameters
from icp.report.runner import load_suite, run_report

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SAMPLE = ROOT / "data" / "sample"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "datasets"
TELCO = SHARED / "telco_churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv"
ARTIFACTS = ROOT / "test-artifacts"


def test_every_committed_notebook_passes_lint():
    found = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert len(found) >= 8
    for path in found:
        assert lint_notebook(path) == [], path.name


def test_suite_notebooks_declare_the_common_parameters_and_are_all_in_the_suite():
    _, specs = load_suite(NOTEBOOKS)
    names = {s.file for s in specs}
    for spec in specs:
        assert lint_notebook(NOTEBOOKS / spec.file, require_common=True) == []
    batch = {p.name for p in NOTEBOOKS.glob("*.ipynb")} - names
    assert batch == {"08_cluster_explorer.ipynb"}  # the explorer is interactive, not part of the report


def test_notebook_parameters_document_themselves():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for param in read_parameters(path).values():
            assert param.help and param.type_name in ("str", "int", "float", "bool"), (path.name, param)


def test_notebooks_hold_no_definitions_or_loops():
    import nbformat

    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            lines = [line for line in cell.source.splitlines() if line.strip()]
            assert len(lines) <= 5 or "parameters" in cell.metadata.get("tags", []) or \
                cell.source.startswith("from icp import"), (path.name, cell.source)
            for line in lines:
                assert not line.lstrip().startswith(("def ", "class ", "for ", "while ")), (path.name, line)


@pytest.fixture(scope="session")
def sample_report(tmp_path_factory):
    if not (SAMPLE / "accounts.csv").exists():
        pytest.skip("data/sample/ has not been generated (make sample)")
    out = tmp_path_factory.mktemp("reports")
    return run_report(SAMPLE, quarter="2025Q4", out=out, keep_work=True)


@pytest.fixture(scope="session")
def telco_report(tmp_path_factory):
    if not TELCO.exists():
        pytest.skip(f"the Telco dataset is not beside the checkout ({TELCO.parent} is absent)")
    out = tmp_path_factory.mktemp("telco")
    return run_report(TELCO, quarter="2025Q4", out=out, id_column="customerID", churn="Churn=Yes", keep_work=True)


def _failure(result) -> str:
    failed = [r for r in result.manifest.get("notebooks", []) if r["status"] == "failed"]
    return f"{result.status}: {failed[0]['notebook']} {failed[0]['error']}" if failed else result.status


@pytest.mark.slow
def test_every_notebook_runs_on_the_sample(sample_report):
    assert sample_report.ok, _failure(sample_report)
    manifest = sample_report.manifest
    assert {r["notebook"] for r in manifest["notebooks"]} == {s.name for s in load_suite(NOTEBOOKS)[1]}
    assert all(r["status"] == "ok" and r["seconds"] > 0 for r in manifest["notebooks"])
    assert manifest["skipped"] == []
    assert set(manifest["inputs"]) >= {"accounts", "contracts"}


@pytest.mark.slow
def test_sample_report_writes_the_results_of_every_analysis(sample_report):
    assert sample_report.ok, _failure(sample_report)
    results = sample_report.folder / "results"
    for name in ("validation.json", "segments.csv", "segment_profiles.csv", "segment_retention.csv", "icp_rules.csv",
                 "icp_profile.json", "icp_membership.csv", "risk_scores.csv", "model_metrics.json",
                 "grades.csv", "prospect_scores.csv", "leadership_summary.json"):
        assert (results / name).exists(), name
    summary = json.loads((results / "leadership_summary.json").read_text())
    assert 3 <= len(summary["actions"]) <= 5
    assert summary["statement"]["for"] and summary["statement"]["not_for"]
    assert summary["top_risks"] and summary["top_risks"][0]["arr_at_risk_usd"] > 0
    assert all("risk" in r["reasons"] for r in summary["top_risks"])  # each top risk says why
    icp = json.loads((results / "icp_profile.json").read_text())
    assert "write-offs" in {m["measure"] for m in icp["leadership"]}  # the horizon's write-offs are shared out


@pytest.mark.slow
@pytest.mark.shared
def test_every_notebook_that_makes_sense_runs_on_telco_single_table(telco_report):
    assert telco_report.ok, _failure(telco_report)
    manifest = telco_report.manifest
    assert manifest["form"] == "single"
    skipped = {s["notebook"]: s["reason"] for s in manifest["skipped"]}
    assert set(skipped) == {"06_prospect_scoring"}
    index = (telco_report.folder / "index.html").read_text()
    assert "Not run for this data" in index and "Prospect scoring" in index
    metrics = json.loads((telco_report.folder / "results" / "model_metrics.json").read_text())
    assert metrics["scoring"].startswith("out of fold")  # never the base rate of an in-sample fit
    churn_page = (telco_report.folder / "html" / "04_churn_risk.html").read_text()
    assert "out of fold" in churn_page


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _browse(page: Path, shot: Path, tmp_path: Path) -> str:
    browser = _chromium()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run",
             f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1280,2400"]
    subprocess.run([browser, *flags, f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120,
                   check=False)
    dom = subprocess.run([browser, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120, check=False)
    return dom.stdout


@pytest.mark.slow
@pytest.mark.browser
def test_index_and_leadership_summary_render_in_a_browser_with_their_numbers(sample_report, tmp_path):
    if _chromium() is None:
        pytest.skip("headless Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    assert sample_report.ok, _failure(sample_report)
    folder = sample_report.folder
    ARTIFACTS.mkdir(exist_ok=True)
    summary = json.loads((folder / "results" / "leadership_summary.json").read_text())
    index_dom = _browse(folder / "index.html", ARTIFACTS / "index.png", tmp_path)
    for item in summary["headline"]:
        assert item["value"] in index_dom and item["label"] in index_dom
    assert "Leadership summary" in index_dom and 'href="deck.html"' in index_dom
    lead_dom = _browse(folder / "html" / "07_leadership_summary.html", ARTIFACTS / "leadership_summary.png", tmp_path)
    assert lead_dom.count("data:image/png;base64,") >= 2  # the two charts
    for action in summary["actions"]:
        assert action["title"].split(":")[0][:30] in lead_dom.replace("&amp;", "&").replace("&#x27;", "'")
    deck_dom = _browse(folder / "deck.html", ARTIFACTS / "deck.png", tmp_path)
    assert deck_dom.count('src="data:image/png;base64,') >= 3
    for shot in ("index.png", "leadership_summary.png", "deck.png"):
        assert (ARTIFACTS / shot).stat().st_size > 10_000, shot


@pytest.mark.slow
@pytest.mark.parametrize("which", ["sample_report", "telco_report"])
def test_cluster_explorer_notebook_runs_headless_and_shows_its_widget(which, request, tmp_path):
    import nbformat
    import papermill

    result = request.getfixturevalue(which)  # the explorer reads the cache of that run
    assert result.ok, _failure(result)
    params = {key: result.manifest["parameters"][key] for key in ("data", "id_column", "churn")}
    params.update(quarter="2025Q4", work_dir=str(result.folder.parent / "2025Q4.work"))
    out = tmp_path / "explorer.ipynb"
    papermill.execute_notebook(str(NOTEBOOKS / "08_cluster_explorer.ipynb"), str(out), kernel_name="python3",
                               parameters=params, progress_bar=False, cwd=str(tmp_path),
                               execution_timeout=600)
    nb = nbformat.read(out, as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)


@pytest.mark.slow
def test_explorer_on_the_sample_answers_what_if_questions(sample_report):
    from icp.report import analyses, validate_parameters

    assert sample_report.ok, _failure(sample_report)
    ctx = validate_parameters(data=str(SAMPLE), quarter="2025Q4",
                              work_dir=str(sample_report.folder.parent / "2025Q4.work"))
    explorer = analyses.explorer(ctx)
    start = dict(explorer.what_if_)
    assert 0 < start["coverage"] < 1 and 0 < start["arr_share"] < 1
    # the ICP's accounts are expected to churn less than the rest
    assert start["expected_churn_in_icp"] < start["expected_churn_outside"]
    key, slider = next(iter(explorer.thresholds.items()))
    low, high = slider.value
    slider.value = (low, low + (high - low) / 4)
    assert explorer.what_if_["coverage"] < start["coverage"]
    explorer.k.value = 3
    assert explorer.labels_.max() == 2
