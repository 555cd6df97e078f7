"""The refill and dose-change previews while the form is half typed (issue 14, point 5).

The new dates appear as soon as the values they are computed from are valid; what saving
still needs is listed by field label, and an error on a typed value goes away once fixed.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from pumps import services
from pumps.services import FillDetails
from tests.factories import PumpFactory
from tests.pumps.test_pump_pages import dose_form, text_of

pytestmark = pytest.mark.django_db

# Only what the dates need: no lot number, no ticks, no observation yet.
REFILL_SO_FAR = {
    "refilled_on": "2024-03-15",
    "aspirated_volume_ml": "22.5",
    "volume_added_ml": "40",
    "drug": "lioresal",
    "concentration_mcg_per_ml": "2000",
}


def errors_of(html: str) -> str:
    """The preview's error area as text, one problem a line ("Label: message")."""
    match = re.search(r'data-testid="preview-errors"[^>]*>((?:<div>.*?</div>)+)</div>', html, re.S)
    assert match, "no preview-errors in the preview"
    return re.sub(r"<[^>]+>", "", match.group(1).replace("</div>", "\n")).strip()


def missing_of(html: str) -> list[str]:
    text = text_of(html, "preview-missing")
    assert text.startswith("Still needed before saving: ")
    return text.removeprefix("Still needed before saving: ").split(", ")


def test_the_refill_preview_shows_the_new_dates_before_the_lot_number_and_the_ticks(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    html = client_as(nurse).post(reverse("pumps:refill_preview", args=[pump.pk]), REFILL_SO_FAR).content.decode()
    assert text_of(html, "preview-alarm-date") == "2024-08-14"
    assert text_of(html, "preview-refill-due") == "2024-08-07"
    assert "This field is required" not in html
    assert 'data-testid="preview-errors"' not in html
    # In the form's order, the checks at the pump (the service's rules) included.
    assert missing_of(html) == [
        "Lot number",
        "Central reservoir fill port access confirmed",
        "Pump running confirmed",
        "Observed after the refill (minutes)",
        "Signs seen while observing",
    ]


def test_the_refill_preview_lists_the_date_as_missing_and_shows_no_dates_without_it(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    data = {**REFILL_SO_FAR, "refilled_on": ""}
    html = client_as(nurse).post(reverse("pumps:refill_preview", args=[pump.pk]), data).content.decode()
    assert "preview-alarm-date" not in html
    assert "Refill date" in missing_of(html)
    assert 'data-testid="preview-errors"' not in html


def test_a_wrong_value_is_shown_with_its_label_and_is_gone_once_corrected(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    client = client_as(nurse)
    url = reverse("pumps:refill_preview", args=[pump.pk])
    wrong = client.post(url, {**REFILL_SO_FAR, "volume_added_ml": "forty"}).content.decode()
    errors = errors_of(wrong)
    assert errors.startswith("Volume added")
    assert "number" in errors.lower()
    assert "preview-alarm-date" not in wrong

    fixed = client.post(url, REFILL_SO_FAR).content.decode()
    assert 'data-testid="preview-errors"' not in fixed
    assert text_of(fixed, "preview-alarm-date") == "2024-08-14"


def test_the_dose_preview_shows_the_dates_and_what_is_still_needed(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    url = reverse("pumps:dose_change_preview", args=[pump.pk])
    # 500 → 800 mcg/day (+60 %): saving needs a confirmation reason, not typed yet.
    data = dose_form(reason="", tone_notes="", next_visit_on="", retyped_daily_dose_mcg="")
    html = client_as(nurse).post(url, data).content.decode()
    assert text_of(html, "preview-alarm-date") == "2024-05-11"
    assert missing_of(html) == ["Confirmation reason", "Type the new dose again (mcg/day)"]
    assert 'data-testid="preview-errors"' not in html


def test_the_dose_preview_lists_the_retyped_dose_as_still_needed_above_the_hard_stop(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    client = client_as(nurse)
    url = reverse("pumps:dose_change_preview", args=[pump.pk])
    # 500 → 1000 mcg/day (+100 %): above the hard stop, so the page's save asks for the dose twice.
    typed_once = dose_form(daily_dose_mcg="1000", confirmation_reason="Agreed at MDT", retyped_daily_dose_mcg="")
    html = client.post(url, typed_once).content.decode()
    assert 'data-testid="hard-stop"' in html
    assert missing_of(html) == ["Type the new dose again (mcg/day)"]
    mistyped = client.post(url, {**typed_once, "retyped_daily_dose_mcg": "100"}).content.decode()
    # Typed, but not the same dose: shown as a problem with the field, not as missing.
    assert "retype the new dose (1000 mcg/day)" in errors_of(mistyped)
    retyped = client.post(url, {**typed_once, "retyped_daily_dose_mcg": "1000"}).content.decode()
    assert 'data-testid="preview-missing"' not in retyped
    # Below the hard stop nothing is retyped: 500 → 700 mcg/day (+40 %).
    small = dose_form(daily_dose_mcg="700", confirmation_reason="Severe spasms at night", retyped_daily_dose_mcg="")
    assert 'data-testid="preview-missing"' not in client.post(url, small).content.decode()


def test_the_dose_preview_shows_a_bad_dose_then_clears_it(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    client = client_as(nurse)
    url = reverse("pumps:dose_change_preview", args=[pump.pk])
    wrong = client.post(url, dose_form(daily_dose_mcg="8OO")).content.decode()
    assert re.search(r"Daily dose.*number", errors_of(wrong), re.I)
    fixed = client.post(url, dose_form()).content.decode()
    assert 'data-testid="preview-errors"' not in fixed
    assert text_of(fixed, "preview-daily-dose") == "800 mcg/day"


def test_the_preview_still_refuses_a_role_that_cannot_record_a_refill(client_as, surgeon, therapist):
    pump = PumpFactory(by=surgeon)
    response = client_as(therapist).post(reverse("pumps:refill_preview", args=[pump.pk]), REFILL_SO_FAR)
    assert response.status_code == 403


def test_the_refill_preview_service_projects_and_names_what_the_save_still_asks_for(surgeon):
    pump = PumpFactory(by=surgeon)
    fill = FillDetails(
        volume_added_ml=Decimal("40"),
        drug="lioresal",
        concentration_mcg_per_ml=Decimal("2000"),
        aspirated_volume_ml=Decimal("22.5"),
    )
    draft = services.refill_preview(pump=pump, refilled_on=dt.date(2024, 3, 15), fill=fill)
    assert draft.errors == {}
    assert draft.refill.alarm_date == dt.date(2024, 8, 14)
    assert set(draft.still_needed) == {
        "lot_number",
        "reservoir_port_access_confirmed",
        "pump_running_confirmed",
        "observation_minutes",
        "observation_signs",
    }


PROGRAMMER_LABELS = {
    "Alarm date on the programmer",
    "Reservoir volume on the programmer",
    "Daily dose on the programmer",
}


def test_when_the_clinic_requires_the_programmers_numbers_both_previews_list_them_as_the_saves_ask(
    client_as, surgeon, nurse, settings
):
    """What Save asks for is what the preview lists: with ``REQUIRE_PROGRAMMER_CHECK`` the
    programmer's three numbers are still needed on both pages until typed."""
    settings.CLINIC = {**settings.CLINIC, "REQUIRE_PROGRAMMER_CHECK": True}
    pump = PumpFactory(by=surgeon)
    client = client_as(nurse)
    refill = client.post(reverse("pumps:refill_preview", args=[pump.pk]), REFILL_SO_FAR).content.decode()
    dose = client.post(reverse("pumps:dose_change_preview", args=[pump.pk]), dose_form(daily_dose_mcg="520"))
    for html in (refill, dose.content.decode()):
        labels = {label.split(" (")[0] for label in missing_of(html)}
        assert labels >= PROGRAMMER_LABELS, missing_of(html)
    saved = client.post(reverse("pumps:dose_change_create", args=[pump.pk]), dose_form(daily_dose_mcg="520"))
    assert saved.status_code == 200 and set(saved.context["form"].errors) >= {
        "programmer_alarm_date",
        "programmer_reservoir_volume_ml",
        "programmer_daily_dose_mcg",
    }


def test_the_dose_preview_lists_what_is_still_needed_even_while_another_field_is_wrong(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)
    url = reverse("pumps:dose_change_preview", args=[pump.pk])
    # 500 → 1000 mcg/day (+100 %) with a confirmation reason too short to count: a problem shown,
    # and the retyped dose the save will also ask for listed beside it.
    html = (
        client_as(nurse)
        .post(url, dose_form(daily_dose_mcg="1000", confirmation_reason="ok", retyped_daily_dose_mcg=""))
        .content.decode()
    )
    assert "Confirmation reason" in errors_of(html)
    assert "Type the new dose again (mcg/day)" in missing_of(html)


def test_a_dose_preview_that_cannot_compare_does_not_call_a_running_pumps_program_its_first(client_as, surgeon, nurse):
    pump = PumpFactory(by=surgeon)  # 500 mcg/day since implant
    services.dose_change_record(pump=pump, by=nurse, changed_on=dt.date(2024, 3, 20), daily_dose_mcg=Decimal("520"))
    # Dated before that change: refused (backdated), so no change % is worked out.
    html = (
        client_as(nurse)
        .post(reverse("pumps:dose_change_preview", args=[pump.pk]), dose_form(changed_on="2024-03-15"))
        .content.decode()
    )
    assert "cannot be dated before it" in errors_of(html)
    assert text_of(html, "preview-change") == "—"
