"""The patient banner on every patient-scoped page (issue 14, point 3).

Who the page is about, at a glance: name, age and birth date, MRN, weight with its date,
diagnosis and GMFCS, the pathway stage, and the implanted pump's drug, concentration,
daily dose and alarm date (its stored projection columns).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from appointments.models import Appointment
from appointments.services import appointment_book
from devices.services import MriChecklist, mri_record
from patients.models import Patient
from patients.selectors import age_label, patient_banner
from spasticity.audit import void_record
from spasticity.roles import Role
from spasticity.timeutil import clinic_today
from tests.factories import (
    DEMO_PASSWORD,
    DoseChangeFactory,
    GoalFactory,
    PatientFactory,
    PumpFactory,
    RefillFactory,
    ToneAssessmentFactory,
    TrialFactory,
    UserFactory,
)
from trials.services import trial_sign_off

BANNER = re.compile(r'<section[^>]*data-testid="patient-banner".*?</section>', re.S)


class _TestIdText(HTMLParser):
    """The text inside each ``data-testid`` element, whitespace collapsed."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str | None] = []
        self.text: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        testid = dict(attrs).get("data-testid")
        self.open.append(testid)
        if testid:
            self.text.setdefault(testid, "")

    def handle_endtag(self, tag: str) -> None:
        if self.open:
            self.open.pop()

    def handle_data(self, data: str) -> None:
        for testid in self.open:
            if testid:
                self.text[testid] += data


def banner_fields(html: str) -> dict[str, str]:
    found = BANNER.findall(html)
    assert len(found) == 1, "exactly one patient banner on the page"
    parser = _TestIdText()
    parser.feed(found[0])
    return {key: " ".join(value.split()) for key, value in parser.text.items()}


def set_history_dates(patient: Patient, *days: dt.date) -> None:
    """Date the patient's history rows, oldest first (as if each edit were made on that day)."""
    rows = list(patient.history.order_by("history_date", "history_id"))  # type: ignore[attr-defined]
    assert len(rows) == len(days)
    for row, day in zip(rows, days, strict=True):
        at = timezone.make_aware(dt.datetime.combine(day, dt.time(10)))
        type(row).objects.filter(pk=row.pk).update(history_date=at)


@pytest.fixture
def amira(db: None) -> Patient:
    patient: Patient = PatientFactory(
        given_name="Amira",
        family_name="Hassan",
        mrn="MRN-BANNER-1",
        birth_date=dt.date(2015, 3, 9),
        diagnosis="cerebral_palsy",
        gmfcs_level=4,
        weight_kg=Decimal("24.5"),
    )
    set_history_dates(patient, dt.date(2024, 1, 10))
    return patient


@pytest.fixture
def amira_pump(amira: Patient) -> Any:
    """The spec's worked example: 40 mL of 2000 mcg/mL at 500 mcg/day from 2024-01-15, alarm 2024-06-15."""
    return PumpFactory(patient=amira)


# --- The selector -----------------------------------------------------------------------------


def test_the_banner_shows_the_implanted_pumps_stored_projection(amira_pump):
    banner = patient_banner(amira_pump.patient_id, today=dt.date(2024, 3, 1))
    assert banner.full_name == "Amira Hassan"
    assert banner.mrn == "MRN-BANNER-1"
    assert banner.age_label == "8 y"
    assert banner.weight_kg == Decimal("24.5")
    assert banner.weight_recorded_on == dt.date(2024, 1, 10)
    assert banner.diagnosis_label == "Cerebral palsy"
    assert banner.gmfcs_level == 4
    assert banner.pump is not None
    assert banner.pump.pk == amira_pump.pk
    assert banner.pump.drug_label == "Lioresal Intrathecal"
    assert banner.pump.concentration_mcg_per_ml == Decimal("2000")
    assert banner.pump.daily_dose_mcg == Decimal("500")
    assert banner.pump.alarm_date == dt.date(2024, 6, 15)


def test_the_banner_shows_the_stage_label_not_its_code(amira_pump):
    Patient.objects.filter(pk=amira_pump.patient_id).update(pathway_stage="awaiting_implant")
    assert patient_banner(amira_pump.patient_id, today=dt.date(2024, 3, 1)).stage_label == "Awaiting implant"


def test_a_dose_change_moves_the_banners_dose_and_alarm_date(amira_pump):
    DoseChangeFactory(pump=amira_pump, changed_on=dt.date(2024, 1, 22), daily_dose_mcg=Decimal("550"))
    amira_pump.refresh_from_db()
    banner = patient_banner(amira_pump.patient_id, today=dt.date(2024, 3, 1))
    assert banner.pump is not None
    assert banner.pump.daily_dose_mcg == Decimal("550")
    assert banner.pump.alarm_date == amira_pump.alarm_date
    assert banner.pump.alarm_date < dt.date(2024, 6, 15)


def test_a_voided_pump_never_shows_and_the_banner_says_no_pump(amira_pump, doctor):
    void_record(amira_pump, by=doctor, reason="Entered on the wrong patient")
    assert patient_banner(amira_pump.patient_id, today=dt.date(2024, 3, 1)).pump is None


def test_an_explanted_pump_is_not_the_current_pump(amira_pump, surgeon):
    from pumps.services import SurgeryDetails, pump_explant

    pump_explant(amira_pump, by=surgeon, surgery=SurgeryDetails(performed_on=dt.date(2024, 2, 1)))
    assert patient_banner(amira_pump.patient_id, today=dt.date(2024, 3, 1)).pump is None


def test_the_weight_date_is_when_the_weight_was_entered_not_the_last_edit(amira):
    amira.weight_kg = Decimal("26.0")
    amira.save()
    amira.travel_burden = "1 h each way"
    amira.save()
    set_history_dates(amira, dt.date(2024, 1, 10), dt.date(2024, 9, 10), dt.date(2024, 10, 1))
    banner = patient_banner(amira.pk, today=dt.date(2024, 11, 1))
    assert banner.weight_kg == Decimal("26.0")
    assert banner.weight_recorded_on == dt.date(2024, 9, 10)


def test_a_weight_back_to_an_earlier_value_takes_the_date_it_went_back(amira):
    for weight in (Decimal("26.0"), Decimal("24.5")):
        amira.weight_kg = weight
        amira.save()
    set_history_dates(amira, dt.date(2024, 1, 10), dt.date(2024, 5, 1), dt.date(2024, 8, 1))
    assert patient_banner(amira.pk, today=dt.date(2024, 11, 1)).weight_recorded_on == dt.date(2024, 8, 1)


def test_no_weight_has_no_date(db):
    patient = PatientFactory(weight_kg=None)
    banner = patient_banner(patient.pk, today=dt.date(2024, 11, 1))
    assert banner.weight_kg is None
    assert banner.weight_recorded_on is None


@pytest.mark.parametrize(
    ("birth_date", "today", "label"),
    [
        (dt.date(2015, 3, 9), dt.date(2024, 3, 8), "8 y"),
        (dt.date(2015, 3, 9), dt.date(2024, 3, 9), "9 y"),
        (dt.date(2023, 1, 20), dt.date(2024, 3, 19), "13 mo"),
        (dt.date(2023, 1, 20), dt.date(2024, 3, 20), "14 mo"),
        (dt.date(2022, 3, 20), dt.date(2024, 3, 19), "23 mo"),
        (dt.date(2022, 3, 20), dt.date(2024, 3, 20), "2 y"),
        (dt.date(2024, 3, 1), dt.date(2024, 3, 20), "0 mo"),
    ],
)
def test_an_age_reads_in_years_and_in_months_under_two(birth_date, today, label):
    assert age_label(birth_date, today=today) == label


def test_the_banner_costs_one_query_however_many_records_the_patient_has(amira_pump, django_assert_num_queries):
    for day in (dt.date(2024, 2, 1), dt.date(2024, 3, 1)):
        DoseChangeFactory(pump=amira_pump, changed_on=day, daily_dose_mcg=Decimal("520"))
    RefillFactory(pump=amira_pump, refilled_on=dt.date(2024, 4, 1))
    patient = Patient.objects.get(pk=amira_pump.patient_id)
    template = Template("{% load patient_banner %}{% patient_banner patient %}")
    with django_assert_num_queries(1):
        html = template.render(Context({"patient": patient}))
    assert banner_fields(html)["banner-daily-dose"] == "520 mcg/day"


# --- Every patient-scoped page ----------------------------------------------------------------


@pytest.fixture
def records(amira_pump, doctor) -> dict[str, Any]:
    """One record of each kind a patient-scoped page shows, all for Amira."""
    patient = amira_pump.patient
    dose_change = DoseChangeFactory(pump=amira_pump, changed_on=dt.date(2024, 1, 22), daily_dose_mcg=Decimal("550"))
    refill = RefillFactory(pump=amira_pump, refilled_on=dt.date(2024, 4, 15))
    trial = TrialFactory(patient=patient, performed_on=dt.date(2023, 11, 1))
    signed = TrialFactory(patient=patient, performed_on=dt.date(2023, 11, 2))
    ToneAssessmentFactory(trial=signed, muscle_group="hip_adductors", side="left", minutes_after_bolus=0, mas="3")
    trial_sign_off(signed, by=doctor, outcome="inconclusive", note="Repeat at a higher dose", today=clinic_today())
    goal = GoalFactory(patient=patient)
    nurse = UserFactory(role=Role.PUMP_NURSE)
    starts_at = timezone.now() + dt.timedelta(days=7)
    appointment = appointment_book(
        Appointment(patient=patient, kind="review", starts_at=starts_at), staff=[nurse], by=nurse
    )
    checklist = MriChecklist(
        field_strength_tesla=Decimal("1.5"), interrogated_after_scan=True, motor_restart_confirmed=True
    )
    mri = mri_record(pump=amira_pump, by=nurse, scanned_on=dt.date(2024, 5, 1), checklist=checklist)
    amira_pump.refresh_from_db()
    return {
        "patient": patient,
        "pump": amira_pump,
        "dose_change": dose_change,
        "refill": refill,
        "trial": trial,
        "signed_trial": signed,
        "goal": goal,
        "appointment": appointment,
        "mri": mri,
    }


PAGES: dict[str, Callable[[dict[str, Any]], str]] = {
    "patient detail": lambda r: reverse("patients:detail", args=[r["patient"].pk]),
    "patient history": lambda r: reverse("record_history", args=["patients.patient", r["patient"].pk]),
    "pump detail": lambda r: reverse("pumps:detail", args=[r["pump"].pk]),
    "pump edit": lambda r: reverse("pumps:update", args=[r["pump"].pk]),
    "pump follow-up": lambda r: reverse("pumps:follow_up", args=[r["pump"].pk]),
    "pump history": lambda r: reverse("record_history", args=["pumps.pump", r["pump"].pk]),
    "pump replacement form": lambda r: reverse("pumps:replace", args=[r["pump"].pk]),
    "catheter revision form": lambda r: reverse("pumps:catheter_revision", args=[r["pump"].pk]),
    "explant form": lambda r: reverse("pumps:explant", args=[r["pump"].pk]),
    "refill form": lambda r: reverse("pumps:refill_create", args=[r["pump"].pk]),
    "refill detail": lambda r: reverse("pumps:refill_detail", args=[r["refill"].pk]),
    "refill history": lambda r: reverse("record_history", args=["pumps.refill", r["refill"].pk]),
    "dose-change form": lambda r: reverse("pumps:dose_change_create", args=[r["pump"].pk]),
    "dose-change detail": lambda r: reverse("pumps:dose_change_detail", args=[r["dose_change"].pk]),
    "trial detail": lambda r: reverse("trials:detail", args=[r["trial"].pk]),
    "trial plan form": lambda r: reverse("trials:create", args=[r["patient"].pk]),
    "trial edit": lambda r: reverse("trials:update", args=[r["trial"].pk]),
    "trial score history": lambda r: reverse("trials:score_history", args=[r["signed_trial"].pk]),
    "trial amend": lambda r: reverse("trials:amend", args=[r["signed_trial"].pk]),
    "goals": lambda r: reverse("goals:patient_goals", args=[r["patient"].pk]),
    "goal create": lambda r: reverse("goals:create", args=[r["patient"].pk]),
    "goal edit": lambda r: reverse("goals:update", args=[r["goal"].pk]),
    "goal review": lambda r: reverse("goals:review_create", args=[r["goal"].pk]),
    "goal history": lambda r: reverse("record_history", args=["trials.goal", r["goal"].pk]),
    "mri form": lambda r: reverse("devices:mri_create", args=[r["pump"].pk]),
    "mri detail": lambda r: reverse("devices:mri_detail", args=[r["mri"].pk]),
    "mri follow-up": lambda r: reverse("devices:mri_follow_up", args=[r["mri"].pk]),
    "pump mri scans": lambda r: reverse("devices:pump_mri_scans", args=[r["pump"].pk]),
    "appointment detail": lambda r: reverse("appointments:detail", args=[r["appointment"].pk]),
    "appointment form": lambda r: reverse("appointments:create") + f"?patient={r['patient'].pk}",
    "appointment edit": lambda r: reverse("appointments:update", args=[r["appointment"].pk]),
}

SURGEON_PAGES = {"pump edit", "pump replacement form", "catheter revision form", "explant form"}


@pytest.mark.parametrize("page", sorted(PAGES))
def test_every_patient_page_opens_with_the_banner(page, records, personas, client_as):
    user = personas["neurosurgeon" if page in SURGEON_PAGES else "rehab_doctor"]
    response = client_as(user).get(PAGES[page](records))
    assert response.status_code == 200, page
    fields = banner_fields(response.content.decode())
    pump = records["pump"]
    patient = records["patient"]
    assert fields["banner-name"] == "Amira Hassan"
    assert fields["banner-mrn"] == "MRN-BANNER-1"
    assert fields["banner-birth-date"] == "2015-03-09"
    assert fields["banner-age"] == f"{age_label(dt.date(2015, 3, 9), today=clinic_today())} (born 2015-03-09)"
    assert fields["banner-weight"] == "24.5 kg (2024-01-10)"
    assert fields["banner-diagnosis"] == "Cerebral palsy"
    assert fields["banner-gmfcs"] == "4"
    assert fields["banner-stage"] == Patient.objects.get(pk=patient.pk).get_pathway_stage_display()
    assert fields["banner-drug"] == "Lioresal Intrathecal"
    assert fields["banner-concentration"] == "2000 mcg/mL"
    assert fields["banner-daily-dose"] == "550 mcg/day"
    assert fields["banner-alarm-date"] == f"{pump.alarm_date:%Y-%m-%d}"
    assert "banner-no-pump" not in fields


def test_a_patient_with_no_pump_reads_no_pump_on_the_implant_form(surgeon, client_as):
    patient = PatientFactory(given_name="Noor", family_name="Ali", weight_kg=None, gmfcs_level=None)
    response = client_as(surgeon).get(reverse("pumps:implant", args=[patient.pk]))
    fields = banner_fields(response.content.decode())
    assert fields["banner-name"] == "Noor Ali"
    assert fields["banner-no-pump"] == "No pump"
    assert fields["banner-weight"] == "—"
    assert fields["banner-gmfcs"] == "—"
    assert fields["banner-stage"] == "Referred"
    assert "banner-drug" not in fields


def test_a_voided_pumps_page_shows_no_pump_in_the_banner(amira_pump, doctor, client_as):
    void_record(amira_pump, by=doctor, reason="Entered on the wrong patient")
    response = client_as(doctor).get(reverse("pumps:detail", args=[amira_pump.pk]))
    fields = banner_fields(response.content.decode())
    assert fields["banner-no-pump"] == "No pump"
    assert amira_pump.serial_number not in BANNER.findall(response.content.decode())[0]


def test_a_replacement_shows_the_new_pump_not_the_old_one(amira_pump, surgeon, doctor, client_as):
    from pumps.services import SurgeryDetails, pump_replace

    new_pump = PumpFactory.build(
        patient=amira_pump.patient, serial_number="NGP-NEW-1", model=amira_pump.model, implanted_on=dt.date(2024, 3, 1)
    )
    new_pump = pump_replace(
        amira_pump, new_pump=new_pump, by=surgeon, surgery=SurgeryDetails(performed_on=dt.date(2024, 3, 1))
    )
    html = client_as(doctor).get(reverse("pumps:detail", args=[amira_pump.pk])).content.decode()
    banner = BANNER.findall(html)[0]
    assert reverse("pumps:detail", args=[new_pump.pk]) in banner
    assert reverse("pumps:detail", args=[amira_pump.pk]) not in banner


def test_pages_about_no_patient_have_no_banner(doctor, client_as):
    html = client_as(doctor).get(reverse("pumps:catalogue_create")).content.decode()
    assert 'data-testid="patient-banner"' not in html


# --- At phone width ---------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_banner_fits_a_phone_screen(page: Page, live_server, doctor):
    pump = PumpFactory(
        patient=PatientFactory(
            given_name="Maximiliana-Josephine",
            family_name="Vandenberghe-Oppenheimer",
            mrn="MRN-0000000000000001",
            weight_kg=Decimal("104.5"),
            diagnosis="hereditary_spastic_paraplegia",
        )
    )
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{live_server.url}{reverse('pumps:detail', args=[pump.pk])}")
    page.get_by_label("Username").fill(doctor.username)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    banner = page.get_by_test_id("patient-banner")
    expect(banner).to_be_visible()
    expect(banner.get_by_test_id("banner-daily-dose")).to_have_text("500 mcg/day")
    expect(banner.get_by_test_id("banner-diagnosis")).to_have_text("Hereditary spastic paraplegia")
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 375
    box = banner.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 375
