"""Helpers for the appointment tests.

The pump is the spec's worked example (``tests.factories.PumpFactory``): implanted and filled
on 2024-01-15 with 40 mL at 2000 mcg/mL and 500 mcg/day, so its alarm date is 2024-06-15 and
its refill is due on 2024-06-08: the refill window is 2024-05-25 to 2024-06-08.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import User

from appointments.models import Appointment
from appointments.services import appointment_book
from pumps.models import Pump
from tests.factories import PatientFactory, PumpFactory

LONDON = ZoneInfo("Europe/London")
DUE_ON = dt.date(2024, 6, 8)
ALARM_ON = dt.date(2024, 6, 15)
WINDOW_OPENS = dt.date(2024, 5, 25)


def at(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    """A clinic-local time on ``day``."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=LONDON)


@pytest.fixture
def pump(nurse: User, surgeon: User) -> Pump:
    return PumpFactory(
        patient=PatientFactory(given_name="Maya", family_name="Okafor", assigned_nurse=nurse), by=surgeon
    )


@pytest.fixture
def book(nurse: User):
    """Book through the service: ``book(pump, day, kind="refill", staff=[nurse], today=None, **fields)``
    (``today``: the day the pump's alerts are refreshed as of; the clinic's today by default)."""

    def make(
        pump: Pump | None,
        starts_at: dt.datetime,
        *,
        kind: str = "refill",
        by: User | None = None,
        today: dt.date | None = None,
        **fields: Any,
    ):
        staff = fields.pop("staff", None) or [nurse]
        patient = fields.pop("patient", None) or pump.patient  # type: ignore[union-attr]
        appointment = Appointment(patient=patient, pump=pump, kind=kind, starts_at=starts_at, **fields)
        return appointment_book(appointment, staff=staff, by=by or nurse, today=today)

    return make
