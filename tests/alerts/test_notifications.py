"""The outbox: the nurses' digest, the immediate email, each sent exactly once, failures retried."""

from __future__ import annotations

import datetime as dt
import smtplib
import threading

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from alerts.models import Alert, Notification
from alerts.notifications import (
    MAX_ATTEMPTS,
    RETRY_AFTER,
    digest_queue,
    notification_claim,
    notifications_send_pending,
)
from alerts.services import alert_acknowledge, alert_scan, alert_snooze, system_user
from alerts.tasks import alert_scan_task, notifications_send_task, nurse_digest_task
from spasticity.roles import Role
from tests.factories import PatientFactory, PumpFactory, UserFactory

AS_OF = dt.date(2024, 6, 16)


@pytest.fixture
def second_nurse(db):
    return UserFactory(username="nurse_nolan", first_name="Noor", last_name="Nolan", role=Role.PUMP_NURSE)


@pytest.fixture
def caseload(nurse, second_nurse, surgeon):
    """Nash: one pump past its alarm date, one with its battery near end of service, one due soon
    (snoozed), one overdue (acknowledged). Nolan: nothing. One patient with no pump nurse."""

    def pump(nurse_user, **pump_fields):
        return PumpFactory(patient=PatientFactory(assigned_nurse=nurse_user), by=surgeon, **pump_fields)

    pumps = {
        "past_alarm": pump(nurse),
        "battery": pump(nurse, implanted_on=dt.date(2024, 5, 1), eri_on=dt.date(2024, 6, 1)),
        "due_soon": pump(nurse, implanted_on=dt.date(2024, 2, 1)),
        "overdue": pump(nurse, implanted_on=dt.date(2024, 1, 20)),
        "unassigned": pump(None, implanted_on=dt.date(2024, 1, 10)),
    }
    alert_scan(as_of=AS_OF, by=system_user())
    alert_snooze(
        Alert.objects.get(pump=pumps["due_soon"]), by=nurse, until=dt.date(2024, 7, 1), reason="Booked", today=AS_OF
    )
    alert_acknowledge(Alert.objects.get(pump=pumps["overdue"]), by=nurse)
    Notification.objects.all().delete()  # the immediate emails are tested on their own
    mail.outbox.clear()
    return pumps


@pytest.mark.django_db
def test_the_digest_lists_a_nurses_actionable_alerts_most_urgent_first(caseload, nurse, second_nurse):
    assert {a.pump_id: a.kind for a in Alert.objects.unresolved()} == {
        caseload["past_alarm"].pk: "past_alarm_date",
        caseload["battery"].pk: "battery_end_of_life",
        caseload["due_soon"].pk: "refill_due_soon",
        caseload["overdue"].pk: "refill_overdue",
        caseload["unassigned"].pk: "past_alarm_date",
    }
    digest_queue(as_of=AS_OF)
    result = notifications_send_pending()

    assert result.sent == 2 and result.failed == 0
    by_recipient = {message.to[0]: message for message in mail.outbox}
    nash = by_recipient[nurse.email]
    lines = [line for line in nash.body.splitlines() if line[:2] in ("1.", "2.", "3.", "4.", "5.")]
    assert [line.split(":")[0] for line in lines] == [
        "1. PAST ALARM DATE",
        "2. PAST ALARM DATE",
        "3. REFILL OVERDUE",
        "4. BATTERY END OF LIFE",
    ]  # the snoozed due-soon alert is left out; the acknowledged one stays, marked
    assert "[acknowledged by Nia Nash]" in lines[2]
    assert caseload["unassigned"].patient.mrn in nash.body
    assert caseload["past_alarm"].patient.family_name not in nash.body  # MRN and initials only
    # Nolan has no patients of her own, but nobody else would see the unassigned patient's alert.
    nolan = by_recipient[second_nurse.email]
    assert nolan.body.count("PAST ALARM DATE") == 1 and caseload["unassigned"].patient.mrn in nolan.body
    assert nash.subject == "Pump alerts for 16 Jun 2024: 4 to act on"


@pytest.mark.django_db
def test_a_digest_task_run_twice_or_retried_sends_each_digest_once(caseload, nurse, second_nurse):
    first = nurse_digest_task(as_of=AS_OF.isoformat())
    assert first == {"queued": 2, "sent": 2, "failed": 0}
    again = nurse_digest_task(as_of=AS_OF.isoformat())
    retried = nurse_digest_task.apply(kwargs={"as_of": AS_OF.isoformat()}, retries=1).get()  # as Celery retries it
    notifications_send_task()

    assert again == retried == {"queued": 0, "sent": 0, "failed": 0}
    assert sorted(message.to[0] for message in mail.outbox) == sorted([nurse.email, second_nurse.email])
    keys = set(Notification.objects.values_list("dedupe_key", flat=True))
    assert keys == {f"digest:{nurse.pk}:2024-06-16", f"digest:{second_nurse.pk}:2024-06-16"}
    assert set(Notification.objects.values_list("status", "attempts")) == {("sent", 1)}


@pytest.mark.django_db
def test_a_new_past_alarm_date_sends_one_immediate_email(pump_of, nurse):
    pump = pump_of()
    alert_scan_task(as_of="2024-06-10")
    assert mail.outbox == []  # overdue only: waits for the digest

    alert_scan_task(as_of="2024-06-16")
    alert_scan_task(as_of="2024-06-17")
    notifications_send_task()

    [message] = mail.outbox
    assert message.to == [nurse.email]
    assert message.subject.startswith("URGENT: pump past its alarm date")
    assert pump.patient.mrn in message.subject and "baclofen withdrawal" in message.body


@pytest.mark.django_db
def test_the_claim_is_a_compare_and_swap_that_only_one_worker_wins(pump_of):
    pump_of()
    alert_scan(as_of=AS_OF, by=system_user())
    notification = Notification.objects.get()
    now = timezone.now()
    assert notification_claim(notification.pk, now=now) is True
    assert notification_claim(notification.pk, now=now) is False
    notifications_send_pending()
    assert mail.outbox == []  # claimed by the "other worker": not ours to send


@pytest.mark.django_db
def test_a_failed_send_is_retried_later_and_shown_to_administrators(
    pump_of, nurse, client_as, administrator, monkeypatch
):
    pump_of()
    alert_scan(as_of=AS_OF, by=system_user())
    real_send = mail.EmailMessage.send

    def broken_send(self, fail_silently=False):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    monkeypatch.setattr(mail.EmailMessage, "send", broken_send)
    now = timezone.now()
    assert notifications_send_pending(now=now).failed == 1
    failed = Notification.objects.get()
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert "SMTPServerDisconnected: Connection unexpectedly closed" in failed.last_error

    page = client_as(administrator).get(reverse("alerts:notifications_failed")).content.decode()
    assert "Connection unexpectedly closed" in page and nurse.email in page
    assert notifications_send_pending(now=now).sent == 0  # too soon to retry

    monkeypatch.setattr(mail.EmailMessage, "send", real_send)
    assert notifications_send_pending(now=now + RETRY_AFTER).sent == 1
    sent = Notification.objects.get()
    assert (sent.status, sent.attempts, sent.last_error) == ("sent", 2, "")
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_nurse_without_an_email_address_is_a_visible_failure_that_stops_after_the_last_attempt(pump_of, nurse):
    nurse.email = ""
    nurse.save()
    pump_of()
    alert_scan(as_of=AS_OF, by=system_user())
    now = timezone.now()
    for attempt in range(MAX_ATTEMPTS + 2):
        notifications_send_pending(now=now + attempt * RETRY_AFTER)
    notification = Notification.objects.get()
    assert (notification.status, notification.attempts) == ("failed", MAX_ATTEMPTS)
    assert "has no email address" in notification.last_error
    assert mail.outbox == []

    # Fixing the account is enough for a manual retry to reach her.
    nurse.email = "nia.nash@clinic.example"
    nurse.save()
    Notification.objects.filter(pk=notification.pk).update(attempts=0)
    notifications_send_pending(now=now + 10 * RETRY_AFTER)
    assert [m.to for m in mail.outbox] == [["nia.nash@clinic.example"]]


@pytest.mark.django_db
def test_a_row_left_sending_by_a_dead_worker_is_retried(pump_of):
    pump_of()
    alert_scan(as_of=AS_OF, by=system_user())
    notification = Notification.objects.get()
    long_ago = timezone.now() - dt.timedelta(hours=1)
    assert notification_claim(notification.pk, now=long_ago)
    notifications_send_pending()
    notification.refresh_from_db()
    assert notification.status == "sent" and notification.attempts == 2
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_two_digest_workers_racing_send_each_notification_once(nurse, second_nurse, surgeon):
    for _ in range(3):
        PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon)
    PumpFactory(patient=PatientFactory(assigned_nurse=second_nurse), by=surgeon)
    alert_scan_task(as_of=AS_OF.isoformat())  # the digest sends what the scan stored
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait(timeout=10)
            nurse_digest_task(as_of=AS_OF.isoformat())
        except BaseException as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    # Four pumps past their alarm date: four immediate emails and two digests, each once.
    assert Alert.objects.filter(kind="past_alarm_date").count() == 4
    assert Notification.objects.count() == 6
    assert set(Notification.objects.values_list("status", "attempts")) == {("sent", 1)}
    assert len(mail.outbox) == 6
    assert sorted(m.subject.split(":")[0] for m in mail.outbox) == ["Pump alerts for 16 Jun 2024"] * 2 + ["URGENT"] * 4
