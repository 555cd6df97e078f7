"""Pump pages: the pump page, surgery, titration visits, refills, previews, lists, roles, query counts."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import types
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from pumps import services
from pumps.models import DoseChange, Pump, PumpModel, Refill, Surgery
from spasticity.timeutil import clinic_today
from tests.factories import PatientFactory, PumpFactory

pytestmark = pytest.mark.django_db

D = Decimal
day = dt.date


def page_html(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def text_of(html: str, name: str) -> str:
    match = re.search(rf'data-testid="{name}"[^>]*>(.*?)</', html, re.S)
    assert match, f"no {name} in page"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def add_history(pump: Pump, by, count: int, start: dt.date, volume: str = "40", aspirated: str = "39") -> None:
    """``count`` dose changes and ``count`` refills, one of each every 2 days."""
    on = start
    for index in range(count):
        dose = D("500") if index % 2 else D("520")
        services.dose_change_record(pump=pump, by=by, changed_on=on, daily_dose_mcg=dose)
        services.refill_record(
            pump=pump,
            by=by,
            refilled_on=on,
            aspirated_volume_ml=D(aspirated),
            volume_added_ml=D(volume),
            drug="lioresal",
            concentration_mcg_per_ml=D("2000"),
            lot_number=f"L{index}",
            reservoir_port_access_confirmed=True,
            pump_running_confirmed=True,
            observation_signs=["none_observed"],
        )
        on += dt.timedelta(days=2)


# --- The pump page ---------------------------------------------------------------------


def test_the_pump_page_shows_the_worked_example(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    html = page_html(client_as(nurse), reverse("pumps:detail", args=[pump.pk]))
    assert text_of(html, "alarm-date") == "2024-06-15"
    assert text_of(html, "refill-due-on") == "2024-06-08"
    assert text_of(html, "battery-eos").startswith("2031-01-15")
    assert "500 mcg/day" in text_of(html, "current-dose")
    assert "2000 mcg/mL" in text_of(html, "current-concentration")
    # Long past the alarm date (today is after 2024): the page says so.
    assert 'data-testid="past-alarm"' in html


def test_the_pump_page_shows_todays_projected_volume_and_chart_data(client_as, surgeon, nurse):
    implanted_on = clinic_today() - dt.timedelta(days=10)
    pump = PumpFactory(by=surgeon, implanted_on=implanted_on)
    response = client_as(nurse).get(reverse("pumps:detail", args=[pump.pk]))
    html = response.content.decode()
    # 10 days at 0.25 mL/day from 40 mL.
    assert text_of(html, "projected-volume") == "37.5 mL"
    chart = json.loads(re.search(r'id="pump-chart-data"[^>]*>(.*?)</script>', html, re.S).group(1))
    assert chart["dose"][0] == {"x": f"{implanted_on:%Y-%m-%d}", "y": 500.0}
    assert chart["volume"][0] == {"x": f"{implanted_on:%Y-%m-%d}", "y": 40.0}
    assert {"x": f"{implanted_on + dt.timedelta(days=10):%Y-%m-%d}", "y": 37.5} in chart["volume"]
    assert chart["alarm_ml"] == 2.0


def test_pump_pages_have_no_inline_script_or_style(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    client = client_as(nurse)
    for url in (
        reverse("pumps:detail", args=[pump.pk]),
        reverse("pumps:dose_change_create", args=[pump.pk]),
        reverse("pumps:refill_create", args=[pump.pk]),
        reverse("pumps:today"),
    ):
        html = page_html(client, url)
        assert " style=" not in html and "<style" not in html, url
        for tag in re.findall(r"<script[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag or "nonce=" in tag, (url, tag)


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def test_the_pump_page_makes_the_same_number_of_queries_for_2_and_40_records(client_as, surgeon, nurse):
    client = client_as(nurse)
    small = PumpFactory(by=surgeon, implanted_on=day(2023, 1, 2))
    add_history(small, nurse, 2, day(2023, 1, 3))
    large = PumpFactory(by=surgeon, implanted_on=day(2023, 1, 2))
    add_history(large, nurse, 40, day(2023, 1, 3))
    with_2 = count_queries(client, reverse("pumps:detail", args=[small.pk]))
    with_40 = count_queries(client, reverse("pumps:detail", args=[large.pk]))
    assert with_2 == with_40
    # 14 to read the page, 1 for the pump's booked refill (appointments), plus one INSERT into the access log;
    # 1 for the patient banner (issue 14: patients.selectors.patient_banner, one query whatever the history).
    assert with_40 <= 17


# --- Titration visits ------------------------------------------------------------------


def dose_form(**changes) -> dict[str, str]:
    data = {
        "changed_on": "2024-03-15",
        "mode": "simple_continuous",
        "daily_dose_mcg": "800",
        "flex_steps": "[]",
        "reason": "Hips still tight",
        "side_effects": "",
        "tone_notes": "MAS 3 hip adductors",
        "confirmation_reason": "",
        # 500 → 800 mcg/day is +60%, above the page's 50% hard stop: the dose is typed twice.
        "retyped_daily_dose_mcg": "800",
        "next_visit_on": "2024-03-22",
    }
    data.update(changes)
    return data


def test_a_titration_visit_shows_the_current_program_and_records_the_new_one(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    client = client_as(nurse)
    form_html = page_html(client, reverse("pumps:dose_change_create", args=[pump.pk]))
    assert "500 mcg/day" in text_of(form_html, "current-program")
    refused = client.post(reverse("pumps:dose_change_create", args=[pump.pk]), dose_form())
    assert refused.status_code == 200
    assert any("60%" in e for e in refused.context["form"].errors["confirmation_reason"])
    assert DoseChange.objects.count() == 1
    response = client.post(
        reverse("pumps:dose_change_create", args=[pump.pk]), dose_form(confirmation_reason="Agreed with Dr Doyle")
    )
    assert response.status_code == 302
    change = DoseChange.objects.latest("pk")
    assert response["Location"] == reverse("pumps:dose_change_detail", args=[change.pk])
    done = page_html(client, response["Location"])
    assert text_of(done, "alarm-date") == "2024-05-11"
    assert text_of(done, "refill-due-on") == "2024-05-04"
    assert reverse("pumps:dose_change_summary_pdf", args=[change.pk]) in done
    pump.refresh_from_db()
    assert pump.next_visit_on == day(2024, 3, 22)


def test_a_flex_visit_records_360_mcg_a_day(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon, daily_dose_mcg=D("350"))
    steps = [
        {"start_time": "00:00", "rate_mcg_per_hour": "10"},
        {"start_time": "08:00", "rate_mcg_per_hour": "20"},
        {"start_time": "20:00", "rate_mcg_per_hour": "10"},
    ]
    response = client_as(nurse).post(
        reverse("pumps:dose_change_create", args=[pump.pk]),
        dose_form(mode="flex", daily_dose_mcg="", flex_steps=json.dumps(steps), changed_on="2024-02-01"),
    )
    assert response.status_code == 302
    assert DoseChange.objects.latest("pk").daily_dose_mcg == D("360")


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (
            [{"start_time": "00:00", "rate_mcg_per_hour": "10"}, {"start_time": "00:00", "rate_mcg_per_hour": "5"}],
            "overlap",
        ),
        ([{"start_time": "02:00", "rate_mcg_per_hour": "10"}], "gap"),
        (
            [
                {"start_time": "00:00", "rate_mcg_per_hour": "10"},
                {"start_time": "12:00", "rate_mcg_per_hour": "10"},
                {"start_time": "06:00", "rate_mcg_per_hour": "10"},
            ],
            "not in time order",
        ),
    ],
)
def test_bad_flex_steps_get_a_field_message_on_the_form(client_as, surgeon, nurse, steps, message):
    pump = PumpFactory(by=surgeon, daily_dose_mcg=D("350"))
    response = client_as(nurse).post(
        reverse("pumps:dose_change_create", args=[pump.pk]),
        dose_form(mode="flex", daily_dose_mcg="", flex_steps=json.dumps(steps), changed_on="2024-02-01"),
    )
    assert response.status_code == 200
    assert any(message in e for e in response.context["form"].errors["flex_steps"])
    assert DoseChange.objects.count() == 1


def test_the_dose_preview_shows_the_live_change_and_the_new_dates(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    client = client_as(nurse)
    url = reverse("pumps:dose_change_preview", args=[pump.pk])
    html = client.post(url, dose_form(), HTTP_HX_REQUEST="true").content.decode()
    assert text_of(html, "preview-change") == "+60.0%"
    assert text_of(html, "preview-alarm-date") == "2024-05-11"
    assert text_of(html, "preview-refill-due") == "2024-05-04"
    assert "needs-confirmation" in html
    small = client.post(url, dose_form(daily_dose_mcg="550")).content.decode()
    assert text_of(small, "preview-change") == "+10.0%" and "needs-confirmation" not in small
    steps = json.dumps(
        [
            {"start_time": "00:00", "rate_mcg_per_hour": "10"},
            {"start_time": "08:00", "rate_mcg_per_hour": "20"},
            {"start_time": "20:00", "rate_mcg_per_hour": "10"},
        ]
    )
    flex = client.post(url, dose_form(mode="flex", daily_dose_mcg="", flex_steps=steps)).content.decode()
    assert text_of(flex, "preview-daily-dose") == "360 mcg/day"
    assert DoseChange.objects.count() == 1


# --- Refills ---------------------------------------------------------------------------


def refill_form(**changes) -> dict[str, Any]:
    data = {
        "refilled_on": "2024-03-15",
        "aspirated_volume_ml": "22.5",
        "volume_added_ml": "40",
        "drug": "lioresal",
        "concentration_mcg_per_ml": "2000",
        "dilution_note": "",
        "lot_number": "LOT-7",
        "reservoir_port_access_confirmed": "on",
        "pump_running_confirmed": "on",
        "observation_minutes": "15",
        "observation_signs": ["none_observed"],
        "next_refill_appointment_on": "2024-08-01",
    }
    data.update(changes)
    return data


def test_the_refill_form_is_prefilled_from_the_last_refill(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon, concentration_mcg_per_ml=D("1000"), drug="gablofen", volume_added_ml=D("38"))
    response = client_as(nurse).get(reverse("pumps:refill_create", args=[pump.pk]))
    initial = response.context["form"].initial
    assert (initial["drug"], initial["concentration_mcg_per_ml"], initial["volume_added_ml"]) == (
        "gablofen",
        D("1000"),
        D("38"),
    )
    assert initial["refilled_on"] == clinic_today()


def test_a_refill_needs_the_port_access_check_then_shows_the_new_dates(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    client = client_as(nurse)
    unchecked = refill_form()
    del unchecked["reservoir_port_access_confirmed"]
    refused = client.post(reverse("pumps:refill_create", args=[pump.pk]), unchecked)
    assert refused.status_code == 200
    assert "central reservoir fill port" in refused.context["form"].errors["reservoir_port_access_confirmed"][0]
    assert Refill.objects.count() == 1
    response = client.post(reverse("pumps:refill_create", args=[pump.pk]), refill_form())
    assert response.status_code == 302
    done = page_html(client, response["Location"])
    assert text_of(done, "alarm-date") == "2024-08-14"
    assert text_of(done, "refill-due-on") == "2024-08-07"
    assert text_of(done, "deviation").startswith("+16.7%")
    assert 'data-testid="delivery-flag"' in done


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"volume_added_ml": "41"}, "volume_added_ml", "more than the reservoir holds"),
        ({"volume_added_ml": "2"}, "volume_added_ml", "more than the low-reservoir alarm volume"),
        ({"concentration_mcg_per_ml": "0"}, "concentration_mcg_per_ml", "more than 0"),
        ({"refilled_on": "2024-01-10"}, "refilled_on", "before the implant"),
        ({"refilled_on": (dt.date.today() + dt.timedelta(days=5)).isoformat()}, "refilled_on", "future"),
    ],
)
def test_a_bad_refill_form_gets_a_field_message_and_saves_nothing(client_as, surgeon, nurse, changes, field, message):
    pump = PumpFactory(by=surgeon)
    response = client_as(nurse).post(reverse("pumps:refill_create", args=[pump.pk]), refill_form(**changes))
    assert response.status_code == 200
    assert any(message in e for e in response.context["form"].errors[field])
    assert Refill.objects.count() == 1


@pytest.mark.parametrize(
    ("aspirated", "deviation", "flag"), [("22.5", "+16.7%", "over_delivery"), ("23.0", "+13.3%", "none")]
)
def test_the_refill_preview_shows_the_delivery_check_before_saving(
    client_as, surgeon, nurse, aspirated, deviation, flag
):
    pump = PumpFactory(by=surgeon)
    url = reverse("pumps:refill_preview", args=[pump.pk])
    html = client_as(nurse).post(url, refill_form(aspirated_volume_ml=aspirated)).content.decode()
    assert text_of(html, "preview-expected-residual") == "25 mL"
    assert text_of(html, "preview-deviation") == deviation
    assert f'data-flag="{flag}"' in html
    assert text_of(html, "preview-alarm-date") == "2024-08-14"
    assert Refill.objects.count() == 1


# --- Roles -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["physical_therapist", "administrator", "neurosurgeon"])
def test_roles_without_the_right_get_no_dose_or_refill_controls_and_403(client_as, personas, surgeon, role):
    pump = PumpFactory(by=surgeon)
    client = client_as(personas[role])
    html = page_html(client, reverse("pumps:detail", args=[pump.pk]))
    assert reverse("pumps:dose_change_create", args=[pump.pk]) not in html
    assert reverse("pumps:refill_create", args=[pump.pk]) not in html
    for name, data in (
        ("pumps:dose_change_create", dose_form(confirmation_reason="Severe spasms, agreed at clinic")),
        ("pumps:refill_create", refill_form()),
    ):
        assert client.get(reverse(name, args=[pump.pk])).status_code == 403
        assert client.post(reverse(name, args=[pump.pk]), data).status_code == 403
    assert client.post(reverse("pumps:dose_change_preview", args=[pump.pk]), dose_form()).status_code == 403
    assert DoseChange.objects.count() == Refill.objects.count() == 1


@pytest.mark.parametrize("role", ["pump_nurse", "physical_therapist", "administrator"])
def test_only_surgeons_and_rehab_doctors_get_surgery_pages(client_as, personas, surgeon, role):
    pump = PumpFactory(by=surgeon)
    client = client_as(personas[role])
    html = page_html(client, reverse("pumps:detail", args=[pump.pk]))
    assert reverse("pumps:explant", args=[pump.pk]) not in html
    for url in (
        reverse("pumps:implant", args=[pump.patient_id]),
        reverse("pumps:replace", args=[pump.pk]),
        reverse("pumps:catheter_revision", args=[pump.pk]),
        reverse("pumps:explant", args=[pump.pk]),
        reverse("pumps:update", args=[pump.pk]),
    ):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("pumps:explant", args=[pump.pk]), {"performed_on": "2024-03-01"}).status_code == 403
    assert Surgery.objects.count() == 1


# --- Surgery pages ---------------------------------------------------------------------


def implant_form(**changes) -> dict[str, str]:
    data = {
        "model": str(PumpModel.objects.get(model="SynchroMed II").pk),
        "serial_number": "NGP555H",
        "reservoir_volume_ml": "40",
        "low_reservoir_alarm_ml": "2.0",
        "implanted_on": "2024-01-15",
        "pump_site": "Right abdomen",
        "catheter_model": "8781",
        "catheter_tip_level": "T10",
        "daily_dose_mcg": "500",
        "volume_added_ml": "40",
        "drug": "lioresal",
        "concentration_mcg_per_ml": "2000",
        "lot_number": "L9",
        "complications": ["csf_leak"],
    }
    data.update(changes)
    return data


@pytest.mark.parametrize("role", ["neurosurgeon", "rehab_doctor"])
def test_an_implant_is_recorded_from_the_implant_page(client_as, personas, role):
    patient = PatientFactory()
    response = client_as(personas[role]).post(reverse("pumps:implant", args=[patient.pk]), implant_form())
    assert response.status_code == 302
    pump = Pump.objects.get(serial_number="NGP555H")
    assert response["Location"] == reverse("pumps:detail", args=[pump.pk])
    assert (pump.alarm_date, pump.refill_due_on) == (day(2024, 6, 15), day(2024, 6, 8))
    assert pump.surgeries.get().complications == ["csf_leak"]


def test_the_implant_page_suggests_twice_the_positive_trial_bolus(client_as, surgeon, monkeypatch):
    patient = PatientFactory()
    fake = types.ModuleType("trials.selectors")
    fake.effective_positive_trial_bolus_mcg = lambda patient_id: D("50")
    monkeypatch.setitem(sys.modules, "trials.selectors", fake)
    response = client_as(surgeon).get(reverse("pumps:implant", args=[patient.pk]))
    assert response.context["form"].fields["daily_dose_mcg"].initial == D("100")
    assert "Positive trial bolus 50 mcg" in response.content.decode()


def test_a_bad_implant_form_saves_nothing_and_shows_every_field(client_as, surgeon):
    patient = PatientFactory()
    PumpFactory(by=surgeon, serial_number="NGP555H")
    response = client_as(surgeon).post(
        reverse("pumps:implant", args=[patient.pk]), implant_form(volume_added_ml="45", daily_dose_mcg="0")
    )
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "already recorded" in errors["serial_number"][0]
    assert Pump.objects.count() == 1


def test_replacement_revision_and_explant_pages(client_as, surgeon):
    pump = PumpFactory(by=surgeon, serial_number="OLD-1")
    client = client_as(surgeon)
    revision = client.post(
        reverse("pumps:catheter_revision", args=[pump.pk]),
        {"performed_on": "2024-02-01", "catheter_tip_level": "T8", "complications": ["catheter_problem"], "notes": ""},
    )
    assert revision.status_code == 302
    pump.refresh_from_db()
    assert pump.catheter_tip_level == "T8"
    replace = client.post(
        reverse("pumps:replace", args=[pump.pk]),
        {
            "model": str(pump.model_id),
            "serial_number": "NEW-1",
            "reservoir_volume_ml": "40",
            "low_reservoir_alarm_ml": "2",
            "performed_on": "2024-03-01",
            "volume_added_ml": "40",
            "drug": "lioresal",
            "concentration_mcg_per_ml": "2000",
            "lot_number": "L",
        },
    )
    assert replace.status_code == 302, replace.context["form"].errors
    new = Pump.objects.get(serial_number="NEW-1")
    assert replace["Location"] == reverse("pumps:detail", args=[new.pk])
    assert new.catheter_tip_level == "T8" and new.current_daily_dose_mcg == D("500")
    pump.refresh_from_db()
    assert pump.explanted_on == day(2024, 3, 1)
    explant = client.post(reverse("pumps:explant", args=[new.pk]), {"performed_on": "2024-04-01", "notes": "Infection"})
    assert explant.status_code == 302
    new.refresh_from_db()
    assert new.explanted_on == day(2024, 4, 1) and new.alarm_date is None
    new.patient.refresh_from_db()
    assert new.patient.pathway_stage == "explanted"


def test_a_nurse_records_an_eri_date_and_the_battery_date_moves(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    response = client_as(nurse).post(
        reverse("pumps:follow_up", args=[pump.pk]),
        {
            "low_reservoir_alarm_ml": "2.0",
            "eri_on": "2024-05-01",
            "emergency_card_given_on": "2024-01-20",
            "version": pump.version,
        },
    )
    assert response.status_code == 302
    pump.refresh_from_db()
    assert pump.battery_end_of_service_on == day(2024, 7, 30)
    assert pump.emergency_card_given_on == day(2024, 1, 20)


def test_voiding_a_refill_from_the_page_recomputes_the_pump(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    client = client_as(nurse)
    client.post(reverse("pumps:refill_create", args=[pump.pk]), refill_form())
    refill = Refill.objects.latest("pk")
    response = client.post(
        reverse("record_void", args=["pumps.refill", refill.pk]), {"reason": "Typed on the wrong pump"}
    )
    assert response.status_code == 302
    pump.refresh_from_db()
    assert (pump.alarm_date, pump.refill_due_on) == (day(2024, 6, 15), day(2024, 6, 8))


# --- The patient page, the nurse's lists and the catalogue ---------------------------


def test_the_patient_page_shows_the_pumps_panel(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon, serial_number="NGP-PANEL")
    html = page_html(client_as(nurse), reverse("patients:detail", args=[pump.patient_id]))
    assert 'data-testid="pumps-panel"' in html and "NGP-PANEL" in html and "2024-06-15" in html
    other = PatientFactory()
    surgeon_html = page_html(client_as(surgeon), reverse("patients:detail", args=[other.pk]))
    assert reverse("pumps:implant", args=[other.pk]) in surgeon_html


def nurse_pump(nurse, surgeon, days_ago: int, **kwargs) -> Pump:
    patient = PatientFactory(assigned_nurse=nurse)
    return PumpFactory(by=surgeon, patient=patient, implanted_on=clinic_today() - dt.timedelta(days=days_ago), **kwargs)


def test_todays_list_shows_the_nurses_refills_and_visits_most_urgent_first(client_as, surgeon, nurse, doctor):
    past_alarm = nurse_pump(nurse, surgeon, 160)  # alarm 152 days after the fill
    overdue = nurse_pump(nurse, surgeon, 150)  # due after 145 days
    due_today = nurse_pump(nurse, surgeon, 145)
    this_week = nurse_pump(nurse, surgeon, 140)
    not_yet = nurse_pump(nurse, surgeon, 20)
    visit = nurse_pump(nurse, surgeon, 30)
    services.dose_change_record(
        pump=visit,
        by=nurse,
        changed_on=clinic_today() - dt.timedelta(days=1),
        daily_dose_mcg=D("520"),
        next_visit_on=clinic_today(),
    )
    someone_elses = PumpFactory(by=surgeon, implanted_on=clinic_today() - dt.timedelta(days=160))
    response = client_as(nurse).get(reverse("pumps:today"))
    worklist = response.context["worklist"]
    assert [(item.pump, item.status) for item in worklist.refills] == [
        (past_alarm, "past_alarm"),
        (overdue, "overdue"),
        (due_today, "today"),
        (this_week, "this_week"),
    ]
    assert [(item.pump, item.status) for item in worklist.visits] == [(visit, "today")]
    html = response.content.decode()
    assert not_yet.serial_number not in html and someone_elses.serial_number not in html
    everyone = client_as(doctor).get(reverse("pumps:today")).context["worklist"]
    assert someone_elses in [item.pump for item in everyone.refills]


def test_todays_list_and_the_schedule_make_fixed_queries_whatever_the_history(client_as, surgeon, nurse):
    client = client_as(nurse)
    # Small fills: every pump ends up past its alarm date, so each one is on the list.
    first = nurse_pump(nurse, surgeon, 150)
    add_history(first, nurse, 2, clinic_today() - dt.timedelta(days=149), volume="5", aspirated="4")
    today_2 = count_queries(client, reverse("pumps:today"))
    schedule_2 = count_queries(client, reverse("pumps:schedule"))
    for _ in range(3):
        pump = nurse_pump(nurse, surgeon, 150)
        add_history(pump, nurse, 40, clinic_today() - dt.timedelta(days=149), volume="5", aspirated="4")
    assert len(client.get(reverse("pumps:today")).context["worklist"].refills) == 4
    assert count_queries(client, reverse("pumps:today")) == today_2
    assert count_queries(client, reverse("pumps:schedule")) == schedule_2
    # One more than before issue 10 (the sections are counted in their own query), one more for issue 12
    # (the booked refill appointments of the page's refills, in one query), one more for issue 14
    # (the nurse choice names each nurse with her role: the nurses' groups, prefetched in one query).
    assert today_2 <= 15


def test_the_titration_schedule_lists_upcoming_visits_per_nurse(client_as, surgeon, nurse, administrator):
    pump = nurse_pump(nurse, surgeon, 30, serial_number="SCHED-1")
    services.dose_change_record(
        pump=pump,
        by=nurse,
        changed_on=clinic_today(),
        daily_dose_mcg=D("550"),
        next_visit_on=clinic_today() + dt.timedelta(days=7),
    )
    response = client_as(administrator).get(reverse("pumps:schedule"))
    [schedule] = response.context["schedules"]
    assert schedule.nurse == nurse
    assert [(row.kind, row.on) for row in schedule.rows] == [("visit", clinic_today() + dt.timedelta(days=7))]
    assert "SCHED-1" in response.content.decode()


def test_only_rehabilitation_doctors_edit_the_catalogue(client_as, administrator, doctor, nurse):
    synchromed = PumpModel.objects.get(model="SynchroMed II")
    html = page_html(client_as(nurse), reverse("pumps:catalogue"))
    assert "SynchroMed II" in html and "Prometra II" in html and "20 mL, 40 mL" in html
    assert client_as(nurse).get(reverse("pumps:catalogue_update", args=[synchromed.pk])).status_code == 403
    assert client_as(administrator).get(reverse("pumps:catalogue_update", args=[synchromed.pk])).status_code == 403
    response = client_as(doctor).post(
        reverse("pumps:catalogue_update", args=[synchromed.pk]),
        {
            "manufacturer": "Medtronic",
            "model": "SynchroMed II",
            "reservoir_sizes_ml": "20, 40",
            "nominal_battery_life_months": "84",
            "days_eri_to_eos": "90",
            # The model rules (issue 13): the form asks for them with the rest.
            "default_low_reservoir_alarm_ml": "2.0",
            "mri_procedure": "interrogate_after",
            "version": synchromed.version,
            "change_reason": "Checked against the manual",
        },
    )
    assert response.status_code == 302
    synchromed.refresh_from_db()
    assert synchromed.reservoir_sizes_ml == [20, 40]
    assert synchromed.history.first().history_change_reason == "Checked against the manual"


@pytest.mark.parametrize(
    ("role", "expected", "hidden"),
    [
        ("pump_nurse", {"pump-today", "titration-schedule"}, {"pump-catalogue"}),
        ("rehab_doctor", {"pump-today", "titration-schedule", "pump-catalogue"}, set()),
        ("administrator", {"titration-schedule"}, {"pump-today", "pump-catalogue"}),
        ("physical_therapist", set(), {"pump-today", "titration-schedule", "pump-catalogue"}),
    ],
)
def test_the_pump_pages_are_one_click_from_each_roles_home(client_as, personas, role, expected, hidden):
    # They left the main navigation (six items at most) for the home page's shortcuts.
    html = page_html(client_as(personas[role]), reverse("home"))
    items = set(re.findall(r'data-shortcut="([^"]+)"', html))
    assert expected <= items and not (hidden & items)
