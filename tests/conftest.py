"""Shared personas: one user per role, plus an outsider with no role."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from django.contrib.auth.models import User
from django.test import Client

from spasticity.middleware import LAST_SEEN_KEY, SIGNED_IN_KEY
from spasticity.roles import Role
from tests.factories import UserFactory

# The sync Playwright API runs an event loop; the ORM refuses sync calls under it (tests only).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, "executable_path": "/usr/bin/chromium", "args": CHROMIUM_ARGS}


@pytest.fixture
def doctor(db: None) -> User:
    return UserFactory(username="dr_doyle", first_name="Dana", last_name="Doyle", role=Role.REHAB_DOCTOR)


@pytest.fixture
def nurse(db: None) -> User:
    return UserFactory(username="nurse_nash", first_name="Nia", last_name="Nash", role=Role.PUMP_NURSE)


@pytest.fixture
def therapist(db: None) -> User:
    return UserFactory(username="pt_parker", first_name="Pat", last_name="Parker", role=Role.PHYSICAL_THERAPIST)


@pytest.fixture
def surgeon(db: None) -> User:
    return UserFactory(username="ns_singh", first_name="Sam", last_name="Singh", role=Role.NEUROSURGEON)


@pytest.fixture
def administrator(db: None) -> User:
    return UserFactory(username="admin_adams", first_name="Ada", last_name="Adams", role=Role.ADMINISTRATOR)


@pytest.fixture
def outsider(db: None) -> User:
    return UserFactory(username="outsider_otto", first_name="Otto", last_name="Out")


@pytest.fixture
def personas(
    doctor: User, nurse: User, therapist: User, surgeon: User, administrator: User, outsider: User
) -> dict[str, User]:
    return {
        "rehab_doctor": doctor,
        "pump_nurse": nurse,
        "physical_therapist": therapist,
        "neurosurgeon": surgeon,
        "administrator": administrator,
        "outsider": outsider,
    }


@pytest.fixture
def client_as() -> Callable[[User], Client]:
    def make(user: User) -> Client:
        client = Client()
        client.force_login(user)
        # Signed in a moment ago, as a user at work is: the idle middleware then writes the
        # session at most once a minute (spasticity.middleware), so a test's pinned query
        # counts do not depend on whether its request is the client's first.
        session = client.session
        now_s = int(time.time())
        session[LAST_SEEN_KEY] = session[SIGNED_IN_KEY] = now_s
        session.save()
        return client

    return make


@pytest.fixture
def api_as() -> Callable[[User], object]:
    from knox.models import AuthToken
    from rest_framework.test import APIClient

    def make(user: User) -> APIClient:
        client = APIClient()
        _, token = AuthToken.objects.create(user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return client

    return make


def _flushes_the_database(item: pytest.Item) -> bool:
    """A transactional test (``transaction=True``, a live server) empties every table when it ends."""
    marker = item.get_closest_marker("django_db")
    if marker is not None and (marker.kwargs.get("transaction") or marker.kwargs.get("reset_sequences")):
        return True
    fixtures = getattr(item, "fixturenames", ())
    return "transactional_db" in fixtures or "live_server" in fixtures


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the transactional tests after all the others.

    Their flush also empties what the migrations wrote (the role groups, the pump
    catalogue), which every other test relies on. pytest-django puts tests that reach the
    database only through a fixture of a fixture after them, so order again, stably.

    Among them, those that restore the migrations' rows (``serialized_rollback``) go first:
    a flush without it recreates the content types under new ids, and restoring the
    serialized ones afterwards collides with them (a duplicate key at the next test's setup).
    """
    items.sort(key=lambda item: (_flushes_the_database(item), not _restores_serialized_rows(item)))


def _restores_serialized_rows(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("django_db")
    return bool(marker is not None and marker.kwargs.get("serialized_rollback"))
