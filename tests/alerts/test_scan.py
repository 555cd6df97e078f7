"""The alert scan on fixed dates (the spec's worked example pump: due 2024-06-08, alarm 2024-06-15)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from alerts.models import Alert, Notification
from alerts.services import alert_scan, system_user
from pumps.models import Pump
from pumps.services import SurgeryDetails, pump_explant, pump_replace
from spasticity.audit import void_record
from tests.alerts.conftest import ALARM_ON, DUE_ON, bulk_alerts
from tests.factories import PatientFactory, PumpFactory, RefillFactory

pytestmark = pytest.mark.django_db


def scan(as_of: dt.date):
    return alert_scan(as_of=as_of, by=system_user())


def unresolved(pump: Pump) -> dict[str, dt.date]:
    return {a.kind: a.due_on for a in Alert.objects.unresolved().filter(pump=pump)}


def test_the_worked_example_pump_has_the_dates_the_tests_rely_on(pump_of):
    pump = pump_of()
    assert (pump.refill_due_on, pump.alarm_date, pump.battery_end_of_service_on) == (
        DUE_ON,
        ALARM_ON,
        dt.date(2031, 1, 15),
    )


def test_it_raises_refill_overdue_for_a_pump_past_its_refill_due_date_but_before_its_alarm_date(pump_of):
    pump = pump_of()
    result = scan(dt.date(2024, 6, 10))

    alert = Alert.objects.get(pump=pump)
    assert (alert.kind, alert.status, alert.due_on, alert.raised_on) == (
        "refill_overdue",
        "open",
        DUE_ON,
        dt.date(2024, 6, 10),
    )
    assert alert.patient == pump.patient
    assert alert.urgency == 20
    assert dict(result.raised) == {"refill_overdue": 1}
    created = alert.history.get()
    assert created.history_user.username == "itb-system"
    assert "alert scan as of 2024-06-10" in created.history_change_reason
    assert not Notification.objects.exists()  # only past_alarm_date sends an immediate email


def test_it_flags_a_pump_past_its_alarm_date_and_queues_one_immediate_email_to_its_nurse(pump_of, nurse):
    pump = pump_of()
    scan(dt.date(2024, 6, 16))

    assert unresolved(pump) == {"past_alarm_date": ALARM_ON}  # supersedes refill_overdue
    alert = Alert.objects.get(pump=pump)
    assert alert.urgency == 10
    notification = Notification.objects.get()
    assert (notification.kind, notification.recipient, notification.status) == ("immediate", nurse, "pending")
    assert notification.dedupe_key == f"immediate:{alert.pk}:{nurse.pk}"
    assert list(notification.alerts.all()) == [alert]
    assert pump.patient.mrn in notification.subject and pump.serial_number in notification.subject


def test_an_overdue_alert_becomes_past_alarm_date_when_the_alarm_date_passes(pump_of):
    pump = pump_of()
    scan(dt.date(2024, 6, 10))
    result = scan(dt.date(2024, 6, 16))

    assert unresolved(pump) == {"past_alarm_date": ALARM_ON}
    overdue = Alert.objects.get(pump=pump, kind="refill_overdue")
    assert overdue.status == "resolved" and overdue.resolved_on == dt.date(2024, 6, 16)
    assert dict(result.raised) == {"past_alarm_date": 1} and dict(result.resolved) == {"refill_overdue": 1}


def test_a_refill_due_within_14_days_raises_refill_due_soon(pump_of):
    pump = pump_of()
    scan(dt.date(2024, 5, 24))
    assert unresolved(pump) == {}
    scan(dt.date(2024, 5, 25))
    assert unresolved(pump) == {"refill_due_soon": DUE_ON}


def test_a_pump_whose_battery_ends_within_180_days_raises_battery_end_of_life(nurse, surgeon):
    # ERI seen on 2024-03-01; a SynchroMed II then has 90 days: end of service 2024-05-30.
    near = PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon, eri_on=dt.date(2024, 3, 1))
    far = PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon)
    assert near.battery_end_of_service_on == dt.date(2024, 5, 30)

    scan(dt.date(2024, 2, 1))

    assert unresolved(near) == {"battery_end_of_life": dt.date(2024, 5, 30)}
    assert unresolved(far) == {}


def test_running_the_scan_twice_changes_nothing(pump_of, nurse, surgeon):
    pumps = [pump_of() for _ in range(3)]
    PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon, eri_on=dt.date(2024, 3, 1))
    first = scan(dt.date(2024, 6, 16))
    rows_before = list(Alert.objects.order_by("pk").values())
    history_before = Alert.history.count()
    outbox_before = Notification.objects.count()

    second = scan(dt.date(2024, 6, 16))

    # Four pumps past their alarm date (one also near end of service): five alerts, four emails.
    # The end-of-service alert was raised when that pump was entered, so the scan raised four.
    assert dict(first.raised) == {"past_alarm_date": 4} and second.changes == 0
    assert Alert.objects.unresolved().filter(kind="battery_end_of_life").count() == 1
    assert second.unchanged == 5
    assert list(Alert.objects.order_by("pk").values()) == rows_before
    assert Alert.history.count() == history_before
    assert Notification.objects.count() == outbox_before == 4
    assert all(unresolved(p) == {"past_alarm_date": ALARM_ON} for p in pumps)


def test_recording_a_refill_resolves_the_refill_alerts_at_once(pump_of, nurse):
    pump = pump_of()
    scan(dt.date(2024, 6, 16))
    assert unresolved(pump) == {"past_alarm_date": ALARM_ON}

    # 153 days at 0.25 mL/day from 40 mL leaves 1.75 mL: within the expected delivery.
    RefillFactory(
        pump=pump,
        by=nurse,
        refilled_on=dt.date(2024, 6, 16),
        aspirated_volume_ml=Decimal("1.75"),
        today=dt.date(2024, 6, 16),
    )

    assert unresolved(pump) == {}
    alert = Alert.objects.get(pump=pump)
    assert alert.status == "resolved" and alert.resolved_on == dt.date(2024, 6, 16)
    assert alert.history.latest().history_user == nurse  # the refill answered it, so the nurse did
    assert scan(dt.date(2024, 6, 16)).changes == 0


def test_the_next_scan_resolves_what_a_refill_answered_even_without_the_immediate_refresh(pump_of, nurse, monkeypatch):
    monkeypatch.setattr("pumps.services.alerts_refresh_for_pump", lambda *args, **kwargs: None)
    pump = pump_of()
    scan(dt.date(2024, 6, 10))
    RefillFactory(
        pump=pump,
        by=nurse,
        refilled_on=dt.date(2024, 6, 10),
        aspirated_volume_ml=Decimal("3.25"),
        today=dt.date(2024, 6, 10),
    )
    assert unresolved(pump) == {"refill_overdue": DUE_ON}  # stale until the scan runs

    result = scan(dt.date(2024, 6, 11))

    assert unresolved(pump) == {}
    assert dict(result.resolved) == {"refill_overdue": 1}
    assert "no longer overdue" in Alert.objects.get(pump=pump).resolution


def test_a_flagged_refill_raises_delivery_deviation_and_the_next_clean_refill_resolves_it(pump_of, nurse):
    pump = pump_of()
    # 60 days at 0.25 mL/day should leave 25 mL; finding 20 mL means 33% over-delivery.
    flagged = RefillFactory(
        pump=pump,
        by=nurse,
        refilled_on=dt.date(2024, 3, 15),
        aspirated_volume_ml=Decimal("20"),
        today=dt.date(2024, 3, 15),
    )
    assert flagged.delivery_flag == "over_delivery"
    alert = Alert.objects.get(pump=pump, kind="delivery_deviation")
    assert (alert.status, alert.refill, alert.due_on) == ("open", flagged, dt.date(2024, 3, 15))

    # 78 days from 40 mL should leave 20.5 mL: as expected.
    RefillFactory(
        pump=pump,
        by=nurse,
        refilled_on=dt.date(2024, 6, 1),
        aspirated_volume_ml=Decimal("20.5"),
        today=dt.date(2024, 6, 1),
    )
    alert.refresh_from_db()
    assert alert.status == "resolved"
    assert scan(dt.date(2024, 6, 1)).changes == 0


def test_replacing_a_pump_resolves_its_alerts(nurse, surgeon):
    old = PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon, eri_on=dt.date(2024, 3, 1))
    scan(dt.date(2024, 4, 1))
    assert unresolved(old) == {"battery_end_of_life": dt.date(2024, 5, 30)}

    new = Pump(model=old.model, serial_number="NGP-NEW-1", reservoir_volume_ml=Decimal("40"))
    pump_replace(
        old,
        new_pump=new,
        by=surgeon,
        surgery=SurgeryDetails(performed_on=dt.date(2024, 4, 2)),
        today=dt.date(2024, 4, 2),
    )

    assert unresolved(old) == {}
    assert "explanted (or replaced) on 2024-04-02" in Alert.objects.get(pump=old).resolution
    assert scan(dt.date(2024, 4, 2)).changes == 0


def test_an_explanted_or_voided_pump_has_no_alerts(pump_of, surgeon, doctor):
    explanted, voided = pump_of(), pump_of()
    scan(dt.date(2024, 6, 16))
    pump_explant(
        explanted, by=surgeon, surgery=SurgeryDetails(performed_on=dt.date(2024, 6, 17)), today=dt.date(2024, 6, 17)
    )
    void_record(Pump.objects.get(pk=voided.pk), by=surgeon, reason="Entered on the wrong patient")
    # The explant and the voiding each resolved their pump's alert at once.
    assert unresolved(explanted) == {} and unresolved(voided) == {}

    result = scan(dt.date(2024, 6, 17))

    assert unresolved(explanted) == {} and unresolved(voided) == {}
    assert Alert.objects.get(pump=voided).resolution == "The pump record was voided."
    assert result.changes == 0


def test_a_snoozed_alert_reopens_the_day_after_its_snooze_ends(pump_of, nurse):
    from alerts.services import alert_snooze

    pump = pump_of()
    scan(dt.date(2024, 6, 10))
    alert = Alert.objects.get(pump=pump)
    alert_snooze(
        alert, by=nurse, until=dt.date(2024, 6, 12), reason="Refill booked for the 12th", today=dt.date(2024, 6, 10)
    )

    assert scan(dt.date(2024, 6, 12)).changes == 0
    assert Alert.objects.get(pk=alert.pk).status == "snoozed"
    result = scan(dt.date(2024, 6, 13))
    alert.refresh_from_db()
    assert alert.status == "open" and dict(result.reopened) == {"refill_overdue": 1}
    assert "Snooze ended on 2024-06-12" in alert.history.latest().history_change_reason


def test_the_database_keeps_one_unresolved_alert_per_pump_and_kind(pump_of):
    pump = pump_of()
    [first] = bulk_alerts([pump], kind="refill_overdue", due_on=DUE_ON, raised_on=dt.date(2024, 6, 10))
    for status in ("open", "acknowledged", "snoozed"):
        with pytest.raises(IntegrityError), transaction.atomic():
            Alert.objects.create(
                kind="refill_overdue",
                pump=pump,
                patient=pump.patient,
                due_on=DUE_ON,
                urgency=2,
                raised_on=DUE_ON,
                status=status,
            )
    first.status = "resolved"
    first.save()
    Alert.objects.create(
        kind="refill_overdue", pump=pump, patient=pump.patient, due_on=DUE_ON, urgency=2, raised_on=DUE_ON
    )
    assert Alert.objects.filter(pump=pump).count() == 2


def test_run_alert_scan_runs_the_scan_for_a_given_date(pump_of, capsys):
    pump = pump_of()
    call_command("run_alert_scan", "--as-of", "2024-06-10", "--no-email")
    assert unresolved(pump) == {"refill_overdue": DUE_ON}
    assert "raised refill_overdue 1" in capsys.readouterr().out
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("run_alert_scan", "--as-of", "10/06/2024")
