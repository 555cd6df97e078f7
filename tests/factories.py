"""Factories shared by the tests and the demo seeder (one place for test data)."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType

from patients.models import Caregiver, Diagnosis, OralMedicine, Patient, Referral, Sex
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
    given_name = factory.Faker("first_name")
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
