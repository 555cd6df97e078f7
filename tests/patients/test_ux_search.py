"""Accent- and case-insensitive patient search (issue 14, point 7): "sian" finds "Siân".

PostgreSQL compares through its ``unaccent`` extension (migration 0003); the demo's SQLite
through the Python ``unaccent`` registered on each connection. Both paths run the same
``patients.search.patient_search``, used by the list page and by the API.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from patients.models import Patient
from patients.search import unaccent
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

# Shared with the SQLite test (test_ux_search_sqlite.py).
NAMES = [("Siân", "Llewelyn"), ("Zoë", "Brontë"), ("Søren", "Ødegård"), ("Ana", "Sánchez-Müller"), ("Sam", "Jones")]


@pytest.fixture
def named_patients() -> dict[str, Patient]:
    return {given: PatientFactory(given_name=given, family_name=family) for given, family in NAMES}


def names(patients) -> set[str]:
    return {patient.given_name for patient in patients}


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("sian", {"Siân"}),
        ("SIAN", {"Siân"}),
        ("siân", {"Siân"}),
        ("bronte", {"Zoë"}),
        ("zoe bronte", {"Zoë"}),
        ("soren odegard", {"Søren"}),
        ("muller", {"Ana"}),
        ("sanchez", {"Ana"}),
        ("sian jones", set()),
        ("xyz", set()),
    ],
)
def test_the_list_page_search_ignores_accents_and_case(client_as, nurse, named_patients, typed, expected):
    response = client_as(nurse).get(reverse("patients:list"), {"q": typed})
    assert names(response.context["page"].object_list) == expected


def test_the_api_search_is_the_same_search(client_as, nurse, named_patients):
    response = client_as(nurse).get("/api/v1/patients/", {"q": "sian"})
    assert response.status_code == 200
    assert [row["given_name"] for row in response.json()["results"]] == ["Siân"]
    everyone = client_as(nurse).get("/api/v1/patients/")
    assert len(everyone.json()["results"]) == len(NAMES)


def test_an_mrn_still_matches_exactly_or_by_its_start(client_as, nurse, named_patients):
    siân = named_patients["Siân"]
    found = client_as(nurse).get(reverse("patients:list"), {"q": siân.mrn[:5].lower()}).context["page"].object_list
    assert siân in list(found)


def test_the_api_refuses_a_null_character_in_the_search(client_as, nurse):
    response = client_as(nurse).get("/api/v1/patients/", {"q": "si\x00an"})
    assert response.status_code == 400
    assert "q" in response.json()


def test_postgresql_has_the_unaccent_extension_from_the_migration():
    with connection.cursor() as cursor:
        cursor.execute("SELECT unaccent('Siân Ødegård Brontë')")
        assert cursor.fetchone()[0] == "Sian Odegard Bronte"


@pytest.mark.parametrize(
    ("text", "plain"),
    [("Siân", "Sian"), ("Zoë", "Zoe"), ("Ødegård", "Odegard"), ("Łukasz", "Lukasz"), ("Straße", "Strasse"),
     ("Æthelred", "AEthelred"), ("Jones", "Jones"), ("", "")],
)  # fmt: skip
def test_the_python_unaccent_drops_accents_as_postgresql_does(text, plain):
    assert unaccent(text) == plain
    with connection.cursor() as cursor:
        cursor.execute("SELECT unaccent(%s)", [text])
        assert cursor.fetchone()[0] == plain
