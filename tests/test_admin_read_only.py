"""The Django admin is read-only for clinical records, and staff are deactivated, never deleted.

Before issue 9 a superuser could change a signed trial's outcome in the admin (no
amendment), revert a record to an earlier version (un-voiding it), and delete a user,
which blanked ``history_user`` on every row they had written.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import ProtectedError
from django.test import Client, RequestFactory
from django.urls import reverse

from patients.models import Patient
from spasticity.admin import ClinicalRecordAdmin
from spasticity.audit import void_record
from spasticity.models import ClinicalRecord
from tests.factories import PatientFactory, TrialFactory, UserFactory
from trials.models import Trial

pytestmark = pytest.mark.django_db

CLINICAL_APPS = ["patients", "pumps", "trials", "alerts", "devices"]
CLINICAL_MODELS = [
    model
    for app_label in CLINICAL_APPS
    for model in apps.get_app_config(app_label).get_models()
    if issubclass(model, ClinicalRecord)
]


def admin_url(obj_or_model, view: str, *args) -> str:
    opts = obj_or_model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


@pytest.fixture
def superuser() -> User:
    return UserFactory(username="root", is_staff=True, is_superuser=True)


@pytest.fixture
def root_client(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


@pytest.fixture
def signed_trial(doctor) -> Trial:
    from trials.services import trial_sign_off

    trial = TrialFactory()
    return trial_sign_off(trial, by=doctor, outcome="negative", note="No change in tone at 4 h.")


# --------------------------------------------------------------------------
# Clinical records: look, never touch
# --------------------------------------------------------------------------


def test_every_clinical_model_is_in_the_admin_read_only_with_history():
    assert len(CLINICAL_MODELS) >= 16
    request = RequestFactory().get("/admin/")
    request.user = User(username="root", is_staff=True, is_superuser=True, is_active=True)
    for model in CLINICAL_MODELS:
        model_admin = admin.site._registry.get(model)
        assert isinstance(model_admin, ClinicalRecordAdmin), f"{model.__name__} is not read-only in the admin"
        assert model_admin.has_view_permission(request)
        assert not model_admin.has_add_permission(request), model.__name__
        assert not model_admin.has_change_permission(request), model.__name__
        assert not model_admin.has_delete_permission(request), model.__name__


def test_history_revert_is_disabled():
    assert settings.SIMPLE_HISTORY_REVERT_DISABLED is True


def test_a_superuser_lists_every_clinical_model(root_client, signed_trial):
    for model in CLINICAL_MODELS:
        response = root_client.get(admin_url(model, "changelist"))
        assert response.status_code == 200, model.__name__
        assert admin_url(model, "add") not in response.content.decode(), f"{model.__name__} offers 'add'"


def test_a_superuser_sees_a_signed_trial_read_only(root_client, signed_trial):
    response = root_client.get(admin_url(signed_trial, "change", signed_trial.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert "No change in tone at 4 h." in page  # the data is shown…
    assert 'name="outcome"' not in page and 'name="_save"' not in page  # …but not as a form
    assert admin_url(signed_trial, "delete", signed_trial.pk) not in page


def test_a_superuser_cannot_change_a_signed_trials_outcome(root_client, signed_trial):
    url = admin_url(signed_trial, "change", signed_trial.pk)
    response = root_client.post(url, {"outcome": "positive", "outcome_note": "changed in the admin"})
    assert response.status_code == 403
    trial = Trial.objects.get(pk=signed_trial.pk)
    assert trial.outcome == "negative" and trial.history.count() == signed_trial.history.count()


def test_a_superuser_cannot_add_or_delete_clinical_records(root_client, signed_trial):
    assert root_client.get(admin_url(Patient, "add")).status_code == 403
    assert root_client.post(admin_url(Patient, "add"), {"mrn": "ADMIN1"}).status_code == 403
    delete_url = admin_url(signed_trial, "delete", signed_trial.pk)
    assert root_client.get(delete_url).status_code == 403
    assert root_client.post(delete_url, {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [signed_trial.pk], "post": "yes"}
    root_client.post(admin_url(Trial, "changelist"), bulk)
    assert Trial.objects.filter(pk=signed_trial.pk).exists()


def test_a_superuser_reads_a_records_history_and_its_versions(root_client, doctor):
    patient = PatientFactory()
    void_record(patient, by=doctor, reason="Registered twice")
    response = root_client.get(admin_url(patient, "history", patient.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Voided: Registered twice" in page and doctor.username in page
    first = patient.history.earliest("history_date")
    version = root_client.get(admin_url(patient, "simple_history", patient.pk, first.history_id))
    assert version.status_code == 200
    assert "Revert" not in version.content.decode()  # "View", not "Revert"


def test_a_version_page_never_reverts_a_record_even_when_posted_to(root_client, doctor):
    """Un-voiding by reverting to the version before the void is refused."""
    patient = PatientFactory()
    void_record(patient, by=doctor, reason="Registered twice")
    before_void = patient.history.earliest("history_date")
    url = admin_url(patient, "simple_history", patient.pk, before_void.history_id)
    response = root_client.post(url, {"_save": "Revert"})
    assert response.status_code == 403
    patient = Patient.objects.get(pk=patient.pk)
    assert patient.is_voided and patient.history.count() == 2


# --------------------------------------------------------------------------
# Staff users: deactivate, never delete
# --------------------------------------------------------------------------


def test_deleting_a_user_is_refused_and_their_history_keeps_their_name(nurse, doctor):
    patient = PatientFactory()
    void_record(patient, by=doctor, reason="Registered twice")
    # Each attempt in its own savepoint, as a request's transaction would be.
    with pytest.raises(ProtectedError, match="deactivate the user instead"), transaction.atomic():
        nurse.delete()  # nothing of hers is protected by a foreign key: the refusal is the rule's
    with pytest.raises(ProtectedError), transaction.atomic():
        doctor.delete()
    with pytest.raises(ProtectedError, match="deactivate the user instead"), transaction.atomic():
        User.objects.filter(pk=nurse.pk).delete()
    assert User.objects.filter(pk__in=[nurse.pk, doctor.pk]).count() == 2
    assert patient.history.latest("history_date").history_user == doctor


def test_the_user_admin_offers_no_delete(root_client, nurse):
    delete_url = admin_url(nurse, "delete", nurse.pk)
    assert root_client.get(delete_url).status_code == 403
    assert root_client.post(delete_url, {"post": "yes"}).status_code == 403
    changelist = root_client.get(admin_url(User, "changelist"))
    assert changelist.status_code == 200 and "delete_selected" not in changelist.content.decode()
    assert User.objects.filter(pk=nurse.pk).exists()


def test_a_superuser_deactivates_a_user_in_the_admin(root_client, nurse):
    change_url = admin_url(nurse, "change", nurse.pk)
    assert root_client.get(change_url).status_code == 200
    form = {
        "username": nurse.username,
        "first_name": nurse.first_name,
        "last_name": nurse.last_name,
        "email": nurse.email,
        # "is_active" left unticked: the account is deactivated.
        "groups": [group.pk for group in nurse.groups.all()],
        "date_joined_0": f"{nurse.date_joined:%Y-%m-%d}",
        "date_joined_1": f"{nurse.date_joined:%H:%M:%S}",
        "last_login_0": "",
        "last_login_1": "",
    }
    response = root_client.post(change_url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    nurse.refresh_from_db()
    assert nurse.is_active is False
    assert nurse.groups.exists()  # her role stays on record; she just cannot sign in
