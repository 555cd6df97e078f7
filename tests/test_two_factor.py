"""Two-factor sign-in: enrolment with a QR code, a code after the password, and off when not required."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import DEMO_PASSWORD

pytestmark = pytest.mark.django_db

ENROL_URL = "/accounts/two-factor/enrol/"
VERIFY_URL = "/accounts/two-factor/verify/"
PATIENTS_URL = "/patients/"
requires_2fa = override_settings(REQUIRE_2FA=True)


def current_code(device: TOTPDevice) -> str:
    """The code the user's authenticator app shows now."""
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"


def wrong_code(device: TOTPDevice) -> str:
    return f"{(int(current_code(device)) + 1) % 10**device.digits:0{device.digits}d}"


def signed_in_with_password(user: User) -> Client:
    client = Client()
    response = client.post(reverse("login"), {"username": user.username, "password": DEMO_PASSWORD})
    assert response.status_code == 302
    return client


def confirmed_device_for(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def wait_out_the_throttle(device: TOTPDevice) -> None:
    """django-otp delays the next try after a wrong code (1 s, then doubling); step past it."""
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - dt.timedelta(minutes=5)
    )


# --- Enrolment ------------------------------------------------------------------------------


@requires_2fa
def test_a_user_without_a_device_is_sent_to_enrolment_after_the_password(nurse):
    client = signed_in_with_password(nurse)
    response = client.get(PATIENTS_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(ENROL_URL)
    assert parse_qs(urlsplit(response["Location"]).query)["next"] == [PATIENTS_URL]


@requires_2fa
def test_the_enrolment_page_shows_a_qr_code_and_the_secret_of_one_unconfirmed_device(nurse):
    client = signed_in_with_password(nurse)
    first = client.get(ENROL_URL)
    assert first.status_code == 200
    assert "no-store" in first["Cache-Control"]
    page = first.content.decode()
    assert 'src="data:image/svg+xml;base64,' in page
    device = TOTPDevice.objects.get(user=nurse)
    assert not device.confirmed
    assert first.context["secret"].replace(" ", "") in device.config_url
    assert client.get(ENROL_URL).context["secret"] == first.context["secret"]  # a reload keeps the secret
    assert TOTPDevice.objects.filter(user=nurse).count() == 1


@requires_2fa
def test_a_valid_code_confirms_the_enrolment_and_signs_the_user_in(nurse):
    client = signed_in_with_password(nurse)
    client.get(ENROL_URL)
    device = TOTPDevice.objects.get(user=nurse)
    response = client.post(ENROL_URL, {"code": current_code(device), "next": PATIENTS_URL})
    assert response.status_code == 302
    assert response["Location"] == PATIENTS_URL
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(PATIENTS_URL).status_code == 200


@requires_2fa
def test_a_wrong_code_does_not_confirm_the_enrolment(nurse):
    client = signed_in_with_password(nurse)
    client.get(ENROL_URL)
    device = TOTPDevice.objects.get(user=nurse)
    response = client.post(ENROL_URL, {"code": wrong_code(device)})
    assert response.status_code == 200
    assert "not right" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert client.get(PATIENTS_URL)["Location"].startswith(ENROL_URL)


@requires_2fa
def test_a_user_with_a_device_cannot_enrol_another_with_only_the_password(nurse):
    confirmed_device_for(nurse)
    client = signed_in_with_password(nurse)
    response = client.get(ENROL_URL)
    assert response.status_code == 302
    assert response["Location"].startswith(VERIFY_URL)
    assert TOTPDevice.objects.filter(user=nurse).count() == 1


def test_anonymous_users_are_sent_to_the_login_page_not_to_enrolment(client):
    for url in (ENROL_URL, VERIFY_URL):
        response = client.get(url)
        assert response.status_code == 302
        assert "/accounts/login/" in response["Location"]
    assert not TOTPDevice.objects.exists()


# --- Signing in with a device --------------------------------------------------------------


@requires_2fa
def test_a_user_with_a_device_must_enter_a_code_after_the_password(nurse):
    device = confirmed_device_for(nurse)
    client = signed_in_with_password(nurse)
    response = client.get(PATIENTS_URL)
    assert response["Location"].startswith(VERIFY_URL)
    assert client.get(VERIFY_URL).status_code == 200
    signed = client.post(VERIFY_URL, {"code": current_code(device), "next": PATIENTS_URL})
    assert signed.status_code == 302
    assert signed["Location"] == PATIENTS_URL
    assert client.get(PATIENTS_URL).status_code == 200


@requires_2fa
def test_a_wrong_code_is_refused_and_the_right_one_accepted_after_the_throttle(nurse):
    device = confirmed_device_for(nurse)
    client = signed_in_with_password(nurse)
    refused = client.post(VERIFY_URL, {"code": wrong_code(device)})
    assert refused.status_code == 200
    assert "not right" in refused.content.decode()
    assert client.get(PATIENTS_URL)["Location"].startswith(VERIFY_URL)
    # Straight after a failure django-otp refuses even the right code (brute-force delay).
    assert client.post(VERIFY_URL, {"code": current_code(device)}).status_code == 200
    wait_out_the_throttle(device)
    assert client.post(VERIFY_URL, {"code": current_code(device)}).status_code == 302
    assert client.get(PATIENTS_URL).status_code == 200


@requires_2fa
def test_a_code_is_accepted_only_once(nurse):
    device = confirmed_device_for(nurse)
    code = current_code(device)
    assert signed_in_with_password(nurse).post(VERIFY_URL, {"code": code}).status_code == 302
    replayed = signed_in_with_password(nurse).post(VERIFY_URL, {"code": code})
    assert replayed.status_code == 200


@requires_2fa
def test_after_the_code_the_user_goes_only_to_a_page_on_this_site(nurse):
    device = confirmed_device_for(nurse)
    client = signed_in_with_password(nurse)
    response = client.post(VERIFY_URL, {"code": current_code(device), "next": "https://evil.example/"})
    assert response["Location"] == reverse("home")


@requires_2fa
def test_signing_out_ends_the_verification(nurse):
    device = confirmed_device_for(nurse)
    client = signed_in_with_password(nurse)
    client.post(VERIFY_URL, {"code": current_code(device)})
    client.post(reverse("logout"))
    client = signed_in_with_password(nurse)
    assert client.get(PATIENTS_URL)["Location"].startswith(VERIFY_URL)


@requires_2fa
def test_every_role_needs_the_second_factor(personas):
    for role, user in personas.items():
        response = signed_in_with_password(user).get(PATIENTS_URL)
        assert response.status_code == 302, role
        assert response["Location"].startswith(ENROL_URL), role


@requires_2fa
def test_a_session_that_only_passed_the_password_is_anonymous_to_the_api(nurse):
    device = confirmed_device_for(nurse)
    client = signed_in_with_password(nurse)
    assert client.get("/api/v1/patients/").status_code in (401, 403)
    client.post(VERIFY_URL, {"code": current_code(device)})
    assert client.get("/api/v1/patients/").status_code == 200


def test_without_require_2fa_the_password_alone_signs_in(nurse):
    assert settings.REQUIRE_2FA is False
    confirmed_device_for(nurse)
    client = signed_in_with_password(nurse)
    assert client.get(PATIENTS_URL).status_code == 200
    assert client.get("/api/v1/patients/").status_code == 200


# --- The token endpoint -----------------------------------------------------------------------


def ask_for_token(user: User, **extra: str) -> object:
    return APIClient().post(
        "/api/v1/auth/token/", {"username": user.username, "password": DEMO_PASSWORD, **extra}, format="json"
    )


@requires_2fa
def test_with_require_2fa_the_token_endpoint_needs_the_current_code(nurse):
    device = confirmed_device_for(nurse)
    missing = ask_for_token(nurse)
    assert missing.status_code == 400
    assert "otp" in missing.json()
    wrong = ask_for_token(nurse, otp=wrong_code(device))
    assert wrong.status_code == 400
    assert "otp" in wrong.json()
    assert not AuthToken.objects.exists()
    wait_out_the_throttle(device)
    right = ask_for_token(nurse, otp=current_code(device))
    assert right.status_code == 200
    assert "token" in right.json()


@requires_2fa
def test_with_require_2fa_an_account_without_a_device_gets_no_token(nurse):
    response = ask_for_token(nurse, otp="123456")
    assert response.status_code == 400
    assert "enrol" in response.json()["otp"][0]
    assert not AuthToken.objects.exists()


def test_without_require_2fa_the_token_endpoint_needs_no_code(nurse):
    confirmed_device_for(nurse)
    assert ask_for_token(nurse).status_code == 200


# --- add_staff ---------------------------------------------------------------------------------


def add_staff(*args: str) -> str:
    out = StringIO()
    call_command("add_staff", *args, "--password", "a-long-clinic-passphrase-42", stdout=out)
    return out.getvalue()


@requires_2fa
def test_add_staff_prints_an_enrolment_qr_code_and_link_when_2fa_is_required(db):
    output = add_staff("nurse_new", "--role", "pump_nurse")
    device = TOTPDevice.objects.get(user__username="nurse_new")
    assert not device.confirmed
    assert f"Or open this link on the phone: {device.config_url}" in output
    assert device.config_url.startswith("otpauth://totp/")
    assert "\u2588" in output or "\u2580" in output  # the QR code's block characters


@requires_2fa
def test_the_link_add_staff_prints_is_the_one_the_enrolment_page_confirms(db):
    add_staff("nurse_new", "--role", "pump_nurse")
    device = TOTPDevice.objects.get(user__username="nurse_new")
    client = Client()
    client.post(reverse("login"), {"username": "nurse_new", "password": "a-long-clinic-passphrase-42"})
    assert client.get(ENROL_URL).context["secret"].replace(" ", "") in device.config_url
    assert client.post(ENROL_URL, {"code": current_code(device)}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed


def test_add_staff_prints_the_enrolment_with_with_2fa_even_when_not_required(db):
    output = add_staff("nurse_new", "--role", "pump_nurse", "--with-2fa")
    assert "otpauth://totp/" in output


def test_add_staff_prints_no_enrolment_when_2fa_is_neither_required_nor_asked_for(db):
    output = add_staff("nurse_new", "--role", "pump_nurse")
    assert "otpauth://" not in output
    assert not TOTPDevice.objects.exists()


@requires_2fa
def test_add_staff_never_reprints_a_confirmed_devices_secret_unless_reset(nurse):
    old = confirmed_device_for(nurse)
    output = add_staff(nurse.username, "--role", "pump_nurse")
    assert "otpauth://" not in output
    assert "already has a two-factor device" in output
    reset = add_staff(nurse.username, "--role", "pump_nurse", "--reset-2fa")
    assert "otpauth://totp/" in reset
    assert not TOTPDevice.objects.filter(pk=old.pk).exists()
    assert not TOTPDevice.objects.get(user=nurse).confirmed


# --- Defaults: on in production, off in the demo and the tests --------------------------------

ROOT = Path(__file__).resolve().parent.parent


def production_setting(name: str, **env: str) -> str:
    """A setting as production computes it from the environment (DEBUG off, no REQUIRE_2FA given)."""
    clean = {k: v for k, v in os.environ.items() if k not in {"REQUIRE_2FA", "DEBUG", "DJANGO_SETTINGS_MODULE"}}
    clean.update({"SECRET_KEY": "x" * 50, "ALLOW_HTTP": "true", **env})
    code = f"import spasticity.settings as s; print(s.{name})"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_two_factor_is_required_by_default_when_debug_is_off():
    assert production_setting("REQUIRE_2FA") == "True"
    assert production_setting("REQUIRE_2FA", REQUIRE_2FA="false") == "False"


def test_the_demo_runs_without_two_factor():
    makefile = (ROOT / "Makefile").read_text()
    demo_env = next(line for line in makefile.splitlines() if line.startswith("DEMO_ENV"))
    assert "REQUIRE_2FA=false" in demo_env
    assert "$(DEMO_ENV) $(BIN)/python manage.py run_demo" in makefile
