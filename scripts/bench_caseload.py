"""Time the lists, reports and the alert scan on a large caseload.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/spasticity_bench \\
        .venv/bin/python scripts/bench_caseload.py --pumps 20000

It migrates the named database (it must be a scratch one: the data is replaced), loads
the caseload, then prints each read's wall time and query count. The caseload is
benchmark data, so it is loaded with ``bulk_create`` and fixed stored columns: the
app itself never writes audited rows in bulk, but timing reads needs rows, not history.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spasticity.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from alerts import reports, selectors  # noqa: E402
from alerts.services import alert_scan, system_user  # noqa: E402
from patients.models import Patient  # noqa: E402
from patients.selectors import patient_list  # noqa: E402
from pumps.models import Pump, PumpModel  # noqa: E402
from spasticity.roles import Role  # noqa: E402
from tests.factories import UserFactory  # noqa: E402

TODAY = dt.date(2026, 11, 21)


def load_caseload(pump_count: int) -> list[Any]:
    """Patients with one implanted pump each, stored dates spread around today."""
    rng = random.Random(7)  # noqa: S311  (benchmark data)
    nurses = [UserFactory.create(username=f"bench_nurse{i}", role=Role.PUMP_NURSE) for i in range(10)]
    Pump.objects.all().delete()
    Patient.objects.all().delete()
    patients = Patient.objects.bulk_create(
        Patient(
            mrn=f"B{i:07d}",
            given_name=f"Given{i}",
            family_name=f"Family{i % 977}",
            birth_date=dt.date(2012, 1, 1) + dt.timedelta(days=i % 3000),
            sex="female" if i % 2 else "male",
            diagnosis="cerebral_palsy",
            assigned_nurse=nurses[i % len(nurses)],
            pathway_stage="maintenance",
        )
        for i in range(pump_count)
    )
    model = PumpModel.objects.get(model="SynchroMed II")
    pumps = []
    for i, patient in enumerate(patients):
        due = TODAY + dt.timedelta(days=rng.randint(-30, 150))
        pumps.append(
            Pump(
                patient=patient,
                model=model,
                serial_number=f"BENCH{i:07d}",
                reservoir_volume_ml=40,
                implanted_on=TODAY - dt.timedelta(days=rng.randint(200, 2500)),
                refill_due_on=due,
                alarm_date=due + dt.timedelta(days=7),
                battery_end_of_service_on=TODAY + dt.timedelta(days=rng.randint(-10, 2500)),
                last_refill_on=due - dt.timedelta(days=120),
                next_visit_on=TODAY + dt.timedelta(days=rng.randint(0, 60)),
                current_daily_dose_mcg=rng.choice([150, 300, 450, 600]),
                current_concentration_mcg_per_ml=2000,
            )
        )
    Pump.objects.bulk_create(pumps, batch_size=2000)
    return nurses


def measure(label: str, run: Callable[[], Any]) -> Any:
    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        result = run()
        elapsed_ms = (time.perf_counter() - started) * 1000
    size = len(result) if hasattr(result, "__len__") else ""
    print(f"{label:<52} {elapsed_ms:9.1f} ms  {len(queries):3d} queries  {size}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pumps", type=int, default=20000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    with transaction.atomic():
        nurses = load_caseload(args.pumps)
    print(f"loaded {args.pumps} patients and pumps in {time.perf_counter() - started:.1f} s")
    robot = system_user()
    measure("overdue refills report (all rows)", lambda: reports.overdue_refills(as_of=TODAY))
    measure("overdue refills report, one nurse", lambda: reports.overdue_refills(as_of=TODAY, nurse_id=nurses[0].pk))
    measure("battery end of life within 180 days", lambda: reports.battery_end_of_life(as_of=TODAY))
    measure("nurse worklist (one nurse)", lambda: selectors.worklist(today=TODAY, nurse_id=nurses[0].pk).alerts)
    measure("patient list, first page of 25", lambda: list(patient_list()[:25]))
    measure("patient list, search by name", lambda: list(patient_list(q="Family12")[:25]))
    first = measure("alert scan, first run (raises every alert)", lambda: alert_scan(as_of=TODAY, by=robot))
    print(f"    {first.summary() if hasattr(first, 'summary') else first}")
    again = measure("alert scan, second run (no change)", lambda: alert_scan(as_of=TODAY, by=robot))
    print(f"    {again.summary() if hasattr(again, 'summary') else again}")
    measure("nurse worklist after the scan", lambda: selectors.worklist(today=TODAY, nurse_id=nurses[0].pk).alerts)


if __name__ == "__main__":
    main()
