"""The demo caseload: staff logins per role and patients a clinician would believe (used by seed_demo).

Believable means: a first name that matches the patient's sex (and roughly their
generation); weight and height between the 3rd and 97th centiles for age and sex
(children with cerebral palsy at GMFCS IV–V towards the lower centiles, as they are);
a diagnosis that fits the age (cerebral palsy from childhood; multiple sclerosis, spinal
cord injury, brain injury and stroke in adults or older teenagers; nobody trialled before
4, below which intrathecal baclofen's safety is not established); and a referral that
comes months before the patient's first trial.
"""

from __future__ import annotations

import datetime as dt
import random
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import factory
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User

from patients.models import Diagnosis, Patient, Referral, Sex
from patients.services import caregiver_save, oral_medicine_save, patient_save, referral_decide, referral_save
from spasticity.roles import Role

# The "why" of every record the demo writes through the services.
DEMO_REASON = "Demo caseload"

DEMO_STAFF = {
    Role.REHAB_DOCTOR: ("doctor", "Dana", "Doyle"),
    Role.PUMP_NURSE: ("nurse", "Nia", "Nash"),
    Role.PHYSICAL_THERAPIST: ("therapist", "Pat", "Parker"),
    Role.NEUROSURGEON: ("surgeon", "Sam", "Singh"),
    Role.ADMINISTRATOR: ("admin", "Ada", "Adams"),
}
SECOND_NURSE = ("nurse2", "Noor", "Nolan")

# --- Names ---------------------------------------------------------------------------
# First names by sex, and by generation (born in 2000 or later, or before), so that a
# 60-year-old is not called Poppy. A UK caseload: the phones are 07700 900xxx numbers.
YOUNG_BORN_FROM_YEAR = 2000


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


FIRST_NAMES: dict[str, dict[bool, tuple[str, ...]]] = {
    Sex.FEMALE: {
        True: _words(
            "Amelia Olivia Isla Ava Mia Freya Grace Lily Sophie Ella Evie Ruby Chloe Aisha Zara Maryam Priya "
            "Hannah Niamh Orla Amara Leah Poppy Erin Layla Rosie Imogen Harriet Zainab Maya"
        ),
        False: _words(
            "Sarah Claire Helen Rachel Joanne Karen Fiona Susan Nicola Amanda Deborah Angela Louise Julie "
            "Margaret Elaine Nasreen Patricia Gillian Ruth"
        ),
    },
    Sex.MALE: {
        True: _words(
            "Oliver Harry Jack Noah Leo Oscar Arthur Alfie Theo Finley Ethan Mohammed Yusuf Ibrahim Reuben "
            "Callum Kian Rhys Dylan Samuel Joshua Adam Tobias Max Kofi Ezra Logan Aaron Rory Hamza"
        ),
        False: _words(
            "David Paul Mark Andrew Richard Stephen Neil Gary Ian Martin Graham Simon Anthony Kevin Tariq "
            "Colin Peter Raj Michael Trevor"
        ),
    },
}
# No staff surnames (Doyle, Nash, Parker, Singh, Adams, Nolan): a patient sharing the
# nurse's name would confuse the demo's lists.
FAMILY_NAMES = _words(
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Patel Khan Robinson Wright Thompson Evans "
    "Walker White Roberts Green Hall Wood Jackson Clarke Hussain Ali Okafor Mensah Murphy Kowalski Nowak "
    "Campbell Stewart Hughes Edwards Turner Hill Moore Cooper Ward Morris King Harris Baker Begum Shah "
    "Ahmed Mitchell Kelly Lewis Young Osei"
)


def first_names(sex: str) -> frozenset[str]:
    """Every first name the demo gives a patient of that sex (any generation)."""
    return frozenset(name for names in FIRST_NAMES[sex].values() for name in names)


# --- Growth -----------------------------------------------------------------------------
# 3rd and 97th centiles by age, rounded from the CDC 2000 growth charts (2–20 years); adults
# from population survey ranges. Columns: age (years), height 3rd, height 97th (cm),
# weight 3rd, weight 97th (kg). Between two rows the range is interpolated.
GROWTH_CENTILES: dict[str, tuple[tuple[float, float, float, float, float], ...]] = {
    Sex.FEMALE: (
        (4, 94.0, 109.5, 13.0, 20.5),
        (6, 105.5, 124.0, 16.0, 27.5),
        (8, 116.0, 136.0, 19.5, 37.0),
        (10, 126.0, 149.0, 24.0, 48.0),
        (12, 138.0, 163.0, 29.5, 60.0),
        (14, 148.0, 170.5, 36.0, 70.0),
        (16, 151.0, 173.0, 41.0, 76.0),
        (18, 152.0, 174.0, 43.0, 80.0),
        (20, 150.0, 176.0, 45.0, 100.0),
    ),
    Sex.MALE: (
        (4, 95.0, 110.5, 13.5, 20.5),
        (6, 106.5, 124.5, 16.5, 27.0),
        (8, 117.0, 136.5, 20.0, 35.5),
        (10, 126.0, 148.0, 24.5, 46.0),
        (12, 136.0, 161.0, 29.5, 59.0),
        (14, 149.0, 176.0, 37.0, 72.0),
        (16, 160.0, 185.0, 46.0, 84.0),
        (18, 163.0, 188.0, 52.0, 92.0),
        (20, 163.0, 190.0, 55.0, 115.0),
    ),
}


@dataclass(frozen=True)
class GrowthRange:
    """The 3rd to 97th centile height and weight at one age."""

    height_cm: tuple[float, float]
    weight_kg: tuple[float, float]


def growth_range(sex: str, age_years: float) -> GrowthRange:
    """The centile range at ``age_years`` (clamped to the table's 4 to 20 years)."""
    rows = GROWTH_CENTILES[sex]
    ages = [row[0] for row in rows]
    age = min(max(age_years, ages[0]), ages[-1])
    upper = min(bisect_right(ages, age), len(rows) - 1)
    low, high = rows[upper - 1], rows[upper]
    share = (age - low[0]) / (high[0] - low[0])
    h3, h97, w3, w97 = (a + (b - a) * share for a, b in zip(low[1:], high[1:], strict=True))
    return GrowthRange(height_cm=(h3, h97), weight_kg=(w3, w97))


def age_in_years(birth_date: dt.date, on: dt.date) -> float:
    return (on - birth_date).days / 365.25


def _within(value: float, bounds: tuple[float, float]) -> Decimal:
    """``value`` to one decimal, kept inside ``bounds`` after rounding."""
    low = Decimal(str(bounds[0])).quantize(Decimal("0.1"), ROUND_CEILING)
    high = Decimal(str(bounds[1])).quantize(Decimal("0.1"), ROUND_FLOOR)
    return min(max(Decimal(str(value)).quantize(Decimal("0.1")), low), high)


def _measurements(
    rng: random.Random, sex: str, age_years: float, centile_band: tuple[float, float]
) -> tuple[Decimal, Decimal]:
    """(weight kg, height cm) at a position in the 3rd–97th range (0 = 3rd, 1 = 97th).

    Weight follows height's position, give or take, so that the two make a plausible build.
    """
    growth = growth_range(sex, age_years)
    height_at = rng.uniform(*centile_band)
    weight_at = min(max(height_at + rng.uniform(-0.15, 0.15), centile_band[0]), centile_band[1])
    (h3, h97), (w3, w97) = growth.height_cm, growth.weight_kg
    return _within(w3 + (w97 - w3) * weight_at, growth.weight_kg), _within(
        h3 + (h97 - h3) * height_at, growth.height_cm
    )


# --- Diagnoses and ages ---------------------------------------------------------------
# Age (whole years) at the first trial, by diagnosis: cerebral palsy from childhood (never
# before 4); hereditary spastic paraplegia from late childhood; the acquired conditions in
# adults (brain injury from 17: a road accident in a teenager is the typical story).
FIRST_TRIAL_AGE_YEARS: dict[str, tuple[int, int]] = {
    Diagnosis.CEREBRAL_PALSY: (4, 15),
    Diagnosis.HEREDITARY_SPASTIC_PARAPLEGIA: (10, 45),
    Diagnosis.BRAIN_INJURY: (17, 50),
    Diagnosis.SPINAL_CORD_INJURY: (18, 55),
    Diagnosis.MULTIPLE_SCLEROSIS: (30, 60),
    Diagnosis.STROKE: (40, 70),
}
# A mixed spasticity service: about half the caseload has cerebral palsy.
DIAGNOSIS_CYCLE = (
    Diagnosis.CEREBRAL_PALSY,
    Diagnosis.SPINAL_CORD_INJURY,
    Diagnosis.CEREBRAL_PALSY,
    Diagnosis.MULTIPLE_SCLEROSIS,
    Diagnosis.CEREBRAL_PALSY,
    Diagnosis.BRAIN_INJURY,
    Diagnosis.CEREBRAL_PALSY,
    Diagnosis.HEREDITARY_SPASTIC_PARAPLEGIA,
    Diagnosis.CEREBRAL_PALSY,
    Diagnosis.CEREBRAL_PALSY,
    Diagnosis.STROKE,
    Diagnosis.CEREBRAL_PALSY,
)
# Who has the condition: multiple sclerosis is about three times as common in women, spinal
# cord injury four times as common in men; the others about even.
FEMALE_SHARE: dict[str, float] = {Diagnosis.MULTIPLE_SCLEROSIS: 0.7, Diagnosis.SPINAL_CORD_INJURY: 0.2}
# ITB pumps are mostly for GMFCS IV–V; the level is a cerebral palsy classification only.
GMFCS_CYCLE = (4, 5, 4, 3, 5, 4, 5)
ADULT_AGE_YEARS = 18
REFERRAL_REASONS: dict[str, str] = {
    Diagnosis.CEREBRAL_PALSY: "Generalised spasticity limiting care and seating despite oral baclofen.",
    Diagnosis.HEREDITARY_SPASTIC_PARAPLEGIA: "Progressive lower-limb spasticity limiting walking; oral baclofen "
    "causes drowsiness.",
    Diagnosis.BRAIN_INJURY: "Severe spasticity after brain injury limiting positioning, hygiene and seating.",
    Diagnosis.SPINAL_CORD_INJURY: "Painful lower-limb spasms disturbing sleep and transfers despite maximum oral "
    "baclofen and tizanidine.",
    Diagnosis.MULTIPLE_SCLEROSIS: "Lower-limb spasticity and spasms; oral baclofen limited by fatigue and drowsiness.",
    Diagnosis.STROKE: "Spasticity after stroke limiting care, seating and transfers despite oral treatment.",
}


@dataclass(frozen=True)
class Person:
    """Who a demo patient is: everything but the records of their care."""

    sex: str
    given_name: str
    family_name: str
    birth_date: dt.date
    diagnosis: str
    gmfcs_level: int | None
    weight_kg: Decimal
    height_cm: Decimal

    def age_on(self, on: dt.date) -> float:
        return age_in_years(self.birth_date, on)


class People:
    """Draws demo patients: no two share a full name; a fixed seed, so every demo is the same."""

    def __init__(self, seed: int = 2026) -> None:
        self.rng = random.Random(seed)  # noqa: S311  (demo data, not security)
        self.used_names: set[tuple[str, str]] = set()
        self.drawn = 0
        # Names are dealt from shuffled decks, so that a caseload of forty does not have five Wards.
        self.decks: dict[tuple[str, ...], list[str]] = {}

    def person(self, *, diagnosis: str, first_trial_on: dt.date, today: dt.date) -> Person:
        """Someone with ``diagnosis`` of a fitting age on their first trial day, as they are ``today``."""
        rng = self.rng
        sex = Sex.FEMALE if rng.random() < FEMALE_SHARE.get(diagnosis, 0.5) else Sex.MALE
        gmfcs = GMFCS_CYCLE[self.drawn % len(GMFCS_CYCLE)] if diagnosis == Diagnosis.CEREBRAL_PALSY else None
        self.drawn += 1
        youngest, oldest = FIRST_TRIAL_AGE_YEARS[diagnosis]
        age_days = rng.randint(int(youngest * 365.25) + 30, int((oldest + 1) * 365.25) - 30)
        birth_date = first_trial_on - dt.timedelta(days=age_days)
        given, family = self._name(sex, born_young=birth_date.year >= YOUNG_BORN_FROM_YEAR)
        weight_kg, height_cm = _measurements(rng, sex, age_in_years(birth_date, today), _centile_band(gmfcs))
        return Person(sex, given, family, birth_date, diagnosis, gmfcs, weight_kg, height_cm)

    def _deal(self, names: tuple[str, ...]) -> str:
        deck = self.decks.setdefault(names, [])
        if not deck:
            deck.extend(self.rng.sample(names, len(names)))
        return deck.pop()

    def _name(self, sex: str, *, born_young: bool) -> tuple[str, str]:
        while True:
            name = (self._deal(FIRST_NAMES[sex][born_young]), self._deal(FAMILY_NAMES))
            if name not in self.used_names:
                self.used_names.add(name)
                return name

    def female_name(self, family_name: str) -> str:
        return f"{self.rng.choice(FIRST_NAMES[Sex.FEMALE][False])} {family_name}"

    def male_name(self, family_name: str) -> str:
        return f"{self.rng.choice(FIRST_NAMES[Sex.MALE][False])} {family_name}"


def _centile_band(gmfcs_level: int | None) -> tuple[float, float]:
    """Where on the 3rd–97th range a patient sits: children who cannot walk grow smaller."""
    if gmfcs_level is not None and gmfcs_level >= 4:
        return (0.0, 0.35)
    if gmfcs_level == 3:
        return (0.1, 0.6)
    return (0.1, 0.9)


# --- Seeding ---------------------------------------------------------------------------


def seed_staff() -> dict[str, User]:
    from tests.factories import DEMO_PASSWORD, UserFactory

    # Every demo login has the same published password: hash it once (a slow hash by design,
    # about 0.15 s each), not once per login. Force: the factory would hash it again.
    password = factory.Transformer.Force(make_password(DEMO_PASSWORD))
    staff: dict[str, User] = {}
    for role, (username, first, last) in DEMO_STAFF.items():
        staff[role.value] = UserFactory.create(
            username=username, first_name=first, last_name=last, role=role, password=password
        )
    username, first, last = SECOND_NURSE
    staff["pump_nurse_2"] = UserFactory.create(
        username=username, first_name=first, last_name=last, role=Role.PUMP_NURSE, password=password
    )
    return staff


def seed_patients(
    *,
    staff: dict[str, User],
    count: int,
    today: dt.date,
    first_trial_on: Sequence[dt.date] | None = None,
    people: People | None = None,
) -> list[Patient]:
    """Patients with a caregiver, an oral medicine and an accepted referral each.

    ``first_trial_on``: each patient's first trial day (default: two months ago), so that
    their age fits it and their referral comes months before it.
    """
    people = people or People()
    nurses = [staff["pump_nurse"], staff["pump_nurse_2"]]
    patients = []
    for index in range(count):
        trial_on = first_trial_on[index] if first_trial_on else today - dt.timedelta(days=60)
        person = people.person(
            diagnosis=DIAGNOSIS_CYCLE[index % len(DIAGNOSIS_CYCLE)], first_trial_on=trial_on, today=today
        )
        patient = _create_patient(
            person, doctor=staff["rehab_doctor"], nurse=nurses[index % 2], people=people, today=today
        )
        _accepted_referral(patient, person, before=trial_on, doctor=staff["rehab_doctor"], rng=people.rng)
        patients.append(patient)
    return patients


def _create_patient(person: Person, *, doctor: User | None, nurse: User, people: People, today: dt.date) -> Patient:
    """The patient, one caregiver and their oral baclofen, registered by the pump nurse through the
    services (audited with who and why, the care team checked). The factories only fill in an MRN
    and a phone number; they save nothing."""
    from tests.factories import CaregiverFactory, OralMedicineFactory, PatientFactory

    patient: Patient = PatientFactory.build(
        given_name=person.given_name,
        family_name=person.family_name,
        birth_date=person.birth_date,
        sex=person.sex,
        diagnosis=person.diagnosis,
        gmfcs_level=person.gmfcs_level,
        weight_kg=person.weight_kg,
        height_cm=person.height_cm,
        assigned_doctor=doctor,
        assigned_nurse=nurse,
    )
    patient_save(patient, by=nurse, reason=DEMO_REASON)
    name, relationship, guardian = _caregiver(person, people, today=today)
    caregiver = CaregiverFactory.build(
        patient=patient, name=name, relationship=relationship, is_legal_guardian=guardian
    )
    caregiver_save(caregiver, by=nurse, reason=DEMO_REASON)
    medicine = OralMedicineFactory.build(patient=patient, dose_description=_oral_baclofen(person, today=today))
    oral_medicine_save(medicine, by=nurse, reason=DEMO_REASON)
    return patient


def _caregiver(person: Person, people: People, *, today: dt.date) -> tuple[str, str, bool]:
    """(name, relationship, legal guardian): a parent for a child, a partner or family for an adult."""
    family = person.family_name
    if person.age_on(today) < ADULT_AGE_YEARS:
        choice = people.rng.randrange(6)
        if choice < 3:
            return people.female_name(family), "mother", True
        if choice < 5:
            return people.male_name(family), "father", True
        return people.female_name(people.rng.choice(FAMILY_NAMES)), "foster carer", False
    if person.age_on(today) < 30:
        return people.female_name(family), "mother", False
    if person.sex == Sex.FEMALE:
        return people.male_name(family), "husband", False
    return people.female_name(family), "wife", False


def _oral_baclofen(person: Person, *, today: dt.date) -> str:
    if person.age_on(today) >= ADULT_AGE_YEARS:
        return "20 mg three times a day"
    return "5 mg three times a day" if person.weight_kg < 20 else "10 mg three times a day"


ADULT_REFERRERS: dict[str, str] = {
    Diagnosis.SPINAL_CORD_INJURY: "Spinal injuries unit",
    Diagnosis.MULTIPLE_SCLEROSIS: "Neurology",
    Diagnosis.BRAIN_INJURY: "Neurorehabilitation",
    Diagnosis.STROKE: "Stroke rehabilitation",
}


def _referring_service(person: Person, on: dt.date) -> str:
    if person.age_on(on) < 16:
        return "Community paediatrics" if person.diagnosis == Diagnosis.CEREBRAL_PALSY else "Paediatric neurology"
    return ADULT_REFERRERS.get(person.diagnosis, "Adult neurology")


def _accepted_referral(patient: Patient, person: Person, *, before: dt.date, doctor: User, rng: random.Random) -> None:
    """Received two to seven months before the first trial, accepted two to eight weeks later."""
    received_on = before - dt.timedelta(days=rng.randint(70, 210))
    referral = _received_referral(patient, person, received_on=received_on, by=doctor)
    referral_decide(
        referral, by=doctor, status=Referral.Status.ACCEPTED, today=received_on + dt.timedelta(days=rng.randint(14, 56))
    )


def _received_referral(patient: Patient, person: Person, *, received_on: dt.date, by: User) -> Referral:
    """A new referral, recorded through ``referral_save`` (the factory only names the referring clinician)."""
    from tests.factories import ReferralFactory

    referral: Referral = ReferralFactory.build(
        patient=patient,
        received_on=received_on,
        referring_service=_referring_service(person, received_on),
        reason=REFERRAL_REASONS[person.diagnosis],
    )
    return referral_save(referral, by=by, reason=DEMO_REASON)


def seed_referral_stages(*, staff: dict[str, User], today: dt.date, people: People | None = None) -> None:
    """New referrals waiting in the inbox, and one declined."""
    people = people or People(seed=2027)
    doctor = staff["rehab_doctor"]
    for index, days_ago in enumerate((2, 5, 9)):
        received_on = today - dt.timedelta(days=days_ago)
        # Their first trial would be a couple of months away: an age that fits it.
        person = people.person(
            diagnosis=DIAGNOSIS_CYCLE[index * 3 % len(DIAGNOSIS_CYCLE)],
            first_trial_on=today + dt.timedelta(days=60),
            today=today,
        )
        new_patient = _create_patient(person, doctor=doctor, nurse=staff["pump_nurse"], people=people, today=today)
        _received_referral(new_patient, person, received_on=received_on, by=staff["pump_nurse"])
    person = people.person(diagnosis=Diagnosis.CEREBRAL_PALSY, first_trial_on=today, today=today)
    declined = _create_patient(person, doctor=None, nurse=staff["pump_nurse_2"], people=people, today=today)
    referral = _received_referral(declined, person, received_on=today - dt.timedelta(days=60), by=staff["pump_nurse_2"])
    referral_decide(
        referral,
        by=doctor,
        status=Referral.Status.DECLINED,
        decline_reason="Family chose to continue oral medicines and botulinum toxin for now.",
        today=today - dt.timedelta(days=40),
    )
