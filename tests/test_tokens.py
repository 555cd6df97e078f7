"""API tokens expire and die with the password; failed sign-ins lock out with 429, per user and per address."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import DEMO_PASSWORD

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
PATIENTS_URL = "/api/v1/patients/"


def token_for(user: User, password: str = DEMO_PASSWORD, address: str = "127.0.0.1") -> object:
    return APIClient().post(TOKEN_URL, {"username": user.username, "password": password}, REMOTE_ADDR=address)


def client_with(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def fail_sign_ins(usernames: list[str], address: str = "127.0.0.1") -> None:
    for username in usernames:
        response = APIClient().post(TOKEN_URL, {"username": username, "password": "wrong"}, REMOTE_ADDR=address)
        assert response.status_code in (400, 429)


# --- Issue and expiry ----------------------------------------------------------------------


def test_the_token_endpoint_answers_a_token_and_when_it_expires(nurse):
    before = timezone.now()
    response = token_for(nurse)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expiry"}
    expiry = dt.datetime.fromisoformat(body["expiry"])
    idle = dt.timedelta(minutes=settings.SESSION_IDLE_TIMEOUT_MINUTES)
    assert before + idle <= expiry <= timezone.now() + idle
    assert client_with(body["token"]).get(PATIENTS_URL).status_code == 200


def test_tokens_are_stored_hashed_not_as_issued(nurse):
    token = token_for(nurse).json()["token"]
    stored = AuthToken.objects.get(user=nurse)
    assert token not in (stored.digest, stored.token_key)
    assert token.startswith(stored.token_key)


def test_an_expired_token_is_refused_and_deleted(nurse):
    token = token_for(nurse).json()["token"]
    AuthToken.objects.filter(user=nurse).update(expiry=timezone.now() - dt.timedelta(seconds=1))
    assert client_with(token).get(PATIENTS_URL).status_code == 401
    assert not AuthToken.objects.filter(user=nurse).exists()


def test_a_token_used_before_it_expires_is_extended_by_the_idle_time(nurse):
    token = token_for(nurse).json()["token"]
    AuthToken.objects.filter(user=nurse).update(expiry=timezone.now() + dt.timedelta(minutes=2))
    assert client_with(token).get(PATIENTS_URL).status_code == 200
    extended = AuthToken.objects.get(user=nurse).expiry
    assert extended >= timezone.now() + dt.timedelta(minutes=settings.SESSION_IDLE_TIMEOUT_MINUTES - 1)


def test_use_never_extends_a_token_past_its_maximum_age(nurse):
    token = token_for(nurse).json()["token"]
    issued_long_ago = timezone.now() - settings.REST_KNOX["AUTO_REFRESH_MAX_TTL"] - dt.timedelta(minutes=5)
    soon = timezone.now() + dt.timedelta(minutes=2)
    AuthToken.objects.filter(user=nurse).update(created=issued_long_ago, expiry=soon)
    client = client_with(token)
    assert client.get(PATIENTS_URL).status_code == 200  # still inside its last expiry
    assert AuthToken.objects.get(user=nurse).expiry == soon  # but not extended
    AuthToken.objects.filter(user=nurse).update(expiry=timezone.now() - dt.timedelta(seconds=1))
    assert client.get(PATIENTS_URL).status_code == 401


def test_a_wrong_password_gets_no_token(nurse):
    response = token_for(nurse, password="wrong")
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Unable to log in with provided credentials."]}
    assert not AuthToken.objects.exists()


def test_an_inactive_user_gets_no_token(nurse):
    nurse.is_active = False
    nurse.save()
    assert token_for(nurse).status_code == 400


def test_the_drf_authtoken_scheme_is_gone():
    assert "rest_framework.authtoken" not in settings.INSTALLED_APPS


# --- Revocation --------------------------------------------------------------------------


def test_a_password_change_revokes_every_token_of_that_user(nurse, doctor):
    first, second = token_for(nurse).json()["token"], token_for(nurse).json()["token"]
    doctors = token_for(doctor).json()["token"]
    nurse.set_password("a-new-long-passphrase-2027")
    nurse.save()
    assert client_with(first).get(PATIENTS_URL).status_code == 401
    assert client_with(second).get(PATIENTS_URL).status_code == 401
    assert not AuthToken.objects.filter(user=nurse).exists()
    assert client_with(doctors).get(PATIENTS_URL).status_code == 200


def test_saving_a_user_without_a_credential_change_keeps_their_tokens(nurse):
    token = token_for(nurse).json()["token"]
    nurse.first_name = "Nina"
    nurse.save()
    nurse.last_login = timezone.now()
    nurse.save(update_fields=["last_login"])
    assert client_with(token).get(PATIENTS_URL).status_code == 200


def test_signing_in_on_the_web_keeps_the_users_api_tokens(nurse):
    token = token_for(nurse).json()["token"]
    assert Client().post(reverse("login"), {"username": nurse.username, "password": DEMO_PASSWORD}).status_code == 302
    assert client_with(token).get(PATIENTS_URL).status_code == 200


def test_deactivating_a_user_revokes_their_tokens(nurse):
    token = token_for(nurse).json()["token"]
    nurse.is_active = False
    nurse.save()
    assert not AuthToken.objects.filter(user=nurse).exists()
    nurse.is_active = True
    nurse.save()
    assert client_with(token).get(PATIENTS_URL).status_code == 401


# --- Lockout: 429 like the login page ----------------------------------------------------------


def test_the_token_endpoint_locks_out_with_429_after_the_failure_limit(nurse):
    fail_sign_ins([nurse.username] * settings.AXES_FAILURE_LIMIT)
    response = token_for(nurse)
    assert response.status_code == 429
    assert "token" not in response.json()
    assert "Too many failed sign-ins" in response.json()["detail"]
    assert not AuthToken.objects.exists()


def test_failures_below_the_limit_still_let_the_right_password_in(nurse):
    fail_sign_ins([nurse.username] * (settings.AXES_FAILURE_LIMIT - 1))
    assert token_for(nurse).status_code == 200


def test_the_failure_that_reaches_the_limit_is_already_a_429(nurse):
    fail_sign_ins([nurse.username] * (settings.AXES_FAILURE_LIMIT - 1))
    assert token_for(nurse, password="wrong").status_code == 429


def test_failures_at_the_token_endpoint_lock_the_login_page_too(nurse):
    fail_sign_ins([nurse.username] * settings.AXES_FAILURE_LIMIT)
    response = Client().post(reverse("login"), {"username": nurse.username, "password": DEMO_PASSWORD})
    assert response.status_code == 429


def test_the_login_page_locks_out_with_429_and_the_token_endpoint_follows(client, nurse):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": nurse.username, "password": "wrong"})
    assert client.post(reverse("login"), {"username": nurse.username, "password": DEMO_PASSWORD}).status_code == 429
    assert token_for(nurse).status_code == 429


def test_a_lockout_is_per_user_and_address_so_a_colleague_can_still_sign_in(nurse, doctor):
    fail_sign_ins([nurse.username] * settings.AXES_FAILURE_LIMIT)
    assert token_for(nurse).status_code == 429
    assert token_for(doctor).status_code == 200
    assert token_for(nurse, address="10.9.9.9").status_code == 200


# --- Per-address throttling across usernames -------------------------------------------------


@pytest.fixture
def address_limit(settings) -> int:
    settings.LOGIN_FAILURES_PER_ADDRESS_LIMIT = 8
    return 8


def test_spraying_usernames_from_one_address_locks_that_address_out(address_limit, nurse):
    fail_sign_ins([f"guess{n}" for n in range(address_limit)], address="10.0.0.7")
    never_tried = APIClient().post(TOKEN_URL, {"username": "someone_new", "password": "x"}, REMOTE_ADDR="10.0.0.7")
    assert never_tried.status_code == 429
    assert token_for(nurse, address="10.0.0.7").status_code == 429
    credentials = {"username": nurse.username, "password": DEMO_PASSWORD}
    page = Client(REMOTE_ADDR="10.0.0.7").post(reverse("login"), credentials)
    assert page.status_code == 429


def test_a_sprayed_address_does_not_lock_out_other_addresses(address_limit, nurse):
    fail_sign_ins([f"guess{n}" for n in range(address_limit)], address="10.0.0.7")
    assert token_for(nurse, address="10.0.0.8").status_code == 200


def test_failures_below_the_address_limit_leave_the_address_open(address_limit, nurse):
    fail_sign_ins([f"guess{n}" for n in range(address_limit - 1)], address="10.0.0.7")
    assert token_for(nurse, address="10.0.0.7").status_code == 200


def test_spraying_the_login_page_locks_the_address_out(address_limit, nurse):
    client = Client(REMOTE_ADDR="10.0.0.9")
    for n in range(address_limit):
        client.post(reverse("login"), {"username": f"guess{n}", "password": "wrong"})
    response = client.post(reverse("login"), {"username": nurse.username, "password": DEMO_PASSWORD})
    assert response.status_code == 429


def test_the_production_address_limit_is_well_above_the_per_user_limit():
    assert settings.LOGIN_FAILURES_PER_ADDRESS_LIMIT >= 3 * settings.AXES_FAILURE_LIMIT


# --- Schema ---------------------------------------------------------------------------------


def test_the_schema_documents_the_token_endpoints_answers(api_as, doctor):
    schema = api_as(doctor).get("/api/schema/?format=json").json()
    operation = schema["paths"][TOKEN_URL]["post"]
    assert {"200", "400", "429"} <= set(operation["responses"])
    request_schema = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][request_schema]["properties"]) == {"username", "password", "otp"}
    assert schema["components"]["securitySchemes"]["knoxApiToken"]["name"] == "Authorization"


def test_the_test_personas_api_client_uses_an_expiring_token(api_as, nurse):
    assert api_as(nurse).get(PATIENTS_URL).status_code == 200
    assert AuthToken.objects.get(user=nurse).expiry is not None
