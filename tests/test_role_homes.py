"""One home per role at ``/`` (issue 14, point 2): each role's sections with real records, the
navigation of six items at most, and a query count that does not grow with the rows."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from patients.models import PathwayStage
from patients.services import patient_refresh_stage
from pumps.models import Pump
from pumps.services import FillDetails, ProgramDetails, SurgeryDetails, pump_implant
from spasticity.audit import void_record
from spasticity.home_views import HOME_PAGE_SIZE
from spasticity.roles import Role
from spasticity.timeutil import clinic_today
from tests.factories import (
    CaregiverFactory,
    GoalFactory,
    GoalReviewFactory,
    PatientFactory,
    PumpFactory,
    PumpModelFactory,
    ReferralFactory,
    ToneAssessmentFactory,
    TrialFactory,
    UserFactory,
)
from trials.services import trial_sign_off

pytestmark = pytest.mark.django_db

HOME = reverse("home")

# The main navigation of each role, in order; everything else is one click from the home page.
NAV_BY_ROLE = {
    "rehab_doctor": ["patients", "referrals", "trials", "appointments", "alerts", "reports"],
    "pump_nurse": ["patients", "referrals", "trials", "appointments", "alerts", "reports"],
    "neurosurgeon": ["patients", "appointments", "alerts", "reports"],
    "physical_therapist": ["patients", "trials", "appointments", "alerts", "reports"],
    "administrator": ["patients", "referrals", "appointments", "alerts", "reports", "dashboard"],
}


def html_of(client: Client, url: str = HOME, **params: str) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def block(html: str, marker: str, attribute: str = "data-testid") -> str:
    """The HTML of the element carrying ``attribute="marker"`` (up to its closing tag)."""
    match = re.search(rf'<(\w+)[^>]*{attribute}="{re.escape(marker)}"', html)
    assert match, f"{marker} not on the page"
    tag = match.group(1)
    depth, position = 0, match.start()
    for tag_match in re.finditer(rf"<(/?){tag}\b", html[match.start() :]):
        depth += -1 if tag_match.group(1) else 1
        if depth == 0:
            position = match.start() + tag_match.end()
            break
    return html[match.start() : position]


def main_nav(html: str) -> list[str]:
    return re.findall(r'data-nav="([^"]+)"', block(html, "main-nav"))


def query_count(client: Client, url: str = HOME) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def scored_trial(patient=None, *, after: str = "1", performed_on: dt.date | None = None):
    """A trial scored MAS 3 at baseline and ``after`` at 60 minutes (3 → 1: a 2-point drop, positive),
    with the patient's stored pathway stage brought up to date as the scoring pages do."""
    trial = TrialFactory(
        **({"patient": patient} if patient else {}), **({"performed_on": performed_on} if performed_on else {})
    )
    ToneAssessmentFactory(trial=trial, minutes_after_bolus=0, mas="3")
    ToneAssessmentFactory(trial=trial, minutes_after_bolus=60, mas=after)
    patient_refresh_stage(trial.patient, by=UserFactory(role=Role.REHAB_DOCTOR))
    return trial


def implant(patient, surgeon: User, *, implanted_on: dt.date, complications=(), serial: str = "") -> Pump:
    pump = PumpFactory.build(
        patient=patient, implanted_on=implanted_on, **({"serial_number": serial} if serial else {})
    )
    pump.model = PumpModelFactory()
    return pump_implant(
        pump,
        by=surgeon,
        surgery=SurgeryDetails(performed_on=implanted_on, surgeon=surgeon, complications=complications),
        first_program=ProgramDetails(daily_dose_mcg=Decimal("500"), reason="Starting dose"),
        first_fill=FillDetails(
            volume_added_ml=Decimal("40"), concentration_mcg_per_ml=Decimal("2000"), drug="lioresal", lot_number="L1"
        ),
        today=implanted_on,
    )


# --- Who gets a home -------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(NAV_BY_ROLE))
def test_every_role_gets_its_home_at_the_root(client_as, personas, role):
    response = client_as(personas[role]).get(HOME)
    assert response.status_code == 200
    assert response.templates[0].name == "homes/home.html"
    assert response.context["home_roles"] == [role]


def test_an_anonymous_visitor_is_sent_to_sign_in():
    response = Client().get(HOME)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_user_with_two_roles_sees_the_sections_of_both_nurse_first(client_as, db):
    both = UserFactory(username="two_hats", role=Role.REHAB_DOCTOR)
    both.groups.add(*UserFactory(role=Role.PUMP_NURSE).groups.all())
    html = html_of(client_as(both))
    assert html.index('data-testid="nurse-home"') < html.index('data-testid="doctor-home"')


# --- Navigation ------------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "expected"), list(NAV_BY_ROLE.items()))
def test_each_role_has_at_most_six_navigation_items_and_the_api_in_its_user_menu(client_as, personas, role, expected):
    html = html_of(client_as(personas[role]), reverse("patients:list"))
    items = main_nav(html)
    assert items == expected
    assert len(items) <= 6
    assert "api" not in items
    menu = block(html, "user-menu")
    assert 'data-nav="api"' in menu and f'href="{reverse("api_docs")}"' in menu
    assert "Sign out" in menu


def test_the_api_docs_link_back_to_the_home(client_as, nurse):
    html = html_of(client_as(nurse), reverse("api_docs"))
    assert f'href="{HOME}" data-testid="api-docs-back"' in html


@pytest.mark.parametrize(
    ("role", "shortcuts", "absent"),
    [
        (
            "rehab_doctor",
            {"new-patient", "pump-today", "worklist", "titration-schedule", "pump-catalogue", "import-caseload"},
            set(),
        ),
        (
            "pump_nurse",
            {"new-patient", "pump-today", "worklist", "titration-schedule", "import-caseload"},
            {"pump-catalogue"},
        ),
        (
            "administrator",
            {"new-patient", "titration-schedule", "not-booked", "dashboard"},
            {"import-caseload", "pump-today"},
        ),
        ("physical_therapist", {"dashboard"}, {"new-patient", "pump-today", "import-caseload"}),
        ("neurosurgeon", {"dashboard"}, {"new-patient", "pump-today", "titration-schedule"}),
    ],
)
def test_the_pages_that_left_the_navigation_are_one_click_from_home(client_as, personas, role, shortcuts, absent):
    client = client_as(personas[role])
    html = block(html_of(client), "home-shortcuts")
    links = dict(re.findall(r'href="([^"]+)" data-shortcut="([^"]+)"', html))
    found = set(links.values())
    assert shortcuts <= found and not (absent & found)
    for href in links:  # each shortcut answers
        assert client.get(href).status_code == 200


# --- The rehab doctor ------------------------------------------------------------------------


def test_the_doctor_sees_unsigned_trials_to_sign_with_their_suggested_outcome(client_as, doctor):
    today = clinic_today()
    unsigned = scored_trial(PatientFactory(family_name="Okafor"))
    signed = scored_trial(PatientFactory(family_name="Lindqvist"))
    trial_sign_off(signed, by=doctor, outcome="positive", note="Clear drop in tone", today=today)
    planned = TrialFactory(performed_on=today + dt.timedelta(days=3))  # not done yet: nothing to sign
    booked_today = TrialFactory(performed_on=today)  # today's, not scored yet: not done either
    voided_scores = scored_trial()
    for score in voided_scores.assessments.all():
        void_record(score, by=doctor, reason="Entered on the wrong trial")

    html = html_of(client_as(doctor))
    to_sign = block(html, "trials-to-sign")
    assert f'data-trial="{booked_today.pk}"' not in to_sign and f'data-trial="{voided_scores.pk}"' not in to_sign
    assert "OKAFOR" in to_sign.upper() and f'data-testid="sign-trial-{unsigned.pk}"' in to_sign
    assert f'data-testid="suggested-{unsigned.pk}">positive<' in to_sign
    assert f'data-trial="{signed.pk}"' not in to_sign and f'data-trial="{planned.pk}"' not in to_sign
    assert f'href="{reverse("trials:detail", args=[unsigned.pk])}#sign-heading"' in to_sign


def test_the_doctors_trials_of_today_tell_signed_from_unsigned(client_as, doctor):
    today = clinic_today()
    unsigned = scored_trial(performed_on=today)
    signed = scored_trial(performed_on=today, after="3")
    trial_sign_off(signed, by=doctor, outcome="negative", note="No change in tone", today=today)
    yesterday = scored_trial()

    section = block(html_of(client_as(doctor)), "trials-today")
    assert f'data-testid="trial-unsigned-{unsigned.pk}"' in section
    assert f'data-testid="trial-signed-{signed.pk}"' in section and "Signed negative" in section
    assert f'data-testid="trial-signed-{unsigned.pk}"' not in section
    assert f'data-trial="{yesterday.pk}"' not in section


def test_the_doctor_sees_the_patients_awaiting_a_decision(client_as, doctor):
    waiting = scored_trial(PatientFactory(family_name="Moreau")).patient
    waiting.refresh_from_db()
    assert waiting.pathway_stage == PathwayStage.TRIAL_DONE
    decided = scored_trial(PatientFactory(family_name="Abara"))
    trial_sign_off(decided, by=doctor, outcome="positive", note="Good response", today=clinic_today())

    section = block(html_of(client_as(doctor)), "awaiting-decision")
    assert f'data-patient="{waiting.pk}"' in section
    assert f'data-patient="{decided.patient_id}"' not in section


def test_a_home_list_shows_one_page_and_pages_on_its_own(client_as, doctor):
    today = clinic_today()
    trials = [scored_trial(performed_on=today - dt.timedelta(days=30 - n)) for n in range(HOME_PAGE_SIZE + 1)]
    client = client_as(doctor)
    first = block(html_of(client), "trials-to-sign")
    assert len(re.findall(r'data-trial="\d+"', first)) == HOME_PAGE_SIZE
    assert f'data-trial="{trials[-1].pk}"' not in first and 'data-testid="pager-to_sign"' in first
    second = block(html_of(client, page_to_sign="2"), "trials-to-sign")
    assert re.findall(r'data-trial="(\d+)"', second) == [str(trials[-1].pk)]


# --- The pump nurse --------------------------------------------------------------------------


def test_the_nurse_home_merges_the_worklist_and_todays_pumps_with_action_buttons_and_phones(client_as, nurse, surgeon):
    today = clinic_today()
    patient = PatientFactory(family_name="Okafor", assigned_nurse=nurse)
    CaregiverFactory(patient=patient, name="Ada Okafor", phone="07700 900123")
    # Implanted 143 days ago: the refill falls due this week.
    due = PumpFactory(patient=patient, by=surgeon, implanted_on=today - dt.timedelta(days=143), today=today)
    # Implanted 155 days ago: past its alarm date, so the worklist raises an alert.
    past = PumpFactory(
        patient=PatientFactory(family_name="Lee", assigned_nurse=nurse),
        by=surgeon,
        implanted_on=today - dt.timedelta(days=155),
        today=today,
    )

    html = html_of(client_as(nurse))
    assert 'data-testid="worklist-alerts"' in html and 'data-testid="who-filter"' in html
    alerts = block(html, "worklist-alerts")
    assert 'data-alert-kind="past_alarm_date"' in alerts and "LEE" in alerts
    refills = block(html, "home-refills")
    assert f'data-testid="refill-{due.pk}"' in refills and f'data-testid="refill-{past.pk}"' in refills
    assert f'href="{reverse("pumps:refill_create", args=[due.pk])}"' in refills
    assert 'href="tel:07700900123"' in refills and "Ada Okafor" in refills
    # Who: the nurse's own patients by default; another nurse's do not show.
    other = PumpFactory(
        patient=PatientFactory(assigned_nurse=UserFactory(role=Role.PUMP_NURSE)),
        by=surgeon,
        implanted_on=today - dt.timedelta(days=143),
        today=today,
    )
    assert f'data-testid="refill-{other.pk}"' not in html_of(client_as(nurse))
    assert f'data-testid="refill-{other.pk}"' in html_of(client_as(nurse), who="all")


def test_the_nurse_home_shows_titration_visits_with_their_button(client_as, nurse, surgeon):
    from pumps.services import dose_change_record

    today = clinic_today()
    pump = PumpFactory(
        patient=PatientFactory(assigned_nurse=nurse), by=surgeon, implanted_on=today - dt.timedelta(days=10)
    )
    dose_change_record(
        pump=pump, by=nurse, changed_on=today - dt.timedelta(days=3), daily_dose_mcg=Decimal("550"), next_visit_on=today
    )
    visits = block(html_of(client_as(nurse)), "home-visits")
    assert f'data-testid="titrate-{pump.pk}"' in visits
    assert f'href="{reverse("pumps:dose_change_create", args=[pump.pk])}"' in visits


def test_the_old_nurse_pages_still_answer(client_as, nurse):
    client = client_as(nurse)
    assert client.get(reverse("alerts:worklist")).status_code == 200
    assert client.get(reverse("pumps:today")).status_code == 200


# --- The neurosurgeon ------------------------------------------------------------------------


def test_the_surgeon_sees_who_awaits_an_implant_replacements_and_recent_surgeries(client_as, doctor, surgeon):
    today = clinic_today()
    awaiting = scored_trial(PatientFactory(family_name="Haddad"))
    trial_sign_off(awaiting, by=doctor, outcome="positive", note="Good response", today=today)
    not_yet = scored_trial(PatientFactory(family_name="Quinn")).patient  # unsigned: not the surgeon's yet
    # Implanted 83 months ago: an 84-month battery ends within the warning window.
    old = implant(PatientFactory(family_name="Ivanova"), surgeon, implanted_on=today - dt.timedelta(days=83 * 30))
    recent = implant(
        PatientFactory(family_name="Novak"),
        surgeon,
        implanted_on=today - dt.timedelta(days=5),
        complications=["csf_leak"],
    )

    html = html_of(client_as(surgeon))
    waiting = block(html, "awaiting-implant")
    assert f'data-patient="{awaiting.patient_id}"' in waiting and f'data-patient="{not_yet.pk}"' not in waiting
    assert f'data-testid="implant-{awaiting.patient_id}"' in waiting
    replacements = block(html, "upcoming-replacements")
    assert f'data-pump="{old.pk}"' in replacements and f'data-pump="{recent.pk}"' not in replacements
    assert old.battery_end_of_service_on.isoformat() in replacements
    surgeries = block(html, "recent-surgeries")
    recent_surgery = recent.surgeries.get()
    assert "CSF leak" in block(surgeries, f"complications-{recent_surgery.pk}")
    assert str(old.surgeries.get().pk) not in re.findall(r'data-surgery="(\d+)"', surgeries)


# --- The physical therapist ------------------------------------------------------------------


def test_the_therapist_sees_todays_trials_to_score_and_the_goals_due_for_review(client_as, therapist):
    today = clinic_today()
    todays = TrialFactory(performed_on=today)
    yesterdays = TrialFactory()
    due = GoalFactory(set_on=today - dt.timedelta(days=120))
    reviewed = GoalFactory(set_on=today - dt.timedelta(days=120))
    GoalReviewFactory(goal=reviewed, reviewed_on=today - dt.timedelta(days=10))
    fresh = GoalFactory()  # set a month ago

    html = html_of(client_as(therapist))
    trials = block(html, "trials-to-score")
    assert f'data-trial="{todays.pk}"' in trials and f'data-trial="{yesterdays.pk}"' not in trials
    goals = block(html, "goals-due")
    assert f'data-goal="{due.pk}"' in goals
    assert f'data-goal="{reviewed.pk}"' not in goals and f'data-goal="{fresh.pk}"' not in goals
    assert f'href="{reverse("goals:review_create", args=[due.pk])}"' in goals


# --- The administrator -----------------------------------------------------------------------


def test_the_administrator_sees_referrals_waiting_and_the_counts_of_unbooked_and_overdue(
    client_as, administrator, surgeon
):
    today = clinic_today()
    waiting = ReferralFactory(status="new")
    accepted = ReferralFactory(status="accepted")
    # Implanted 160 days ago: past its refill-due date and its alarm date (overdue).
    PumpFactory(by=surgeon, implanted_on=today - dt.timedelta(days=160), today=today)
    # Implanted 140 days ago: due within the not-booked window, still before its alarm date.
    PumpFactory(by=surgeon, implanted_on=today - dt.timedelta(days=140), today=today)

    html = html_of(client_as(administrator))
    referrals = block(html, "referrals-waiting")
    assert f'data-referral="{waiting.pk}"' in referrals and f'data-referral="{accepted.pk}"' not in referrals
    overdue = block(html, "overdue-count")
    assert '<div class="display-6">1</div>' in overdue and reverse("reports:overdue_refills") in overdue
    report = client_as(administrator).get(reverse("reports:overdue_refills"))
    assert report.context["total"] == 1  # the count is the report's own
    not_booked = block(html, "not-booked-count")
    assert '<div class="display-6">1</div>' in not_booked and reverse("appointments:not_booked") in not_booked
    reports = block(html, "admin-reports")
    assert reverse("alerts:dashboard") in reports and reverse("reports:battery") in reports


# --- Query counts ----------------------------------------------------------------------------

# Each home's queries: seven for the request itself (the session, the user, their roles for
# the view and the navigation, their permissions; the session is saved at most once a minute,
# spasticity.middleware), then its lists, each a count and one page of rows. Doctor (15):
# trials to sign and today's trials (count, rows, their scores: three each), patients
# awaiting a decision (two). Surgeon (13): three lists of two.
# Therapist (12): today's trials (three), goals due (two). Administrator (11): referrals (two),
# the not-booked and overdue counts. Nurse (13): the worklist's (alert counts, the rows of each
# alert kind with any, the pumps' counts and sections, the refills' bookings), her role once
# more for the "mine" filter, and one query for the families' phone numbers.
HOME_QUERIES = {
    "rehab_doctor": 15,
    "neurosurgeon": 13,
    "physical_therapist": 12,
    "administrator": 11,
    "pump_nurse": 13,
}


def fill_every_list(rows: int, *, doctor: User, nurse: User, surgeon: User) -> None:
    today = clinic_today()
    for n in range(rows):
        unsigned = scored_trial(performed_on=today)  # to sign, today's, to score
        signed = scored_trial()
        trial_sign_off(signed, by=doctor, outcome="positive", note="Good", today=today)  # awaiting implant
        GoalFactory(patient=unsigned.patient, set_on=today - dt.timedelta(days=100))
        ReferralFactory(patient=unsigned.patient, status="new")
        patient = PatientFactory(assigned_nurse=nurse)
        CaregiverFactory(patient=patient)
        implant(patient, surgeon, implanted_on=today - dt.timedelta(days=150 + n), complications=["seroma"])
        implant(PatientFactory(assigned_nurse=nurse), surgeon, implanted_on=today - dt.timedelta(days=83 * 30 + n))
        implant(PatientFactory(), surgeon, implanted_on=today - dt.timedelta(days=2 + n), complications=["infection"])


@pytest.mark.parametrize("role", list(NAV_BY_ROLE))
def test_each_home_keeps_its_query_count_whatever_the_rows(client_as, personas, role):
    client = client_as(personas[role])
    people = {"doctor": personas["rehab_doctor"], "nurse": personas["pump_nurse"], "surgeon": personas["neurosurgeon"]}
    fill_every_list(2, **people)
    few = query_count(client)
    fill_every_list(HOME_PAGE_SIZE, **people)  # every list past one page
    assert query_count(client) == few == HOME_QUERIES[role]


@pytest.mark.parametrize("role", list(NAV_BY_ROLE))
def test_a_home_shows_its_first_page_for_a_page_number_that_is_not_one(client_as, personas, role):
    """A hand-typed or stale ``?page_<list>=`` never breaks a home: it shows the first page, like the lists do."""
    client = client_as(personas[role])
    queries = ("page_to_sign=abc", "page_to_sign=99999999999999999999999", "page_goals_due=-1", "page_refills=²")
    for query in (*queries, "page_to_sign=%C2%B2", "page_refill_overdue=١", "who=<script>"):
        response = client.get("/?" + query)
        assert response.status_code == 200, query
        assert b"<script>" not in response.content.split(b"</head>", 1)[1].replace(b'<script src="', b"")


def test_a_trial_with_no_drop_in_tone_shows_a_zero_reduction_not_a_dash(client_as, doctor):
    """0 is a result (no response); "—" would read as not scored yet."""
    flat = scored_trial(after="3")  # MAS 3 → 3
    to_sign = block(html_of(client_as(doctor)), "trials-to-sign")
    assert re.search(rf'data-testid="peak-reduction-{flat.pk}">0(\.0+)?<', to_sign), to_sign
