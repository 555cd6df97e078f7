"""With Redis down, pages work and actions that queue a job still answer; the failure is logged."""

from __future__ import annotations

import datetime as dt
import logging
import time

import pytest
from django.urls import reverse

from alerts.models import Alert, Notification
from alerts.services import alerts_refresh_for_pump
from tests.alerts.conftest import celery_connected_to

pytestmark = pytest.mark.django_db

CLOSED_PORT = "redis://127.0.0.1:6390/0"  # nothing listens here


@pytest.fixture
def redis_down():
    with celery_connected_to(CLOSED_PORT):
        yield


def queue_errors(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "alerts.jobs" and r.levelno >= logging.ERROR]


def test_pages_still_work(redis_down, client_as, personas):
    for role, url in [
        ("pump_nurse", reverse("alerts:worklist")),
        ("administrator", reverse("alerts:dashboard")),
        ("administrator", reverse("reports:overdue_refills")),
        ("rehab_doctor", reverse("alerts:list")),
    ]:
        assert client_as(personas[role]).get(url).status_code == 200


def test_sending_the_digest_now_answers_and_logs_that_the_queue_is_down(redis_down, client_as, administrator, caplog):
    client = client_as(administrator)
    started = time.monotonic()
    response = client.post(reverse("alerts:send_digest"), follow=True)
    assert time.monotonic() - started < 5
    assert response.status_code == 200
    assert "could not be queued: the job queue is not reachable" in response.content.decode()
    assert queue_errors(caplog) == ["Could not queue alerts.nurse_digest: the job broker is unreachable"]


def test_running_the_scan_now_says_it_could_not_be_queued_and_never_scans_in_the_request(
    redis_down, client_as, administrator, pump_of, caplog
):
    pump = pump_of()  # past its alarm date long ago (2024-06-15)
    Alert.objects.filter(pump=pump).delete()  # as if no scan had seen it yet
    response = client_as(administrator).post(reverse("alerts:run_scan"), follow=True)
    assert response.status_code == 200
    assert "The alert scan could not be queued: the job queue is not reachable" in response.content.decode()
    # A whole caseload's scan never runs inside a request (issue 9): the 06:00 job does it.
    assert not Alert.objects.filter(pump=pump).exists()
    assert queue_errors(caplog) == ["Could not queue alerts.alert_scan: the job broker is unreachable"]


def test_a_new_urgent_alert_from_a_clinical_save_is_kept_when_its_email_cannot_be_queued(
    redis_down, pump_of, nurse, caplog, django_capture_on_commit_callbacks
):
    pump = pump_of()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        alerts_refresh_for_pump(pump, as_of=dt.date(2024, 6, 16), by=nurse)
    assert len(callbacks) == 1
    assert Alert.objects.get(pump=pump).kind == "past_alarm_date"
    assert Notification.objects.get().status == "pending"
    assert queue_errors(caplog) == ["Could not queue alerts.notifications_send: the job broker is unreachable"]
