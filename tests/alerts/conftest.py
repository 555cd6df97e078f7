"""Helpers for the alert tests.

Most tests build pumps through ``tests.factories.PumpFactory`` (the pumps services), so
their stored dates are the real projection: implanted 2024-01-15 with 40 mL at
2000 mcg/mL and 500 mcg/day gives alarm 2024-06-15 and refill due 2024-06-08 (the
spec's worked example), and a SynchroMed II battery ends 2031-01-15.

Query-count tests need hundreds of pumps: ``bulk_pumps`` writes the stored columns
directly (tests only, no history), which is what the scan, the reports and the
worklist read.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from celery import Celery
from django.contrib.auth.models import User
from kombu import pools

from alerts.models import Alert
from alerts.rules import URGENCY
from patients.models import Patient
from pumps.models import Pump
from spasticity.celery import app
from tests.factories import PatientFactory, PumpFactory, PumpModelFactory

IMPLANTED_ON = dt.date(2024, 1, 15)
DUE_ON = dt.date(2024, 6, 8)
ALARM_ON = dt.date(2024, 6, 15)

_serials = itertools.count(1)


@pytest.fixture
def pump_of(nurse: User, surgeon: User):
    """An implanted pump (worked example) for a patient of the nurse persona."""

    def make(**patient_fields: Any) -> Pump:
        patient = PatientFactory(assigned_nurse=patient_fields.pop("assigned_nurse", nurse), **patient_fields)
        return PumpFactory(patient=patient, by=surgeon)

    return make


@pytest.fixture(autouse=True)
def without_appointment_alerts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests here pin the scan's own kinds and its mechanics alert by alert, on pumps with no
    bookings, which would all also be ``refill_not_booked``. The appointment kinds (a row source) are
    left out here and tested, with the scan, the worklist and the digest, in
    ``tests/appointments/test_alerts.py``; the other sources stay in."""
    from alerts import services as alert_services
    from appointments.alert_source import SOURCE

    every_source = alert_services.row_sources
    monkeypatch.setattr(alert_services, "row_sources", lambda: tuple(s for s in every_source() if s is not SOURCE))


def bulk_pumps(
    count: int,
    *,
    nurse: User | None = None,
    refill_due_on: dt.date | None = DUE_ON,
    alarm_date: dt.date | None = ALARM_ON,
    battery_end_of_service_on: dt.date | None = dt.date(2031, 1, 15),
    **pump_fields: Any,
) -> list[Pump]:
    """``count`` implanted pumps with the given stored dates, written in bulk (tests only)."""
    model = PumpModelFactory()
    start = next(_serials) * 100000
    patients = Patient.objects.bulk_create(
        [
            Patient(
                mrn=f"BULK{start + n}",
                given_name="Test",
                family_name=f"Patient{start + n:08d}",
                birth_date=dt.date(2015, 1, 1),
                sex="female",
                diagnosis="cerebral_palsy",
                assigned_nurse=nurse,
                pathway_stage="maintenance",
            )
            for n in range(count)
        ]
    )
    return Pump.objects.bulk_create(
        [
            Pump(
                patient=patient,
                model=model,
                serial_number=f"BULK-SN{start + n}",
                reservoir_volume_ml=40,
                implanted_on=IMPLANTED_ON,
                refill_due_on=refill_due_on,
                alarm_date=alarm_date,
                battery_end_of_service_on=battery_end_of_service_on,
                last_refill_on=IMPLANTED_ON,
                current_daily_dose_mcg=500,
                **pump_fields,
            )
            for n, patient in enumerate(patients)
        ]
    )


def bulk_alerts(pumps: list[Pump], *, kind: str, due_on: dt.date, raised_on: dt.date) -> list[Alert]:
    """Open alerts already in place for ``pumps`` (tests only, written in bulk)."""
    return Alert.objects.bulk_create(
        [
            Alert(
                kind=kind,
                pump=pump,
                patient_id=pump.patient_id,
                due_on=due_on,
                urgency=URGENCY[kind],
                raised_on=raised_on,
            )
            for pump in pumps
        ]
    )


@contextmanager
def celery_connected_to(broker_url: str, result_backend: str | None = None) -> Iterator[Celery]:
    """Point the project's Celery app at another broker (and result store) for one test or module.

    The app caches its connection pools and result backend, so they are dropped on the way
    in and out; the previous settings come back afterwards.
    """
    saved = {"broker_url": app.conf.broker_url, "result_backend": app.conf.result_backend}

    def drop_cached_connections() -> None:
        app._pool = None
        with suppress(Exception):
            pools.reset()  # kombu's process-wide connection and producer pools
        if "amqp" in app.__dict__:
            app.amqp._producer_pool = None
        app._backend_cache = None
        app._local = threading.local()

    app.conf.update(broker_url=broker_url, result_backend=result_backend)
    drop_cached_connections()
    try:
        yield app
    finally:
        app.conf.update(**saved)
        drop_cached_connections()
