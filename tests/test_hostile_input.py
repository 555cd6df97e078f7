"""Hostile input (spec section 4): every endpoint and report page answers a 4xx, never a 500.

Deeply nested JSON, oversized bodies, megabyte strings and dates at the ends of the
calendar are what a fuzzer or a broken client sends first.
"""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.exceptions import ParseError
from rest_framework.test import APIClient

from patients.models import Patient
from pumps.models import Refill
from spasticity.api_parsers import DepthLimitedJSONParser
from spasticity.params import parse_date_param
from tests.factories import DEMO_PASSWORD, GoalFactory, PatientFactory, PumpFactory
from tests.patients import test_patient_api
from tests.pumps.test_pump_api import refill_body

pytestmark = pytest.mark.django_db

NESTED_ARRAYS = "[" * 2000 + "]" * 2000
NESTED_OBJECTS = '{"a":' * 1000 + "1" + "}" * 1000
MEGABYTE = "x" * 1_000_000

NEW_PATIENT = {**test_patient_api.NEW_PATIENT, "mrn": "MRN4242"}


def post_raw(client: APIClient, url: str, body: str) -> object:
    return client.post(url, data=body, content_type="application/json")


# --- Nested and oversized bodies ---------------------------------------------------------


@pytest.mark.parametrize("body", [NESTED_ARRAYS, NESTED_OBJECTS], ids=["arrays", "objects"])
def test_a_deeply_nested_body_to_the_token_endpoint_is_a_400(body):
    response = post_raw(APIClient(), "/api/v1/auth/token/", body)
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


@pytest.mark.parametrize("body", [NESTED_ARRAYS, NESTED_OBJECTS], ids=["arrays", "objects"])
def test_a_deeply_nested_body_to_a_resource_is_a_400_and_saves_nothing(api_as, nurse, body):
    response = post_raw(api_as(nurse), "/api/v1/patients/", body)
    assert response.status_code == 400
    assert not Patient.objects.exists()


def test_the_token_endpoint_still_takes_json_and_form_bodies(nurse):
    credentials = {"username": nurse.username, "password": DEMO_PASSWORD}
    assert "token" in APIClient().post("/api/v1/auth/token/", credentials, format="json").json()
    assert "token" in APIClient().post("/api/v1/auth/token/", credentials).json()


def test_a_body_over_the_upload_limit_is_a_413(api_as, nurse, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = '{"mrn": "' + "x" * 20_000 + '"}'
    response = post_raw(api_as(nurse), "/api/v1/patients/", body)
    assert response.status_code == 413
    assert response.json() == {"detail": "The request body is too large."}
    assert not Patient.objects.exists()


def test_the_parser_takes_json_nested_up_to_its_limit_and_refuses_one_level_more():
    parser = DepthLimitedJSONParser()
    within = "[" * parser.max_depth + "]" * parser.max_depth
    beyond = "[" * (parser.max_depth + 1) + "]" * (parser.max_depth + 1)
    assert parser.parse(io.BytesIO(within.encode())) is not None
    with pytest.raises(ParseError):
        parser.parse(io.BytesIO(beyond.encode()))


def test_brackets_inside_strings_do_not_count_as_nesting():
    body = '{"note": "' + "[{" * 500 + '\\"]", "list": [1, [2, {"x": "}}}"}]]}'
    parsed = DepthLimitedJSONParser().parse(io.BytesIO(body.encode()))
    assert parsed["list"] == [1, [2, {"x": "}}}"}]]


# --- Huge strings in fields --------------------------------------------------------------


def test_a_megabyte_given_name_is_a_400_on_the_field(api_as, nurse):
    response = api_as(nurse).post("/api/v1/patients/", {**NEW_PATIENT, "given_name": MEGABYTE}, format="json")
    assert response.status_code == 400
    assert "given_name" in response.json()
    assert not Patient.objects.exists()


def test_a_megabyte_lot_number_is_a_400_on_the_field(api_as, nurse, surgeon):
    pump = PumpFactory(by=surgeon)
    body = refill_body(pump, lot_number=MEGABYTE)
    response = api_as(nurse).post("/api/v1/refills/", body, format="json")
    assert response.status_code == 400
    assert "lot_number" in response.json()
    assert Refill.objects.filter(pump=pump).count() == 1  # only the implant's first fill


# --- Dates at the ends of the calendar ---------------------------------------------------

EXTREME_DATES = ["9999-12-31", "0001-01-01", "1899-12-31", "2201-01-01"]


@pytest.mark.parametrize("as_of", EXTREME_DATES)
@pytest.mark.parametrize("report", ["battery-end-of-life", "overdue-refills"])
def test_a_report_date_outside_1900_to_2200_is_a_400_on_as_of(api_as, nurse, report, as_of):
    response = api_as(nurse).get(f"/api/v1/reports/{report}/", {"as_of": as_of})
    assert response.status_code == 400
    assert response.json() == {"as_of": ["Give a date between 1900-01-01 and 2200-12-31."]}


def test_the_battery_report_takes_the_last_accepted_date_with_the_widest_window(api_as, nurse):
    response = api_as(nurse).get("/api/v1/reports/battery-end-of-life/", {"as_of": "2200-12-31", "within_days": "3650"})
    assert response.status_code == 200
    assert response.json()["as_of"] == "2200-12-31"


@pytest.mark.parametrize("within_days", ["3651", "-1", "9" * 5000, "1e9"])
def test_a_battery_window_outside_0_to_3650_days_is_a_400_on_within_days(api_as, nurse, within_days):
    response = api_as(nurse).get("/api/v1/reports/battery-end-of-life/", {"within_days": within_days})
    assert response.status_code == 400
    assert "within_days" in response.json()


@pytest.mark.parametrize("on", ["9999-12-31", "0001-01-01"])
def test_a_goal_attainment_date_outside_1900_to_2200_is_a_400_on_on(api_as, therapist, on):
    goal = GoalFactory()
    response = api_as(therapist).get(f"/api/v1/patients/{goal.patient.pk}/goal-attainment/", {"on": on})
    assert response.status_code == 400
    assert response.json() == {"on": ["Give a date between 1900-01-01 and 2200-12-31."]}


PAGES = [
    "reports:battery",
    "reports:battery_print",
    "reports:battery_csv",
    "reports:overdue_refills",
    "reports:overdue_refills_print",
    "reports:overdue_refills_csv",
]


@pytest.mark.parametrize("as_of", ["9999-12-31", "0001-01-01"])
@pytest.mark.parametrize("url_name", PAGES)
def test_a_report_page_with_a_date_outside_1900_to_2200_is_a_400_page(client_as, nurse, url_name, as_of):
    response = client_as(nurse).get(reverse(url_name), {"as_of": as_of})
    assert response.status_code == 400
    assert "between 1900-01-01 and 2200-12-31" in response.content.decode()


def test_a_battery_page_with_a_window_over_3650_days_is_a_400_page(client_as, nurse):
    response = client_as(nurse).get(reverse("reports:battery"), {"as_of": "2024-06-01", "within_days": "99999"})
    assert response.status_code == 400
    assert "Within (days): Give a whole number of days from 0 to 3650." in response.content.decode()


def test_a_report_page_with_dates_in_range_is_unchanged(client_as, nurse, surgeon):
    PumpFactory(patient=PatientFactory(assigned_nurse=nurse), by=surgeon)  # battery ends 2031-01-15
    response = client_as(nurse).get(reverse("reports:battery"), {"as_of": "2030-12-01", "within_days": "180"})
    assert response.status_code == 200
    assert [row["days_left"] for row in response.context["rows"]] == [45]


def test_parse_date_param_names_the_field_and_accepts_the_range_inclusive():
    assert parse_date_param("1900-01-01", "as_of") == dt.date(1900, 1, 1)
    assert parse_date_param("2200-12-31", "as_of") == dt.date(2200, 12, 31)
    assert parse_date_param("", "as_of") is None
    assert parse_date_param(None, "as_of") is None
    with pytest.raises(ValidationError) as out_of_range:
        parse_date_param("2201-01-01", "on")
    assert out_of_range.value.message_dict == {"on": ["Give a date between 1900-01-01 and 2200-12-31."]}
    with pytest.raises(ValidationError) as malformed:
        parse_date_param("20-06-2024", "on")
    assert list(malformed.value.message_dict) == ["on"]


@pytest.mark.parametrize("on", ["9999-12-31", "0001-01-01", "not-a-day"])
def test_a_trial_day_outside_1900_to_2200_is_a_400_page_not_a_500(client_as, nurse, on):
    response = client_as(nurse).get(reverse("trials:day_list"), {"on": on})
    assert response.status_code == 400
    assert "Day:" in response.content.decode()


def test_the_trial_day_list_takes_the_last_day_allowed(client_as, nurse):
    response = client_as(nurse).get(reverse("trials:day_list"), {"on": "2200-12-31"})
    assert response.status_code == 200


@pytest.mark.parametrize("typed", ["²", "١٢", "12abc", "-1", "9" * 40])
def test_an_id_typed_in_a_query_string_that_is_not_ascii_digits_is_a_404_never_a_500(client_as, nurse, typed):
    """``str.isdigit()`` takes "²" and Arabic-Indic digits, which ``int()`` refuses or reads as
    another number: ids and page numbers are read by ``spasticity.params.whole_number``."""
    client = client_as(nurse)
    for url in (
        f"{reverse('appointments:create')}?pump={typed}",
        f"{reverse('appointments:create')}?patient={typed}",
        f"{reverse('imports:progress')}?run={typed}",
    ):
        assert client.get(url).status_code == 404, url
    for url in (f"/?page_refills={typed}", f"{reverse('alerts:worklist')}?page_refills={typed}"):
        assert client.get(url).status_code == 200, url  # a page number that is not one: the first page


def test_whole_number_takes_ascii_digits_only():
    from spasticity.params import whole_number

    assert [whole_number(text) for text in ("0", "42", "007", "²", "١", "", " 4", "4.0", "9" * 19)] == [
        0,
        42,
        7,
        None,
        None,
        None,
        None,
        None,
        None,
    ]
