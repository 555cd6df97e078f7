"""Reading the sheet: CSV and XLSX to rows with the sheet's numbers; the header decides the columns."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from openpyxl import Workbook

from imports.parsing import COLUMNS, REQUIRED_COLUMNS, SheetError, SheetProblem, read_sheet, template_csv


def csv_bytes(*lines: str, bom: bool = False) -> bytes:
    text = "\r\n".join(lines) + "\r\n"
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


HEADER = ",".join(COLUMNS)


def problems(file_name: str, content: bytes) -> list[SheetProblem]:
    with pytest.raises(SheetError) as refused:
        read_sheet(file_name, content)
    return refused.value.problems


def test_the_template_is_the_specs_header_row():
    assert template_csv() == (
        "mrn,given_name,family_name,birth_date,sex,diagnosis,gmfcs_level,weight_kg,height_cm,assigned_nurse,"
        "pump_model,serial_number,reservoir_volume_ml,low_reservoir_alarm_ml,implanted_on,catheter_tip_level,eri_on,"
        "daily_dose_mcg,dose_since,last_refill_on,volume_added_ml,drug,concentration_mcg_per_ml,"
        "stated_alarm_date,stated_refill_due_on\r\n"
    )


def test_csv_rows_keep_the_sheets_numbers_and_blank_lines_are_not_rows():
    row = ",".join(["RX1", "Ada"] + [""] * (len(COLUMNS) - 2))
    content = csv_bytes(HEADER, row, "," * (len(COLUMNS) - 1), "", row.replace("RX1", "RX2"), bom=True)

    rows = read_sheet("Caseload.CSV", content)

    assert [(r.number, r.cells["mrn"], r.cells["given_name"]) for r in rows] == [(2, "RX1", "Ada"), (5, "RX2", "Ada")]
    assert set(rows[0].cells) == set(COLUMNS)


def test_columns_may_come_in_any_order_and_optional_ones_may_be_left_out():
    header = list(reversed(REQUIRED_COLUMNS))
    rows = read_sheet("c.csv", csv_bytes(",".join(header), ",".join(f"v-{name}" for name in header)))
    assert rows[0].cells["mrn"] == "v-mrn"
    assert "stated_alarm_date" not in rows[0].cells


def test_an_unknown_a_doubled_or_a_missing_column_refuses_the_file_on_row_1():
    header = [name for name in COLUMNS if name != "volume_added_ml"] + ["volume_added", "mrn"]
    assert [(p.row, p.field) for p in problems("c.csv", csv_bytes(",".join(header)))] == [
        (1, "volume_added"),
        (1, "mrn"),
        (1, "volume_added_ml"),
    ]
    assert problems("c.csv", csv_bytes("")) == [
        SheetProblem(1, "file", "Row 1 must be the header: the template's column names.")
    ]


@pytest.mark.parametrize(
    ("file_name", "content", "message"),
    [
        ("caseload.txt", b"mrn\n", "Upload a .csv or .xlsx file (the template is a CSV)."),
        (
            "caseload.csv",
            "mrn,given_name\nRené".encode("latin-1"),
            'The file is not UTF-8 text: save it as "CSV UTF-8".',
        ),
        ("caseload.xlsx", b"PK\x03\x04 not really a workbook", "The file cannot be read as an XLSX workbook."),
        ("caseload.xlsx", b"", "The file cannot be read as an XLSX workbook."),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_a_reason(file_name, content, message):
    assert problems(file_name, content) == [SheetProblem(None, "file", message)]


def test_a_row_longer_than_the_header_is_refused():
    assert problems("c.csv", csv_bytes(HEADER, "," * len(COLUMNS) + "stray")) == [
        SheetProblem(2, "file", "This row has more cells than the header has columns.")
    ]


def test_xlsx_cells_become_strings_and_dates():
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(list(COLUMNS))
    values = dict.fromkeys(COLUMNS)
    values |= {
        "mrn": 123456,
        "birth_date": dt.datetime(2012, 3, 4),
        "implanted_on": dt.date(2020, 1, 15),
        "weight_kg": 23.4,
        "reservoir_volume_ml": 40.0,
        "daily_dose_mcg": 212.5,
        "family_name": "  Brown ",
    }
    sheet.append([values[name] for name in COLUMNS])
    sheet.append([None] * len(COLUMNS))  # a formatted blank row at the end
    buffer = io.BytesIO()
    workbook.save(buffer)

    (row,) = read_sheet("caseload.xlsx", buffer.getvalue())

    assert row.number == 2
    assert row.cells["mrn"] == "123456"
    assert row.cells["birth_date"] == dt.date(2012, 3, 4)
    assert row.cells["implanted_on"] == dt.date(2020, 1, 15)
    assert (row.cells["weight_kg"], row.cells["reservoir_volume_ml"]) == ("23.4", "40")
    assert row.cells["daily_dose_mcg"] == "212.5"
    assert row.cells["family_name"] == "Brown"
    assert row.cells["eri_on"] == ""
