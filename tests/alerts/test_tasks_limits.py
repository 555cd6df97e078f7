"""The scan tasks get longer time limits than the global ones (a large caseload's first scan)."""

from django.conf import settings

from alerts.tasks import alert_scan_task, notifications_send_task, nurse_digest_task


def test_the_scan_and_digest_tasks_may_run_longer_than_the_global_limit():
    for task in (alert_scan_task, nurse_digest_task):
        assert task.time_limit > settings.CELERY_TASK_TIME_LIMIT
        assert task.soft_time_limit < task.time_limit


def test_the_outbox_task_keeps_the_global_limit():
    assert notifications_send_task.time_limit == settings.CELERY_TASK_TIME_LIMIT
