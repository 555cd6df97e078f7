"""``python manage.py import_caseload FILE [--commit] --as-user USERNAME``: the caseload import from a shell.

The same import as the page and the API (``imports.services.caseload_import_file``), run in
this process, printing the result as JSON. A dry run unless ``--commit``; a refused commit
(any error: nothing saved) exits with status 1. The records are the named doctor's or
nurse's, as if they had uploaded the file, so the history says who imported them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from imports.parsing import MAX_FILE_BYTES
from imports.services import caseload_import_file
from spasticity.timeutil import clinic_today


class Command(BaseCommand):
    help = "Import a caseload sheet (.csv or .xlsx); a dry run unless --commit. Prints the result as JSON."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="the .csv or .xlsx sheet")
        parser.add_argument("--commit", action="store_true", help="save the records (only when no row has an error)")
        parser.add_argument(
            "--as-user",
            dest="username",
            help="the rehabilitation doctor or pump nurse the import is recorded as (required)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        user = self._user(options["username"])
        path = Path(options["file"])
        try:
            with path.open("rb") as sheet:
                content = sheet.read(MAX_FILE_BYTES + 1)
        except OSError as error:
            raise CommandError(f"Cannot read {path}: {error.strerror or error}.") from None
        try:
            result = caseload_import_file(path.name, content, by=user, commit=options["commit"], today=clinic_today())
        except PermissionDenied as error:
            raise CommandError(f"{user.username}: {error}") from None
        self.stdout.write(json.dumps(result.as_dict(), indent=2))
        if result.refused:
            raise CommandError(f"The commit was refused ({len(result.errors)} errors): nothing was saved.")

    def _user(self, username: str | None) -> User:
        if not username:
            raise CommandError("Name the doctor or nurse the import is recorded as: --as-user USERNAME.")
        user = User.objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active account has the username {username!r}.")
        return user
