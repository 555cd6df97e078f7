"""Titration ends by time passing; the daily job moves the stored stage to maintenance."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings

from patients.models import PathwayStage
from patients.services import patients_refresh_time_dependent_stages
from patients.tasks import pathway_stages_refresh_task
from tests.factories import PatientFactory, PumpFactory

pytestmark = pytest.mark.django_db

IMPLANTED_ON = dt.date(2024, 1, 15)  # PumpFactory's implant, with its first program that day


def test_a_patient_left_on_the_same_dose_for_the_window_moves_to_maintenance(surgeon, nurse):
    pump = PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon)
    patient = pump.patient
    patient.refresh_from_db()
    assert patient.pathway_stage == PathwayStage.TITRATION

    day_59 = IMPLANTED_ON + dt.timedelta(days=59)
    assert patients_refresh_time_dependent_stages(today=day_59, by=nurse) == 0
    patient.refresh_from_db()
    assert patient.pathway_stage == PathwayStage.TITRATION

    day_60 = IMPLANTED_ON + dt.timedelta(days=60)
    assert patients_refresh_time_dependent_stages(today=day_60, by=nurse) == 1
    patient.refresh_from_db()
    assert patient.pathway_stage == PathwayStage.MAINTENANCE
    assert patient.history.latest().history_change_reason == "Pathway stage is now Maintenance"

    assert patients_refresh_time_dependent_stages(today=day_60, by=nurse) == 0


def test_the_job_runs_daily_before_the_alert_scan():
    schedule = settings.CELERY_BEAT_SCHEDULE
    job = schedule["pathway-stages-daily"]
    assert job["task"] == pathway_stages_refresh_task.name
    assert (job["schedule"].hour, job["schedule"].minute) == ({5}, {50})
    assert schedule["alert-scan-daily"]["schedule"].hour == {6}


def test_the_task_uses_the_clinic_date_and_the_system_user(surgeon, nurse):
    pump = PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon)
    assert pathway_stages_refresh_task() == 1  # today (2026) is long after the 2024 implant
    pump.patient.refresh_from_db()
    assert pump.patient.pathway_stage == PathwayStage.MAINTENANCE
    assert pump.patient.history.latest().history_user.username == "itb-system"
