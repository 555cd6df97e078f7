"""``python manage.py seed_demo``: the demo caseload with one login per role."""

from __future__ import annotations

from typing import Any

import factory.random
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from alerts.notifications import notifications_skipped
from patients import demo
from patients.models import Patient
from patients.services import patient_refresh_stage
from spasticity.timeutil import clinic_today


class Command(BaseCommand):
    help = "Seed a realistic demo caseload (idempotent: does nothing when the demo logins exist)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--patients", type=int, default=48, help="patients beyond the referral inbox")

    def handle(self, *args: Any, **options: Any) -> None:
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
