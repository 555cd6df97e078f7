"""Celery wrapper: the daily access log purge (spasticity.settings.CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from access_log.services import access_log_purge


@shared_task(
    name="access_log.purge",
    autoretry_for=(DatabaseError, ConnectionError),
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def access_log_purge_task() -> int:
    """Delete access log rows past ``ACCESS_LOG_RETENTION_DAYS``; safe to run twice."""
    return access_log_purge(now=timezone.now())
