"""Goal pages (GAS levels, reviews, T-score and its chart), and the demo's trial stages."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from spasticity.roles import Role
from spasticity.timeutil import clinic_today
from tests.factories import GoalFactory, GoalReviewFactory, PatientFactory, UserFactory
from trials.demo import seed_trials
from trials.models import Goal, GoalReview, Trial
from trials.selectors import effective_positive_trial_bolus_mcg

pytestmark = pytest.mark.django_db

TODAY = clinic_today()


def goal_data(**changes: str) -> dict[str, str]:
    data = {
        "domain": "transfers",
        "description": "Stands to transfer from chair to bed with one carer",
        "set_on": TODAY.isoformat(),
        "level_minus_2": "Needs a hoist",
        "level_minus_1": "Two carers (now)",
        "level_0": "One carer",
        "level_plus_1": "One carer, no pivot board",
        "level_plus_2": "Supervision only",
        "importance": "3",
        "difficulty": "2",
        "baseline_level": "-1",
    }
    data.update(changes)
    return data


def test_a_therapist_sets_a_goal_with_its_five_levels(client_as, therapist, patient):
    response = client_as(therapist).post(reverse("goals:create", args=[patient.pk]), goal_data())
    assert response.status_code == 302, response.context["form"].errors
    goal = Goal.objects.get()
    assert goal.level_descriptions == {
        "-2": "Needs a hoist",
        "-1": "Two carers (now)",
        "0": "One carer",
        "1": "One carer, no pivot board",
        "2": "Supervision only",
    }
    assert goal.weight == 6
    assert goal.history.earliest().history_user == therapist


@pytest.mark.parametrize(
    ("field", "changes", "message"),
    [
        ("level_0", {"level_0": ""}, "required"),
        ("importance", {"importance": "4"}, "Rate from 0 to 3"),
        ("baseline_level", {"baseline_level": "0"}, "not one of the available choices"),
        ("set_on", {"set_on": (TODAY + dt.timedelta(days=1)).isoformat()}, "cannot be in the future"),
    ],
)
def test_bad_goal_input_gets_a_field_message_and_saves_nothing(client_as, therapist, patient, field, changes, message):
    response = client_as(therapist).post(reverse("goals:create", args=[patient.pk]), goal_data(**changes))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert any(message in e for e in errors[field]), errors[field]
    assert not Goal.objects.exists()


def review(client, goal, **data: str):
    body = {"reviewed_on": TODAY.isoformat(), "level": "1", "note": ""}
    body.update(data)
    return client.post(reverse("goals:review_create", args=[goal.pk]), body)


def test_a_nurse_reviews_a_goal_at_a_later_visit(client_as, nurse, patient):
    goal = GoalFactory(patient=patient, set_on=TODAY - dt.timedelta(days=30))
    assert review(client_as(nurse), goal, level="1", note="Managing 5 hours").status_code == 302
    saved = GoalReview.objects.get()
    assert (saved.level, saved.reviewed_on, saved.note) == (1, TODAY, "Managing 5 hours")


def test_the_review_form_offers_the_goals_own_levels_with_none_chosen_and_names_the_patient(client_as, nurse, patient):
    descriptions = {str(level): f"Walks {10 * (level + 3)} m" for level in range(-2, 3)}
    goal = GoalFactory(patient=patient, set_on=TODAY - dt.timedelta(days=30), level_descriptions=descriptions)
    page = client_as(nurse).get(reverse("goals:review_create", args=[goal.pk]))
    level = page.context["form"]["level"]

    assert [label for _value, label in level.field.choices] == [
        "Choose the level reached",
        "−2 much less than expected: Walks 10 m",
        "−1 somewhat less than expected: Walks 20 m",
        "0 expected outcome: Walks 30 m",
        "+1 somewhat more than expected: Walks 40 m",
        "+2 much more than expected: Walks 50 m",
    ]
    assert level.value() in (None, "")
    assert "selected" not in str(level).replace('value="" selected', "")
    assert patient.full_name in page.content.decode()


@pytest.mark.parametrize(
    ("field", "data", "message"),
    [
        ("level", {"level": "3"}, "not one of the available choices"),
        ("level", {"level": "-3"}, "not one of the available choices"),
        ("reviewed_on", {"reviewed_on": (TODAY - dt.timedelta(days=31)).isoformat()}, "before the goal was set"),
        ("reviewed_on", {"reviewed_on": (TODAY + dt.timedelta(days=1)).isoformat()}, "cannot be in the future"),
    ],
)
def test_bad_review_input_gets_a_field_message_and_saves_nothing(client_as, nurse, patient, field, data, message):
    goal = GoalFactory(patient=patient, set_on=TODAY - dt.timedelta(days=30))
    response = review(client_as(nurse), goal, **data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and any(message in e for e in errors[field]), errors
    assert not GoalReview.objects.exists()


def test_a_second_review_on_the_same_day_is_refused(client_as, nurse, patient):
    goal = GoalFactory(patient=patient, set_on=TODAY - dt.timedelta(days=30))
    review(client_as(nurse), goal)
    again = review(client_as(nurse), goal, level="2")
    assert again.status_code == 200
    assert "already reviewed" in again.context["form"].errors["reviewed_on"][0]
    assert GoalReview.objects.get().level == 1


@pytest.mark.parametrize("role", ["administrator", "neurosurgeon"])
def test_administrators_and_surgeons_cannot_set_or_review_goals(client_as, personas, role, patient):
    goal = GoalFactory(patient=patient, set_on=TODAY - dt.timedelta(days=30))
    client = client_as(personas[role])
    assert client.post(reverse("goals:create", args=[patient.pk]), goal_data()).status_code == 403
    assert review(client, goal).status_code == 403
    assert Goal.objects.count() == 1 and not GoalReview.objects.exists()
    assert client.get(reverse("goals:patient_goals", args=[patient.pk])).status_code == 200


def test_the_goals_page_shows_the_t_score_on_a_date_and_its_chart_data(client_as, doctor, patient):
    set_on = TODAY - dt.timedelta(days=60)
    goals = [GoalFactory(patient=patient, set_on=set_on) for _ in range(3)]
    for goal, level in zip(goals, (1, 1, 0), strict=True):
        GoalReviewFactory(goal=goal, reviewed_on=set_on + dt.timedelta(days=30), level=level)
    client = client_as(doctor)
    page = client.get(reverse("goals:patient_goals", args=[patient.pk]))
    assert page.context["attainment"].t_score == Decimal("59.13")
    html = page.content.decode()
    assert 'data-testid="t-score">59.13<' in html
    chart = json.loads(html.split('id="gas-chart-json" type="application/json">')[1].split("</script>")[0])
    assert chart["series"][0]["points"] == [
        {"x": set_on.isoformat(), "y": 36.31},
        {"x": (set_on + dt.timedelta(days=30)).isoformat(), "y": 59.13},
    ]
    earlier = client.get(
        reverse("goals:patient_goals", args=[patient.pk]), {"on": (set_on + dt.timedelta(days=1)).isoformat()}
    )
    assert earlier.context["attainment"].t_score == Decimal("36.31")


def test_the_goals_page_makes_the_same_number_of_queries_for_1_and_20_goals(client_as, doctor, patient):
    client = client_as(doctor)
    GoalReviewFactory(goal=GoalFactory(patient=patient))
    url = reverse("goals:patient_goals", args=[patient.pk])
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for _ in range(19):
        GoalReviewFactory(goal=GoalFactory(patient=patient))
    with CaptureQueriesContext(connection) as many:
        client.get(url)
    assert len(few) == len(many)


def test_the_demo_puts_patients_at_each_trial_stage(db):
    staff = {
        role.value: UserFactory(username=f"demo_{role.value}", role=role)
        for role in (Role.REHAB_DOCTOR, Role.PUMP_NURSE, Role.PHYSICAL_THERAPIST)
    }
    patients = [PatientFactory() for _ in range(8)]
    seed_trials(staff=staff, patients=patients, today=TODAY)
    stages = []
    for demo_patient in patients:
        demo_patient.refresh_from_db()
        stages.append(demo_patient.pathway_stage)
    assert stages == ["trial_planned", "trial_done", "awaiting_implant", "not_candidate"] * 2
    assert Trial.objects.filter(performed_on=TODAY).count() == 1  # today's trial list has work on it
    awaiting = patients[2]
    assert effective_positive_trial_bolus_mcg(awaiting.pk) == Decimal("75")
    assert Goal.objects.filter(patient=awaiting).count() == 3
    assert GoalReview.objects.filter(goal__patient=awaiting).count() == 3
    assert Trial.objects.filter(patient=patients[3], outcome="negative").count() == 3
    assert Trial.objects.get(patient=patients[4]).performed_on == TODAY + dt.timedelta(days=1)
    signed = Trial.objects.filter(patient=awaiting, outcome="positive").get()
    assert signed.response.suggested_outcome == "positive"
    assert signed.history.latest().history_user == staff["rehab_doctor"]
