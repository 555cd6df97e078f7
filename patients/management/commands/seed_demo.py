"""``python manage.py seed_demo``: the demo caseload with one login per role.

The demo logins' password is printed in the README, so the command refuses any database
but the demo's SQLite file unless told ``--i-know-this-is-not-production`` (the tests,
which run on PostgreSQL, say so).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import factory.random
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from alerts.notifications import notifications_skipped
from patients import demo
from patients.models import Patient
from patients.services import patient_refresh_stage
from spasticity.timeutil import clinic_today

# The file name the settings' zero-setup default, ``make demo`` and ``make clean`` use.
DEMO_DATABASE_FILE = "demo.sqlite3"
OVERRIDE_FLAG = "--i-know-this-is-not-production"


def is_demo_database(settings_dict: dict[str, Any]) -> bool:
    """True for the demo's embedded SQLite file, and nothing else."""
    return (
        settings_dict["ENGINE"] == "django.db.backends.sqlite3"
        and Path(str(settings_dict["NAME"])).name == DEMO_DATABASE_FILE
    )


class Command(BaseCommand):
    help = "Seed a realistic demo caseload (idempotent: does nothing when the demo logins exist)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--patients", type=int, default=48, help="patients beyond the referral inbox")
        parser.add_argument(
            OVERRIDE_FLAG,
            dest="not_production",
            action="store_true",
            help=f"seed a database other than the demo's {DEMO_DATABASE_FILE} (tests, a throwaway copy)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["not_production"] and not is_demo_database(connection.settings_dict):
            raise CommandError(
                f"Refusing to seed demo data (and logins with a published password) into "
                f"{connection.vendor} database {connection.settings_dict['NAME']!r}: seed_demo only runs on the "
                f"demo's SQLite file, {DEMO_DATABASE_FILE}. If this database is a throwaway copy, not production, "
                f"run it again with {OVERRIDE_FLAG}."
            )
        if User.objects.filter(username="nurse").exists():
            self.stdout.write("Demo data already present; leaving it as it is.")
            return
        factory.random.reseed_random(2026)
        today = clinic_today()
        # Recording months of demo history raises (and resolves) urgent alerts on the way; the
        # alerts stay for the demo's worklists, but no email about them is ever sent.
        with notifications_skipped(reason="Not sent: queued by the demo seed."):
            with transaction.atomic():
                staff = demo.seed_staff()
                patients = demo.seed_patients(staff=staff, count=options["patients"], today=today)
                self.seed_pathway(staff=staff, patients=patients, today=today)
                demo.align_referrals_with_history(staff=staff)
                demo.seed_referral_stages(staff=staff, today=today)
                for patient in Patient.objects.all():
                    patient_refresh_stage(patient, by=staff["rehab_doctor"], today=today)
            self.stdout.write(self.style.SUCCESS(f"Seeded {Patient.objects.count()} patients."))
            call_command("run_alert_scan", "--no-email", stdout=self.stdout)  # alerts computed for the demo

    def seed_pathway(self, *, staff: dict[str, User], patients: list[Patient], today: Any) -> None:
        """Trials and pumps put the patients at the later stages of the pathway."""
        from pumps.demo import seed_pumps
        from trials.demo import seed_trials

        # A third of the caseload is still in the trial part of the pathway; the rest have pumps.
        split = len(patients) // 3
        seed_trials(staff=staff, patients=patients[:split], today=today)
        seed_pumps(staff=staff, patients=patients[split:], today=today)
