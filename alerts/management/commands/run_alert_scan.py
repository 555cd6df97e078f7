"""``python manage.py run_alert_scan [--as-of YYYY-MM-DD]``: the daily scan, run here and now."""

from __future__ import annotations

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from alerts.notifications import notifications_send_pending
from alerts.services import alert_scan, system_user
from spasticity.timeutil import clinic_today


def iso_date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(f"--as-of must be a date as YYYY-MM-DD, not {value!r}.") from error


class Command(BaseCommand):
    help = "Run the alert scan synchronously (the same code as the 06:00 job), then send its immediate emails."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--as-of", type=iso_date, default=None, help="scan as of this date (default: today)")
        parser.add_argument("--no-email", action="store_true", help="queue immediate emails but do not send them")

    def handle(self, *args: Any, **options: Any) -> None:
        as_of = options["as_of"] or clinic_today()
        result = alert_scan(as_of=as_of, by=system_user())
        self.stdout.write(result.summary())
        if not options["no_email"]:
            sent = notifications_send_pending()
            self.stdout.write(f"Emails sent: {sent.sent}, failed: {sent.failed}.")
