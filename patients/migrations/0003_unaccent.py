"""PostgreSQL's unaccent extension, for the accent-insensitive patient search (patients.search).

``UnaccentExtension`` does nothing on another database: the demo's SQLite gets a Python
``unaccent()`` on each connection instead. unaccent is a trusted extension (PostgreSQL 13+),
so the database owner may create it without being a superuser.
"""

from django.contrib.postgres.operations import UnaccentExtension
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0002_caregiver_reminder_contact"),
    ]

    operations = [UnaccentExtension()]
