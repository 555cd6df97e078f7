"""The record of the daily jobs' runs, and the check that the alert scan really ran.

A job that fans out (``alerts.tasks``) records its run when it starts, with the list
of chunks; each chunk, in the same transaction as its own writes, adds its counts and
marks itself done, so a chunk retried by Celery is counted once. The last chunk to
finish stamps ``finished_at``.

If the 06:00 scan does not finish (no worker, a broker outage, a chunk that keeps
failing), nothing raises an alert about it: the alerts themselves are what is
missing. So the dashboard shows an urgent banner instead (``scan_missing_message``).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from alerts.models import JobRun

JOB_ALERT_SCAN = "alert_scan"
JOB_PROJECTIONS_REFRESH = "projections_refresh"

# The daily scan starts at 06:00 clinic time (CELERY_BEAT_SCHEDULE); it is missing when no
# run has finished an hour after that.
SCAN_DAILY_AT = datetime.time(6, 0)
SCAN_GRACE = datetime.timedelta(hours=1)


def job_run_start(job: str, *, as_of: datetime.date, chunks: Sequence[int]) -> JobRun:
    """Record that ``job`` starts over ``chunks``; a run with no chunk is finished at once."""
    now = timezone.now()
    return JobRun.objects.create(
        job=job, as_of=as_of, started_at=now, chunks_total=len(chunks), finished_at=None if chunks else now
    )


def job_run_chunk_done(run_id: int, *, chunk: int, counts: Mapping[str, int]) -> None:
    """Add one chunk's counts to its run, once; the last chunk finishes the run.

    Call it in the chunk's own transaction: the row lock makes chunks finishing at the
    same moment on different workers take turns, and a chunk whose writes roll back is
    not counted.
    """
    with transaction.atomic():
        run = JobRun.objects.select_for_update().get(pk=run_id)
        if chunk in run.chunks_done:
            return  # a retried chunk: already counted
        run.chunks_done = [*run.chunks_done, chunk]
        run.counts = {name: run.counts.get(name, 0) + counts.get(name, 0) for name in {*run.counts, *counts}}
        if len(run.chunks_done) >= run.chunks_total:
            run.finished_at = timezone.now()
        run.save(update_fields=["chunks_done", "counts", "finished_at"])


def last_run(job: str) -> JobRun | None:
    return JobRun.objects.filter(job=job).order_by("-started_at").first()


def last_finished_run(job: str) -> JobRun | None:
    return JobRun.objects.filter(job=job, finished_at__isnull=False).order_by("-finished_at").first()


def scan_finished_for(as_of: datetime.date) -> bool:
    """Has a scan as of ``as_of`` (or later) finished? The digest waits for one."""
    return JobRun.objects.filter(job=JOB_ALERT_SCAN, as_of__gte=as_of, finished_at__isnull=False).exists()


def scan_expected_since(now: datetime.datetime) -> datetime.datetime:
    """The start of the latest daily scan that should have finished by ``now``.

    Today's 06:00 once the grace hour has passed, yesterday's 06:00 before that.
    """
    zone = ZoneInfo(settings.TIME_ZONE)
    local = now.astimezone(zone)
    today_at = datetime.datetime.combine(local.date(), SCAN_DAILY_AT, tzinfo=zone)
    return today_at if local >= today_at + SCAN_GRACE else today_at - datetime.timedelta(days=1)


def scan_missing_message(*, now: datetime.datetime) -> str | None:
    """An urgent warning when no alert scan has finished since the last 06:00 run was due, else None."""
    since = scan_expected_since(now)
    finished = last_finished_run(JOB_ALERT_SCAN)
    if finished is not None and finished.finished_at is not None and finished.finished_at >= since:
        return None
    local_since = since.astimezone(ZoneInfo(settings.TIME_ZONE))
    last = (
        f"the last one finished {timezone.localtime(finished.finished_at):%Y-%m-%d %H:%M}"
        if finished is not None and finished.finished_at is not None
        else "no scan has ever finished"
    )
    return (
        f"No alert scan has completed since {local_since:%Y-%m-%d %H:%M}: {last}. "
        "Alerts and worklists may be out of date: check that the Celery workers and beat are running, "
        "or run the scan now."
    )


@dataclass(frozen=True)
class JobsStatus:
    """What the dashboard says about the daily jobs: their last runs, and whether the scan is missing."""

    last_scan: JobRun | None
    last_refresh: JobRun | None
    scan_missing: str | None


def jobs_status(*, now: datetime.datetime) -> JobsStatus:
    """The last alert scan and projections refresh (finished or not), and the missing-scan warning. Three queries."""
    return JobsStatus(
        last_scan=last_run(JOB_ALERT_SCAN),
        last_refresh=last_run(JOB_PROJECTIONS_REFRESH),
        scan_missing=scan_missing_message(now=now),
    )
