"""Celery wrappers of a few lines: read the clinic's date, call the service."""

from __future__ import annotations

import datetime

from celery import shared_task
from django.utils import timezone

from alerts.notifications import notifications_send_pending
from alerts.tasks import RETRY_ON
from appointments.reminders import reminders_queue
from spasticity.timeutil import clinic_today


@shared_task(
    name="appointments.reminders_send", autoretry_for=RETRY_ON, retry_backoff=30, retry_backoff_max=600, max_retries=5
)
def reminders_send_task(today: str | None = None) -> dict[str, int]:
    """Queue today's appointment reminders (10:00 clinic time), then send what the outbox holds.

    Safe to run twice or on two workers at once: each reminder is queued once (its unique key)
    and sent once (the outbox's claim); failures are retried by ``alerts.notifications_send``.
    """
    day = datetime.date.fromisoformat(today) if today else clinic_today()
    queued = reminders_queue(today=day)
    sent = notifications_send_pending(now=timezone.now())
    return {"queued": len(queued), "sent": sent.sent, "failed": sent.failed, "skipped": sent.skipped}
