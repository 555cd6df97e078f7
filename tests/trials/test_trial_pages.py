"""Trial pages: planning, the tone grid (htmx), observations, sign-off, roles, query counts."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from spasticity.timeutil import clinic_today
from tests.factories import PatientFactory, ToneAssessmentFactory, TrialFactory
from tests.trials.conftest import ISSUE_AT_240, ISSUE_BASELINE, add_scores
from trials.models import ToneAssessment, Trial

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def plan_data(**changes: str) -> dict[str, str]:
    data = {
        "performed_on": clinic_today().isoformat(),
        "planned_start_time": "07:30",
        "bolus_dose_mcg": "50",
        "bolus_confirmation_reason": "",
        "route": "lumbar_puncture",
        "team_present": "Dr Doyle, N. Nash, P. Parker",
    }
    data.update(changes)
    return data


def post_cell(client, trial, muscle="hip_adductors", side="left", minutes=0, mas="3", version=None):
    data = {"muscle_group": muscle, "side": side, "minutes_after_bolus": str(minutes), "mas": mas}
    if version is not None:
        data["version"] = str(version)
    return client.post(reverse("trials:cell", args=[trial.pk]), data, **HTMX)


# --- Planning ---------------------------------------------------------------------------


def test_a_nurse_books_a_trial_and_the_patient_is_trial_planned(client_as, nurse, patient):
    tomorrow = (clinic_today() + dt.timedelta(days=1)).isoformat()
    response = client_as(nurse).post(reverse("trials:create", args=[patient.pk]), plan_data(performed_on=tomorrow))
    assert response.status_code == 302, response.content
    trial = Trial.objects.get(patient=patient)
    assert trial.bolus_dose_mcg == Decimal("50")
    assert trial.history.earliest().history_user == nurse
    patient.refresh_from_db()
    assert patient.pathway_stage == "trial_planned"


def test_the_plan_form_suggests_the_next_escalation_step(client_as, doctor, patient):
    TrialFactory(patient=patient, bolus_dose_mcg=Decimal("50"), outcome="negative")
    page = client_as(doctor).get(reverse("trials:create", args=[patient.pk]))
    form = page.context["form"]
    assert form.initial["bolus_dose_mcg"] == Decimal("75")
    assert "Suggested: 75 mcg" in page.content.decode()


def test_a_very_small_child_is_offered_25_mcg(client_as, doctor):
    toddler = PatientFactory(weight_kg="9.0", birth_date=clinic_today() - dt.timedelta(days=3 * 365))
    page = client_as(doctor).get(reverse("trials:create", args=[toddler.pk]))
    assert page.context["form"].initial["bolus_dose_mcg"] == Decimal("25")


@pytest.mark.parametrize(
    ("field", "changes", "message"),
    [
        ("bolus_dose_mcg", {"bolus_dose_mcg": "0"}, "more than 0 mcg"),
        ("bolus_dose_mcg", {"bolus_dose_mcg": "-25"}, "more than 0 mcg"),
        ("bolus_dose_mcg", {"bolus_dose_mcg": "250"}, "give a reason to confirm"),
        ("performed_on", {"performed_on": "1999-01-01"}, "before the patient's birth date"),
        ("route", {"route": "intravenous"}, "not one of the available choices"),
    ],
)
def test_bad_plan_input_gets_a_field_message_and_saves_nothing(client_as, nurse, patient, field, changes, message):
    response = client_as(nurse).post(reverse("trials:create", args=[patient.pk]), plan_data(**changes))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert any(message in error for error in errors[field])
    assert not Trial.objects.exists()


def test_a_bolus_above_200_mcg_is_accepted_with_a_confirmation_reason(client_as, doctor, patient):
    data = plan_data(bolus_dose_mcg="250", bolus_confirmation_reason="Adult, high tone; agreed with the pump team")
    response = client_as(doctor).post(reverse("trials:create", args=[patient.pk]), data)
    assert response.status_code == 302
    assert Trial.objects.get().bolus_dose_mcg == Decimal("250")


def test_a_second_trial_for_the_same_patient_on_the_same_day_is_refused(client_as, nurse, patient):
    TrialFactory(patient=patient, performed_on=clinic_today())
    response = client_as(nurse).post(reverse("trials:create", args=[patient.pk]), plan_data())
    assert response.status_code == 200
    assert "already has a trial on that date" in response.context["form"].errors["performed_on"][0]
    assert Trial.objects.count() == 1


def test_a_scored_trial_cannot_move_to_a_future_date(client_as, nurse, scored_trial):
    tomorrow = (clinic_today() + dt.timedelta(days=1)).isoformat()
    data = {**plan_data(performed_on=tomorrow), "version": str(scored_trial.version), "change_reason": ""}
    response = client_as(nurse).post(reverse("trials:update", args=[scored_trial.pk]), data)
    assert response.status_code == 200
    assert "a trial date in the future cannot have scores" in response.context["form"].errors["performed_on"][0]
    scored_trial.refresh_from_db()
    assert scored_trial.performed_on < clinic_today()


def test_a_future_booking_takes_no_observations(client_as, nurse, patient):
    booked = TrialFactory(patient=patient, performed_on=clinic_today() + dt.timedelta(days=1))
    data = {"version": str(booked.version), "video_recorded": "on"}
    response = client_as(nurse).post(reverse("trials:observations", args=[booked.pk]), data)
    assert response.status_code == 200
    assert "a trial date in the future" in response.content.decode()
    booked.refresh_from_db()
    assert not booked.video_recorded


# --- The tone grid ----------------------------------------------------------------------


def test_the_grid_shows_muscle_side_rows_and_the_default_timepoints(client_as, therapist, trial):
    page = client_as(therapist).get(reverse("trials:detail", args=[trial.pk]))
    html = page.content.decode()
    assert page.context["grid"].timepoints == (0, 60, 120, 240, 360, 480)
    assert len(page.context["grid"].rows) == 16  # 8 muscle groups × 2 sides
    inputs = re.findall(r'id="(mas-[a-z_]+-(?:left|right)-\d+)"', html)
    # Tab order is row-major: the first row's six timepoints, then the next row.
    assert inputs[:7] == [f"mas-hip_adductors-left-{t}" for t in (0, 60, 120, 240, 360, 480)] + [
        "mas-hip_adductors-right-0"
    ]
    assert 'hx-post="' + reverse("trials:cell", args=[trial.pk]) + '"' in html
    assert "<script>" not in html  # only external scripts or nonce'd ones under the CSP
    assert 'id="trial-chart-json" type="application/json"' in html


def test_a_therapist_enters_a_score_and_gets_the_cell_and_the_response_out_of_band(client_as, therapist, trial):
    response = post_cell(client_as(therapist), trial, mas="3", version=0)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="mas-hip_adductors-left-0"' in html and 'value="3"' in html
    assert 'id="trial-response"' in html and 'hx-swap-oob="true"' in html
    assert 'id="trial-chart-data" hx-swap-oob="true"' in html
    score = ToneAssessment.objects.get(trial=trial)
    assert (score.muscle_group, score.side, score.minutes_after_bolus, score.mas) == ("hip_adductors", "left", 0, "3")
    assert score.history.earliest().history_user == therapist


def test_filling_the_issue_example_in_the_grid_suggests_positive(client_as, nurse, trial):
    client = client_as(nurse)
    for minutes, grades in ((0, ISSUE_BASELINE), (240, ISSUE_AT_240)):
        for muscle, (left, right) in grades.items():
            assert post_cell(client, trial, muscle, "left", minutes, left).status_code == 200
            last = post_cell(client, trial, muscle, "right", minutes, right)
    html = last.content.decode()
    assert re.search(r'data-testid="suggested-outcome">positive<', html)
    assert re.search(r'data-testid="peak-mas-reduction">1.00<', html)
    assert re.search(r'data-testid="peak-minutes">240 min<', html)


def test_changing_a_cell_is_an_audited_edit_and_clearing_it_voids_the_score(client_as, nurse, therapist, trial):
    post_cell(client_as(nurse), trial, mas="3", version=0)
    score = ToneAssessment.objects.get()
    changed = post_cell(client_as(therapist), trial, mas="2", version=score.version)
    assert changed.status_code == 200
    score.refresh_from_db()
    assert score.mas == "2"
    latest = score.history.latest()
    assert latest.history_user == therapist and latest.history_change_reason == "Changed in the tone grid"
    cleared = post_cell(client_as(therapist), trial, mas="", version=score.version)
    assert cleared.status_code == 200
    score.refresh_from_db()
    assert score.is_voided and score.void_reason == "Cleared in the tone grid"
    assert ToneAssessment.objects.count() == 1  # voided, not deleted
    assert ToneAssessment.objects.active().count() == 0


def test_a_cell_changed_by_someone_else_meanwhile_is_refused_not_overwritten(client_as, nurse, therapist, trial):
    post_cell(client_as(nurse), trial, mas="3", version=0)
    stale = post_cell(client_as(therapist), trial, mas="1", version=0)  # their page showed an empty cell
    assert stale.status_code == 422
    assert "Someone else changed this score meanwhile (now 3)" in stale.content.decode()
    assert ToneAssessment.objects.get().mas == "3"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"mas": "5"}, "Not a Modified Ashworth grade"),
        ({"mas": "2+"}, "Not a Modified Ashworth grade"),
        ({"minutes": -30}, "cannot be negative"),
    ],
)
def test_bad_grid_input_is_refused_in_the_cell_and_saves_nothing(client_as, nurse, trial, changes, message):
    response = post_cell(client_as(nurse), trial, **changes)
    assert response.status_code == 422
    html = response.content.decode()
    assert message in html
    assert 'aria-invalid="true"' in html and 'data-testid="cell-error"' in html
    assert not ToneAssessment.objects.exists()


def test_a_quick_typist_spaced_grade_is_read_as_the_grade(client_as, nurse, trial):
    post_cell(client_as(nurse), trial, mas=" 1 + ")
    assert ToneAssessment.objects.get().mas == "1+"


def test_adding_a_timepoint_adds_a_column_and_a_negative_one_is_refused(client_as, nurse, trial):
    client = client_as(nurse)
    page = client.get(reverse("trials:detail", args=[trial.pk]), {"add": "90"})
    assert 90 in page.context["grid"].timepoints
    post_cell(client, trial, minutes=90, mas="2")
    assert 90 in client.get(reverse("trials:detail", args=[trial.pk])).context["grid"].timepoints
    refused = client.get(reverse("trials:detail", args=[trial.pk]), {"add": "-30"})
    assert -30 not in refused.context["grid"].timepoints
    assert "cannot be negative" in refused.content.decode()


def test_penn_spasm_frequency_is_optional_per_timepoint(client_as, therapist, trial):
    client = client_as(therapist)
    url = reverse("trials:spasm_cell", args=[trial.pk])
    ok = client.post(url, {"minutes_after_bolus": "0", "frequency": "3", "version": "0"}, **HTMX)
    assert ok.status_code == 200
    assert trial.spasm_scores.get().frequency == 3
    bad = client.post(url, {"minutes_after_bolus": "60", "frequency": "7", "version": "0"}, **HTMX)
    assert bad.status_code == 422 and "0 to 4" in bad.content.decode()
    assert trial.spasm_scores.count() == 1


def test_a_trial_booked_for_a_future_date_takes_no_scores(client_as, nurse, patient):
    booked = TrialFactory(patient=patient, performed_on=clinic_today() + dt.timedelta(days=2))
    page = client_as(nurse).get(reverse("trials:detail", args=[booked.pk]))
    assert 'data-testid="booked-banner"' in page.content.decode()
    assert 'hx-post="' not in page.content.decode()
    refused = post_cell(client_as(nurse), booked)
    assert refused.status_code == 422
    assert "a trial date in the future cannot have scores" in refused.content.decode()
    assert not ToneAssessment.objects.exists()


def test_observations_record_fluoroscopy_video_and_adverse_events(client_as, therapist, trial):
    url = reverse("trials:observations", args=[trial.pk])
    data = {
        "version": str(trial.version),
        "fluoroscopy_used": "on",
        "video_recorded": "on",
        "adverse_event_kinds": ["headache", "other"],
        "adverse_event_other": "Dizziness on sitting up",
    }
    assert client_as(therapist).post(url, data).status_code == 302
    trial.refresh_from_db()
    assert trial.fluoroscopy_used and trial.video_recorded
    assert trial.adverse_events == [
        {"kind": "headache", "other": ""},
        {"kind": "other", "other": "Dizziness on sitting up"},
    ]
    missing_text = client_as(therapist).post(url, {**data, "version": str(trial.version), "adverse_event_other": ""})
    assert missing_text.status_code == 200
    assert "Describe the other adverse event" in missing_text.context["form"].errors["adverse_event_other"][0]


# --- Sign-off and roles -------------------------------------------------------------------


def sign(client, trial, outcome="positive", note="Clear reduction at 4 h; proceed to implant"):
    data = {"outcome": outcome, "note": note, "version": str(trial.version)}
    return client.post(reverse("trials:sign_off", args=[trial.pk]), data)


def test_a_doctor_signs_a_positive_trial_and_the_patient_awaits_an_implant(client_as, doctor, scored_trial):
    page = client_as(doctor).get(reverse("trials:detail", args=[scored_trial.pk]))
    assert 'data-testid="sign-off-form"' in page.content.decode()
    response = sign(client_as(doctor), scored_trial)
    assert response.status_code == 302
    scored_trial.refresh_from_db()
    assert scored_trial.outcome == "positive"
    assert scored_trial.signed_by == doctor
    assert scored_trial.effective_bolus_mcg == Decimal("50")
    scored_trial.patient.refresh_from_db()
    assert scored_trial.patient.pathway_stage == "awaiting_implant"


def test_the_page_says_when_the_signed_outcome_differs_from_the_suggestion(client_as, doctor, scored_trial):
    sign(client_as(doctor), scored_trial, outcome="inconclusive", note="Child was distressed; repeat")
    html = client_as(doctor).get(reverse("trials:detail", args=[scored_trial.pk])).content.decode()
    assert 'data-testid="outcome-differs"' in html
    assert "The signed outcome (inconclusive) differs from the suggested outcome (positive)" in html


def test_a_signature_without_a_note_is_refused(client_as, doctor, scored_trial):
    response = sign(client_as(doctor), scored_trial, note="  ")
    assert response.status_code == 400
    assert "Add a note" in response.context["sign_form"].errors["note"][0]
    scored_trial.refresh_from_db()
    assert scored_trial.outcome == ""


@pytest.mark.parametrize("role", ["physical_therapist", "pump_nurse"])
def test_therapists_and_nurses_enter_scores_but_see_no_sign_off_and_cannot_sign(client_as, personas, role, trial):
    client = client_as(personas[role])
    assert post_cell(client, trial, mas="2").status_code == 200
    html = client.get(reverse("trials:detail", args=[trial.pk])).content.decode()
    assert 'data-testid="sign-off-form"' not in html
    assert reverse("trials:sign_off", args=[trial.pk]) not in html
    assert sign(client, trial).status_code == 403
    trial.refresh_from_db()
    assert trial.outcome == ""


@pytest.mark.parametrize("role", ["administrator", "neurosurgeon"])
def test_administrators_and_surgeons_cannot_enter_scores_or_plan(client_as, personas, role, trial, patient):
    client = client_as(personas[role])
    assert post_cell(client, trial).status_code == 403
    assert client.post(reverse("trials:create", args=[patient.pk]), plan_data()).status_code == 403
    html = client.get(reverse("trials:detail", args=[trial.pk])).content.decode()
    assert "hx-post" not in html and 'data-testid="sign-off-form"' not in html
    assert not ToneAssessment.objects.exists()
    assert Trial.objects.count() == 1


def test_an_outsider_sees_no_trial_page_and_changes_nothing(client_as, outsider, trial):
    client = client_as(outsider)
    assert client.get(reverse("trials:detail", args=[trial.pk])).status_code == 403
    assert client.get(reverse("trials:day_list")).status_code == 403
    assert post_cell(client, trial).status_code == 403
    assert not ToneAssessment.objects.exists()


def test_a_signed_trial_is_locked_against_grid_edits_and_plan_changes(client_as, doctor, nurse, scored_trial):
    sign(client_as(doctor), scored_trial)
    before = sorted(ToneAssessment.objects.active().values_list("mas", flat=True))
    refused = post_cell(client_as(nurse), scored_trial, mas="4")
    assert refused.status_code == 422 and "locked" in refused.content.decode()
    assert sorted(ToneAssessment.objects.active().values_list("mas", flat=True)) == before
    scored_trial.refresh_from_db()
    edit = client_as(doctor).post(
        reverse("trials:update", args=[scored_trial.pk]),
        {**plan_data(performed_on=scored_trial.performed_on.isoformat()), "version": str(scored_trial.version)},
    )
    assert edit.status_code == 200 and "locked" in edit.content.decode()
    page = client_as(nurse).get(reverse("trials:detail", args=[scored_trial.pk])).content.decode()
    assert "hx-post" not in page


def test_the_day_list_shows_the_days_trials_with_their_suggestion(client_as, nurse, scored_trial):
    other_day = TrialFactory(performed_on=scored_trial.performed_on - dt.timedelta(days=3))
    page = client_as(nurse).get(reverse("trials:day_list"), {"on": scored_trial.performed_on.isoformat()})
    assert list(page.context["trials"]) == [scored_trial]
    html = page.content.decode()
    assert "OKAFOR, Maya" in html and "positive" in html
    assert other_day.patient.mrn not in html


# --- Query counts -------------------------------------------------------------------------


def count_queries(client, url, params=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(queries)


def test_the_trial_page_makes_the_same_number_of_queries_for_6_and_60_scores(client_as, nurse, trial):
    client = client_as(nurse)
    url = reverse("trials:detail", args=[trial.pk])
    add_scores(trial, 0, ISSUE_BASELINE)
    with_6 = count_queries(client, url)
    muscles = ["hip_adductors", "hip_flexors", "hamstrings", "quadriceps", "gastrocsoleus"]
    for minutes in (60, 120, 240, 360, 480):
        for muscle in muscles:
            for side in ("left", "right"):
                if minutes != 0:
                    ToneAssessmentFactory(trial=trial, muscle_group=muscle, side=side, minutes_after_bolus=minutes)
    assert trial.assessments.count() == 56
    add_scores(trial, 0, {"hip_flexors": ("2", "2"), "quadriceps": ("1", "1")})
    assert trial.assessments.count() == 60
    with_60 = count_queries(client, url)
    assert with_6 == with_60
    # session, user, roles, perms: 10; the trial, its scores, spasm scores, amendments: 3;
    # one INSERT into the access log (who opened this trial); 1 for the patient banner (issue 14:
    # patients.selectors.patient_banner, one query whatever the patient's records).
    assert with_60 <= 15


def test_the_day_list_makes_the_same_number_of_queries_for_1_and_30_trials(client_as, nurse):
    client = client_as(nurse)
    day = clinic_today() - dt.timedelta(days=1)
    first = TrialFactory(performed_on=day)
    add_scores(first, 0, ISSUE_BASELINE)
    with_1 = count_queries(client, reverse("trials:day_list"), {"on": day.isoformat()})
    for _ in range(29):
        add_scores(TrialFactory(performed_on=day), 0, ISSUE_BASELINE)
    with_30 = count_queries(client, reverse("trials:day_list"), {"on": day.isoformat()})
    assert with_1 == with_30
    assert with_30 <= 11  # 9 for the session, user, roles and perms; the trials and their scores: 2
