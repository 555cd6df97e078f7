"""``python manage.py verify_projections``: do the stored pump columns match a fresh recomputation?

Exit code 0 when every pump's stored alarm date, refill-due date, battery end of
service and current values equal what ``pumps.dosing`` computes from its records now;
1 (with one line per drifting field) otherwise. ``--fix`` recomputes the drifting
pumps through the same service the writes use, and still exits 1 so a scheduler
notices that something had drifted.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from pumps.selectors import projection_drift
from pumps.services import pump_recompute_projection


class Command(BaseCommand):
    help = "Recompute every pump's stored projection with the dosing module and report any drift."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--fix", action="store_true", help="store the fresh values for drifting pumps")
        parser.add_argument("--as-user", default="", help="username recorded in the history for --fix")

    def handle(self, *args: Any, **options: Any) -> None:
        drifts = projection_drift()
        for drift in drifts:
            for field, (stored, fresh) in drift.fields.items():
                self.stdout.write(
                    f"DRIFT pump {drift.pump.pk} ({drift.pump.serial_number}) {field}: stored {stored}, fresh {fresh}"
                )
        if not drifts:
            self.stdout.write(
                self.style.SUCCESS("No drift: every pump's stored projection matches a fresh recomputation.")
            )
            return
        self.stdout.write(self.style.ERROR(f"{len(drifts)} pump(s) drifted."))
        if options["fix"]:
            self._fix(drifts, options["as_user"])
        sys.exit(1)

    def _fix(self, drifts: list[Any], username: str) -> None:
        from django.contrib.auth.models import User

        by = User.objects.filter(username=username).first() if username else None
        with transaction.atomic():
            for drift in drifts:
                pump_recompute_projection(drift.pump, by=by, reason="Drift fixed by verify_projections")
        self.stdout.write(f"Recomputed {len(drifts)} pump(s).")
