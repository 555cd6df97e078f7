"""Reminders to families through the outbox (spec section 7): once, retried, visible, with no diagnosis or drug."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from alerts.models import Notification
from alerts.notifications import RETRY_AFTER, notifications_send_pending
from appointments import services
from appointments.models import Appointment, AppointmentReminder
from appointments.reminders import reminders_queue
from appointments.tasks import reminders_send_task
from patients.models import Caregiver
from spasticity import sms
from spasticity.timeutil import clinic_today
from tests.appointments.conftest import at
from tests.factories import CaregiverFactory, PatientFactory

TODAY = clinic_today()
DAY = TODAY + dt.timedelta(days=3)


class FailingSms:
    def send(self, to: str, text: str) -> None:
        raise sms.SmsError("The SMS gateway answered 503.")


@pytest.fixture(autouse=True)
def texts(settings):
    settings.SMS_BACKEND = "locmem"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def family(nurse):
    patient = PatientFactory(given_name="Maya", family_name="Okafor", diagnosis="cerebral_palsy", assigned_nurse=nurse)
    return {
        "patient": patient,
        "email": CaregiverFactory(patient=patient, name="Grace", email="grace@example.org", preferred_contact="email"),
        "sms": CaregiverFactory(patient=patient, name="Tunde", phone="07700 900123", preferred_contact="sms"),
        "none": CaregiverFactory(patient=patient, name="Ada", email="ada@example.org", preferred_contact="none"),
    }


def book_review(patient, day=DAY, **fields) -> Appointment:
    from django.contrib.auth.models import User

    nurse = User.objects.get(username="nurse_nash")
    appointment = Appointment(patient=patient, kind=fields.pop("kind", "review"), starts_at=at(day, 10, 30), **fields)
    return services.appointment_book(appointment, staff=[nurse], by=nurse)


@pytest.mark.django_db
def test_three_days_before_and_the_day_before_each_caregiver_gets_one_reminder_their_way(family, texts):
    appointment = book_review(family["patient"], place="clinic")

    first = reminders_send_task(today=TODAY.isoformat())
    again = reminders_send_task(today=TODAY.isoformat())
    next_day = reminders_send_task(today=(TODAY + dt.timedelta(days=1)).isoformat())  # 2 days before: nothing new
    day_before = reminders_send_task(today=(TODAY + dt.timedelta(days=2)).isoformat())
    on_the_day = reminders_send_task(today=DAY.isoformat())

    assert [run["queued"] for run in (first, again, next_day, day_before, on_the_day)] == [2, 0, 0, 2, 0]
    assert [message.to for message in mail.outbox] == [["grace@example.org"]] * 2
    assert [text.to for text in texts] == ["07700 900123"] * 2
    links = AppointmentReminder.objects.filter(appointment=appointment)
    assert sorted(links.values_list("caregiver__name", "days_before")) == [
        ("Grace", 1),
        ("Grace", 3),
        ("Tunde", 1),
        ("Tunde", 3),
    ]
    assert set(Notification.objects.values_list("kind", "status", "attempts")) == {("reminder", "sent", 1)}


@pytest.mark.django_db
def test_the_text_names_day_time_place_what_to_bring_and_the_phone_and_no_diagnosis_or_drug(family, texts, settings):
    book_review(family["patient"], kind="review", place="home")
    reminders_send_task(today=TODAY.isoformat())

    email, text = mail.outbox[0], texts[0].text
    weekday = f"{DAY:%A} {DAY.day} {DAY:%B}"
    for message in (email.body, text):
        assert weekday in message and "10:30" in message
        assert "at home: the team will come to you" in message
        assert "pump ID card if there is a pump" in message
        assert settings.CLINIC["PHONE"] in message and "Maya" in message
        lowered = message.lower()
        for secret in (
            "cerebral",
            "palsy",
            "baclofen",
            "lioresal",
            "gablofen",
            "okafor",
            family["patient"].mrn.lower(),
        ):
            assert secret not in lowered
    assert email.subject == f"Reminder: review on {weekday} at 10:30"
    assert len(text) <= 320


@pytest.mark.django_db
def test_a_cancelled_appointment_sends_none(family, texts, nurse):
    appointment = book_review(family["patient"])
    services.appointment_cancel(appointment, by=nurse, reason="Family on holiday")

    assert reminders_send_task(today=TODAY.isoformat())["queued"] == 0
    assert (mail.outbox, texts, Notification.objects.count()) == ([], [], 0)


@pytest.mark.django_db
def test_one_cancelled_between_queueing_and_sending_is_skipped_with_the_reason(family, texts, nurse):
    appointment = book_review(family["patient"])
    assert len(reminders_queue(today=TODAY)) == 2
    services.appointment_cancel(appointment, by=nurse, reason="Rebooked by phone")

    result = notifications_send_pending()

    assert (result.sent, result.skipped, mail.outbox, texts) == (0, 2, [], [])
    assert set(Notification.objects.values_list("status", "last_error")) == {
        ("skipped", "Not sent: the appointment is cancelled.")
    }


@pytest.mark.django_db
def test_a_caregiver_with_preferred_contact_none_gets_none(nurse, texts):
    patient = PatientFactory()
    CaregiverFactory(patient=patient, email="someone@example.org", preferred_contact="none")
    book_review(patient)

    assert reminders_send_task(today=TODAY.isoformat())["queued"] == 0
    assert (mail.outbox, texts) == ([], [])


@pytest.mark.django_db
def test_a_moved_appointment_skips_the_old_reminder_and_gets_its_own(family, texts, nurse):
    appointment = book_review(family["patient"])
    reminders_queue(today=TODAY)
    appointment.starts_at = at(DAY + dt.timedelta(days=1), 9)
    services.appointment_update(appointment, by=nurse, expected_version=1)

    assert notifications_send_pending().skipped == 2
    assert len(reminders_queue(today=TODAY + dt.timedelta(days=1))) == 2  # three days before the new day
    assert notifications_send_pending().sent == 2
    assert f"{DAY + dt.timedelta(days=1):%A}" in mail.outbox[0].body and "09:00" in mail.outbox[0].body


@pytest.mark.django_db(transaction=True)
def test_two_racing_reminder_tasks_send_each_reminder_once(family, texts):
    book_review(family["patient"])
    book_review(family["patient"], day=TODAY + dt.timedelta(days=1), kind="trial")
    start = threading.Barrier(2)
    results: list[dict] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            start.wait(timeout=10)
            results.append(reminders_send_task(today=TODAY.isoformat()))
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
    # Two appointments × two caregivers who want reminders: four reminders, each queued and sent once.
    assert sum(result["queued"] for result in results) == 4
    assert Notification.objects.count() == 4
    assert set(Notification.objects.values_list("status", "attempts")) == {("sent", 1)}
    assert len(mail.outbox) == 2 and len(texts) == 2


@pytest.mark.django_db
def test_a_failed_text_is_retried_and_shown_to_administrators(family, texts, settings, client_as, administrator):
    book_review(family["patient"])
    settings.SMS_BACKEND = "tests.appointments.test_reminders.FailingSms"
    now = timezone.now()
    reminders_queue(today=TODAY)

    assert notifications_send_pending(now=now).failed == 1
    failed = Notification.objects.get(channel="sms")
    assert (failed.status, failed.attempts, failed.to_phone) == ("failed", 1, "07700 900123")
    page = client_as(administrator).get(reverse("alerts:notifications_failed")).content.decode()
    assert "Text to 07700 900123" in page and "The SMS gateway answered 503." in page

    settings.SMS_BACKEND = "locmem"
    assert notifications_send_pending(now=now + RETRY_AFTER).sent == 1
    assert Notification.objects.get(channel="sms").status == "sent" and len(texts) == 1


@pytest.mark.django_db
def test_the_reminder_goes_to_the_caregivers_current_address(family):
    book_review(family["patient"])
    reminders_queue(today=TODAY)
    Caregiver.objects.filter(pk=family["email"].pk).update(email="grace.new@example.org")
    notifications_send_pending()
    assert mail.outbox[0].to == ["grace.new@example.org"]


@pytest.mark.django_db
def test_the_appointment_page_shows_its_reminders(family, client_as, nurse):
    appointment = book_review(family["patient"])
    reminders_send_task(today=TODAY.isoformat())
    page = client_as(nurse).get(reverse("appointments:detail", args=[appointment.pk])).content.decode()
    assert "Grace · email to grace@example.org · <strong>sent</strong>" in page
    assert "Tunde · text message to 07700 900123 · <strong>sent</strong>" in page


# --------------------------------------------------------------------------
# The SMS backends
# --------------------------------------------------------------------------


def test_the_file_backend_writes_one_json_line_per_message(settings, tmp_path):
    settings.SMS_BACKEND, settings.SMS_FILE_PATH = "file", str(tmp_path / "sms.jsonl")
    sms.send_sms("07700 900001", "First")
    sms.send_sms(" 07700 900002 ", "Second")
    lines = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text().splitlines()]
    assert [(line["to"], line["text"]) for line in lines] == [("07700 900001", "First"), ("07700 900002", "Second")]


def test_no_number_is_an_error():
    with pytest.raises(sms.SmsError):
        sms.send_sms("  ", "Hello")


class Gateway(http.server.BaseHTTPRequestHandler):
    received: list[dict] = []
    status = 202

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        Gateway.received.append({"auth": self.headers["Authorization"], "body": json.loads(self.rfile.read(length))})
        self.send_response(Gateway.status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def gateway(settings):
    server = http.server.HTTPServer(("127.0.0.1", 0), Gateway)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Gateway.received.clear()
    settings.SMS_BACKEND = "http"
    settings.SMS_HTTP_URL = f"http://127.0.0.1:{server.server_port}/messages"
    settings.SMS_HTTP_TOKEN, settings.SMS_HTTP_SENDER = "secret-token", "ITBClinic"
    yield Gateway
    server.shutdown()
    server.server_close()


def test_the_http_backend_posts_json_with_the_bearer_token(gateway):
    gateway.status = 202
    sms.send_sms("+447700900123", "Reminder")
    assert gateway.received == [
        {"auth": "Bearer secret-token", "body": {"to": "+447700900123", "from": "ITBClinic", "text": "Reminder"}}
    ]


def test_the_http_backend_fails_on_an_error_answer_or_no_gateway(gateway, settings):
    gateway.status = 500
    with pytest.raises(sms.SmsError, match="answered 500"):
        sms.send_sms("+447700900123", "Reminder")
    settings.SMS_HTTP_URL = "file:///etc/passwd"
    with pytest.raises(sms.SmsError, match="http"):
        sms.send_sms("+447700900123", "Reminder")
