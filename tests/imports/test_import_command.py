"""``python manage.py import_caseload FILE [--commit] --as-user USERNAME``."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from patients.models import Patient
from tests.imports.conftest import SAMPLE
from tests.imports.test_import_api import sample_lines

pytestmark = pytest.mark.django_db


def run(*args: str) -> dict:
    out = io.StringIO()
    call_command("import_caseload", *args, stdout=out)
    return json.loads(out.getvalue())


def test_a_dry_run_prints_the_result_and_saves_nothing(sheet_staff, nurse):
    result = run(str(SAMPLE), "--as-user", nurse.username)
    assert (result["dry_run"], result["rows"], len(result["errors"]), len(result["reconciliation"])) == (
        True,
        200,
        16,
        10,
    )
    assert not Patient.objects.exists()


def test_a_commit_records_the_rows_as_the_named_user(sheet_staff, doctor, tmp_path):
    sheet = tmp_path / "clinic caseload.csv"
    sheet.write_bytes(sample_lines(2, 3))

    result = run(str(sheet), "--commit", "--as-user", doctor.username)

    assert result["created"] == {"patients": 2, "pumps": 2, "dose_changes": 2, "refills": 2}
    created = Patient.objects.order_by("pk").first().history.earliest("history_date", "history_id")
    assert created.history_user == doctor
    assert created.history_change_reason == "Imported from clinic caseload.csv"


def test_a_refused_commit_prints_the_errors_and_exits_with_an_error(sheet_staff, doctor, tmp_path, capsys):
    sheet = tmp_path / "caseload.csv"
    sheet.write_bytes(sample_lines(2, 114))
    out = io.StringIO()
    with pytest.raises(CommandError, match="refused"):
        call_command("import_caseload", str(sheet), "--commit", "--as-user", doctor.username, stdout=out)
    assert json.loads(out.getvalue())["errors"][0]["field"] == "volume_added_ml"
    assert not Patient.objects.exists()


def test_the_user_must_be_named_and_may_import(sheet_staff, administrator):
    with pytest.raises(CommandError, match="--as-user"):
        call_command("import_caseload", str(SAMPLE))
    with pytest.raises(CommandError, match="No active account"):
        call_command("import_caseload", str(SAMPLE), "--as-user", "nobody")
    with pytest.raises(CommandError, match="rehabilitation doctor or a pump nurse"):
        call_command("import_caseload", str(SAMPLE), "--as-user", administrator.username)
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_caseload", "/nonexistent/caseload.csv", "--as-user", administrator.username)
