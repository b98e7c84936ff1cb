"""Reading sources into DuckDB: a folder of files, one file, a DuckDB file or a database URL.

Each table is registered on one DuckDB connection as ``raw__<table>`` with the
file's own column names and a ``_row`` column (1-based position in the file).
Text files are read with every column as text, so that a malformed cell becomes
a quarantined row later instead of a failed read. Parquet files and database
tables keep their types and are read in place (out of core).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from icp.exceptions import SchemaError

__all__ = ["RawTable", "Source", "open_source", "TEXT_SUFFIXES", "FILE_SUFFIXES"]

log = logging.getLogger(__name__)

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
FILE_SUFFIXES = (*TEXT_SUFFIXES, ".parquet", ".pq", *EXCEL_SUFFIXES)
DUCKDB_SUFFIXES = (".duckdb", ".ddb", ".db")
_DELIMITERS = (",", ";", "\t", "|")


@dataclass
class RawTable:
    """One input table as read, before mapping and validation."""

    name: str  # the contract table (or extra file) it feeds
    label: str  # how messages name it: a file name, or "table x in db"
    relation: str  # the DuckDB relation holding it, with a _row column
    columns: list[str]
    text: bool  # every column is text (CSV, Excel)
    fingerprint: str
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (line, reason) of unreadable lines
    notes: list[str] = field(default_factory=list)  # warnings raised while reading
    files: tuple[str, ...] = ()  # what a view over the table reads at every query (Parquet files, their folder)


@dataclass
class Source:
    """Where the data comes from, and how to read one table of it."""

    kind: str  # folder, file, duckdb, url
    location: str
    reader: Callable[[str, dict[str, Any]], RawTable | None]
    available: list[str]
    # whether reader(name, spec) finds a table, without reading it
    has: Callable[[str, dict[str, Any]], bool] = lambda name, spec: True


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def fingerprint_file(path: Path) -> str:
    """A content hash of a file (whole file up to 256 MB; beyond, its size, head and tail)."""
    h = hashlib.blake2b(digest_size=16)
    size = path.stat().st_size
    with path.open("rb") as fh:
        if size <= 256 * 2**20:
            for chunk in iter(lambda: fh.read(2**20), b""):
                h.update(chunk)
        else:
            h.update(str(size).encode())
            h.update(fh.read(16 * 2**20))
            fh.seek(-16 * 2**20, 2)
            h.update(fh.read())
    return h.hexdigest()


def _detect_encoding(head: bytes) -> str:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is not an error.
        if exc.start < len(head) - 4:
            return "latin-1"
    return "utf-8"


def _header_fields(head_text: str) -> tuple[list[str], str]:
    first = head_text.lstrip("\ufeff").splitlines()[0] if head_text.strip() else ""
    counts = {d: len(next(csv.reader([first], delimiter=d))) - 1 for d in _DELIMITERS}
    delim = max(_DELIMITERS, key=lambda d: (counts[d], d == ","))
    if counts[delim] == 0:
        delim = ","
    fields = next(csv.reader(io.StringIO(first), delimiter=delim)) if first else []
    return [f.strip() for f in fields], delim


def _check_header(label: str, fields: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    for i, name in enumerate(fields, start=1):
        if name and name in seen:
            raise SchemaError(
                f"{label} has the column name '{name}' twice (columns {seen[name]} and {i}). "
                "Expected every column name once. Rename or remove one of the two columns."
            )
        seen.setdefault(name, i)
    return [name or f"unnamed_{i}" for i, name in enumerate(fields, start=1)]


def read_text_file(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> RawTable:
    """Read a CSV/TSV file with every column as text; unreadable lines are kept as rejects."""
    label = path.name
    if path.stat().st_size == 0 or not path.read_bytes()[:65536].strip(b"\xef\xbb\xbf \r\n\t"):
        raise SchemaError(
            f"{label} is empty. Expected a header row with column names and then one row per record. "
            "Export the table again, with its header row."
        )
    with path.open("rb") as fh:
        head = fh.read(65536)
    encoding = _detect_encoding(head)
    notes = []
    if encoding == "latin-1":
        notes.append(
            f"{label} is not UTF-8 encoded; it was read as Latin-1 (Windows Western). "
            "Check accented names in the output, or save the file as UTF-8."
        )
    head_text = head.decode(encoding, errors="replace")
    fields, delim = _header_fields(head_text)
    columns = _check_header(label, fields)
    if delim != ",":
        shown = "tab" if delim == "\t" else f"'{delim}'"
        notes.append(f"{label} uses {shown} as its delimiter instead of a comma; it was read that way.")
    rel = f"raw__{name}"
    col_spec = "{" + ", ".join(f"{_sql_str(c)}: 'VARCHAR'" for c in columns) + "}"
    scan = (
        f"read_csv({_sql_str(str(path))}, header=true, auto_detect=false, delim={_sql_str(delim)}, "
        f"quote='\"', escape='\"', columns={col_spec}, encoding={_sql_str(encoding)}, "
        f"store_rejects=true, rejects_table='rej__{name}', rejects_scan='rejs__{name}')"
    )
    try:
        con.execute(f"CREATE OR REPLACE TABLE {rel} AS SELECT row_number() OVER () AS _row, * FROM {scan}")
        rej = con.execute(
            f"SELECT line, error_type, error_message FROM rej__{name} ORDER BY line"
        ).fetchall()
    except duckdb.Error as exc:
        first = str(exc).splitlines()[0]
        raise SchemaError(
            f"{label} could not be read as a {('comma' if delim == ',' else repr(delim))}-separated "
            f"text file ({first}). Expected a CSV file with a header row. "
            "Open it in a spreadsheet program and save it again as CSV (UTF-8)."
        ) from None
    rejected, seen = [], set()
    for line, _, msg in rej:
        if int(line) not in seen:  # one line can break several rules; it is one row
            seen.add(int(line))
            rejected.append((int(line), f"line {line} could not be read: {msg.rstrip('.')}"))
    return RawTable(name, label, rel, columns, True, fingerprint_file(path), rejected, notes)


def read_parquet_file(con: duckdb.DuckDBPyConnection, path: Path, name: str) -> RawTable:
    """Register a Parquet file (or a folder of them) as a view; nothing is loaded into memory."""
    label = path.name
    target = str(path / "*.parquet") if path.is_dir() else str(path)
    rel = f"raw__{name}"
    try:
        # A row's position is its file's offset plus its row number inside the file:
        # no window over the whole scan, so filters reach the Parquet reader (row-group
        # skipping) and the scan stays parallel. Files are read in name order.
        if path.is_dir():
            con.execute(
                f"CREATE OR REPLACE TABLE {rel}__files AS SELECT file_name AS _file, "
                f"CAST(sum(num_rows) OVER (ORDER BY file_name) - num_rows AS BIGINT) AS _offset "
                f"FROM parquet_file_metadata({_sql_str(target)})"
            )
            scan = f"read_parquet({_sql_str(target)}, file_row_number=true, filename='_icp_file')"
            con.execute(
                f"CREATE OR REPLACE VIEW {rel} AS SELECT f._offset + p.file_row_number + 1 AS _row, "
                f"p.* EXCLUDE (file_row_number, _icp_file) FROM {scan} p JOIN {rel}__files f ON f._file = p._icp_file"
            )
        else:
            con.execute(
                f"CREATE OR REPLACE VIEW {rel} AS SELECT file_row_number + 1 AS _row, "
                f"* EXCLUDE (file_row_number) FROM read_parquet({_sql_str(target)}, file_row_number=true)"
            )
        columns = [c for c in con.execute(f"DESCRIBE {rel}").df()["column_name"] if c != "_row"]
    except duckdb.Error as exc:
        raise SchemaError(
            f"{label} could not be read as Parquet ({str(exc).splitlines()[0]}). "
            "Expected a Parquet file. Write the file again, or export it as CSV."
        ) from None
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    fp = hashlib.blake2b("".join(fingerprint_file(f) for f in files).encode(), digest_size=16)
    # a folder's modified time changes when a file is added or removed
    read = tuple(str(f) for f in files) + ((str(path),) if path.is_dir() else ())
    return RawTable(name, label, rel, columns, False, fp.hexdigest(), files=read)


def _excel_header_row(frame: pd.DataFrame) -> int:
    """The first row that is as full as the fullest of the first 30 rows: titles above it are skipped."""
    filled = frame.head(30).notna().sum(axis=1)
    if filled.empty or filled.max() == 0:
        return 0
    return int(filled.index[filled >= filled.max()][0])


def read_excel_file(con: duckdb.DuckDBPyConnection, path: Path, name: str, sheet: Any = 0) -> RawTable:
    """Read the first sheet (or ``sheet``) of an Excel workbook, skipping title rows above the header."""
    label = path.name
    try:
        frame = pd.read_excel(path, sheet_name=sheet, header=None, dtype=object)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds
        raise SchemaError(
            f"{label} could not be read as an Excel workbook ({type(exc).__name__}: {exc}). "
            "Expected an .xlsx file with a header row. Save it again from Excel, or export it as CSV."
        ) from None
    frame = frame.dropna(how="all").dropna(axis=1, how="all")
    if frame.empty:
        raise SchemaError(
            f"{label} is empty. Expected a header row with column names and then one row per record. "
            "Check that the data is on the first sheet."
        )
    header_at = _excel_header_row(frame)
    notes = []
    skipped = frame.index.get_loc(header_at)
    if skipped:
        notes.append(
            f"{label} has {skipped} row(s) above its header (a title); they were skipped."
        )
    fields = ["" if pd.isna(v) else str(v).strip() for v in frame.loc[header_at]]
    columns = _check_header(label, fields)
    body = frame.loc[frame.index > header_at]

    def as_text(v: Any) -> Any:
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return None
        if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
            return str(int(v))
        if isinstance(v, pd.Timestamp) or hasattr(v, "isoformat"):
            text = v.isoformat()
            return text[:10] if text.endswith("T00:00:00") else text.replace("T", " ")
        return str(v)

    data = pd.DataFrame(
        {c: [as_text(v) for v in body.iloc[:, i]] for i, c in enumerate(columns)}, dtype=object
    )
    data.insert(0, "_row", range(1, len(data) + 1))
    rel = f"raw__{name}"
    con.register(f"_xl_{name}", data)
    con.execute(
        f"CREATE OR REPLACE TABLE {rel} AS SELECT _row, "
        + ", ".join(f"CAST({_quote(c)} AS VARCHAR) AS {_quote(c)}" for c in columns)
        + f" FROM _xl_{name}"
    )
    con.unregister(f"_xl_{name}")
    return RawTable(name, label, rel, columns, True, fingerprint_file(path), [], notes)


def read_file(con: duckdb.DuckDBPyConnection, path: Path, name: str, spec: dict[str, Any] | None = None) -> RawTable:
    """Read one file of any supported kind as table ``name``."""
    spec = spec or {}
    suffix = path.suffix.lower()
    if path.is_dir() or suffix in (".parquet", ".pq"):
        return read_parquet_file(con, path, name)
    if suffix in EXCEL_SUFFIXES:
        return read_excel_file(con, path, name, spec.get("sheet", 0))
    return read_text_file(con, path, name)


def _find_in_folder(folder: Path, name: str, spec: dict[str, Any]) -> Path | None:
    if spec.get("file"):
        path = folder / str(spec["file"])
        if not path.exists():
            found = ", ".join(sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))) or "none"
            raise SchemaError(
                f"The file {spec['file']} named in icp.yaml for the table '{name}' was not found in {folder.name}. "
                f"Found files: {found}. Check the file name under tables: {{{name}: {{file: ...}}}}."
            )
        return path
    for suffix in FILE_SUFFIXES:
        path = folder / f"{name}{suffix}"
        if path.exists():
            return path
    if (folder / name).is_dir() and any((folder / name).glob("*.parquet")):
        return folder / name
    return None


def open_source(con: duckdb.DuckDBPyConnection, source: str | Path) -> Source:
    """Decide what kind of source ``source`` is and return a reader for its tables."""
    text = str(source)
    if "://" in text and not text.startswith("file://"):
        return _url_source(con, text)
    path = Path(text.removeprefix("file://")).expanduser()
    if not path.exists():
        raise SchemaError(
            f"The data source {text} does not exist. Expected a folder of CSV/Parquet files, "
            "a single file, a DuckDB file or a database URL. Check the path."
        )
    if path.is_dir():
        def read_folder(name: str, spec: dict[str, Any]) -> RawTable | None:
            found = _find_in_folder(path, name, spec)
            return None if found is None else read_file(con, found, name, spec)

        files = sorted(p.name for p in path.iterdir() if p.suffix.lower() in FILE_SUFFIXES)
        return Source("folder", str(path), read_folder, files,
                      lambda name, spec: _find_in_folder(path, name, spec) is not None)
    if path.suffix.lower() in DUCKDB_SUFFIXES or _is_duckdb_file(path):
        return _duckdb_source(con, path)
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise SchemaError(
            f"{path.name} is not a file type ICP Lens can read. Expected .csv, .tsv, .parquet, .xlsx "
            f"or a DuckDB file. Found the extension '{path.suffix or 'none'}'. Save the data as CSV."
        )
    return Source("file", str(path), lambda name, spec: read_file(con, path, name, spec), [path.name])


def _is_duckdb_file(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(12)[8:12] == b"DUCK"
    except OSError:
        return False


def _duckdb_source(con: duckdb.DuckDBPyConnection, path: Path) -> Source:
    try:
        con.execute(f"ATTACH {_sql_str(str(path))} AS src (READ_ONLY)")
    except duckdb.Error as exc:
        raise SchemaError(
            f"{path.name} could not be opened as a DuckDB database ({str(exc).splitlines()[0]}). "
            "Expected a DuckDB file. Check that no other program holds it open for writing."
        ) from None
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = 'src'"
    ).fetchall()]

    def read_table(name: str, spec: dict[str, Any]) -> RawTable | None:
        table = str(spec.get("table") or name)
        if table not in names:
            return None
        rel = f"raw__{name}"
        con.execute(f"CREATE OR REPLACE VIEW {rel} AS SELECT row_number() OVER () AS _row, * FROM src.{_quote(table)}")
        columns = [c for c in con.execute(f"DESCRIBE {rel}").df()["column_name"] if c != "_row"]
        return RawTable(name, f"table {table} in {path.name}", rel, columns, False, fingerprint_file(path))

    return Source("duckdb", str(path), read_table, names, lambda name, spec: str(spec.get("table") or name) in names)


def _url_source(con: duckdb.DuckDBPyConnection, url: str) -> Source:
    import ibis

    shown = re.sub(r"//[^@/]*@", "//***@", url)  # never echo a password
    try:
        remote = ibis.connect(url)
        names = list(remote.list_tables())
    except Exception as exc:  # noqa: BLE001 - every driver raises its own errors
        raise SchemaError(
            f"Could not connect to the database {shown} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}). "
            "Expected a URL that Ibis understands, such as postgresql://user@host/db. "
            "Check the URL and that the database driver is installed."
        ) from None

    def read_table(name: str, spec: dict[str, Any]) -> RawTable | None:
        table = str(spec.get("table") or name)
        if table not in names:
            return None
        # Tables are copied through Arrow into the local engine, where validation runs.
        arrow = remote.table(table).to_pyarrow()
        rel = f"raw__{name}"
        con.register(f"_arrow_{name}", arrow)
        con.execute(f"CREATE OR REPLACE TABLE {rel} AS SELECT row_number() OVER () AS _row, * FROM _arrow_{name}")
        con.unregister(f"_arrow_{name}")
        columns = [c for c in con.execute(f"DESCRIBE {rel}").df()["column_name"] if c != "_row"]
        digest = con.execute(f"SELECT count(*), sum(hash(COLUMNS(*))) FROM {rel}").fetchall()[0]
        fp = hashlib.blake2b(repr(digest).encode(), digest_size=16).hexdigest()
        return RawTable(name, f"table {table} at {shown}", rel, columns, False, fp)

    return Source("url", shown, read_table, names, lambda name, spec: str(spec.get("table") or name) in names)
