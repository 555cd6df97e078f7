"""Emails go only for alerts still unresolved when they are sent (spec "Alerts and jobs").

An outbox row is decided at send time, not at queue time: a refill recorded between the
scan and the worker answers the alert, and the nurse must not be told "URGENT" about a
pump that was refilled an hour ago. Seeding the demo emails nobody.
"""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from django.core import mail
from django.core.management import call_command

from alerts.models import Alert, Notification
from alerts.notifications import digest_queue, notifications_send_pending
from alerts.services import alert_acknowledge, alert_scan, alert_snooze, system_user
from tests.factories import PatientFactory, PumpFactory, RefillFactory

pytestmark = pytest.mark.django_db

AS_OF = dt.date(2024, 6, 16)


def refill(pump, nurse) -> None:
    """The pump refilled on AS_OF, within the expected delivery (nothing flagged)."""
    RefillFactory(pump=pump, by=nurse, refilled_on=AS_OF, aspirated_volume_ml=Decimal("1.75"), today=AS_OF)


@pytest.fixture
def past_alarm_pump(nurse, surgeon):
    pump = PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon)
    alert_scan(as_of=AS_OF, by=system_user())
    assert Notification.objects.get().status == "pending"
    return pump


def test_an_urgent_email_is_not_sent_once_the_pump_was_refilled(past_alarm_pump, nurse):
    refill(past_alarm_pump, nurse)
    assert Alert.objects.get(pump=past_alarm_pump, kind="past_alarm_date").status == "resolved"

    result = notifications_send_pending()

    assert mail.outbox == []
    assert (result.sent, result.skipped) == (0, 1)
    notification = Notification.objects.get()
    assert notification.status == "skipped" and notification.sent_at is None
    assert "alert resolved before sending" in notification.last_error
    assert notifications_send_pending().sent == 0  # skipped is final: never retried
    assert mail.outbox == []


def test_an_urgent_email_still_goes_while_its_alert_is_unresolved_even_if_acknowledged(past_alarm_pump, nurse):
    alert_acknowledge(Alert.objects.get(pump=past_alarm_pump), by=nurse, note="Calling the family")
    assert notifications_send_pending().sent == 1
    assert [message.to for message in mail.outbox] == [[nurse.email]]
    assert Notification.objects.get().status == "sent"


@pytest.fixture
def two_alerts(nurse, surgeon):
    """Nash's patients: one pump past its alarm date, one overdue; today's digest queued."""
    pumps = {
        "past_alarm": PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon),
        "overdue": PumpFactory(
            patient=PatientFactory(assigned_nurse=nurse), by=surgeon, implanted_on=dt.date(2024, 1, 20)
        ),
    }
    alert_scan(as_of=AS_OF, by=system_user())
    Notification.objects.filter(kind="immediate").delete()  # tested above
    [digest_id] = digest_queue(as_of=AS_OF)
    digest = Notification.objects.get(pk=digest_id)
    assert digest.subject.endswith("2 to act on") and digest.alerts.count() == 2
    return pumps


def test_a_digest_lists_only_the_alerts_still_actionable_when_it_is_sent(two_alerts, nurse):
    refill(two_alerts["past_alarm"], nurse)

    assert notifications_send_pending().sent == 1

    [message] = mail.outbox
    assert message.subject == "Pump alerts for 16 Jun 2024: 1 to act on"
    assert "PAST ALARM DATE" not in message.body and two_alerts["past_alarm"].patient.mrn not in message.body
    assert "1. REFILL OVERDUE" in message.body and two_alerts["overdue"].patient.mrn in message.body
    digest = Notification.objects.get()
    assert (digest.status, digest.subject, digest.body) == ("sent", message.subject, message.body)
    assert [a.pump_id for a in digest.alerts.all()] == [two_alerts["overdue"].pk]


def test_a_digest_whose_alerts_were_all_answered_is_not_sent(two_alerts, nurse):
    refill(two_alerts["past_alarm"], nurse)
    overdue = Alert.objects.get(pump=two_alerts["overdue"], kind="refill_overdue")
    alert_snooze(overdue, by=nurse, until=dt.date(2024, 6, 20), reason="Refill booked for the 20th", today=AS_OF)

    result = notifications_send_pending()

    assert mail.outbox == [] and (result.sent, result.skipped) == (0, 1)
    digest = Notification.objects.get()
    assert digest.status == "skipped" and "no alert left to act on" in digest.last_error


def test_seeding_the_demo_emails_nobody():
    call_command("seed_demo", "--i-know-this-is-not-production", "--patients", "12", stdout=io.StringIO())

    queued = Notification.objects.all()
    assert queued.exists()  # the demo does raise urgent alerts …
    assert set(queued.values_list("status", flat=True)) == {"skipped"}  # … but queues nothing to send
    assert all("demo seed" in n.last_error for n in queued)
    assert Alert.objects.unresolved().exists()  # the alerts themselves stay, for the demo's worklists

    assert notifications_send_pending().sent == 0
    assert mail.outbox == []
