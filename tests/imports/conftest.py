"""Shared pieces of the caseload import tests: the sample sheet and the nurses it names."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from spasticity.roles import Role
from tests.factories import PumpModelFactory, UserFactory

DATA = Path(__file__).resolve().parents[1] / "data"
SAMPLE = DATA / "caseload_sample.csv"


@pytest.fixture
def catalogue(db: None) -> None:
    """The two seeded models (a transactional test's flush may have emptied the catalogue)."""
    PumpModelFactory()
    PumpModelFactory(
        manufacturer="Flowonix", model="Prometra II", nominal_battery_life_months=120, days_eri_to_eos=None
    )


@pytest.fixture
def sheet_staff(catalogue: None, nurse: User, doctor: User) -> dict[str, User]:
    """The nurses the sample sheet names (``nurse_nash`` is the ``nurse`` persona); the doctor is named
    on one row as a nurse, by mistake."""
    okafor = UserFactory(username="nurse_okafor", first_name="Obi", last_name="Okafor", role=Role.PUMP_NURSE)
    return {"nurse_nash": nurse, "nurse_okafor": okafor, "dr_doyle": doctor}


@pytest.fixture
def sample_bytes() -> bytes:
    return SAMPLE.read_bytes()
