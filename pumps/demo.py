"""The demo caseload's pumps: titration, maintenance, explanted and replaced pumps, including
pumps that are refill-overdue, past their alarm date and near battery end of life.

Everything goes through ``pumps.services`` (so every stored alarm and refill-due date is
what ``pumps.dosing`` computes) and is dated relative to ``today``, never after it. A
pump in maintenance is refilled as a clinic books it: a few days to two weeks before the
refill-due date the services stored after the previous visit, so no pump runs past its
alarm date between refills. Only the stories marked ``overdue`` are left past their due
date today, so that the demo has those alerts to show.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Callable
from decimal import ROUND_FLOOR, Decimal

from django.contrib.auth.models import User

from patients.models import Patient
from pumps import dosing, services
from pumps.models import Complication, DoseChange, Pump, PumpModel, Refill
from pumps.selectors import suggested_starting_dose_mcg
from pumps.services import FillDetails, ProgramDetails, SurgeryDetails

D = Decimal
# Titration steps stay under the 20% change that asks for a confirmation reason and a second check.
STEP_PERCENT = D(15)
# Maintenance doses creep up by smaller steps, and stop at a dose typical of the condition
# (cerebral origin, children: a few hundred mcg/day; spinal origin, adults: more).
DRIFT_PERCENT = D(10)
CHILD_DOSE_CEILING_MCG = D(300)
ADULT_DOSE_CEILING_MCG = D(500)
# Refills are booked this many days (at most) before the refill-due date.
BOOKED_EARLY_DAYS = 14
# A residual measured at a refill differs from the expected one by this much (mL) at most:
# within the delivery check's tolerance, but not the suspiciously exact expected value.
RESIDUAL_NOISE_ML = 0.3


@dataclasses.dataclass(frozen=True)
class Story:
    """One patient's pump story; the first implant is ``months_ago`` and ``days_ago`` before today.

    ``overdue``: the story ends with the pump past its refill-due date on purpose.
    """

    tell: Callable[[_Demo], None]
    days_ago: int = 0
    months_ago: int = 0  # the battery stories count calendar months, as battery life does
    overdue: bool = False

    @property
    def name(self) -> str:
        return self.tell.__name__

    def implanted_on(self, today: dt.date) -> dt.date:
        return dosing.add_calendar_months(today, -self.months_ago) - dt.timedelta(days=self.days_ago)


class _Demo:
    """One patient's pump story, told in date order through the services."""

    def __init__(self, *, patient: Patient, staff: dict[str, User], today: dt.date, story: Story) -> None:
        self.patient, self.today, self.story = patient, today, story
        self.implanted_on = story.implanted_on(today)
        self.surgeon = staff.get("neurosurgeon") or staff["rehab_doctor"]
        self.nurse = patient.assigned_nurse or staff.get("pump_nurse") or staff["rehab_doctor"]
        self.rng = random.Random(f"{patient.mrn}-{story.name}")  # noqa: S311  (demo data, not security)
        self.serials = 0
        self.dose_mcg = D(0)
        self.drug = "lioresal"
        self.last_on = self.implanted_on

    @property
    def ceiling_mcg(self) -> D:
        return ADULT_DOSE_CEILING_MCG if self.is_adult_on(self.today) else CHILD_DOSE_CEILING_MCG

    def ago(self, days: int) -> dt.date:
        return self.today - dt.timedelta(days=days)

    def serial(self) -> str:
        self.serials += 1
        return f"DEMO-{self.patient.mrn}-{self.serials}"

    def is_adult_on(self, on: dt.date) -> bool:
        return (on - self.patient.birth_date).days >= 18 * 365.25

    def starting_dose(self, fallback: str = "100") -> D:
        """Twice the positive trial's bolus, as the services suggest; ``fallback`` without a trial."""
        _, suggested = suggested_starting_dose_mcg(self.patient.pk)
        return suggested if suggested is not None else D(fallback)

    def implant(self, *, volume: str = "40", concentration: str = "2000", model: str = "SynchroMed II") -> Pump:
        on = self.implanted_on
        self.dose_mcg = self.starting_dose()
        pump = Pump(
            patient=self.patient,
            model=PumpModel.objects.get(model=model),
            serial_number=self.serial(),
            reservoir_volume_ml=D(volume),
            implanted_on=on,
            pump_site="Right lower abdomen, subfascial",
            catheter_model="8781 Ascenda",
            # T1–2 for a quadriplegic pattern, T10 for the legs (domain notes).
            catheter_tip_level="T2" if self.patient.gmfcs_level == 5 else "T10",
            temporary_card_given_on=on,
            permanent_card_received_on=on + dt.timedelta(days=42) if on + dt.timedelta(days=42) <= self.today else None,
        )
        if services.labelled_age_errors(pump):
            # Younger than the model's labelling (a Prometra II below 22): the team records why.
            pump.off_label_reason = "MDT decision: off-label below the labelled age; SynchroMed unsuitable."
        return services.pump_implant(
            pump,
            by=self.surgeon,
            surgery=SurgeryDetails(performed_on=on, surgeon=self.surgeon),
            first_program=ProgramDetails(daily_dose_mcg=self.dose_mcg, reason="Starting dose: 2 × the trial bolus"),
            first_fill=FillDetails(
                volume_added_ml=D(volume), drug=self.drug, concentration_mcg_per_ml=D(concentration), lot_number="DEMO"
            ),
            today=self.today,
        )

    def dose(
        self,
        pump: Pump,
        *,
        on: dt.date,
        reason: str,
        percent: D = STEP_PERCENT,
        next_visit_on: dt.date | None = None,
    ) -> DoseChange:
        """Up by about ``percent``, to a round number of mcg."""
        self.dose_mcg = step_up(self.dose_mcg, percent)
        self.last_on = on
        return services.dose_change_record(
            pump=pump,
            by=self.nurse,
            changed_on=on,
            daily_dose_mcg=self.dose_mcg,
            reason=reason,
            tone_notes="Hip adductors MAS 2, tone still limiting care" if "Titration" in reason else "",
            next_visit_on=next_visit_on,
            today=self.today,
        )

    def titrate(self, pump: Pump, *, steps: int, every_days: int = 7) -> None:
        for step in range(1, steps + 1):
            self.dose(pump, on=self.implanted_on + dt.timedelta(days=every_days * step), reason=TITRATION)

    def refill(
        self,
        pump: Pump,
        *,
        on: dt.date,
        concentration: str = "2000",
        aspirated: str | None = None,
        next_on: dt.date | None = None,
        preview: services.RefillDraft | None = None,
    ) -> Refill:
        """Fill to the reservoir's size; the residual is the preview's expected one, give or take
        (``preview``: the same refill's preview, when the caller has it already)."""
        fill = self.fill(pump, concentration)
        if aspirated is not None:
            residual = D(aspirated)
        else:
            residual = self.measured_residual(preview or self.preview(pump, on, fill))
        self.last_on = on
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

    def preview(self, pump: Pump, on: dt.date, fill: FillDetails) -> services.RefillDraft:
        # The preview needs some aspirated volume to run the delivery check; its expected
        # residual and new dates do not depend on which.
        probe = dataclasses.replace(
            fill, aspirated_volume_ml=D(0), lot_number="DEMO", reservoir_port_access_confirmed=True
        )
        preview = services.refill_preview(pump=pump, refilled_on=on, fill=probe)
        if preview.delivery is None or preview.refill.refill_due_on is None:
            raise ValueError(f"Demo refill on {on} is not valid: {preview.errors}")
        return preview

    def measured_residual(self, preview: services.RefillDraft) -> D:
        assert preview.delivery is not None
        noise = D(str(round(self.rng.uniform(-RESIDUAL_NOISE_ML, RESIDUAL_NOISE_ML), 1)))
        return max(D(0), preview.delivery.expected_residual_ml + noise).quantize(D("0.1"))

    def keep_filled(
        self,
        pump: Pump,
        *,
        until: dt.date,
        concentration: str = "2000",
        book_last: bool = True,
        drift: bool = True,
    ) -> None:
        """Refill at each booking, up to two weeks before the refill-due date, for every
        booking before ``until``.

        1. The booking: the due date stored on the pump after the last visit, less a few days.
        2. The last refill before ``until`` notes the next one (a family leaves with a date),
           and the appointment is booked when it falls within the window in which the scan
           would raise ``refill_not_booked``.
        3. ``drift``: every fourth refill more than two months ago also nudges the dose up, as
           the dose of a growing child or a progressing condition creeps, up to a ceiling
           (then the pump's new due date is the one the next booking follows).
        """
        early = self.rng.randint(0, BOOKED_EARLY_DAYS)
        refills = 0
        while True:
            assert pump.refill_due_on is not None, "a demo pump always has a projection"
            on = max(pump.refill_due_on - dt.timedelta(days=early), self.last_on + dt.timedelta(days=1))
            if on >= until:
                if refills == 0 and book_last:
                    self.book_refill(pump, on=on)  # not refilled since the implant: its first refill
                return
            preview = self.preview(pump, on, self.fill(pump, concentration))
            due_on = preview.refill.refill_due_on
            assert due_on is not None
            early = self.rng.randint(0, BOOKED_EARLY_DAYS)
            is_last = due_on - dt.timedelta(days=early) >= until
            next_on = due_on - dt.timedelta(days=early) if is_last and book_last else None
            self.refill(pump, on=on, concentration=concentration, next_on=next_on, preview=preview)
            if next_on is not None:
                self.book_refill(pump, on=next_on)
            refills += 1
            if drift and not is_last and refills % 4 == 0 and on < self.ago(60) and self.dose_mcg < self.ceiling_mcg:
                self.dose(
                    pump, on=on, reason="Tone creeping up at the refill review: small increase", percent=DRIFT_PERCENT
                )

    def book_refill(self, pump: Pump, *, on: dt.date) -> None:
        """Book the refill appointment on ``on`` (a morning clinic) if it is due soon enough to need it."""
        from appointments.alert_source import not_booked_days
        from appointments.models import Appointment, AppointmentKind, local_start_of_day
        from appointments.services import appointment_book

        if on > self.today + dt.timedelta(days=not_booked_days()):
            return
        starts_at = local_start_of_day(on) + dt.timedelta(hours=10)
        appointment = Appointment(patient=self.patient, pump=pump, kind=AppointmentKind.REFILL, starts_at=starts_at)
        appointment_book(appointment, staff=[self.nurse], by=self.nurse, today=self.today)

    def fill(self, pump: Pump, concentration: str) -> FillDetails:
        return FillDetails(
            volume_added_ml=pump.reservoir_volume_ml, drug=self.drug, concentration_mcg_per_ml=D(concentration)
        )

    def last_refill_on(self, pump: Pump, *, passed: str, days_ago: int, concentration: str = "2000") -> dt.date:
        """The day to refill on so that the new fill's ``passed`` date (``alarm_date`` or
        ``refill_due_on``) fell ``days_ago`` days ago: the services' own projection of a probe
        fill (at the dose now in force, which stays)."""
        probe_on = self.last_on + dt.timedelta(days=1)
        projected_on = getattr(self.preview(pump, probe_on, self.fill(pump, concentration)).refill, passed)
        return self.ago(days_ago) - (projected_on - probe_on)


TITRATION = "Titration: tone still limiting care"


def step_up(dose_mcg: D, percent: D = STEP_PERCENT) -> D:
    """About ``percent`` more, to a multiple of 5 mcg (of 1 mcg for small doses)."""
    target = dose_mcg * (1 + percent / 100)
    rounded = (target / 5).to_integral_value(ROUND_FLOOR) * 5
    return rounded if rounded > dose_mcg else target.to_integral_value(ROUND_FLOOR)


# --- The stories --------------------------------------------------------------------


def titration_visit_today(demo: _Demo) -> None:
    """A 20 mL pump at 500 mcg/mL three weeks in: weekly steps, the next one today."""
    pump = demo.implant(volume="20", concentration="500")
    demo.dose(pump, on=demo.ago(14), reason=TITRATION)
    demo.dose(pump, on=demo.ago(7), reason=TITRATION, next_visit_on=demo.today)


def titration_visit_this_week(demo: _Demo) -> None:
    pump = demo.implant(volume="20", concentration="500")
    demo.dose(pump, on=demo.ago(38), reason=TITRATION)
    demo.refill(pump, on=demo.ago(24), concentration="500")
    demo.dose(pump, on=demo.ago(24), reason=TITRATION)
    demo.dose(pump, on=demo.ago(10), reason=TITRATION, next_visit_on=demo.today + dt.timedelta(days=4))


def maintenance(demo: _Demo) -> None:
    """A titration step a week after the implant (an adult, usually of spinal origin, a second
    one), then refilled when due, the dose creeping up over the years."""
    pump = demo.implant(volume="20" if _small(demo.patient) else "40")
    demo.titrate(pump, steps=2 if demo.is_adult_on(demo.implanted_on) else 1)
    demo.keep_filled(pump, until=demo.today)


def refill_overdue(demo: _Demo) -> None:
    """Refilled on time until the last fill, whose 180-day refill-due date passed 5 days ago
    (its alarm date is still ahead: a 40 mL fill at 2000 mcg/mL lasts longer than 180 days)."""
    pump = demo.implant()
    demo.titrate(pump, steps=2)
    last_on = demo.last_refill_on(pump, passed="refill_due_on", days_ago=5)
    demo.keep_filled(pump, until=last_on, book_last=False, drift=False)
    demo.refill(pump, on=last_on)


def past_alarm_date(demo: _Demo) -> None:
    """A 20 mL pump at 500 mcg/mL, refilled on time until the last fill: its alarm date
    passed 5 days ago and no refill is booked."""
    pump = demo.implant(volume="20", concentration="500")
    demo.titrate(pump, steps=2)
    last_on = demo.last_refill_on(pump, passed="alarm_date", days_ago=5, concentration="500")
    demo.keep_filled(pump, until=last_on, concentration="500", book_last=False, drift=False)
    demo.refill(pump, on=last_on, concentration="500")


def battery_replacement_indicator(demo: _Demo) -> None:
    """A SynchroMed II near its 7 years that signalled ERI 20 days ago: end of service in 70 days."""
    pump = demo.implant()
    demo.titrate(pump, steps=2)
    demo.keep_filled(pump, until=demo.today)
    pump.refresh_from_db()
    pump.eri_on = demo.ago(20)
    services.pump_update(pump, by=demo.nurse, expected_version=pump.version, reason="ERI seen at interrogation")


def battery_nominal_life(demo: _Demo) -> None:
    """A SynchroMed II with no ERI seen yet, four months from its nominal 7 years: the
    replacement is planned from the catalogue's battery life alone."""
    pump = demo.implant()
    demo.titrate(pump, steps=2)
    demo.keep_filled(pump, until=demo.today)


def prometra_maintenance(demo: _Demo) -> None:
    """A Prometra II (3.0 mL alarm volume; off-label, with the reason, below 22) in maintenance."""
    pump = demo.implant(model="Prometra II", volume="20")
    demo.titrate(pump, steps=2)
    demo.keep_filled(pump, until=demo.today)


def explanted(demo: _Demo) -> None:
    """Two years of refills, then a deep pocket infection: pump and catheter removed."""
    pump = demo.implant()
    demo.titrate(pump, steps=2)
    explant_on = demo.ago(400)
    demo.keep_filled(pump, until=explant_on, book_last=False)
    services.pump_explant(
        pump,
        by=demo.surgeon,
        surgery=SurgeryDetails(
            performed_on=explant_on,
            surgeon=demo.surgeon,
            complications=[Complication.INFECTION, Complication.WOUND_BREAKDOWN],
            notes="Deep pocket infection; pump and catheter removed.",
        ),
        today=demo.today,
    )


def replaced(demo: _Demo) -> None:
    """An elective replacement at ERI 500 days ago; the new pump is refilled when due since."""
    old = demo.implant()
    demo.titrate(old, steps=2)
    replaced_on = demo.ago(500)
    demo.keep_filled(old, until=replaced_on, book_last=False)
    demo.drug = "gablofen"
    new = services.pump_replace(
        old,
        new_pump=Pump(
            model=PumpModel.objects.get(model="SynchroMed II"), serial_number=demo.serial(), reservoir_volume_ml=D(40)
        ),
        by=demo.surgeon,
        surgery=SurgeryDetails(performed_on=replaced_on, surgeon=demo.surgeon, notes="Elective replacement at ERI"),
        first_fill=FillDetails(volume_added_ml=D(40), drug=demo.drug, concentration_mcg_per_ml=D(2000), lot_number="G"),
        today=demo.today,
    )
    demo.last_on = replaced_on
    demo.keep_filled(new, until=demo.today)


def delivery_deviation(demo: _Demo) -> None:
    """The last refill, 20 days ago, found much less drug left than expected (over-delivery, flagged)."""
    pump = demo.implant()
    demo.titrate(pump, steps=2)
    last_on = demo.ago(20)
    demo.keep_filled(pump, until=last_on, book_last=False)
    due_on = demo.preview(pump, last_on, demo.fill(pump, "2000")).refill.refill_due_on
    demo.refill(pump, on=last_on, aspirated="1", next_on=due_on)


def _small(patient: Patient) -> bool:
    """A small child gets the 20 mL SynchroMed II."""
    return patient.weight_kg is not None and patient.weight_kg < 25


STORIES: list[Story] = [
    Story(titration_visit_today, days_ago=21),
    Story(maintenance, days_ago=730),
    Story(refill_overdue, days_ago=600, overdue=True),
    Story(past_alarm_date, days_ago=280, overdue=True),
    Story(battery_replacement_indicator, months_ago=82),
    Story(explanted, days_ago=1100),
    Story(replaced, months_ago=90),
    Story(titration_visit_this_week, days_ago=45),
    Story(delivery_deviation, days_ago=400),
    Story(battery_nominal_life, months_ago=80),
    Story(prometra_maintenance, days_ago=700),
]
# Implanted from five months to three years ago: a caseload that grew over the years.
MAINTENANCE_DAYS_AGO = (150, 420, 630, 240, 880, 300, 520, 190, 760, 350, 1000)


def story_for(index: int) -> Story:
    """The ``index``-th pumped patient's story: one of each situation first, then maintenance."""
    if index < len(STORIES):
        return STORIES[index]
    extra = index - len(STORIES)
    return Story(maintenance, days_ago=MAINTENANCE_DAYS_AGO[extra % len(MAINTENANCE_DAYS_AGO)])


def seed_pumps(*, staff: dict[str, User], patients: list[Patient], today: dt.date) -> None:
    """Give each patient a pump story (``story_for``), in the order given."""
    for index, patient in enumerate(patients):
        story = story_for(index)
        story.tell(_Demo(patient=patient, staff=staff, today=today, story=story))
