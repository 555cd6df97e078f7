"""The scale benchmark (issue 10): the app against a hand-written SQL floor, side by side.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/spasticity_bench \\
        .venv/bin/python scripts/bench_caseload.py --pumps 20000

The named database is a scratch one: it is created if missing, migrated, then emptied
(``flush``) and loaded with ``--pumps`` patients of one implanted pump each, 10 pump
nurses and an administrator. The name must contain "bench" (``--force`` skips the check).

Every figure is timed on the same PostgreSQL in the same run, the app and its floor in
turns (app, floor, app, floor, …), and the table gives medians. A floor is the least
work PostgreSQL must do for the same answer, written by hand:

* **first alert scan**: ``alert_scan`` on a caseload with no alert (it raises every alert,
  with a history row each, chunk by chunk) against one ``INSERT … SELECT`` of the same
  alerts (``WANTED_SQL``) into ``bench_alert_floor``, a copy of the alert table with its
  indexes and no history. The alert tables are emptied between the app's runs.
* **second scan, nothing changed**: ``alert_scan`` again against one ``SELECT`` of the
  same wanted set joined to the unresolved alerts, which lists what would change (nothing).
* **reports**: the API's JSON, the CSV download (the whole stream read) and the HTML
  first page, through Django's test client as an administrator, against the report's
  SELECT by hand (``alerts.report_floors``) with ``fetchall()``.
* **nurse home, worklist and today list**: ``--requests`` requests as one nurse (p50, p95) and
  the page's size; no floor.
* **one refill**: ``refill_record`` on a pump implanted through the services against the
  same writes by hand (``refill_floor``): lock and read the pump and its records, insert
  the refill, update the pump, resolve its refill alert, each with its history row.

The queries column counts the statements each side sent (``connection.execute_wrapper``;
transaction control is not counted). ``tests/bench/test_bench.py`` runs it at 2,000 pumps.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import os
import random
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The settings the tests run with (PostgreSQL from DATABASE_URL, emails kept in memory,
# no second factor for the test client). Whether DATABASE_URL was given is read before
# they fill in their default: the benchmark never empties a database it was not named.
DATABASE_URL_GIVEN = "DATABASE_URL" in os.environ
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spasticity.settings_test")

import django  # noqa: E402
from django.apps import apps  # noqa: E402

if not apps.ready:
    django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from alerts import rules  # noqa: E402
from alerts.report_floors import battery_floor_sql, overdue_refills_floor_sql  # noqa: E402
from alerts.services import ScanResult, alert_scan, system_user  # noqa: E402
from patients.models import Patient  # noqa: E402
from pumps import dosing  # noqa: E402
from pumps.models import Pump, Refill  # noqa: E402
from pumps.services import refill_record  # noqa: E402
from spasticity.roles import Role  # noqa: E402
from spasticity.timeutil import clinic_today  # noqa: E402
from tests.factories import PatientFactory, PumpFactory, PumpModelFactory, UserFactory  # noqa: E402

NURSE_COUNT = 10
PAGE_BYTES_PER_KB = 1024

# --------------------------------------------------------------------------
# Counting and timing
# --------------------------------------------------------------------------


class StatementCounter:
    """Counts the statements sent on the default connection (a ``connection.execute_wrapper``)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        self.count += 1
        return execute(sql, params, many, context)


@dataclass
class Run:
    ms: float
    statements: int
    result: Any


def timed(work: Callable[[], Any]) -> Run:
    """Run ``work`` once: its wall time in ms, the statements it sent and what it returned."""
    counter = StatementCounter()
    with connection.execute_wrapper(counter):
        started = time.perf_counter()
        result = work()
        elapsed_ms = (time.perf_counter() - started) * 1000
    return Run(elapsed_ms, counter.count, result)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile: the smallest value at least ``fraction`` of the values reach."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


@dataclass
class Figure:
    """One line of the table: the app's runs, the floor's runs and the limits issue 10 sets.

    ``max_ratio`` bounds the median app time over the median floor time; ``max_ms`` the
    median app time (``max_p95_ms`` its 95th percentile); ``max_kb`` a page's size and
    ``max_queries`` the app's statements.
    """

    key: str
    label: str
    app_ms: list[float] = field(default_factory=list)
    floor_ms: list[float] = field(default_factory=list)
    queries: int | None = None
    floor_queries: int | None = None
    note: str = ""
    size_kb: float | None = None
    show_p95: bool = False
    max_ratio: float | None = None
    max_ms: float | None = None
    max_p95_ms: float | None = None
    max_kb: float | None = None
    max_queries: int | None = None
    agrees: bool | None = None  # the app and its floor gave the same answer (rows, alerts)

    @property
    def app(self) -> float:
        return statistics.median(self.app_ms)

    @property
    def p95(self) -> float:
        return percentile(self.app_ms, 0.95)

    @property
    def floor(self) -> float | None:
        return statistics.median(self.floor_ms) if self.floor_ms else None

    @property
    def ratio(self) -> float | None:
        floor = self.floor
        return self.app / floor if floor else None

    def misses(self) -> list[str]:
        """The limits this figure does not meet (empty when it meets them all)."""
        missed = []
        if self.max_ratio is not None and (self.ratio is None or self.ratio > self.max_ratio):
            missed.append(f"ratio > {self.max_ratio:g}×")
        if self.max_ms is not None and self.app > self.max_ms:
            missed.append(f"app > {_ms(self.max_ms)}")
        if self.max_p95_ms is not None and self.p95 > self.max_p95_ms:
            missed.append(f"p95 > {_ms(self.max_p95_ms)}")
        if self.max_kb is not None and (self.size_kb is None or self.size_kb > self.max_kb):
            missed.append(f"> {self.max_kb:g} KB")
        if self.max_queries is not None and (self.queries is None or self.queries > self.max_queries):
            missed.append(f"> {self.max_queries} queries")
        return missed

    def target(self) -> str:
        limits = []
        if self.max_ratio is not None:
            limits.append(f"≤ {self.max_ratio:g}×")
        if self.max_ms is not None:
            limits.append(f"< {_ms(self.max_ms)}")
        if self.max_p95_ms is not None:
            limits.append(f"p95 < {_ms(self.max_p95_ms)}")
        if self.max_kb is not None:
            limits.append(f"< {self.max_kb:g} KB")
        if self.max_queries is not None:
            limits.append(f"≤ {self.max_queries} queries")
        if not limits:
            return ""
        missed = self.misses()
        return f"{', '.join(limits)}: {'MISSED (' + '; '.join(missed) + ')' if missed else 'met'}"


def _ms(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    if value >= 100:
        return f"{value:.0f} ms"
    return f"{value:.1f} ms"


# --------------------------------------------------------------------------
# The caseload
# --------------------------------------------------------------------------


@dataclass
class Caseload:
    today: dt.date
    pumps: int
    nurses: list[User]
    administrator: User
    refill_pumps: list[Pump]  # implanted through the services, refill overdue: one per refill timed


def _bench_users() -> tuple[list[User], User, User]:
    nurses = [
        UserFactory.create(username=f"bench_nurse{i}", first_name="Bench", last_name=f"Nurse{i}", role=Role.PUMP_NURSE)
        for i in range(NURSE_COUNT)
    ]
    administrator = UserFactory.create(username="bench_admin", role=Role.ADMINISTRATOR)
    surgeon = UserFactory.create(username="bench_surgeon", role=Role.NEUROSURGEON)
    return nurses, administrator, surgeon


def _bench_patient(i: int, nurses: list[User], rng: random.Random) -> Patient:
    # One patient in 50 has no pump nurse (the worklists count them apart).
    nurse = None if rng.random() < 0.02 else nurses[i % len(nurses)]
    return Patient(
        mrn=f"B{i:07d}",
        given_name=f"Given{i}",
        family_name=f"Family{i % 977}",
        birth_date=dt.date(2012, 1, 1) + dt.timedelta(days=i % 3000),
        sex="female" if i % 2 else "male",
        diagnosis="cerebral_palsy",
        assigned_nurse=nurse,
        pathway_stage="maintenance",
    )


def _bench_pump(i: int, patient: Patient, model: Any, today: dt.date, rng: random.Random) -> Pump:
    """Stored dates spread around today: about 13% past the alarm date, 4% overdue, 8% due
    within the fortnight, 7% with the battery ending within 180 days, 1% without a
    projection and 1% explanted (no stored dates, not watched)."""
    due_on: dt.date | None = today + dt.timedelta(days=rng.randint(-30, 150))
    alarm_on = due_on + dt.timedelta(days=7) if due_on else None
    explanted_on = None
    draw = rng.random()
    if draw < 0.01:
        due_on = alarm_on = None  # a program or fill missing
    elif draw < 0.02:
        explanted_on, due_on, alarm_on = today - dt.timedelta(days=rng.randint(1, 400)), None, None
    last_refill_on = (due_on or today) - dt.timedelta(days=120)
    return Pump(
        patient=patient,
        model=model,
        serial_number=f"BENCH{i:07d}",
        reservoir_volume_ml=40,
        implanted_on=today - dt.timedelta(days=rng.randint(200, 2500)),
        explanted_on=explanted_on,
        refill_due_on=due_on,
        alarm_date=alarm_on,
        battery_end_of_service_on=None if explanted_on else today + dt.timedelta(days=rng.randint(-10, 2500)),
        last_refill_on=last_refill_on,
        next_visit_on=today + dt.timedelta(days=rng.randint(0, 60)),
        current_daily_dose_mcg=rng.choice([150, 300, 450, 600]),
        current_drug="lioresal",
        current_concentration_mcg_per_ml=2000,
    )


# The latest refill's delivery check: 2% flagged (a delivery-deviation alert each).
FLAGS = [dosing.DELIVERY_FLAG_OVER, dosing.DELIVERY_FLAG_UNDER, dosing.DELIVERY_FLAG_NOT_ASSESSABLE]


def _latest_refill(i: int, pump: Pump, rng: random.Random) -> Refill:
    flag = rng.choice(FLAGS) if rng.random() < 0.02 else dosing.DELIVERY_FLAG_NONE
    return Refill(
        pump=pump,
        refilled_on=pump.last_refill_on or pump.implanted_on,
        aspirated_volume_ml=Decimal("10.0"),
        volume_added_ml=Decimal("40"),
        drug="lioresal",
        concentration_mcg_per_ml=Decimal("2000"),
        lot_number=f"BLOT{i:07d}",
        reservoir_port_access_confirmed=True,
        delivery_flag=flag,
        alarm_date=pump.alarm_date,
        refill_due_on=pump.refill_due_on,
    )


def load_caseload(pump_count: int, *, today: dt.date, refill_pumps: int = 10) -> Caseload:
    """``pump_count`` patients with one pump each (and its latest refill), written in bulk.

    Benchmark data: the stored columns are set directly, as ``tests/alerts/conftest.py``
    does, since the figures time reads and the scan, which read those columns. The
    ``refill_pumps`` pumps that the refill figure uses are implanted through the
    services instead (the refill reads their records), 150 days ago, so each is a few
    days overdue with its open alert.
    """
    rng = random.Random(7)  # noqa: S311  (benchmark data, not secrets)
    nurses, administrator, surgeon = _bench_users()
    model = PumpModelFactory()
    with transaction.atomic():
        patients = Patient.objects.bulk_create(
            [_bench_patient(i, nurses, rng) for i in range(pump_count)], batch_size=2000
        )
        pumps = Pump.objects.bulk_create(
            [_bench_pump(i, patient, model, today, rng) for i, patient in enumerate(patients)], batch_size=2000
        )
        Refill.objects.bulk_create([_latest_refill(i, pump, rng) for i, pump in enumerate(pumps)], batch_size=2000)
    implanted = [
        cast(
            Pump,
            PumpFactory(
                patient=PatientFactory(assigned_nurse=nurses[1], family_name=f"Refill{n}"),
                model=model,
                by=surgeon,
                implanted_on=today - dt.timedelta(days=150),
                daily_dose_mcg=Decimal("500"),
                today=today,
            ),
        )
        for n in range(refill_pumps)
    ]
    _vacuum_analyze()
    return Caseload(today, pump_count, nurses, administrator, implanted)


def _vacuum_analyze() -> None:
    """Fresh statistics and visibility maps, as autovacuum keeps them on a live database."""
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


# --------------------------------------------------------------------------
# The alert scan and its floors
# --------------------------------------------------------------------------


def _appointment_kinds_scanned() -> bool:
    """Whether the scan decides the appointment kinds (``appointments.alert_source`` is a row source)."""
    from alerts.sources import row_sources

    return any(rules.REFILL_NOT_BOOKED in source.kinds for source in row_sources())


# Each pump's booked refill and its clinic-local day (appointments.selectors.booked_refill_on).
BOOKED_SQL = """
booked AS (
    SELECT DISTINCT ON (booking.pump_id) booking.pump_id,
           (booking.starts_at AT TIME ZONE %(time_zone)s)::date AS booked_on
    FROM appointments_appointment booking
    WHERE booking.kind = 'refill' AND booking.status = 'booked' AND booking.voided_at IS NULL
        AND booking.pump_id IS NOT NULL
    ORDER BY booking.pump_id, booking.starts_at
),"""

# refill_not_booked and booking_after_alarm (appointments.alert_source.appointment_alerts). The
# floor leaves out appointment_missed and the second-check kinds: the benchmark's caseload has
# no appointment and no record awaiting a check, so they add no alert, and leaving their
# lookups out makes the floor faster (the ratio errs against the app, never for it).
APPOINTMENT_WANTED_SQL = """
    UNION ALL
    SELECT watched.pump_id, watched.patient_id, %(refill_not_booked)s, watched.refill_due_on, NULL
    FROM watched LEFT JOIN booked USING (pump_id)
    WHERE watched.refill_due_on <= %(not_booked_until)s
        AND (watched.alarm_date IS NULL OR watched.alarm_date > %(as_of)s)
        AND (booked.booked_on IS NULL OR booked.booked_on < %(as_of)s)
    UNION ALL
    SELECT watched.pump_id, watched.patient_id, %(booking_after_alarm)s, watched.alarm_date, NULL
    FROM watched JOIN booked USING (pump_id)
    WHERE booked.booked_on >= watched.alarm_date"""

APPOINTMENT_KINDS = _appointment_kinds_scanned()

# The alerts every watched pump should have on %(as_of)s (alerts.rules.pump_alert_conditions,
# the latest flagged refill and, when the scan has them, the appointment kinds), by hand: one
# row per (pump, kind) with its date.
WANTED_SQL = """
WITH watched AS (
    SELECT pump.id AS pump_id, pump.patient_id, pump.implanted_on, pump.refill_due_on,
           pump.alarm_date, pump.battery_end_of_service_on
    FROM pumps_pump pump
    JOIN patients_patient patient ON patient.id = pump.patient_id
    WHERE pump.voided_at IS NULL AND pump.explanted_on IS NULL AND patient.voided_at IS NULL
),
latest_refill AS (
    SELECT DISTINCT ON (refill.pump_id) refill.id, refill.pump_id, refill.refilled_on, refill.delivery_flag
    FROM pumps_refill refill
    WHERE refill.voided_at IS NULL
    ORDER BY refill.pump_id, refill.refilled_on DESC, refill.id DESC
),{booked}
wanted AS (
    SELECT * FROM (
        SELECT pump_id, patient_id,
            CASE WHEN alarm_date IS NULL THEN %(projection_missing)s
                 WHEN alarm_date < %(as_of)s THEN %(past_alarm_date)s
                 WHEN refill_due_on < %(as_of)s THEN %(refill_overdue)s
                 WHEN refill_due_on <= %(due_soon_until)s THEN %(refill_due_soon)s
            END AS kind,
            CASE WHEN alarm_date IS NULL THEN implanted_on
                 WHEN alarm_date < %(as_of)s THEN alarm_date
                 ELSE refill_due_on
            END AS due_on,
            NULL::bigint AS refill_id
        FROM watched
    ) refill_status
    WHERE kind IS NOT NULL
    UNION ALL
    SELECT pump_id, patient_id, %(battery_end_of_life)s, battery_end_of_service_on, NULL
    FROM watched
    WHERE battery_end_of_service_on <= %(battery_until)s
    UNION ALL
    SELECT watched.pump_id, watched.patient_id, %(delivery_deviation)s, latest_refill.refilled_on, latest_refill.id
    FROM latest_refill JOIN watched USING (pump_id)
    WHERE latest_refill.delivery_flag <> %(flag_none)s{appointment_kinds}
)
""".format(  # noqa: S608 (constants of this module)
    booked=BOOKED_SQL if APPOINTMENT_KINDS else "",
    appointment_kinds=APPOINTMENT_WANTED_SQL if APPOINTMENT_KINDS else "",
)

FLOOR_TABLE = "bench_alert_floor"

# The first scan's floor: the wanted alerts written in one statement (no history).
# (The f-strings of this module put in constants and the models' column names, never input: S608.)
FIRST_SCAN_FLOOR_SQL = (
    WANTED_SQL
    + f"""
INSERT INTO {FLOOR_TABLE} (created_at, updated_at, version, void_reason, kind, status, urgency, due_on,
                           raised_on, snooze_reason, resolution, patient_id, pump_id, refill_id)
SELECT now(), now(), 1, '', kind, 'open', (%(urgency)s::jsonb ->> kind)::smallint, due_on,
       %(as_of)s, '', '', patient_id, pump_id, refill_id
FROM wanted
"""  # noqa: S608
)

# The second scan's floor: what would change (an alert to raise, resolve or re-date) in one SELECT.
SECOND_SCAN_FLOOR_SQL = (
    WANTED_SQL  # noqa: S608
    + """
SELECT wanted.pump_id, wanted.kind, current.id
FROM wanted
FULL OUTER JOIN (
    SELECT id, pump_id, kind, due_on FROM alerts_alert WHERE status <> 'resolved' AND voided_at IS NULL
) current ON current.pump_id = wanted.pump_id AND current.kind = wanted.kind
WHERE current.id IS NULL OR wanted.pump_id IS NULL OR current.due_on <> wanted.due_on
"""
)

# Emptied before each first scan: the alerts, their history and the emails the scan queued.
# CASCADE: with whatever else refers to an email or an alert (the benchmark's data has none).
ALERT_TABLES = "alerts_notification_alerts, alerts_notification, alerts_historicalalert, alerts_alert CASCADE"


def wanted_params(as_of: dt.date) -> dict[str, Any]:
    clinic = settings.CLINIC
    return {
        "as_of": as_of,
        "due_soon_until": as_of + dt.timedelta(days=int(clinic["REFILL_DUE_SOON_DAYS"])),
        "battery_until": as_of + dt.timedelta(days=int(clinic["BATTERY_WARNING_DAYS"])),
        "projection_missing": rules.PROJECTION_MISSING,
        "past_alarm_date": rules.PAST_ALARM_DATE,
        "refill_overdue": rules.REFILL_OVERDUE,
        "refill_due_soon": rules.REFILL_DUE_SOON,
        "battery_end_of_life": rules.BATTERY_END_OF_LIFE,
        "delivery_deviation": rules.DELIVERY_DEVIATION,
        "flag_none": dosing.DELIVERY_FLAG_NONE,
        "urgency": json.dumps(rules.URGENCY),
        "time_zone": settings.TIME_ZONE,
        "refill_not_booked": rules.REFILL_NOT_BOOKED,
        "booking_after_alarm": rules.BOOKING_AFTER_ALARM,
        "not_booked_until": as_of + dt.timedelta(days=int(clinic.get("REFILL_NOT_BOOKED_DAYS", 30))),
    }


def _execute(sql: str, params: Any = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _fetchall(sql: str, params: Any = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _rowcount(sql: str, params: Any = None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


def bench_scans(caseload: Caseload, *, repeats: int, scan_repeats: int) -> list[Figure]:
    """The first scan (alert tables emptied before each app run) and the second (nothing changed)."""
    robot = system_user()
    params = wanted_params(caseload.today)
    _execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
    _execute(f"CREATE TABLE {FLOOR_TABLE} (LIKE alerts_alert INCLUDING ALL)")
    first = Figure("scan_first", "first alert scan", max_ratio=10, max_ms=5000)
    app_run = floor_run = None
    for _ in range(scan_repeats):
        _execute(f"TRUNCATE {ALERT_TABLES}")
        app_run = timed(lambda: alert_scan(as_of=caseload.today, by=robot))
        first.app_ms.append(app_run.ms)
        _execute(f"TRUNCATE {FLOOR_TABLE}")
        floor_run = timed(lambda: _rowcount(FIRST_SCAN_FLOOR_SQL, params))
        first.floor_ms.append(floor_run.ms)
    assert app_run is not None and floor_run is not None
    scan: ScanResult = app_run.result
    raised = sum(scan.raised.values())
    first.queries, first.floor_queries = app_run.statements, floor_run.statements
    first.agrees = _same_alerts()
    first.note = (
        f"{raised:,} alerts raised ({_by_kind(scan)}), {scan.chunks} chunks; "
        f"floor wrote {floor_run.result:,}{'' if first.agrees else ', NOT THE SAME ALERTS'}"
    )
    _execute(f"DROP TABLE {FLOOR_TABLE}")
    _vacuum_analyze()

    second = Figure("scan_second", "second alert scan, nothing changed")
    for _ in range(repeats):
        app_run = timed(lambda: alert_scan(as_of=caseload.today, by=robot))
        second.app_ms.append(app_run.ms)
        floor_run = timed(lambda: _fetchall(SECOND_SCAN_FLOOR_SQL, params))
        second.floor_ms.append(floor_run.ms)
    second.queries, second.floor_queries = app_run.statements, floor_run.statements
    second.agrees = app_run.result.changes == len(floor_run.result) == 0
    second.note = f"app changed {app_run.result.changes}, floor found {len(floor_run.result)} to change"
    return [first, second]


def _by_kind(scan: ScanResult) -> str:
    return ", ".join(f"{kind} {scan.raised[kind]:,}" for kind in rules.KINDS_BY_URGENCY if scan.raised[kind])


def _same_alerts() -> bool:
    """Whether the floor wrote exactly the app's alerts: pump, kind, date and refill."""
    differences = _fetchall(
        f"""
        SELECT count(*) FROM (
            (SELECT pump_id, kind, due_on, refill_id FROM alerts_alert
             EXCEPT SELECT pump_id, kind, due_on, refill_id FROM {FLOOR_TABLE})
            UNION ALL
            (SELECT pump_id, kind, due_on, refill_id FROM {FLOOR_TABLE}
             EXCEPT SELECT pump_id, kind, due_on, refill_id FROM alerts_alert)
        ) difference
        """  # noqa: S608
    )[0][0]
    return bool(differences == 0)


# --------------------------------------------------------------------------
# Pages and endpoints through the test client
# --------------------------------------------------------------------------


def client_for(user: User) -> Client:
    # The test client's "testserver" is allowed only under the test environment (pytest).
    hosts = [host for host in settings.ALLOWED_HOSTS if host not in ("*", "") and not host.startswith(".")]
    host = "testserver" if "testserver" in settings.ALLOWED_HOSTS or not hosts else hosts[0]
    client = Client(SERVER_NAME=host)
    client.force_login(user)
    return client


def fetch(client: Client, url: str) -> bytes:
    """The whole body of a GET (a streamed one read to the end); anything but a 200 stops the benchmark."""
    response = client.get(url)
    if response.status_code != 200:
        raise RuntimeError(f"GET {url} answered {response.status_code}")
    if response.streaming:
        return b"".join(response.streaming_content)  # type: ignore[attr-defined]
    return bytes(response.content)


@dataclass(frozen=True)
class Report:
    key: str
    label: str
    api_url: str
    csv_url: str
    page_url: str
    floor: Callable[[dt.date], tuple[str, dict[str, object]]]


REPORTS = (
    Report(
        "overdue",
        "overdue report",
        "/api/v1/reports/overdue-refills/",
        "/reports/overdue-refills/csv/",
        "/reports/overdue-refills/",
        overdue_refills_floor_sql,
    ),
    Report(
        "battery",
        "battery report",
        "/api/v1/reports/battery-end-of-life/",
        "/reports/battery-end-of-life/csv/",
        "/reports/battery-end-of-life/",
        lambda as_of: battery_floor_sql(as_of, int(settings.CLINIC["BATTERY_WARNING_DAYS"])),
    ),
)


def bench_report(report: Report, caseload: Caseload, *, repeats: int) -> list[Figure]:
    """The API's JSON, the CSV download and the HTML first page, each in turn with the floor."""
    client = client_for(caseload.administrator)
    sql, params = report.floor(caseload.today)
    variants = (
        (Figure(f"{report.key}_json", f"{report.label}, API JSON", max_ratio=3), report.api_url),
        (Figure(f"{report.key}_csv", f"{report.label}, CSV", max_ratio=3), report.csv_url),
        (Figure(f"{report.key}_html", f"{report.label}, HTML first page", max_ms=100), report.page_url),
    )
    for _figure, url in variants:
        fetch(client, url)  # warm-up: templates compiled, connection and session read once
    floor_rows: list[tuple[Any, ...]] = []
    for _ in range(repeats):
        for figure, url in variants:
            floor_run = timed(lambda: _fetchall(sql, params))
            floor_rows = floor_run.result
            figure.floor_ms.append(floor_run.ms)
            figure.floor_queries = floor_run.statements
            app_run = timed(partial(fetch, client, url))
            figure.app_ms.append(app_run.ms)
            figure.queries = app_run.statements
            figure.size_kb = len(app_run.result) / PAGE_BYTES_PER_KB
    json_rows = len(json.loads(fetch(client, report.api_url))["results"])
    csv_rows = fetch(client, report.csv_url).decode().count("\n") - 1
    agrees = json_rows == csv_rows == len(floor_rows)
    for figure, _url in variants:
        figure.agrees = agrees
        figure.note = f"{len(floor_rows):,} rows{'' if agrees else ' (NOT THE FLOOR ROWS)'}, {_kb(figure.size_kb)}"
    return [figure for figure, _url in variants]


def _kb(size_kb: float | None) -> str:
    if size_kb is None:
        return ""
    return f"{size_kb / 1024:.2f} MB" if size_kb >= 1024 else f"{size_kb:.0f} KB"


def bench_nurse_lists(caseload: Caseload, *, requests: int) -> list[Figure]:
    """The nurse's home (the worklist and today's and this week's visits on one page, issue 14),
    the worklist and today's list, in turns, as the first nurse (her own patients)."""
    nurse = caseload.nurses[0]
    client = client_for(nurse)
    mine = Patient.objects.filter(assigned_nurse=nurse).count()
    pages = (
        (Figure("nurse_home", "nurse home", show_p95=True, max_kb=150, max_p95_ms=150), "/"),
        (Figure("worklist", "nurse worklist", show_p95=True, max_kb=150, max_p95_ms=150), "/alerts/worklist/"),
        (Figure("today", 'nurse "today" list', show_p95=True, max_kb=150, max_p95_ms=150), "/pumps/today/"),
    )
    for _figure, url in pages:
        fetch(client, url)  # warm-up
    for _ in range(requests):
        for figure, url in pages:
            run = timed(partial(fetch, client, url))
            figure.app_ms.append(run.ms)
            figure.queries = run.statements
            figure.size_kb = len(run.result) / PAGE_BYTES_PER_KB
    for figure, _url in pages:
        figure.note = f"{_kb(figure.size_kb)} of HTML, {mine:,} pumps for this nurse, {requests} requests"
    return [figure for figure, _url in pages]


# --------------------------------------------------------------------------
# One refill
# --------------------------------------------------------------------------

ASPIRATED_ML = Decimal("2.5")  # 40 mL less 150 days at 0.25 mL a day: what the projection expects


def _app_refill(pump: Pump, nurse: User, today: dt.date) -> Refill:
    return refill_record(
        pump=pump,
        by=nurse,
        refilled_on=today,
        aspirated_volume_ml=ASPIRATED_ML,
        volume_added_ml=Decimal("40"),
        drug="lioresal",
        concentration_mcg_per_ml=Decimal("2000"),
        lot_number="BENCH-REFILL",
        reservoir_port_access_confirmed=True,
        pump_running_confirmed=True,
        observation_signs=["none_observed"],
        today=today,
    )


def _history_copy_sql(model: Any, where: str) -> str:
    """One INSERT … SELECT of rows as they now stand into the model's history table, with why,
    how (+ created, ~ changed) and who: the parameters are the reason, type, user, then ``where``'s."""
    table, history = model._meta.db_table, model.history.model._meta.db_table
    columns = ", ".join(field.column for field in model._meta.concrete_fields)
    history_columns = "history_change_reason, history_type, history_user_id, history_date"
    return (
        f"INSERT INTO {history} ({columns}, {history_columns}) "  # noqa: S608 (names from the models)
        f"SELECT {columns}, %s, %s, %s, now() FROM {table} WHERE {where}"
    )


def _refill_copy_sql() -> str:
    """The app's refill row (the computed values: delivery check, new dates) inserted again for
    another pump, by hand: every column of ``pumps_refill`` as the model has it, so that a new
    column never leaves the floor writing less than the app. Parameters: the pump id, the app's refill id."""
    fresh = {"pump_id": "%s", "lot_number": "'BENCH-FLOOR'", "created_at": "now()", "updated_at": "now()"}
    columns = [str(field.column) for field in Refill._meta.concrete_fields if not field.primary_key]
    values = ", ".join(fresh.get(column, column) for column in columns)
    return (
        f"INSERT INTO pumps_refill ({', '.join(columns)}) "  # noqa: S608 (names from the model)
        f"SELECT {values} FROM pumps_refill WHERE id = %s RETURNING id"
    )


def refill_floor(pump_id: int, nurse_id: int, today: dt.date, like: Refill) -> None:
    """A refill's writes by hand, in one transaction: the reads the projection needs, the
    refill, the pump's new dates and its refill alert resolved, each with its history row.
    The computed values (delivery check, new dates) are the app's, from ``like``."""
    from alerts.models import Alert

    refill_kinds = [rules.PAST_ALARM_DATE, rules.REFILL_OVERDUE, rules.REFILL_DUE_SOON, rules.PROJECTION_MISSING]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT * FROM pumps_pump WHERE id = %s FOR UPDATE", [pump_id])
        cursor.execute("SELECT * FROM pumps_refill WHERE pump_id = %s", [pump_id])
        cursor.execute("SELECT * FROM pumps_dosechange WHERE pump_id = %s", [pump_id])
        cursor.execute(_refill_copy_sql(), [pump_id, like.pk])
        refill_id = cursor.fetchone()[0]  # type: ignore[index]
        cursor.execute(_history_copy_sql(Refill, "id = %s"), ["Refill recorded", "+", nurse_id, refill_id])
        cursor.execute(
            """UPDATE pumps_pump SET alarm_date = %s, refill_due_on = %s, last_refill_on = %s,
                   current_concentration_mcg_per_ml = 2000, current_drug = 'lioresal', updated_at = now()
               WHERE id = %s""",
            [like.alarm_date, like.refill_due_on, today, pump_id],
        )
        cursor.execute(_history_copy_sql(Pump, "id = %s"), ["Refilled", "~", nurse_id, pump_id])
        cursor.execute(
            """UPDATE alerts_alert SET status = 'resolved', resolved_on = %s, resolved_at = now(),
                   resolution = 'Refilled', version = version + 1, updated_at = now()
               WHERE pump_id = %s AND status <> 'resolved' AND voided_at IS NULL AND kind = ANY(%s)
               RETURNING id""",
            [today, pump_id, refill_kinds],
        )
        resolved = [row[0] for row in cursor.fetchall()]
        cursor.execute(_history_copy_sql(Alert, "id = ANY(%s)"), ["Resolved: refilled", "~", nurse_id, resolved])


def bench_refill(caseload: Caseload, *, repeats: int) -> Figure:
    """Refills in turns: the app on one prepared pump, then the floor on the next."""
    from alerts.models import Alert

    nurse = caseload.nurses[1]
    pumps = iter(caseload.refill_pumps)
    figure = Figure("refill", "one refill through the service", max_queries=16)
    open_before = resolved = 0
    for _ in range(repeats):
        pump = next(pumps)
        open_before += Alert.objects.unresolved().filter(pump=pump).count()
        app_run = timed(partial(_app_refill, pump, nurse, caseload.today))
        resolved += Alert.objects.filter(pump=pump, status="resolved").count()
        figure.app_ms.append(app_run.ms)
        figure.queries = app_run.statements
        other = next(pumps)
        floor_run = timed(partial(refill_floor, other.pk, nurse.pk, caseload.today, app_run.result))
        figure.floor_ms.append(floor_run.ms)
        figure.floor_queries = floor_run.statements
    figure.agrees = resolved == open_before > 0
    figure.note = f"{resolved} of {open_before} open alerts resolved by the app's refills"
    return figure


# --------------------------------------------------------------------------
# The whole run
# --------------------------------------------------------------------------


def run_bench(
    pump_count: int,
    *,
    repeats: int = 5,
    scan_repeats: int = 3,
    requests: int = 20,
    say: Callable[[str], None] = print,
) -> list[Figure]:
    """Load the caseload into the current (empty) database, then time every figure."""
    today = clinic_today()
    started = time.perf_counter()
    caseload = load_caseload(pump_count, today=today, refill_pumps=2 * repeats)
    say(f"loaded {pump_count:,} patients and pumps as of {today:%Y-%m-%d} in {time.perf_counter() - started:.1f} s")
    figures = bench_scans(caseload, repeats=repeats, scan_repeats=scan_repeats)
    say(f"scans done at {time.perf_counter() - started:.1f} s")
    for report in REPORTS:
        figures += bench_report(report, caseload, repeats=repeats)
    say(f"reports done at {time.perf_counter() - started:.1f} s")
    figures += bench_nurse_lists(caseload, requests=requests)
    figures.append(bench_refill(caseload, repeats=repeats))
    say(f"finished in {time.perf_counter() - started:.1f} s (load average {_load_average()})")
    return figures


def _load_average() -> str:
    """The machine's load over 1, 5 and 15 minutes: other work on it skews the times (not the ratios as much)."""
    return ", ".join(f"{n:.2f}" for n in os.getloadavg())


def _app_cell(figure: Figure) -> str:
    if figure.show_p95:
        return f"{_ms(figure.app)} p50, {_ms(figure.p95)} p95"
    return _ms(figure.app)


def _queries_cell(figure: Figure) -> str:
    if figure.floor_queries is None:
        return f"{figure.queries}"
    return f"{figure.queries} / {figure.floor_queries}"


def table(figures: Sequence[Figure]) -> str:
    """The figures as a Markdown table (the one docs/performance.md records)."""
    header = ("figure", "app", "floor", "ratio", "queries (app / floor)", "notes", "issue 10 target (at 20,000 pumps)")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for figure in figures:
        floor, ratio = figure.floor, figure.ratio
        cells = (
            figure.label,
            _app_cell(figure),
            _ms(floor) if floor is not None else "",
            f"{ratio:.1f}×" if ratio is not None else "",
            _queries_cell(figure),
            figure.note,
            figure.target(),
        )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _database_name() -> str:
    return str(settings.DATABASES["default"]["NAME"])


def _create_database_if_missing(name: str) -> None:
    with connection._nodb_cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        if cursor.fetchone() is None:
            cursor.execute(f'CREATE DATABASE "{name}"')


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pumps", type=int, default=20000, help="patients, one implanted pump each")
    parser.add_argument("--repeats", type=int, default=5, help="runs of each figure (medians)")
    parser.add_argument("--scan-repeats", type=int, default=3, help="runs of the first scan (each from no alert)")
    parser.add_argument("--requests", type=int, default=20, help="requests of each nurse list (p50, p95)")
    parser.add_argument("--force", action="store_true", help="empty the database even if its name lacks 'bench'")
    args = parser.parse_args(argv)
    # Quiet: django-axes logs every sign-in, each scan logs its summary, WhiteNoise warns
    # that collectstatic has not run.
    for logger in ("axes", "alerts"):
        logging.getLogger(logger).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
    name = _database_name()
    if connection.vendor != "postgresql" or not DATABASE_URL_GIVEN:
        parser.error("set DATABASE_URL to a scratch PostgreSQL database, e.g. .../spasticity_bench")
    if "bench" not in name and not args.force:
        parser.error(f"the database {name!r} will be emptied: name a scratch one containing 'bench' (or --force)")
    _create_database_if_missing(name)
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]  # type: ignore[index]
    machine = f"PostgreSQL {version}, {os.cpu_count()} CPUs (load average {_load_average()})"
    print(f"database {name}, {machine}, {dt.datetime.now():%Y-%m-%d %H:%M}")
    figures = run_bench(
        args.pumps, repeats=args.repeats, scan_repeats=args.scan_repeats, requests=args.requests, say=print
    )
    print()
    runs = f"medians of {args.repeats} runs (first scan: {args.scan_repeats})"
    print(f"{args.pumps:,} pumps, {NURSE_COUNT} nurses; {runs}")
    print(table(figures))
    return 1 if any(figure.misses() for figure in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
