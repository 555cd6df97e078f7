"""Every write that moves a pump's dates brings its alerts in line at once, not at the 06:00 scan."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from alerts.models import Alert, Notification
from pumps.models import Pump
from pumps.services import pump_update
from spasticity.audit import void_record
from tests.factories import PatientFactory, PumpFactory, RefillFactory

pytestmark = pytest.mark.django_db


def open_kinds(pump: Pump) -> set[str]:
    return {a.kind for a in Alert.objects.unresolved().filter(pump=pump)}


def test_an_old_implant_entered_today_raises_its_past_alarm_alert_and_email_at_once(nurse, surgeon):
    # A patient joining the clinic: implanted and last filled 2024-01-15, entered on 2024-06-20.
    pump = PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon, today=dt.date(2024, 6, 20))
    assert pump.alarm_date == dt.date(2024, 6, 15)
    assert open_kinds(pump) == {"past_alarm_date"}
    assert Notification.objects.filter(kind="immediate").count() == 1


def test_voiding_a_mistaken_refill_puts_the_pump_back_past_its_alarm_date_at_once(nurse, surgeon):
    pump = PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon)
    refill = RefillFactory(
        pump=pump,
        by=nurse,
        refilled_on=dt.date(2024, 6, 1),
        aspirated_volume_ml=Decimal("5.5"),
        today=dt.date(2024, 6, 1),
    )
    assert open_kinds(pump) == set()

    # Voided later (today, 2026): without the refill the pump ran past its 2024-06-15 alarm.
    void_record(refill, by=nurse, reason="Entered on the wrong pump")

    pump.refresh_from_db()
    assert pump.alarm_date == dt.date(2024, 6, 15)
    assert open_kinds(pump) == {"past_alarm_date"}
    alert = Alert.objects.get(pump=pump, kind="past_alarm_date")
    assert alert.history.earliest().history_user == nurse


def test_recording_a_replacement_indicator_date_raises_the_battery_alert_at_once(nurse, surgeon):
    pump = PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon)
    pump.refresh_from_db()
    pump.eri_on = dt.date(2024, 3, 1)
    pump_update(pump, by=nurse, expected_version=pump.version, reason="ERI at interrogation", today=dt.date(2024, 3, 1))

    pump.refresh_from_db()
    assert pump.battery_end_of_service_on == dt.date(2024, 5, 30)
    assert "battery_end_of_life" in open_kinds(pump)
