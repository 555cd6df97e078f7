"""The demo caseload: staff logins per role and patients at every stage (used by seed_demo)."""

from __future__ import annotations

import datetime as dt
import random

import factory
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import User

from patients.models import Diagnosis, Patient, Referral
from spasticity.roles import Role

DEMO_STAFF = {
    Role.REHAB_DOCTOR: ("doctor", "Dana", "Doyle"),
    Role.PUMP_NURSE: ("nurse", "Nia", "Nash"),
    Role.PHYSICAL_THERAPIST: ("therapist", "Pat", "Parker"),
    Role.NEUROSURGEON: ("surgeon", "Sam", "Singh"),
    Role.ADMINISTRATOR: ("admin", "Ada", "Adams"),
}
SECOND_NURSE = ("nurse2", "Noor", "Nolan")


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


def seed_patients(*, staff: dict[str, User], count: int, today: dt.date) -> list[Patient]:
    """Patients with caregivers, oral medicines and a referral each, spread over diagnoses."""
    from tests.factories import CaregiverFactory, OralMedicineFactory, PatientFactory, ReferralFactory

    rng = random.Random(2026)  # noqa: S311  (demo data, not security)
    diagnoses = [Diagnosis.CEREBRAL_PALSY] * 6 + [
        Diagnosis.SPINAL_CORD_INJURY,
        Diagnosis.BRAIN_INJURY,
        Diagnosis.MULTIPLE_SCLEROSIS,
        Diagnosis.HEREDITARY_SPASTIC_PARAPLEGIA,
    ]
    nurses = [staff["pump_nurse"], staff["pump_nurse_2"]]
    patients = []
    for index in range(count):
        patient: Patient = PatientFactory.create(
            diagnosis=diagnoses[index % len(diagnoses)],
            assigned_doctor=staff["rehab_doctor"],
            assigned_nurse=nurses[index % 2],
        )
        CaregiverFactory(patient=patient)
        OralMedicineFactory(patient=patient)
        # Accepted two to eight weeks after it came in; align_referrals_with_history moves it
        # before the patient's first trial or implant once those are seeded.
        received_on = today - dt.timedelta(days=rng.randint(200, 400))
        ReferralFactory(
            patient=patient,
            received_on=received_on,
            status=Referral.Status.ACCEPTED,
            decided_on=received_on + dt.timedelta(days=rng.randint(14, 56)),
            decided_by=staff["rehab_doctor"],
        )
        patients.append(patient)
    return patients


def seed_referral_stages(*, staff: dict[str, User], today: dt.date) -> None:
    """New referrals waiting in the inbox, and one declined."""
    from tests.factories import CaregiverFactory, PatientFactory, ReferralFactory

    for days_ago in (2, 5, 9):
        new_patient: Patient = PatientFactory.create(
            assigned_nurse=staff["pump_nurse"], assigned_doctor=staff["rehab_doctor"]
        )
        CaregiverFactory(patient=new_patient)
        ReferralFactory(patient=new_patient, received_on=today - dt.timedelta(days=days_ago))
    declined: Patient = PatientFactory.create(assigned_nurse=staff["pump_nurse_2"])
    ReferralFactory(
        patient=declined,
        received_on=today - dt.timedelta(days=60),
        status=Referral.Status.DECLINED,
        decline_reason="Family chose to continue oral medicines and botulinum toxin for now.",
        decided_on=today - dt.timedelta(days=40),
        decided_by=staff["rehab_doctor"],
    )


def align_referrals_with_history(*, staff: dict[str, User]) -> None:
    """Move each demo referral to before the patient's first trial or implant.

    The pump and trial stories reach back up to ten years; a referral decided after the
    implant it led to would make the demo's timelines nonsense.
    """
    from patients.selectors import patient_timeline
    from spasticity.audit import audited_save

    rng = random.Random(2027)  # noqa: S311  (demo data, not security)
    for patient in Patient.objects.prefetch_related("referrals"):
        clinical_dates = [event.on for event in patient_timeline(patient) if event.kind != "referral"]
        if not clinical_dates:
            continue
        first_event_on = min(clinical_dates)
        for referral in patient.referrals.all():
            if referral.decided_on is None or referral.decided_on < first_event_on:
                continue
            referral.received_on = first_event_on - dt.timedelta(days=rng.randint(90, 200))
            referral.decided_on = referral.received_on + dt.timedelta(days=rng.randint(14, 56))
            audited_save(referral, by=staff["rehab_doctor"], reason="Demo data: referral precedes the treatment")
