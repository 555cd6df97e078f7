"""Random clinic days played through the services never tear the safety net (hypothesis stateful).

A ``RuleBasedStateMachine`` walks a simulated clinic calendar from 2024-01-01 and, at
each step, does one clinical action through the guarded services (the one write
path): refer a patient; implant a pump (with or without a first program and fill);
change a dose (small and large changes, with and without a confirmation reason);
refill (late, back-dated, twice on one day); record an ERI date; replace, explant or
revise the catheter; void a refill, a dose change, a surgery, a pump or a patient;
edit a catalogue battery life and run the refresh job; run the alert scan;
acknowledge or snooze an alert; move the calendar on by 1-60 days.

A refusal (``ValidationError`` or ``PermissionDenied``) is a normal outcome and must
write nothing; some actions must be refused (a second refill on one day, snoozing a
withdrawal risk, voiding a patient with a pump in…) and a clean action must go
through. Anything else raised fails the test.

After every step:

1. every pump's stored projection equals a fresh recomputation (no drift);
2. one implanted pump per patient, and no voided patient keeps an implanted pump;
3. the watched pumps are exactly the implanted pumps of live patients, and the
   overdue report lists each of them that needs a refill (or has no projection) as
   of the simulated day, with the right status;
4. an unresolved alert is always on a watched pump; after each write (as of the
   write's day) its pumps' alerts, and after a scan all alerts, are exactly the ones
   the rules want (an oracle written here from the stored dates, not ``alerts_wanted``),
   and after a scan no withdrawal-risk alert can be snoozed;
5. every history row written has an acting user.

Budget: 15 examples of 30 steps by default, deterministic (``derandomize``): about 20 s
on a quiet machine. For a deeper run set ``ITB_STATE_MACHINE_EXAMPLES`` to the number of
examples (each then runs 50 steps), e.g.::

    ITB_STATE_MACHINE_EXAMPLES=200 pytest tests/test_safety_net_state_machine.py

``derandomize`` seeds from the test's code, so an edit to the machine changes which
programs the default budget plays. A failure is shrunk to a short program of steps
(hypothesis may spend a few minutes on it). Holes found so far are also pinned by plain
tests at the end of this module.

Voids re-derive as of the real clock (the void hooks take no date, like the API), so
their checks use ``clinic_today()``; everything else runs on the simulated day.

Each example runs in a savepoint of the test's transaction, rolled back in
``teardown``. ``on_commit`` callbacks (the catalogue refresh task, sending emails)
never fire inside the test transaction, so the refresh job is called here as the
worker would.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import os
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps
from django.conf import settings as django_settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.test import override_settings
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from alerts import rules as alert_rules
from alerts.models import Alert, AlertStatus
from alerts.reports import overdue_refills
from alerts.services import alert_acknowledge, alert_scan, alert_snooze, system_user
from appointments.models import Appointment
from appointments.services import (
    appointment_book,
    appointment_cancel,
    appointment_mark_attended,
    appointment_mark_no_show,
    appointment_update,
)
from devices.models import MriScan
from devices.services import MriChecklist, mri_record, mri_record_follow_up
from patients.models import Patient
from patients.services import patient_save
from pumps.models import DoseChange, Pump, PumpModel, Refill, Surgery
from pumps.projection import active_dose_changes, active_refills, current_projection
from pumps.selectors import projection_drift
from pumps.services import (
    FillDetails,
    ProgramDetails,
    SurgeryDetails,
    catheter_revision,
    dose_change_record,
    pump_explant,
    pump_implant,
    pump_model_save,
    pump_replace,
    pump_update,
    pumps_refresh_projections,
    refill_record,
    second_check_record,
)
from spasticity.audit import void_record
from spasticity.clinic import dosing_settings
from spasticity.models import ClinicalRecord
from spasticity.roles import Role
from spasticity.timeutil import clinic_today
from tests.factories import PatientFactory, PumpFactory, UserFactory

D = Decimal
T = TypeVar("T")
START = dt.date(2024, 1, 1)
EXAMPLES = int(os.environ.get("ITB_STATE_MACHINE_EXAMPLES") or 0)
DEFAULT_EXAMPLES, DEFAULT_STEPS, DEEP_STEPS = 15, 30, 50

MODEL_NAMES = ("SynchroMed II", "Prometra II")
STANDARD_CONCENTRATIONS = {D(50), D(500), D(1000), D(2000)}
CATALOGUE_SIZES = {D(20), D(40)}
REPORT_ORDER = ["no_projection", "past_alarm", "overdue"]

# Who may do what (spasticity.roles): the machine also acts as people who may not.
SURGICAL = frozenset({"doctor", "surgeon"})
DOSING = frozenset({"doctor", "nurse"})
ALERT_HANDLERS = frozenset({"doctor", "nurse", "administrator"})
ROLES = {
    "doctor": Role.REHAB_DOCTOR,
    "nurse": Role.PUMP_NURSE,
    "surgeon": Role.NEUROSURGEON,
    "therapist": Role.PHYSICAL_THERAPIST,
    "administrator": Role.ADMINISTRATOR,
}
surgical_actors = st.sampled_from(["surgeon", "doctor", "surgeon", "doctor", "nurse"])
dosing_actors = st.sampled_from(["nurse", "doctor", "nurse", "doctor", "therapist"])
alert_actors = st.sampled_from(["nurse", "nurse", "doctor", "administrator", "therapist"])
# Refill bookings are tried on each of these days from the pump's alarm date (due a week before).
DAYS_FROM_ALARM = [-21, -14, -8, -7, -6, -1, 0, 1, 10]
BOOKERS = frozenset({"nurse", "doctor", "administrator"})
CLINIC_ZONE = ZoneInfo(django_settings.TIME_ZONE)


def clinic_time(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, 0), tzinfo=CLINIC_ZONE)


@functools.cache
def clinical_models() -> list[type[ClinicalRecord]]:
    """Every concrete clinical model (each keeps history)."""
    return [model for model in apps.get_models() if issubclass(model, ClinicalRecord)]


def history_marks() -> tuple[int, ...]:
    """The newest history row id of every clinical model, in one query."""
    tables = [model.history.model._meta.db_table for model in clinical_models()]
    sql = "SELECT " + ", ".join(f"(SELECT COALESCE(MAX(history_id), 0) FROM {table})" for table in tables)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return tuple(cursor.fetchone())


def history_rows_without_user(since: tuple[int, ...]) -> list[str]:
    """Clinical models with a history row newer than ``since`` that names no user."""
    models = clinical_models()
    tables = [model.history.model._meta.db_table for model in models]
    sql = "SELECT " + ", ".join(
        f"EXISTS (SELECT 1 FROM {table} WHERE history_id > %s AND history_user_id IS NULL)" for table in tables
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, list(since))
        flags = cursor.fetchone()
    return [model.__name__ for model, flag in zip(models, flags, strict=True) if flag]


# --------------------------------------------------------------------------
# Oracles: what must hold, written from the rules in the spec, not from the code
# --------------------------------------------------------------------------


def is_implanted(pump: Pump) -> bool:
    return pump.voided_at is None and pump.explanted_on is None


def latest_record_on(pump: Pump) -> dt.date | None:
    dates = [r.refilled_on for r in active_refills(pump.refills.all())]
    dates += [d.changed_on for d in active_dose_changes(pump.dose_changes.all())]
    return max(dates, default=None)


def report_status(pump: Pump, as_of: dt.date) -> str | None:
    """Spec "Reports": no projection, past the alarm date, past the refill-due date, or fine."""
    if pump.alarm_date is None:
        return "no_projection"
    if as_of > pump.alarm_date:
        return "past_alarm"
    if pump.refill_due_on is not None and as_of > pump.refill_due_on:
        return "overdue"
    return None


AlertKey = tuple[int, str]
AlertFacts = tuple[dt.date, int | None]


def wanted_alerts(as_of: dt.date, pump_ids: list[int] | None = None) -> dict[AlertKey, AlertFacts]:
    """Spec "Alerts and jobs", pump by pump: (pump, kind) -> (date it is about, flagged refill)."""
    due_soon = dt.timedelta(days=int(django_settings.CLINIC["REFILL_DUE_SOON_DAYS"]))
    battery = dt.timedelta(days=int(django_settings.CLINIC["BATTERY_WARNING_DAYS"]))
    pumps = Pump.objects.watched().prefetch_related("refills")
    if pump_ids is not None:
        pumps = pumps.filter(pk__in=pump_ids)
    wanted: dict[AlertKey, AlertFacts] = {}
    for pump in pumps:
        alarm, due, end = pump.alarm_date, pump.refill_due_on, pump.battery_end_of_service_on
        if alarm is None:
            wanted[(pump.pk, alert_rules.PROJECTION_MISSING)] = (pump.implanted_on, None)
        elif as_of > alarm:
            wanted[(pump.pk, alert_rules.PAST_ALARM_DATE)] = (alarm, None)
        elif due is not None and as_of > due:
            wanted[(pump.pk, alert_rules.REFILL_OVERDUE)] = (due, None)
        elif due is not None and due <= as_of + due_soon:
            wanted[(pump.pk, alert_rules.REFILL_DUE_SOON)] = (due, None)
        if end is not None and end <= as_of + battery:
            wanted[(pump.pk, alert_rules.BATTERY_END_OF_LIFE)] = (end, None)
        fills = active_refills(pump.refills.all())
        if fills and fills[-1].delivery_flag != Refill.DeliveryFlag.NONE:
            wanted[(pump.pk, alert_rules.DELIVERY_DEVIATION)] = (fills[-1].refilled_on, fills[-1].pk)
        wanted |= {(pump.pk, kind): (on, None) for kind, on in appointment_alerts_wanted(pump, as_of).items()}
        if (mri_due_on := mri_follow_up_missing_since(pump, as_of)) is not None:
            wanted[(pump.pk, alert_rules.MRI_FOLLOW_UP_MISSING)] = (mri_due_on, None)
        wanted |= second_check_alerts_wanted(pump, as_of)
    return wanted


def second_check_alerts_wanted(pump: Pump, as_of: dt.date) -> dict[AlertKey, AlertFacts]:
    """Spec "Programming safety": a disagreed record not voided and not followed by a record a colleague
    checked; a record still awaiting its check a whole day after the day it started waiting
    (its date, or the local day it was entered when later)."""
    records = [*pump.refills.filter(voided_at__isnull=True), *pump.dose_changes.filter(voided_at__isnull=True)]
    checked_at = [r.created_at for r in records if r.check_status == "checked"]
    disputed = [r for r in records if r.check_status == "disagreed" and not any(t > r.created_at for t in checked_at)]
    wanted: dict[AlertKey, AlertFacts] = {}
    if disputed:
        wanted[(pump.pk, alert_rules.SECOND_CHECK_DISAGREED)] = (min(record_day(r) for r in disputed), None)
    zone = ZoneInfo(django_settings.TIME_ZONE)
    window = dt.timedelta(days=-(-int(django_settings.CLINIC["SECOND_CHECK_HOURS"]) // 24))
    waiting = [
        max(record_day(r), r.created_at.astimezone(zone).date())
        for r in records
        if r.check_status == "awaiting_second_check"
    ]
    if waiting and as_of > min(waiting) + window:
        wanted[(pump.pk, alert_rules.SECOND_CHECK_MISSING)] = (min(waiting), None)
    return wanted


def record_day(record: Refill | DoseChange) -> dt.date:
    return record.refilled_on if isinstance(record, Refill) else record.changed_on


def emptied_for_mri_after(pump: Pump, fill: Refill) -> bool:
    """A Prometra emptied for an MRI after this fill: a later day, or the same day recorded later."""
    emptyings = MriScan.objects.filter(pump=pump, voided_at__isnull=True, emptied_before_scan=True)
    return any(
        scan.scanned_on > fill.refilled_on
        or (scan.scanned_on == fill.refilled_on and scan.created_at > fill.created_at)
        for scan in emptyings
    )


def mri_follow_up_missing_since(pump: Pump, as_of: dt.date) -> dt.date | None:
    """Spec "Pump-model rules": the day after the oldest MRI still without its follow-up (a SynchroMed
    not interrogated with its motor restarted, a Prometra emptied and not refilled since), once it has come."""
    fills = active_refills(pump.refills.all())
    due_dates = []
    for scan in MriScan.objects.filter(pump=pump, voided_at__isnull=True, follow_up_recorded_at__isnull=True):
        refilled = any(
            f.refilled_on > scan.scanned_on or (f.refilled_on == scan.scanned_on and f.created_at > scan.created_at)
            for f in fills
        )
        if scan.procedure == "interrogate_after" or (scan.procedure == "empty_before_refill_after" and not refilled):
            due_dates.append(scan.scanned_on + dt.timedelta(days=1))
    due_on = min(due_dates, default=None)
    return due_on if due_on is not None and as_of >= due_on else None


def appointment_alerts_wanted(pump: Pump, as_of: dt.date) -> dict[str, dt.date]:
    """Spec "Appointments and reminders", from the stored appointments and visits of one watched pump.

    * ``refill_not_booked``: due within ``REFILL_NOT_BOOKED_DAYS`` (or overdue) with no refill booked
      from today on, while a booking is still possible (before the alarm date); the refill-due date.
    * ``booking_after_alarm``: the booked refill's day is on or after the alarm date; the alarm date.
    * ``appointment_missed``: a no-show with no later booked or attended appointment of its kind on
      the pump, nor (a refill, a titration visit) the visit recorded on or after its day; its day.
    """
    wanted: dict[str, dt.date] = {}
    rows = list(Appointment.objects.filter(pump=pump, voided_at__isnull=True))
    booked_refills = [a.starts_on for a in rows if a.kind == "refill" and a.status == "booked"]
    assert len(booked_refills) <= 1, "two refills booked on one pump"
    booked_on = booked_refills[0] if booked_refills else None
    alarm, due = pump.alarm_date, pump.refill_due_on
    within = dt.timedelta(days=int(django_settings.CLINIC["REFILL_NOT_BOOKED_DAYS"]))
    bookable = alarm is None or alarm > as_of
    if due is not None and due <= as_of + within and bookable and not (booked_on and booked_on >= as_of):
        wanted[alert_rules.REFILL_NOT_BOOKED] = due
    if booked_on is not None and alarm is not None and booked_on >= alarm:
        wanted[alert_rules.BOOKING_AFTER_ALARM] = alarm
    visits = {
        "refill": [r.refilled_on for r in active_refills(pump.refills.all())],
        "titration": [d.changed_on for d in active_dose_changes(pump.dose_changes.all())],
    }
    missed = [
        a.starts_on
        for a in rows
        if a.status == "no_show"
        and not any(b.kind == a.kind and b.status in ("booked", "attended") and b.starts_at > a.starts_at for b in rows)
        and not any(on >= a.starts_on for on in visits.get(a.kind, []))
    ]
    if missed:
        wanted[alert_rules.APPOINTMENT_MISSED] = min(missed)
    return wanted


def unresolved_alerts(pump_ids: list[int] | None = None) -> dict[AlertKey, AlertFacts]:
    alerts = Alert.objects.unresolved()
    if pump_ids is not None:
        alerts = alerts.filter(pump_id__in=pump_ids)
    return {(a.pump_id, a.kind): (a.due_on, a.refill_id) for a in alerts}


def needs_dose_confirmation(pump: Pump, changed_on: dt.date, new_mcg: Decimal) -> bool:
    """Spec "Dosing": above 1000 mcg/day, or more than 20% from the current dose or the day's starting dose."""
    programs = active_dose_changes(pump.dose_changes.all())
    references = [programs[-1].daily_dose_mcg] if programs else []
    before = [p for p in programs if p.changed_on < changed_on]
    if programs and before:
        references.append(before[-1].daily_dose_mcg)
    return new_mcg > 1000 or any(abs(new_mcg - ref) * 5 > ref for ref in references)


# --------------------------------------------------------------------------
# The machine
# --------------------------------------------------------------------------


class ClinicDays(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        # A savepoint per example, rolled back in teardown.
        self._savepoint = transaction.atomic()
        self._savepoint.__enter__()
        self.today = START
        self.last_day = clinic_today() - dt.timedelta(days=1)
        self.staff = {name: UserFactory(username=f"sm_{name}", role=role) for name, role in ROLES.items()}
        self.system = system_user()
        self.serials = itertools.count(1)
        self.history_start = history_marks()

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self._savepoint.__exit__(None, None, None)

    # --- helpers -------------------------------------------------------------

    def attempt(self, label: str, action: Callable[[], T]) -> tuple[T | None, Exception | None]:
        """Run a service; a refusal must have written nothing (no history row anywhere)."""
        before = history_marks()
        try:
            done = action()
        except (ValidationError, PermissionDenied) as refusal:
            fields = sorted(refusal.message_dict) if isinstance(refusal, ValidationError) else ["permission"]
            event(f"{label}: refused ({', '.join(fields)})")
            assert history_marks() == before, f"a refused action wrote history: {refusal}"
            return None, refusal
        event(f"{label}: done")
        return done, None

    def pick(self, data: st.DataObject, items: list[T], label: str) -> T:
        return data.draw(st.sampled_from(items), label=label)

    def pick_from(self, data: st.DataObject, label: str, items: list[T], *kinds: Callable[[T], bool]) -> T:
        """One of ``items``, first choosing evenly among the non-empty ``kinds`` of item and "any".

        The kinds name the items whose handling is a rule of its own (a patient with a pump
        in, a patient whose pumps all came out…), so that short runs still reach each rule.
        """
        groups = [group for kind in kinds if (group := [item for item in items if kind(item)])]
        groups.append(items)
        group = data.draw(st.sampled_from(range(len(groups))), label=f"{label} kind")
        return self.pick(data, groups[group], label)

    def pick_alert(self, data: st.DataObject) -> Alert:
        """A withdrawal-risk alert (its own rules), another unresolved one, or any (resolved: refused)."""
        return self.pick_from(
            data,
            "alert",
            list(Alert.objects.order_by("pk")),
            lambda a: a.status != AlertStatus.RESOLVED and a.kind == alert_rules.PAST_ALARM_DATE,
            lambda a: a.status != AlertStatus.RESOLVED,
        )

    def pick_pump(self, data: st.DataObject, label: str = "pump") -> Pump:
        """Three times in four a pump in a patient, else any pump (most writes on the others are refused)."""
        pumps = self.all_pumps()
        implanted = [pump for pump in pumps if is_implanted(pump)]
        if implanted and data.draw(st.sampled_from([True, True, True, False]), label=f"{label} in a patient"):
            pumps = implanted
        return self.pick(data, pumps, label)

    def move_on(self, days: int) -> None:
        self.today = min(self.today + dt.timedelta(days=days), self.last_day)

    def pump(self, pk: int) -> Pump:
        return Pump.objects.select_related("model", "patient").get(pk=pk)

    def all_pumps(self) -> list[Pump]:
        return list(Pump.objects.select_related("model", "patient").order_by("pk"))

    def assert_alerts_follow(self, pump_ids: list[int], as_of: dt.date) -> None:
        """A write that moves a pump's dates brings its alerts in line at once (as of the write's day)."""
        assert unresolved_alerts(pump_ids) == wanted_alerts(as_of, pump_ids)

    def new_patient(self, nurse: Any = None) -> int:
        """A patient referred to the clinic, saved through the patients service."""
        patient = PatientFactory.build(assigned_nurse=nurse)
        return patient_save(patient, by=self.staff["nurse"], reason="Referred to the ITB clinic").pk

    # --- people and the calendar --------------------------------------------------

    @initialize(
        # 20 mL at 1000 mcg/mL and 500 mcg/day first: the alarm is 36 days away, so even
        # short runs reach a pump past its alarm date.
        dose=st.sampled_from(["500", "250", "800"]),
        volume=st.sampled_from(["20", "40", "10"]),
        concentration=st.sampled_from(["1000", "2000", "500"]),
    )
    def first_patients(self, dose: str, volume: str, concentration: str) -> None:
        """Two patients, the first with a pump in, filled and programmed on day one."""
        first, _second = self.new_patient(self.staff["nurse"]), self.new_patient(self.staff["nurse"])
        pump = Pump(
            patient_id=first,
            model=PumpModel.objects.get(model=MODEL_NAMES[0]),
            serial_number=f"SM{next(self.serials):05d}",
            reservoir_volume_ml=D(40),
            implanted_on=self.today,
            catheter_model="8781 Ascenda",
            catheter_tip_level="T10",
        )
        pump_implant(
            pump,
            by=self.staff["surgeon"],
            first_program=ProgramDetails(daily_dose_mcg=D(dose), reason="Starting dose"),
            first_fill=FillDetails(
                volume_added_ml=D(volume), drug="lioresal", concentration_mcg_per_ml=D(concentration), lot_number="L1"
            ),
            today=self.today,
        )

    @rule(with_nurse=st.booleans())
    def refer_patient(self, with_nurse: bool) -> None:
        """A new patient, with or without a pump nurse (without one, urgent emails go to every nurse)."""
        self.new_patient(nurse=self.staff["nurse"] if with_nurse else None)

    @rule(days=st.sampled_from([1, 7, 30, 60, 14, 45]) | st.integers(1, 60))
    def next_clinic_day(self, days: int) -> None:
        self.move_on(days)
        event("next clinic day")

    # --- surgery --------------------------------------------------------------------

    @rule(
        data=st.data(),
        model_name=st.sampled_from(MODEL_NAMES),
        reservoir=st.sampled_from(["40", "40", "20", "30"]),
        alarm=st.sampled_from(["2", "2", "4"]),
        dose=st.sampled_from(["500", "90", "500", None, "1200"]),
        volume=st.sampled_from(["40", "20", "40", None, "3"]),
        confirmed=st.booleans(),
        serial_taken=st.sampled_from([False, False, False, False, True]),
        actor=surgical_actors,
        off_label=st.sampled_from([True, True, False]),
    )
    def implant(
        self,
        data: st.DataObject,
        model_name: str,
        reservoir: str,
        alarm: str,
        dose: str | None,
        volume: str | None,
        confirmed: bool,
        serial_taken: bool,
        actor: str,
        off_label: bool,
    ) -> None:
        patient = self.pick_from(
            data,
            "patient",
            list(Patient.objects.order_by("pk")),
            lambda p: not p.is_voided and not Pump.objects.implanted().filter(patient=p).exists(),
        )
        taken = Pump.objects.active().order_by("pk").values_list("serial_number", flat=True).first()
        serial = taken if (serial_taken and taken) else f"SM{next(self.serials):05d}"
        pump = Pump(
            patient=patient,
            model=PumpModel.objects.get(model=model_name),
            serial_number=serial,
            reservoir_volume_ml=D(reservoir),
            low_reservoir_alarm_ml=D(alarm),
            implanted_on=self.today,
            pump_site="Right lower abdomen, subfascial",
            catheter_model="8781 Ascenda",
            catheter_tip_level="T10",
            off_label_reason="MDT decision: off-label in a child" if off_label else "",
        )
        program = None
        if dose is not None:
            reason = "High dose agreed at the MDT" if confirmed else ""
            program = ProgramDetails(daily_dose_mcg=D(dose), reason="Starting dose", confirmation_reason=reason)
        fill = None
        if volume is not None:
            fill = FillDetails(
                volume_added_ml=D(volume), drug="lioresal", concentration_mcg_per_ml=D(2000), lot_number="SM-LOT"
            )
        has_pump = Pump.objects.implanted().filter(patient=patient).exists()
        clean = (
            actor in SURGICAL
            and not patient.is_voided
            and not has_pump
            and serial != taken
            and D(reservoir) in CATALOGUE_SIZES
            and (volume is None or D(alarm) < D(volume) <= D(reservoir))
            and (dose is None or D(dose) <= 1000 or confirmed)
            # Every patient here is a child: the Prometra II is labelled from 22 (an off-label reason).
            and (model_name != "Prometra II" or off_label)
        )
        done, refusal = self.attempt(
            "implant",
            lambda: pump_implant(pump, by=self.staff[actor], first_program=program, first_fill=fill, today=self.today),
        )
        assert done or not clean, f"a clean implant was refused: {refusal}"
        if done:
            assert not patient.is_voided and not has_pump, "implant on a voided patient or beside another pump"
            self.assert_alerts_follow([done.pk], self.today)

    @precondition(lambda self: Pump.objects.implanted().exists())
    @rule(
        data=st.data(),
        model_name=st.sampled_from(MODEL_NAMES),
        reservoir=st.sampled_from(["40", "20"]),
        dose=st.sampled_from([None, None, "300", "900"]),
        volume=st.sampled_from([None, "20", "40"]),
        catheter_revised=st.booleans(),
        actor=surgical_actors,
    )
    def replace(
        self,
        data: st.DataObject,
        model_name: str,
        reservoir: str,
        dose: str | None,
        volume: str | None,
        catheter_revised: bool,
        actor: str,
    ) -> None:
        old = self.pick_pump(data, "old_pump")
        model = PumpModel.objects.get(model=model_name)
        new = Pump(
            model=model,
            serial_number=f"SM{next(self.serials):05d}",
            reservoir_volume_ml=D(reservoir),
            low_reservoir_alarm_ml=None,
            pump_site="Left lower abdomen, subfascial",
            off_label_reason="MDT decision: off-label in a child",
            catheter_model="8709SC" if catheter_revised else "",
            catheter_tip_level="T8" if catheter_revised else "",
        )
        program = None
        if dose is not None:
            program = ProgramDetails(daily_dose_mcg=D(dose), reason="New pump", confirmation_reason="Agreed at MDT")
        fill = None
        if volume is not None:
            fill = FillDetails(
                volume_added_ml=D(volume), drug="lioresal", concentration_mcg_per_ml=D(2000), lot_number="SM-LOT"
            )
        alarm = old.low_reservoir_alarm_ml if model.pk == old.model_id else D(2)
        latest = latest_record_on(old)
        clean = (
            actor in SURGICAL
            and is_implanted(old)
            and (latest is None or latest <= self.today)
            and (volume is None or alarm < D(volume) <= D(reservoir))
        )
        before = (old.catheter_model, old.catheter_tip_level)
        done, refusal = self.attempt(
            "replace",
            lambda: pump_replace(
                old,
                new_pump=new,
                by=self.staff[actor],
                surgery=SurgeryDetails(performed_on=self.today),
                catheter_revised=catheter_revised,
                first_program=program,
                first_fill=fill,
                today=self.today,
            ),
        )
        assert done or not clean, f"a clean replacement was refused: {refusal}"
        if done:
            assert self.pump(old.pk).explanted_on == self.today
            assert is_implanted(self.pump(done.pk)) and done.patient_id == old.patient_id
            if not catheter_revised:
                assert (done.catheter_model, done.catheter_tip_level) == before, "the catheter must carry over"
            self.assert_alerts_follow([old.pk, done.pk], self.today)

    @precondition(lambda self: Pump.objects.implanted().exists())
    @rule(data=st.data(), actor=surgical_actors)
    def explant(self, data: st.DataObject, actor: str) -> None:
        pump = self.pick_pump(data)
        latest = latest_record_on(pump)
        clean = actor in SURGICAL and is_implanted(pump) and (latest is None or latest <= self.today)
        done, refusal = self.attempt(
            "explant",
            lambda: pump_explant(
                pump, by=self.staff[actor], surgery=SurgeryDetails(performed_on=self.today), today=self.today
            ),
        )
        assert done or not clean, f"a clean explant was refused: {refusal}"
        if done:
            assert self.pump(pump.pk).explanted_on == self.today
            assert not unresolved_alerts([pump.pk]), "an explanted pump keeps no open alert"

    @precondition(lambda self: Pump.objects.implanted().exists())
    @rule(
        data=st.data(),
        catheter=st.sampled_from(["", "8709SC", "Ascenda 8780"]),
        tip=st.sampled_from(["", "T6", "C7"]),
        actor=surgical_actors,
    )
    def revise_catheter(self, data: st.DataObject, catheter: str, tip: str, actor: str) -> None:
        pump = self.pick_pump(data)
        before = (pump.catheter_model, pump.catheter_tip_level)
        clean = actor in SURGICAL and is_implanted(pump) and (latest_record_on(pump) or START) <= self.today
        done, refusal = self.attempt(
            "revise_catheter",
            lambda: catheter_revision(
                pump,
                by=self.staff[actor],
                surgery=SurgeryDetails(performed_on=self.today, notes="Catheter kinked at the anchor"),
                catheter_model=catheter,
                catheter_tip_level=tip,
                today=self.today,
            ),
        )
        assert done or not clean, f"a clean catheter revision was refused: {refusal}"
        if done:
            after = self.pump(pump.pk)
            assert (after.catheter_model, after.catheter_tip_level) == (catheter or before[0], tip or before[1])
            assert (done.catheter_model_before, done.catheter_tip_level_before) == before

    @precondition(lambda self: Pump.objects.implanted().exists())
    @rule(data=st.data(), actor=st.sampled_from(["nurse", "surgeon", "therapist"]))
    def record_eri(self, data: st.DataObject, actor: str) -> None:
        """The replacement indicator seen at interrogation moves the battery's end of service."""
        pump = self.pick_pump(data)
        pump.eri_on = self.today
        clean = actor != "therapist" and is_implanted(pump)
        done, refusal = self.attempt(
            "record_eri",
            lambda: pump_update(
                pump,
                by=self.staff[actor],
                expected_version=pump.version,
                reason="ERI at interrogation",
                today=self.today,
            ),
        )
        assert done or not clean, f"a clean ERI date was refused: {refusal}"
        if done:
            self.assert_alerts_follow([pump.pk], self.today)

    # --- dosing and refills ---------------------------------------------------------

    @precondition(lambda self: Pump.objects.implanted().exists())
    @rule(
        data=st.data(),
        change_percent=st.sampled_from([-60, -21, -20, -5, 0, 10, 20, 21, 50, 150]),
        days_from_today=st.sampled_from([0, 14, 0, -9]),
        confirmed=st.booleans(),
        actor=dosing_actors,
    )
    def change_dose(
        self, data: st.DataObject, change_percent: int, days_from_today: int, confirmed: bool, actor: str
    ) -> None:
        """A titration visit ``days_from_today`` days on (the clinic moves on), or back-dated when negative."""
        pump = self.pick_pump(data)
        current = pump.current_daily_dose_mcg or D(300)
        new_mcg = (current * (100 + change_percent) / 100).quantize(D("0.01"))
        self.move_on(max(days_from_today, 0))
        changed_on = self.today + dt.timedelta(days=min(days_from_today, 0))
        needs = needs_dose_confirmation(pump, changed_on, new_mcg)
        booked_before = self.booked_on_or_before(pump, "titration", changed_on)
        latest = latest_record_on(pump)
        clean = (
            actor in DOSING
            and is_implanted(pump)
            and changed_on >= pump.implanted_on
            and (latest is None or changed_on >= latest)
            and (confirmed or not needs)
        )
        done, refusal = self.attempt(
            "change_dose",
            lambda: dose_change_record(
                pump=pump,
                by=self.staff[actor],
                changed_on=changed_on,
                daily_dose_mcg=new_mcg,
                reason="Titration",
                confirmation_reason="Discussed with the family and the MDT" if confirmed else "",
                today=self.today,
            ),
        )
        assert done or not clean, f"a clean dose change was refused: {refusal}"
        if done:
            assert confirmed or not needs, "a change above the thresholds was saved without a confirmation reason"
            if latest is not None and pump.current_daily_dose_mcg is not None:
                awaits = done.check_status == "awaiting_second_check"
                assert awaits is needs, "a change above the thresholds awaits a colleague's check, and only such"
            assert is_implanted(pump), "a dose change was recorded on a pump that is not in"
            self.assert_visit_answered_its_booking(pump, "titration", changed_on, booked_before)
            self.assert_alerts_follow([pump.pk], self.today)

    @precondition(lambda self: Pump.objects.implanted().exists())
    @rule(
        data=st.data(),
        volume=st.sampled_from(["3", "10", "20", "40", "40", "45"]),
        residual_share=st.sampled_from([None, "0", "0.2", "0.5", "0.5", "0.9"]),
        concentration=st.sampled_from(["500", "2000", "2000", "750"]),
        port_confirmed=st.sampled_from([True, True, True, False]),
        reprogrammed=st.sampled_from([True, True, False]),
        days_from_today=st.sampled_from([0, 90, 28, 0, 200, -9]),
        actor=dosing_actors,
    )
    def refill(
        self,
        data: st.DataObject,
        volume: str,
        residual_share: str | None,
        concentration: str,
        port_confirmed: bool,
        reprogrammed: bool,
        days_from_today: int,
        actor: str,
    ) -> None:
        """A refill visit ``days_from_today`` days on (the clinic moves on), or back-dated when negative."""
        pump = self.pick_pump(data)
        self.move_on(max(days_from_today, 0))
        refilled_on = self.today + dt.timedelta(days=min(days_from_today, 0))
        refills, dose_changes = list(pump.refills.all()), list(pump.dose_changes.all())
        fills = active_refills(refills)
        previous = fills[-1] if fills else None
        aspirated = None
        if residual_share is not None:
            held = previous.volume_added_ml if previous else D(0)
            aspirated = (held * D(residual_share)).quantize(D("0.01"))
        projection = current_projection(pump, refills, dose_changes, dosing_settings())
        same_day = any(fill.refilled_on == refilled_on for fill in fills)
        booked_before = self.booked_on_or_before(pump, "refill", refilled_on)
        clean = (
            actor in DOSING
            and is_implanted(pump)
            and port_confirmed
            and pump.low_reservoir_alarm_ml < D(volume) <= pump.reservoir_volume_ml
            and D(concentration) in STANDARD_CONCENTRATIONS
            and refilled_on >= pump.implanted_on
            and (previous is None or (aspirated is not None and refilled_on > previous.refilled_on))
            # Spec "Programming safety": a new concentration is confirmed as set on the programmer.
            and (previous is None or previous.concentration_mcg_per_ml == D(concentration) or reprogrammed)
        )
        done, refusal = self.attempt(
            "refill",
            lambda: refill_record(
                pump=pump,
                by=self.staff[actor],
                refilled_on=refilled_on,
                volume_added_ml=D(volume),
                aspirated_volume_ml=aspirated,
                drug="lioresal",
                concentration_mcg_per_ml=D(concentration),
                lot_number="SM-LOT",
                reservoir_port_access_confirmed=port_confirmed,
                concentration_reprogrammed_confirmed=reprogrammed,
                pump_running_confirmed=True,
                observation_signs=["none_observed"],
                today=self.today,
            ),
        )
        assert done or not clean, f"a clean refill was refused: {refusal}"
        if same_day:
            assert refusal is not None, "a second refill on the same day was saved"
        if done:
            assert port_confirmed and is_implanted(pump)
            emptied = previous is not None and emptied_for_mri_after(pump, previous)
            if projection and projection.empty_on and refilled_on > projection.empty_on and not emptied:
                event("refill after the projected empty day")
                assert done.delivery_flag == Refill.DeliveryFlag.NOT_ASSESSABLE, (
                    "a late refill must say it may have run dry"
                )
            self.assert_visit_answered_its_booking(pump, "refill", refilled_on, booked_before)
            self.assert_alerts_follow([pump.pk], self.today)

    # --- corrections ----------------------------------------------------------------

    # --- appointments ---------------------------------------------------------------

    @rule(
        data=st.data(),
        keep_days_from_alarm=st.sampled_from(DAYS_FROM_ALARM),
        with_reason=st.booleans(),
        actor=st.sampled_from(["nurse", "doctor", "administrator", "therapist", "surgeon"]),
    )
    def book_refill(self, data: st.DataObject, keep_days_from_alarm: int, with_reason: bool, actor: str) -> None:
        """Try a refill on each day around the pump's alarm date (due a week before it).

        Each booking the service takes is cancelled again, but the one ``keep_days_from_alarm``
        days from the alarm date, so that every step checks the whole rule and later steps
        find bookings to cancel.
        """
        pump = self.pick_from(
            data, "pump", self.all_pumps(), lambda p: is_implanted(p) and p.alarm_date is not None, is_implanted
        )
        # The drawn actor (who may be refused), then a pump nurse (who may book).
        for booker, days_from_alarm in itertools.product(dict.fromkeys([actor, "nurse"]), DAYS_FROM_ALARM):
            pump.refresh_from_db()
            day = (pump.alarm_date or self.today) + dt.timedelta(days=days_from_alarm)
            done = self.try_booking(pump, day, with_reason=with_reason, actor=booker)
            if done is not None and days_from_alarm != keep_days_from_alarm:
                appointment_cancel(done, by=self.staff["nurse"], reason="Checking the booking rule", today=self.today)
        assert Appointment.objects.booked().filter(pump=pump, kind="refill").count() <= 1
        self.assert_alerts_follow([pump.pk], self.today)

    def try_booking(self, pump: Pump, day: dt.date, *, with_reason: bool, actor: str) -> Appointment | None:
        already = Appointment.objects.booked().filter(pump=pump, kind="refill").exists()
        appointment = Appointment(
            patient=pump.patient,
            pump=pump,
            kind="refill",
            starts_at=dt.datetime.combine(day, dt.time(10, 0), tzinfo=ZoneInfo(django_settings.TIME_ZONE)),
            confirmation_reason="Family away until then, agreed with the nurse" if with_reason else "",
        )
        done, refusal = self.attempt(
            "book_refill",
            lambda: appointment_book(appointment, staff=[self.staff["nurse"]], by=self.staff[actor], today=self.today),
        )
        # The oracle, written out here: who may book, what may be booked for, and the dates.
        allowed = (
            actor in {"nurse", "doctor", "administrator"}
            and pump.voided_at is None
            and pump.patient.voided_at is None
            and pump.explanted_on is None
            and not already
            and not (pump.alarm_date is not None and day >= pump.alarm_date)
            and not (pump.refill_due_on is not None and day > pump.refill_due_on and not with_reason)
        )
        assert (done is not None) == allowed, f"booking {day} for {pump} by the {actor}: {refusal}"
        if done is not None:
            assert done.history.get().history_user == self.staff[actor]
        return done

    @precondition(lambda self: Appointment.objects.booked().exists())
    @rule(data=st.data(), actor=st.sampled_from(["nurse", "administrator", "therapist"]))
    def cancel_appointment(self, data: st.DataObject, actor: str) -> None:
        appointment = self.pick(data, list(Appointment.objects.booked().order_by("pk")), "appointment")
        done, refusal = self.attempt(
            "cancel_appointment",
            lambda: appointment_cancel(
                appointment, by=self.staff[actor], reason="The family asked to move it", today=self.today
            ),
        )
        assert (done is not None) == (actor != "therapist"), refusal
        appointment.refresh_from_db()
        assert appointment.status == ("cancelled" if done is not None else "booked")
        if appointment.pump_id is not None:
            self.assert_alerts_follow([appointment.pump_id], self.today)

    @precondition(lambda self: Pump.objects.implanted().exists())
    @rule(data=st.data(), days_from_today=st.sampled_from([0, 3, 10, -5]), actor=st.sampled_from(["nurse", "doctor"]))
    def book_titration(self, data: st.DataObject, days_from_today: int, actor: str) -> None:
        """A titration visit, booked ahead (or entered after the fact): a dose change on or after its day
        marks it attended, and a no-show of it waits for a dose change or a new booking."""
        pump = self.pick_pump(data)
        starts_at = clinic_time(self.today + dt.timedelta(days=days_from_today))
        appointment = Appointment(patient=pump.patient, pump=pump, kind="titration", starts_at=starts_at)
        done, refusal = self.attempt(
            "book_titration",
            lambda: appointment_book(appointment, staff=[self.staff["nurse"]], by=self.staff[actor], today=self.today),
        )
        assert (done is not None) == (is_implanted(pump) and not pump.patient.is_voided), refusal
        if done is not None:
            self.assert_alerts_follow([pump.pk], self.today)

    @precondition(lambda self: Appointment.objects.booked().exists())
    @rule(data=st.data(), hour=st.sampled_from([23, 8]), actor=st.sampled_from(["nurse", "administrator", "therapist"]))
    def mark_no_show(self, data: st.DataObject, hour: int, actor: str) -> None:
        """The family did not come: only once the start has passed on the simulated clock (``hour`` today)."""
        now = clinic_time(self.today, hour)
        booked = list(Appointment.objects.booked().order_by("pk"))
        appointment = self.pick_from(data, "appointment", booked, lambda a: a.starts_at <= now)
        done, refusal = self.attempt(
            "mark_no_show", lambda: appointment_mark_no_show(appointment, by=self.staff[actor], now=now)
        )
        assert (done is not None) == (actor in BOOKERS and appointment.starts_at <= now), refusal
        if done is not None and appointment.pump_id is not None:
            event(f"no-show of a {appointment.kind}")
            self.assert_alerts_follow([appointment.pump_id], self.today)

    @precondition(lambda self: Appointment.objects.booked().exists())
    @rule(
        data=st.data(),
        days_from_alarm=st.sampled_from(DAYS_FROM_ALARM),
        with_reason=st.booleans(),
        actor=st.sampled_from(["nurse", "administrator", "therapist"]),
    )
    def reschedule_appointment(self, data: st.DataObject, days_from_alarm: int, with_reason: bool, actor: str) -> None:
        """Move a booking to a day around its pump's alarm date: a refill is checked against the pump's
        dates again, as when it was booked, and the pump's appointment alerts follow the new day."""
        appointment = self.pick(data, list(Appointment.objects.booked().order_by("pk")), "appointment")
        pump = appointment.pump
        old_starts_at = appointment.starts_at
        day = ((pump.alarm_date if pump else None) or self.today) + dt.timedelta(days=days_from_alarm)
        appointment.starts_at = clinic_time(day)
        appointment.confirmation_reason = "Family away until then, agreed with the nurse" if with_reason else ""
        done, refusal = self.attempt(
            "reschedule_appointment",
            lambda: appointment_update(appointment, by=self.staff[actor], reason="Rescheduled", today=self.today),
        )
        # The oracle: who may book, and for a refill that moves the same day rules as a new booking
        # (a booking that stays put keeps its day, whatever the pump's dates did since).
        moved = appointment.starts_at != old_starts_at
        is_refill = appointment.kind == "refill" and pump is not None and moved
        allowed = actor in BOOKERS and not (
            is_refill
            and (
                (pump.alarm_date is not None and day >= pump.alarm_date)
                or (pump.refill_due_on is not None and day > pump.refill_due_on and not with_reason)
            )
        )
        assert (done is not None) == allowed, f"moving {appointment} to {day} by the {actor}: {refusal}"
        appointment.refresh_from_db()
        assert appointment.starts_at == (clinic_time(day) if done is not None else old_starts_at)
        if pump is not None:
            self.assert_alerts_follow([pump.pk], self.today)

    @precondition(lambda self: Appointment.objects.booked().exists())
    @rule(data=st.data(), actor=st.sampled_from(["nurse", "administrator", "therapist"]))
    def mark_attended(self, data: st.DataObject, actor: str) -> None:
        """A visit no record marks (a review): attended, not before its day; it answers a missed-appointment alert."""
        appointment = self.pick(data, list(Appointment.objects.booked().order_by("pk")), "appointment")
        done, refusal = self.attempt(
            "mark_attended",
            lambda: appointment_mark_attended(appointment, by=self.staff[actor], today=self.today),
        )
        assert (done is not None) == (actor in BOOKERS and appointment.starts_on <= self.today), refusal
        appointment.refresh_from_db()
        assert appointment.status == ("attended" if done is not None else "booked")
        if appointment.pump_id is not None:
            self.assert_alerts_follow([appointment.pump_id], self.today)

    def booked_on_or_before(self, pump: Pump, kind: str, day: dt.date) -> list[int]:
        booked = Appointment.objects.booked().filter(pump=pump, kind=kind)
        return [a.pk for a in booked if a.starts_on <= day]

    def assert_visit_answered_its_booking(self, pump: Pump, kind: str, day: dt.date, booked_before: list[int]) -> None:
        """Spec: recording the visit marks the pump's latest booking of its kind on or before its day attended."""
        if booked_before:
            event(f"a {kind} answered its booking")
            latest = max(Appointment.objects.filter(pk__in=booked_before), key=lambda a: (a.starts_at, a.pk))
            assert latest.status == "attended", f"the {kind} on {day} left its booking {latest.status}"

    def void(self, record: ClinicalRecord, actor: str = "doctor") -> Exception | None:
        _, refusal = self.attempt(
            f"void {type(record).__name__}",
            lambda: void_record(record, by=self.staff[actor], reason="Entered in error"),
        )
        return refusal

    @precondition(lambda self: Refill.objects.active().exists())
    @rule(data=st.data())
    def void_refill(self, data: st.DataObject) -> None:
        refill = self.pick(data, list(Refill.objects.active().order_by("pk")), "refill")
        assert self.void(refill, "nurse") is None, "voiding a refill is always possible"
        self.assert_alerts_follow([refill.pump_id], clinic_today())

    @precondition(lambda self: DoseChange.objects.active().exists())
    @rule(data=st.data())
    def void_dose_change(self, data: st.DataObject) -> None:
        dose_change = self.pick(data, list(DoseChange.objects.active().order_by("pk")), "dose_change")
        assert self.void(dose_change, "nurse") is None, "voiding a dose change is always possible"
        self.assert_alerts_follow([dose_change.pump_id], clinic_today())

    @precondition(lambda self: Refill.objects.exists() or DoseChange.objects.exists())
    @rule(data=st.data(), agrees=st.booleans(), with_note=st.booleans(), actor=st.sampled_from([*ROLES, "nurse2"]))
    def second_check(self, data: st.DataObject, agrees: bool, with_note: bool, actor: str) -> None:
        """A colleague's check of a refill or dose change: only one awaiting its check, not voided, can be
        checked; agreeing answers the wait, disagreeing (with a note) alerts."""
        awaiting = [
            *Refill.objects.active().filter(check_status="awaiting_second_check").order_by("pk"),
            *DoseChange.objects.active().filter(check_status="awaiting_second_check").order_by("pk"),
        ]
        anything = [*Refill.objects.order_by("pk"), *DoseChange.objects.order_by("pk")]
        record: Refill | DoseChange = self.pick(data, awaiting or anything, "record")
        checker = self.staff.get(actor) or self.second_nurse()
        author_id = record.history.filter(history_type="+").values_list("history_user_id", flat=True).first()
        clean = (
            record.check_status == "awaiting_second_check"
            and not record.is_voided
            and actor in {*DOSING, "nurse2"}
            and checker.pk != author_id
            and (agrees or with_note)
        )
        done, refusal = self.attempt(
            "second_check",
            lambda: second_check_record(
                record,
                by=checker,
                agrees=agrees,
                note="Programmer shows another dose" if with_note else "",
                today=self.today,
            ),
        )
        assert bool(done) is clean, f"second check by {actor} (author {author_id}): {refusal}"
        if done:
            assert done.check_status == ("checked" if agrees else "disagreed")
            assert done.second_checked_by == checker
            # The check refreshes the pump's alerts in its own transaction (as of the clinic day).
            self.assert_alerts_follow([record.pump_id], self.today)

    def second_nurse(self) -> Any:
        """Another pump nurse, so that a nurse's record can be checked by a nurse colleague."""
        if "nurse2" not in self.staff:
            self.staff["nurse2"] = UserFactory(username="nurse_second", role=Role.PUMP_NURSE)
        return self.staff["nurse2"]

    @precondition(lambda self: Surgery.objects.active().exists())
    @rule(data=st.data())
    def void_surgery(self, data: st.DataObject) -> None:
        surgeries = list(Surgery.objects.active().select_related("pump__patient").order_by("pk"))
        surgery = self.pick_from(
            data,
            "surgery",
            surgeries,
            lambda s: s.kind == Surgery.Kind.EXPLANT,
            lambda s: s.kind == Surgery.Kind.CATHETER_REVISION,
            lambda s: s.kind == Surgery.Kind.EXPLANT and s.pump.patient.is_voided,
        )
        pump = surgery.pump
        others_in = Pump.objects.implanted().filter(patient_id=pump.patient_id).exclude(pk=pump.pk).exists()
        later_revision = (
            Surgery.objects.active().filter(pump=pump, kind=Surgery.Kind.CATHETER_REVISION, pk__gt=surgery.pk).exists()
        )
        refusal = self.void(surgery)
        whose = " of a voided patient's pump" if pump.patient.is_voided else ""
        event(f"void {surgery.kind}{whose}: {'refused' if refusal else 'done'}")
        if surgery.kind in (Surgery.Kind.IMPLANT, Surgery.Kind.PUMP_REPLACEMENT):
            assert refusal is not None, "an implant or replacement is undone by voiding the pump, not its surgery"
        elif surgery.kind == Surgery.Kind.EXPLANT:
            # Back in only where it can be watched: beside no other pump, in a live patient.
            assert (refusal is not None) == (not pump.is_voided and (others_in or pump.patient.is_voided))
            if refusal is None and not pump.is_voided:
                assert is_implanted(self.pump(pump.pk)), "voiding the explant must put the pump back in"
        elif surgery.kind == Surgery.Kind.CATHETER_REVISION:
            assert (refusal is not None) == later_revision
            if refusal is None:
                after = self.pump(pump.pk)
                restored = (surgery.catheter_model_before, surgery.catheter_tip_level_before)
                assert (after.catheter_model, after.catheter_tip_level) == restored, "the catheter must be restored"
        if refusal is None:
            self.assert_alerts_follow([pump.pk], clinic_today())

    @precondition(lambda self: Pump.objects.active().exists())
    @rule(data=st.data())
    def void_pump(self, data: st.DataObject) -> None:
        pumps = list(Pump.objects.active().select_related("patient").order_by("pk"))
        pump = self.pick_from(
            data,
            "pump",
            pumps,
            lambda p: p.surgeries.filter(kind=Surgery.Kind.PUMP_REPLACEMENT).exists(),
            lambda p: p.patient.is_voided,
        )
        replaced = list(
            Pump.objects.filter(
                replaced_by_surgeries__pump=pump, replaced_by_surgeries__voided_at__isnull=True
            ).distinct()
        )
        refusal = self.void(pump)
        event(f"void pump: {'refused' if refusal else 'done'}")
        if refusal is None:
            for old in replaced:
                assert old.is_voided or is_implanted(self.pump(old.pk)), "the replaced pump must be back in"
            self.assert_alerts_follow([pump.pk, *(old.pk for old in replaced)], clinic_today())

    @rule(data=st.data())
    def void_patient(self, data: st.DataObject) -> None:
        patients = list(Patient.objects.order_by("pk"))
        patient = self.pick_from(
            data,
            "patient",
            patients,
            lambda p: Pump.objects.implanted().filter(patient=p).exists(),
            lambda p: not p.is_voided and p.pumps.exists() and not Pump.objects.implanted().filter(patient=p).exists(),
        )
        already_voided, has_pump = patient.is_voided, Pump.objects.implanted().filter(patient=patient).exists()
        had_pump = patient.pumps.exists()
        refusal = self.void(patient)
        event(f"void patient {'with a pump in' if has_pump else 'with past pumps' if had_pump else 'never implanted'}")
        if already_voided:
            assert refusal is not None, "a record is voided once"
        elif has_pump:
            assert refusal is not None, "a patient with an implanted pump must not leave the safety net"
        else:
            assert refusal is None, f"voiding a patient without a pump in was refused: {refusal}"

    # --- the catalogue and its refresh job ---------------------------------------------

    @rule(
        model_name=st.sampled_from(MODEL_NAMES),
        months=st.sampled_from([84, 120, 24, 3]),
        days_eri_to_eos=st.sampled_from([90, 30, None]),
        actor=st.sampled_from(["doctor", "doctor", "nurse"]),
    )
    def edit_catalogue_battery(self, model_name: str, months: int, days_eri_to_eos: int | None, actor: str) -> None:
        model = PumpModel.objects.get(model=model_name)
        model.nominal_battery_life_months = months
        model.days_eri_to_eos = days_eri_to_eos
        done, refusal = self.attempt(
            "edit_catalogue_battery",
            lambda: pump_model_save(
                model, by=self.staff[actor], expected_version=model.version, reason="Manufacturer's new figures"
            ),
        )
        assert (done is None) == (actor != "doctor"), f"only the doctor edits the catalogue: {refusal}"
        # Until the job runs, only the battery dates of this model's pumps may be stale.
        drifts = projection_drift()
        for drift in drifts:
            assert drift.pump.model_id == model.pk and set(drift.fields) == {"battery_end_of_service_on"}, drift
        # As the workers run it: one chunk of pump ids at a time (two ids a chunk here).
        for low in range(0, max((p.pk for p in self.all_pumps()), default=0) + 1, 2):
            pumps_refresh_projections(by=self.system, model_id=model.pk, today=self.today, pump_ids=(low, low + 2))
        assert not projection_drift(), "every chunk together must leave no pump drifting"
        self.assert_alerts_follow([drift.pump.pk for drift in drifts], self.today)

    # --- MRI ----------------------------------------------------------------------------

    @precondition(lambda self: Pump.objects.implanted().exists())
    @rule(
        data=st.data(),
        checklist_done=st.sampled_from([True, True, False]),
        restarted=st.booleans(),
        actor=dosing_actors,
    )
    def record_mri(self, data: st.DataObject, checklist_done: bool, restarted: bool, actor: str) -> None:
        """An MRI today with its checklist (a Prometra emptied or not; a SynchroMed interrogated at once or not)."""
        pump = self.pick_pump(data)
        prometra = pump.model.mri_procedure == "empty_before_refill_after"
        emptied = prometra and checklist_done
        checklist = MriChecklist(
            field_strength_tesla=D("1.5") if emptied else D("3.0"),
            emptied_before_scan=emptied,
            volume_removed_ml=D("5") if emptied else None,
            field_strength_confirmed=emptied,
            interrogated_after_scan=not prometra and restarted,
            motor_restart_confirmed=not prometra and restarted,
        )
        programmed = bool(active_refills(pump.refills.all()) and active_dose_changes(pump.dose_changes.all()))
        clean = actor in DOSING and is_implanted(pump) and (checklist_done or not prometra)
        done, refusal = self.attempt(
            "record MRI",
            lambda: mri_record(
                pump=pump, by=self.staff[actor], scanned_on=self.today, checklist=checklist, today=self.today
            ),
        )
        assert done or not clean, f"a clean MRI record was refused: {refusal}"
        if done:
            assert is_implanted(pump) and actor in DOSING
            if emptied and programmed:
                assert self.pump(pump.pk).alarm_date == self.today, "a pump emptied for an MRI is at its alarm at once"
            self.assert_alerts_follow([pump.pk], self.today)

    @precondition(lambda self: MriScan.objects.active().exists())
    @rule(data=st.data(), restarted=st.sampled_from([True, True, False]), actor=dosing_actors)
    def mri_follow_up(self, data: st.DataObject, restarted: bool, actor: str) -> None:
        """The interrogation after a SynchroMed's MRI (a Prometra's follow-up is its refill: refused here)."""
        scan = self.pick(data, list(MriScan.objects.active().order_by("pk")), "mri")
        awaiting = scan.procedure == "interrogate_after" and scan.follow_up_recorded_at is None
        done, refusal = self.attempt(
            "MRI follow-up",
            lambda: mri_record_follow_up(
                scan,
                by=self.staff[actor],
                interrogated_after_scan=True,
                motor_restart_confirmed=restarted,
                expected_version=scan.version,
                today=self.today,
            ),
        )
        assert (done is not None) == (actor in DOSING and awaiting and restarted), refusal
        if done:
            self.assert_alerts_follow([scan.pump_id], self.today)

    @precondition(lambda self: MriScan.objects.active().exists())
    @rule(data=st.data())
    def void_mri(self, data: st.DataObject) -> None:
        scan = self.pick(data, list(MriScan.objects.active().order_by("pk")), "mri")
        assert self.void(scan, "nurse") is None, "voiding an MRI scan is always possible"
        self.assert_alerts_follow([scan.pump_id], clinic_today())

    # --- alerts ---------------------------------------------------------------------

    # A week first: a run of nothing but scans then walks a pump past its alarm date.
    @rule(days_later=st.sampled_from([7, 1, 0]), chunk_pumps=st.sampled_from([2000, 1, 2]))
    def morning_scan(self, days_later: int, chunk_pumps: int) -> None:
        """The 06:00 job, ``days_later`` days on (0: run again today), in chunks of ``chunk_pumps`` pump ids."""
        self.move_on(days_later)
        with override_settings(CLINIC={**django_settings.CLINIC, "SCAN_CHUNK_PUMPS": chunk_pumps}):
            changes = alert_scan(as_of=self.today, by=self.system).changes
        wanted = wanted_alerts(self.today)
        event(f"scan: {'some' if changes else 'no'} changes, {'some' if wanted else 'no'} alerts wanted")
        assert unresolved_alerts() == wanted
        assert not Alert.objects.unresolved().filter(status=AlertStatus.SNOOZED, snoozed_until__lt=self.today), (
            "an expired snooze must reopen"
        )
        assert alert_scan(as_of=self.today, by=self.system).changes == 0, "a second scan must change nothing"
        # A withdrawal risk stays in sight: the nurse cannot snooze it, even with a good reason.
        for alert in Alert.objects.unresolved().filter(kind=alert_rules.PAST_ALARM_DATE):
            event("scan: a pump past its alarm date")
            _, refusal = self.attempt(
                "snooze past alarm",
                lambda alert=alert: alert_snooze(
                    alert,
                    by=self.staff["nurse"],
                    until=self.today + dt.timedelta(days=1),
                    reason="Refill booked for tomorrow",
                    today=self.today,
                ),
            )
            assert refusal is not None, "a pump past its alarm date must never be snoozed"

    @precondition(lambda self: Alert.objects.exists())
    @rule(data=st.data(), with_note=st.booleans(), actor=alert_actors)
    def acknowledge(self, data: st.DataObject, with_note: bool, actor: str) -> None:
        alert = self.pick_alert(data)
        done, refusal = self.attempt(
            "acknowledge",
            lambda: alert_acknowledge(
                alert,
                by=self.staff[actor],
                expected_version=alert.version,
                note="Refill booked for tomorrow morning" if with_note else "",
            ),
        )
        if actor not in ALERT_HANDLERS:
            assert isinstance(refusal, PermissionDenied)
        elif alert.status == AlertStatus.RESOLVED:
            assert refusal is not None, "a resolved alert cannot be acknowledged"
        elif alert.kind == alert_rules.PAST_ALARM_DATE and not with_note:
            assert refusal is not None, "a withdrawal risk is acknowledged only with a note"
        else:
            assert done is not None and done.status == AlertStatus.ACKNOWLEDGED, refusal

    @precondition(lambda self: Alert.objects.exists())
    @rule(
        data=st.data(),
        days=st.sampled_from([0, 1, 14, 30, 31]),
        with_reason=st.sampled_from([True, True, False]),
        actor=alert_actors,
    )
    def snooze(self, data: st.DataObject, days: int, with_reason: bool, actor: str) -> None:
        alert = self.pick_alert(data)
        event(f"snooze a {alert.status} {alert.kind} alert")
        done, refusal = self.attempt(
            "snooze",
            lambda: alert_snooze(
                alert,
                by=self.staff[actor],
                until=self.today + dt.timedelta(days=days),
                reason="Refill booked" if with_reason else "",
                today=self.today,
                expected_version=alert.version,
            ),
        )
        if alert.kind == alert_rules.PAST_ALARM_DATE:
            assert refusal is not None, "a pump past its alarm date must never be snoozed"
        clean = (
            actor in ALERT_HANDLERS
            and alert.status != AlertStatus.RESOLVED
            and alert.kind != alert_rules.PAST_ALARM_DATE
            and 1 <= days <= 30
            and with_reason
        )
        assert (done is not None) == clean, refusal

    # --- invariants -----------------------------------------------------------------

    @invariant()
    def stored_projections_are_fresh(self) -> None:
        drifts = projection_drift()
        assert not drifts, [(d.pump.serial_number, d.fields) for d in drifts]

    @invariant()
    def one_implanted_pump_per_live_patient(self) -> None:
        implanted = list(Pump.objects.implanted().values_list("patient_id", "patient__voided_at"))
        patients = [patient_id for patient_id, _ in implanted]
        assert len(patients) == len(set(patients)), "two implanted pumps in one patient"
        assert all(voided_at is None for _, voided_at in implanted), "a voided patient has an implanted pump"

    @invariant()
    def the_safety_net_watches_every_pump_in_a_live_patient(self) -> None:
        pumps = self.all_pumps()
        expected = {p.pk for p in pumps if is_implanted(p) and not p.patient.is_voided}
        assert set(Pump.objects.watched().values_list("pk", flat=True)) == expected
        report = {row["pump"]: row["status"] for row in overdue_refills(as_of=self.today)}
        due = {p.pk: report_status(p, self.today) for p in pumps if p.pk in expected}
        assert report == {pk: status for pk, status in due.items() if status is not None}
        statuses = list(report.values())
        assert statuses == sorted(statuses, key=REPORT_ORDER.index), "most urgent first, no projection before all"

    @invariant()
    def open_alerts_are_on_watched_pumps(self) -> None:
        stray = Alert.objects.unresolved().exclude(pump__in=Pump.objects.watched())
        assert not stray.exists(), list(stray.values_list("pump__serial_number", "kind"))

    @invariant()
    def every_history_row_names_its_user(self) -> None:
        assert not history_rows_without_user(self.history_start)


def state_machine_settings() -> settings:
    return settings(
        max_examples=EXAMPLES or DEFAULT_EXAMPLES,
        stateful_step_count=DEEP_STEPS if EXAMPLES else DEFAULT_STEPS,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


@pytest.mark.django_db
def test_random_clinic_days_never_tear_the_safety_net() -> None:
    run_state_machine_as_test(ClinicDays, settings=state_machine_settings())


# --------------------------------------------------------------------------
# Holes the machine found, pinned so that they stay closed whatever the budget
# --------------------------------------------------------------------------


@pytest.mark.django_db
def test_voiding_the_explant_of_a_voided_patients_pump_is_refused(surgeon: Any, nurse: Any, doctor: Any) -> None:
    # Explanted, then the patient voided (allowed: no pump in), then the explant voided:
    # the pump would be back in a patient nobody watches.
    patient = PatientFactory(assigned_nurse=nurse)
    pump = PumpFactory(patient=patient, by=surgeon)
    explanted_on = dt.date(2024, 3, 1)
    explant = pump_explant(pump, by=surgeon, surgery=SurgeryDetails(performed_on=explanted_on), today=explanted_on)
    void_record(patient, by=doctor, reason="Duplicate record")

    with pytest.raises(ValidationError, match="the patient record was voided"):
        void_record(explant, by=surgeon, reason="Entered in error")

    pump.refresh_from_db()
    assert pump.explanted_on == explanted_on
    assert not Pump.objects.implanted().filter(patient=patient).exists()


@pytest.mark.django_db
def test_voiding_the_new_pump_of_a_voided_patients_replacement_is_refused(
    surgeon: Any, nurse: Any, doctor: Any
) -> None:
    patient = PatientFactory(assigned_nurse=nurse)
    old = PumpFactory(patient=patient, by=surgeon)
    replaced_on, explanted_on = dt.date(2024, 3, 1), dt.date(2024, 4, 1)
    new = pump_replace(
        old,
        new_pump=Pump(
            model=old.model, serial_number="SM-NEW-1", reservoir_volume_ml=D(40), low_reservoir_alarm_ml=None
        ),
        by=surgeon,
        surgery=SurgeryDetails(performed_on=replaced_on),
        today=replaced_on,
    )
    pump_explant(new, by=surgeon, surgery=SurgeryDetails(performed_on=explanted_on), today=explanted_on)
    void_record(patient, by=doctor, reason="Duplicate record")

    # Voiding the new pump would put the old one back in, in a voided patient.
    with pytest.raises(ValidationError, match="the patient record was voided"):
        void_record(new, by=surgeon, reason="Entered in error")

    old.refresh_from_db()
    assert old.explanted_on == replaced_on
    assert not Pump.objects.implanted().filter(patient=patient).exists()
