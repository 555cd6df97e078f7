"""The reports' SQL floors: the same SELECT as each report's selector, written by hand.

The benchmark (``scripts/bench_caseload.py``) times the app's report against its floor,
run with ``cursor.execute(sql, params)`` and ``fetchall()``, so the ratio says what the
app adds on top of PostgreSQL. Each floor returns the same rows in the same order as the
selector on the stored columns (as of today: no record dated after ``as_of``);
``tests/alerts/test_report_floors.py`` checks it, so the comparison stays honest.
PostgreSQL only (``date - date`` gives the days). The overdue floor's ``booked_on`` is
the clinic-local day of the pump's booked refill appointment, as
``appointments.selectors.booked_refill_on`` reads it. The statuses and their order are written
out as literals on purpose (a floor is hand-written SQL); the test catches any drift from
``alerts.overdue``.
"""

from __future__ import annotations

import datetime

from django.conf import settings

from alerts.reports import BATTERY_KEYS, OVERDUE_ROW_KEYS

_OVERDUE_SQL = """
SELECT * FROM (
    SELECT
        pump.patient_id,
        upper(patient.family_name) || ', ' || patient.given_name AS patient_name,
        patient.mrn,
        pump.id AS pump_id,
        pump.serial_number,
        coalesce(nullif(trim(nurse.first_name || ' ' || nurse.last_name), ''), nurse.username, '') AS pump_nurse,
        pump.last_refill_on,
        pump.refill_due_on,
        pump.alarm_date,
        %(as_of)s::date - pump.refill_due_on AS days_overdue,
        CASE
            WHEN pump.alarm_date IS NULL THEN 'no_projection'
            WHEN pump.alarm_date < %(as_of)s THEN 'past_alarm'
            WHEN pump.refill_due_on < %(as_of)s THEN 'overdue'
        END AS status,
        (
            SELECT (booking.starts_at AT TIME ZONE %(time_zone)s)::date
            FROM appointments_appointment booking
            WHERE booking.pump_id = pump.id AND booking.kind = 'refill' AND booking.status = 'booked'
                AND booking.voided_at IS NULL
            ORDER BY booking.starts_at
            LIMIT 1
        ) AS booked_on,
        CASE
            WHEN pump.alarm_date IS NULL THEN 'No projection'
            WHEN pump.alarm_date < %(as_of)s THEN 'Past alarm date'
            WHEN pump.refill_due_on < %(as_of)s THEN 'Overdue'
        END AS status_label,
        coalesce((
            SELECT string_agg(
                carer.name || ' (' || carer.relationship || '): ' || carer.phone, '; '
                ORDER BY carer.is_legal_guardian DESC, carer.name, carer.id
            )
            FROM patients_caregiver carer
            WHERE carer.patient_id = pump.patient_id AND carer.voided_at IS NULL
        ), '') AS caregiver_phones,
        patient.family_name,
        patient.given_name
    FROM pumps_pump pump
    JOIN patients_patient patient ON patient.id = pump.patient_id
    LEFT JOIN auth_user nurse ON nurse.id = patient.assigned_nurse_id
    WHERE pump.voided_at IS NULL AND pump.explanted_on IS NULL AND patient.voided_at IS NULL
        AND pump.implanted_on <= %(as_of)s
) report
WHERE status IS NOT NULL
ORDER BY
    CASE status WHEN 'no_projection' THEN 0
                WHEN 'past_alarm' THEN 1 ELSE 2 END,
    refill_due_on ASC NULLS FIRST, family_name, given_name, serial_number
"""

_BATTERY_SQL = """
SELECT
    pump.patient_id,
    upper(patient.family_name) || ', ' || patient.given_name AS patient_name,
    patient.mrn,
    pump.id AS pump_id,
    pump.serial_number,
    model.manufacturer || ' ' || model.model AS pump_model,
    coalesce(nullif(trim(nurse.first_name || ' ' || nurse.last_name), ''), nurse.username, '') AS pump_nurse,
    pump.implanted_on,
    pump.eri_on,
    pump.battery_end_of_service_on,
    pump.battery_end_of_service_on - %(as_of)s::date AS days_left
FROM pumps_pump pump
JOIN patients_patient patient ON patient.id = pump.patient_id
JOIN pumps_pumpmodel model ON model.id = pump.model_id
LEFT JOIN auth_user nurse ON nurse.id = patient.assigned_nurse_id
WHERE pump.voided_at IS NULL AND pump.explanted_on IS NULL AND patient.voided_at IS NULL
    AND pump.implanted_on <= %(as_of)s AND pump.battery_end_of_service_on <= %(until)s
ORDER BY pump.battery_end_of_service_on, patient.family_name, pump.serial_number
"""

# Columns of each floor row, in order: the same as the app's report rows (the tests compare them).
OVERDUE_FLOOR_COLUMNS = OVERDUE_ROW_KEYS
BATTERY_FLOOR_COLUMNS = BATTERY_KEYS


def overdue_refills_floor_sql(as_of: datetime.date) -> tuple[str, dict[str, object]]:
    """The overdue-refill report's SELECT by hand: ``cursor.execute(sql, params)``.

    Rows start with ``OVERDUE_FLOOR_COLUMNS``; the two trailing columns (family and
    given name) are there for the ORDER BY only.
    """
    return _OVERDUE_SQL, {"as_of": as_of, "time_zone": settings.TIME_ZONE}


def battery_floor_sql(as_of: datetime.date, within_days: int) -> tuple[str, dict[str, object]]:
    """The battery report's SELECT by hand; rows are ``BATTERY_FLOOR_COLUMNS``."""
    return _BATTERY_SQL, {"as_of": as_of, "until": as_of + datetime.timedelta(days=within_days)}
