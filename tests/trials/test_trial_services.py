"""Trial services: sign-off, the lock and audited amendments, pathway stages, the pumps team's read."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from patients.selectors import patient_timeline
from spasticity.audit import void_record
from spasticity.timeutil import clinic_today
from tests.factories import TrialFactory
from tests.trials.conftest import ISSUE_AT_240, ISSUE_BASELINE, add_scores
from trials import services
from trials.models import ToneAssessment, Trial, TrialAmendment
from trials.selectors import effective_positive_trial_bolus_mcg
from trials.services import ToneCell

pytestmark = pytest.mark.django_db


def stage(patient) -> str:
    patient.refresh_from_db()
    return patient.pathway_stage


def sign(trial, doctor, outcome="positive", note="Reviewed with the family"):
    return services.trial_sign_off(trial, by=doctor, outcome=outcome, note=note)


def test_the_stage_follows_a_trial_from_booking_to_awaiting_implant(doctor, nurse, therapist, patient):
    booked = Trial(patient=patient, performed_on=clinic_today(), bolus_dose_mcg=Decimal("50"))
    services.trial_plan(booked, by=nurse)
    assert stage(patient) == "trial_planned"
    services.trial_score_set(booked, by=therapist, cell=ToneCell("hamstrings", "left", 0, "3"))
    assert stage(patient) == "trial_done"
    services.trial_score_set(booked, by=therapist, cell=ToneCell("hamstrings", "left", 240, "1+"))
    sign(booked, doctor)
    assert stage(patient) == "awaiting_implant"
    assert effective_positive_trial_bolus_mcg(patient.pk) == Decimal("50")


def test_booking_the_next_escalation_step_shows_the_patient_as_trial_planned_again(doctor, nurse, patient):
    day_1 = TrialFactory(patient=patient, performed_on=clinic_today() - dt.timedelta(days=1))
    add_scores(day_1, 0, {"hamstrings": ("2", "2")})
    add_scores(day_1, 240, {"hamstrings": ("2", "2")})
    sign(day_1, doctor, outcome="negative")
    assert stage(patient) == "trial_done"
    services.trial_plan(Trial(patient=patient, performed_on=clinic_today(), bolus_dose_mcg=Decimal("75")), by=nurse)
    assert stage(patient) == "trial_planned"


def test_a_signed_negative_trial_at_100_mcg_makes_the_patient_not_a_candidate(doctor, patient):
    at_75 = TrialFactory(patient=patient, bolus_dose_mcg=Decimal("75"), performed_on=clinic_today() - dt.timedelta(2))
    sign(at_75, doctor, outcome="negative")
    assert stage(patient) == "trial_done"
    at_100 = TrialFactory(patient=patient, bolus_dose_mcg=Decimal("100"))
    sign(at_100, doctor, outcome="negative")
    assert stage(patient) == "not_candidate"
    assert effective_positive_trial_bolus_mcg(patient.pk) is None


def test_only_a_doctor_signs_and_a_signed_trial_cannot_be_signed_again(nurse, therapist, doctor, scored_trial):
    for user in (nurse, therapist):
        with pytest.raises(PermissionDenied):
            sign(scored_trial, user)
    sign(scored_trial, doctor)
    with pytest.raises(ValidationError) as error:
        sign(scored_trial, doctor, outcome="negative")
    assert "already signed" in str(error.value)


def test_a_signed_trial_refuses_direct_edits(doctor, nurse, scored_trial):
    signed = sign(scored_trial, doctor)
    with pytest.raises(ValidationError, match="locked"):
        services.trial_score_set(signed, by=nurse, cell=ToneCell("hamstrings", "left", 240, "0"))
    signed.bolus_dose_mcg = Decimal("60")
    with pytest.raises(ValidationError, match="locked"):
        services.trial_plan(signed, by=doctor)
    with pytest.raises(ValidationError, match="locked"):
        services.trial_scores_replace(signed, by=doctor, cells=[])
    assert ToneAssessment.objects.active().filter(trial=scored_trial).count() == 12


def test_voiding_a_signed_trials_score_directly_is_refused(doctor, scored_trial):
    sign(scored_trial, doctor)
    score = ToneAssessment.objects.active().filter(trial=scored_trial).first()
    with pytest.raises(ValidationError, match="amendment"):
        void_record(score, by=doctor, reason="typo")
    score.refresh_from_db()
    assert not score.is_voided


def test_an_amendment_changes_a_signed_trial_with_its_reason_in_every_history_row(doctor, scored_trial):
    sign(scored_trial, doctor)
    amended = services.trial_amend(
        scored_trial,
        by=doctor,
        reason="Hip adductor right at 240 min was entered on the wrong row",
        changes={"outcome_note": "Reviewed with the family; corrected grid"},
        cells=[
            ToneCell("hip_adductors", "right", 240, "2"),
            ToneCell("gastrocsoleus", "left", 240, ""),
        ],
    )
    reason = "Amendment: Hip adductor right at 240 min was entered on the wrong row"
    assert amended.history.latest().history_change_reason == reason
    changed = ToneAssessment.objects.get(
        trial=scored_trial, muscle_group="hip_adductors", side="right", minutes_after_bolus=240
    )
    assert changed.mas == "2"
    assert changed.history.latest().history_change_reason == reason
    assert changed.history.latest().history_user == doctor
    cleared = ToneAssessment.objects.get(
        trial=scored_trial, muscle_group="gastrocsoleus", side="left", minutes_after_bolus=240
    )
    assert cleared.is_voided and cleared.void_reason == reason
    amendment = TrialAmendment.objects.get(trial=scored_trial)
    assert amendment.amended_by == doctor
    assert "Hip adductors right at 240 min: 1 → 2" in amendment.summary
    assert "Gastrocsoleus left at 240 min: 1 → —" in amendment.summary
    assert "outcome_note" in amendment.summary
    # The response follows the corrected grid: (1+1+1+1+0.5)/5 = 0.9
    assert Trial.objects.get(pk=scored_trial.pk).response.peak_mas_reduction == Decimal("0.90")


def test_an_amendment_that_changes_the_outcome_moves_the_stage_and_the_effective_bolus(doctor, scored_trial):
    patient = scored_trial.patient
    sign(scored_trial, doctor)
    assert stage(patient) == "awaiting_implant"
    services.trial_amend(
        scored_trial, by=doctor, reason="Video review: tone unchanged", changes={"outcome": "negative"}
    )
    scored_trial.refresh_from_db()
    assert scored_trial.effective_bolus_mcg is None
    assert stage(patient) == "trial_done"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reason": " ", "changes": {"outcome": "negative"}}, "Say why"),
        ({"reason": "Typo", "changes": {}}, "Nothing was changed"),
        ({"reason": "Typo", "changes": {"patient": None}}, "cannot be amended"),
        ({"reason": "Typo", "cells": [ToneCell("hamstrings", "left", 0, "5")]}, "Not a Modified Ashworth grade"),
    ],
)
def test_an_amendment_without_a_reason_or_with_nothing_valid_saves_nothing(doctor, scored_trial, kwargs, message):
    sign(scored_trial, doctor)
    with pytest.raises(ValidationError, match=message):
        services.trial_amend(scored_trial, by=doctor, **kwargs)
    assert not TrialAmendment.objects.exists()
    assert Trial.objects.get(pk=scored_trial.pk).outcome == "positive"


def test_only_a_doctor_amends(nurse, doctor, scored_trial):
    sign(scored_trial, doctor)
    with pytest.raises(PermissionDenied):
        services.trial_amend(scored_trial, by=nurse, reason="x", changes={"outcome": "negative"})


def test_the_amend_page_records_an_amendment_and_the_trial_page_lists_it(client_as, doctor, scored_trial):
    sign(scored_trial, doctor)
    client = client_as(doctor)
    page = client.get(reverse("trials:amend", args=[scored_trial.pk]))
    form = page.context["form"]
    data = {name: ("" if value is None else value) for name, value in form.initial.items()}
    data.update(
        {
            "adverse_event_kinds": [],
            "fluoroscopy_used": "",
            "video_recorded": "",
            "reason": "Grade transcribed wrongly from the paper sheet",
            "cell__hamstrings__left__240": "1+",
        }
    )
    data = {k: v for k, v in data.items() if v not in ("", False)}
    response = client.post(reverse("trials:amend", args=[scored_trial.pk]), data)
    assert response.status_code == 302, response.context["form"].errors
    html = client.get(reverse("trials:detail", args=[scored_trial.pk])).content.decode()
    assert "Grade transcribed wrongly from the paper sheet" in html
    assert "Hamstrings left at 240 min: 1 → 1+" in html
    history = client.get(reverse("trials:score_history", args=[scored_trial.pk])).content.decode()
    assert "Amendment: Grade transcribed wrongly" in history


def test_the_amend_page_is_for_doctors_only(client_as, nurse, doctor, scored_trial):
    sign(scored_trial, doctor)
    assert client_as(nurse).get(reverse("trials:amend", args=[scored_trial.pk])).status_code == 403


def test_trials_and_their_signature_appear_on_the_patient_timeline(doctor, scored_trial):
    sign(scored_trial, doctor, note="Clear response")
    titles = [event.title for event in patient_timeline(scored_trial.patient)]
    assert "Intrathecal trial: 50 mcg (Lumbar puncture)" in titles
    assert "Trial signed positive by Dana Doyle" in titles


def test_the_patient_page_shows_the_trials_panel_with_the_next_step(client_as, doctor, scored_trial):
    html = client_as(doctor).get(reverse("patients:detail", args=[scored_trial.patient.pk])).content.decode()
    assert 'data-testid="trials-panel"' in html
    assert "Plan a trial (75 mcg)" in html
    assert "1.00 at 240 min" in html


def test_voiding_a_trial_puts_the_patient_back_where_the_other_records_say(nurse, doctor, trial):
    add_scores(trial, 0, ISSUE_BASELINE)
    services.trial_scores_replace(trial, by=nurse, cells=[ToneCell("hamstrings", "left", 0, "2")])
    assert stage(trial.patient) == "trial_done"
    void_record(Trial.objects.get(pk=trial.pk), by=doctor, reason="Booked for the wrong patient")
    assert stage(trial.patient) == "referred"


def test_a_nurse_cannot_void_a_signed_trial(nurse, doctor, scored_trial):
    sign(scored_trial, doctor)
    with pytest.raises(PermissionDenied):  # voiding any trial is the rehab doctor's alone
        void_record(Trial.objects.get(pk=scored_trial.pk), by=nurse, reason="duplicate")
    assert not Trial.objects.get(pk=scored_trial.pk).is_voided


def test_replacing_the_scores_creates_changes_and_voids_to_match(nurse, trial):
    add_scores(trial, 0, ISSUE_BASELINE)
    add_scores(trial, 240, ISSUE_AT_240)
    cells = [
        ToneCell("hip_adductors", "left", 0, "3"),  # unchanged
        ToneCell("hip_adductors", "right", 0, "4"),  # changed
        ToneCell("quadriceps", "left", 0, "1"),  # new
    ]
    services.trial_scores_replace(trial, by=nurse, cells=cells, reason="Re-entered from the sheet")
    active = {(s.muscle_group, s.side, s.minutes_after_bolus): s.mas for s in ToneAssessment.objects.active()}
    assert active == {c.key: c.mas for c in cells}
    assert ToneAssessment.objects.filter(voided_at__isnull=False).count() == 10
