"""``seed_demo`` creates logins whose password is in the README: it runs on the demo's
SQLite file only, unless told ``--i-know-this-is-not-production`` (issue 9)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from patients.management.commands.seed_demo import is_demo_database
from patients.models import Patient

ROOT = Path(__file__).resolve().parent.parent
DEMO_FILE = ROOT / "demo.sqlite3"  # the settings' zero-setup default, used by `make demo`


def seed(*args: str) -> str:
    out = io.StringIO()
    call_command("seed_demo", "--patients", "3", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def database_looks_like(monkeypatch):
    """Make the command see another database configuration (the open connection is unchanged)."""

    def look_like(engine: str, name: str | Path) -> None:
        monkeypatch.setitem(connection.settings_dict, "ENGINE", engine)
        monkeypatch.setitem(connection.settings_dict, "NAME", str(name))

    return look_like


@pytest.mark.django_db
def test_it_refuses_the_postgresql_database_and_seeds_nothing():
    with pytest.raises(CommandError, match="Refusing to seed demo data") as refused:
        seed()
    assert "--i-know-this-is-not-production" in str(refused.value)
    assert not User.objects.filter(username="nurse").exists()
    assert not Patient.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("engine", "name"),
    [
        ("django.db.backends.sqlite3", ROOT / "clinic.sqlite3"),  # SQLite, but not the demo's file
        ("django.db.backends.sqlite3", ROOT / "demo.sqlite3.bak"),
        ("django.db.backends.postgresql", "demo.sqlite3"),  # a PostgreSQL database named like the file
    ],
)
def test_it_refuses_any_database_but_the_demo_sqlite_file(database_looks_like, engine, name):
    database_looks_like(engine, name)
    with pytest.raises(CommandError, match="Refusing to seed demo data"):
        seed()
    assert not User.objects.filter(username="nurse").exists()


@pytest.mark.django_db
def test_it_seeds_the_postgresql_database_when_told_it_is_not_production():
    output = seed("--i-know-this-is-not-production")
    assert "Seeded" in output
    assert User.objects.filter(username="nurse").exists() and Patient.objects.exists()


@pytest.mark.django_db
def test_it_seeds_the_demo_sqlite_file_without_being_told(database_looks_like):
    database_looks_like("django.db.backends.sqlite3", DEMO_FILE)
    assert "Seeded" in seed()
    assert User.objects.filter(username="nurse").exists()


def test_the_demo_database_is_the_settings_default_file_and_nothing_else():
    assert is_demo_database({"ENGINE": "django.db.backends.sqlite3", "NAME": DEMO_FILE})
    assert is_demo_database({"ENGINE": "django.db.backends.sqlite3", "NAME": str(DEMO_FILE)})
    assert not is_demo_database({"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"})
    assert not is_demo_database({"ENGINE": "django.db.backends.postgresql", "NAME": "spasticity"})
    assert "demo.sqlite3" in (ROOT / "Makefile").read_text()  # `make clean` removes the same file


def test_production_settings_on_postgresql_refuse_from_the_command_line():
    """The issue's case: DEBUG off, PostgreSQL. It refuses before connecting to anything."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "spasticity.settings",
        "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/itb_production_example",
        "DEBUG": "false",
        "SECRET_KEY": "a-long-random-production-like-secret-key-0123456789abcdef",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "Refusing to seed demo data" in result.stderr
    assert "itb_production_example" in result.stderr
