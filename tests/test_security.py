"""Session expiry, login lockout, password hashing and security headers."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.urls import reverse

import spasticity.settings as production_settings
from spasticity.middleware import LAST_SEEN_KEY

pytestmark = pytest.mark.django_db


def test_an_idle_session_ends_after_the_configured_minutes(client_as, nurse):
    client = client_as(nurse)
    assert client.get(reverse("patients:list")).status_code == 200
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - settings.SESSION_IDLE_TIMEOUT_MINUTES * 60 - 5
    session.save()
    response = client.get(reverse("patients:list"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_an_active_session_stays_signed_in(client_as, nurse):
    client = client_as(nurse)
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - 60
    session.save()
    assert client.get(reverse("patients:list")).status_code == 200


def test_repeated_failed_logins_lock_the_account(client, nurse):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": nurse.username, "password": "wrong"})
    locked = client.post(reverse("login"), {"username": nurse.username, "password": "itb-demo-2026"})
    assert locked.status_code == 429


def test_a_correct_password_signs_in(client, nurse):
    response = client.post(reverse("login"), {"username": nurse.username, "password": "itb-demo-2026"})
    assert response.status_code == 302
    assert client.get(reverse("patients:list")).status_code == 200


def test_production_hashes_passwords_with_argon2():
    assert production_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_pages_carry_a_content_security_policy_and_security_headers(client_as, nurse):
    response = client_as(nurse).get(reverse("patients:list"))
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
