"""Anonymous users reach nothing but the login page; users without a role see nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

pytestmark = pytest.mark.django_db

# Pages anyone may open: signing in and out, and the admin's own login page. A staff member's
# calendar feed is opened by its secret token, not a sign-in (tests/appointments/test_calendar.py).
OPEN_URL_NAMES = {"login", "logout", "admin:login", "api_token", "calendar_feed"}
# Asked by a page's script, not opened: like the API, they answer an anonymous request with a 401
# that the script understands, rather than the login page (spasticity/session_guard.py).
SCRIPT_URL_NAMES = {"session_ping"}


def walk(patterns: list, prefix: str = "", namespace: str = "") -> Iterator[tuple[str, str]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            child_ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from walk(entry.url_patterns, prefix + str(entry.pattern), child_ns)
        elif isinstance(entry, URLPattern):
            yield f"{namespace}{entry.name}", prefix + str(entry.pattern)


def concrete_path(pattern: str) -> str | None:
    """Turn a route or regex into a path, filling every parameter with a plausible value.

    DRF's ``.json`` format-suffix variants are skipped: they reach the same views.
    """
    if "(?P<format>" in pattern or "<drf_format_suffix:format>" in pattern:
        return None
    path = re.sub(r"\(\?P<model_label>[^)]*\)|<str:model_label>", "patients.patient", pattern)
    path = re.sub(r"\(\?P<[^>]+>[^)]*\)", "1", path)
    path = re.sub(r"<[^>]+>", "1", path)
    path = path.replace("^", "").replace("$", "").replace("\\", "")
    return "/" + path.lstrip("/")


def all_paths() -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for name, pattern in walk(get_resolver().url_patterns):
        if name in OPEN_URL_NAMES or "static" in pattern:
            continue
        path = concrete_path(pattern)
        if path is not None:
            seen.setdefault(path, name)
    return sorted((path, name) for path, name in seen.items())


def test_the_url_walk_finds_the_pages_and_the_api():
    paths = [path for path, _ in all_paths()]
    assert "/patients/" in paths
    assert "/api/v1/patients/" in paths
    assert len(paths) > 20


@pytest.mark.parametrize(("path", "name"), all_paths())
def test_anonymous_requests_are_sent_to_login_or_refused(client, path, name):
    for method in ("get", "post"):
        response = getattr(client, method)(path)
        if path.startswith("/api/") or name in SCRIPT_URL_NAMES:
            assert response.status_code in (401, 403, 405), (
                f"{method.upper()} {path} ({name}) answered {response.status_code}"
            )
        else:
            assert response.status_code == 302, f"{method.upper()} {path} ({name}) answered {response.status_code}"
            assert "/login/" in response["Location"], f"{path} redirected to {response['Location']}"


def test_a_signed_in_user_without_a_role_is_refused_by_the_api(api_as, outsider):
    assert api_as(outsider).get("/api/v1/patients/").status_code == 403


def test_the_login_page_is_open(client):
    assert client.get("/accounts/login/").status_code == 200
