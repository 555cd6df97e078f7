"""The demo caseload's pumps: titration, maintenance, explanted and replaced pumps, including
pumps that are refill-overdue, past their alarm date and near battery end of life.

Everything goes through ``pumps.services`` (so every stored alarm and refill-due date is
what ``pumps.dosing`` computes) and is dated relative to ``today``, never after it.
Doses are given as plain numbers per visit; the only derived value used here, the
aspirated residual of an on-time refill, comes from the service's own preview.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User

from patients.models import Patient
from pumps import dosing, services
from pumps.models import Complication, DoseChange, Pump, PumpModel, Refill
from pumps.selectors import suggested_starting_dose_mcg
from pumps.services import FillDetails, ProgramDetails, SurgeryDetails

D = Decimal


class _Demo:
    """One patient's pump story, told in date order through the services."""

    def __init__(self, *, patient: Patient, staff: dict[str, User], today: dt.date, tag: str) -> None:
        self.patient, self.today, self.tag = patient, today, tag
        self.surgeon = staff.get("neurosurgeon") or staff["rehab_doctor"]
        self.nurse = patient.assigned_nurse or staff.get("pump_nurse") or staff["rehab_doctor"]
        self.serials = 0

    def ago(self, days: int) -> dt.date:
        return self.today - dt.timedelta(days=days)

    def months_ago(self, months: int) -> dt.date:
        return dosing.add_calendar_months(self.today, -months)

    def serial(self) -> str:
        self.serials += 1
        return f"DEMO-{self.patient.mrn}-{self.serials}"

    def implant(
        self,
        *,
        on: dt.date,
        dose: str,
        volume: str = "40",
        concentration: str = "2000",
        model: str = "SynchroMed II",
        reservoir: str = "40",
    ) -> Pump:
        pump = Pump(
            patient=self.patient,
            model=PumpModel.objects.get(model=model),
            serial_number=self.serial(),
            reservoir_volume_ml=D(reservoir),
            implanted_on=on,
            pump_site="Right lower abdomen, subfascial",
            catheter_model="8781 Ascenda",
            catheter_tip_level="T10",
            temporary_card_given_on=on,
            permanent_card_received_on=on + dt.timedelta(days=42) if on + dt.timedelta(days=42) <= self.today else None,
            # The demo's patients are children: a Prometra II (labelled from 22) is off-label for them.
            off_label_reason="MDT decision: off-label in a child" if model == "Prometra II" else "",
        )
        return services.pump_implant(
            pump,
            by=self.surgeon,
            surgery=SurgeryDetails(performed_on=on, surgeon=self.surgeon),
            first_program=ProgramDetails(daily_dose_mcg=D(dose), reason="Starting dose: 2 × the trial bolus"),
            first_fill=FillDetails(
                volume_added_ml=D(volume), drug="lioresal", concentration_mcg_per_ml=D(concentration), lot_number="DEMO"
            ),
            today=self.today,
        )

    def dose(self, pump: Pump, *, on: dt.date, dose: str, next_visit_on: dt.date | None = None) -> DoseChange:
        return services.dose_change_record(
            pump=pump,
            by=self.nurse,
            changed_on=on,
            daily_dose_mcg=D(dose),
            reason="Titration: tone still limiting care",
            tone_notes="Hip adductors MAS 2",
            confirmation_reason="Agreed with the rehab doctor at the visit",
            next_visit_on=next_visit_on,
            today=self.today,
        )

    def refill(
        self,
        pump: Pump,
        *,
        on: dt.date,
        volume: str = "40",
        concentration: str = "2000",
        aspirated: str | None = None,
        next_on: dt.date | None = None,
    ) -> Refill:
        fill = FillDetails(volume_added_ml=D(volume), drug="lioresal", concentration_mcg_per_ml=D(concentration))
        if aspirated is None:
            # An on-time refill: the residual is what the dosing module expected. The
            # preview needs some aspirated volume to run the delivery check; its expected
            # residual does not depend on which.
            probe = dataclasses.replace(
                fill, aspirated_volume_ml=D(0), lot_number="DEMO", reservoir_port_access_confirmed=True
            )
            preview = services.refill_preview(pump=pump, refilled_on=on, fill=probe)
            if preview.delivery is None:
                raise ValueError(f"Demo refill on {on} is not valid: {preview.errors}")
            residual = preview.delivery.expected_residual_ml
        else:
            residual = D(aspirated)
        return services.refill_record(
            pump=pump,
            by=self.nurse,
            refilled_on=on,
            volume_added_ml=fill.volume_added_ml,
            drug=fill.drug,
            concentration_mcg_per_ml=fill.concentration_mcg_per_ml,
            lot_number=f"LOT-{on:%y%m}",
            aspirated_volume_ml=residual,
            reservoir_port_access_confirmed=True,
            pump_running_confirmed=True,
            observation_signs=["none_observed"],
            next_refill_appointment_on=next_on if next_on and next_on >= on else None,
            today=self.today,
        )

    def refills_every(self, pump: Pump, *, days: int, first_on: dt.date, last_on: dt.date, **fill: Any) -> None:
        on = first_on
        while on < last_on:
            self.refill(pump, on=on, **fill)
            on += dt.timedelta(days=days)


# --- The stories --------------------------------------------------------------------


def _starting_dose(demo: _Demo, fallback: str) -> str:
    _, suggested = suggested_starting_dose_mcg(demo.patient.pk)
    return str(suggested) if suggested is not None and suggested <= 300 else fallback


def titration_visit_today(demo: _Demo) -> None:
    pump = demo.implant(
        on=demo.ago(21), dose=_starting_dose(demo, "100"), volume="20", concentration="500", reservoir="20"
    )
    demo.dose(pump, on=demo.ago(14), dose="115")
    demo.dose(pump, on=demo.ago(7), dose="130", next_visit_on=demo.today)


def titration_visit_this_week(demo: _Demo) -> None:
    pump = demo.implant(on=demo.ago(45), dose="150", volume="20", concentration="500", reservoir="20")
    demo.dose(pump, on=demo.ago(38), dose="170")
    demo.refill(pump, on=demo.ago(24), volume="20", concentration="500")
    demo.dose(pump, on=demo.ago(24), dose="190")
    demo.dose(pump, on=demo.ago(10), dose="210", next_visit_on=demo.today + dt.timedelta(days=4))


def maintenance(demo: _Demo) -> None:
    pump = demo.implant(on=demo.ago(730), dose="300")
    demo.dose(pump, on=demo.ago(700), dose="330")
    demo.dose(pump, on=demo.ago(660), dose="360")
    demo.refills_every(pump, days=120, first_on=demo.ago(610), last_on=demo.ago(10))
    demo.refill(pump, on=demo.ago(10), next_on=demo.today + dt.timedelta(days=110))


def refill_overdue(demo: _Demo) -> None:
    """Refilled 185 days ago: past the 180-day refill-due date, 5 days before the alarm."""
    pump = demo.implant(on=demo.ago(600), dose="400")
    demo.refill(pump, on=demo.ago(400))
    demo.refill(pump, on=demo.ago(185))


def past_alarm_date(demo: _Demo) -> None:
    """A 20 mL pump at 0.2 mL/day, refilled 95 days ago: the alarm date passed 5 days ago."""
    pump = demo.implant(on=demo.ago(280), dose="100", volume="20", concentration="500", reservoir="20")
    demo.refill(pump, on=demo.ago(195), volume="20", concentration="500")
    demo.refill(pump, on=demo.ago(95), volume="20", concentration="500")


def battery_replacement_indicator(demo: _Demo) -> None:
    """A SynchroMed II near its 7 years that signalled ERI 20 days ago: end of service in 70 days."""
    pump = demo.implant(on=demo.months_ago(82), dose="250")
    demo.refills_every(pump, days=150, first_on=demo.months_ago(82) + dt.timedelta(days=150), last_on=demo.ago(60))
    demo.refill(pump, on=demo.ago(60))
    pump.refresh_from_db()
    pump.eri_on = demo.ago(20)
    services.pump_update(pump, by=demo.nurse, expected_version=pump.version, reason="ERI seen at interrogation")


def battery_nominal_life(demo: _Demo) -> None:
    """A Prometra II near its nominal 10 years (no ERI-to-EOS interval in the catalogue)."""
    implanted_on = demo.months_ago(118)
    pump = demo.implant(on=implanted_on, dose="200", model="Prometra II", reservoir="20", volume="20")
    demo.refills_every(
        pump, days=170, first_on=implanted_on + dt.timedelta(days=170), last_on=demo.ago(30), volume="20"
    )
    demo.refill(pump, on=demo.ago(30), volume="20", next_on=demo.today + dt.timedelta(days=120))


def explanted(demo: _Demo) -> None:
    pump = demo.implant(on=demo.ago(1100), dose="200")
    demo.refills_every(pump, days=140, first_on=demo.ago(960), last_on=demo.ago(420))
    services.pump_explant(
        pump,
        by=demo.surgeon,
        surgery=SurgeryDetails(
            performed_on=demo.ago(400),
            surgeon=demo.surgeon,
            complications=[Complication.INFECTION, Complication.WOUND_BREAKDOWN],
            notes="Deep pocket infection; pump and catheter removed.",
        ),
        today=demo.today,
    )


def replaced(demo: _Demo) -> None:
    old = demo.implant(on=demo.months_ago(90), dose="450")
    demo.refills_every(old, days=160, first_on=demo.months_ago(90) + dt.timedelta(days=160), last_on=demo.ago(520))
    new = services.pump_replace(
        old,
        new_pump=Pump(
            model=PumpModel.objects.get(model="SynchroMed II"), serial_number=demo.serial(), reservoir_volume_ml=D(40)
        ),
        by=demo.surgeon,
        surgery=SurgeryDetails(performed_on=demo.ago(500), surgeon=demo.surgeon, notes="Elective replacement at ERI"),
        first_fill=FillDetails(
            volume_added_ml=D(40), drug="gablofen", concentration_mcg_per_ml=D(2000), lot_number="G"
        ),
        today=demo.today,
    )
    demo.refills_every(new, days=150, first_on=demo.ago(350), last_on=demo.ago(50), concentration="2000")
    demo.refill(new, on=demo.ago(50), next_on=demo.today + dt.timedelta(days=100))


def delivery_deviation(demo: _Demo) -> None:
    """The last refill found much less drug left than expected (over-delivery, flagged)."""
    pump = demo.implant(on=demo.ago(400), dose="500")
    demo.refill(pump, on=demo.ago(250))
    demo.refill(pump, on=demo.ago(130))
    demo.refill(pump, on=demo.ago(20), aspirated="1")


STORIES: list[Callable[[_Demo], None]] = [
    titration_visit_today,
    maintenance,
    refill_overdue,
    past_alarm_date,
    battery_replacement_indicator,
    explanted,
    replaced,
    titration_visit_this_week,
    delivery_deviation,
    battery_nominal_life,
]


def seed_pumps(*, staff: dict[str, User], patients: list[Patient], today: dt.date) -> None:
    """Give each patient a pump story: one of each kind first, then more in maintenance."""
    for index, patient in enumerate(patients):
        story = STORIES[index] if index < len(STORIES) else maintenance
        story(_Demo(patient=patient, staff=staff, today=today, tag=story.__name__))
