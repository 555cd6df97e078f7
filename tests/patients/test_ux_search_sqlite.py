"""The patient search on SQLite, the demo's database (issue 14, point 7): the same
``patient_search`` as on PostgreSQL, with the Python ``unaccent`` the app registers on each
SQLite connection standing in for the extension.

Outside pytest-django's test database: the connection is a throwaway in-memory SQLite
holding only the patients table (and the tables it refers to).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.db import connections

from patients.models import Patient
from patients.search import patient_search
from tests.factories import PatientFactory
from tests.patients.test_ux_search import NAMES, names

SQLITE_ALIAS = "ux_search_sqlite"


@pytest.fixture
def sqlite_patients(django_db_blocker: Any) -> Iterator[str]:
    """A throwaway in-memory SQLite database with the patients table, as the demo's SQLite has it."""
    in_memory = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    # configure_settings fills in every key a connection reads (and insists on a "default").
    connections.settings[SQLITE_ALIAS] = connections.configure_settings(
        {"default": in_memory, SQLITE_ALIAS: in_memory}
    )[SQLITE_ALIAS]
    with django_db_blocker.unblock():
        try:
            with connections[SQLITE_ALIAS].schema_editor() as editor:
                # The patients table, and the tables its foreign keys point at.
                for model in (ContentType, Permission, Group, User, Patient):
                    editor.create_model(model)
            Patient.objects.using(SQLITE_ALIAS).bulk_create(
                [PatientFactory.build(given_name=given, family_name=family) for given, family in NAMES]
            )
            yield SQLITE_ALIAS
        finally:
            connections[SQLITE_ALIAS].close()
            del connections[SQLITE_ALIAS]
            del connections.settings[SQLITE_ALIAS]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("sian", {"Siân"}), ("SIÂN", {"Siân"}), ("soren odegard", {"Søren"}), ("muller", {"Ana"}), ("xyz", set())],
)
def test_the_sqlite_fallback_runs_the_same_search(sqlite_patients, typed, expected):
    assert connections[sqlite_patients].vendor == "sqlite"
    found = patient_search(Patient.objects.using(sqlite_patients).all(), typed)
    assert names(found) == expected
