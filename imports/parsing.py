"""Reading a caseload sheet (CSV or XLSX) into rows of cells, with the sheet's row numbers.

Only the file format is handled here: every cell comes out as a stripped string, or a
``date`` when an XLSX cell holds one. What the values mean is ``imports.services``'s job.
The header is row 1; a column the import does not know, a column given twice or a
required column missing refuses the whole file (on row 1, naming the column), because a
misspelt ``volume_added_ml`` would otherwise be read as "not given".
"""

from __future__ import annotations

import csv
import datetime
import io
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

PATIENT_COLUMNS = (
    "mrn",
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "diagnosis",
    "gmfcs_level",
    "weight_kg",
    "height_cm",
    "assigned_nurse",
)
PUMP_COLUMNS = (
    "pump_model",
    "serial_number",
    "reservoir_volume_ml",
    "low_reservoir_alarm_ml",
    "implanted_on",
    "catheter_tip_level",
    "eri_on",
)
PROGRAM_AND_FILL_COLUMNS = (
    "daily_dose_mcg",
    "dose_since",
    "last_refill_on",
    "volume_added_ml",
    "drug",
    "concentration_mcg_per_ml",
)
STATED_COLUMNS = ("stated_alarm_date", "stated_refill_due_on")
# The spec's order (section 8): the template's header row.
COLUMNS: tuple[str, ...] = PATIENT_COLUMNS + PUMP_COLUMNS + PROGRAM_AND_FILL_COLUMNS + STATED_COLUMNS
OPTIONAL_COLUMNS = frozenset(
    {
        "gmfcs_level",
        "weight_kg",
        "height_cm",
        "assigned_nurse",
        "low_reservoir_alarm_ml",
        "catheter_tip_level",
        "eri_on",
        "stated_alarm_date",
        "stated_refill_due_on",
    }
)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(name for name in COLUMNS if name not in OPTIONAL_COLUMNS)

# A caseload is hundreds of pumps; far more is a wrong file (or an attack on the server).
MAX_DATA_ROWS = 10_000
MAX_FILE_BYTES = 10 * 1024 * 1024

Cell = str | datetime.date


@dataclass(frozen=True)
class SheetRow:
    """One data row: ``number`` as the spreadsheet shows it (the header is row 1)."""

    number: int
    cells: dict[str, Cell]


@dataclass(frozen=True)
class SheetProblem:
    """A problem with the file as a whole; ``row`` is None when no row is to blame."""

    row: int | None
    field: str
    message: str


class SheetError(Exception):
    """The file cannot be imported at all; ``problems`` says why."""

    def __init__(self, problems: Sequence[SheetProblem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(problem.message for problem in self.problems))


def read_sheet(file_name: str, content: bytes) -> list[SheetRow]:
    """The data rows of a ``.csv`` or ``.xlsx`` file; ``SheetError`` when it cannot be read."""
    if len(content) > MAX_FILE_BYTES:
        raise SheetError([SheetProblem(None, "file", f"The file is larger than {MAX_FILE_BYTES // 2**20} MB.")])
    name = file_name.lower()
    lines: Iterator[Sequence[Cell]]
    if name.endswith(".csv"):
        lines = _csv_lines(content)
    elif name.endswith(".xlsx"):
        lines = _xlsx_lines(content)
    else:
        raise SheetError([SheetProblem(None, "file", "Upload a .csv or .xlsx file (the template is a CSV).")])
    return rows_from_lines(lines)


def rows_from_lines(lines: Iterable[Sequence[Cell]]) -> list[SheetRow]:
    """Header (row 1) checks, then one ``SheetRow`` per non-blank line."""
    iterator = iter(lines)
    header = [str(cell).strip() for cell in next(iterator, [])]
    _check_header(header)
    rows: list[SheetRow] = []
    for number, line in enumerate(iterator, start=2):
        cells = {name: _cell(line[index]) if index < len(line) else "" for index, name in enumerate(header) if name}
        extra = [value for value in line[len(header) :] if _cell(value) != ""]
        if extra:
            raise SheetError([SheetProblem(number, "file", "This row has more cells than the header has columns.")])
        if all(value == "" for value in cells.values()):
            continue  # blank lines (often at the end of a sheet) are not rows
        if len(rows) == MAX_DATA_ROWS:
            raise SheetError([SheetProblem(None, "file", f"The file has more than {MAX_DATA_ROWS:,} rows.")])
        rows.append(SheetRow(number, cells))
    return rows


def _check_header(header: list[str]) -> None:
    problems: list[SheetProblem] = []
    names = [name for name in header if name]
    if not names:
        raise SheetError([SheetProblem(1, "file", "Row 1 must be the header: the template's column names.")])
    for name in names:
        if name not in COLUMNS:
            problems.append(SheetProblem(1, name, f"Unknown column {name!r}: the columns are those of the template."))
    for name in sorted({name for name in names if names.count(name) > 1}):
        problems.append(SheetProblem(1, name, f"The column {name!r} appears more than once."))
    for name in REQUIRED_COLUMNS:
        if name not in names:
            problems.append(SheetProblem(1, name, f"The required column {name!r} is missing."))
    if problems:
        raise SheetError(problems)


def _cell(value: Any) -> Cell:
    """A stripped string, or a date for a date cell (an XLSX date-time at midnight is a date)."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date() if value.time() == datetime.time() else value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, float):
        # Shortest text that reads back as the same float: 0.1 stays "0.1", 40.0 becomes "40".
        text = repr(value)
        return format(Decimal(text).normalize(), "f") if text not in ("nan", "inf", "-inf") else text
    return str(value).strip()


def _csv_lines(content: bytes) -> Iterator[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SheetError([SheetProblem(None, "file", 'The file is not UTF-8 text: save it as "CSV UTF-8".')]) from None
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error as error:
        raise SheetError([SheetProblem(None, "file", f"The CSV file cannot be read: {error}.")]) from None


def _xlsx_lines(content: bytes) -> Iterator[tuple[Any, ...]]:
    """The first worksheet's rows, read lazily (a sheet may claim a million formatted blank rows)."""
    unreadable = SheetError([SheetProblem(None, "file", "The file cannot be read as an XLSX workbook.")])
    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise unreadable from None
    try:
        if not workbook.worksheets:
            raise SheetError([SheetProblem(None, "file", "The workbook has no worksheet.")])
        yield from workbook.worksheets[0].iter_rows(values_only=True)  # type: ignore[union-attr]
    except SheetError:
        raise
    except Exception:  # openpyxl raises many kinds on a damaged workbook: none may become a 500
        raise unreadable from None
    finally:
        workbook.close()


def template_csv() -> str:
    """The CSV template: the header row alone."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(COLUMNS)
    return buffer.getvalue()
