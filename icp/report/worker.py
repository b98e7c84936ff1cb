"""What a worker process of ``icp report`` does: execute one notebook, export it to HTML.

Kept free of heavy imports, since every worker process imports it at start.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["init_worker", "execute_notebook"]


def init_worker(log_dir: str) -> None:
    """Prepare a worker: inline figures in its kernels, kernel chatter to a log file."""
    # The kernels must draw figures inline (the command line sets Agg for itself).
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    os.environ.setdefault("PYTHONHASHSEED", "0")
    Path(log_dir).mkdir(parents=True, exist_ok=True)
    # Kernels inherit this process's stderr; their warnings belong in a log, not on the console.
    log = open(Path(log_dir) / f"worker-{os.getpid()}.log", "ab", buffering=0)  # noqa: SIM115
    os.dup2(log.fileno(), 2)
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115


def execute_notebook(nb_in: str, nb_out: str, html_out: str, parameters: dict[str, Any], cwd: str,
                     timeout: int) -> dict[str, Any]:
    """Execute one notebook with papermill and export it to HTML without code.

    Returns
    -------
    dict
        ``status`` (``"ok"`` or ``"failed"``), ``error``, ``error_name``, ``seconds``
        and ``html_seconds``. The executed notebook is written even when it fails,
        with the error in the failing cell.
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    started = time.perf_counter()
    outcome: dict[str, Any] = {"status": "ok", "error": None, "error_name": None}
    try:
        papermill.execute_notebook(
            nb_in, nb_out, parameters=parameters, cwd=cwd, progress_bar=False,
            log_output=False, kernel_name="python3", execution_timeout=timeout,
            request_save_on_cell_execute=False,
        )
    except PapermillExecutionError as exc:
        outcome = {"status": "failed", "error_name": exc.ename, "error": f"{exc.ename}: {exc.evalue}",
                   "cell": exc.exec_count}
    except Exception as exc:  # noqa: BLE001 - the kernel died, timed out or could not start
        outcome = {"status": "failed", "error_name": type(exc).__name__,
                   "error": f"{type(exc).__name__}: {exc}"}
    outcome["seconds"] = round(time.perf_counter() - started, 2)
    if Path(nb_out).exists():
        try:
            from icp.report.html import export_html

            export_html(nb_out, html_out)
        except Exception as exc:  # noqa: BLE001 - keep the executed notebook even then
            outcome["html_error"] = f"{type(exc).__name__}: {exc}"
    outcome["html_seconds"] = round(time.perf_counter() - started - outcome["seconds"], 2)
    return outcome


def warm_up() -> None:
    """Import what executing and exporting notebooks needs, before the first notebook is ready."""
    import nbconvert  # noqa: F401
    import papermill  # noqa: F401

    import icp.report.html  # noqa: F401
