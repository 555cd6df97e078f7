"""The scan's tasks are chunks with time limits of their own; the fan-out and the digest hold no long work."""

from django.conf import settings

from alerts.tasks import alert_scan_chunk_task, notifications_send_task, nurse_digest_task


def test_each_scan_chunk_has_a_time_limit_within_the_global_one():
    for task in (alert_scan_chunk_task, nurse_digest_task):
        assert task.time_limit <= settings.CELERY_TASK_TIME_LIMIT
        assert task.soft_time_limit < task.time_limit


def test_the_outbox_task_keeps_the_global_limit():
    assert notifications_send_task.time_limit == settings.CELERY_TASK_TIME_LIMIT
