"""Running the notebook suite: ``icp report DATA --quarter 2025Q4 --out reports/``.

The run builds the whole report in a hidden sibling folder
(``reports/.2025Q4.building-*``) and renames it to ``reports/2025Q4`` only when
every notebook succeeded, so a report that looks complete always is. When a
notebook fails, the partial run is kept as ``reports/2025Q4.failed/`` with the
executed notebook (its error visible, also as HTML) and a manifest that records
the failure; a previous complete report is left untouched.

Independent notebooks run in parallel in worker processes (each with its own
kernel); a notebook starts once the notebooks it ``needs`` have finished.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import difflib
import logging
import multiprocessing
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from icp.exceptions import IcpError, SchemaError
from icp.report.params import (
    COMMON_PARAMETERS,
    NotebookParameter,
    coerce_parameters,
    lint_notebook,
    read_parameters,
)
from icp.report.provenance import git_commit, versions
from icp.report.worker import execute_notebook, init_worker, warm_up

__all__ = ["NotebookSpec", "ReportResult", "load_suite", "run_report", "default_notebooks_dir"]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[str, Mapping[str, Any]], None]


@dataclass(frozen=True)
class NotebookSpec:
    """One notebook of the suite, as declared in ``suite.yaml``."""

    file: str
    title: str
    description: str = ""
    forms: tuple[str, ...] = ("multi", "single")
    tables: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    leadership: bool = False
    priority: int = 0

    @property
    def name(self) -> str:
        """The file name without ``.ipynb``, e.g. ``02_segments``."""
        return self.file.removesuffix(".ipynb")


@dataclass(frozen=True)
class ReportResult:
    """What a report run produced."""

    status: str
    folder: Path
    manifest: Mapping[str, Any]
    failed_notebook: Path | None = None
    exit_code: int = 0
    notebooks: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        """Whether the report is complete."""
        return self.status == "complete"


def default_notebooks_dir() -> Path:
    """The ``notebooks/`` folder of the ICP Lens checkout."""
    return Path(__file__).resolve().parents[2] / "notebooks"


def load_suite(notebooks_dir: str | Path | None = None) -> tuple[list[str], list[NotebookSpec]]:
    """Read the suite: ``suite.yaml`` in the notebooks folder, else the packaged default.

    Returns
    -------
    tuple
        The shared preparation steps and the notebook specifications.

    Examples
    --------
    >>> prepare, specs = load_suite()
    >>> specs[0].name
    '01_data_health'
    """
    local = Path(notebooks_dir) / "suite.yaml" if notebooks_dir is not None else None
    if local is not None and local.exists():
        raw = yaml.safe_load(local.read_text(encoding="utf-8"))
    else:
        raw = yaml.safe_load(resources.files("icp.report").joinpath("suite.yaml").read_text(encoding="utf-8"))
    specs = []
    for item in raw.get("notebooks", []):
        item = dict(item)
        for key in ("forms", "tables", "needs"):
            if key in item:
                item[key] = tuple(item[key])
        specs.append(NotebookSpec(**item))
    return list(raw.get("prepare") or []), specs


# --------------------------------------------------------------------------- runner side


def _resolve_user_parameters(
    params: Mapping[str, Any], declared: Mapping[str, Mapping[str, NotebookParameter]]
) -> dict[str, dict[str, Any]]:
    """Spread ``--param`` values over the notebooks that declare them, strictly."""
    out: dict[str, dict[str, Any]] = {name: {} for name in declared}
    for key, value in params.items():
        target, _, pname = key.rpartition(".")
        if pname in COMMON_PARAMETERS:
            raise SchemaError(
                f"The parameter '{pname}' is set by the report itself. Expected a notebook's own "
                f"parameter in --param. Found {key}. Use the command's own option instead."
            )
        if target:
            if target not in declared:
                raise SchemaError(
                    f"The notebook '{target}' is not part of this report. Expected one of: "
                    f"{', '.join(declared)}. Found {key}. Check the notebook name before the dot."
                )
            out[target].update(coerce_parameters(declared[target], {pname: value}, notebook=target))
            continue
        takers = [nb for nb, p in declared.items() if pname in p]
        if not takers:
            every = sorted({p for d in declared.values() for p in d} - set(COMMON_PARAMETERS))
            close = difflib.get_close_matches(pname, every, n=1)
            hint = f"Did you mean '{close[0]}'?" if close else (
                "Check its spelling (papermill --help-notebook lists a notebook's parameters).")
            raise SchemaError(
                f"The parameter '{pname}' is not a parameter of any notebook of the report. "
                f"Expected one of: {', '.join(every) or 'none'}. Found: {pname}. {hint}"
            )
        for nb in takers:
            out[nb].update(coerce_parameters(declared[nb], {pname: value}, notebook=nb))
    for values in out.values():  # file parameters given relative to where the command runs
        for name, value in values.items():
            if isinstance(value, str) and value and "://" not in value and Path(value).exists():
                values[name] = str(Path(value).resolve())
    return out


def _emit(progress: ProgressCallback | None, event: str, **info: Any) -> None:
    if progress is not None:
        progress(event, info)


def run_report(
    data: str | Path,
    *,
    quarter: str,
    out: str | Path = "reports",
    config: str | Path | None = None,
    id_column: str | None = None,
    churn: str | None = None,
    renewed: str | None = None,
    engine: str = "duckdb",
    params: Mapping[str, Any] | None = None,
    workers: int = 2,
    notebooks_dir: str | Path | None = None,
    timeout: int = 1800,
    progress: ProgressCallback | None = None,
    keep_work: bool = False,
) -> ReportResult:
    """Run the quarterly notebook suite and write ``<out>/<quarter>/`` atomically.

    Parameters
    ----------
    data : str or Path
        The data folder, file or database URL.
    quarter : str
        The fiscal quarter to report, ``YYYYQn``; the analysis date is its last day.
    out : str or Path, default "reports"
        The folder that receives ``<quarter>/``.
    config : str or Path, optional
        An ``icp.yaml``.
    id_column, churn, renewed : str, optional
        The single-table form: the id column and the outcome (``COLUMN=VALUE``).
    engine : str, default "duckdb"
        Where aggregations run.
    params : Mapping, optional
        The notebooks' own parameters: ``name`` (every notebook that declares it)
        or ``notebook.name``. Unknown names and wrong types are errors.
    workers : int, default 2
        Notebooks executed at the same time (each in its own process and kernel).
    notebooks_dir : str or Path, optional
        The suite's notebooks (default: the project's ``notebooks/``).
    timeout : int, default 1800
        Seconds a single cell may run.
    progress : callable, optional
        Called as ``progress(event, info)``; events are ``start``, ``step_done``,
        ``notebook_started``, ``notebook_done`` and ``finished``.
    keep_work : bool, default False
        Keep the run's shared cache as ``<out>/<quarter>.work/`` (the explorer
        notebook can open it as its ``work_dir``).

    Returns
    -------
    ReportResult

    Examples
    --------
    >>> result = run_report("data/sample", quarter="2025Q4", out="reports")  # doctest: +SKIP
    >>> (result.status, result.folder.name)  # doctest: +SKIP
    ('complete', '2025Q4')
    """
    from icp.report.build import Build

    started_at = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    from icp.report.context import ReportContext

    ctx = ReportContext.open(
        data=str(data), quarter=quarter, config=str(config or ""), id_column=id_column or "",
        churn=churn or "", renewed=renewed or "", engine=engine,
    )
    nb_dir = Path(notebooks_dir) if notebooks_dir is not None else default_notebooks_dir()
    if not nb_dir.is_dir():
        raise SchemaError(
            f"The notebooks folder {nb_dir} does not exist. Expected the report suite's notebooks. "
            "Run icp report from an ICP Lens checkout, or pass the folder of the notebooks."
        )
    prepare, specs = load_suite(nb_dir)
    selected, skipped = [], []
    for spec in specs:
        if ctx.form not in spec.forms:
            skipped.append((spec, f"not meaningful for the {ctx.form}-table form"))
        else:
            selected.append(spec)
    declared: dict[str, dict[str, NotebookParameter]] = {}
    for spec in selected:
        problems = lint_notebook(nb_dir / spec.file, require_common=True)
        if problems:
            raise SchemaError(" ".join(problems))
        declared[spec.name] = read_parameters(nb_dir / spec.file)
    user = _resolve_user_parameters(dict(params or {}), declared)

    build = Build.create(Path(out), quarter)
    ctx.work_dir = build.work
    ctx.results_dir = build.results
    common = {**ctx.parameters, "data": _absolute(ctx.data), "config": _absolute(ctx.config),
              "work_dir": str(build.work.resolve()), "results_dir": str(build.results.resolve())}
    _emit(progress, "start", total=len(prepare) + len(selected) + 1,
          notebooks=[s.name for s in selected])
    manifest: dict[str, Any] = {
        "product": "ICP Lens",
        "status": "running",
        "quarter": quarter,
        "as_of": ctx.as_of.isoformat(),
        "form": ctx.form,
        "data": str(data),
        "config": str(config or ""),
        "engine": engine,
        "icp_version": versions()["icp-lens"],
        "git_commit": git_commit(),
        "versions": versions(),
        "started_at": started_at.isoformat(timespec="seconds"),
        "parameters": {k: v for k, v in common.items() if k not in ("work_dir", "results_dir")},
        "timings": {},
        "notebooks": [],
        "skipped": [],
    }
    # Start the workers now: they import papermill and nbconvert while the data is prepared.
    pool = cf.ProcessPoolExecutor(max_workers=max(1, workers), mp_context=multiprocessing.get_context("spawn"),
                                  initializer=init_worker, initargs=(str(build.work / "logs"),))
    for _ in range(max(1, workers)):
        pool.submit(warm_up)
    try:
        from icp.report.prepare import run_prepare

        for step in prepare:
            t = time.perf_counter()
            found_skips = run_prepare(step, ctx, selected)
            manifest["timings"][f"prepare_{step}_s"] = round(time.perf_counter() - t, 2)
            for name, reason in found_skips:
                spec = next(s for s in selected if s.name == name)
                selected.remove(spec)
                skipped.append((spec, reason))
            _emit(progress, "step_done", step=f"prepare {step}")
        manifest["inputs"] = ctx.fingerprints()
        manifest["skipped"] = [{"notebook": s.name, "title": s.title, "reason": r} for s, r in skipped]
        records = _run_notebooks(pool, selected, skipped, nb_dir, build, common, user, workers, timeout,
                                 progress)
    except IcpError as exc:
        manifest["timings"]["total_s"] = round(time.perf_counter() - t0, 2)
        build.fail(manifest, error=str(exc))
        raise
    except BaseException as exc:
        manifest["timings"]["total_s"] = round(time.perf_counter() - t0, 2)
        status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        build.fail(manifest, error=f"{type(exc).__name__}: {exc}", status=status)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    manifest["notebooks"] = records
    manifest["timings"]["notebooks_s"] = round(sum(r.get("seconds") or 0 for r in records), 2)
    failed = [r for r in records if r["status"] == "failed"]
    if failed:
        manifest["timings"]["total_s"] = round(time.perf_counter() - t0, 2)
        first = failed[0]
        folder = build.fail(manifest, error=f"{first['notebook']} failed: {first['error']}")
        domain = first.get("error_name") in ("SchemaError", "InsufficientDataError")
        return ReportResult("failed", folder, manifest, folder / first["executed"], 2 if domain else 1,
                            tuple(records))
    t = time.perf_counter()
    from icp.report.html import write_deck_and_index

    try:
        write_deck_and_index(build.folder, manifest, selected, skipped)
    except BaseException as exc:
        manifest["timings"]["total_s"] = round(time.perf_counter() - t0, 2)
        build.fail(manifest, error=f"writing index.html and the deck failed: {type(exc).__name__}: {exc}")
        raise
    manifest["timings"]["index_and_deck_s"] = round(time.perf_counter() - t, 2)
    _emit(progress, "step_done", step="index and deck")
    manifest["timings"]["total_s"] = round(time.perf_counter() - t0, 2)
    folder = build.commit(manifest, keep_work=keep_work)
    _emit(progress, "finished", folder=str(folder))
    return ReportResult("complete", folder, manifest, None, 0, tuple(records))


def _absolute(path: str) -> str:
    if not path or "://" in path:
        return path
    return str(Path(path).resolve())


def _run_notebooks(pool, selected, skipped, nb_dir, build, common, user, workers, timeout, progress):
    done: set[str] = {s.name for s, _ in skipped}
    records: dict[str, dict[str, Any]] = {}
    pending = list(selected)
    failed = False
    running: dict[cf.Future, NotebookSpec] = {}
    try:
        while pending or running:
            if not failed:
                for spec in sorted([s for s in pending if set(s.needs) <= done], key=lambda s: -s.priority):
                    if len(running) >= max(1, workers):
                        break
                    pending.remove(spec)
                    parameters = {**common, **user.get(spec.name, {})}
                    executed = build.folder / "notebooks" / spec.file
                    html = build.folder / "html" / f"{spec.name}.html"
                    records[spec.name] = {
                        "notebook": spec.name, "title": spec.title, "status": "running",
                        "parameters": {k: v for k, v in parameters.items() if k not in ("work_dir", "results_dir")},
                        "executed": executed.relative_to(build.folder).as_posix(),
                        "html": html.relative_to(build.folder).as_posix(),
                    }
                    fut = pool.submit(execute_notebook, str(nb_dir / spec.file), str(executed), str(html),
                                      parameters, str(build.work), timeout)
                    running[fut] = spec
                    _emit(progress, "notebook_started", notebook=spec.name, title=spec.title)
            if not running:
                break
            finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                spec = running.pop(fut)
                outcome = fut.result()
                records[spec.name].update(outcome)
                done.add(spec.name)
                failed = failed or outcome["status"] == "failed"
                _emit(progress, "notebook_done", notebook=spec.name, status=outcome["status"],
                      seconds=outcome["seconds"])
    except BaseException:
        for fut in running:
            fut.cancel()
        raise
    for spec in pending:
        records[spec.name] = {"notebook": spec.name, "title": spec.title, "status": "not run",
                              "reason": "an earlier notebook failed", "seconds": None}
    order = [s.name for s in selected]
    return [records[name] for name in order if name in records]

