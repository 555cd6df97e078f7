"""Programming safety on the pages (issue 13): the rules are the services'; these check they reach the page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from pumps import services
from pumps.models import CheckStatus, DoseChange, Refill
from tests.factories import PumpFactory
from tests.pumps.test_pump_pages import dose_form, refill_form

pytestmark = pytest.mark.django_db

D = Decimal


def awaiting_dose_change(pump, nurse) -> DoseChange:
    return services.dose_change_record(
        pump=pump,
        by=nurse,
        changed_on=pump.implanted_on,
        daily_dose_mcg=D("700"),
        confirmation_reason="Severe spasms at night, agreed with Dr Doyle",
    )


def test_the_refill_page_does_not_finish_without_the_pump_running_and_the_observation(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    client = client_as(nurse)
    url = reverse("pumps:refill_create", args=[pump.pk])
    unfinished = refill_form(observation_signs=[])
    del unfinished["pump_running_confirmed"]
    refused = client.post(url, unfinished)
    assert refused.status_code == 200
    errors = refused.context["form"].errors
    assert "pump is running" in errors["pump_running_confirmed"][0]
    assert "None observed" in errors["observation_signs"][0]
    assert Refill.objects.filter(pump=pump).count() == 1
    done = client.post(url, refill_form())
    assert done.status_code == 302
    detail = client.get(done["Location"]).content.decode()
    assert "15 minutes: None observed" in detail and "Not checked against the programmer." in detail


def test_a_concentration_change_on_the_page_needs_the_reprogramming_ticked_and_shows_it(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    client = client_as(nurse)
    url = reverse("pumps:refill_create", args=[pump.pk])
    preview = client.post(reverse("pumps:refill_preview", args=[pump.pk]), refill_form(concentration_mcg_per_ml="500"))
    html = preview.content.decode()
    assert "2000 → 500 mcg/mL" in html and "1 mL/day" in html and "0.25 mL/day" in html
    refused = client.post(url, refill_form(concentration_mcg_per_ml="500"))
    assert "2000 to 500 mcg/mL" in refused.context["form"].errors["concentration_reprogrammed_confirmed"][0]
    done = client.post(url, refill_form(concentration_mcg_per_ml="500", concentration_reprogrammed_confirmed="on"))
    assert done.status_code == 302
    detail = client.get(done["Location"]).content.decode()
    assert 'data-testid="concentration-change"' in detail and "from 2000 to 500 mcg/mL" in detail
    assert "awaiting a second check" in detail


def test_a_programmer_mismatch_on_the_page_lands_on_its_field(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    response = client_as(nurse).post(
        reverse("pumps:refill_create", args=[pump.pk]), refill_form(programmer_alarm_date="2024-08-19")
    )
    assert "2024-08-14" in response.context["form"].errors["programmer_alarm_date"][0]


def test_the_dose_page_hard_stop_is_asked_only_above_the_hard_percentage(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    client = client_as(nurse)
    url = reverse("pumps:dose_change_create", args=[pump.pk])
    # 500 → 700 mcg/day is +40%: a confirmation reason, no retyping.
    small = dose_form(daily_dose_mcg="700", retyped_daily_dose_mcg="", confirmation_reason="Severe spasms at night")
    assert client.post(url, small).status_code == 302
    # 700 → 1500 mcg/day is +114%: retyped, or refused on that field.
    big = dose_form(
        changed_on="2024-03-16", daily_dose_mcg="1500", retyped_daily_dose_mcg="", confirmation_reason="Agreed at MDT"
    )
    refused = client.post(url, big)
    assert "retype the new dose (1500 mcg/day)" in refused.context["form"].errors["retyped_daily_dose_mcg"][0]
    assert client.post(url, {**big, "retyped_daily_dose_mcg": "1500"}).status_code == 302


def test_the_dose_preview_shows_both_volumes_and_a_red_banner_when_refill_is_already_due(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    preview = client_as(nurse).post(
        reverse("pumps:dose_change_preview", args=[pump.pk]), dose_form(daily_dose_mcg="1000")
    )
    html = preview.content.decode()
    assert 'data-testid="old-ml-per-day">0.25<' in html and 'data-testid="new-ml-per-day">0.5<' in html
    assert "+100.0%" in html and 'data-testid="hard-stop"' in html
    # The new refill-due date (2024-04-xx) is long past today.
    assert 'data-testid="preview-due-past"' in html


def test_a_colleague_checks_from_the_page_and_the_author_is_not_offered_the_check(client_as, surgeon, nurse, doctor):
    pump = PumpFactory(by=surgeon)
    change = awaiting_dose_change(pump, nurse)
    detail = reverse("pumps:dose_change_detail", args=[change.pk])
    assert 'data-testid="second-check-form"' not in client_as(nurse).get(detail).content.decode()
    assert 'data-testid="second-check-form"' in client_as(doctor).get(detail).content.decode()
    url = reverse("pumps:dose_change_second_check", args=[change.pk])
    own = client_as(nurse).post(url, {"verdict": "agree", "note": "", "version": change.version})
    assert own.status_code == 403
    done = client_as(doctor).post(url, {"verdict": "agree", "note": "Matches", "version": change.version})
    assert done.status_code == 302 and done["Location"] == detail
    change.refresh_from_db()
    assert change.check_status == CheckStatus.CHECKED and change.second_checked_by == doctor
    assert "checked</span> by Dana Doyle" in client_as(nurse).get(detail).content.decode()


@pytest.mark.parametrize("role", ["physical_therapist", "neurosurgeon", "administrator"])
def test_roles_that_do_not_program_pumps_get_no_check_form_and_403(client_as, personas, surgeon, nurse, role):
    pump = PumpFactory(by=surgeon)
    change = awaiting_dose_change(pump, nurse)
    client = client_as(personas[role])
    detail = client.get(reverse("pumps:dose_change_detail", args=[change.pk])).content.decode()
    assert 'data-testid="second-check-form"' not in detail
    url = reverse("pumps:dose_change_second_check", args=[change.pk])
    assert client.post(url, {"verdict": "agree", "version": change.version}).status_code == 403
    change.refresh_from_db()
    assert change.check_status == CheckStatus.AWAITING_SECOND_CHECK


def test_a_disagreement_without_a_note_is_refused_with_a_message(client_as, surgeon, nurse, doctor):
    pump = PumpFactory(by=surgeon)
    change = awaiting_dose_change(pump, nurse)
    url = reverse("pumps:dose_change_second_check", args=[change.pk])
    response = client_as(doctor).post(url, {"verdict": "disagree", "note": "", "version": change.version}, follow=True)
    assert "Say what does not match" in response.content.decode()
    change.refresh_from_db()
    assert change.check_status == CheckStatus.AWAITING_SECOND_CHECK
