"""``python manage.py seed_demo``: the demo caseload with one login per role.

The demo logins' password is printed in the README, so the command refuses any database
but the demo's SQLite file unless told ``--i-know-this-is-not-production`` (the tests,
which run on PostgreSQL, say so).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import factory.random
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from alerts.models import Alert, AlertKind
from alerts.notifications import notifications_skipped
from alerts.services import alert_scan, system_user
from patients import demo
from patients.models import Diagnosis, PathwayStage, Patient
from patients.services import patient_refresh_stage
from spasticity.roles import ROLE_LABELS
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
        # 42: 14 in the trial part of the pathway and 28 with a pump, seeded in well under 15 s.
        parser.add_argument("--patients", type=int, default=42, help="patients beyond the referral inbox")
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
                seed_caseload(staff=staff, count=options["patients"], today=today)
                for patient in Patient.objects.all():
                    patient_refresh_stage(patient, by=staff["rehab_doctor"], today=today)
            # The alerts computed for the demo, as the 06:00 job would (its per-pump detail is not printed).
            alert_scan(as_of=today, by=system_user())
        for line in summary_lines(today=today):
            self.stdout.write(line)


# A pump's work-up: its positive trial this many days before the implant (six weeks to four months).
WORKUP_LEAD_DAYS = (42, 65, 88, 111, 54, 77, 100, 123)


def seed_caseload(*, staff: dict[str, User], count: int, today: dt.date) -> None:
    """The patients, a third in the trial part of the pathway and the rest with a pump story,
    each pump preceded by its work-up (a signed positive trial and reviewed goals)."""
    from pumps.demo import seed_pumps, story_for
    from trials.demo import seed_trials, seed_workup

    people = demo.People()
    split = count // 3
    implants_on = [story_for(index).implanted_on(today) for index in range(count - split)]
    workups_on = [
        on - dt.timedelta(days=WORKUP_LEAD_DAYS[index % len(WORKUP_LEAD_DAYS)]) for index, on in enumerate(implants_on)
    ]
    # The trial-stage patients' trials lie within the two months around today.
    first_trials_on = [today - dt.timedelta(days=60)] * split + workups_on
    patients = demo.seed_patients(staff=staff, count=count, today=today, first_trial_on=first_trials_on, people=people)
    seed_trials(staff=staff, patients=patients[:split], today=today)
    for index, patient in enumerate(patients[split:]):
        seed_workup(
            patient,
            first_trial_on=workups_on[index],
            implant_on=implants_on[index],
            escalate=needed_escalation(patient, index),
            staff=staff,
            today=today,
        )
    seed_pumps(staff=staff, patients=patients[split:], today=today)
    demo.seed_referral_stages(staff=staff, today=today, people=people)


def needed_escalation(patient: Patient, index: int) -> bool:
    """Whether the work-up went on to a second, higher bolus: always after a spinal cord injury
    (spasticity of spinal origin needs more), and for one other patient in four."""
    return patient.diagnosis == Diagnosis.SPINAL_CORD_INJURY or index % 4 == 2


def summary_lines(*, today: dt.date) -> list[str]:
    """What was seeded, in a handful of lines: patients by stage, pumps, open alerts by kind, logins."""
    from pumps.models import DoseChange, Pump, Refill
    from tests.factories import DEMO_PASSWORD

    stages = Counter(Patient.objects.values_list("pathway_stage", flat=True))
    by_stage = ", ".join(f"{stages[s]} {PathwayStage(s).label.lower()}" for s in PathwayStage.values if stages[s])
    pumps = Pump.objects.filter(voided_at__isnull=True)
    kinds = Counter(Alert.objects.unresolved().values_list("kind", flat=True))
    by_kind = ", ".join(f"{n} {AlertKind(kind).label.lower()}" for kind, n in sorted(kinds.items())) or "none"
    logins = ", ".join(
        f"{username} ({ROLE_LABELS[role].lower()})" for role, (username, _, _) in demo.DEMO_STAFF.items()
    )

    return [
        f"Seeded {Patient.objects.count()} patients: {by_stage}.",
        f"Pumps: {pumps.filter(explanted_on__isnull=True).count()} implanted, "
        f"{pumps.filter(explanted_on__isnull=False).count()} explanted; "
        f"{Refill.objects.count()} refills, {DoseChange.objects.count()} dose changes.",
        f"Alert scan as of {today:%Y-%m-%d}: {sum(kinds.values())} open alerts: {by_kind}.",
        f"Logins, password {DEMO_PASSWORD}: {logins}, {demo.SECOND_NURSE[0]} (pump nurse).",
    ]
