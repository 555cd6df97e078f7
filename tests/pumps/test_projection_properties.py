"""The stored projection always equals a fresh recomputation (hypothesis), and verify_projections.

Random sequences of refills, dose changes and voidings go through the services and the
generic void path; after every step the pump's stored columns must equal both
``verify_projections``' recomputation and an oracle built here straight from the
records with ``pumps.dosing``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from pumps import dosing, services
from pumps.models import DoseChange, Pump, Refill
from pumps.selectors import projection_drift
from spasticity.audit import void_record
from spasticity.clinic import dosing_settings
from spasticity.roles import Role
from tests.factories import PumpFactory, UserFactory

D = Decimal
IMPLANTED_ON = dt.date(2021, 1, 4)

dose_ops = st.tuples(
    st.just("dose"), st.integers(0, 45), st.sampled_from(["90", "250", "333.33", "500", "800", "1200"])
)
refill_ops = st.tuples(
    st.just("refill"),
    st.integers(0, 120),
    st.sampled_from(["3", "10", "19.5", "40"]),
    st.sampled_from(["0", "2.5", "12", "35"]),
    st.sampled_from(["500", "1000", "2000"]),
)
void_ops = st.tuples(st.just("void"), st.integers(0, 30))
operations = st.lists(st.one_of(dose_ops, refill_ops, void_ops), min_size=1, max_size=9)


def oracle(pump: Pump) -> tuple[dt.date | None, dt.date | None]:
    """Alarm and refill-due dates straight from the records, not through pumps.projection."""
    fills = list(Refill.objects.filter(pump=pump, voided_at__isnull=True).order_by("refilled_on", "pk"))
    doses = [
        dosing.DoseSegment(d.changed_on, d.daily_dose_mcg)
        for d in DoseChange.objects.filter(pump=pump, voided_at__isnull=True).order_by("changed_on", "pk")
    ]
    if not fills:
        return None, None
    last = fills[-1]
    fill = dosing.Fill(
        last.refilled_on, last.volume_added_ml, last.concentration_mcg_per_ml, pump.low_reservoir_alarm_ml
    )
    projection = dosing.project_fill(fill, doses, dosing_settings())
    return projection.alarm_date, projection.refill_due_on


def record_counts(pump: Pump) -> tuple[int, int, int]:
    return (
        Refill.objects.filter(pump=pump).count(),
        DoseChange.objects.filter(pump=pump).count(),
        Refill.objects.filter(pump=pump, voided_at__isnull=False).count()
        + DoseChange.objects.filter(pump=pump, voided_at__isnull=False).count(),
    )


class StoredProjectionTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.surgeon = UserFactory(username="prop_surgeon", role=Role.NEUROSURGEON)
        cls.nurse = UserFactory(username="prop_nurse", role=Role.PUMP_NURSE)

    def apply(self, pump: Pump, on: dt.date, operation: tuple) -> None:
        kind = operation[0]
        if kind == "dose":
            services.dose_change_record(
                pump=pump,
                by=self.nurse,
                changed_on=on,
                daily_dose_mcg=D(operation[2]),
                confirmation_reason="Property test",
            )
        elif kind == "refill":
            _, _, added, aspirated, concentration = operation
            services.refill_record(
                pump=pump,
                by=self.nurse,
                refilled_on=on,
                volume_added_ml=D(added),
                aspirated_volume_ml=D(aspirated),
                drug="lioresal",
                concentration_mcg_per_ml=D(concentration),
                lot_number="P1",
                reservoir_port_access_confirmed=True,
                pump_running_confirmed=True,
                observation_signs=["none_observed"],
            )
        else:
            records = [*Refill.objects.active().filter(pump=pump), *DoseChange.objects.active().filter(pump=pump)]
            if records:
                record = sorted(records, key=lambda r: (type(r).__name__, r.pk))[operation[1] % len(records)]
                void_record(record, by=self.nurse, reason="Property test")

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(operations=operations, alarm_ml=st.sampled_from(["2", "4"]))
    def test_random_refills_dose_changes_and_voidings_keep_the_stored_columns_fresh(self, operations, alarm_ml):
        pump = PumpFactory(by=self.surgeon, implanted_on=IMPLANTED_ON, low_reservoir_alarm_ml=D(alarm_ml))
        on = IMPLANTED_ON
        for operation in operations:
            if operation[0] != "void":
                on = on + dt.timedelta(days=operation[1])
            before = record_counts(pump)
            try:
                self.apply(pump, on, operation)
                event(f"{operation[0]} applied")
            except ValidationError:
                # A refused step (e.g. a fill not above the alarm volume) saves nothing.
                event(f"{operation[0]} refused")
                assert record_counts(pump) == before
            pump.refresh_from_db()
            assert projection_drift() == []
            assert (pump.alarm_date, pump.refill_due_on) == oracle(pump)
            assert pump.battery_end_of_service_on == dt.date(2028, 1, 4)


# --- verify_projections ---------------------------------------------------------------


@pytest.mark.django_db
def test_verify_projections_reports_no_drift_after_normal_work(surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    services.dose_change_record(pump=pump, by=nurse, changed_on=dt.date(2024, 2, 1), daily_dose_mcg=D("550"))
    out = StringIO()
    call_command("verify_projections", stdout=out)
    assert "No drift" in out.getvalue()


@pytest.mark.django_db
def test_verify_projections_exits_1_and_names_each_drifting_column(surgeon):
    pump = PumpFactory(by=surgeon, serial_number="DRIFT1")
    # Simulate a column written behind the services' back (never done in the app).
    Pump.objects.filter(pk=pump.pk).update(alarm_date=dt.date(2024, 7, 1), current_daily_dose_mcg=D("400"))
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("verify_projections", stdout=out)
    assert exited.value.code == 1
    report = out.getvalue()
    assert f"pump {pump.pk} (DRIFT1) alarm_date: stored 2024-07-01, fresh 2024-06-15" in report
    assert "current_daily_dose_mcg: stored 400" in report
    with pytest.raises(SystemExit):
        call_command("verify_projections", "--fix", stdout=StringIO())
    pump.refresh_from_db()
    assert pump.alarm_date == dt.date(2024, 6, 15)
    clean = StringIO()
    call_command("verify_projections", stdout=clean)
    assert "No drift" in clean.getvalue()
