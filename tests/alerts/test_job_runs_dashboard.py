"""The dashboard shows the daily jobs' last runs, and an urgent banner when no scan has finished."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone

from alerts.job_runs import (
    JOB_ALERT_SCAN,
    job_run_chunk_done,
    job_run_start,
    jobs_status,
    scan_expected_since,
    scan_missing_message,
)
from alerts.models import JobRun
from alerts.services import alert_scan, system_user
from spasticity.timeutil import clinic_today
from tests.factories import PumpFactory

LONDON = ZoneInfo("Europe/London")
DASHBOARD = reverse("alerts:dashboard")


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=LONDON)


def finished_scan(finished_at: dt.datetime) -> JobRun:
    return JobRun.objects.create(
        job=JOB_ALERT_SCAN,
        as_of=finished_at.date(),
        started_at=finished_at - dt.timedelta(minutes=1),
        finished_at=finished_at,
        chunks_total=1,
        chunks_done=[0],
    )


def test_the_scan_is_expected_from_todays_0600_run_once_its_grace_hour_has_passed(settings):
    settings.TIME_ZONE = "Europe/London"
    day = dt.date(2026, 12, 4)
    assert scan_expected_since(at(day, 6, 59)) == at(day - dt.timedelta(days=1), 6)
    assert scan_expected_since(at(day, 7, 0)) == at(day, 6)
    assert scan_expected_since(at(day, 23, 30)) == at(day, 6)


@pytest.mark.django_db
def test_no_scan_ever_finished_is_a_missing_scan(settings):
    settings.TIME_ZONE = "Europe/London"
    message = scan_missing_message(now=at(dt.date(2026, 12, 4), 9))
    assert message is not None
    assert message.startswith("No alert scan has completed since 2026-12-04 06:00: no scan has ever finished.")


@pytest.mark.django_db
def test_yesterdays_scan_is_enough_until_an_hour_after_todays_was_due(settings):
    settings.TIME_ZONE = "Europe/London"
    day = dt.date(2026, 12, 4)
    finished_scan(at(day - dt.timedelta(days=1), 6, 5))
    assert scan_missing_message(now=at(day, 6, 30)) is None
    message = scan_missing_message(now=at(day, 7, 5))
    assert message is not None and "since 2026-12-04 06:00: the last one finished 2026-12-03 06:05" in message
    finished_scan(at(day, 7, 10))  # a late scan (run by hand) answers it
    assert scan_missing_message(now=at(day, 7, 15)) is None


@pytest.mark.django_db
def test_a_run_whose_chunks_have_not_all_finished_does_not_count():
    now = timezone.now()
    run = job_run_start(JOB_ALERT_SCAN, as_of=clinic_today(), chunks=[0, 1])
    job_run_chunk_done(run.pk, chunk=0, counts={"raised": 3})
    status = jobs_status(now=now + dt.timedelta(days=1))
    assert status.last_scan == run and not status.last_scan.is_finished
    assert status.scan_missing is not None


@pytest.mark.django_db
def test_the_dashboard_shows_the_urgent_banner_until_a_scan_finishes(client_as, administrator, surgeon):
    page = client_as(administrator).get(DASHBOARD)
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="scan-missing"' in html and "no scan has ever finished" in html
    assert "no run recorded" in html

    PumpFactory(by=surgeon)
    alert_scan(as_of=clinic_today(), by=system_user())

    html = client_as(administrator).get(DASHBOARD).content.decode()
    assert 'data-testid="scan-missing"' not in html
    run = JobRun.objects.get(job=JOB_ALERT_SCAN)
    row = html.split('data-job="alert_scan"')[1].split("</tr>")[0]
    assert f"{run.as_of:%Y-%m-%d}" in row and "1 of 1" in row and "not finished" not in row
    assert "raised 1" in row  # the implanted pump's first alert (past its alarm date by now)


@pytest.mark.django_db
def test_every_role_sees_the_banner_on_the_dashboard_and_a_user_without_a_role_is_refused(client_as, personas):
    assert client_as(personas.pop("outsider")).get(DASHBOARD).status_code == 403
    for user in personas.values():
        page = client_as(user).get(DASHBOARD)
        assert page.status_code == 200, user.username
        assert 'data-testid="scan-missing"' in page.content.decode(), user.username
