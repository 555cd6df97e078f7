"""The trials and goals API: nested writes, computed fields, sign-off roles, bad input, history."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from spasticity.timeutil import clinic_today
from tests.factories import GoalFactory, GoalReviewFactory, TrialFactory
from tests.trials.conftest import ISSUE_AT_240, ISSUE_BASELINE
from trials.models import Goal, GoalReview, ToneAssessment, Trial

pytestmark = pytest.mark.django_db

YESTERDAY = clinic_today() - dt.timedelta(days=1)


def issue_assessments() -> list[dict]:
    rows = []
    for minutes, grades in ((0, ISSUE_BASELINE), (240, ISSUE_AT_240)):
        for muscle, (left, right) in grades.items():
            rows.append({"muscle_group": muscle, "side": "left", "minutes_after_bolus": minutes, "mas": left})
            rows.append({"muscle_group": muscle, "side": "right", "minutes_after_bolus": minutes, "mas": right})
    return rows


def new_trial(patient, **changes) -> dict:
    body = {
        "patient": patient.pk,
        "performed_on": YESTERDAY.isoformat(),
        "bolus_dose_mcg": "50",
        "route": "lumbar_catheter",
        "fluoroscopy_used": True,
        "video_recorded": False,
        "adverse_events": [{"kind": "headache"}, {"kind": "other", "other": "Itchy back"}],
        "assessments": issue_assessments(),
    }
    body.update(changes)
    return body


def test_a_nurse_records_a_whole_trial_and_reads_the_computed_response(api_as, nurse, patient):
    response = api_as(nurse).post("/api/v1/trials/", new_trial(patient), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["peak_mas_reduction"] == "1.00"
    assert body["peak_minutes"] == 240
    assert body["suggested_outcome"] == "positive"
    assert body["outcome"] == ""
    assert len(body["assessments"]) == 12
    assert {"muscle_group": "gastrocsoleus", "side": "left", "minutes_after_bolus": 0, "mas": "1+"} in body[
        "assessments"
    ]
    assert body["adverse_events"] == [{"kind": "headache", "other": ""}, {"kind": "other", "other": "Itchy back"}]
    trial = Trial.objects.get()
    assert trial.history.earliest().history_user == nurse
    patient.refresh_from_db()
    assert patient.pathway_stage == "trial_done"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        (
            {"assessments": [{"muscle_group": "hamstrings", "side": "left", "minutes_after_bolus": 0, "mas": "5"}]},
            "assessments",
        ),
        (
            {"assessments": [{"muscle_group": "hamstrings", "side": "left", "minutes_after_bolus": 0, "mas": "2+"}]},
            "assessments",
        ),
        (
            {"assessments": [{"muscle_group": "hamstrings", "side": "left", "minutes_after_bolus": -60, "mas": "2"}]},
            "assessments",
        ),
        ({"bolus_dose_mcg": "0"}, "bolus_dose_mcg"),
        ({"bolus_dose_mcg": "250"}, "bolus_dose_mcg"),
        ({"performed_on": (clinic_today() + dt.timedelta(days=3)).isoformat()}, "performed_on"),
        ({"adverse_events": [{"kind": "other"}]}, "adverse_events"),
    ],
)
def test_bad_trial_input_is_a_400_with_field_messages_and_saves_nothing(api_as, nurse, patient, changes, field):
    response = api_as(nurse).post("/api/v1/trials/", new_trial(patient, **changes), format="json")
    assert response.status_code == 400
    body = response.json()
    assert field in body, body
    assert not Trial.objects.exists()
    assert not ToneAssessment.objects.exists()


def test_the_messages_name_the_problem(api_as, nurse, patient):
    bad = [{"muscle_group": "hamstrings", "side": "left", "minutes_after_bolus": -60, "mas": "5"}]
    body = api_as(nurse).post("/api/v1/trials/", new_trial(patient, assessments=bad), format="json").json()
    assert "cannot be negative" in body["assessments"]["0"]["minutes_after_bolus"][0]
    assert "Not a Modified Ashworth grade" in body["assessments"]["0"]["mas"][0]
    big = api_as(nurse).post("/api/v1/trials/", new_trial(patient, bolus_dose_mcg="250"), format="json").json()
    assert "give a reason to confirm" in big["bolus_dose_mcg"][0]
    confirmed = new_trial(patient, bolus_dose_mcg="250", bolus_confirmation_reason="Adult; agreed in MDT")
    assert api_as(nurse).post("/api/v1/trials/", confirmed, format="json").status_code == 201


def test_a_future_booking_without_scores_is_a_plan(api_as, nurse, patient):
    tomorrow = (clinic_today() + dt.timedelta(days=1)).isoformat()
    plan = {"patient": patient.pk, "performed_on": tomorrow, "bolus_dose_mcg": "75", "route": "lumbar_puncture"}
    response = api_as(nurse).post("/api/v1/trials/", plan, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["suggested_outcome"] == "incomplete"


def test_a_therapist_adds_scores_with_patch_but_cannot_change_the_plan(api_as, therapist, trial):
    client = api_as(therapist)
    patch = {"version": trial.version, "assessments": issue_assessments()[:6]}
    response = client.patch(f"/api/v1/trials/{trial.pk}/", patch, format="json")
    assert response.status_code == 200, response.json()
    assert len(response.json()["assessments"]) == 6
    plan_change = client.patch(
        f"/api/v1/trials/{trial.pk}/", {"version": trial.version, "bolus_dose_mcg": "75"}, format="json"
    )
    assert plan_change.status_code == 403
    trial.refresh_from_db()
    assert trial.bolus_dose_mcg == Decimal("50")


def test_an_administrator_cannot_create_trials_or_enter_scores(api_as, administrator, patient, trial):
    client = api_as(administrator)
    assert client.post("/api/v1/trials/", new_trial(patient), format="json").status_code == 403
    patch = {"version": trial.version, "assessments": issue_assessments()}
    assert client.patch(f"/api/v1/trials/{trial.pk}/", patch, format="json").status_code == 403
    assert not ToneAssessment.objects.exists()
    assert client.get(f"/api/v1/trials/{trial.pk}/").status_code == 200  # every role reads


def test_an_outsider_gets_nothing_from_the_trials_api(api_as, outsider, patient, trial):
    client = api_as(outsider)
    assert client.get("/api/v1/trials/").status_code == 403
    assert client.get(f"/api/v1/trials/{trial.pk}/").status_code == 403
    assert client.post("/api/v1/trials/", new_trial(patient), format="json").status_code == 403
    assert client.get(f"/api/v1/patients/{patient.pk}/goal-attainment/").status_code == 403
    assert client.post("/api/v1/goals/", {"patient": patient.pk}, format="json").status_code == 403
    assert Trial.objects.count() == 1


@pytest.mark.parametrize("role", ["physical_therapist", "pump_nurse", "administrator", "neurosurgeon"])
def test_only_a_rehab_doctor_may_sign_off_through_the_api(api_as, personas, role, scored_trial):
    response = api_as(personas[role]).post(
        f"/api/v1/trials/{scored_trial.pk}/sign-off/", {"outcome": "positive", "note": "ok"}, format="json"
    )
    assert response.status_code == 403
    scored_trial.refresh_from_db()
    assert scored_trial.outcome == ""


def test_a_doctor_signs_off_through_the_api_and_the_trial_locks(api_as, doctor, nurse, scored_trial):
    response = api_as(doctor).post(
        f"/api/v1/trials/{scored_trial.pk}/sign-off/",
        {"outcome": "negative", "note": "Tone drop came with excessive hypotonia"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["outcome"], body["suggested_outcome"], body["signed_by"]) == ("negative", "positive", "dr_doyle")
    assert body["effective_bolus_mcg"] is None
    patch = {"version": body["version"], "assessments": issue_assessments()[:2]}
    locked = api_as(nurse).patch(f"/api/v1/trials/{scored_trial.pk}/", patch, format="json")
    assert locked.status_code == 400
    assert "locked" in locked.json()["non_field_errors"][0]
    assert ToneAssessment.objects.active().filter(trial=scored_trial).count() == 12


def test_sign_off_needs_a_valid_outcome_and_a_note(api_as, doctor, scored_trial):
    client = api_as(doctor)
    url = f"/api/v1/trials/{scored_trial.pk}/sign-off/"
    assert "outcome" in client.post(url, {"outcome": "maybe", "note": "x"}, format="json").json()
    assert "note" in client.post(url, {"outcome": "positive", "note": ""}, format="json").json()
    scored_trial.refresh_from_db()
    assert scored_trial.outcome == ""


def test_a_doctor_amends_a_signed_trial_through_the_api_and_the_history_says_why(api_as, doctor, scored_trial):
    client = api_as(doctor)
    client.post(f"/api/v1/trials/{scored_trial.pk}/sign-off/", {"outcome": "positive", "note": "ok"}, format="json")
    corrected = [
        a for a in issue_assessments() if not (a["muscle_group"] == "gastrocsoleus" and a["minutes_after_bolus"] == 240)
    ]
    response = client.post(
        f"/api/v1/trials/{scored_trial.pk}/amend/",
        {"reason": "Gastrocsoleus at 4 h was not assessed", "assessments": corrected},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert len(response.json()["assessments"]) == 10
    assert response.json()["peak_mas_reduction"] == "1.25"  # (1+2+1+1)/4
    history = client.get(f"/api/v1/trials/{scored_trial.pk}/history/").json()
    assert history[0]["history_type"] in ("+", "~")
    voided = ToneAssessment.objects.filter(trial=scored_trial, voided_at__isnull=False)
    assert voided.count() == 2
    assert all(
        s.history.latest().history_change_reason == "Voided: Amendment: Gastrocsoleus at 4 h was not assessed"
        for s in voided
    )


def test_a_nurse_gets_403_on_amend(api_as, nurse, doctor, scored_trial):
    api_as(doctor).post(
        f"/api/v1/trials/{scored_trial.pk}/sign-off/", {"outcome": "positive", "note": "ok"}, format="json"
    )
    response = api_as(nurse).post(
        f"/api/v1/trials/{scored_trial.pk}/amend/", {"reason": "x", "outcome": "negative"}, format="json"
    )
    assert response.status_code == 403


def test_the_trial_history_endpoint_lists_who_changed_what(api_as, doctor, nurse, trial):
    api_as(nurse).patch(
        f"/api/v1/trials/{trial.pk}/",
        {"version": trial.version, "video_recorded": True, "change_reason": "Video found"},
        format="json",
    )
    entries = api_as(doctor).get(f"/api/v1/trials/{trial.pk}/history/").json()
    assert entries[0]["history_user"] == "nurse_nash"
    assert entries[0]["changed_fields"] == ["video_recorded"]
    assert entries[0]["history_change_reason"] == "Video found"


def test_a_stale_version_is_a_409(api_as, nurse, trial):
    response = api_as(nurse).patch(
        f"/api/v1/trials/{trial.pk}/", {"version": trial.version + 5, "video_recorded": True}, format="json"
    )
    assert response.status_code == 409


def test_trials_filter_by_patient(api_as, therapist, trial):
    TrialFactory()
    body = api_as(therapist).get("/api/v1/trials/", {"patient": trial.patient_id}).json()
    assert body["count"] == 1
    assert body["results"][0]["id"] == trial.pk


# --- Goals --------------------------------------------------------------------------------

LEVELS = {"-2": "Cannot sit", "-1": "Sits 1 h", "0": "Sits 3 h", "1": "Sits 5 h", "2": "Sits all day"}


def new_goal(patient, **changes) -> dict:
    body = {
        "patient": patient.pk,
        "domain": "seating",
        "description": "Sits in her chair through lessons",
        "set_on": (clinic_today() - dt.timedelta(days=60)).isoformat(),
        "level_descriptions": LEVELS,
        "importance": 3,
        "difficulty": 2,
        "baseline_level": -1,
        "reviews": [{"reviewed_on": (clinic_today() - dt.timedelta(days=10)).isoformat(), "level": 1}],
    }
    body.update(changes)
    return body


def test_a_therapist_sets_a_goal_with_a_review(api_as, therapist, patient):
    response = api_as(therapist).post("/api/v1/goals/", new_goal(patient), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["weight"] == 6
    assert body["reviews"] == [
        {"reviewed_on": (clinic_today() - dt.timedelta(days=10)).isoformat(), "level": 1, "note": ""}
    ]
    assert GoalReview.objects.get().history.earliest().history_user == therapist


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"reviews": [{"reviewed_on": (clinic_today() - dt.timedelta(days=90)).isoformat(), "level": 0}]}, "reviews"),
        ({"reviews": [{"reviewed_on": clinic_today().isoformat(), "level": 3}]}, "reviews"),
        ({"level_descriptions": {"-1": "Sits 1 h"}}, "level_descriptions"),
        ({"level_descriptions": {"0": "Sits 3 h", "3": "Flies"}}, "level_descriptions"),
        ({"importance": 4}, "importance"),
        ({"baseline_level": 0}, "baseline_level"),
        ({"set_on": (clinic_today() + dt.timedelta(days=1)).isoformat(), "reviews": []}, "set_on"),
    ],
)
def test_bad_goal_input_is_a_400_with_field_messages_and_saves_nothing(api_as, therapist, patient, changes, field):
    response = api_as(therapist).post("/api/v1/goals/", new_goal(patient, **changes), format="json")
    assert response.status_code == 400
    assert field in response.json(), response.json()
    assert not Goal.objects.exists()
    assert not GoalReview.objects.exists()


def test_a_review_before_the_goal_was_set_says_so(api_as, therapist, patient):
    early = {"reviewed_on": (clinic_today() - dt.timedelta(days=90)).isoformat(), "level": 0}
    body = api_as(therapist).post("/api/v1/goals/", new_goal(patient, reviews=[early]), format="json").json()
    assert "before the goal was set" in body["reviews"]["0"]["reviewed_on"][0]


def test_an_administrator_cannot_set_goals(api_as, administrator, patient):
    assert api_as(administrator).post("/api/v1/goals/", new_goal(patient), format="json").status_code == 403
    assert not Goal.objects.exists()


def test_goal_attainment_on_a_date_uses_each_goals_latest_review(api_as, surgeon, patient):
    set_on = clinic_today() - dt.timedelta(days=100)
    goals = [GoalFactory(patient=patient, set_on=set_on) for _ in range(3)]
    GoalReviewFactory(goal=goals[0], reviewed_on=set_on + dt.timedelta(days=30), level=0)
    GoalReviewFactory(goal=goals[0], reviewed_on=set_on + dt.timedelta(days=60), level=1)
    GoalReviewFactory(goal=goals[1], reviewed_on=set_on + dt.timedelta(days=30), level=1)
    GoalReviewFactory(goal=goals[2], reviewed_on=set_on + dt.timedelta(days=30), level=0)
    url = f"/api/v1/patients/{patient.pk}/goal-attainment/"
    on_day_70 = api_as(surgeon).get(url, {"on": (set_on + dt.timedelta(days=70)).isoformat()}).json()
    assert on_day_70["t_score"] == "59.13"  # (+1, +1, 0)
    assert [g["level"] for g in on_day_70["goals"]] == [1, 1, 0]
    on_day_40 = api_as(surgeon).get(url, {"on": (set_on + dt.timedelta(days=40)).isoformat()}).json()
    assert on_day_40["t_score"] == "54.56"  # (0, +1, 0): 10/sqrt(4.8)
    before_reviews = api_as(surgeon).get(url, {"on": (set_on + dt.timedelta(days=1)).isoformat()}).json()
    assert before_reviews["t_score"] == "36.31"  # all at baseline −1
    assert api_as(surgeon).get(url, {"on": "not-a-date"}).status_code == 400


def test_goal_attainment_on_the_issue_examples(api_as, doctor, patient):
    set_on = clinic_today() - dt.timedelta(days=40)
    for level in (0, 1, -1):
        GoalReviewFactory(
            goal=GoalFactory(patient=patient, set_on=set_on), reviewed_on=set_on + dt.timedelta(days=7), level=level
        )
    body = api_as(doctor).get(f"/api/v1/patients/{patient.pk}/goal-attainment/").json()
    assert body["t_score"] == "50.00"
    assert body["on"] == clinic_today().isoformat()


def test_the_new_resources_are_in_the_openapi_schema(api_as, doctor):
    schema = api_as(doctor).get("/api/schema/", {"format": "json"}).json()
    paths = schema["paths"]
    assert "/api/v1/trials/" in paths
    assert "/api/v1/trials/{id}/sign-off/" in paths
    assert "/api/v1/goals/" in paths
    assert "/api/v1/patients/{id}/goal-attainment/" in paths
    assert "/api/v1/patients/{id}/" in paths  # the patients resource is untouched
