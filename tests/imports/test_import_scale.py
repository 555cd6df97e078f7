"""Size (issue 11): a 5,000-row sheet's dry run in under 30 s, with a constant number of queries."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import io
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from imports.parsing import COLUMNS
from imports.services import caseload_import_file
from tests.imports.conftest import DATA

pytestmark = pytest.mark.django_db

ROWS = 5_000
# The bound. Measured here: 2 to 5 s for the whole dry run (the machine's load varies), in 7 queries.
BUDGET_S = 30.0


def generated_sheet(rows: int) -> bytes:
    spec = importlib.util.spec_from_file_location("make_caseload_sample", DATA / "make_caseload_sample.py")
    assert spec and spec.loader
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(generator.build(rows, clean=True))
    return buffer.getvalue().encode()


def test_a_5000_row_dry_run_takes_under_30_seconds_and_a_fixed_number_of_queries(sheet_staff, doctor):
    content = generated_sheet(ROWS)

    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        result = caseload_import_file("big.csv", content, by=doctor, commit=False, today=dt.date(2025, 12, 1))
    elapsed_s = time.monotonic() - started

    print(f"\n{ROWS} rows dry-run in {elapsed_s:.1f} s, {len(queries)} queries")
    assert (result.rows, result.errors, result.created["pumps"]) == (ROWS, [], ROWS)
    assert elapsed_s < BUDGET_S
    assert len(queries) < 20  # bulk lookups, not one per row
