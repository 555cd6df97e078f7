"""Headless Chromium walks the spec's "effortless" journeys from each role's home, counting clicks
(spec section 1; issue 14, "Done when").

What counts as a click: every button or link pressed, and every radio button or checkbox chosen.
Typing into a field and choosing an option in a drop-down are not clicks. After the home is
loaded, the browser never jumps by address: every page comes from a click (``ClickCounter``
refuses ``page.goto``).

1. The rehab doctor, from their home, opens the trial awaiting signature, signs the suggested
   outcome and sets two goals (five level descriptions each): at most 10 clicks.
2. The pump nurse, from their home, refills the pump due today (programmer numbers, safety
   ticks, observation) and opens the after-visit summary: at most 6 clicks.
3. The physical therapist, from their home, scores today's trial and reviews a goal that is due:
   at most 4 clicks.
4. The neurosurgeon, from their home, records the implant of a patient awaiting one (pump,
   surgery, starting program and first fill on one form): at most 2 clicks.

Before the role homes (commit 675facf: the doctor landed on the patient list, the nurse on the
worklist), the same journeys took the doctor 10 clicks (search the patients, the patient, the
trial, the outcome, sign, back to the patient, set a goal, save, set a goal, save), knowing
already which patient's trial awaited a signature: no page listed the unsigned trials; and the
nurse 7 (Today's pumps, Refill, three ticks, save, the summary).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import ConsoleMessage, Error, Locator, Page, ViewportSize, expect

from pumps.models import Pump, Refill
from spasticity.timeutil import clinic_today
from tests.factories import (
    DEMO_PASSWORD,
    GoalFactory,
    PatientFactory,
    PumpFactory,
    PumpModelFactory,
    ToneAssessmentFactory,
    TrialFactory,
)
from trials import services as trial_services
from trials.forms import GoalForm
from trials.models import Goal, GoalReview, ToneAssessment, Trial

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The laptop on a clinic trolley.
VIEWPORT: ViewportSize = {"width": 1366, "height": 768}
DOCTOR_CLICKS_AT_MOST = 10
NURSE_CLICKS_AT_MOST = 6
THERAPIST_CLICKS_AT_MOST = 4
SURGEON_CLICKS_AT_MOST = 2


class ClickCounter:
    """Presses what a user would press and counts it; after the home, no jumping by address."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.steps: list[str] = []

    @property
    def clicks(self) -> int:
        return len(self.steps)

    def open_home(self, role_section: str) -> None:
        """The one address typed: the home, showing the role's section. From here on every page
        must come from a click."""
        self.page.goto(f"{self.base_url}/")
        expect(self.page.get_by_test_id(role_section)).to_be_visible()

        def refuse_goto(url: str, **kwargs: Any) -> None:
            raise AssertionError(f"The journey jumped to {url} by address instead of clicking there.")

        self.page.goto = refuse_goto  # type: ignore[method-assign]

    def click(self, locator: Locator, step: str) -> None:
        locator.click()
        self.steps.append(step)

    def choose(self, locator: Locator, step: str) -> None:
        """A radio button or a checkbox: a click, unless it is already chosen for the user."""
        if locator.is_checked():
            return
        locator.check()
        self.steps.append(step)

    def report(self, journey: str) -> str:
        numbered = "; ".join(f"{n}. {step}" for n, step in enumerate(self.steps, start=1))
        return f"{journey}: {self.clicks} clicks ({numbered})"


def sign_in(page: Page, base_url: str, user: User) -> None:
    page.set_viewport_size(VIEWPORT)
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("user-role")).to_be_visible()


@pytest.fixture
def console_errors(page: Page) -> Iterator[list[str]]:
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    def on_page_error(error: Error) -> None:
        errors.append(f"script error: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    yield errors


# --- 1. The rehab doctor: sign a trial and set two goals -----------------------------------


def trial_awaiting_signature(doctor: User, nurse: User) -> Trial:
    """Yesterday's trial, scored to the end: hips and hamstrings down a grade and more after the bolus."""
    patient = PatientFactory(given_name="Amara", family_name="Bello", assigned_doctor=doctor, assigned_nurse=nurse)
    trial = TrialFactory(patient=patient)
    grades = {0: ("3", "3"), 60: ("2", "2"), 120: ("1+", "2"), 240: ("2", "2")}
    for minutes, (hips, hamstrings) in grades.items():
        for side in ("left", "right"):
            ToneAssessmentFactory(
                trial=trial, muscle_group="hip_adductors", side=side, minutes_after_bolus=minutes, mas=hips
            )
            ToneAssessmentFactory(
                trial=trial, muscle_group="hamstrings", side=side, minutes_after_bolus=minutes, mas=hamstrings
            )
    assert trial.response.suggested_outcome == "positive"
    return trial


def level_labels() -> dict[str, str]:
    return {name: str(GoalForm.base_fields[name].label) for name in GoalForm.LEVEL_FIELDS.values()}


def fill_goal(page: Page, domain: str, description: str, levels: list[str]) -> None:
    """The goal form: typing and a drop-down, no clicks."""
    page.get_by_label("Domain").select_option(label=domain)
    page.get_by_label("Description").fill(description)
    for label, text in zip(level_labels().values(), levels, strict=True):
        page.get_by_label(label).fill(text)


def doctor_opens_the_trial_to_sign(counter: ClickCounter, trial: Trial) -> None:
    """From the doctor's home: "Review and sign" on the trial's row of the trials awaiting a signature."""
    to_sign = counter.page.get_by_test_id("trials-to-sign")
    counter.click(to_sign.get_by_test_id(f"sign-trial-{trial.pk}"), "Review and sign on the home")


def doctor_opens_a_new_goal_after_signing(counter: ClickCounter) -> None:
    page = counter.page
    counter.click(page.get_by_test_id("trial-patient"), "back to the patient")
    counter.click(page.get_by_test_id("trials-panel").get_by_role("link", name="Set a goal"), "set a goal")


def test_the_doctor_signs_a_trial_and_sets_two_goals_in_at_most_10_clicks(
    page: Page, live_server, doctor, nurse, console_errors, capsys
):
    trial = trial_awaiting_signature(doctor, nurse)
    sign_in(page, live_server.url, doctor)
    counter = ClickCounter(page, live_server.url)
    counter.open_home("doctor-home")

    doctor_opens_the_trial_to_sign(counter, trial)
    suggested = page.get_by_test_id("suggested-outcome").inner_text()
    assert suggested == "positive"
    sign_off = page.get_by_test_id("sign-off")
    counter.choose(sign_off.get_by_label(suggested.capitalize(), exact=True), "the suggested outcome")
    sign_off.get_by_label("Note").fill("Hips and hamstrings a grade softer from 60 minutes; family keen.")
    counter.click(sign_off.get_by_role("button", name="Sign the outcome"), "sign")
    expect(page.get_by_test_id("signed-banner")).to_contain_text("Signed positive")

    doctor_opens_a_new_goal_after_signing(counter)
    fill_goal(
        page,
        "Seating",
        "Sits in her wheelchair through the school day",
        ["Under 1 hour", "1 to 3 hours (now)", "3 to 5 hours", "5 to 6 hours", "The whole school day"],
    )
    counter.click(page.get_by_role("button", name="Save", exact=True), "save goal 1")
    expect(page.get_by_test_id("goal")).to_have_count(1)
    counter.click(page.get_by_test_id("set-goal"), "set another goal")
    fill_goal(
        page,
        "Easier care",
        "Nappy changes without two carers",
        ["Needs three carers", "Needs two carers (now)", "One carer, with effort", "One carer, easily", "Helps lift"],
    )
    counter.click(page.get_by_role("button", name="Save", exact=True), "save goal 2")
    expect(page.get_by_test_id("goal")).to_have_count(2)

    with capsys.disabled():
        print("\n" + counter.report("doctor journey"))
    trial.refresh_from_db()
    assert (trial.outcome, trial.signed_by) == ("positive", doctor)
    goals = Goal.objects.filter(patient=trial.patient).order_by("pk")
    assert [(g.domain, g.level_descriptions["0"], len(g.level_descriptions)) for g in goals] == [
        ("seating", "3 to 5 hours", 5),
        ("easier_care", "One carer, with effort", 5),
    ]
    assert console_errors == []
    assert counter.clicks <= DOCTOR_CLICKS_AT_MOST, counter.report("doctor journey")


# --- 2. The pump nurse: the refill due today, with its after-visit summary -----------------

# A 40 mL fill at 2000 mcg/mL and 500 mcg/day lasts 0.25 mL a day: the 2 mL alarm comes 152 days
# after the fill and the refill falls due 7 days before that (CLINIC["REFILL_LEAD_DAYS"]).
DAYS_FROM_FILL_TO_REFILL_DUE = 145
DAILY_DOSE_MCG = Decimal("500")
VOLUME_ADDED_ML = Decimal("40")


def pump_due_today(nurse: User, surgeon: User) -> Pump:
    today = clinic_today()
    patient = PatientFactory(given_name="Leo", family_name="Marsh", assigned_nurse=nurse)
    implanted_on = today - dt.timedelta(days=DAYS_FROM_FILL_TO_REFILL_DUE)
    pump = PumpFactory(
        patient=patient,
        by=surgeon,
        implanted_on=implanted_on,
        today=today,
        daily_dose_mcg=DAILY_DOSE_MCG,
        volume_added_ml=VOLUME_ADDED_ML,
    )
    pump.refresh_from_db()
    assert pump.refill_due_on == today
    return pump


def nurse_opens_the_refill(counter: ClickCounter, pump: Pump) -> None:
    """From the nurse's home: "Refill" on the pump's row of today's and this week's refills."""
    refills = counter.page.get_by_test_id("home-refills")
    expect(refills.locator(f'tr[data-pump="{pump.pk}"]')).to_contain_text(pump.refill_due_on.isoformat())
    counter.click(refills.get_by_test_id(f"refill-{pump.pk}"), "Refill on the home")


def fill_the_refill(counter: ClickCounter) -> None:
    """Volumes and lot typed; the programmer's numbers copied from the computed dates; three ticks."""
    page = counter.page
    # 145 days at 0.25 mL a day leave 3.75 mL of the 40: the residual the pump should hold.
    page.get_by_label("Aspirated residual volume (mL)").fill("3.75")
    page.get_by_label("Lot number").fill("LOT-JOURNEY-1")
    alarm = page.get_by_test_id("preview-alarm-date")
    expect(alarm).to_have_text(re.compile(r"\d{4}-\d{2}-\d{2}"))
    expect(page.get_by_test_id("preview-flag")).to_have_attribute("data-flag", "none")
    page.get_by_label("Alarm date on the programmer").fill(alarm.inner_text())
    page.get_by_label("Reservoir volume on the programmer (mL)").fill(str(VOLUME_ADDED_ML))
    page.get_by_label("Daily dose on the programmer (mcg/day)").fill(str(DAILY_DOSE_MCG))
    counter.choose(page.get_by_label("Central reservoir fill port access confirmed"), "port access tick")
    counter.choose(page.get_by_label("Pump running confirmed"), "pump running tick")
    page.get_by_label("Observed after the refill (minutes)").fill("20")
    counter.choose(page.get_by_label("None observed"), "none observed tick")


def open_the_printout(counter: ClickCounter) -> tuple[int, str, bytes]:
    """The after-visit summary: a PDF download, or a print page; (status, content type, body)."""
    page = counter.page
    link = page.get_by_role("link", name=re.compile("After-visit summary"))
    href = link.get_attribute("href") or ""
    if href.endswith(".pdf"):
        with page.expect_download() as download_info:
            counter.click(link, "the after-visit summary")
        download = download_info.value
        # The download itself says the answer was a file; ask again to read its status and type.
        answer = page.request.get(download.url)
        return answer.status, answer.headers["content-type"], answer.body()
    with page.expect_response(lambda response: href in response.url) as response_info:
        counter.click(link, "the after-visit summary")
    response = response_info.value
    return response.status, response.headers["content-type"], response.body()


def test_the_nurse_refills_the_pump_due_today_and_prints_the_summary_in_at_most_6_clicks(
    page: Page, live_server, nurse, surgeon, console_errors, capsys
):
    pump = pump_due_today(nurse, surgeon)
    sign_in(page, live_server.url, nurse)
    counter = ClickCounter(page, live_server.url)
    counter.open_home("nurse-home")

    nurse_opens_the_refill(counter, pump)
    fill_the_refill(counter)
    counter.click(page.get_by_role("button", name="Save the refill"), "save the refill")
    # The visit ends with the new dates on the page, as the spec's journey says.
    expect(page.get_by_role("heading", name=re.compile(f"Refill on {clinic_today():%Y-%m-%d}"))).to_be_visible()
    refill = Refill.objects.get(pump=pump, lot_number="LOT-JOURNEY-1")
    assert refill.alarm_date is not None and refill.refill_due_on is not None
    expect(page.get_by_test_id("alarm-date")).to_contain_text(refill.alarm_date.isoformat())
    expect(page.get_by_test_id("refill-due-on")).to_contain_text(refill.refill_due_on.isoformat())
    status, content_type, body = open_the_printout(counter)

    with capsys.disabled():
        print("\n" + counter.report("nurse journey"))
    assert refill.refilled_on == clinic_today()
    assert (refill.aspirated_volume_ml, refill.pump_running_confirmed, refill.observation_minutes) == (
        Decimal("3.75"),
        True,
        20,
    )
    assert refill.observation_signs == ["none_observed"]
    assert refill.programmer_alarm_date == refill.alarm_date
    assert status == 200
    if content_type.startswith("application/pdf"):
        assert body.startswith(b"%PDF")
    else:
        assert content_type.startswith("text/html")
        assert refill.alarm_date.isoformat().encode() in body
    assert console_errors == []
    assert counter.clicks <= NURSE_CLICKS_AT_MOST, counter.report("nurse journey")


# --- 3. The physical therapist: today's trial scored, a goal due reviewed -------------------


def test_the_therapist_scores_todays_trial_and_reviews_a_goal_due_in_at_most_4_clicks(
    page: Page, live_server, therapist, console_errors, capsys
):
    today = clinic_today()
    patient = PatientFactory(given_name="Zara", family_name="Quinn")
    trial = TrialFactory(patient=patient, performed_on=today)
    # Set 100 days ago and never reviewed: past the 90 days between reviews.
    goal = GoalFactory(patient=patient, set_on=today - dt.timedelta(days=100))
    sign_in(page, live_server.url, therapist)
    counter = ClickCounter(page, live_server.url)
    counter.open_home("therapist-home")

    counter.click(page.get_by_test_id("trials-to-score").get_by_test_id(f"open-trial-{trial.pk}"), "Score on the home")
    grades = {"mas-hip_adductors-left-0": "3", "mas-hip_adductors-right-0": "3", "mas-hip_adductors-left-60": "2"}
    for cell_id, grade in grades.items():
        cell = page.locator(f"#{cell_id}")
        cell.fill(grade)
        # Each grade saves itself when the cell is left (Tab is a key, not a click).
        with page.expect_response(lambda response: response.url.endswith("/cell/")):
            cell.press("Tab")
        expect(page.locator(f"#{cell_id}")).to_have_value(grade)
    counter.click(page.get_by_role("navigation", name="Main").get_by_role("link", name="ITB Clinic"), "home")
    counter.click(page.get_by_test_id("goals-due").get_by_test_id(f"review-goal-{goal.pk}"), "Review on the home")
    page.get_by_label("Level reached").select_option(value="0")
    counter.click(page.get_by_role("button", name="Record the review"), "record the review")
    expect(page.get_by_test_id("reviews")).to_contain_text(f"{today:%Y-%m-%d}: level")

    with capsys.disabled():
        print("\n" + counter.report("therapist journey"))
    saved = ToneAssessment.objects.filter(trial=trial).order_by("minutes_after_bolus", "side")
    assert [(s.side, s.minutes_after_bolus, s.mas) for s in saved] == [
        ("left", 0, "3"),
        ("right", 0, "3"),
        ("left", 60, "2"),
    ]
    review = GoalReview.objects.get(goal=goal)
    assert (review.reviewed_on, review.level, review.history.earliest().history_user) == (today, 0, therapist)
    assert console_errors == []
    assert counter.clicks <= THERAPIST_CLICKS_AT_MOST, counter.report("therapist journey")


# --- 4. The neurosurgeon: the implant of a patient awaiting one -----------------------------


def test_the_surgeon_records_an_implant_from_the_home_in_at_most_2_clicks(
    page: Page, live_server, doctor, surgeon, console_errors, capsys
):
    today = clinic_today()
    PumpModelFactory()  # the catalogue the transactional tests' flush emptied
    patient = PatientFactory(given_name="Noor", family_name="Haddad", assigned_doctor=doctor)
    trial = TrialFactory(patient=patient, bolus_dose_mcg=Decimal("50"))
    trial_services.trial_sign_off(trial, by=doctor, outcome="positive", note="Clear response at 4 hours.")
    sign_in(page, live_server.url, surgeon)
    counter = ClickCounter(page, live_server.url)
    counter.open_home("surgeon-home")

    awaiting = page.get_by_test_id("awaiting-implant")
    counter.click(awaiting.get_by_test_id(f"implant-{patient.pk}"), "Record implant on the home")
    # The starting dose is prefilled from the signed trial (2 × the 50 mcg bolus).
    expect(page.get_by_label("Starting daily dose (mcg/day)")).to_have_value(re.compile(r"^100(\.0+)?$"))
    page.get_by_label("Pump model").select_option(label="Medtronic SynchroMed II")
    page.get_by_label("Serial number").fill("NGP900001H")
    page.get_by_label("Reservoir volume (mL)").fill("20")
    page.get_by_label("Implanted on").fill(f"{today:%Y-%m-%d}")
    page.get_by_label("Pump site").fill("Right lower abdomen, subfascial")
    page.get_by_label("Catheter tip level").fill("T10")
    page.get_by_label("Volume added (mL)").fill("20")
    page.get_by_label("Drug").select_option(value="lioresal")
    page.get_by_label("Lot number").fill("LOT-IMPLANT-1")
    counter.click(page.get_by_role("button", name="Record implant"), "record the implant")
    expect(page.get_by_role("heading", name=re.compile("NGP900001H"))).to_be_visible()

    with capsys.disabled():
        print("\n" + counter.report("surgeon journey"))
    pump = Pump.objects.get(patient=patient, serial_number="NGP900001H")
    assert (pump.implanted_on, pump.current_daily_dose_mcg, pump.current_concentration_mcg_per_ml) == (
        today,
        Decimal("100"),
        Decimal("500"),
    )
    assert pump.surgeries.get().surgeon == surgeon
    assert console_errors == []
    assert counter.clicks <= SURGEON_CLICKS_AT_MOST, counter.report("surgeon journey")
