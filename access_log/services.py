"""The access log's one write with a rule: the retention purge."""

from __future__ import annotations

import datetime

from django.conf import settings

from access_log.selectors import accesses_older_than


def access_log_retention_cutoff(*, now: datetime.datetime) -> datetime.datetime:
    """Rows that happened before this moment are past ``ACCESS_LOG_RETENTION_DAYS``."""
    return now - datetime.timedelta(days=settings.ACCESS_LOG_RETENTION_DAYS)


def access_log_purge(*, now: datetime.datetime) -> int:
    """Delete every row older than the retention window, in one DELETE statement; returns how many.

    A hard, set-based delete is right here although clinical records are never deleted:
    access log rows are not clinical records (no history, nothing derives from them), and
    keeping them past the retention period the clinic chose is itself a privacy risk.
    """
    deleted, _per_model = accesses_older_than(access_log_retention_cutoff(now=now)).delete()
    return deleted
