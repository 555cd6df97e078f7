"""The jobs' configuration: a static beat schedule in clinic time, late acks, limits, retries."""

from __future__ import annotations

from django.conf import settings

from alerts.tasks import alert_scan_task, notifications_send_task, nurse_digest_task
from spasticity.celery import app


def test_the_scan_runs_daily_at_0600_and_the_digest_after_it_in_clinic_time():
    schedule = app.conf.beat_schedule
    scan, digest = schedule["alert-scan-daily"], schedule["nurse-digest-daily"]
    assert scan["task"] == alert_scan_task.name == "alerts.alert_scan"
    assert (scan["schedule"].hour, scan["schedule"].minute) == ({6}, {0})
    assert digest["task"] == nurse_digest_task.name
    assert (digest["schedule"].hour, digest["schedule"].minute) == ({6}, {15})
    assert schedule["notifications-retry"]["task"] == notifications_send_task.name
    assert app.conf.timezone == settings.TIME_ZONE


def test_tasks_ack_late_one_at_a_time_with_time_limits_and_backed_off_retries():
    assert app.conf.task_acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.task_soft_time_limit == 240 and app.conf.task_time_limit == 300
    for task in (alert_scan_task, nurse_digest_task, notifications_send_task):
        assert task.max_retries == 5
        assert task.retry_backoff == 30 and task.retry_backoff_max == 600
        assert {error.__name__ for error in task.autoretry_for} == {"DatabaseError", "ConnectionError"}
