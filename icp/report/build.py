"""The report folder, written atomically.

A run builds into a hidden sibling, ``<out>/.<quarter>.building-<token>/``, and
renames it to ``<out>/<quarter>/`` only when everything succeeded. A failed or
interrupted run becomes ``<out>/<quarter>.failed/`` (no index, no deck; the
manifest says what failed), and any complete report from before stays as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from icp.report.data import to_jsonable

__all__ = ["Build"]


@dataclass(frozen=True)
class Build:
    """A report under construction."""

    out: Path
    quarter: str
    folder: Path

    @classmethod
    def create(cls, out: Path, quarter: str) -> Build:
        """Make the hidden build folder (removing leftovers of earlier killed runs)."""
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob(f".{quarter}.building-*"):
            pid = stale.name.rsplit("-", 2)[-2] if stale.name.count("-") >= 2 else ""
            if not (pid.isdigit() and _alive(int(pid))):
                shutil.rmtree(stale, ignore_errors=True)
        folder = out / f".{quarter}.building-{os.getpid()}-{secrets.token_hex(4)}"
        for sub in ("notebooks", "html", "results", ".work"):
            (folder / sub).mkdir(parents=True)
        return cls(out, quarter, folder)

    @property
    def work(self) -> Path:
        """The run's shared cache (removed when the run ends)."""
        return self.folder / ".work"

    @property
    def results(self) -> Path:
        """CSV and JSON outputs."""
        return self.folder / "results"

    @property
    def final(self) -> Path:
        """Where a complete report goes."""
        return self.out / self.quarter

    @property
    def failed(self) -> Path:
        """Where a failed run is kept for inspection."""
        return self.out / f"{self.quarter}.failed"

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write ``manifest.json`` into the build folder."""
        manifest["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        path = self.folder / "manifest.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(to_jsonable(manifest), indent=2), encoding="utf-8")
        os.replace(tmp, path)

    def commit(self, manifest: dict[str, Any], *, keep_work: bool = False) -> Path:
        """Finish a complete report: manifest, then one rename into place.

        With ``keep_work`` the run's cache is kept beside the report as
        ``<quarter>.work/`` (for the explorer notebook and for tests).
        """
        manifest["status"] = "complete"
        if keep_work:
            kept = self.out / f"{self.quarter}.work"
            shutil.rmtree(kept, ignore_errors=True)
            os.replace(self.work, kept)
        shutil.rmtree(self.work, ignore_errors=True)
        manifest["results"] = sorted(p.name for p in self.results.iterdir() if not p.name.startswith("."))
        self.write_manifest(manifest)
        old = None
        if self.final.exists():
            old = self.out / f".{self.quarter}.old-{secrets.token_hex(4)}"
            os.replace(self.final, old)
        os.replace(self.folder, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(self.failed, ignore_errors=True)
        return self.final

    def fail(self, manifest: dict[str, Any], *, error: str, status: str = "failed") -> Path:
        """Keep a failed run as ``<quarter>.failed/`` with the failure in its manifest."""
        manifest["status"] = status
        manifest["error"] = error
        if (self.work / "logs").is_dir():  # the kernels' messages help to diagnose a failure
            shutil.move(self.work / "logs", self.folder / "logs")
        shutil.rmtree(self.work, ignore_errors=True)
        for leftover in ("index.html", "deck.html"):
            (self.folder / leftover).unlink(missing_ok=True)
        (self.folder / "FAILED.txt").write_text(
            f"This report is NOT complete: {error}\n"
            "See manifest.json and the failing notebook under notebooks/ (html/ for a readable copy).\n",
            encoding="utf-8",
        )
        self.write_manifest(manifest)
        shutil.rmtree(self.failed, ignore_errors=True)
        os.replace(self.folder, self.failed)
        return self.failed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
