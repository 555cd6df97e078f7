from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks


class AccessLogConfig(AppConfig):
    """Who opened which patient's record: one row per read, kept for a retention period.

    Its own app (not inside ``spasticity``) so that its table, migrations, admin and job
    stand apart from the clinical records: the log is not clinical, has no history, and
    its rows are hard-deleted once they are older than the retention window.
    """

    name = "access_log"
    verbose_name = "Access log"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        checks.register(retention_check)


def retention_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """A retention of 0 days (or less) would let the daily purge empty the log: refuse to start."""
    from django.conf import settings

    days = getattr(settings, "ACCESS_LOG_RETENTION_DAYS", None)
    if not isinstance(days, int) or days < 1:
        return [
            checks.Error(
                f"ACCESS_LOG_RETENTION_DAYS must be a whole number of days, at least 1 (it is {days!r}).",
                id="access_log.E001",
            )
        ]
    return []
