"""Provenance of a report: software versions, git commit, parameters and input fingerprints."""

from __future__ import annotations

import hashlib
import platform
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["Provenance", "provenance", "git_commit", "versions", "file_fingerprint"]

_PACKAGES = (
    "icp-lens",
    "pandas",
    "numpy",
    "scikit-learn",
    "lifelines",
    "ibis-framework",
    "duckdb",
    "papermill",
    "nbconvert",
    "matplotlib",
)

# --------------------------------------------------------------------------- provenance


def git_commit(path: str | Path | None = None) -> str:
    """The git commit of the ICP Lens checkout (``"unknown"`` outside a git checkout).

    Examples
    --------
    >>> commit = git_commit()
    >>> len(commit.removesuffix("-dirty")) == 40 or commit == "unknown"
    True
    """
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    commit = out.stdout.strip()
    if out.returncode != 0 or not commit:
        return "unknown"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=where, capture_output=True, text=True, timeout=5,
    ).stdout.strip()
    return commit + ("-dirty" if dirty else "")


def versions() -> dict[str, str]:
    """Versions of Python and of the packages that shape the results.

    Examples
    --------
    >>> "python" in versions()
    True
    """
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def file_fingerprint(path: str | Path) -> str:
    """SHA-256 of a file (or of the sorted files of a folder), shortened to 16 hex digits.

    Examples
    --------
    >>> file_fingerprint("pyproject.toml")  # doctest: +SKIP
    '3f2a...'
    """
    path = Path(path)
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            rel = file.relative_to(path).as_posix()
            if rel.startswith("ground_truth/") or rel.startswith("."):
                continue
            digest.update(rel.encode())
        with file.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class Provenance:
    """Where a report came from: software, commit, parameters and input fingerprints."""

    icp_version: str
    git_commit: str
    parameters: Mapping[str, Any]
    fingerprints: Mapping[str, str]
    versions: Mapping[str, str] = field(default_factory=dict)

    @property
    def summary(self) -> pd.DataFrame:
        """One row per fact: software, parameters (``parameter:``) and inputs (``input:``)."""
        rows = [("icp version", self.icp_version), ("git commit", self.git_commit)]
        rows += [(f"parameter: {k}", repr(v)) for k, v in self.parameters.items()]
        rows += [(f"input: {k}", v) for k, v in self.fingerprints.items()]
        rows += [(f"package: {k}", v) for k, v in self.versions.items() if k != "icp-lens"]
        return pd.DataFrame(rows, columns=["item", "value"])

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{escape(str(a))}</td><td><code>{escape(str(b))}</code></td></tr>"
            for a, b in self.summary.itertuples(index=False)
        )
        return (
            "<details class='icp-provenance'><summary>Provenance: icp "
            f"{escape(self.icp_version)}, commit {escape(self.git_commit[:12])}</summary>"
            f"<table>{rows}</table></details>"
        )


def provenance(ctx: Any = None, **parameters: Any) -> Provenance:
    """The provenance of a notebook's results (its last cell).

    Parameters
    ----------
    ctx : ReportContext, optional
        The context from :func:`validate_parameters`; gives the parameters and the
        fingerprints of the inputs that were read.
    **parameters
        Parameters to record when there is no context.

    Examples
    --------
    >>> provenance(quarter="2025Q4").parameters["quarter"]
    '2025Q4'
    """
    from icp import __version__

    fingerprints: dict[str, str] = {}
    if ctx is not None:
        parameters = {**ctx.parameters, **parameters}
        fingerprints = dict(ctx.fingerprints())
    return Provenance(__version__, git_commit(), dict(parameters), fingerprints, versions())
