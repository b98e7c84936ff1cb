"""Notebook parameters: the quarter, and reading, checking and linting the ``parameters`` cell.

Each notebook of the suite declares its parameters in exactly one cell tagged
``parameters``: literal, annotated defaults with a help comment, one per line
(``quarter: str = "2025Q2"  # fiscal quarter to report``), so that
``papermill --help-notebook`` documents the report. Parameters given to a run are
checked strictly: an unknown name or a wrong type is an error, never a warning.
"""

from __future__ import annotations

import ast
import datetime as dt
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from icp.exceptions import SchemaError

__all__ = ["NotebookParameter", "COMMON_PARAMETERS", "check_notebook", "coerce_parameters",
           "lint_notebook", "parse_quarter", "quarter_end", "read_parameters"]

# The parameters every notebook of the suite declares; the runner sets them.
COMMON_PARAMETERS = (
    "data",
    "quarter",
    "config",
    "id_column",
    "churn",
    "renewed",
    "engine",
    "work_dir",
    "results_dir",
)

_TYPES: dict[str, type | tuple[type, ...]] = {
    "str": str,
    "int": int,
    "float": (int, float),
    "bool": bool,
    "list": list,
    "dict": dict,
}

QUARTER_PATTERN = re.compile(r"^(\d{4})Q([1-4])$")

# --------------------------------------------------------------------------- quarters


def parse_quarter(quarter: str) -> tuple[int, int]:
    """Split a fiscal quarter ``YYYYQn`` into its year and number.

    Parameters
    ----------
    quarter : str
        For example ``"2025Q2"``.

    Returns
    -------
    tuple of int
        ``(year, quarter_number)``.

    Examples
    --------
    >>> parse_quarter("2025Q2")
    (2025, 2)
    """
    match = QUARTER_PATTERN.match(str(quarter).strip()) if isinstance(quarter, str) else None
    if match is None:
        raise SchemaError(
            f"The quarter must be written as YYYYQn with n from 1 to 4. Got {quarter!r} instead. "
            "Write it like 2025Q2 (the second quarter of 2025)."
        )
    return int(match.group(1)), int(match.group(2))


def quarter_end(quarter: str) -> dt.date:
    """The last day of a fiscal quarter: the report's analysis date ``as_of``.

    Examples
    --------
    >>> quarter_end("2025Q2")
    datetime.date(2025, 6, 30)
    >>> quarter_end("2024Q4")
    datetime.date(2024, 12, 31)
    """
    year, number = parse_quarter(quarter)
    first_of_next = dt.date(year + (number == 4), 1 if number == 4 else 3 * number + 1, 1)
    return first_of_next - dt.timedelta(days=1)


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class NotebookParameter:
    """One declared parameter of a notebook: ``name: type = default  # help``."""

    name: str
    type_name: str
    default: Any
    help: str

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` has this parameter's declared type (bool is not an int here)."""
        expected = _TYPES.get(self.type_name)
        if expected is None:
            return True
        if isinstance(value, bool) and self.type_name != "bool":
            return False
        return isinstance(value, expected)


def _parameters_cells(nb: Any) -> list[Any]:
    return [c for c in nb.cells if "parameters" in (c.get("metadata", {}).get("tags") or [])]


def _read_nb(path: str | Path) -> Any:
    import nbformat

    path = Path(path)
    if not path.exists():
        raise SchemaError(
            f"The notebook {path} does not exist. Expected a .ipynb file. "
            "Check the notebooks folder of the report suite."
        )
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises several unrelated types
        raise SchemaError(
            f"The notebook {path.name} cannot be read as a Jupyter notebook. "
            f"Found this problem: {exc}. Open it in JupyterLab and save it again."
        ) from None


def _parse_parameters_source(source: str, where: str) -> tuple[dict[str, NotebookParameter], list[str]]:
    """Parse a parameters cell with ``ast``; return the parameters and the problems."""
    problems: list[str] = []
    params: dict[str, NotebookParameter] = {}
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return {}, [f"{where}: the parameters cell is not valid Python ({exc.msg} on line {exc.lineno})."]
    lines = source.splitlines()
    for node in tree.body:
        line = lines[node.lineno - 1]
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            problems.append(
                f"{where}: line {node.lineno} of the parameters cell is not an annotated "
                f"assignment such as 'quarter: str = \"2025Q2\"  # fiscal quarter to report'. "
                f"Found: {line.strip()!r}."
            )
            continue
        name = node.target.id
        type_name = ast.unparse(node.annotation)
        if type_name not in _TYPES:
            problems.append(
                f"{where}: parameter '{name}' is annotated as {type_name}. "
                f"Expected one of: {', '.join(_TYPES)}."
            )
        try:
            default = ast.literal_eval(node.value) if node.value is not None else None
        except ValueError:
            problems.append(
                f"{where}: parameter '{name}' must have a literal default (a number, text, "
                f"True/False, a list or a dict). Found: {ast.unparse(node.value)!r}."
            )
            continue
        if node.value is None:
            problems.append(f"{where}: parameter '{name}' has no default value.")
            continue
        if node.end_lineno != node.lineno:
            problems.append(f"{where}: parameter '{name}' must fit on one line.")
        comment = line.partition("#")[2].strip() if "#" in line else ""
        if not comment:
            problems.append(
                f"{where}: parameter '{name}' has no help comment. "
                f"Write it as '{name}: {type_name} = ...  # what it means'."
            )
        if line.count("=") != 1:
            problems.append(
                f"{where}: the line of parameter '{name}' holds more than one '=', which "
                "papermill cannot read. Reword its help comment without '='."
            )
        param = NotebookParameter(name, type_name, default, comment)
        if type_name in _TYPES and not param.accepts(default):
            problems.append(
                f"{where}: the default of parameter '{name}' is not a {type_name}. "
                f"Found {default!r}."
            )
        params[name] = param
    return params, problems


def lint_notebook(path: str | Path, *, require_common: bool = False) -> list[str]:
    """Check a committed notebook; return its problems (an empty list when it is clean).

    A committed notebook has no outputs and no execution counts, exactly one cell
    tagged ``parameters`` whose lines are annotated literal assignments each with
    a help comment (so that ``papermill --help-notebook`` documents it), and a
    kernel name.

    Parameters
    ----------
    path : str or Path
        The ``.ipynb`` file.
    require_common : bool, default False
        Also require the parameters every notebook of the report suite declares
        (``data``, ``quarter``, ``config``, ...).

    Returns
    -------
    list of str
        One sentence per problem.

    Examples
    --------
    >>> from pathlib import Path
    >>> [lint_notebook(p) for p in sorted(Path("notebooks").glob("*.ipynb"))][:1]  # doctest: +SKIP
    [[]]
    """
    path = Path(path)
    nb = _read_nb(path)
    where = path.name
    problems: list[str] = []
    for index, cell in enumerate(nb.cells, start=1):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            problems.append(f"{where}: cell {index} holds outputs. Clear all outputs before committing.")
        if cell.get("execution_count") is not None:
            problems.append(f"{where}: cell {index} has an execution count. Clear all outputs before committing.")
    cells = _parameters_cells(nb)
    if len(cells) != 1:
        problems.append(
            f"{where}: expected exactly one cell tagged 'parameters'. Found {len(cells)}. "
            "Tag the one cell that sets the defaults (View > Cell toolbar > Tags)."
        )
        return problems
    params, found = _parameters_source_and_check(cells[0].source, where, nb)
    problems += found
    if require_common:
        missing = [p for p in COMMON_PARAMETERS if p not in params]
        if missing:
            problems.append(
                f"{where}: a notebook of the report suite must declare the parameters "
                f"{', '.join(COMMON_PARAMETERS)}. Missing: {', '.join(missing)}."
            )
    if not (nb.metadata.get("kernelspec") or {}).get("name"):
        problems.append(f"{where}: the notebook has no kernel name. Save it from JupyterLab with the Python 3 kernel.")
    return problems


def _parameters_source_and_check(
    source: str, where: str, nb: Any
) -> tuple[dict[str, NotebookParameter], list[str]]:
    params, problems = _parse_parameters_source(source, where)
    if not problems and (nb.metadata.get("kernelspec") or {}).get("name"):
        from papermill.translators import PythonTranslator

        seen = {p.name for p in PythonTranslator.inspect(_parameters_cells(nb)[0])}
        unread = sorted(set(params) - seen)
        if unread:
            problems.append(
                f"{where}: papermill cannot read the parameters {', '.join(unread)}. "
                "Write each on one line as 'name: type = literal  # help'."
            )
    return params, problems


def check_notebook(path: str | Path, *, require_common: bool = False) -> None:
    """Raise :class:`~icp.exceptions.SchemaError` when :func:`lint_notebook` finds problems.

    Examples
    --------
    >>> check_notebook("notebooks/01_data_health.ipynb")  # doctest: +SKIP
    """
    problems = lint_notebook(path, require_common=require_common)
    if problems:
        raise SchemaError(" ".join(problems))


def read_parameters(path: str | Path) -> dict[str, NotebookParameter]:
    """The parameters a notebook declares, read with papermill and checked.

    Parameters
    ----------
    path : str or Path
        The ``.ipynb`` file.

    Returns
    -------
    dict
        Parameter name -> :class:`NotebookParameter`, in declaration order.

    Examples
    --------
    >>> read_parameters("notebooks/02_segments.ipynb")["quarter"].type_name  # doctest: +SKIP
    'str'
    """
    import papermill

    path = Path(path)
    nb = _read_nb(path)
    cells = _parameters_cells(nb)
    if len(cells) != 1:
        raise SchemaError(
            f"{path.name}: expected exactly one cell tagged 'parameters'. Found {len(cells)}. "
            "Tag the one cell that sets the defaults."
        )
    params, problems = _parameters_source_and_check(cells[0].source, path.name, nb)
    if problems:
        raise SchemaError(" ".join(problems))
    inspected = papermill.inspect_notebook(str(path))
    return {name: params[name] for name in inspected if name in params}


def coerce_parameters(
    declared: Mapping[str, NotebookParameter], given: Mapping[str, Any], *, notebook: str
) -> dict[str, Any]:
    """Check given parameter values against a notebook's declaration (strictly).

    Text given for a number or a flag (as from the command line) is converted;
    anything else of the wrong type, and any name the notebook does not declare,
    raises :class:`~icp.exceptions.SchemaError`.

    Parameters
    ----------
    declared : Mapping
        From :func:`read_parameters`.
    given : Mapping
        Parameter name -> value.
    notebook : str
        The notebook's name, for messages.

    Returns
    -------
    dict
        The checked values.

    Examples
    --------
    >>> p = {"k": NotebookParameter("k", "int", 0, "number of segments")}
    >>> coerce_parameters(p, {"k": "5"}, notebook="02_segments")
    {'k': 5}
    """
    out: dict[str, Any] = {}
    for name, value in given.items():
        if name not in declared:
            close = difflib.get_close_matches(name, list(declared), n=1)
            hint = f"Did you mean '{close[0]}'?" if close else "Check the spelling of the parameter."
            raise SchemaError(
                f"The parameter '{name}' is not a parameter of notebook {notebook}. "
                f"Expected one of: {', '.join(declared)}. Found: {name}. {hint}"
            )
        param = declared[name]
        if isinstance(value, str) and param.type_name in ("int", "float", "bool"):
            value = _from_text(value, param, notebook)
        if not param.accepts(value):
            raise SchemaError(
                f"The parameter '{name}' of notebook {notebook} must be a {param.type_name} "
                f"({param.help}). Got {value!r} (a {type(value).__name__}) instead. "
                f"Give a value like its default, {param.default!r}."
            )
        out[name] = value
    return out


def _from_text(text: str, param: NotebookParameter, notebook: str) -> Any:
    lowered = text.strip().lower()
    if param.type_name == "bool":
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
    else:
        try:
            return int(lowered) if param.type_name == "int" else float(lowered)
        except ValueError:
            pass
    raise SchemaError(
        f"The parameter '{param.name}' of notebook {notebook} must be a {param.type_name} "
        f"({param.help}). Got {text!r} instead. Give a value like its default, {param.default!r}."
    )
