"""People in every drop-down by full name and role, never a username (issue 14, point 6)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alerts.forms import OverdueRefillsForm
from appointments.forms import WeekForm
from patients.forms import PatientFilterForm, PatientForm
from pumps.forms import ExplantForm, NurseChoiceForm
from spasticity.forms import StaffChoiceField
from spasticity.roles import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def labels_of(form, name: str) -> list[str]:
    return [str(label) for value, label in form.fields[name].choices if value != ""]


def test_the_nurse_filters_name_each_nurse_with_her_role(nurse, doctor):
    for form in (PatientFilterForm(), NurseChoiceForm(), OverdueRefillsForm()):
        assert labels_of(form, "nurse") == ["Nia Nash (Pump nurse)"], type(form).__name__


def test_the_surgeon_list_holds_surgeons_and_rehab_doctors_by_name_and_role(surgeon, doctor, nurse):
    labels = labels_of(ExplantForm(), "surgeon")
    assert labels == ["Dana Doyle (Rehabilitation doctor)", "Sam Singh (Neurosurgeon)"]


def test_the_patient_form_names_the_assigned_doctor_and_nurse(doctor, nurse):
    form = PatientForm()
    assert labels_of(form, "assigned_doctor") == ["Dana Doyle (Rehabilitation doctor)"]
    assert labels_of(form, "assigned_nurse") == ["Nia Nash (Pump nurse)"]
    assert "dr_doyle" not in form.as_p() and "nurse_nash" not in form.as_p()


def test_the_calendar_staff_list_names_everyone_and_falls_back_to_the_username(doctor, administrator):
    UserFactory(username="locum_1", first_name="", last_name="", role=Role.PUMP_NURSE)
    labels = labels_of(WeekForm(), "staff")
    assert "Ada Adams (Clinic administrator)" in labels
    assert "Dana Doyle (Rehabilitation doctor)" in labels
    assert "locum_1 (Pump nurse)" in labels


def test_the_roles_of_a_long_list_cost_one_query_not_one_per_person(doctor):
    for index in range(6):
        UserFactory(username=f"nurse_{index}", role=Role.PUMP_NURSE)
    field = StaffChoiceField(queryset=PatientFilterForm().fields["nurse"].queryset)
    with CaptureQueriesContext(connection) as queries:
        labels = [label for value, label in field.choices if value != ""]
    assert len(labels) == 6 and all(label.endswith("(Pump nurse)") for label in labels)
    # The people, then their groups (prefetched): two queries for any number of people.
    assert len(queries) == 2
