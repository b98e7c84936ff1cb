"""The project installs as documented: pyproject, environment.yml, the icp command."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_environment_yml_parses_and_installs_the_project_with_its_extras():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps
    assert "pip" in deps
    pip_section = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = set(project["optional-dependencies"])
    (line,) = [p for p in pip_section if p.startswith("-e .")]
    requested = set(re.search(r"\[(.*)\]", line).group(1).split(","))
    assert requested == extras


def test_distribution_is_icp_lens_with_an_icp_console_script():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "icp-lens"
    assert project["scripts"]["icp"] == "icp.cli:main"


def test_icp_command_prints_its_version():
    out = subprocess.run(
        [sys.executable, "-m", "icp", "--version"], capture_output=True, text=True, check=True
    )
    import icp

    assert out.stdout.strip() == f"icp-lens {icp.__version__}"


def test_every_public_name_resolves():
    import icp

    for name in icp.__all__:
        assert getattr(icp, name) is not None, name


def test_pyspark_pin_is_one_that_ibis_supports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    spark = " ".join(project["optional-dependencies"]["spark"])
    assert "<4.1" in spark


def test_icp_snapshot_is_both_the_function_and_the_module():
    import icp
    import icp.snapshot  # importing the submodule must not hide the function form

    assert callable(icp.snapshot)
    assert "churned" in icp.snapshot.OUTCOME_COLUMNS
