"""The demo seeder ends with an alert scan, so a fresh demo shows alerts to act on."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from alerts.models import Alert
from alerts.services import alert_scan, system_user
from spasticity.timeutil import clinic_today

pytestmark = pytest.mark.django_db


def test_the_demo_seeder_computes_the_alerts():
    out = io.StringIO()
    call_command("seed_demo", "--i-know-this-is-not-production", "--patients", "12", stdout=out)

    assert f"Alert scan as of {clinic_today():%Y-%m-%d}" in out.getvalue()
    assert Alert.objects.unresolved().exists()
    # Raised as the pumps were seeded (by the staff recording them) or by the final scan (itb-system).
    assert all(h.history_user is not None for h in Alert.history.all())
    assert alert_scan(as_of=clinic_today(), by=system_user()).changes == 0
