"""Factories shared by the tests and the demo seeder (one place for test data)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType

from patients.models import Caregiver, Diagnosis, OralMedicine, Patient, Referral, Sex
from pumps.models import DoseChange, Pump, PumpModel, Refill
from spasticity.roles import Role, sync_role_groups

DEMO_PASSWORD = "itb-demo-2026"


def assign_role(user: User, create: bool, role: Role | str | None) -> None:
    """Put the user in their role's group (``UserFactory(role=Role.PUMP_NURSE)``)."""
    if not (create and role):
        return
    if not Group.objects.filter(name=str(role)).exists():
        # A transactional test's flush emptied the groups the migration made.
        sync_role_groups(Group, Permission, ContentType)
    user.groups.add(Group.objects.get(name=str(role)))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    email = factory.LazyAttribute(lambda u: f"{u.username}@clinic.example")
    password = factory.django.Password(DEMO_PASSWORD)

    role = factory.PostGeneration(lambda user, create, extracted, **kwargs: assign_role(user, create, extracted))


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    mrn = factory.Sequence(lambda n: f"MRN{100000 + n}")
    # A first name that matches the sex (a "Female" David is the first thing a clinician notices).
    given_name = factory.Maybe(
        factory.LazyAttribute(lambda o: o.sex == Sex.FEMALE),
        yes_declaration=factory.Faker("first_name_female"),
        no_declaration=factory.Maybe(
            factory.LazyAttribute(lambda o: o.sex == Sex.MALE),
            yes_declaration=factory.Faker("first_name_male"),
            no_declaration=factory.Faker("first_name"),
        ),
    )
    family_name = factory.Faker("last_name")
    birth_date = factory.Faker("date_between", start_date=dt.date(2008, 1, 1), end_date=dt.date(2021, 12, 31))
    sex = factory.Iterator([Sex.FEMALE, Sex.MALE])
    diagnosis = Diagnosis.CEREBRAL_PALSY
    gmfcs_level = factory.Iterator([4, 5, 3, 5, 4])
    weight_kg = factory.Faker("pydecimal", left_digits=2, right_digits=1, min_value=12, max_value=60)
    height_cm = factory.Faker("pydecimal", left_digits=3, right_digits=1, min_value=90, max_value=170)


class CaregiverFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Caregiver

    patient = factory.SubFactory(PatientFactory)
    name = factory.Faker("name")
    relationship = factory.Iterator(["mother", "father", "grandmother", "foster carer"])
    phone = factory.Sequence(lambda n: f"07700 900{n % 1000:03d}")
    is_legal_guardian = True


class OralMedicineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OralMedicine

    patient = factory.SubFactory(PatientFactory)
    drug = OralMedicine.Drug.BACLOFEN
    dose_description = "10 mg three times a day"
    wean_plan = "Reduce by 25% every two weeks once the pump dose is stable."


class ReferralFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Referral

    patient = factory.SubFactory(PatientFactory)
    received_on = factory.LazyFunction(lambda: dt.date.today() - dt.timedelta(days=30))
    referring_clinician = factory.Faker("name")
    referring_service = factory.Iterator(["Community paediatrics", "Orthopaedics", "Neurology"])
    reason = "Generalised spasticity limiting care and seating despite oral baclofen."


# --- Pumps (appended by the pumps issue). Pumps, dose changes and refills are created
# through pumps.services, so their stored projection is always right.


class PumpModelFactory(factory.django.DjangoModelFactory):
    """A catalogue entry; by default the seeded Medtronic SynchroMed II."""

    class Meta:
        model = PumpModel
        django_get_or_create = ("manufacturer", "model")

    manufacturer = "Medtronic"
    model = "SynchroMed II"
    reservoir_sizes_ml = factory.LazyFunction(lambda: [20, 40])
    nominal_battery_life_months = 84
    days_eri_to_eos = 90


class PumpFactory(factory.Factory):
    """An implanted pump with its first program and first fill (the spec's worked example)."""

    class Meta:
        model = Pump

    patient = factory.SubFactory(PatientFactory)
    model = factory.SubFactory(PumpModelFactory)
    serial_number = factory.Sequence(lambda n: f"NGP{200000 + n}H")
    reservoir_volume_ml = Decimal("40")
    low_reservoir_alarm_ml = Decimal("2.0")
    implanted_on = dt.date(2024, 1, 15)
    pump_site = "Right lower abdomen, subfascial"
    catheter_model = "8781 Ascenda"
    catheter_tip_level = "T10"
    by = factory.SubFactory(UserFactory, role=Role.NEUROSURGEON)
    daily_dose_mcg: Any = Decimal("500")
    volume_added_ml: Any = Decimal("40")
    concentration_mcg_per_ml = Decimal("2000")
    drug = "lioresal"
    lot_number = factory.Sequence(lambda n: f"LOT{n:05d}")
    # The day the implant is entered (its alerts are computed as of then): by default the
    # implant day itself; pass today=... to enter an old implant now.
    today: Any = factory.LazyAttribute(lambda o: o.implanted_on)

    @classmethod
    def _build(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        kwargs.pop("today")
        for name in ("by", "daily_dose_mcg", "volume_added_ml", "concentration_mcg_per_ml", "drug", "lot_number"):
            kwargs.pop(name)
        return model_class(**kwargs)

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        from pumps.services import FillDetails, ProgramDetails, pump_implant

        by, dose, volume = kwargs.pop("by"), kwargs.pop("daily_dose_mcg"), kwargs.pop("volume_added_ml")
        today = kwargs.pop("today")
        fill = {name: kwargs.pop(name) for name in ("concentration_mcg_per_ml", "drug", "lot_number")}
        program = ProgramDetails(daily_dose_mcg=Decimal(dose), reason="Starting dose") if dose is not None else None
        first_fill = FillDetails(volume_added_ml=Decimal(volume), **fill) if volume is not None else None
        return pump_implant(model_class(**kwargs), by=by, first_program=program, first_fill=first_fill, today=today)


class DoseChangeFactory(factory.Factory):
    """A dose change recorded through ``pumps.services.dose_change_record``."""

    class Meta:
        model = DoseChange

    pump = factory.SubFactory(PumpFactory)
    by = factory.SubFactory(UserFactory, role=Role.PUMP_NURSE)
    changed_on = factory.LazyAttribute(lambda o: o.pump.implanted_on + dt.timedelta(days=7))
    mode = "simple_continuous"
    daily_dose_mcg: Any = Decimal("550")
    flex_steps: Any = factory.LazyFunction(list)
    reason = "Titration: tone still high at the hips"
    confirmation_reason = ""
    next_visit_on = None

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        from pumps.services import dose_change_record

        return dose_change_record(**kwargs)


class RefillFactory(factory.Factory):
    """A refill recorded through ``pumps.services.refill_record``."""

    class Meta:
        model = Refill

    pump = factory.SubFactory(PumpFactory)
    by = factory.SubFactory(UserFactory, role=Role.PUMP_NURSE)
    refilled_on = factory.LazyAttribute(lambda o: o.pump.implanted_on + dt.timedelta(days=90))
    aspirated_volume_ml: Any = Decimal("17.5")
    volume_added_ml = Decimal("40")
    drug = "lioresal"
    concentration_mcg_per_ml = Decimal("2000")
    lot_number = factory.Sequence(lambda n: f"LOT{n:05d}R")
    reservoir_port_access_confirmed = True
    # What every refill at the pump must confirm before the visit ends (pumps.services._refill_visit_errors).
    pump_running_confirmed = True
    observation_minutes = 15
    observation_signs: Any = ("none_observed",)
    next_refill_appointment_on = None

    @classmethod
    def _create(cls, model_class: Any, *args: Any, **kwargs: Any) -> Any:
        from pumps.services import refill_record

        return refill_record(**kwargs)


# --- Trials and goals (trials app). Models by label: no imports needed down here. ---


def _clinic_today() -> dt.date:
    from spasticity.timeutil import clinic_today

    return clinic_today()


class TrialFactory(factory.django.DjangoModelFactory):
    """A trial day with no scores yet, performed yesterday at 50 mcg."""

    class Meta:
        model = "trials.Trial"

    patient = factory.SubFactory(PatientFactory)
    performed_on = factory.LazyFunction(lambda: _clinic_today() - dt.timedelta(days=1))
    planned_start_time = dt.time(7, 30)
    bolus_dose_mcg = Decimal("50")
    route = "lumbar_puncture"
    team_present = "Dr Doyle (rehab), N. Nash (nurse), P. Parker (PT)"


class ToneAssessmentFactory(factory.django.DjangoModelFactory):
    """One Modified Ashworth grade on the tone grid (baseline hip adductors, left, unless told)."""

    class Meta:
        model = "trials.ToneAssessment"

    trial = factory.SubFactory(TrialFactory)
    muscle_group = "hip_adductors"
    side = "left"
    minutes_after_bolus = 0
    mas = "3"


class GoalFactory(factory.django.DjangoModelFactory):
    """An unweighted seating goal set a month ago, baseline −1."""

    class Meta:
        model = "trials.Goal"

    patient = factory.SubFactory(PatientFactory)
    domain = "seating"
    description = "Sits in her wheelchair through the school day"
    set_on = factory.LazyFunction(lambda: _clinic_today() - dt.timedelta(days=30))
    level_descriptions = factory.LazyFunction(
        lambda: {
            "-2": "Sits less than 1 hour",
            "-1": "Sits 1 to 3 hours (now)",
            "0": "Sits 3 to 5 hours",
            "1": "Sits 5 to 6 hours",
            "2": "Sits the whole school day",
        }
    )
    importance = None
    difficulty = None
    baseline_level = -1


class GoalReviewFactory(factory.django.DjangoModelFactory):
    """A review four weeks after the goal was set, at the expected level."""

    class Meta:
        model = "trials.GoalReview"

    goal = factory.SubFactory(GoalFactory)
    reviewed_on = factory.LazyAttribute(lambda o: o.goal.set_on + dt.timedelta(days=28))
    level = 0
