"""Production static files: collectstatic with the hashed, compressed storage, then a page renders.

The tests otherwise use plain storage (live_server needs it), which hid a demo that
served every page as a 500 because nothing had been collected.
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import override_settings

import spasticity.settings as production_settings

pytestmark = pytest.mark.django_db


# Production's storage, less the brotli/gzip pass (50 s here): the manifest is what broke.
HASHED_STORAGES = {
    **production_settings.STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}


def test_production_uses_hashed_compressed_static_files():
    assert production_settings.STORAGES["staticfiles"]["BACKEND"] == (
        "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )


def test_collected_static_files_let_the_login_page_render_with_hashed_names(client, tmp_path):
    with override_settings(STORAGES=HASHED_STORAGES, STATIC_ROOT=tmp_path, DEBUG=False):
        call_command("collectstatic", "--noinput", verbosity=0)
        response = client.get("/accounts/login/")
    assert response.status_code == 200
    html = response.content.decode()
    # The stylesheet link carries the content hash, so browsers can cache it for good.
    assert "vendor/bootstrap/bootstrap.min." in html and ".css" in html
    assert 'bootstrap.min.css"' not in html
    assert any(tmp_path.glob("vendor/bootstrap/bootstrap.min.*.css"))
