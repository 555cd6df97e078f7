"""``spasticity.id_lists.ids_in``: thousands of ids as one array parameter, the same rows as a list."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.models import Patient
from spasticity.id_lists import ids_in
from tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


def test_the_array_gives_the_rows_the_list_gives_in_one_parameter():
    patients = [PatientFactory() for _ in range(4)]
    wanted = [patients[0].pk, patients[2].pk, patients[2].pk, 10**9]  # a repeat, and an id nobody has
    with CaptureQueriesContext(connection) as read:
        found = set(Patient.objects.filter(pk__in=ids_in(wanted)).values_list("pk", flat=True))
    assert found == {patients[0].pk, patients[2].pk}
    assert "unnest(" in read[0]["sql"] and "::bigint[]" in read[0]["sql"]  # one array value, not a placeholder each
    assert set(Patient.objects.filter(pk__in=ids_in([])).values_list("pk", flat=True)) == set()


def test_without_postgresql_it_is_the_plain_list(monkeypatch):
    monkeypatch.setattr(connection, "vendor", "sqlite")
    assert ids_in([3, 1, 3, 2]) == [1, 2, 3]
