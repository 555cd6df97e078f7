"""The demo caseload's pumps are built through the services: no drift, every situation shown."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import call_command

from patients.models import Patient
from pumps.demo import STORIES, seed_pumps
from pumps.models import Pump, Refill
from pumps.selectors import nurse_worklist
from spasticity.timeutil import clinic_today
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_the_demo_pumps_cover_every_situation_and_verify_projections_finds_no_drift(personas):
    today = clinic_today()
    staff = {role: user for role, user in personas.items() if role != "outsider"}
    patients = [PatientFactory(assigned_nurse=staff["pump_nurse"]) for _ in range(len(STORIES) + 2)]
    seed_pumps(staff=staff, patients=patients, today=today)

    out = StringIO()
    call_command("verify_projections", stdout=out)
    assert "No drift" in out.getvalue()

    stages = {patient.pathway_stage for patient in Patient.objects.filter(pk__in=[p.pk for p in patients])}
    assert {"titration", "maintenance", "explanted"} <= stages
    implanted = Pump.objects.implanted()
    assert any(p.refill_due_on < today <= p.alarm_date for p in implanted), "a refill-overdue pump"
    assert any(p.alarm_date < today for p in implanted), "a pump past its alarm date"
    assert implanted.filter(battery_end_of_service_on__lte=today + dt.timedelta(days=180)).count() >= 2
    assert Pump.objects.filter(explanted_on__isnull=False).count() >= 2  # explanted and replaced
    assert Refill.objects.filter(delivery_flag="over_delivery").exists()
    assert all(r.refilled_on <= today for r in Refill.objects.all())
    worklist = nurse_worklist(today=today, nurse_id=staff["pump_nurse"].pk)
    assert {item.status for item in worklist.refills} >= {"past_alarm", "overdue"}
    assert [item.status for item in worklist.visits] == ["today", "this_week"]
