"""The import's permission stands in for each record's own, inside the import and nowhere else."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied

from imports.parsing import read_sheet
from imports.services import caseload_import
from pumps.models import Pump
from pumps.services import pump_implant
from spasticity.access import permission_granted_by, require_permission
from spasticity.audit import void_record
from spasticity.roles import PERMS
from tests.factories import PatientFactory, PumpModelFactory
from tests.imports.test_import_api import sample_lines

pytestmark = pytest.mark.django_db


def test_inside_the_block_the_import_permission_stands_in_for_a_nurse(nurse):
    with pytest.raises(PermissionDenied):
        require_permission(nurse, PERMS.RECORD_SURGERY)
    with permission_granted_by(PERMS.IMPORT_CASELOAD):
        require_permission(nurse, PERMS.RECORD_SURGERY)
    with pytest.raises(PermissionDenied):
        require_permission(nurse, PERMS.RECORD_SURGERY)


@pytest.mark.parametrize("role", ["administrator", "physical_therapist", "neurosurgeon", "outsider"])
def test_the_block_gives_nothing_to_a_user_without_the_import_permission(personas, role):
    with permission_granted_by(PERMS.IMPORT_CASELOAD), pytest.raises(PermissionDenied):
        require_permission(personas[role], PERMS.CHANGE_DOSE)
    with permission_granted_by(PERMS.IMPORT_CASELOAD), pytest.raises(PermissionDenied):
        require_permission(None, PERMS.CHANGE_DOSE)


def test_voiding_is_not_covered(nurse):
    patient = PatientFactory()
    with permission_granted_by(PERMS.IMPORT_CASELOAD), pytest.raises(PermissionDenied):
        void_record(patient, by=nurse, reason="entered in error")


def test_a_nurses_import_records_the_historical_implant_and_she_still_cannot_implant_after_it(sheet_staff, nurse):
    rows = read_sheet("c.csv", sample_lines(2))

    result = caseload_import("c.csv", rows, by=nurse, commit=True, today=dt.date(2025, 12, 1))

    assert not result.errors
    pump = Pump.objects.get()
    assert pump.surgeries.get().surgeon is None  # a nurse is not recorded as the surgeon
    with pytest.raises(PermissionDenied):
        pump_implant(
            Pump(
                patient=PatientFactory(),
                model=PumpModelFactory(),
                serial_number="NEW1",
                reservoir_volume_ml=40,
                implanted_on=dt.date(2025, 1, 1),
            ),
            by=nurse,
        )


@pytest.mark.parametrize("role", ["administrator", "physical_therapist", "neurosurgeon", "outsider"])
def test_the_service_refuses_every_other_role(personas, sheet_staff, role):
    rows = read_sheet("c.csv", sample_lines(2))
    with pytest.raises(PermissionDenied):
        caseload_import("c.csv", rows, by=personas[role], commit=False, today=dt.date(2025, 12, 1))
