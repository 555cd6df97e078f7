"""Issue 13, point 6: the catalogue's model rules reach implants and replacements.

Prometra II: default low-reservoir alarm 3.0 mL, labelled for patients 22 and over, so an
implant in a younger patient needs an off-label reason; the catalogue shows and edits the rules.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pumps.models import Pump, PumpModel
from tests.factories import PatientFactory, PumpFactory
from tests.pumps.test_pump_api import implant_body

pytestmark = pytest.mark.django_db

D = Decimal
OFF_LABEL = "Slim abdomen: team decision after MDT, family informed"


def prometra() -> PumpModel:
    return PumpModel.objects.get(model="Prometra II")


def prometra_implant(patient, **changes):
    body = implant_body(patient, model=prometra().pk, reservoir_volume_ml=20, serial_number="PII0001")
    body.pop("low_reservoir_alarm_ml")
    body["first_fill"] = {**body["first_fill"], "volume_added_ml": "20"}
    body.update(changes)
    return body


def test_a_prometra_implant_in_a_10_year_old_needs_an_off_label_reason(api_as, surgeon):
    child = PatientFactory(birth_date=dt.date(2014, 1, 16))  # 9 years old on 2024-01-15: turns 10 the next day
    refused = api_as(surgeon).post("/api/v1/pumps/", prometra_implant(child), format="json")
    assert refused.status_code == 400, refused.json()
    message = " ".join(refused.json()["off_label_reason"])
    assert "9" in message and "22" in message and "Prometra II" in message
    assert not Pump.objects.filter(patient=child).exists()

    child_10 = PatientFactory(birth_date=dt.date(2014, 1, 15))  # 10 on the implant day
    refused_10 = api_as(surgeon).post(
        "/api/v1/pumps/", prometra_implant(child_10, serial_number="PII0002"), format="json"
    )
    assert refused_10.status_code == 400
    assert "is 10 on 2024-01-15" in " ".join(refused_10.json()["off_label_reason"])

    accepted = api_as(surgeon).post(
        "/api/v1/pumps/", prometra_implant(child_10, serial_number="PII0002", off_label_reason=OFF_LABEL), format="json"
    )
    assert accepted.status_code == 201, accepted.json()
    assert accepted.json()["off_label_reason"] == OFF_LABEL
    # No alarm volume given: the Prometra II's catalogue default.
    assert D(accepted.json()["low_reservoir_alarm_ml"]) == D("3.0")


def test_an_adult_prometra_implant_needs_no_reason_and_synchromed_has_no_age_limit(api_as, surgeon):
    adult = PatientFactory(birth_date=dt.date(2002, 1, 15))  # 22 on the implant day
    assert api_as(surgeon).post("/api/v1/pumps/", prometra_implant(adult), format="json").status_code == 201
    child = PatientFactory(birth_date=dt.date(2018, 5, 1))
    body = implant_body(child, serial_number="SM0001")
    body.pop("low_reservoir_alarm_ml")
    response = api_as(surgeon).post("/api/v1/pumps/", body, format="json")
    assert response.status_code == 201, response.json()
    assert D(response.json()["low_reservoir_alarm_ml"]) == D("2.0")  # SynchroMed II's default


def test_a_given_alarm_volume_wins_over_the_model_default(api_as, surgeon):
    adult = PatientFactory(birth_date=dt.date(1990, 1, 1))
    response = api_as(surgeon).post(
        "/api/v1/pumps/", prometra_implant(adult, low_reservoir_alarm_ml="4.0"), format="json"
    )
    assert response.status_code == 201, response.json()
    assert D(response.json()["low_reservoir_alarm_ml"]) == D("4.0")


def test_a_replacement_by_a_prometra_in_a_child_needs_the_reason_and_gets_3_ml(api_as, surgeon):
    old = PumpFactory(by=surgeon, patient=PatientFactory(birth_date=dt.date(2014, 6, 1)))
    body = {
        "model": prometra().pk,
        "serial_number": "PII0100",
        "reservoir_volume_ml": "20",
        "performed_on": "2024-04-01",
    }
    refused = api_as(surgeon).post(f"/api/v1/pumps/{old.pk}/replace/", body, format="json")
    assert refused.status_code == 400
    assert "labelled for patients 22 and over" in " ".join(refused.json()["off_label_reason"])
    replaced = api_as(surgeon).post(
        f"/api/v1/pumps/{old.pk}/replace/", {**body, "off_label_reason": OFF_LABEL}, format="json"
    )
    assert replaced.status_code == 201, replaced.json()
    assert D(replaced.json()["low_reservoir_alarm_ml"]) == D("3.0")


def test_the_implant_page_asks_for_the_off_label_reason(client_as, surgeon):
    child = PatientFactory(birth_date=dt.date(2015, 3, 1))
    form = {
        "model": prometra().pk,
        "serial_number": "PII0200",
        "reservoir_volume_ml": "20",
        "low_reservoir_alarm_ml": "",
        "implanted_on": "2024-01-15",
        "catheter_tip_level": "T10",
        "daily_dose_mcg": "100",
        "volume_added_ml": "20",
        "drug": "lioresal",
        "concentration_mcg_per_ml": "500",
        "lot_number": "L1",
    }
    url = f"/pumps/implant/{child.pk}/"
    page = client_as(surgeon).post(url, form)
    assert page.status_code == 200
    assert "labelled for patients 22 and over" in page.content.decode()
    saved = client_as(surgeon).post(url, {**form, "off_label_reason": OFF_LABEL})
    assert saved.status_code == 302, saved.content.decode()[:2000]
    pump = Pump.objects.get(serial_number="PII0200")
    assert (pump.low_reservoir_alarm_ml, pump.off_label_reason) == (D("3.0"), OFF_LABEL)


def test_the_catalogue_shows_and_edits_the_model_rules(api_as, doctor, nurse):
    entry = prometra()
    shown = api_as(nurse).get(f"/api/v1/pump-models/{entry.pk}/").json()
    assert (shown["default_low_reservoir_alarm_ml"], shown["labelled_min_age_years"], shown["mri_procedure"]) == (
        "3.00",
        22,
        "empty_before_refill_after",
    )
    edit = {"labelled_min_age_years": 18, "default_low_reservoir_alarm_ml": "2.5", "version": shown["version"]}
    assert api_as(nurse).patch(f"/api/v1/pump-models/{entry.pk}/", edit, format="json").status_code == 403
    response = api_as(doctor).patch(f"/api/v1/pump-models/{entry.pk}/", edit, format="json")
    assert response.status_code == 200, response.json()
    entry.refresh_from_db()
    assert (entry.labelled_min_age_years, entry.default_low_reservoir_alarm_ml) == (18, D("2.5"))
    bad = api_as(doctor).patch(
        f"/api/v1/pump-models/{entry.pk}/", {"mri_procedure": "x", "version": entry.version}, format="json"
    )
    assert bad.status_code == 400 and "mri_procedure" in bad.json()


def test_the_catalogue_page_shows_the_model_rules(client_as, therapist):
    page = client_as(therapist).get("/pumps/catalogue/").content.decode()
    assert "3 mL" in page and "22 years" in page and "Empty before the MRI (1.5 T only), refill after" in page
