"""Celery wrappers of a few lines: read the clinic's date, call the service.

Every task is safe to run twice (the scan is idempotent and the outbox sends each
email once), which is what ``task_acks_late`` and the retries need.
"""

from __future__ import annotations

import datetime

from celery import shared_task
from django.db import DatabaseError
from django.utils import timezone

from alerts.notifications import digest_queue, notifications_send_pending
from alerts.services import alert_scan, system_user
from spasticity.timeutil import clinic_today

# A database blip or a lost connection: retry with exponential back-off (30 s, 60 s, … up to 10 min).
RETRY_ON = (DatabaseError, ConnectionError)
# The scan writes one audited row per change: measured at about 17 ms a change, so a first
# scan of 20,000 pumps (6,479 new alerts) took 114 s (scripts/bench_caseload.py). A day's
# run changes far fewer rows, but the scan must never be cut off by the global 300 s limit
# on a large caseload's first run; each change commits on its own, so a cut-off run would
# only resume at the next one.
SCAN_SOFT_LIMIT_S, SCAN_HARD_LIMIT_S = 1500, 1800


def _as_of(as_of: str | None) -> datetime.date:
    return datetime.date.fromisoformat(as_of) if as_of else clinic_today()


@shared_task(
    name="alerts.alert_scan",
    autoretry_for=RETRY_ON,
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
    soft_time_limit=SCAN_SOFT_LIMIT_S,
    time_limit=SCAN_HARD_LIMIT_S,
)
def alert_scan_task(as_of: str | None = None) -> dict[str, int]:
    """The daily scan (06:00 clinic time); then send any immediate email it queued."""
    result = alert_scan(as_of=_as_of(as_of), by=system_user())
    notifications_send_pending(now=timezone.now())
    return {"changes": result.changes, "raised": sum(result.raised.values()), "resolved": sum(result.resolved.values())}


@shared_task(
    name="alerts.nurse_digest",
    autoretry_for=RETRY_ON,
    retry_backoff=30,
    retry_backoff_max=600,
    max_retries=5,
    soft_time_limit=SCAN_SOFT_LIMIT_S,
    time_limit=SCAN_HARD_LIMIT_S,
)
def nurse_digest_task(as_of: str | None = None) -> dict[str, int]:
    """The nurses' digest (06:15). Scans first (a no-op after the 06:00 run) so it is never stale."""
    day = _as_of(as_of)
    alert_scan(as_of=day, by=system_user())
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
