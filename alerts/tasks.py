"""Celery wrappers of a few lines: read the clinic's date, call the service.

Every task is safe to run twice (the scan is idempotent and the outbox sends each
email once), which is what ``task_acks_late`` and the retries need.
"""

from __future__ import annotations

import datetime
from typing import Any

from celery import group, shared_task
from django.db import DatabaseError, transaction
from django.utils import timezone

from alerts.job_runs import JOB_ALERT_SCAN, job_run_chunk_done, job_run_start, scan_finished_for
from alerts.notifications import digest_queue, notifications_send_pending
from alerts.services import alert_scan, alert_scan_chunk, pump_chunks, system_user
from spasticity.timeutil import clinic_today

# A database blip or a lost connection: retry with exponential back-off (30 s, 60 s, … up to 10 min).
RETRY_ON = (DatabaseError, ConnectionError)
# The scan runs in chunks of pump ids (CLINIC["SCAN_CHUNK_PUMPS"], one task each); a chunk of
# 2,000 pumps takes well under a second, so these limits are for a database that is stuck.
SCAN_SOFT_LIMIT_S, SCAN_HARD_LIMIT_S = 240, 300
# The digest waits for the morning's scan to finish: up to 6 × 5 minutes, then sends anyway.
DIGEST_WAIT_S, DIGEST_WAITS = 300, 6


def _as_of(as_of: str | None) -> datetime.date:
    return datetime.date.fromisoformat(as_of) if as_of else clinic_today()


def _in_process(task: Any) -> bool:
    """Called as a plain function or with ``.apply()`` (tests, ``run_alert_scan``): no broker."""
    return bool(task.request.called_directly or task.request.is_eager)


@shared_task(
    bind=True,
    name="alerts.alert_scan",
    autoretry_for=RETRY_ON,
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
)
def alert_scan_task(self: Any, as_of: str | None = None) -> dict[str, int]:
    """The daily scan (06:00 clinic time): one task per chunk of pumps, spread across the workers.

    It records the run (``alerts.job_runs``) and queues the chunks as a Celery group;
    each chunk adds its counts, and the last one finishes the run. Called in process
    (a test, ``.apply()``), the chunks run here one after the other instead.
    """
    day = _as_of(as_of)
    if _in_process(self):
        result = alert_scan(as_of=day, by=system_user())
        notifications_send_pending(now=timezone.now())
        return {"chunks": result.chunks, "changes": result.changes, **result.totals()}
    chunks = pump_chunks()
    run = job_run_start(JOB_ALERT_SCAN, as_of=day, chunks=chunks)
    group(alert_scan_chunk_task.s(run.pk, day.isoformat(), chunk) for chunk in chunks).apply_async()
    return {"run": run.pk, "chunks": len(chunks)}


@shared_task(
    name="alerts.alert_scan_chunk",
    autoretry_for=RETRY_ON,
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
    soft_time_limit=SCAN_SOFT_LIMIT_S,
    time_limit=SCAN_HARD_LIMIT_S,
)
def alert_scan_chunk_task(run_id: int, as_of: str, chunk: int) -> dict[str, int]:
    """One chunk of the daily scan; its counts join the run in the same transaction; then send its emails."""
    with transaction.atomic():
        result = alert_scan_chunk(chunk, as_of=datetime.date.fromisoformat(as_of), by=system_user())
        job_run_chunk_done(run_id, chunk=chunk, counts=result.totals())
    if result.notification_ids:
        notifications_send_pending(now=timezone.now())
    return result.totals()


@shared_task(
    bind=True,
    name="alerts.nurse_digest",
    autoretry_for=RETRY_ON,
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
    soft_time_limit=SCAN_SOFT_LIMIT_S,
    time_limit=SCAN_HARD_LIMIT_S,
)
def nurse_digest_task(self: Any, as_of: str | None = None) -> dict[str, int]:
    """The nurses' digest (06:15), from the alerts the scan stored: it never runs a second scan.

    On a worker, it waits for the morning's scan to finish (up to half an hour), so the
    digest is never built from yesterday's alerts while today's are being written; after
    that it sends what is stored (the dashboard's banner says the scan is missing).
    """
    day = _as_of(as_of)
    if not _in_process(self) and not scan_finished_for(day) and self.request.retries < DIGEST_WAITS:
        raise self.retry(countdown=DIGEST_WAIT_S, max_retries=DIGEST_WAITS)
    queued = digest_queue(as_of=day)
    sent = notifications_send_pending(now=timezone.now())
    return {"queued": len(queued), "sent": sent.sent, "failed": sent.failed}


@shared_task(
    name="alerts.notifications_send", autoretry_for=RETRY_ON, retry_backoff=30, retry_backoff_max=600, max_retries=5
)
def notifications_send_task() -> dict[str, int]:
    """Send what is due in the outbox: new immediates, and failed rows to retry (every 10 minutes)."""
    sent = notifications_send_pending(now=timezone.now())
    return {"sent": sent.sent, "failed": sent.failed, "skipped": sent.skipped}
