"""The role table (spec section 1): who writes what, as the migrated groups hold it.

``EXPECTED`` below is written from the spec, not from ``spasticity/roles.py``: the test
builds the matrix from the live groups' permissions, prints it (``pytest -s`` shows it)
and compares. A capability added to the code without a row here fails, as does a role
that quietly gains or loses one.

Voiding a patient or a trial is the rehab doctor's alone; the page, the API and the
service (``spasticity.audit.void_record``) each refuse everyone else.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from patients.models import Patient
from spasticity.audit import void_record
from spasticity.roles import CAPABILITIES, Role
from tests.factories import PatientFactory, PumpFactory, TrialFactory
from trials.models import Trial

pytestmark = pytest.mark.django_db

ROLES = [Role.REHAB_DOCTOR, Role.PUMP_NURSE, Role.PHYSICAL_THERAPIST, Role.NEUROSURGEON, Role.ADMINISTRATOR]

# Spec section 1, "writes" column. D = rehab_doctor ("everything clinical"), N = pump_nurse,
# T = physical_therapist, S = neurosurgeon, A = administrator ("no clinical values").
EXPECTED = """
capability              D N T S A   spec section 1
edit_patient            x x . . x   demographics: administrator; nurses register them with referrals, import (sec. 8)
edit_patient_clinical   x x . . .   oral medicines' wean plans go with the nurse's dose changes; clinical
manage_referral         x x . . x   referrals: nurse and administrator
plan_trial              x x . . .   the bolus dose is clinical: not admin
record_tone             x x x . .   tone assessments: nurse and therapist
sign_trial              x . . . .   "the only role that signs off a trial outcome"
void_patient            x . . . .   "Voiding a patient or a trial is the rehab doctor's alone"
void_trial              x . . . .   (same)
manage_goal             x x x . .   goals and goal reviews: nurse and therapist
record_surgery          x . . x .   implant, replacement, revision, explant: neurosurgeon
change_dose             x x . . .   dose changes: nurse
record_refill           x x . . .   refills: nurse
handle_alert            x x . . x   alert handling: nurse and administrator
edit_pump_catalogue     x . . . .   "the pump catalogue is clinical: the rehab doctor writes it"
schedule_visit          x x . . x   scheduling: administrator; nurses book their refill and titration visits (sec. 7)
import_caseload         x x . . .   "Rehab doctors and pump nurses import" (sec. 8): clinical values, not admin
book_appointment        x x . . x   "Booking and cancelling: nurses, doctors and administrators" (issue 12, sec. 7)
record_mri              x x . . .   MRI checklist and follow-up: the pump team's clinical work (issue 13)
manage_safety_notice    x x . . .   "Rehab doctors and nurses write these; everyone reads them" (issue 13)
"""


def expected_matrix() -> dict[str, set[Role]]:
    rows = [line.split() for line in EXPECTED.strip().splitlines()[1:]]
    return {row[0]: {role for role, cell in zip(ROLES, row[1:6], strict=True) if cell == "x"} for row in rows}


def live_matrix() -> dict[str, set[Role]]:
    """capability codename -> the roles whose migrated group holds its permission."""
    matrix: dict[str, set[Role]] = {}
    for role in ROLES:
        group = Group.objects.get(name=role.value)
        for codename in group.permissions.filter(content_type__app_label="spasticity").values_list(
            "codename", flat=True
        ):
            matrix.setdefault(codename, set()).add(role)
    for capability in CAPABILITIES:
        matrix.setdefault(capability.codename, set())
    return matrix


def render(matrix: dict[str, set[Role]]) -> str:
    header = f"{'capability':<24}" + " ".join(f"{role.value:>18}" for role in ROLES)
    lines = [header] + [
        f"{codename:<24}" + " ".join(f"{'x' if role in roles else '.':>18}" for role in ROLES)
        for codename, roles in sorted(matrix.items())
    ]
    return "\n".join(lines)


def test_the_migrated_groups_hold_exactly_the_specs_role_table():
    # No factory has run yet: these are the groups the data migrations left.
    live = live_matrix()
    print("\nRole matrix from the live groups:\n" + render(live))
    assert render(live) == render(expected_matrix())


def test_the_code_table_and_the_spec_table_name_the_same_capabilities():
    assert {capability.codename for capability in CAPABILITIES} == set(expected_matrix())


# --------------------------------------------------------------------------
# Voiding a patient or a trial: the rehab doctor's alone, on every path
# --------------------------------------------------------------------------

NOT_DOCTORS = ["pump_nurse", "administrator", "physical_therapist", "neurosurgeon"]


@pytest.fixture
def patient() -> Patient:
    return PatientFactory()  # no pump, so nothing else stops the void


@pytest.fixture
def trial(doctor) -> Trial:
    return TrialFactory()


def void_body(reason: str = "Registered twice") -> dict[str, str]:
    return {"reason": reason}


@pytest.mark.parametrize("role", NOT_DOCTORS)
def test_only_a_rehab_doctor_may_void_a_patient_through_the_api(api_as, personas, patient, role):
    response = api_as(personas[role]).post(f"/api/v1/patients/{patient.pk}/void/", void_body(), format="json")
    assert response.status_code == 403
    assert not Patient.objects.get(pk=patient.pk).is_voided


def test_a_rehab_doctor_voids_a_patient_through_the_api(api_as, doctor, patient):
    response = api_as(doctor).post(f"/api/v1/patients/{patient.pk}/void/", void_body(), format="json")
    assert response.status_code == 200, response.content
    voided = Patient.objects.get(pk=patient.pk)
    assert voided.is_voided and voided.voided_by == doctor and voided.void_reason == "Registered twice"


@pytest.mark.parametrize("role", NOT_DOCTORS)
def test_only_a_rehab_doctor_may_void_a_trial_through_the_api(api_as, personas, trial, role):
    response = api_as(personas[role]).post(f"/api/v1/trials/{trial.pk}/void/", void_body(), format="json")
    assert response.status_code == 403
    assert not Trial.objects.get(pk=trial.pk).is_voided


def test_a_rehab_doctor_voids_a_trial_through_the_api(api_as, doctor, trial):
    response = api_as(doctor).post(
        f"/api/v1/trials/{trial.pk}/void/", void_body("Booked for the wrong patient"), format="json"
    )
    assert response.status_code == 200, response.content
    assert Trial.objects.get(pk=trial.pk).void_reason == "Booked for the wrong patient"


@pytest.mark.parametrize("label", ["patients.patient", "trials.trial"])
@pytest.mark.parametrize("role", NOT_DOCTORS)
def test_only_a_rehab_doctor_may_void_a_patient_or_a_trial_from_the_page(
    client_as, personas, patient, trial, label, role
):
    record = patient if label == "patients.patient" else trial
    response = client_as(personas[role]).post(reverse("record_void", args=[label, record.pk]), void_body())
    assert response.status_code == 403
    record.refresh_from_db()
    assert not record.is_voided


@pytest.mark.parametrize("label", ["patients.patient", "trials.trial"])
def test_a_rehab_doctor_voids_a_patient_or_a_trial_from_the_page(client_as, doctor, patient, trial, label):
    record = patient if label == "patients.patient" else trial
    response = client_as(doctor).post(
        reverse("record_void", args=[label, record.pk]), {**void_body(), "next": "/patients/"}, follow=True
    )
    assert response.status_code == 200
    assert response.redirect_chain == [("/patients/", 302)]
    assert "voided." in response.content.decode()
    record.refresh_from_db()
    assert record.is_voided and record.voided_by == doctor


@pytest.mark.parametrize("role", NOT_DOCTORS)
def test_the_void_service_itself_refuses_anyone_but_a_rehab_doctor(personas, patient, trial, role):
    for record in (patient, trial):
        with pytest.raises(PermissionDenied):
            void_record(record, by=personas[role], reason="Entered in error")
        record.refresh_from_db()
        assert not record.is_voided and record.history.count() == 1


def test_the_void_service_lets_a_rehab_doctor_void_a_patient_and_a_trial(doctor, patient, trial):
    void_record(trial, by=doctor, reason="Entered in error")
    void_record(patient, by=doctor, reason="Entered in error")
    assert Trial.objects.get(pk=trial.pk).is_voided and Patient.objects.get(pk=patient.pk).is_voided


def test_a_nurse_still_voids_what_she_writes(personas, nurse, surgeon):
    """Only the patient and the trial moved to the doctor: a refill stays the nurse's to void."""
    refill = PumpFactory(by=surgeon).refills.get()
    void_record(refill, by=nurse, reason="Wrong volume typed")
    refill.refresh_from_db()
    assert refill.is_voided


def test_the_trial_page_offers_the_void_form_to_the_rehab_doctor_only(client_as, doctor, nurse, trial):
    url = reverse("trials:detail", args=[trial.pk])
    void_url = reverse("record_void", args=["trials.trial", trial.pk])
    assert void_url in client_as(doctor).get(url).content.decode()
    assert void_url not in client_as(nurse).get(url).content.decode()
